"""Whole bot: /start and /help in private and in a group; no update is lost."""

from __future__ import annotations

import asyncio
import signal
from pathlib import Path

from bot import texts
from tests.botkit import (
    GROUP,
    RESIDENT,
    bot_env,
    gridbot_command,
    populate,
    running_bot,
    subprocess_env,
)
from tests.fastkit import offline_bot, offline_emulator
from tgsandbox import Emulator


async def test_start_and_help_in_private_and_group(tmp_path: Path) -> None:
    async with offline_emulator() as emu:
        populate(emu)
        async with offline_bot(emu, tmp_path):
            await emu.open_private(RESIDENT)
            reply = await emu.wait_for(RESIDENT)
            assert "网格助手" in reply.text and "/help" in reply.text

            await emu.send_text(RESIDENT, RESIDENT, "/help")
            assert (await emu.wait_for(RESIDENT)).text == texts.HELP

            await emu.send_text(GROUP, RESIDENT, "/start")
            assert "网格助手" in (await emu.wait_for(GROUP)).text
            await emu.send_text(GROUP, RESIDENT, f"/help@{emu.bot_user['username']}")
            assert (await emu.wait_for(GROUP)).text == texts.HELP
        commands = emu.calls_to("setMyCommands")
        assert commands and any(c["command"] == "report" for c in commands[-1]["commands"])


async def test_unknown_command_gets_a_clear_answer(tmp_path: Path) -> None:
    async with offline_emulator() as emu:
        populate(emu)
        async with offline_bot(emu, tmp_path):
            await emu.open_private(RESIDENT)
            await emu.wait_for(RESIDENT)
            await emu.send_text(RESIDENT, RESIDENT, "/frobnicate 1 2")
            assert (await emu.wait_for(RESIDENT)).text == texts.UNKNOWN_COMMAND
            # In a group, a command meant for another bot is none of our business.
            await emu.send_text(GROUP, RESIDENT, "/frobnicate@some_other_bot")
            await emu.send_text(GROUP, RESIDENT, "/help")
            assert (await emu.wait_for(GROUP)).text == texts.HELP
            assert all(m.text != texts.UNKNOWN_COMMAND for m in emu.sent(GROUP))


async def test_an_update_delivered_twice_is_processed_once(tmp_path: Path) -> None:
    async with Emulator() as emu:
        populate(emu)
        async with running_bot(emu, tmp_path) as bot:
            await emu.send_text(GROUP, RESIDENT, "/help")
            await emu.wait_for(GROUP)
            await bot.idle()
            last_id = await bot.state.inbox.max_update_id()
            emu.redeliver(last_id)
            await bot.idle()
        helps = [m for m in emu.sent(GROUP) if m.text == texts.HELP]
        assert len(helps) == 1


async def test_sigkill_between_receipt_and_processing_loses_nothing(tmp_path: Path) -> None:
    """Kill the bot hard while it handles an update Telegram already considers delivered."""
    async with Emulator() as emu:
        populate(emu)
        env = subprocess_env(bot_env(emu, tmp_path))
        emu.set_delay("sendMessage", 60)  # the reply hangs: the bot is mid-processing
        first = await asyncio.create_subprocess_exec(
            *gridbot_command(),
            "run",
            env=env,
            stdout=asyncio.subprocess.DEVNULL,
            stderr=asyncio.subprocess.PIPE,
        )
        try:
            await emu.wait_until(lambda: emu.stats.by_method.get("setMyCommands", 0) > 0, 60)
            await emu.send_text(GROUP, RESIDENT, "/help")
            # Telegram side: the update was fetched and confirmed by the next getUpdates offset …
            await emu.wait_until(lambda: emu.pending_updates == 0, timeout=30)
            # … and the bot is stuck sending the reply.
            await emu.wait_until(lambda: len(emu.calls_to("sendMessage")) >= 1, timeout=30)
            assert [m for m in emu.sent(GROUP) if m.text == texts.HELP] == []
        finally:
            first.send_signal(signal.SIGKILL)
            await first.wait()
        emu.set_delay("sendMessage", 0)

        second = await asyncio.create_subprocess_exec(
            *gridbot_command(),
            "run",
            env=env,
            stdout=asyncio.subprocess.DEVNULL,
            stderr=asyncio.subprocess.PIPE,
        )
        try:
            reply = await emu.wait_for(GROUP, lambda m: m.text == texts.HELP, timeout=60)
            assert reply.text == texts.HELP
        finally:
            second.send_signal(signal.SIGTERM)
            _, stderr = await asyncio.wait_for(second.communicate(), timeout=60)
        assert second.returncode == 0, stderr.decode()
        assert len([m for m in emu.sent(GROUP) if m.text == texts.HELP]) == 1
        assert emu.token not in stderr.decode()  # the token never reaches the logs
