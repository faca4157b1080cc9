"""Whole bot: failures are logged by update id without personal data, and users get Chinese."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import pytest

from bot import texts
from storage.db import DatabaseLockedError
from tests.botkit import RESIDENT, open_privates, populate, running_bot
from tgsandbox import Emulator

SECRET_TEXT = "我家住3号楼2单元301，电话13912345678，楼道灯坏了"


async def test_a_bug_is_logged_without_the_message_and_the_user_gets_an_apology(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    async with Emulator() as emu:
        populate(emu)
        async with running_bot(emu, tmp_path, expect_errors=True) as bot:
            await open_privates(emu, RESIDENT)
            services = bot.state.require_services()

            async def broken(report: Any) -> Any:
                raise RuntimeError("simulated bug")

            services.intake.receive = broken  # type: ignore[method-assign]
            with caplog.at_level(logging.INFO):
                await emu.send_text(RESIDENT, RESIDENT, SECRET_TEXT)
                reply = await emu.wait_for(RESIDENT)
                await bot.idle()
            assert reply.text == texts.ERROR_GENERIC
            assert bot.errors and isinstance(bot.errors[0][1], RuntimeError)
            assert "simulated bug" in caplog.text  # the traceback is there …
            assert "13912345678" not in caplog.text  # … the resident's words are not
            assert "301" not in caplog.text
            assert emu.token not in caplog.text


async def test_a_locked_database_answers_busy_and_retries_the_update(tmp_path: Path) -> None:
    async with Emulator() as emu:
        populate(emu)
        async with running_bot(emu, tmp_path, expect_errors=True) as bot:
            await open_privates(emu, RESIDENT)
            services = bot.state.require_services()
            real = services.intake.receive
            calls = {"n": 0}

            async def locked_once(report: Any) -> Any:
                calls["n"] += 1
                if calls["n"] == 1:
                    raise DatabaseLockedError("database is locked")
                return await real(report)

            services.intake.receive = locked_once  # type: ignore[method-assign]
            await emu.send_text(RESIDENT, RESIDENT, "5号楼电梯坏了，麻烦尽快修")
            busy = await emu.wait_for(RESIDENT)
            assert busy.text == texts.ERROR_BUSY
            # The update stayed in the inbox and is tried again: nothing is lost.
            ack = await emu.wait_for(RESIDENT, lambda m: "#1" in m.text, timeout=10)
            assert "已收到" in ack.text
            assert calls["n"] == 2
