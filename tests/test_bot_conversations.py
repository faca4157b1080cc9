"""Whole bot: residents' second messages, answers, questions and danger."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

from bot import texts
from bot.services.clock import FakeClock
from bot.services.intake import IntakeService
from tests.botkit import (
    DUTY,
    GROUP,
    NEIGHBOUR,
    RESIDENT,
    SECRETARY,
    WORKER_LI,
    WORKER_ZHANG,
    open_privates,
    populate,
)
from tests.community_kit import MONDAY_8AM, say
from tests.fastkit import offline_bot, offline_emulator
from tests.test_bot_lifecycle import add_people, lifecycle_config, resolved_lift
from tgsandbox import Emulator
from tgsandbox.model import BotMessage

STAFF = (WORKER_LI, WORKER_ZHANG, DUTY, SECRETARY)
COMMUNITY = "幸福里社区"
RANT = (
    "9号楼有人天天在楼道里飞线充电，电动车停在楼道里，物业说了好几次都不管，"
    "真的太危险了，万一着火怎么办，这楼里住着好多老人孩子"
)
FIRE = "着火了！2号楼3单元楼道冒黑烟了，快打119！"


def labels(message: BotMessage) -> list[str]:
    return [b.text for row in message.buttons for b in row]


def cards(emu: Emulator, worker: int) -> list[BotMessage]:
    return [m for m in emu.sent(worker) if m.text.startswith(("🆕", "🛠")) and "工单 #" in m.text]


async def test_a_fire_after_a_rant_about_another_building_is_its_own_ticket(
    tmp_path: Path, clock: FakeClock
) -> None:
    async with offline_emulator(privacy_mode=False) as emu:
        populate(emu)
        async with offline_bot(emu, tmp_path, clock=clock) as bot:
            await open_privates(emu, *STAFF)
            await emu.send_text(GROUP, RESIDENT, RANT)
            await emu.wait_for(WORKER_ZHANG, lambda m: "工单 #1" in m.text)
            await emu.wait_for(GROUP, lambda m: "#1" in m.text)
            clock.advance(timedelta(seconds=20))
            fire = await emu.send_text(GROUP, RESIDENT, FIRE)
            card = await emu.wait_for(WORKER_LI, lambda m: "工单 #2" in m.text)
            assert "2号楼" in card.text and "紧急" in card.text
            ack = await emu.wait_for(GROUP, lambda m: "#2" in m.text)
            assert ack.reply_to_message_id == fire["message_id"]
            assert ack.text.startswith(texts.CALL_FIRST["119"] + "\n")
            tickets = bot.state.require_services().tickets
            second = await tickets.by_number(COMMUNITY, 2)
            assert second is not None and second.building == "2"
            assert [e.kind for e in await tickets.history(1)] == ["opened"]


async def test_the_same_fault_in_another_building_reaches_that_buildings_worker(
    tmp_path: Path, clock: FakeClock
) -> None:
    async with offline_emulator(privacy_mode=False) as emu:
        populate(emu)
        async with offline_bot(emu, tmp_path, clock=clock):
            await open_privates(emu, *STAFF)
            await emu.send_text(GROUP, RESIDENT, "2号楼电梯坏了")
            await emu.wait_for(WORKER_LI, lambda m: "工单 #1" in m.text)
            clock.advance(timedelta(seconds=10))
            await emu.send_text(GROUP, RESIDENT, "7号楼的电梯也坏了")
            card = await emu.wait_for(WORKER_ZHANG, lambda m: "工单 #2" in m.text)
            assert "7号楼" in card.text
            ack = await emu.wait_for(GROUP, lambda m: "#2" in m.text)
            assert "张伟" in ack.text


async def test_a_repeat_is_folded_in_recorded_and_told_to_the_worker(
    tmp_path: Path, clock: FakeClock
) -> None:
    async with offline_emulator(privacy_mode=False) as emu:
        populate(emu)
        async with offline_bot(emu, tmp_path, clock=clock) as bot:
            await open_privates(emu, *STAFF)
            await emu.send_text(GROUP, RESIDENT, "4号楼电梯坏了")
            card = await emu.wait_for(WORKER_LI, lambda m: "工单 #1" in m.text)
            await emu.wait_for(GROUP, lambda m: "#1" in m.text)
            clock.advance(timedelta(seconds=15))
            await emu.send_text(GROUP, RESIDENT, "4号楼电梯门关不上，联系我13912345678")
            told = await emu.wait_for(WORKER_LI, lambda m: "反映人补充" in m.text)
            assert told.reply_to_message_id == card.message_id
            assert "电梯门关不上" in told.text and "13912345678" not in told.text
            await bot.idle()
            tickets = bot.state.require_services().tickets
            assert await tickets.by_number(COMMUNITY, 2) is None
            added = [e for e in await tickets.history(1) if e.kind == "added_words"]
            assert len(added) == 1 and "电梯门关不上" in added[0].detail["note"]
            assert len(cards(emu, WORKER_LI)) == 1


async def test_a_typed_building_or_place_answers_the_question_without_a_reply(
    tmp_path: Path,
) -> None:
    async with offline_emulator(privacy_mode=False) as emu:
        populate(emu)
        async with offline_bot(emu, tmp_path) as bot:
            await open_privates(emu, *STAFF)
            question = await say(emu, GROUP, RESIDENT, "楼道灯坏了好几天了，晚上太黑")
            assert "哪栋楼" in question.text
            offered = labels(question)
            assert "7号楼" in offered and "东门" in offered and "地库" in offered
            assert offered[-1] == texts.LOCATION_UNKNOWN_BUTTON
            # A neighbour's "7号楼" is not the reporter's answer.
            await emu.send_text(GROUP, NEIGHBOUR, "7号楼")
            await bot.idle()
            assert cards(emu, WORKER_ZHANG) == []
            await emu.send_text(GROUP, RESIDENT, "7号楼")  # typed, not a Telegram reply
            card = await emu.wait_for(WORKER_ZHANG, lambda m: "工单 #1" in m.text)
            assert "7号楼" in card.text
            assert emu.message(GROUP, question.message_id).text == "7号楼"

            await emu.wait_for(GROUP, lambda m: "#1" in m.text)
            question = await say(emu, GROUP, NEIGHBOUR, "路灯坏了好几天了，晚上太黑")
            assert "哪栋楼" in question.text
            await emu.send_text(GROUP, NEIGHBOUR, "东门那边")
            card = await emu.wait_for(WORKER_LI, lambda m: "工单 #2" in m.text)
            assert "东门" in card.text


async def test_not_sure_where_goes_to_the_duty_worker(tmp_path: Path) -> None:
    async with offline_emulator(privacy_mode=False) as emu:
        populate(emu)
        async with offline_bot(emu, tmp_path) as bot:
            await open_privates(emu, *STAFF)
            question = await say(emu, GROUP, RESIDENT, "楼道灯坏了好几天了，晚上太黑")
            unknown = question.button(texts.LOCATION_UNKNOWN_BUTTON)
            await emu.press_button(GROUP, RESIDENT, question.message_id, unknown.callback_data)
            card = await emu.wait_for(DUTY, lambda m: "工单 #1" in m.text)
            assert texts.PLACE_UNKNOWN in card.text
            ticket = await bot.state.require_services().tickets.get(1)
            assert ticket.assignee_key == "duty" and ticket.building is None


async def test_asking_about_ones_own_ticket_hears_how_it_stands(
    tmp_path: Path, clock: FakeClock
) -> None:
    async with offline_emulator(privacy_mode=False) as emu:
        populate(emu)
        async with offline_bot(emu, tmp_path, clock=clock) as bot:
            await open_privates(emu, *STAFF)
            await emu.send_text(GROUP, RESIDENT, "2号楼电梯坏了")
            card = await emu.wait_for(WORKER_LI, lambda m: "工单 #1" in m.text)
            await emu.press_button(WORKER_LI, WORKER_LI, card.message_id, "acc:1")
            await emu.wait_for(GROUP, lambda m: "已接单" in m.text)
            clock.advance(timedelta(hours=3))
            asked = await emu.send_text(GROUP, RESIDENT, "2号楼电梯什么时候能修好啊？")
            status = await emu.wait_for(
                GROUP, lambda m: m.reply_to_message_id == asked["message_id"]
            )
            assert "#1" in status.text and "李娜" in status.text and "处理中" in status.text
            assert "前办结" in status.text
            await bot.idle()
            tickets = bot.state.require_services().tickets
            assert await tickets.by_number(COMMUNITY, 2) is None


async def test_report_with_an_unclear_category_offers_every_category_and_keeps_the_place(
    tmp_path: Path,
) -> None:
    async with offline_emulator() as emu:
        populate(emu)
        async with offline_bot(emu, tmp_path) as bot:
            await open_privates(emu, *STAFF)
            question = await say(emu, GROUP, RESIDENT, "/report 8号楼那边有点情况")
            offered = labels(question)
            services = bot.state.require_services()
            assert services.category_name("facilities") in offered
            assert services.category_name("fire_safety") in offered
            assert "facilities" not in " ".join(offered)
            choice = question.button(services.category_name("facilities"))
            await emu.press_button(GROUP, RESIDENT, question.message_id, choice.callback_data)
            card = await emu.wait_for(WORKER_ZHANG, lambda m: "工单 #1" in m.text)
            assert "8号楼" in card.text and texts.PLACE_UNKNOWN not in card.text


async def test_unsatisfied_asks_why_and_tells_the_worker_and_the_secretary(
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
            asked = await emu.wait_for(GROUP, lambda m: "哪里不满意" in m.text)
            assert "周大爷" in asked.text
            await emu.send_text(GROUP, RESIDENT, "电梯还是一顿一顿的，根本没修好")  # typed
            thanks = await emu.wait_for(GROUP, lambda m: "已转告" in m.text)
            assert "根本没修好" in thanks.text
            told = await emu.wait_for(WORKER_LI, lambda m: "不满意的原因" in m.text)
            assert "根本没修好" in told.text and told.reply_to_message_id == card.message_id
            office = await emu.wait_for(SECRETARY, lambda m: "不满意的原因" in m.text)
            assert "#1" in office.text and "根本没修好" in office.text
            await bot.idle()
            assert await services.tickets.by_number(COMMUNITY, 2) is None
            history = await services.tickets.history(1)
            reasons = [e for e in history if e.kind == "unsatisfied_reason"]
            assert len(reasons) == 1 and "根本没修好" in reasons[0].detail["reason"]
            assert (await services.tickets.get(1)).status == "reopened"
            # The question is answered: the next complaint is a complaint again.
            clock.advance(timedelta(minutes=5))
            await emu.send_text(GROUP, RESIDENT, "6号楼楼下垃圾堆了三天没人清")
            await emu.wait_for(WORKER_ZHANG, lambda m: "工单 #2" in m.text)


async def test_a_typed_answer_to_the_rating_question_is_taken_as_it_is_meant(
    tmp_path: Path, clock: FakeClock
) -> None:
    """Residents answer "请评价" by replying in words as often as with a button: "修好了，谢谢"
    is shown the buttons; "根本没修好" is 不满意 with its reason (reopened, the worker and the
    secretary told), never a new complaint asked "哪栋楼"; a neighbour's reply is their own."""
    async with offline_emulator(privacy_mode=False) as emu:
        add_people(emu)
        async with offline_bot(
            emu, tmp_path, clock=clock, config=lifecycle_config(tmp_path)
        ) as bot:
            services = bot.state.require_services()
            await open_privates(emu, *STAFF)
            _, card, rating = await resolved_lift(emu)
            thanks = await emu.send_text(
                GROUP, RESIDENT, "好了好了，谢谢", reply_to=rating.message_id
            )
            buttons = await emu.wait_for(GROUP, lambda m: "按钮评价" in m.text)
            assert buttons.reply_to_message_id == thanks["message_id"] and "#1" in buttons.text
            assert (await services.tickets.get(1)).status == "resolved"

            clock.advance(timedelta(minutes=3))
            await emu.send_text(GROUP, NEIGHBOUR, "我家这边也没修好", reply_to=rating.message_id)
            clock.advance(timedelta(minutes=3))
            words = "根本没修好，电梯还是一顿一顿的"
            await emu.send_text(GROUP, RESIDENT, words, reply_to=rating.message_id)
            passed = await emu.wait_for(GROUP, lambda m: "已转告" in m.text)
            assert words in passed.text
            assert texts.RATED_REOPENED_MESSAGE.format(number=1, worker="李娜") == (
                emu.message(GROUP, rating.message_id).text
            )
            told = await emu.wait_for(WORKER_LI, lambda m: "不满意的原因" in m.text)
            assert words in told.text and told.reply_to_message_id == card.message_id
            office = await emu.wait_for(SECRETARY, lambda m: "不满意的原因" in m.text)
            assert "#1" in office.text and words in office.text
            await bot.idle()
            ticket = await services.tickets.get(1)
            assert (ticket.status, ticket.rating) == ("reopened", "unsatisfied")
            kinds = [e.kind for e in await services.tickets.history(1)]
            assert kinds.count("reopened") == 1 and kinds.count("unsatisfied_reason") == 1
            assert not [m for m in emu.sent(GROUP) if "哪栋楼" in m.text]
            # The neighbour's words were not the reporter's rating.
            reasons = [
                e for e in await services.tickets.history(1) if e.kind == "unsatisfied_reason"
            ]
            assert reasons[0].actor_id == RESIDENT


async def test_nobody_has_come_is_a_question_about_the_complaint_not_a_new_one(
    tmp_path: Path, clock: FakeClock
) -> None:
    """ "还没人来啊" in the group, and "#1 怎么样了" in private, are answered with how the
    reporter's complaint stands (late and escalated: the office is on it); no ticket is
    opened about nobody coming, and the group hears nothing else."""
    async with offline_emulator(privacy_mode=False) as emu:
        populate(emu)
        async with offline_bot(emu, tmp_path, clock=clock) as bot:
            services = bot.state.require_services()
            await open_privates(emu, *STAFF, RESIDENT)
            await emu.send_text(GROUP, RESIDENT, "3号楼电梯坏了，一直停在2楼")
            await emu.wait_for(WORKER_LI, lambda m: "工单 #1" in m.text)
            clock.advance(timedelta(hours=5))  # past the accept deadline: the office is told
            await services.escalation.run()
            await bot.idle()
            nudge = await emu.send_text(GROUP, RESIDENT, "还没人来啊")
            status = await emu.wait_for(GROUP, lambda m: "现在待接单" in m.text)
            assert status.reply_to_message_id == nudge["message_id"]
            assert "#1" in status.text and texts.OWN_TICKET_ESCALATED in status.text
            await emu.send_text(RESIDENT, RESIDENT, "#1 怎么样了")
            private = await emu.wait_for(RESIDENT, lambda m: "现在待接单" in m.text)
            assert "#1" in private.text
            await bot.idle()
            assert await services.tickets.by_number(COMMUNITY, 2) is None


async def test_replies_to_an_acknowledgement_add_to_it_or_offer_me_too(
    tmp_path: Path, clock: FakeClock
) -> None:
    """Under "登记为 #1": the reporter's "是2单元3楼那里" reaches the worker as theirs (before,
    it was dropped without a word); a neighbour's "我们单元也是" is offered 我也遇到; the
    reporter's "另外…" is a complaint of its own, and "还没人来啊" a question about #1."""
    async with offline_emulator(privacy_mode=False) as emu:
        populate(emu)
        async with offline_bot(emu, tmp_path, clock=clock) as bot:
            services = bot.state.require_services()
            await open_privates(emu, *STAFF, RESIDENT)
            await emu.send_text(GROUP, RESIDENT, "5号楼楼道灯坏了好几天了")
            ack = await emu.wait_for(GROUP, lambda m: "登记为 #1" in m.text)
            card = await emu.wait_for(WORKER_LI, lambda m: "工单 #1" in m.text)
            detail = await emu.send_text(
                GROUP, RESIDENT, "是2单元3楼那里", reply_to=ack.message_id
            )
            added = await emu.wait_for(GROUP, lambda m: "已补充到 #1" in m.text)
            assert added.reply_to_message_id == detail["message_id"]
            told = await emu.wait_for(WORKER_LI, lambda m: "反映人补充" in m.text)
            assert "2单元3楼" in told.text and told.reply_to_message_id == card.message_id
            clock.advance(timedelta(minutes=2))
            await emu.send_text(GROUP, NEIGHBOUR, "我们单元也是", reply_to=ack.message_id)
            offer = await emu.wait_for(GROUP, lambda m: "我也遇到" in m.text)
            assert labels(offer) == [texts.FOLLOW_BUTTON] and "#1" in offer.text
            clock.advance(timedelta(minutes=2))
            await emu.send_text(GROUP, RESIDENT, "还没人来啊", reply_to=ack.message_id)
            await emu.wait_for(GROUP, lambda m: "现在待接单" in m.text)
            clock.advance(timedelta(minutes=2))
            other = "另外6号楼门口的垃圾也没人清"
            await emu.send_text(GROUP, RESIDENT, other, reply_to=ack.message_id)
            await emu.wait_for(GROUP, lambda m: "登记为 #2" in m.text)
            await bot.idle()
            history = await services.tickets.history(1)
            assert [e.detail["note"] for e in history if e.kind == "added_words"] == [
                "是2单元3楼那里"
            ]


async def test_text_while_a_proof_photo_is_awaited_is_answered_not_filed(tmp_path: Path) -> None:
    clock = FakeClock(MONDAY_8AM)
    async with offline_emulator() as emu:
        populate(emu)
        async with offline_bot(emu, tmp_path, clock=clock) as bot:
            await open_privates(emu, WORKER_LI, RESIDENT)
            await say(emu, RESIDENT, RESIDENT, "/register 3 2 301")
            post = await say(emu, GROUP, WORKER_LI, "/task new 擦洗单元门 | 5")
            query = await emu.press_button(GROUP, RESIDENT, post.message_id, "claim:1")
            await emu.wait_for_answer(query)
            await emu.wait_for(RESIDENT, lambda m: "您已接下任务 #1" in m.text)
            await say(emu, RESIDENT, RESIDENT, "/done 1")
            waiting = await say(emu, RESIDENT, RESIDENT, "3号楼单元门已经擦干净了")
            assert waiting.text == texts.PROOF_WAITING.format(task_id=1)
            assert await bot.state.require_services().tickets.by_number(COMMUNITY, 1) is None
            cancelled = await say(emu, RESIDENT, RESIDENT, "取消")
            assert cancelled.text == texts.DIALOGUE_CANCELLED


async def test_mygrid_names_the_residents_grid_worker(tmp_path: Path) -> None:
    async with offline_emulator() as emu:
        populate(emu)
        async with offline_bot(emu, tmp_path):
            await open_privates(emu, RESIDENT)
            start = emu.sent(RESIDENT)[0]
            assert "/mygrid" in start.text
            assert (await say(emu, RESIDENT, RESIDENT, "/mygrid")).text == texts.MYGRID_ASK
            typed = await say(emu, RESIDENT, RESIDENT, "/mygrid 7号楼")
            assert "第二网格" in typed.text and "张伟" in typed.text
            wrong = await say(emu, RESIDENT, RESIDENT, "/mygrid 99号楼")
            assert wrong.text == texts.MYGRID_UNKNOWN_BUILDING.format(text="99号楼")
            await say(emu, RESIDENT, RESIDENT, "/register 3 2 301")
            mine = await say(emu, RESIDENT, RESIDENT, "/mygrid")
            assert "3号楼" in mine.text and "第一网格" in mine.text and "李娜" in mine.text
            # In the group, where one lives is told privately.
            said = await say(emu, GROUP, RESIDENT, "/mygrid")
            assert said.text == texts.MYGRID_SENT
            private = await emu.wait_for(RESIDENT, lambda m: "李娜" in m.text)
            assert "3号楼" in private.text


async def test_a_private_danger_is_told_to_call_119_first(tmp_path: Path) -> None:
    async with offline_emulator() as emu:
        populate(emu)
        async with offline_bot(emu, tmp_path):
            await open_privates(emu, *STAFF, RESIDENT)
            await emu.send_text(RESIDENT, RESIDENT, FIRE)
            ack = await emu.wait_for(RESIDENT, lambda m: "#1" in m.text)
            assert ack.text.startswith(texts.CALL_FIRST["119"] + "\n")
            # A calm complaint gets no such line.
            await emu.send_text(RESIDENT, RESIDENT, "6号楼楼下每天晚上广场舞太吵了，能不能管管")
            calm = await emu.wait_for(RESIDENT, lambda m: "#2" in m.text)
            assert "119" not in calm.text


async def test_another_thing_a_moment_later_is_its_own_ticket_and_a_repeat_is_not(
    tmp_path: Path, clock: FakeClock
) -> None:
    """ "楼道灯坏了" a few seconds after "4号楼电梯坏了" is a second problem, not a repeat of the
    first folded into it and lost; "电梯还是不动" is the same one said again."""
    async with offline_emulator(privacy_mode=False) as emu:
        populate(emu)
        async with offline_bot(emu, tmp_path, clock=clock) as bot:
            await open_privates(emu, *STAFF, RESIDENT)
            await emu.send_text(RESIDENT, RESIDENT, "4号楼电梯坏了")
            await emu.wait_for(RESIDENT, lambda m: "#1" in m.text)
            clock.advance(timedelta(seconds=10))
            await emu.send_text(RESIDENT, RESIDENT, "4号楼楼道灯也坏了")
            await emu.wait_for(RESIDENT, lambda m: "登记为 #2" in m.text)
            clock.advance(timedelta(seconds=10))
            await emu.send_text(RESIDENT, RESIDENT, "电梯还是不动")
            merged = await emu.wait_for(RESIDENT, lambda m: "已并入" in m.text)
            assert merged.text == texts.MERGED_PRIVATE.format(number=1)
            await bot.idle()
            tickets = bot.state.require_services().tickets
            second = await tickets.by_number(COMMUNITY, 2)
            assert second is not None and "楼道灯" in second.text
            assert await tickets.by_number(COMMUNITY, 3) is None


async def test_a_registered_residents_report_about_home_is_at_their_building(
    tmp_path: Path, clock: FakeClock
) -> None:
    """ "楼上天天半夜拖椅子" names no building but the reporter's home: the one they registered,
    without a question; someone who never registered is asked which building."""
    async with offline_emulator(privacy_mode=False) as emu:
        populate(emu)
        async with offline_bot(emu, tmp_path, clock=clock) as bot:
            await open_privates(emu, *STAFF, RESIDENT, NEIGHBOUR)
            await say(emu, RESIDENT, RESIDENT, "/register 3 2 301")
            told = await say(emu, RESIDENT, RESIDENT, "楼上天天半夜拖椅子，吵得睡不着")
            assert "登记为 #1" in told.text
            ticket = await bot.state.require_services().tickets.by_number(COMMUNITY, 1)
            assert ticket is not None and ticket.building == "3"
            asked = await say(emu, NEIGHBOUR, NEIGHBOUR, "楼上天天半夜拖椅子，吵得睡不着")
            assert "哪栋楼" in asked.text and asked.buttons


async def test_what_a_resident_says_privately_besides_problems_gets_a_fitting_answer(
    tmp_path: Path, clock: FakeClock
) -> None:
    async with offline_emulator(privacy_mode=False) as emu:
        populate(emu)
        async with offline_bot(emu, tmp_path, clock=clock):
            await open_privates(emu, *STAFF, RESIDENT)
            await emu.send_text(GROUP, RESIDENT, "4号楼电梯坏了")
            await emu.wait_for(GROUP, lambda m: "#1" in m.text)
            for words, answer in (
                ("你好", texts.HINT_GREETING),
                ("谢谢你们", texts.HINT_THANKS),
                ("我要投诉", texts.HINT_REPORT),
                ("物业电话是多少", texts.HINT_CONTACT),
                ("怎么登记住址", texts.HINT_ADDRESS),
            ):
                assert (await say(emu, RESIDENT, RESIDENT, words)).text == answer, words
            # Their complaint made in the group, asked after privately: how it stands.
            status = await say(emu, RESIDENT, RESIDENT, "我上次反映的问题怎么样了")
            assert "#1" in status.text and "待接单" in status.text
            # Staff asking the bot a question get their own tools, not a kind of problem.
            staff = await say(emu, WORKER_LI, WORKER_LI, "电梯维保公司电话多少")
            assert staff.text == texts.STAFF_NOT_UNDERSTOOD and not staff.buttons


async def test_a_neighbours_other_problem_in_the_same_building_is_not_offered_as_the_same(
    tmp_path: Path, clock: FakeClock
) -> None:
    """Someone trapped in 4号楼's lift is not told that 4号楼's corridor light (one category,
    one building) is being handled: their report opens its own ticket. The same lift reported
    by a second neighbour is offered 我也遇到."""
    async with offline_emulator(privacy_mode=False) as emu:
        populate(emu)
        async with offline_bot(emu, tmp_path, clock=clock) as bot:
            await open_privates(emu, *STAFF)
            await emu.send_text(GROUP, RESIDENT, "4号楼楼道灯坏了")
            await emu.wait_for(GROUP, lambda m: "登记为 #1" in m.text)
            clock.advance(timedelta(minutes=5))
            await emu.send_text(GROUP, NEIGHBOUR, "4号楼电梯坏了，关人了！")
            ack = await emu.wait_for(GROUP, lambda m: "#2" in m.text)
            assert "登记为 #2" in ack.text and "紧急" in ack.text
            clock.advance(timedelta(minutes=5))
            await emu.send_text(GROUP, SECRETARY, "4号楼电梯也不动了")
            offer = await emu.wait_for(GROUP, lambda m: "我也遇到" in str(m.buttons))
            assert "#2" in offer.text
            await bot.idle()
            assert await bot.state.require_services().tickets.by_number(COMMUNITY, 3) is None


async def test_thanks_under_the_acknowledgement_is_not_passed_on_and_its_over_is(
    tmp_path: Path, clock: FakeClock
) -> None:
    """Under their "登记为 #N": the reporter's 谢谢 reaches nobody; "不用了，已经好了" is offered
    a withdrawal in one press while that is allowed, and later tells the worker to close it."""
    async with offline_emulator(privacy_mode=False) as emu:
        populate(emu)
        async with offline_bot(emu, tmp_path, clock=clock) as bot:
            await open_privates(emu, *STAFF, RESIDENT)
            await emu.send_text(GROUP, RESIDENT, "4号楼电梯坏了")
            ack = await emu.wait_for(GROUP, lambda m: "登记为 #1" in m.text)
            await emu.send_text(GROUP, RESIDENT, "好的，谢谢，辛苦了！", reply_to=ack.message_id)
            await bot.idle()
            assert len(emu.sent(GROUP)) == 1
            assert not [m for m in emu.sent(WORKER_LI) if "补充" in m.text]

            await emu.send_text(GROUP, RESIDENT, "不用了，已经好了", reply_to=ack.message_id)
            offer = await emu.wait_for(GROUP, lambda m: "撤回 #1" in m.text)
            assert offer.text == texts.GONE_UNDO_OFFER.format(number=1)
            await emu.press_button(GROUP, RESIDENT, offer.message_id, "undo:1")
            await emu.wait_for(
                WORKER_LI, lambda m: m.text == texts.UNDONE_TO_WORKER.format(number=1)
            )
            services = bot.state.require_services()
            assert (await services.tickets.get(1)).status == "withdrawn"

            await emu.send_text(GROUP, RESIDENT, "7号楼电梯坏了")
            later = await emu.wait_for(GROUP, lambda m: "登记为 #2" in m.text)
            clock.advance(timedelta(hours=1))  # past the time a withdrawal is one press
            await emu.send_text(GROUP, RESIDENT, "没事了，刚才自己好了", reply_to=later.message_id)
            told = await emu.wait_for(GROUP, lambda m: m.text == texts.GONE_TOLD.format(number=2))
            assert told.buttons == []
            note = await emu.wait_for(WORKER_ZHANG, lambda m: "已经没有了" in m.text)
            assert "刚才自己好了" in note.text
            assert (await services.tickets.get(2)).status == "new"  # the worker closes it


async def test_a_rating_typed_as_the_word_itself_is_taken_as_pressed(
    tmp_path: Path, clock: FakeClock
) -> None:
    """ "满意！" (or 很满意, 基本满意, 还行) replying to "请评价" is that rating; a longer answer
    still gets the buttons."""
    async with offline_emulator(privacy_mode=False) as emu:
        add_people(emu)
        async with offline_bot(
            emu, tmp_path, clock=clock, config=lifecycle_config(tmp_path)
        ) as bot:
            services = bot.state.require_services()
            await open_privates(emu, *STAFF)
            _, _, rating = await resolved_lift(emu)
            await emu.send_text(GROUP, RESIDENT, "满意，谢谢！", reply_to=rating.message_id)
            thanks = await emu.wait_for(GROUP, lambda m: "谢谢您的评价" in m.text)
            assert thanks.text == texts.RATING_THANKS.format(
                rating=texts.RATING_LABELS["satisfied"]
            )
            assert emu.message(GROUP, rating.message_id).text.startswith("#1 已评价")
            ticket = await services.tickets.get(1)
            assert (ticket.status, ticket.rating) == ("closed", "satisfied")


def test_only_the_rating_word_itself_is_a_typed_rating() -> None:
    read = IntakeService.typed_rating
    assert read("满意") == read("非常满意！") == read("很满意的，辛苦了") == "satisfied"
    assert read("基本满意") == read("还行吧") == read("一般") == "basic"
    for other in ("不满意", "满意是满意，就是还有点响", "修好了，谢谢", "还行，但是门还是关不严"):
        assert read(other) is None, other
