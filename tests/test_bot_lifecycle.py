"""Whole bot: ratings, reopening, 不予受理, 重复, 我也遇到 and /stats."""

from __future__ import annotations

from datetime import date, timedelta
from pathlib import Path

import pytest

from bot import texts
from bot.context import GridContext
from bot.handlers.jobs import sweep_job
from bot.handlers.lifecycle import parse_period
from bot.handlers.sending import drain_outbox
from bot.services.clock import FakeClock
from bot.services.tickets import Actor, NewTicket
from storage.privacy import FollowerRatings
from tests.botkit import (
    DUTY,
    EXAMPLE_CONFIG,
    GROUP,
    GROUP_G1,
    NEIGHBOUR,
    RESIDENT,
    SECRETARY,
    WORKER_LI,
    WORKER_ZHANG,
    RunningBot,
    open_privates,
    populate,
)
from tests.fastkit import OfflineBot, offline_bot, offline_emulator
from tgsandbox import Emulator
from tgsandbox.model import BotMessage

pytestmark = pytest.mark.both_stores

LIFT = "4号楼电梯又坏了，关人了！快来人"
STAFF = (WORKER_LI, WORKER_ZHANG, DUTY, SECRETARY)
STREET = 4000  # the street office's contact (test config)
LIFT_DEPARTMENT = 4004  # the department called in for 公共设施 (test config)
THIRD_RESIDENT = 3003
COMMUNITY = "幸福里社区"


def lifecycle_config(tmp_path: Path) -> Path:
    """The example community with a street office, a lift department and 2 followers to rise."""
    text = EXAMPLE_CONFIG.read_text(encoding="utf-8")
    for old, new in (
        ("street_office_id = 2030", f"street_office_id = {STREET}"),
        ("follower_threshold = 3", "follower_threshold = 2"),
        (
            'categories = ["fire_safety"]\ncontact_id = 2033\n',
            'categories = ["fire_safety"]\ncontact_id = 4003\n\n'
            '[[departments]]\nkey = "lift"\nname = "区市场监管局"\n'
            f'categories = ["facilities"]\ncontact_id = {LIFT_DEPARTMENT}\n',
        ),
    ):
        assert old in text, old
        text = text.replace(old, new)
    path = tmp_path / "community.toml"
    path.write_text(text, encoding="utf-8")
    return path


def add_people(emu: Emulator) -> None:
    """The example community plus the street office, a department contact and one more resident."""
    populate(emu)
    emu.add_user(STREET, "街道办王主任")
    emu.add_user(LIFT_DEPARTMENT, "市场监管局刘科长")
    emu.add_user(THIRD_RESIDENT, "钱大妈")
    emu.add_member(GROUP, THIRD_RESIDENT)


async def drained(bot: RunningBot | OfflineBot) -> None:
    """Send what the services queued, taking turns with the outbox job (as the jobs do)."""
    async with bot.drain_lock:
        await drain_outbox(bot.app.bot, bot.state.require_services())


def labels(message: BotMessage) -> list[str]:
    return [b.text for row in message.buttons for b in row]


async def offered(emu: Emulator, chat_id: int, message_id: int, data: str) -> None:
    """Wait until a message (a card being edited) offers a button."""
    await emu.wait_until(lambda: data in str(emu.message(chat_id, message_id).reply_markup))


async def resolved_lift(emu: Emulator) -> tuple[dict[str, object], BotMessage, BotMessage]:
    """周大爷 reports the lift, 李娜 accepts and resolves it: complaint, card, rating request."""
    complaint = await emu.send_text(GROUP, RESIDENT, LIFT)
    card = await emu.wait_for(WORKER_LI, lambda m: "工单 #1" in m.text)
    await emu.press_button(WORKER_LI, WORKER_LI, card.message_id, "acc:1")
    await emu.wait_for(GROUP, lambda m: "已接单" in m.text)
    await emu.press_button(WORKER_LI, WORKER_LI, card.message_id, "res:1")
    await emu.wait_for(WORKER_LI, lambda m: m.text == texts.RESOLVE_NOTE)
    await emu.send_text(WORKER_LI, WORKER_LI, "电梯已修好，维保公司到场处理")
    rating = await emu.wait_for(GROUP, lambda m: "请评价" in m.text)
    return complaint, card, rating


async def test_satisfied_closes_and_only_the_reporter_rates_once(
    tmp_path: Path, clock: FakeClock
) -> None:
    async with offline_emulator(privacy_mode=False) as emu:
        add_people(emu)
        async with offline_bot(
            emu, tmp_path, clock=clock, config=lifecycle_config(tmp_path)
        ) as bot:
            services = bot.state.require_services()
            await open_privates(emu, *STAFF)
            complaint, card, rating = await resolved_lift(emu)
            assert rating.reply_to_message_id == complaint["message_id"]
            assert "电梯已修好" in rating.text

            # A neighbour pressing the reporter's button is refused; nothing changes.
            qid = await emu.press_button(GROUP, NEIGHBOUR, rating.message_id, "rate:1:unsatisfied")
            answer = await emu.wait_for_answer(qid)
            assert answer.show_alert and answer.text == texts.ERRORS["not_rater"].format(number=1)
            assert (await services.tickets.get(1)).status == "resolved"

            qid = await emu.press_button(GROUP, RESIDENT, rating.message_id, "rate:1:satisfied")
            assert (await emu.wait_for_answer(qid)).text == texts.RATING_THANKS.format(
                rating="满意"
            )
            await bot.idle()
            rated = emu.message(GROUP, rating.message_id)
            assert rated.text == texts.RATED_MESSAGE.format(number=1, rating="满意")
            assert rated.buttons == []
            ticket = await services.tickets.get(1)
            assert ticket.status == "closed" and ticket.rating == "satisfied"
            card = emu.message(WORKER_LI, card.message_id)
            assert "已关闭" in card.text and card.buttons == []

            # Rating twice (an old client still showing the buttons) is refused.
            qid = await emu.press_button(
                GROUP, RESIDENT, rating.message_id, "rate:1:unsatisfied", check=False
            )
            answer = await emu.wait_for_answer(qid)
            assert answer.show_alert
            assert answer.text == texts.ERRORS["already_rated"].format(number=1)
            # Forged data: a rating that does not exist, a ticket that does not exist.
            for data in ("rate:1:great", "rate:99999:satisfied", "rate:x:satisfied"):
                qid = await emu.press_button(GROUP, RESIDENT, rating.message_id, data, check=False)
                assert (await emu.wait_for_answer(qid)).show_alert
            ticket = await services.tickets.get(1)
            assert ticket.status == "closed" and ticket.rating == "satisfied"


async def test_unsatisfied_reopens_to_the_same_worker_and_tells_the_office(
    tmp_path: Path, clock: FakeClock
) -> None:
    async with offline_emulator(privacy_mode=False) as emu:
        add_people(emu)
        async with offline_bot(
            emu, tmp_path, clock=clock, config=lifecycle_config(tmp_path)
        ) as bot:
            services = bot.state.require_services()
            await open_privates(emu, *STAFF)
            _, card, rating = await resolved_lift(emu)
            await emu.press_button(GROUP, RESIDENT, rating.message_id, "rate:1:unsatisfied")
            office = await emu.wait_for(SECRETARY, lambda m: "不满意" in m.text)
            assert "#1" in office.text and "李娜" in office.text
            told = await emu.wait_for(WORKER_LI, lambda m: "不满意" in m.text)
            assert "#1" in told.text and "重新办理" in told.text
            await bot.idle()  # the redraws are queued after the notices
            assert emu.message(
                GROUP, rating.message_id
            ).text == texts.RATED_REOPENED_MESSAGE.format(number=1, worker="李娜")
            card = emu.message(WORKER_LI, card.message_id)
            assert labels(card) == ["办结", "转派"] and "重新办理中" in card.text
            ticket = await services.tickets.get(1)
            assert ticket.status == "reopened" and ticket.assignee_key == "li"

            # The same worker resolves it again; the new resolution can be rated.
            clock.advance(timedelta(hours=2))
            await emu.press_button(WORKER_LI, WORKER_LI, card.message_id, "res:1")
            note = await emu.wait_for(WORKER_LI, lambda m: m.text == texts.RESOLVE_NOTE)
            await emu.press_button(WORKER_LI, WORKER_LI, note.message_id, "rs:1")
            again = await emu.wait_for(GROUP, lambda m: "请评价" in m.text)
            await emu.press_button(GROUP, RESIDENT, again.message_id, "rate:1:basic")
            await bot.idle()
            ticket = await services.tickets.get(1)
            assert ticket.status == "closed" and ticket.rating == "basic"
            kinds = [e.kind for e in await services.tickets.history(1)]
            assert kinds == ["opened", "accepted", "resolved", "reopened", "resolved", "rated"]


async def test_a_worker_replying_to_their_card_keeps_a_note_and_may_tell_the_reporter(
    tmp_path: Path, clock: FakeClock
) -> None:
    """ "明天上午去修" typed as a reply to one's card is a progress note in the ticket's record
    (not a complaint of the worker's own); 告诉反映人 replies to the resident's message in the
    group with it, once, masked; nobody else may press it."""
    async with offline_emulator(privacy_mode=False) as emu:
        add_people(emu)
        async with offline_bot(
            emu, tmp_path, clock=clock, config=lifecycle_config(tmp_path)
        ) as bot:
            services = bot.state.require_services()
            await open_privates(emu, *STAFF)
            complaint = await emu.send_text(GROUP, RESIDENT, LIFT)
            card = await emu.wait_for(WORKER_LI, lambda m: "工单 #1" in m.text)
            words = "明天上午去修，已联系维保，电话13812345678"
            note = await emu.send_text(WORKER_LI, WORKER_LI, words, reply_to=card.message_id)
            saved = await emu.wait_for(WORKER_LI, lambda m: "已记入 #1" in m.text)
            assert saved.reply_to_message_id == note["message_id"]
            [[share]] = saved.buttons
            assert share.text == texts.BTN_NOTE_SHARE
            await bot.idle()
            assert not [m for m in emu.sent(WORKER_LI) if "类别" in m.text]
            assert await services.tickets.by_number(COMMUNITY, 2) is None
            before = len(emu.sent(GROUP))
            data = share.callback_data or ""
            # A forged press by another worker, on a message of their own chat: not theirs.
            own = await emu.send_text(WORKER_ZHANG, WORKER_ZHANG, "/mytickets")
            qid = await emu.press_button(
                WORKER_ZHANG, WORKER_ZHANG, own["message_id"], data, check=False
            )
            assert (await emu.wait_for_answer(qid)).show_alert
            qid = await emu.press_button(WORKER_LI, WORKER_LI, saved.message_id, data)
            await emu.wait_for_answer(qid)
            told = await emu.wait_for(GROUP, lambda m: "#1 进展" in m.text)
            assert told.reply_to_message_id == complaint["message_id"]
            assert "明天上午去修" in told.text and "13812345678" not in told.text
            # A second tap that raced the edit taking the button away: told once only.
            qid = await emu.press_button(WORKER_LI, WORKER_LI, saved.message_id, data, check=False)
            again = await emu.wait_for_answer(qid)
            assert again.text == texts.ERRORS["note_shared"].format(number=1)
            await bot.idle()
            assert len([m for m in emu.sent(GROUP)[before:] if "进展" in m.text]) == 1
            kinds = [e.kind for e in await services.tickets.history(1)]
            assert kinds.count("noted") == 1 and kinds.count("note_shared") == 1
            notes = [e for e in await services.tickets.history(1) if e.kind == "noted"]
            assert notes[0].detail["note"] == words  # the record keeps the words as written
            # A photo in reply to the card is the ticket's evidence, not a complaint either.
            await emu.send_photo(WORKER_LI, WORKER_LI, reply_to=card.message_id)
            await emu.wait_for(WORKER_LI, lambda m: m.text == texts.PHOTO_ADDED.format(number=1))
            assert [p.role for p in await services.tickets.photos(1)] == ["worker"]


async def test_returned_then_transferred_ticket_is_resolved_by_its_new_worker(
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
            await offered(emu, WORKER_LI, card.message_id, "rt:1:not_my_grid")
            await emu.press_button(WORKER_LI, WORKER_LI, card.message_id, "rt:1:not_my_grid")
            duty = await emu.wait_for(DUTY, lambda m: "工单 #1" in m.text)
            await emu.press_button(DUTY, DUTY, duty.message_id, "xfer:1")
            await offered(emu, DUTY, duty.message_id, "xw:1:zhang")
            await emu.press_button(DUTY, DUTY, duty.message_id, "xw:1:zhang")
            await emu.wait_for(DUTY, lambda m: "转派原因" in m.text)
            await emu.send_text(DUTY, DUTY, "请张伟先去看一下")
            zhang = await emu.wait_for(WORKER_ZHANG, lambda m: "工单 #1" in m.text)
            # 李娜 has no say any more: her old card's buttons are gone and forged ones refused.
            assert emu.message(WORKER_LI, card.message_id).buttons == []
            qid = await emu.press_button(
                WORKER_LI, WORKER_LI, card.message_id, "rej:1", check=False
            )
            assert (await emu.wait_for_answer(qid)).show_alert
            await emu.press_button(WORKER_ZHANG, WORKER_ZHANG, zhang.message_id, "acc:1")
            await offered(emu, WORKER_ZHANG, zhang.message_id, "res:1")
            await emu.press_button(WORKER_ZHANG, WORKER_ZHANG, zhang.message_id, "res:1")
            await emu.wait_for(WORKER_ZHANG, lambda m: m.text == texts.RESOLVE_NOTE)
            await emu.send_text(WORKER_ZHANG, WORKER_ZHANG, "已联系维保修好")
            rating = await emu.wait_for(GROUP, lambda m: "请评价" in m.text)
            await emu.press_button(GROUP, RESIDENT, rating.message_id, "rate:1:satisfied")
            await bot.idle()
            ticket = await services.tickets.get(1)
            assert ticket.status == "closed" and ticket.assignee_key == "zhang"
            kinds = [e.kind for e in await services.tickets.history(1)]
            assert kinds == ["opened", "returned", "transferred", "accepted", "resolved", "rated"]


async def test_unrated_ticket_closes_after_the_window(tmp_path: Path, clock: FakeClock) -> None:
    async with offline_emulator(privacy_mode=False) as emu:
        add_people(emu)
        async with offline_bot(
            emu, tmp_path, clock=clock, config=lifecycle_config(tmp_path)
        ) as bot:
            services = bot.state.require_services()
            await open_privates(emu, *STAFF)
            _, card, rating = await resolved_lift(emu)
            clock.advance(timedelta(hours=71))
            await services.escalation.run()
            assert (await services.tickets.get(1)).status == "resolved"
            clock.advance(timedelta(hours=2))  # past the 72-hour rating window
            await sweep_job(GridContext(bot.app))  # the job the JobQueue runs every minute
            ticket = await services.tickets.get(1)
            assert ticket.status == "closed" and ticket.rating == "unrated"
            assert "已关闭" in emu.message(WORKER_LI, card.message_id).text
            qid = await emu.press_button(GROUP, RESIDENT, rating.message_id, "rate:1:satisfied")
            answer = await emu.wait_for_answer(qid)
            assert answer.show_alert and answer.text == texts.RATING_WINDOW_OVER.format(number=1)
            assert (await services.tickets.get(1)).rating == "unrated"


async def test_reject_with_a_typed_reason_and_with_a_ready_reason(
    tmp_path: Path, clock: FakeClock
) -> None:
    async with offline_emulator(privacy_mode=False) as emu:
        add_people(emu)
        async with offline_bot(
            emu, tmp_path, clock=clock, config=lifecycle_config(tmp_path)
        ) as bot:
            services = bot.state.require_services()
            await open_privates(emu, *STAFF, RESIDENT)
            complaint = await emu.send_text(GROUP, RESIDENT, LIFT)
            card = await emu.wait_for(WORKER_LI, lambda m: "工单 #1" in m.text)
            await emu.press_button(WORKER_LI, WORKER_LI, card.message_id, "ret:1")
            await offered(emu, WORKER_LI, card.message_id, "rej:1")
            menu = emu.message(WORKER_LI, card.message_id)
            assert {"不予受理…", "与已有工单重复…"} <= set(labels(menu))
            await emu.press_button(WORKER_LI, WORKER_LI, card.message_id, "rej:1")
            pick = await emu.wait_for(WORKER_LI, lambda m: "不予受理的原因" in m.text)
            assert "不属于社区受理范围" in labels(pick)
            await emu.send_text(WORKER_LI, WORKER_LI, "电梯经检测运行正常，是小区临时停电所致")
            # A worker's 不予受理 waits for the secretary; the group hears nothing yet.
            await emu.wait_for(
                WORKER_LI, lambda m: m.text == texts.REJECT_REQUESTED.format(number=1)
            )
            ask = await emu.wait_for(SECRETARY, lambda m: "待审批" in m.text)
            assert "临时停电" in ask.text and "李娜" in ask.text
            assert not any("不予受理" in m.text for m in emu.sent(GROUP))
            assert (await services.tickets.get(1)).status == "new"
            await emu.press_button(SECRETARY, SECRETARY, ask.message_id, "rja:1")
            told = await emu.wait_for(GROUP, lambda m: "不予受理" in m.text)
            assert told.reply_to_message_id == complaint["message_id"]
            assert "临时停电" in told.text and "李娜" in told.text
            await emu.wait_for(WORKER_LI, lambda m: "已由刘书记批准" in m.text)
            card = emu.message(WORKER_LI, card.message_id)
            assert "不予受理" in card.text and card.buttons == []
            assert (await services.tickets.get(1)).status == "rejected"

            # A second complaint, refused with a ready-made reason in one press.
            second = await emu.send_text(GROUP, NEIGHBOUR, "2号楼楼道灯坏了一个月了")
            card2 = await emu.wait_for(WORKER_LI, lambda m: "工单 #2" in m.text)
            await emu.press_button(WORKER_LI, WORKER_LI, card2.message_id, "xfer:2")
            await offered(emu, WORKER_LI, card2.message_id, "rej:2")
            # Someone else's button changes nothing.
            for user in (RESIDENT, WORKER_ZHANG):
                qid = await emu.press_button(user, user, 1, "rej:2", check=False)
                assert (await emu.wait_for_answer(qid)).show_alert
            qid = await emu.press_button(
                WORKER_LI, WORKER_LI, card2.message_id, "rj:2:drop_tables", check=False
            )
            assert (await emu.wait_for_answer(qid)).text == texts.STALE_BUTTON
            assert (await services.tickets.get(2)).status == "new"

            await emu.press_button(WORKER_LI, WORKER_LI, card2.message_id, "rej:2")
            pick = await emu.wait_for(WORKER_LI, lambda m: "#2 不予受理的原因" in m.text)
            await emu.press_button(WORKER_LI, WORKER_LI, pick.message_id, "rj:2:out_of_scope")
            ask = await emu.wait_for(SECRETARY, lambda m: "#2" in m.text and "待审批" in m.text)
            await emu.press_button(SECRETARY, SECRETARY, ask.message_id, "rja:2")
            told = await emu.wait_for(GROUP, lambda m: "#2 经社区审核，不予受理" in m.text)
            assert told.reply_to_message_id == second["message_id"]
            assert "不属于社区受理范围" in told.text
            await bot.idle()
            assert (await services.tickets.get(2)).status == "rejected"
            # Pressing the reason again: the ticket is finished.
            qid = await emu.press_button(
                WORKER_LI, WORKER_LI, pick.message_id, "rj:2:no_info", check=False
            )
            assert "已经结束" in (await emu.wait_for_answer(qid)).text


async def test_worker_marks_a_duplicate_and_its_reporter_hears_of_the_original(
    tmp_path: Path, clock: FakeClock
) -> None:
    async with offline_emulator(privacy_mode=False) as emu:
        add_people(emu)
        async with offline_bot(
            emu, tmp_path, clock=clock, config=lifecycle_config(tmp_path)
        ) as bot:
            services = bot.state.require_services()
            await open_privates(emu, *STAFF, NEIGHBOUR)
            await emu.send_text(GROUP, RESIDENT, LIFT)
            card1 = await emu.wait_for(WORKER_LI, lambda m: "工单 #1" in m.text)
            # The same lift, told without a building in the first grid's group: a new ticket.
            second = await emu.send_text(GROUP_G1, NEIGHBOUR, "电梯坏了，门都打不开，快来修")
            card2 = await emu.wait_for(WORKER_LI, lambda m: "工单 #2" in m.text)
            await emu.wait_for(GROUP_G1, lambda m: "#2" in m.text)

            await emu.press_button(WORKER_LI, WORKER_LI, card2.message_id, "ret:2")
            await offered(emu, WORKER_LI, card2.message_id, "dup:2")
            await emu.press_button(WORKER_LI, WORKER_LI, card2.message_id, "dup:2")
            await emu.wait_for(WORKER_LI, lambda m: "与哪张工单重复" in m.text)
            await emu.send_text(WORKER_LI, WORKER_LI, "就是那个")
            await emu.wait_for(WORKER_LI, lambda m: m.text == texts.DUPLICATE_NUMBER_NEEDED)
            await emu.send_text(WORKER_LI, WORKER_LI, "#2")
            await emu.wait_for(WORKER_LI, lambda m: "它自己" in m.text)
            await emu.send_text(WORKER_LI, WORKER_LI, "#1")
            await emu.wait_for(
                WORKER_LI, lambda m: m.text == texts.DUPLICATE_DONE.format(number=2, of_number=1)
            )
            told = await emu.wait_for(GROUP_G1, lambda m: "合并到 #1" in m.text)
            assert told.reply_to_message_id == second["message_id"]
            assert (await services.tickets.get(2)).status == "duplicate"
            assert emu.message(WORKER_LI, card2.message_id).buttons == []
            assert "2 户反映" in emu.message(WORKER_LI, card1.message_id).text
            assert await services.tickets.is_follower(1, NEIGHBOUR)

            # When the original is resolved, the duplicate's reporter is told privately.
            await emu.press_button(WORKER_LI, WORKER_LI, card1.message_id, "acc:1")
            await offered(emu, WORKER_LI, card1.message_id, "res:1")
            await emu.press_button(WORKER_LI, WORKER_LI, card1.message_id, "res:1")
            note = await emu.wait_for(WORKER_LI, lambda m: m.text == texts.RESOLVE_NOTE)
            await emu.press_button(WORKER_LI, WORKER_LI, note.message_id, "rs:1")
            notice = await emu.wait_for(NEIGHBOUR, lambda m: "#1 已办结" in m.text)
            assert labels(notice) == ["满意", "基本满意", "不满意"]


async def test_me_too_counts_households_raises_priority_and_tells_followers(
    tmp_path: Path, clock: FakeClock
) -> None:
    async with offline_emulator(privacy_mode=False) as emu:
        add_people(emu)
        async with offline_bot(
            emu, tmp_path, clock=clock, config=lifecycle_config(tmp_path)
        ) as bot:
            services = bot.state.require_services()
            await open_privates(emu, *STAFF, NEIGHBOUR)
            await emu.send_text(GROUP, RESIDENT, LIFT)
            card = await emu.wait_for(WORKER_LI, lambda m: "工单 #1" in m.text)
            await emu.wait_for(GROUP, lambda m: "#1" in m.text)

            same = await emu.send_text(GROUP, NEIGHBOUR, "4号楼电梯坏了，今天又停了")
            similar = await emu.wait_for(GROUP, lambda m: "已有同类问题 #1" in m.text)
            assert similar.reply_to_message_id == same["message_id"]
            assert labels(similar) == ["我也遇到"]
            assert await services.tickets.by_number(COMMUNITY, 2) is None

            qid = await emu.press_button(GROUP, NEIGHBOUR, similar.message_id, "follow:1")
            assert "2 户反映" in (await emu.wait_for_answer(qid)).text
            await bot.idle()
            assert "2 户反映" in emu.message(WORKER_LI, card.message_id).text
            assert texts.CARD_PRIORITY not in emu.message(WORKER_LI, card.message_id).text
            for user in (NEIGHBOUR, RESIDENT):  # following twice, or one's own ticket
                qid = await emu.press_button(GROUP, user, similar.message_id, "follow:1")
                assert "已经关注" in (await emu.wait_for_answer(qid)).text
            assert (await services.tickets.get(1)).follower_count == 1

            qid = await emu.press_button(GROUP, THIRD_RESIDENT, similar.message_id, "follow:1")
            assert "3 户反映" in (await emu.wait_for_answer(qid)).text
            raised = await emu.wait_for(WORKER_LI, lambda m: "提高优先级" in m.text)
            assert raised.reply_to_message_id == card.message_id
            shown = emu.message(WORKER_LI, card.message_id).text
            assert "3 户反映" in shown and texts.CARD_PRIORITY in shown
            assert (await services.tickets.get(1)).priority == 1

            # Resolved: the follower who opened the bot hears privately, the other in the group.
            await emu.press_button(WORKER_LI, WORKER_LI, card.message_id, "acc:1")
            await offered(emu, WORKER_LI, card.message_id, "res:1")
            await emu.press_button(WORKER_LI, WORKER_LI, card.message_id, "res:1")
            note = await emu.wait_for(WORKER_LI, lambda m: m.text == texts.RESOLVE_NOTE)
            await emu.press_button(WORKER_LI, WORKER_LI, note.message_id, "rs:1")
            private = await emu.wait_for(NEIGHBOUR, lambda m: "您关注的问题 #1 已办结" in m.text)
            await emu.wait_for(GROUP, lambda m: "您关注的问题 #1 已办结" in m.text)
            # A follower may rate too, counted apart: even 不满意 neither reopens nor closes it.
            await emu.press_button(NEIGHBOUR, NEIGHBOUR, private.message_id, "rate:1:unsatisfied")
            await bot.idle()
            ticket = await services.tickets.get(1)
            assert ticket.status == "resolved" and ticket.rating is None
            assert await FollowerRatings(services.db).of_ticket(1) == [(NEIGHBOUR, "unsatisfied")]
            request = next(m for m in emu.sent(GROUP) if "请评价" in m.text)
            await emu.press_button(GROUP, RESIDENT, request.message_id, "rate:1:satisfied")
            await bot.idle()
            ticket = await services.tickets.get(1)
            assert ticket.status == "closed" and ticket.rating == "satisfied"


async def _known_history(bot: RunningBot, clock: FakeClock) -> None:
    """Seven tickets with a known fate (all normal urgency: accept within 4 hours).

    李娜 (g1): #1 in time, resolved, 满意 · #2 accepted late, resolved, 基本满意 ·
    #3 in time, resolved, 不满意 (reopened) · #4 in time, still in hand.
    张伟 (g2): #5 in time, resolved, closed unrated · #6 never accepted.
    """
    services = bot.state.require_services()
    tickets = services.tickets
    plan = [("li", WORKER_LI, "g1", "2")] * 4 + [("zhang", WORKER_ZHANG, "g2", "7")] * 2
    for index, (key, user, grid, building) in enumerate(plan, start=1):
        await tickets.open_ticket(
            NewTicket(
                community=COMMUNITY,
                source_key=f"history:{index}",
                text=f"{building}号楼楼道灯不亮（{index}）",
                category="facilities",
                confidence=0.9,
                keywords=("楼道灯",),
                urgency="normal",
                location={"building": building},
                building=building,
                grid=grid,
                reporter_id=RESIDENT,
                reporter_name="周大爷",
                is_private=False,
                chat_id=None,
                message_id=None,
                assignee_key=key,
                assignee_id=user,
            )
        )
    li = Actor(WORKER_LI, "李娜", worker_key="li")
    zhang = Actor(WORKER_ZHANG, "张伟", worker_key="zhang")
    clock.advance(timedelta(hours=1))  # 10:00, within the 4-hour accept time
    for number in (1, 3, 4):
        await tickets.accept(number, li)
    await tickets.accept(5, zhang)
    clock.advance(timedelta(hours=4))  # 14:00, past #2's 13:00 deadline
    await tickets.accept(2, li)
    for number, actor in ((1, li), (2, li), (3, li), (5, zhang)):
        await tickets.resolve(number, actor, note="", photo=None)
    for number, rating in ((1, "satisfied"), (2, "basic"), (3, "unsatisfied")):
        await tickets.rate(number, RESIDENT, rating)
    clock.advance(timedelta(hours=73))  # #5's rating window ends unanswered
    await services.escalation.run()
    assert (await tickets.get(5)).rating == "unrated"


async def test_stats_show_the_three_rates_of_a_known_history(
    tmp_path: Path, clock: FakeClock
) -> None:
    async with offline_emulator(privacy_mode=False) as emu:
        add_people(emu)
        async with offline_bot(
            emu, tmp_path, clock=clock, config=lifecycle_config(tmp_path)
        ) as bot:
            await open_privates(emu, *STAFF, RESIDENT)
            await _known_history(bot, clock)

            await emu.send_text(SECRETARY, SECRETARY, "/stats")
            stats = await emu.wait_for(SECRETARY, lambda m: "三率" in m.text)
            text = stats.text
            assert "2026-11-01 至 2026-11-26" in text
            assert (
                "幸福里社区：工单 6 件\n  响应率 66.7%｜解决率 50.0%｜满意率 66.7%"
                "（3 件评价，1 件未评价）"
            ) in text
            assert "李娜：工单 4 件\n  响应率 75.0%｜解决率 50.0%｜满意率 66.7%" in text
            assert (
                "张伟：工单 2 件\n  响应率 50.0%｜解决率 50.0%｜满意率 —（0 件评价，1 件未评价）"
                in text
            )
            assert "第一网格：工单 4 件" in text and "第二网格：工单 2 件" in text

            # A worker sees their own figures only.
            await emu.send_text(WORKER_LI, WORKER_LI, "/stats 本月")
            own = await emu.wait_for(WORKER_LI, lambda m: "三率" in m.text)
            assert "李娜：工单 4 件" in own.text and "张伟" not in own.text
            assert "幸福里社区" not in own.text

            # A resident may not; a bad period gets the usage; an empty month says so.
            await emu.send_text(RESIDENT, RESIDENT, "/stats")
            assert (await emu.wait_for(RESIDENT)).text == texts.STATS_NOT_STAFF
            await emu.send_text(SECRETARY, SECRETARY, "/stats 去年夏天")
            assert (await emu.wait_for(SECRETARY)).text == texts.STATS_USAGE
            await emu.send_text(SECRETARY, SECRETARY, "/stats 2026-10")
            october = await emu.wait_for(SECRETARY)
            assert "2026-10-01 至 2026-10-31" in october.text and texts.STATS_EMPTY in october.text

            # Asked in the group, the figures go privately: the group sees no names.
            await emu.send_text(GROUP, SECRETARY, "/stats")
            assert (await emu.wait_for(GROUP)).text == texts.STATS_SENT_PRIVATELY
            await emu.wait_for(SECRETARY, lambda m: "李娜：工单 4 件" in m.text)
            assert all("李娜：" not in m.text for m in emu.sent(GROUP))


def test_stats_periods() -> None:
    today = date(2026, 11, 26)  # a Thursday
    assert parse_period([], today) == (date(2026, 11, 1), today)
    assert parse_period(["上月"], today) == (date(2026, 10, 1), date(2026, 10, 31))
    assert parse_period(["week"], today) == (date(2026, 11, 23), today)
    assert parse_period(["今天"], today) == (today, today)
    assert parse_period(["7d"], today) == (date(2026, 11, 20), today)
    assert parse_period(["2026-2"], today) == (date(2026, 2, 1), date(2026, 2, 28))
    assert parse_period(["2026-11-01..2026-11-15"], today) == (
        date(2026, 11, 1),
        date(2026, 11, 15),
    )
    assert parse_period(["2026-11-01", "2026-11-15"], today) == (
        date(2026, 11, 1),
        date(2026, 11, 15),
    )
    for bad in (
        ["0d"],
        ["999d"],
        ["2026-13"],
        ["2026-11-15..2026-11-01"],
        ["明年"],
        ["2026-02-30"],
    ):
        assert parse_period(bad, today) is None
