"""Whole bot: failures are logged by update id without personal data, and users get Chinese."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import pytest

from bot import texts
from bot.handlers import worker
from storage.db import DatabaseLockedError
from tests.botkit import RESIDENT, WORKER_LI, open_privates, populate, running_bot
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


async def test_a_locked_database_mid_update_rolls_back_and_runs_it_again(tmp_path: Path) -> None:
    """A lock after the ticket was written: nothing of the first try stays, nobody hears 'busy'."""
    async with Emulator() as emu:
        populate(emu)
        async with running_bot(emu, tmp_path, expect_errors=True) as bot:
            await open_privates(emu, RESIDENT)
            services = bot.state.require_services()
            real = services.intake.receive
            calls = {"n": 0}

            async def locked_after_writing(report: Any) -> Any:
                calls["n"] += 1
                outcome = await real(report)  # the ticket and its history are written …
                if calls["n"] == 1:
                    raise DatabaseLockedError("database is locked")  # … then the lock
                return outcome

            services.intake.receive = locked_after_writing  # type: ignore[method-assign]
            await emu.send_text(RESIDENT, RESIDENT, "5号楼电梯坏了，麻烦尽快修")
            ack = await emu.wait_for(RESIDENT, lambda m: "#1" in m.text, timeout=10)
            await bot.idle()
            assert "已收到" in ack.text
            assert calls["n"] == 2
            assert [m.text for m in emu.sent(RESIDENT) if m.text == texts.ERROR_BUSY] == []
            assert len([m for m in emu.sent(RESIDENT) if "#1" in m.text]) == 1
            assert await services.db.fetchval("SELECT COUNT(*) FROM tickets") == 1


async def test_a_press_rolled_back_after_its_answer_runs_again_and_counts(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """接单 answered, then a lock: Telegram refuses the second answer, the press still counts."""
    async with Emulator() as emu:
        populate(emu)
        async with running_bot(emu, tmp_path, expect_errors=True) as bot:
            await open_privates(emu, RESIDENT, WORKER_LI)
            await emu.send_text(RESIDENT, RESIDENT, "5号楼电梯坏了，麻烦尽快修")
            card = await emu.wait_for(WORKER_LI, lambda m: "工单 #1" in m.text)
            real = worker.announce
            calls = {"n": 0}

            async def locked_after_answering(*args: Any) -> None:
                calls["n"] += 1
                await real(*args)
                if calls["n"] == 1:
                    raise DatabaseLockedError("database is locked")

            monkeypatch.setattr(worker, "announce", locked_after_answering)
            qid = await emu.press_button(WORKER_LI, WORKER_LI, card.message_id, "acc:1")
            await emu.wait_for(RESIDENT, lambda m: "已接单" in m.text, timeout=10)
            await bot.idle()
            assert calls["n"] == 2
            assert (await emu.wait_for_answer(qid)).text == texts.DONE_ACCEPTED.format(number=1)
            services = bot.state.require_services()
            ticket = await services.tickets.by_number(services.community.name, 1)
            assert ticket is not None and ticket.status == "accepted"
            assert [e.kind for e in await services.tickets.history(ticket.id)] == [
                "opened",
                "accepted",
            ]
            assert len([m for m in emu.sent(RESIDENT) if "已接单" in m.text]) == 1
            assert (
                await services.db.fetchval("SELECT COUNT(*) FROM inbox WHERE status != 'done'")
                == 0
            )
