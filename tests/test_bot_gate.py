"""Not complaints (channel forwards, bots, service messages); every command answers."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot import texts
from tests.botkit import (
    GROUP,
    NEIGHBOUR,
    RESIDENT,
    SECRETARY,
    WORKER_LI,
    open_privates,
    populate,
    running_bot,
)
from tests.fastkit import offline_bot, offline_emulator
from tgsandbox import Emulator

pytestmark = pytest.mark.both_stores

COMPLAINT = "4号楼电梯又坏了，关人了！快来人"
CHANNEL = -1001999000001
UNBOUND = -1001000000077


async def test_forwards_bots_and_service_messages_never_open_tickets(tmp_path: Path) -> None:
    async with Emulator(privacy_mode=False) as emu:
        populate(emu)
        async with running_bot(emu, tmp_path) as bot:
            services = bot.state.require_services()
            await open_privates(emu, WORKER_LI)
            await emu.forward_from_linked_channel(GROUP, CHANNEL, "幸福里公告", COMPLAINT)
            emu.enqueue_raw_update(  # another bot's message (Telegram delivers few, but some)
                {
                    "message": {
                        "message_id": 9001,
                        "date": 1,
                        "chat": {"id": GROUP, "type": "supergroup", "title": "幸福里业主群"},
                        "from": {"id": 5001, "is_bot": True, "first_name": "快递机器人"},
                        "text": COMPLAINT,
                    }
                }
            )
            await emu.join(GROUP, NEIGHBOUR)
            await emu.leave(GROUP, NEIGHBOUR)
            await bot.idle()
            assert await services.tickets.by_number(services.community.name, 1) is None
            assert emu.sent(GROUP) == []
            # A real resident is still heard (the gate drops only what it must).
            await emu.send_text(GROUP, RESIDENT, COMPLAINT)
            await emu.wait_for(GROUP, lambda m: "#1" in m.text)
            ticket = await services.tickets.by_number(services.community.name, 1)
            assert ticket is not None and ticket.reporter_name == "周大爷"


async def test_an_anonymous_admin_is_asked_to_use_their_own_account(tmp_path: Path) -> None:
    async with offline_emulator(privacy_mode=False) as emu:
        populate(emu)
        emu.add_group(UNBOUND, "新群", supergroup=True, members=(RESIDENT,), admins=(SECRETARY,))
        async with offline_bot(emu, tmp_path) as bot:
            await emu.send_as_anonymous_admin(UNBOUND, "/bind g1")
            answer = await emu.wait_for(UNBOUND)
            assert answer.text == texts.ANONYMOUS_ADMIN
            assert await bot.state.require_services().state.group_grids(UNBOUND) is None
            await emu.send_as_anonymous_admin(UNBOUND, "大家好，明天停水")  # not a command
            await bot.idle()
            assert len(emu.sent(UNBOUND)) == 1


COMMANDS = [
    "start",
    "help",
    "report",
    "ticket",
    "mytickets",
    "bind",
    "unbind",
    "stats",
    "register",
    "tasks",
    "task",
    "done",
    "points",
    "redeem",
    "award",
    "deduct",
    "schedule",
    "mydata",
    "forget",
    "audit",
]


async def test_every_command_answers_in_every_chat_type(tmp_path: Path) -> None:
    async with offline_emulator(privacy_mode=False) as emu:
        populate(emu)
        emu.add_group(UNBOUND, "新群", supergroup=True, members=(RESIDENT,), admins=(SECRETARY,))
        async with offline_bot(emu, tmp_path) as bot:
            await open_privates(emu, RESIDENT)
            silent: list[str] = []
            for chat in (RESIDENT, GROUP, UNBOUND):
                for command in COMMANDS:
                    before = len(emu.sent(chat)), len(emu.sent(RESIDENT))
                    suffix = "" if chat > 0 else f"@{emu.bot_username}"
                    await emu.send_text(chat, RESIDENT, f"/{command}{suffix}")
                    await bot.idle()
                    # An answer in the chat, or (for a group) privately to the person who asked.
                    if (len(emu.sent(chat)), len(emu.sent(RESIDENT))) == before:
                        silent.append(f"/{command} in {chat}")
            assert silent == []
