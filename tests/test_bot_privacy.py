"""Private means private: the whole bot over HTTP, tried as an outsider would."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from bot import texts
from storage.privacy import FollowerRatings
from tests.botkit import (
    GROUP,
    GROUP_G1,
    NEIGHBOUR,
    RESIDENT,
    WORKER_LI,
    WORKER_ZHANG,
    open_privates,
    populate,
    running_bot,
)
from tgsandbox import Emulator

pytestmark = pytest.mark.both_stores

OUTSIDER = 3999  # in no group of the community
UNBOUND = -1001000000099  # a group the bot is in but nobody bound
STAFF = (WORKER_LI, WORKER_ZHANG)
PRIVATE_TEXT = "6号楼楼下每天晚上广场舞太吵了，能不能管管"
PUBLIC_TEXT = "4号楼电梯又坏了，关人了！快来人"


def world(emu: Emulator) -> None:
    populate(emu)
    emu.add_user(OUTSIDER, "陌生人")
    emu.add_group(UNBOUND, "隔壁小区群", supergroup=True, members=(OUTSIDER, NEIGHBOUR))


def same_answer(a: str, b: str) -> bool:
    """The same sentence apart from the number asked about."""
    return re.sub(r"#\d+", "#N", a) == re.sub(r"#\d+", "#N", b)


async def answer_of(emu: Emulator, chat_id: int, user_id: int, message_id: int, data: str) -> str:
    query = await emu.press_button(chat_id, user_id, message_id, data, check=False)
    return (await emu.wait_for_answer(query)).text or ""


async def ask(emu: Emulator, chat_id: int, user_id: int, text: str) -> str:
    before = len(emu.sent(chat_id))
    await emu.send_text(chat_id, user_id, text)
    return (await emu.wait_for(chat_id, after=before)).text


async def test_a_private_complaint_is_invisible_to_everyone_else(tmp_path: Path) -> None:
    async with Emulator(privacy_mode=False) as emu:
        world(emu)
        async with running_bot(emu, tmp_path) as bot:
            services = bot.state.require_services()
            await open_privates(emu, *STAFF, RESIDENT, NEIGHBOUR, OUTSIDER)
            await emu.send_text(RESIDENT, RESIDENT, PRIVATE_TEXT)
            ack = await emu.wait_for(RESIDENT, lambda m: "#1" in m.text)
            await emu.wait_for(WORKER_ZHANG, lambda m: "工单 #1" in m.text)
            await bot.idle()

            # /ticket 1 reads exactly like /ticket 99 for anyone but its people, everywhere.
            for chat, user in ((GROUP, NEIGHBOUR), (UNBOUND, OUTSIDER), (OUTSIDER, OUTSIDER)):
                hidden = await ask(emu, chat, user, "/ticket 1")
                missing = await ask(emu, chat, user, "/ticket 99")
                assert same_answer(hidden, missing), (hidden, missing)
                assert "广场舞" not in hidden and "6号楼" not in hidden
            # In a group, not even its reporter sees it (the group would read along).
            assert "广场舞" not in await ask(emu, GROUP, RESIDENT, "/ticket 1")
            # Its reporter and its worker read the card privately.
            assert "广场舞" in await ask(emu, RESIDENT, RESIDENT, "/ticket 1")
            assert "广场舞" in await ask(emu, WORKER_ZHANG, WORKER_ZHANG, "/ticket 1")
            # A worker who has nothing to do with it does not.
            hidden = await ask(emu, WORKER_LI, WORKER_LI, "/ticket 1")
            assert same_answer(hidden, texts.TICKET_NOT_FOUND.format(number=1))

            # Forged buttons: following or rating it answers like a ticket that does not exist.
            mine = await emu.send_text(OUTSIDER, OUTSIDER, "你好")
            for data, missing_data in (
                ("follow:1", "follow:99"),
                ("rate:1:unsatisfied", "rate:99:unsatisfied"),
                ("undo:1", "undo:99"),
                ("pub:1", "pub:99"),
            ):
                forged = await answer_of(emu, OUTSIDER, OUTSIDER, mine["message_id"], data)
                missing = await answer_of(
                    emu, OUTSIDER, OUTSIDER, mine["message_id"], missing_data
                )
                assert forged and same_answer(forged, missing), (forged, missing)
            assert not await services.tickets.is_follower(1, OUTSIDER)
            assert "#1" in ack.text


async def test_forged_follow_and_rate_from_outsiders_change_nothing(tmp_path: Path) -> None:
    async with Emulator(privacy_mode=False) as emu:
        world(emu)
        async with running_bot(emu, tmp_path) as bot:
            services = bot.state.require_services()
            await open_privates(emu, *STAFF, RESIDENT, NEIGHBOUR, OUTSIDER)
            await emu.send_text(GROUP, RESIDENT, PUBLIC_TEXT)
            card = await emu.wait_for(WORKER_LI, lambda m: "工单 #1" in m.text)
            reply = await emu.wait_for(GROUP, lambda m: "#1" in m.text)

            # A stranger in another group presses a forged 我也遇到 for #1: refused.
            post = await emu.send_text(UNBOUND, OUTSIDER, "随便说说")
            answer = await answer_of(emu, UNBOUND, OUTSIDER, post["message_id"], "follow:1")
            assert "所在群的成员" in answer
            assert not await services.tickets.is_follower(1, OUTSIDER)
            # /ticket 1 in a group nobody bound shows nothing, even for a public ticket.
            hidden = await ask(emu, UNBOUND, OUTSIDER, "/ticket 1")
            assert same_answer(hidden, texts.TICKET_NOT_FOUND.format(number=1))
            # A member of the community's group may follow, even from the bot's private chat.
            mine = await emu.send_text(NEIGHBOUR, NEIGHBOUR, "你好")
            # Its answer first: each chat is delivered on its own, so it could come after.
            await emu.wait_for(NEIGHBOUR, lambda m: m.text == texts.HINT_GREETING)
            answer = await answer_of(emu, NEIGHBOUR, NEIGHBOUR, mine["message_id"], "follow:1")
            assert "2 户反映" in answer
            # …and reads a status line in the group, the card privately as a follower.
            status = await ask(emu, GROUP_G1, NEIGHBOUR, "/ticket 1")
            assert "#1" in status and "关人了" not in status
            assert "关人了" in await ask(emu, NEIGHBOUR, NEIGHBOUR, "/ticket 1")

            await emu.press_button(WORKER_LI, WORKER_LI, card.message_id, "acc:1")
            await bot.idle()
            await emu.press_button(WORKER_LI, WORKER_LI, card.message_id, "res:1")
            note = await emu.wait_for(WORKER_LI, lambda m: m.text == texts.RESOLVE_NOTE)
            await emu.press_button(WORKER_LI, WORKER_LI, note.message_id, "rs:1")
            await emu.wait_for(GROUP, lambda m: "请评价" in m.text)

            # An outsider's forged 不满意 does not count and does not reopen.
            answer = await answer_of(
                emu, UNBOUND, OUTSIDER, post["message_id"], "rate:1:unsatisfied"
            )
            assert "反映人" in answer
            # The follower's 不满意 is kept apart and does not reopen either.
            await answer_of(emu, NEIGHBOUR, NEIGHBOUR, mine["message_id"], "rate:1:unsatisfied")
            await bot.idle()
            ticket = await services.tickets.get(1)
            assert (ticket.status, ticket.rating) == ("resolved", None)
            assert await FollowerRatings(services.db).of_ticket(1) == [(NEIGHBOUR, "unsatisfied")]
            assert reply.message_id > 0
