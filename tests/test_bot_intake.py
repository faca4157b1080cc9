"""Whole bot: a resident's complaint reaches the right grid worker, who acts on it."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
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
    running_bot,
)
from tests.fastkit import offline_bot, offline_emulator
from tgsandbox import Emulator

pytestmark = pytest.mark.both_stores

LIFT = "4号楼电梯又坏了，关人了！快来人"
STAFF = (WORKER_LI, WORKER_ZHANG, DUTY, SECRETARY)


async def test_complaint_to_card_accept_resolve(tmp_path: Path, clock: FakeClock) -> None:
    async with offline_emulator(privacy_mode=False) as emu:
        populate(emu)
        async with offline_bot(emu, tmp_path, clock=clock) as bot:
            await open_privates(emu, *STAFF)
            complaint = await emu.send_text(GROUP, RESIDENT, LIFT)
            card = await emu.wait_for(WORKER_LI)
            assert "工单 #1" in card.text and "公共设施" in card.text and "紧急" in card.text
            assert "4号楼" in card.text and "周大爷" in card.text
            assert [b.text for row in card.buttons for b in row] == ["接单", "转派", "不属于我"]

            ack = await emu.wait_for(GROUP)
            assert ack.reply_to_message_id == complaint["message_id"]
            assert "#1" in ack.text and "公共设施" in ack.text and "李娜" in ack.text
            assert "前响应" in ack.text

            await emu.press_button(WORKER_LI, WORKER_LI, card.message_id, "acc:1")
            accepted = await emu.wait_for(GROUP)
            assert accepted.text == texts.ACCEPTED_GROUP.format(number=1, worker="李娜")
            card = emu.message(WORKER_LI, card.message_id)
            assert [b.text for row in card.buttons for b in row] == ["办结", "转派"]

            await emu.press_button(WORKER_LI, WORKER_LI, card.message_id, "res:1")
            await emu.wait_for(WORKER_LI, lambda m: m.text == texts.RESOLVE_NOTE)
            await emu.send_text(WORKER_LI, WORKER_LI, "电梯已修好，维保公司到场处理")
            rating = await emu.wait_for(GROUP, lambda m: "评价" in m.text)
            assert rating.reply_to_message_id == complaint["message_id"]
            assert [b.text for row in rating.buttons for b in row] == [
                "满意",
                "基本满意",
                "不满意",
            ]
            ticket = await bot.state.require_services().tickets.get(1)
            assert ticket.status == "resolved"
            kinds = [e.kind for e in await bot.state.require_services().tickets.history(1)]
            assert kinds == ["opened", "accepted", "resolved"]


async def test_chit_chat_and_notices_get_no_answer(tmp_path: Path) -> None:
    async with offline_emulator(privacy_mode=False) as emu:
        populate(emu)
        async with offline_bot(emu, tmp_path) as bot:
            await open_privates(emu, *STAFF)
            for text in ("大家早上好", "谢谢王师傅把路灯修好了", "通知：明天上午停水检修", "收到"):
                await emu.send_text(GROUP, RESIDENT, text)
            await bot.idle()
            assert emu.sent(GROUP) == []
            assert await bot.state.require_services().tickets.by_number("幸福里社区", 1) is None


async def test_private_complaint_is_not_told_to_the_group(tmp_path: Path) -> None:
    async with offline_emulator(privacy_mode=False) as emu:
        populate(emu)
        async with offline_bot(emu, tmp_path) as bot:
            await open_privates(emu, *STAFF, RESIDENT)
            await emu.send_text(RESIDENT, RESIDENT, "6号楼楼下每天晚上广场舞太吵了，能不能管管")
            ack = await emu.wait_for(RESIDENT)
            assert "#1" in ack.text and "群里不会显示" in ack.text
            card = await emu.wait_for(WORKER_ZHANG)
            assert "私下反映" in card.text
            await bot.idle()
            assert emu.sent(GROUP) == []

            # The reporter may choose to let the group see it — never their name.
            publish = ack.button(texts.PUBLISH_BUTTON)
            await emu.press_button(RESIDENT, RESIDENT, ack.message_id, publish.callback_data)
            shown = await emu.wait_for(GROUP)
            assert "#1" in shown.text and "广场舞" in shown.text and "张伟" in shown.text
            assert "周大爷" not in shown.text
            qid = await emu.press_button(RESIDENT, RESIDENT, ack.message_id, publish.callback_data)
            assert "已经公示" in (await emu.wait_for_answer(qid)).text
            assert len(emu.sent(GROUP)) == 1


async def test_photo_with_caption_is_a_complaint_with_evidence(tmp_path: Path) -> None:
    async with offline_emulator(privacy_mode=False) as emu:
        populate(emu)
        async with offline_bot(emu, tmp_path) as bot:
            await open_privates(emu, *STAFF)
            await emu.send_photo(GROUP, RESIDENT, caption="7号楼楼道里有人飞线充电，太危险了")
            card = await emu.wait_for(WORKER_ZHANG)
            assert "照片 1 张" in card.text
            photo = await emu.wait_for(WORKER_ZHANG, lambda m: m.photo is not None)
            assert photo.reply_to_message_id == card.message_id
            photos = await bot.state.require_services().tickets.photos(1)
            assert len(photos) == 1


async def test_unreachable_worker_falls_back_to_duty_and_admin_is_told(tmp_path: Path) -> None:
    async with Emulator(privacy_mode=False) as emu:
        populate(emu)
        async with running_bot(emu, tmp_path) as bot:
            await open_privates(emu, DUTY, SECRETARY)  # 李娜 never opened the bot: 403
            await emu.send_text(GROUP, RESIDENT, LIFT)
            card = await emu.wait_for(DUTY)
            assert "工单 #1" in card.text
            warning = await emu.wait_for(SECRETARY)
            assert "李娜" in warning.text and "赵强" in warning.text
            ack = await emu.wait_for(GROUP)
            assert "赵强" in ack.text and "李娜" not in ack.text
            ticket = await bot.state.require_services().tickets.get(1)
            assert ticket.assignee_key == "duty"


async def test_low_confidence_asks_the_reporter_only(tmp_path: Path) -> None:
    async with offline_emulator() as emu:
        populate(emu)
        async with offline_bot(emu, tmp_path, expect_errors=True) as bot:
            await open_privates(emu, *STAFF)
            services = bot.state.require_services()
            await emu.send_text(GROUP, RESIDENT, "/report 3号楼那边有点问题")
            question = await emu.wait_for(GROUP)
            labels = [b.text for row in question.buttons for b in row]
            assert "不是投诉" in labels and "其他问题" in labels
            other = question.button("其他问题")
            qid = await emu.press_button(
                GROUP, NEIGHBOUR, question.message_id, other.callback_data
            )
            answer = await emu.wait_for_answer(qid)
            assert answer.text == texts.NOT_YOUR_BUTTON and answer.show_alert
            assert await services.tickets.by_number("幸福里社区", 1) is None

            await emu.press_button(GROUP, RESIDENT, question.message_id, other.callback_data)
            card = await emu.wait_for(DUTY)  # 其他诉求 go to the duty worker
            assert "工单 #1" in card.text and "其他诉求" in card.text


async def test_reporter_can_say_it_was_not_a_complaint(tmp_path: Path) -> None:
    async with offline_emulator() as emu:
        populate(emu)
        async with offline_bot(emu, tmp_path) as bot:
            await emu.send_text(GROUP, RESIDENT, "/report 那个事")
            question = await emu.wait_for(GROUP)
            no = question.button("不是投诉")
            await emu.press_button(GROUP, RESIDENT, question.message_id, no.callback_data)
            await bot.idle()
            assert emu.message(GROUP, question.message_id).text == texts.CONFIRM_DISMISSED
            assert await bot.state.require_services().tickets.by_number("幸福里社区", 1) is None


async def test_burst_of_messages_opens_one_ticket(tmp_path: Path) -> None:
    async with offline_emulator(privacy_mode=False) as emu:
        populate(emu)
        async with offline_bot(emu, tmp_path) as bot:
            await open_privates(emu, *STAFF)
            for text in (
                "4号楼电梯坏了",
                "4号楼电梯又停了快来修",
                "电梯坏了没人管吗 4号楼",
                "4号楼电梯门关不上",
                "4号楼电梯!!!",
            ):
                await emu.send_text(GROUP, RESIDENT, text)
            await bot.idle()
            tickets = bot.state.require_services().tickets
            assert await tickets.by_number("幸福里社区", 1) is not None
            assert await tickets.by_number("幸福里社区", 2) is None
            assert len([m for m in emu.sent(WORKER_LI) if "工单 #" in m.text]) == 1


async def test_group_echo_masks_phone_numbers(tmp_path: Path) -> None:
    async with offline_emulator() as emu:
        populate(emu)
        async with offline_bot(emu, tmp_path):
            await open_privates(emu, *STAFF)
            await emu.send_text(
                GROUP, RESIDENT, "/report 2号楼楼道灯坏了一个月了，有事打我电话13912345678"
            )
            ack = await emu.wait_for(GROUP)
            assert "13912345678" not in ack.text
            assert "139****5678" in ack.text


async def test_forged_and_stale_buttons_change_nothing(tmp_path: Path) -> None:
    async with offline_emulator(privacy_mode=False) as emu:
        populate(emu)
        async with offline_bot(emu, tmp_path, expect_errors=True) as bot:
            await open_privates(emu, *STAFF, RESIDENT)
            await emu.send_text(GROUP, RESIDENT, LIFT)
            card = await emu.wait_for(WORKER_LI)
            services = bot.state.require_services()
            # A resident forging the worker's button, in their own chat.
            qid = await emu.press_button(RESIDENT, RESIDENT, 1, "acc:1", check=False)
            assert (await emu.wait_for_answer(qid)).show_alert
            # Another worker pressing 李娜's button.
            qid = await emu.press_button(WORKER_ZHANG, WORKER_ZHANG, 1, "acc:1", check=False)
            assert (await emu.wait_for_answer(qid)).text == texts.ERRORS["not_allowed"]
            # Malformed and unknown data: no verb's pattern takes it, or its ticket is gone.
            for data in ("acc:abc", "acc:99999", "zzz", "acc:1:x", "xw:1", "res:1:", "card:"):
                qid = await emu.press_button(
                    WORKER_LI, WORKER_LI, card.message_id, data, check=False
                )
                answer = await emu.wait_for_answer(qid)
                assert answer.show_alert and answer.text == texts.STALE_BUTTON, data
            qid = await emu.press_button(
                WORKER_LI, WORKER_LI, card.message_id, "rt:1:drop_tables", check=False
            )
            answer = await emu.wait_for_answer(qid)
            assert answer.show_alert and answer.text
            assert (await services.tickets.get(1)).status == "new"
            # Resolving before accepting is refused clearly.
            qid = await emu.press_button(
                WORKER_LI, WORKER_LI, card.message_id, "rs:1", check=False
            )
            assert "接单" in (await emu.wait_for_answer(qid)).text
            assert (await services.tickets.get(1)).status == "new"


async def test_binding_follows_a_group_upgraded_to_supergroup(tmp_path: Path) -> None:
    async with Emulator() as emu:
        populate(emu)
        async with running_bot(emu, tmp_path) as bot:
            await open_privates(emu, *STAFF)
            new_id = await emu.upgrade_to_supergroup(GROUP_G1)
            await emu.wait_for(new_id, lambda m: m.text == texts.GROUP_MIGRATED)
            await emu.send_text(new_id, RESIDENT, "/report 2号楼电梯坏了")
            ack = await emu.wait_for(new_id)
            assert "#1" in ack.text
            services = bot.state.require_services()
            assert await services.state.group_grids(new_id) == ("g1",)


async def test_restart_between_complaint_and_press(tmp_path: Path) -> None:
    async with Emulator(privacy_mode=False) as emu:
        populate(emu)
        async with running_bot(emu, tmp_path):
            await open_privates(emu, *STAFF)
            await emu.send_text(GROUP, RESIDENT, LIFT)
            card = await emu.wait_for(WORKER_LI)
            await emu.wait_for(GROUP)
        async with running_bot(emu, tmp_path) as bot:  # a new process on the same database
            await emu.press_button(WORKER_LI, WORKER_LI, card.message_id, "acc:1")
            await emu.wait_for(GROUP, lambda m: "已接单" in m.text)
            assert (await bot.state.require_services().tickets.get(1)).status == "accepted"


async def test_transfer_to_another_worker_with_reason(tmp_path: Path) -> None:
    async with offline_emulator(privacy_mode=False) as emu:
        populate(emu)
        async with offline_bot(emu, tmp_path) as bot:
            await open_privates(emu, *STAFF)
            await emu.send_text(GROUP, RESIDENT, LIFT)
            card = await emu.wait_for(WORKER_LI)
            await emu.press_button(WORKER_LI, WORKER_LI, card.message_id, "xfer:1")
            await emu.wait_until(lambda: "转给谁" in emu.message(WORKER_LI, card.message_id).text)
            # The card offers the colleagues by name, and not the worker who holds it.
            menu = str(emu.message(WORKER_LI, card.message_id).reply_markup)
            assert "xw:1:zhang" in menu and "xw:1:li" not in menu
            await emu.press_button(WORKER_LI, WORKER_LI, card.message_id, "xw:1:zhang")
            await emu.wait_for(WORKER_LI, lambda m: "转派原因" in m.text)
            await emu.send_text(WORKER_LI, WORKER_LI, "这栋楼归第二网格管")
            new_card = await emu.wait_for(WORKER_ZHANG, lambda m: "工单 #1" in m.text)
            assert "接单" in [b.text for row in new_card.buttons for b in row]
            await emu.wait_for(GROUP, lambda m: "张伟" in m.text)
            old = emu.message(WORKER_LI, card.message_id)
            assert old.buttons == []
            ticket = await bot.state.require_services().tickets.get(1)
            assert ticket.assignee_key == "zhang"


async def test_category_correction_teaches_the_classifier(tmp_path: Path) -> None:
    async with offline_emulator(privacy_mode=False) as emu:
        populate(emu)
        async with offline_bot(emu, tmp_path) as bot:
            await open_privates(emu, *STAFF)
            await emu.send_text(GROUP, RESIDENT, "/report 3号楼门口的共享单车堆成山了")
            card = await emu.wait_for(WORKER_LI)
            services = bot.state.require_services()
            before = (await services.tickets.get(1)).category
            target = "sanitation" if before != "sanitation" else "parking"
            await emu.press_button(WORKER_LI, WORKER_LI, card.message_id, "xfer:1")
            await emu.press_button(WORKER_LI, WORKER_LI, card.message_id, "xc:1", check=False)
            await emu.press_button(
                WORKER_LI, WORKER_LI, card.message_id, f"xk:1:{target}", check=False
            )
            await emu.wait_for(WORKER_LI, lambda m: "转派原因" in m.text)
            await emu.send_text(WORKER_LI, WORKER_LI, "类别不对")
            note = await emu.wait_for(WORKER_LI, lambda m: "纠正" in m.text)
            assert services.category_name(target) in note.text
            assert (await services.tickets.get(1)).category == target
            reading = services.classifier.classify("3号楼门口的共享单车堆成山了")
            assert reading.category == target


async def test_return_goes_to_the_duty_worker(tmp_path: Path) -> None:
    async with offline_emulator(privacy_mode=False) as emu:
        populate(emu)
        async with offline_bot(emu, tmp_path) as bot:
            await open_privates(emu, *STAFF)
            await emu.send_text(GROUP, RESIDENT, LIFT)
            card = await emu.wait_for(WORKER_LI)
            await emu.press_button(WORKER_LI, WORKER_LI, card.message_id, "ret:1")
            await emu.press_button(
                WORKER_LI, WORKER_LI, card.message_id, "rt:1:not_my_grid", check=False
            )
            duty_card = await emu.wait_for(DUTY, lambda m: "工单 #1" in m.text)
            assert "接单" in [b.text for row in duty_card.buttons for b in row]
            ticket = await bot.state.require_services().tickets.get(1)
            assert ticket.assignee_key == "duty" and ticket.status == "returned"


async def test_a_greeting_in_private_gets_an_invitation_not_a_question(tmp_path: Path) -> None:
    async with offline_emulator() as emu:
        populate(emu)
        async with offline_bot(emu, tmp_path) as bot:
            await open_privates(emu, RESIDENT)
            for text, answer in (("你好", texts.HINT_GREETING), ("谢谢你们", texts.HINT_THANKS)):
                await emu.send_text(RESIDENT, RESIDENT, text)
                reply = await emu.wait_for(RESIDENT)
                assert reply.text == answer
                assert reply.buttons == []
            assert await bot.state.require_services().tickets.by_number("幸福里社区", 1) is None
            # What residents ask besides problems is answered with the command for it.
            for words, hint in (
                ("我有多少积分", texts.HINT_POINTS),
                ("我想报名参加志愿活动", texts.HINT_TASKS),
                ("我们楼网格员是谁", texts.HINT_GRID),
            ):
                await emu.send_text(RESIDENT, RESIDENT, words)
                assert (await emu.wait_for(RESIDENT, lambda m, h=hint: m.text == h)).text == hint
            # Staff who write what is no complaint are pointed to their own tools instead.
            await open_privates(emu, SECRETARY)
            await emu.send_text(SECRETARY, SECRETARY, "帮我看看今天有哪些超时的")
            staff = await emu.wait_for(SECRETARY)
            assert staff.text == texts.STAFF_NOT_UNDERSTOOD and "/mytickets" in staff.text


async def test_a_voice_note_in_private_is_answered_and_in_the_group_left_alone(
    tmp_path: Path,
) -> None:
    """Many older residents speak instead of typing: privately they hear that the bot reads
    words and photos (before, silence); in the group a voice note is a neighbour's business."""
    async with offline_emulator(privacy_mode=False) as emu:
        populate(emu)
        async with offline_bot(emu, tmp_path) as bot:
            await open_privates(emu, RESIDENT)
            voice = await emu.send_voice(RESIDENT, RESIDENT)
            reply = await emu.wait_for(RESIDENT, lambda m: m.text == texts.PRIVATE_UNREADABLE)
            assert reply.reply_to_message_id == voice["message_id"]
            before = len(emu.sent(GROUP))
            await emu.send_voice(GROUP, RESIDENT)
            await bot.idle()
            assert len(emu.sent(GROUP)) == before
            assert await bot.state.require_services().tickets.by_number("幸福里社区", 1) is None


async def test_at_night_only_an_urgent_complaint_rings(tmp_path: Path) -> None:
    """At 02:00 (inside the community's quiet hours, 22:00-07:00) a broken light's card and
    the group's acknowledgement arrive without a sound; someone trapped in a lift rings the
    worker and the group as it should. By day everything rings."""
    night = FakeClock(datetime(2026, 11, 24, 18, 0, tzinfo=UTC))  # 02:00 in Shanghai
    async with offline_emulator(privacy_mode=False) as emu:
        populate(emu)
        async with offline_bot(emu, tmp_path, clock=night):
            await open_privates(emu, WORKER_LI, WORKER_ZHANG, DUTY, SECRETARY)
            await emu.send_text(GROUP, RESIDENT, "5号楼楼道灯坏了好几天了")
            quiet_card = await emu.wait_for(WORKER_LI, lambda m: "工单 #1" in m.text)
            quiet_ack = await emu.wait_for(GROUP, lambda m: "登记为 #1" in m.text)
            assert not emu.rang(WORKER_LI, quiet_card.message_id)
            assert not emu.rang(GROUP, quiet_ack.message_id)
            await emu.send_text(GROUP, NEIGHBOUR, "2号楼电梯关人了！快来人")
            card = await emu.wait_for(WORKER_LI, lambda m: "工单 #2" in m.text)
            ack = await emu.wait_for(GROUP, lambda m: "登记为 #2" in m.text)
            assert emu.rang(WORKER_LI, card.message_id) and emu.rang(GROUP, ack.message_id)
            night.advance(timedelta(hours=8))  # 10:00
            await emu.send_text(GROUP, RESIDENT, "6号楼门口垃圾堆了三天没人清")
            day = await emu.wait_for(GROUP, lambda m: "登记为 #3" in m.text)
            assert emu.rang(GROUP, day.message_id)


async def test_a_greeting_or_question_addressed_to_the_bot_in_a_group_gets_a_pointer(
    tmp_path: Path,
) -> None:
    """ "@bot 你好" or "@bot 我的积分多少" in the group is answered with one short pointer, not
    a public keyboard of every kind of problem; "@bot 楼里有点情况" is still asked which kind."""
    async with offline_emulator() as emu:
        populate(emu)
        async with offline_bot(emu, tmp_path) as bot:
            await open_privates(emu, *STAFF)
            at = "@" + emu.bot_user["username"]
            for words, said in (
                ("你好", texts.GROUP_ASIDE),
                ("帮我查一下我的工单", texts.GROUP_ASIDE),
                ("我的积分多少", texts.HINT_POINTS),
            ):
                asked = await emu.send_text(GROUP, RESIDENT, f"{at} {words}")
                reply = await emu.wait_for(GROUP, lambda m, s=said: m.text == s)
                assert reply.reply_to_message_id == asked["message_id"] and reply.buttons == []
            await emu.send_text(GROUP, RESIDENT, f"{at} 楼里有点情况")
            kinds = await emu.wait_for(GROUP, lambda m: "类别" in m.text)
            assert kinds.buttons
            assert await bot.state.require_services().tickets.by_number("幸福里社区", 1) is None


async def test_with_privacy_on_a_mention_reports_and_a_typed_reply_names_the_building(
    tmp_path: Path,
) -> None:
    async with offline_emulator() as emu:  # group privacy on, as on real Telegram by default
        populate(emu)
        async with offline_bot(emu, tmp_path):
            await open_privates(emu, *STAFF)
            await emu.send_text(GROUP, RESIDENT, "楼道灯坏了好几天了")  # not seen by the bot
            username = emu.bot_user["username"]
            await emu.send_text(GROUP, RESIDENT, f"@{username} 楼道灯坏了好几天了，晚上太黑")
            question = await emu.wait_for(GROUP)
            assert "哪栋楼" in question.text
            await emu.send_text(GROUP, RESIDENT, "十五号楼吧", reply_to=question.message_id)
            wrong = await emu.wait_for(GROUP)
            assert wrong.text == texts.TYPED_LOCATION_UNKNOWN.format(text="十五号楼吧")
            await emu.send_text(GROUP, RESIDENT, "5号楼", reply_to=question.message_id)
            card = await emu.wait_for(WORKER_LI)
            assert "工单 #1" in card.text and "5号楼" in card.text
            ack = await emu.wait_for(GROUP, lambda m: "#1" in m.text)
            assert "李娜" in ack.text and f"@{username}" not in ack.text


async def test_an_edited_message_does_not_open_a_second_ticket(tmp_path: Path) -> None:
    async with offline_emulator(privacy_mode=False) as emu:
        populate(emu)
        async with offline_bot(emu, tmp_path) as bot:
            await open_privates(emu, *STAFF)
            sent = await emu.send_text(GROUP, NEIGHBOUR, "大家晚上好")
            await emu.edit_text(GROUP, NEIGHBOUR, sent["message_id"], "4号楼电梯又坏了，关人了")
            await bot.idle()
            assert emu.sent(GROUP) == []  # edits are not read as new complaints
            assert await bot.state.require_services().tickets.by_number("幸福里社区", 1) is None


async def test_the_reporters_edit_of_their_complaint_reaches_the_worker_once(
    tmp_path: Path,
) -> None:
    """The first words stay the ticket's; the edit joins its timeline and its worker hears it."""
    async with offline_emulator(privacy_mode=False) as emu:
        populate(emu)
        async with offline_bot(emu, tmp_path) as bot:
            await open_privates(emu, *STAFF)
            sent = await emu.send_text(GROUP, RESIDENT, "4号楼电梯坏了")
            card = await emu.wait_for(WORKER_LI, lambda m: "工单 #1" in m.text)
            await emu.wait_for(GROUP, lambda m: "#1" in m.text)
            edited = "4号楼2单元电梯坏了，里面困着人"
            await emu.edit_text(GROUP, RESIDENT, sent["message_id"], edited)
            told = await emu.wait_for(WORKER_LI, lambda m: "修改了原话" in m.text)
            assert told.text == texts.SOURCE_EDITED_TO_WORKER.format(number=1, text=edited)
            assert told.reply_to_message_id == card.message_id
            await emu.edit_text(GROUP, RESIDENT, sent["message_id"], edited)  # the same again
            await bot.idle()
            assert len([m for m in emu.sent(WORKER_LI) if "修改了原话" in m.text]) == 1
            assert len(emu.sent(GROUP)) == 1  # the group heard only the acknowledgement
            services = bot.state.require_services()
            assert await services.tickets.by_number("幸福里社区", 2) is None
            ticket = await services.tickets.by_number("幸福里社区", 1)
            assert ticket is not None and ticket.text == "4号楼电梯坏了"
            history = await services.tickets.history(ticket.id)
            assert [e.kind for e in history] == ["opened", "source_edited"]
            assert history[1].detail == {"note": edited}
