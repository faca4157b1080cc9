"""Logs without people: a whole scene at GRIDBOT_LOG_LEVEL=DEBUG leaves no one in the log."""

from __future__ import annotations

import asyncio
import logging
import signal
from pathlib import Path

import pytest

from bot import logfilter
from tests.botkit import (
    GROUP,
    NEIGHBOUR,
    RESIDENT,
    WORKER_LI,
    WORKER_ZHANG,
    bot_env,
    gridbot_command,
    open_privates,
    populate,
    subprocess_env,
)
from tgsandbox import Emulator

pytestmark = pytest.mark.both_stores

PHONE, PHONE_2 = "13812345678", "13987654321"
ID_NUMBER = "110101199003071234"
GROUP_TEXT = f"4号楼电梯坏了，关人了！我是周大爷电话{PHONE}，身份证{ID_NUMBER}"
PRIVATE_TEXT = "6号楼楼下每天晚上广场舞太吵了，联系我139 8765 4321"
NOTE = "已经修好电梯，回访了住户"
PLANTED = [
    PHONE,
    PHONE_2,
    "139 8765 4321",
    ID_NUMBER,
    "周大爷",
    "吴阿姨",
    "电梯坏了",
    "广场舞",
    "回访了住户",
    "关人了",
]


async def test_a_whole_scene_at_debug_leaves_no_personal_data_in_the_log(
    tmp_path: Path,
) -> None:
    async with Emulator(privacy_mode=False) as emu:
        populate(emu)
        env = bot_env(emu, tmp_path)
        env["GRIDBOT_LOG_LEVEL"] = "DEBUG"
        log_path = tmp_path / "bot.log"
        with log_path.open("wb") as log_file:
            bot = await asyncio.create_subprocess_exec(
                *gridbot_command(),
                "run",
                env=subprocess_env(env),
                stdout=log_file,
                stderr=log_file,
            )
            try:
                await emu.wait_until(lambda: emu.stats.by_method.get("setMyCommands", 0) > 0, 60)
                await open_privates(emu, WORKER_LI, WORKER_ZHANG, RESIDENT, NEIGHBOUR)
                await emu.send_text(GROUP, RESIDENT, GROUP_TEXT)
                card = await emu.wait_for(WORKER_LI, lambda m: "工单 #1" in m.text, timeout=30)
                await emu.send_text(NEIGHBOUR, NEIGHBOUR, PRIVATE_TEXT)
                await emu.wait_for(NEIGHBOUR, lambda m: "#2" in m.text, timeout=30)
                await emu.press_button(WORKER_LI, WORKER_LI, card.message_id, "acc:1")
                await emu.wait_for(GROUP, lambda m: "已接单" in m.text, timeout=30)
                # The group and the worker's chat are delivered independently: wait for the card.
                await emu.wait_until(
                    lambda: "res:1" in str(emu.message(WORKER_LI, card.message_id).reply_markup),
                    30,
                )
                await emu.press_button(WORKER_LI, WORKER_LI, card.message_id, "res:1")
                before = len(emu.sent(WORKER_LI))
                await emu.wait_for(WORKER_LI, after=before, timeout=30)
                await emu.send_text(WORKER_LI, WORKER_LI, NOTE)
                await emu.wait_for(GROUP, lambda m: "请评价" in m.text, timeout=30)
                await emu.send_text(RESIDENT, RESIDENT, "/ticket 1")
                await emu.wait_for(RESIDENT, lambda m: "#1" in m.text, timeout=30)
                forged = await emu.send_text(NEIGHBOUR, NEIGHBOUR, "周大爷的工单")
                await emu.press_button(
                    NEIGHBOUR, NEIGHBOUR, forged["message_id"], "rate:1:unsatisfied", check=False
                )
                await emu.wait_until(lambda: emu.pending_updates == 0, timeout=30)
                await asyncio.sleep(0.5)  # let the last lines reach the log
            finally:
                bot.send_signal(signal.SIGTERM)
                await asyncio.wait_for(bot.wait(), timeout=60)
    log = log_path.read_text(encoding="utf-8", errors="replace")
    assert " DEBUG " in log  # the scene really ran at DEBUG
    for secret in PLANTED:
        assert secret not in log, f"{secret!r} reached the log"


def test_the_filter_scrubs_messages_arguments_and_tracebacks() -> None:
    record = logging.LogRecord(
        "x", logging.DEBUG, __file__, 1, "params %s", (("周大爷", PHONE),), None
    )
    try:
        raise ValueError(f"bad input {ID_NUMBER} 电梯坏了")
    except ValueError as exc:
        record.exc_info = (type(exc), exc, exc.__traceback__)
    assert logfilter.PersonalDataFilter().filter(record)
    assert PHONE not in record.getMessage() and "周大爷" not in record.getMessage()
    assert record.exc_text is not None
    assert ID_NUMBER not in record.exc_text and "电梯" not in record.exc_text
    assert "ValueError" in record.exc_text
