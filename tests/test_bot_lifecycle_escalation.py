"""Whole bot over HTTP: deadlines climb the ladder with an injected clock, across restarts too."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

from bot import texts
from bot.services.clock import FakeClock
from tests.botkit import (
    GROUP,
    NEIGHBOUR,
    RESIDENT,
    SECRETARY,
    WORKER_LI,
    RunningBot,
    open_privates,
    running_bot,
)
from tests.test_bot_lifecycle import (
    LIFT,
    LIFT_DEPARTMENT,
    STAFF,
    STREET,
    add_people,
    drained,
    labels,
    lifecycle_config,
)
from tgsandbox import Emulator


async def sweep(bot: RunningBot) -> None:
    """What the sweep job does: take the due steps, then send what they queued."""
    await bot.state.require_services().escalation.run()
    await drained(bot)


def texts_in(emu: Emulator, chat_id: int, needle: str) -> list[str]:
    return [m.text for m in emu.sent(chat_id) if needle in m.text]


async def test_an_unaccepted_urgent_ticket_climbs_every_rung(
    tmp_path: Path, clock: FakeClock
) -> None:
    async with Emulator(privacy_mode=False) as emu:
        add_people(emu)
        config = lifecycle_config(tmp_path)
        async with running_bot(emu, tmp_path, clock=clock, config=config) as bot:
            services = bot.state.require_services()
            await open_privates(emu, *STAFF, STREET, LIFT_DEPARTMENT)
            complaint = await emu.send_text(GROUP, RESIDENT, LIFT)  # urgent: accept by 09:30
            await emu.wait_for(WORKER_LI, lambda m: "工单 #1" in m.text)
            await emu.wait_for(GROUP, lambda m: "#1" in m.text)

            clock.advance(timedelta(minutes=20))
            await sweep(bot)
            assert texts_in(emu, WORKER_LI, "提醒") == []

            clock.advance(timedelta(minutes=3))  # 09:23, past 75% of the 30 minutes
            await sweep(bot)
            reminder = await emu.wait_for(WORKER_LI, lambda m: m.text.startswith("⏰ 提醒"))
            assert "#1" in reminder.text and "09:30" in reminder.text
            assert texts_in(emu, SECRETARY, "超时") == []

            clock.advance(timedelta(minutes=8))  # 09:31: the deadline has passed
            await sweep(bot)
            office = await emu.wait_for(SECRETARY, lambda m: "【超时提醒】" in m.text)
            assert "#1" in office.text and "李娜" in office.text and "接单" in office.text
            overdue = await emu.wait_for(WORKER_LI, lambda m: "已报社区居委会" in m.text)
            assert "#1" in overdue.text
            calm = await emu.wait_for(GROUP, lambda m: "耐心等待" in m.text)
            assert calm.text == texts.GROUP_CALM_STATUS.format(number=1)
            assert calm.reply_to_message_id == complaint["message_id"]
            assert "李娜" not in calm.text and "超时" not in calm.text
            assert texts_in(emu, STREET, "#1") == []

            clock.advance(timedelta(minutes=15))  # 09:46: half the window late
            await sweep(bot)
            street = await emu.wait_for(STREET, lambda m: "【街道督办】" in m.text)
            assert "#1" in street.text and "幸福里社区" in street.text
            assert texts_in(emu, LIFT_DEPARTMENT, "#1") == []

            clock.advance(timedelta(minutes=15))  # 10:01: a whole window late: 吹哨
            await sweep(bot)
            whistle = await emu.wait_for(LIFT_DEPARTMENT, lambda m: "【街乡吹哨】" in m.text)
            assert "区市场监管局" in whistle.text and "电梯" in whistle.text
            assert labels(whistle) == [texts.WHISTLE_ACK_BUTTON]

            clock.advance(timedelta(minutes=31))  # nobody pressed 收到 within 30 minutes
            await sweep(bot)
            lapsed = await emu.wait_for(STREET, lambda m: "【吹哨未响应】" in m.text)
            assert "#1" in lapsed.text and "区市场监管局" in lapsed.text

            # Every step happened once, and the timeline shows them.
            await sweep(bot)
            assert len(texts_in(emu, SECRETARY, "【超时提醒】")) == 1
            assert len(texts_in(emu, STREET, "【街道督办】")) == 1
            assert len(texts_in(emu, GROUP, "耐心等待")) == 1
            ticket = await services.tickets.get(1)
            assert ticket.escalation_level == 3 and ticket.status == "new"
            await emu.send_text(WORKER_LI, WORKER_LI, "/ticket 1")
            shown = await emu.wait_for(WORKER_LI, lambda m: "处理记录" in m.text)
            for word in ("提醒", "上报（社区居委会）", "上报（街道办）", "吹哨", "吹哨未响应"):
                assert word in shown.text


async def test_the_department_acknowledges_and_the_street_is_not_bothered(
    tmp_path: Path, clock: FakeClock
) -> None:
    async with Emulator(privacy_mode=False) as emu:
        add_people(emu)
        config = lifecycle_config(tmp_path)
        async with running_bot(emu, tmp_path, clock=clock, config=config) as bot:
            services = bot.state.require_services()
            await open_privates(emu, *STAFF, STREET, LIFT_DEPARTMENT, NEIGHBOUR)
            await emu.send_text(GROUP, RESIDENT, LIFT)
            await emu.wait_for(WORKER_LI, lambda m: "工单 #1" in m.text)
            clock.advance(timedelta(minutes=61))  # one sweep climbs office, street, department
            await sweep(bot)
            whistle = await emu.wait_for(LIFT_DEPARTMENT, lambda m: "【街乡吹哨】" in m.text)
            assert len(texts_in(emu, STREET, "【街道督办】")) == 1
            assert texts_in(emu, WORKER_LI, "⏰ 提醒") == []  # too late to remind

            # Only the department's contact may acknowledge.
            qid = await emu.press_button(NEIGHBOUR, NEIGHBOUR, 1, "ack:1", check=False)
            answer = await emu.wait_for_answer(qid)
            assert answer.show_alert
            assert answer.text == texts.ERRORS["not_department_contact"].format(number=1)

            qid = await emu.press_button(
                LIFT_DEPARTMENT, LIFT_DEPARTMENT, whistle.message_id, "ack:1"
            )
            answer = await emu.wait_for_answer(qid)
            assert answer.text == texts.WHISTLE_ACKED.format(number=1, department="区市场监管局")
            await bot.idle()
            acked = emu.message(LIFT_DEPARTMENT, whistle.message_id)
            assert acked.text.endswith("✅ 已确认") and acked.buttons == []
            qid = await emu.press_button(
                LIFT_DEPARTMENT, LIFT_DEPARTMENT, whistle.message_id, "ack:1", check=False
            )
            answer = await emu.wait_for_answer(qid)
            assert answer.text == texts.ERRORS["no_open_whistle"].format(number=1)

            clock.advance(timedelta(minutes=45))
            await sweep(bot)
            assert texts_in(emu, STREET, "【吹哨未响应】") == []
            kinds = [e.kind for e in await services.tickets.history(1)]
            assert "whistle_acked" in kinds and "whistle_lapsed" not in kinds


async def test_a_deadline_that_passed_while_the_bot_was_down_is_handled_once(
    tmp_path: Path, clock: FakeClock
) -> None:
    async with Emulator(privacy_mode=False) as emu:
        add_people(emu)
        config = lifecycle_config(tmp_path)
        async with running_bot(emu, tmp_path, clock=clock, config=config):
            await open_privates(emu, *STAFF)
            await emu.send_text(GROUP, RESIDENT, LIFT)
            await emu.wait_for(WORKER_LI, lambda m: "工单 #1" in m.text)
            await emu.wait_for(GROUP, lambda m: "#1" in m.text)

        clock.advance(timedelta(minutes=35))  # the accept deadline passes while nobody runs

        async with running_bot(emu, tmp_path, clock=clock, config=config) as bot:
            # Nobody calls the sweep: the start-up run finds the missed deadline by itself.
            office = await emu.wait_for(SECRETARY, lambda m: "【超时提醒】" in m.text)
            assert "#1" in office.text
            await emu.wait_for(GROUP, lambda m: "耐心等待" in m.text)
            await sweep(bot)
            await sweep(bot)

        async with running_bot(emu, tmp_path, clock=clock, config=config) as bot:
            await sweep(bot)
            services = bot.state.require_services()
            escalations = [e for e in await services.tickets.history(1) if e.kind == "escalated"]
            assert len(escalations) == 1
        assert len(texts_in(emu, SECRETARY, "【超时提醒】")) == 1
        assert len(texts_in(emu, WORKER_LI, "已报社区居委会")) == 1
        assert len(texts_in(emu, GROUP, "耐心等待")) == 1
        assert texts_in(emu, WORKER_LI, "⏰ 提醒") == []  # the missed reminder is not sent late
