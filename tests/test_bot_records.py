"""Whole bot: honest records — who did what, approvals, reasons, points, hours."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest

from bot import texts
from bot.context import GridContext
from bot.handlers.jobs import sweep_job
from bot.services.clock import FakeClock
from tests.botkit import (
    DUTY,
    GROUP,
    RESIDENT,
    SECRETARY,
    WORKER_LI,
    WORKER_ZHANG,
    open_privates,
)
from tests.fastkit import offline_bot, offline_emulator
from tests.test_bot_lifecycle import add_people, drained, lifecycle_config

pytestmark = pytest.mark.both_stores

LIFT = "4号楼电梯又坏了，快来人修一下"
STAFF = (WORKER_LI, WORKER_ZHANG, DUTY, SECRETARY)


async def test_the_secretarys_accept_is_recorded_and_told_as_the_secretarys(
    tmp_path: Path, clock: FakeClock
) -> None:
    async with offline_emulator(privacy_mode=False) as emu:
        add_people(emu)
        async with offline_bot(
            emu, tmp_path, clock=clock, config=lifecycle_config(tmp_path)
        ) as bot:
            services = bot.state.require_services()
            await open_privates(emu, *STAFF)
            await emu.send_text(GROUP, RESIDENT, LIFT)
            await emu.wait_for(WORKER_LI, lambda m: "工单 #1" in m.text)
            await emu.send_text(SECRETARY, SECRETARY, "/ticket 1")
            card = await emu.wait_for(SECRETARY, lambda m: "工单 #1" in m.text)
            await emu.press_button(SECRETARY, SECRETARY, card.message_id, "acc:1")
            said = await emu.wait_for(GROUP, lambda m: "接单" in m.text)
            assert said.text == texts.ACCEPTED_FOR_GROUP.format(
                number=1, admin="刘书记", worker="李娜"
            )
            assert not any("李娜已接单" in m.text for m in emu.sent(GROUP))
            ticket = await services.tickets.get(1)
            assert ticket.assignee_key == "li" and ticket.status == "accepted"
            accepted = [e for e in await services.tickets.history(1) if e.kind == "accepted"]
            assert accepted[0].actor_id == SECRETARY and accepted[0].actor_role == "admin"
            assert accepted[0].detail["for_worker"] == "li"

            # The timeline names the person, never the role.
            before = len(emu.sent(SECRETARY))
            await emu.send_text(SECRETARY, SECRETARY, "/ticket 1")
            shown = await emu.wait_for(SECRETARY, lambda m: "处理记录" in m.text, after=before)
            assert "刘书记接单" in shown.text
            assert "admin" not in shown.text and "facilities" not in shown.text


async def test_a_category_change_by_the_holder_keeps_the_deadline_and_the_group_quiet(
    tmp_path: Path, clock: FakeClock
) -> None:
    async with offline_emulator(privacy_mode=False) as emu:
        add_people(emu)
        async with offline_bot(
            emu, tmp_path, clock=clock, config=lifecycle_config(tmp_path)
        ) as bot:
            services = bot.state.require_services()
            await open_privates(emu, *STAFF)
            await emu.send_text(GROUP, RESIDENT, LIFT)
            card = await emu.wait_for(WORKER_LI, lambda m: "工单 #1" in m.text)
            await emu.press_button(WORKER_LI, WORKER_LI, card.message_id, "acc:1")
            await emu.wait_for(GROUP, lambda m: "李娜已接单" in m.text)
            accepted = await services.tickets.get(1)
            clock.advance(timedelta(hours=1))
            await emu.press_button(WORKER_LI, WORKER_LI, card.message_id, "xfer:1")
            await emu.press_button(WORKER_LI, WORKER_LI, card.message_id, "xc:1", check=False)
            await emu.press_button(
                WORKER_LI, WORKER_LI, card.message_id, "xk:1:noise", check=False
            )
            await emu.wait_for(WORKER_LI, lambda m: "转派原因" in m.text)
            group_before = len(emu.sent(GROUP))
            await emu.send_text(WORKER_LI, WORKER_LI, "其实是电梯机房噪音")
            kept = await emu.wait_for(WORKER_LI, lambda m: "仍由您负责" in m.text)
            assert "噪音" in kept.text
            await bot.idle()
            ticket = await services.tickets.get(1)
            assert ticket.category == "noise" and ticket.status == "accepted"
            assert ticket.assignee_key == "li"
            assert ticket.resolve_due_at == accepted.resolve_due_at
            assert len(emu.sent(GROUP)) == group_before  # nothing about a move
            assert not any("已转给" in m.text for m in emu.sent(GROUP))
            # The holder's card still offers 办结.
            assert "res:1" in str(emu.message(WORKER_LI, card.message_id).reply_markup)


async def test_return_and_transfer_reasons_travel_with_the_card(
    tmp_path: Path, clock: FakeClock
) -> None:
    async with offline_emulator(privacy_mode=False) as emu:
        add_people(emu)
        async with offline_bot(emu, tmp_path, clock=clock, config=lifecycle_config(tmp_path)):
            await open_privates(emu, *STAFF)
            await emu.send_text(GROUP, RESIDENT, LIFT)
            card = await emu.wait_for(WORKER_LI, lambda m: "工单 #1" in m.text)
            assert "原因" not in card.text
            await emu.press_button(WORKER_LI, WORKER_LI, card.message_id, "ret:1")
            await emu.press_button(
                WORKER_LI, WORKER_LI, card.message_id, "rt:1:not_my_grid", check=False
            )
            duty = await emu.wait_for(DUTY, lambda m: "工单 #1" in m.text)
            assert "退回原因：不是我的网格（李娜）" in duty.text
            await emu.press_button(DUTY, DUTY, duty.message_id, "xfer:1")
            await emu.press_button(DUTY, DUTY, duty.message_id, "xw:1:zhang", check=False)
            await emu.wait_for(DUTY, lambda m: "转派原因" in m.text)
            await emu.send_text(DUTY, DUTY, "请张伟先去看一下")
            zhang = await emu.wait_for(WORKER_ZHANG, lambda m: "工单 #1" in m.text)
            assert "转派原因：请张伟先去看一下（赵强）" in zhang.text


async def test_the_ticket_confirmed_rule_rewards_the_reporter_once(
    tmp_path: Path, clock: FakeClock
) -> None:
    async with offline_emulator(privacy_mode=False) as emu:
        add_people(emu)
        async with offline_bot(
            emu, tmp_path, clock=clock, config=lifecycle_config(tmp_path)
        ) as bot:
            services = bot.state.require_services()
            assert services.points.config.ticket_confirmed == 2  # examples/community.toml
            await open_privates(emu, *STAFF, RESIDENT)
            await emu.send_text(GROUP, RESIDENT, LIFT)
            card = await emu.wait_for(WORKER_LI, lambda m: "工单 #1" in m.text)
            await emu.press_button(WORKER_LI, WORKER_LI, card.message_id, "acc:1")
            await emu.wait_for(GROUP, lambda m: "已接单" in m.text)
            assert await services.points.balance(RESIDENT) == 0
            await emu.press_button(WORKER_LI, WORKER_LI, card.message_id, "res:1")
            await emu.wait_for(WORKER_LI, lambda m: m.text == texts.RESOLVE_NOTE)
            await emu.send_text(WORKER_LI, WORKER_LI, "电梯已修好")
            rating = await emu.wait_for(GROUP, lambda m: "请评价" in m.text)
            assert await services.points.balance(RESIDENT) == 2
            # 不满意 and a second resolution: the rule applies once per ticket.
            await emu.press_button(GROUP, RESIDENT, rating.message_id, "rate:1:unsatisfied")
            await emu.wait_for(WORKER_LI, lambda m: "不满意" in m.text)
            clock.advance(timedelta(hours=1))
            await emu.press_button(WORKER_LI, WORKER_LI, card.message_id, "res:1")
            note = await emu.wait_for(WORKER_LI, lambda m: m.text == texts.RESOLVE_NOTE)
            await emu.press_button(WORKER_LI, WORKER_LI, note.message_id, "rs:1")
            await emu.wait_for(GROUP, lambda m: "请评价" in m.text)
            assert await services.points.balance(RESIDENT) == 2
            before = len(emu.sent(RESIDENT))
            await emu.send_text(RESIDENT, RESIDENT, "/points")
            shown = await emu.wait_for(RESIDENT, after=before)
            assert "2" in shown.text


# ── hours: quiet nights, escalations nobody can receive, contacts invited like workers ──
WATER = "5号楼又停水了，什么时候来水啊"  # utilities, normal: 区水务局 is called in at the end
STREET_CONTACT = 4100


def unreachable_escalation_config(tmp_path: Path) -> Path:
    """The example community with no street office id (the water department's id is fake)."""
    path = lifecycle_config(tmp_path)
    text = path.read_text(encoding="utf-8")
    line = next(x for x in text.splitlines(keepends=True) if x.startswith("street_office_id"))
    path.write_text(text.replace(line, ""), encoding="utf-8")
    return path


async def test_escalations_wait_out_the_night_and_undeliverable_ones_reach_the_secretary(
    tmp_path: Path, clock: FakeClock
) -> None:
    async with offline_emulator(privacy_mode=False) as emu:
        add_people(emu)
        emu.add_user(STREET_CONTACT, "街道办孙主任")
        config = unreachable_escalation_config(tmp_path)
        clock.advance(timedelta(hours=7, minutes=30))  # Monday 16:30
        async with offline_bot(emu, tmp_path, clock=clock, config=config) as bot:
            services = bot.state.require_services()
            await open_privates(emu, *STAFF)
            await emu.send_text(GROUP, RESIDENT, WATER)
            card = await emu.wait_for(WORKER_LI, lambda m: "工单 #1" in m.text)
            # Normal: 1 office hour on Monday and 3 on Tuesday morning.
            assert "11-24 11:30 前接单" in card.text

            async def sweep_at(hours: float) -> None:
                clock.advance(timedelta(hours=hours))
                await sweep_job(GridContext(bot.app))  # type: ignore[arg-type]

            await sweep_at(19)  # Tuesday 11:30: the office hears of it
            await emu.wait_for(SECRETARY, lambda m: "超时提醒" in m.text)
            await sweep_at(9.5)  # Tuesday 21:00: the street rung, but no street office
            told = await emu.wait_for(SECRETARY, lambda m: "街道办的联系人" in m.text)
            assert "#1" in told.text and "street" not in told.text

            # The street office is invited like a worker and links its account.
            code = await services.state.create_invite("street")
            await emu.open_private(STREET_CONTACT, code)
            linked = await emu.wait_for(STREET_CONTACT, lambda m: "绑定成功" in m.text)
            assert "和平街道办事处" in linked.text

            await sweep_at(9.5)  # Wednesday 06:30: the whistle waits for the quiet hours' end
            held = await services.outbox.due(clock.now() + timedelta(hours=1))
            whistles = [i for i in held if i.message.purpose == "whistle"]
            assert len(whistles) == 1 and whistles[0].chat_id == 2031
            assert not [i for i in await services.outbox.due(clock.now()) if i in whistles]
            await sweep_at(0.5)  # 07:00: sent, and Telegram says the chat does not exist
            await sweep_at(0.1)
            refused = await emu.wait_for(SECRETARY, lambda m: "没能送到区水务局" in m.text)
            assert "#1" in refused.text
            # The whistle had its full 30 minutes from 07:00; the linked street office hears.
            await sweep_at(0.5)
            lapsed = await emu.wait_for(STREET_CONTACT, lambda m: "吹哨未响应" in m.text)
            assert "#1" in lapsed.text
            await sweep_at(1)
            # Each problem was told once.
            assert len([m for m in emu.sent(SECRETARY) if "街道办的联系人" in m.text]) == 1
            assert len([m for m in emu.sent(SECRETARY) if "没能送到" in m.text]) == 1


async def test_a_workers_reject_is_heard_by_nobody_until_the_secretary_decides(
    tmp_path: Path, clock: FakeClock
) -> None:
    async with offline_emulator(privacy_mode=False) as emu:
        add_people(emu)
        async with offline_bot(
            emu, tmp_path, clock=clock, config=lifecycle_config(tmp_path)
        ) as bot:
            services = bot.state.require_services()
            await open_privates(emu, *STAFF)
            await emu.send_text(GROUP, RESIDENT, LIFT)
            card = await emu.wait_for(WORKER_LI, lambda m: "工单 #1" in m.text)
            await emu.press_button(WORKER_LI, WORKER_LI, card.message_id, "ret:1")
            await emu.press_button(WORKER_LI, WORKER_LI, card.message_id, "rej:1", check=False)
            pick = await emu.wait_for(WORKER_LI, lambda m: "不予受理的原因" in m.text)
            await emu.press_button(WORKER_LI, WORKER_LI, pick.message_id, "rj:1:out_of_scope")
            ask = await emu.wait_for(SECRETARY, lambda m: "待审批" in m.text)
            assert "不属于社区受理范围" in ask.text
            await emu.wait_until(
                lambda: "待社区审批" in emu.message(WORKER_LI, card.message_id).text
            )
            # The secretary says no: the worker hears it, the group never did.
            await emu.press_button(SECRETARY, SECRETARY, ask.message_id, "rjn:1")
            await emu.wait_for(WORKER_LI, lambda m: "没有同意" in m.text)
            await bot.idle()
            assert not any("不予受理" in m.text for m in emu.sent(GROUP))
            assert "待社区审批" not in emu.message(WORKER_LI, card.message_id).text
            assert (await services.tickets.get(1)).status == "new"
            # Pressing again is refused: it was decided.
            qid = await emu.press_button(
                SECRETARY, SECRETARY, ask.message_id, "rja:1", check=False
            )
            assert (await emu.wait_for_answer(qid)).show_alert
            assert (await services.tickets.get(1)).status == "new"

            before = len(emu.sent(SECRETARY))
            await emu.send_text(SECRETARY, SECRETARY, "/ticket 1")
            shown = await emu.wait_for(SECRETARY, lambda m: "处理记录" in m.text, after=before)
            assert "李娜申请不予受理" in shown.text and "刘书记不同意不予受理" in shown.text


async def test_news_of_a_normal_ticket_waits_for_the_groups_quiet_hours_to_end(
    tmp_path: Path, clock: FakeClock
) -> None:
    async with offline_emulator(privacy_mode=False) as emu:
        add_people(emu)
        clock.advance(timedelta(hours=13))  # Monday 22:00: quiet hours (22:00-07:00)
        async with offline_bot(
            emu, tmp_path, clock=clock, config=lifecycle_config(tmp_path)
        ) as bot:
            await open_privates(emu, *STAFF)
            await emu.send_text(GROUP, RESIDENT, LIFT)
            # The resident who just spoke is answered at once.
            ack = await emu.wait_for(GROUP, lambda m: "#1" in m.text)
            assert "11-24 12:30" in ack.text  # counted from Tuesday 08:30
            card = await emu.wait_for(WORKER_LI, lambda m: "工单 #1" in m.text)
            clock.advance(timedelta(minutes=30))
            await emu.press_button(WORKER_LI, WORKER_LI, card.message_id, "acc:1")
            await bot.idle()
            await drained(bot)
            assert not any("已接单" in m.text for m in emu.sent(GROUP))
            clock.advance(timedelta(hours=8, minutes=31))  # Tuesday 07:01
            await drained(bot)
            said = await emu.wait_for(GROUP, lambda m: "李娜已接单" in m.text)
            assert said.reply_to_message_id is not None


async def test_a_rating_request_to_the_group_waits_for_the_morning(
    tmp_path: Path, clock: FakeClock
) -> None:
    async with offline_emulator(privacy_mode=False) as emu:
        add_people(emu)
        clock.advance(timedelta(hours=8))  # Monday 17:00, in office hours
        async with offline_bot(
            emu, tmp_path, clock=clock, config=lifecycle_config(tmp_path)
        ) as bot:
            await open_privates(emu, *STAFF)
            await emu.send_text(GROUP, RESIDENT, LIFT)
            card = await emu.wait_for(WORKER_LI, lambda m: "工单 #1" in m.text)
            await emu.press_button(WORKER_LI, WORKER_LI, card.message_id, "acc:1")
            await emu.wait_for(GROUP, lambda m: "已接单" in m.text)
            clock.advance(timedelta(hours=6))  # Monday 23:00: the group's quiet hours
            await emu.press_button(WORKER_LI, WORKER_LI, card.message_id, "res:1")
            await emu.wait_for(WORKER_LI, lambda m: m.text == texts.RESOLVE_NOTE)
            await emu.send_text(WORKER_LI, WORKER_LI, "电梯已修好")
            await bot.idle()
            await drained(bot)
            assert not any("请评价" in m.text for m in emu.sent(GROUP))
            clock.advance(timedelta(hours=8, minutes=1))  # Tuesday 07:01
            await drained(bot)
            rating = await emu.wait_for(GROUP, lambda m: "请评价" in m.text)
            assert rating.reply_to_message_id is not None
