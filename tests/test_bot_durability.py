"""A complaint survives a crash at any point and never becomes two tickets."""

from __future__ import annotations

import asyncio
import signal
import sqlite3
from pathlib import Path

from tests.botkit import (
    DUTY,
    GROUP,
    RESIDENT,
    SECRETARY,
    WORKER_LI,
    bot_env,
    gridbot_command,
    open_privates,
    populate,
    running_bot,
    subprocess_env,
)
from tgsandbox import Emulator

LIFT = "4号楼电梯又坏了，关人了！快来人"


def ticket_count(db: Path) -> int:
    with sqlite3.connect(db) as conn:
        return int(conn.execute("SELECT COUNT(*) FROM tickets").fetchone()[0])


async def test_redelivered_complaint_opens_one_ticket(tmp_path: Path) -> None:
    async with Emulator(privacy_mode=False) as emu:
        populate(emu)
        async with running_bot(emu, tmp_path) as bot:
            await open_privates(emu, WORKER_LI, DUTY, SECRETARY)
            await emu.send_text(GROUP, RESIDENT, LIFT)
            await emu.wait_for(GROUP)
            await bot.idle()
            update_id = await bot.state.inbox.max_update_id()
            emu.redeliver(update_id)
            await bot.idle()
        assert ticket_count(tmp_path / "gridbot.sqlite3") == 1
        assert len([m for m in emu.sent(WORKER_LI) if "工单 #1" in m.text]) == 1
        assert len([m for m in emu.sent(GROUP) if "#1" in m.text]) == 1


async def test_sigkill_after_the_ticket_before_any_reply(tmp_path: Path) -> None:
    """The ticket is committed, the worker's card is in flight: kill -9, restart, finish once."""
    async with Emulator(privacy_mode=False) as emu:
        populate(emu)
        env = subprocess_env(bot_env(emu, tmp_path))
        db = tmp_path / "gridbot.sqlite3"
        first = await asyncio.create_subprocess_exec(
            *gridbot_command(),
            "run",
            env=env,
            stdout=asyncio.subprocess.DEVNULL,
            stderr=asyncio.subprocess.DEVNULL,
        )
        try:
            await emu.wait_until(lambda: emu.stats.by_method.get("setMyCommands", 0) > 0, 60)
            await open_privates(emu, WORKER_LI, DUTY, SECRETARY)
            emu.set_delay("sendMessage", 60)
            await emu.send_text(GROUP, RESIDENT, LIFT)
            await emu.wait_until(lambda: emu.pending_updates == 0, timeout=30)
            await emu.wait_until(lambda: ticket_count(db) == 1, timeout=30)
        finally:
            first.send_signal(signal.SIGKILL)
            await first.wait()
        emu.set_delay("sendMessage", 0)
        assert [m for m in emu.sent(WORKER_LI) if "工单 #" in m.text] == []

        second = await asyncio.create_subprocess_exec(
            *gridbot_command(),
            "run",
            env=env,
            stdout=asyncio.subprocess.DEVNULL,
            stderr=asyncio.subprocess.PIPE,
        )
        try:
            await emu.wait_for(WORKER_LI, lambda m: "工单 #1" in m.text, timeout=60)
            await emu.wait_for(GROUP, lambda m: "#1" in m.text, timeout=30)
        finally:
            second.send_signal(signal.SIGTERM)
            await asyncio.wait_for(second.communicate(), timeout=60)
        assert second.returncode == 0
        assert ticket_count(db) == 1
        assert len([m for m in emu.sent(WORKER_LI) if "工单 #1" in m.text]) == 1
        assert len([m for m in emu.sent(GROUP) if "#1" in m.text]) == 1
