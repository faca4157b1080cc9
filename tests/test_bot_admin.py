"""Whole bot: binding groups, invitations, undo, /mytickets and /ticket."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest

from bot import texts
from bot.services.clock import FakeClock
from tests.botkit import (
    DUTY,
    GROUP,
    GROUP_G1,
    NEIGHBOUR,
    RESIDENT,
    SECRETARY,
    WORKER_LI,
    WORKER_ZHANG,
    open_privates,
    populate,
)
from tests.fastkit import offline_bot, offline_emulator

pytestmark = pytest.mark.both_stores

STAFF = (WORKER_LI, WORKER_ZHANG, DUTY, SECRETARY)
NEW_GROUP = -1009999


async def test_admin_binds_a_new_group_and_residents_cannot(tmp_path: Path) -> None:
    async with offline_emulator(privacy_mode=False) as emu:
        populate(emu)
        emu.add_group(NEW_GROUP, "二网格新群", members=(RESIDENT, SECRETARY, WORKER_ZHANG))
        async with offline_bot(emu, tmp_path) as bot:
            await open_privates(emu, *STAFF)
            await emu.send_text(NEW_GROUP, RESIDENT, "7号楼电梯坏了")
            await bot.idle()
            assert emu.sent(NEW_GROUP) == []  # not bound: the bot stays quiet

            await emu.send_text(NEW_GROUP, RESIDENT, "/bind g2")
            refusal = await emu.wait_for(NEW_GROUP)
            assert refusal.text == texts.ERRORS["not_allowed"]
            await emu.send_text(NEW_GROUP, SECRETARY, "/bind")
            assert "g2" in (await emu.wait_for(NEW_GROUP)).text  # usage lists the grids
            await emu.send_text(NEW_GROUP, SECRETARY, "/bind g9")
            assert "g9" in (await emu.wait_for(NEW_GROUP)).text
            await emu.send_text(NEW_GROUP, SECRETARY, "/bind g2")
            bound = await emu.wait_for(NEW_GROUP)
            assert "第二网格" in bound.text
            assert texts.GROUP_BOUND_UNSEEN not in bound.text  # privacy mode off: it reads all

            await emu.send_text(NEW_GROUP, RESIDENT, "电梯又坏了，有人被困")
            card = await emu.wait_for(WORKER_ZHANG)  # the group's one grid places it
            assert "工单 #1" in card.text


async def test_binding_a_group_says_when_the_bot_cannot_read_plain_messages(
    tmp_path: Path,
) -> None:
    """Privacy mode on (BotFather's default) and not an admin: the bot sees only commands,
    mentions and replies, so the secretary is told at /bind how to fix it; as an admin it reads
    every message and nothing is said."""
    async with offline_emulator(privacy_mode=True) as emu:
        populate(emu)
        emu.add_group(NEW_GROUP, "二网格新群", members=(RESIDENT, SECRETARY, WORKER_ZHANG))
        async with offline_bot(emu, tmp_path) as bot:
            await open_privates(emu, *STAFF)
            await emu.send_text(NEW_GROUP, SECRETARY, "/bind g2")
            bound = await emu.wait_for(NEW_GROUP)
            assert bound.text.endswith(texts.GROUP_BOUND_UNSEEN)
            await emu.send_text(NEW_GROUP, RESIDENT, "7号楼电梯坏了")
            await bot.idle()
            assert emu.sent(NEW_GROUP) == [bound]  # indeed unseen
            emu.set_bot_status(NEW_GROUP, "administrator")
            await emu.send_text(NEW_GROUP, SECRETARY, "/bind g2")
            again = await emu.wait_for(NEW_GROUP, lambda m: m.message_id != bound.message_id)
            assert "第二网格" in again.text and texts.GROUP_BOUND_UNSEEN not in again.text
            await emu.send_text(NEW_GROUP, RESIDENT, "7号楼电梯又坏了，有人被困")
            assert "工单 #1" in (await emu.wait_for(WORKER_ZHANG)).text


async def test_worker_links_a_new_account_with_an_invitation(tmp_path: Path) -> None:
    new_phone = 2901
    async with offline_emulator(privacy_mode=False) as emu:
        populate(emu)
        emu.add_user(new_phone, "李娜（新手机）")
        async with offline_bot(emu, tmp_path) as bot:
            services = bot.state.require_services()
            code = await services.state.create_invite("li")
            await emu.open_private(new_phone, payload=code)
            linked = await emu.wait_for(new_phone)
            assert "绑定成功" in linked.text and "李娜" in linked.text
            await emu.open_private(NEIGHBOUR, payload=code)
            used = await emu.wait_for(NEIGHBOUR)
            assert used.text == texts.ERRORS["invite_used"]
            await open_privates(emu, DUTY, SECRETARY)

            await emu.send_text(GROUP, RESIDENT, "3号楼电梯坏了，关人了")
            card = await emu.wait_for(new_phone)
            assert "工单 #1" in card.text
            await emu.press_button(new_phone, new_phone, card.message_id, "acc:1")
            await emu.wait_for(GROUP, lambda m: "已接单" in m.text)


async def test_reporter_undoes_a_false_alarm_in_one_press(tmp_path: Path) -> None:
    async with offline_emulator(privacy_mode=False) as emu:
        populate(emu)
        async with offline_bot(emu, tmp_path) as bot:
            await open_privates(emu, *STAFF)
            await emu.send_text(GROUP, RESIDENT, "2号楼门口垃圾堆了三天没人清")
            card = await emu.wait_for(WORKER_LI)
            ack = await emu.wait_for(GROUP)
            undo = ack.button(texts.UNDO_BUTTON)
            qid = await emu.press_button(GROUP, NEIGHBOUR, ack.message_id, undo.callback_data)
            assert (await emu.wait_for_answer(qid)).text == texts.NOT_YOUR_BUTTON
            await emu.press_button(GROUP, RESIDENT, ack.message_id, undo.callback_data)
            told = await emu.wait_for(WORKER_LI, lambda m: "撤回" in m.text)
            assert told.text == texts.UNDONE_TO_WORKER.format(number=1)
            assert emu.message(GROUP, ack.message_id).text == texts.UNDONE.format(number=1)
            assert emu.message(WORKER_LI, card.message_id).buttons == []
            assert (await bot.state.require_services().tickets.get(1)).status == "withdrawn"


async def test_unknown_building_is_asked_then_routed(tmp_path: Path) -> None:
    async with offline_emulator(privacy_mode=False) as emu:
        populate(emu)
        async with offline_bot(emu, tmp_path):
            await open_privates(emu, *STAFF)
            await emu.send_text(GROUP, RESIDENT, "楼道灯坏了好几天了，晚上黑乎乎的没人管")
            question = await emu.wait_for(GROUP)
            assert "哪栋楼" in question.text
            nine = question.button("9号楼")
            qid = await emu.press_button(GROUP, NEIGHBOUR, question.message_id, nine.callback_data)
            assert (await emu.wait_for_answer(qid)).show_alert
            await emu.press_button(GROUP, RESIDENT, question.message_id, nine.callback_data)
            card = await emu.wait_for(WORKER_ZHANG)
            assert "9号楼" in card.text
            # In a group that covers one grid, nobody is asked.
            await emu.send_text(GROUP_G1, NEIGHBOUR, "楼道灯坏了好几天了，晚上黑乎乎的没人管")
            card = await emu.wait_for(WORKER_LI)
            assert "工单 #2" in card.text


async def test_mytickets_and_ticket_show_only_what_each_may_see(tmp_path: Path) -> None:
    async with offline_emulator(privacy_mode=False) as emu:
        populate(emu)
        async with offline_bot(emu, tmp_path):
            await open_privates(emu, *STAFF, RESIDENT, NEIGHBOUR)
            await emu.send_text(GROUP, RESIDENT, "4号楼电梯坏了，关人了！电话13912345678")
            card = await emu.wait_for(WORKER_LI)
            await emu.press_button(WORKER_LI, WORKER_LI, card.message_id, "acc:1")
            await emu.wait_for(GROUP, lambda m: "已接单" in m.text)

            await emu.send_text(WORKER_LI, WORKER_LI, "/mytickets")
            mine = await emu.wait_for(WORKER_LI)
            assert "#1" in mine.text and "处理中" in mine.text
            await emu.send_text(RESIDENT, RESIDENT, "/mytickets")
            assert (await emu.wait_for(RESIDENT)).text == texts.MYTICKETS_NOT_WORKER

            await emu.send_text(WORKER_LI, WORKER_LI, "/ticket 1")
            full = await emu.wait_for(WORKER_LI)
            assert "处理记录" in full.text and "接单" in full.text and "周大爷" in full.text
            await emu.send_text(RESIDENT, RESIDENT, "/ticket #1")
            own = await emu.wait_for(RESIDENT)
            assert "处理记录" in own.text
            await emu.send_text(NEIGHBOUR, NEIGHBOUR, "/ticket 1")
            # A neighbour in the community's group reads the status line, privately too.
            status = (await emu.wait_for(NEIGHBOUR)).text
            assert "#1" in status and "处理中" in status and "周大爷" not in status
            await emu.send_text(GROUP, NEIGHBOUR, "/ticket 1")
            public = await emu.wait_for(GROUP)
            assert "#1" in public.text and "处理中" in public.text
            assert "周大爷" not in public.text and "13912345678" not in public.text
            for bad in ("/ticket", "/ticket abc", "/ticket 999"):
                await emu.send_text(RESIDENT, RESIDENT, bad)
                answer = await emu.wait_for(RESIDENT)
                assert answer.text in (
                    texts.TICKET_USAGE,
                    texts.TICKET_NOT_FOUND.format(number=999),
                )


async def test_mytickets_puts_what_is_late_first_and_says_by_when(
    tmp_path: Path, clock: FakeClock
) -> None:
    async with offline_emulator(privacy_mode=False) as emu:
        populate(emu)
        async with offline_bot(emu, tmp_path, clock=clock):
            await open_privates(emu, *STAFF)
            await emu.send_text(GROUP, RESIDENT, "4号楼楼道灯坏了")
            await emu.wait_for(WORKER_LI, lambda m: "工单 #1" in m.text)
            clock.advance(timedelta(hours=6))  # #1's accept deadline passes
            await emu.send_text(GROUP, NEIGHBOUR, "4号楼电梯坏了，关人了！")
            await emu.wait_for(GROUP, lambda m: "#2" in m.text)
            card = await emu.wait_for(WORKER_LI, lambda m: "工单 #2" in m.text)
            await emu.press_button(WORKER_LI, WORKER_LI, card.message_id, "acc:2")
            await emu.wait_for(GROUP, lambda m: "已接单" in m.text)
            await emu.send_text(WORKER_LI, WORKER_LI, "/mytickets")
            mine = await emu.wait_for(WORKER_LI, lambda m: "待办工单" in m.text)
            head, first, second = mine.text.splitlines()
            assert head == texts.MYTICKETS_HEAD_LATE.format(count=2, late=1)
            assert first.startswith("#1 ") and first.endswith("前接单" + texts.MYTICKETS_LATE)
            assert second.startswith(texts.MYTICKETS_URGENT + "#2 ")
            assert second.endswith("前办结")
