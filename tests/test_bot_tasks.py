"""Whole bot: publishing, claiming, proving and verifying community tasks."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest

from bot import texts
from bot.services.clock import FakeClock
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
from tests.community_kit import (
    MONDAY_8AM,
    PROPERTY_STAFF,
    add_property_staff,
    button_data,
    community_config,
    only_domain_errors,
    open_ticket,
    press,
    say,
)
from tests.fastkit import offline_bot, offline_emulator
from tgsandbox import Emulator

pytestmark = pytest.mark.both_stores


async def _register(emu: Emulator, user_id: int, address: str) -> None:
    reply = await say(emu, user_id, user_id, f"/register {address}")
    assert "登记成功" in reply.text, reply.text


async def test_publish_claim_proof_verify_awards_points(tmp_path: Path) -> None:
    async with offline_emulator() as emu:
        populate(emu)
        clock = FakeClock(MONDAY_8AM)
        async with offline_bot(
            emu, tmp_path, clock=clock, config=community_config(tmp_path), expect_errors=True
        ) as bot:
            await open_privates(emu, WORKER_LI, RESIDENT)
            reply = await say(emu, RESIDENT, RESIDENT, "/register 3 2 301")
            assert "3号楼2单元301" in reply.text

            card = await say(
                emu,
                GROUP,
                WORKER_LI,
                "/task new 更换楼道灯泡 | 10 | 截止 11-30 | 名额 1 | 地点 3号楼2单元",
            )
            assert "已发布任务 #1「更换楼道灯泡」" in card.text and "10 分" in card.text
            assert "11月30日 23:59" in card.text
            assert button_data(card) == ["claim:1"]

            answer = await press(emu, GROUP, RESIDENT, card, "claim:1")
            assert "接单成功" in answer and "/done 1" in answer
            note = await emu.wait_for(RESIDENT, lambda m: "您已接下任务 #1" in m.text)
            assert "/done 1" in note.text

            ask = await say(emu, RESIDENT, RESIDENT, "/done 1")
            assert ask.text == texts.DONE_ASK_PROOF.format(task_id=1)
            await emu.send_photo(RESIDENT, RESIDENT, caption="换好了")
            done = await emu.wait_for(RESIDENT)
            assert done.text == texts.DONE_SUBMITTED.format(task_id=1)

            # The publisher gets the verify card: the proof photo with 通过 / 退回.
            verify = await emu.wait_for(WORKER_LI, lambda m: "任务验收 #1" in m.text)
            assert verify.photo, "the proof photo is shown to the verifier"
            assert "完成人：周大爷" in verify.text
            assert button_data(verify) == [f"tok:1:{RESIDENT}", f"tno:1:{RESIDENT}"]

            answer = await press(emu, WORKER_LI, WORKER_LI, verify, f"tok:1:{RESIDENT}")
            assert answer == texts.VERIFY_ANSWER_OK
            praised = await emu.wait_for(RESIDENT, lambda m: "验收通过" in m.text)
            assert "获得 10 分" in praised.text and "当前余额 10 分" in praised.text
            await bot.idle()
            edited = emu.message(WORKER_LI, verify.message_id)
            assert "已通过" in edited.text and edited.buttons == []

            # Pressing the stale card again changes nothing.
            again = await press(
                emu, WORKER_LI, WORKER_LI, verify, f"tok:1:{RESIDENT}", check=False
            )
            assert again == texts.ERRORS["task_not_submitted"].format(task_id=1)

            points = await say(emu, RESIDENT, RESIDENT, "/points")
            assert "当前余额：10 分" in points.text
            assert "3号楼2单元301" in points.text and "完成任务 #1" in points.text
            services = bot.state.require_services()
            assert await services.points.check_balances() == []
            assert (await services.tasks.get(1)).status == "done"
        assert only_domain_errors(bot) == ["task_not_submitted"]


async def test_guided_dialogue_publishes_and_intake_never_sees_the_answers(tmp_path: Path) -> None:
    async with offline_emulator() as emu:
        populate(emu)
        async with offline_bot(emu, tmp_path, clock=FakeClock(MONDAY_8AM)) as bot:
            await open_privates(emu, WORKER_LI)
            assert "第 1 步" in (await say(emu, WORKER_LI, WORKER_LI, "/task new")).text
            assert "第 2 步" in (await say(emu, WORKER_LI, WORKER_LI, "帮独居老人搬家具")).text
            retry = await say(emu, WORKER_LI, WORKER_LI, "很多很多")
            assert "没看懂" in retry.text and "第 2 步" in retry.text
            assert "第 3 步" in (await say(emu, WORKER_LI, WORKER_LI, "较难")).text
            assert "第 4 步" in (await say(emu, WORKER_LI, WORKER_LI, "12-01 18:00")).text
            assert "第 5 步" in (await say(emu, WORKER_LI, WORKER_LI, "2")).text
            assert "第 6 步" in (await say(emu, WORKER_LI, WORKER_LI, "公开")).text
            retry = await say(emu, WORKER_LI, WORKER_LI, "时长 很久")
            assert "没看懂" in retry.text and "第 6 步" in retry.text
            published = await say(
                emu, WORKER_LI, WORKER_LI, "地点 5号楼1单元 | 两人抬衣柜 | 时长 1.5"
            )
            assert "已发布任务 #1「帮独居老人搬家具」" in published.text
            assert "20 分" in published.text and "名额：2 人（余 2 个）" in published.text
            assert "12月1日 18:00" in published.text
            assert "地点：5号楼1单元" in published.text and "志愿服务 1.5 小时" in published.text

            # A dialogue can be left; its answers never became complaints.
            await say(emu, WORKER_LI, WORKER_LI, "/task new")
            assert (await say(emu, WORKER_LI, WORKER_LI, "取消")).text == texts.DIALOGUE_CANCELLED
            services = bot.state.require_services()
            assert await services.db.fetchval("SELECT COUNT(*) FROM tickets") == 0
            assert len(await services.tasks.list_open()) == 1

            listing = await say(emu, GROUP, RESIDENT, "/tasks")
            assert "帮独居老人搬家具" in listing.text and button_data(listing) == ["claim:1"]
            assert "两人抬衣柜" in listing.text


async def test_residents_cannot_publish_and_targeted_tasks_refuse_others(tmp_path: Path) -> None:
    async with offline_emulator() as emu:
        populate(emu)
        add_property_staff(emu)
        config = community_config(tmp_path)
        async with offline_bot(
            emu, tmp_path, clock=FakeClock(MONDAY_8AM), config=config, expect_errors=True
        ) as bot:
            refused = await say(emu, GROUP, RESIDENT, "/task new 我来发个任务 | 5")
            assert refused.text == texts.TASK_NOT_ALLOWED

            card = await say(emu, GROUP, WORKER_LI, "/task new 化粪池清掏 | 30 | 面向 物业公司")
            assert "限物业公司承接" in card.text
            await open_privates(emu, RESIDENT)
            await _register(emu, RESIDENT, "3 2 301")
            answer = await press(emu, GROUP, RESIDENT, card, "claim:1")
            assert answer == texts.ERRORS["task_not_for_you"].format(task_id=1, targets="物业公司")

            answer = await press(emu, GROUP, PROPERTY_STAFF, card, "claim:1")
            assert "接单成功" in answer
            claims = await bot.state.require_services().tasks.claims(1)
            assert [c.user_id for c in claims] == [PROPERTY_STAFF]
        assert only_domain_errors(bot) == ["task_not_for_you"]


async def test_double_claims_pressed_at_once_take_one_place(tmp_path: Path) -> None:
    async with Emulator() as emu:
        populate(emu)
        async with running_bot(
            emu, tmp_path, clock=FakeClock(MONDAY_8AM), expect_errors=True
        ) as bot:
            await open_privates(emu, RESIDENT, NEIGHBOUR)
            await _register(emu, RESIDENT, "3 2 301")
            await _register(emu, NEIGHBOUR, "3 2 302")
            card = await say(emu, GROUP, WORKER_LI, "/task new 清理楼道小广告 | easy")
            # Three presses land before the bot reads any of them.
            queries = [
                await emu.press_button(GROUP, who, card.message_id, "claim:1")
                for who in (RESIDENT, NEIGHBOUR, RESIDENT)
            ]
            answers = [(await emu.wait_for_answer(q, timeout=10)).text or "" for q in queries]
            winners = [a for a in answers if "接单成功" in a]
            assert len(winners) == 1
            assert texts.ERRORS["task_full"].format(task_id=1) in answers or (
                texts.ERRORS["task_already_claimed"].format(task_id=1) in answers
            )
            claims = await bot.state.require_services().tasks.claims(1)
            assert len(claims) == 1
        assert set(only_domain_errors(bot)) <= {"task_full", "task_already_claimed"}


async def test_claim_needs_an_address_and_refuses_closed_and_expired_tasks(tmp_path: Path) -> None:
    async with offline_emulator() as emu:
        populate(emu)
        clock = FakeClock(MONDAY_8AM)
        async with offline_bot(emu, tmp_path, clock=clock, expect_errors=True) as bot:
            first = await say(emu, GROUP, WORKER_LI, "/task new 修剪绿篱 | 10 | 截止 11-23 12:00")
            second = await say(emu, GROUP, WORKER_LI, "/task new 整理车棚 | 10")
            assert (await press(emu, GROUP, RESIDENT, first, "claim:1")) == (
                texts.CLAIM_NEEDS_REGISTER
            )
            await open_privates(emu, RESIDENT)
            await _register(emu, RESIDENT, "三 二单元 301室")
            closed = await say(emu, GROUP, WORKER_LI, "/task close 2")
            assert "已结束" in closed.text
            assert (await press(emu, GROUP, RESIDENT, second, "claim:2")) == texts.ERRORS[
                "task_closed"
            ].format(task_id=2)
            clock.advance(timedelta(hours=5))  # past 12:00
            assert (await press(emu, GROUP, RESIDENT, first, "claim:1")) == texts.ERRORS[
                "task_expired"
            ].format(task_id=1)
            usage = await say(emu, GROUP, WORKER_LI, "/task new 没写积分")
            assert usage.text == texts.ERRORS["task_bad_points"].format(limit=1000)
        assert set(only_domain_errors(bot)) == {"task_closed", "task_expired", "task_bad_points"}


async def test_return_with_reason_then_resubmit_with_a_captioned_photo(tmp_path: Path) -> None:
    async with offline_emulator() as emu:
        populate(emu)
        async with offline_bot(emu, tmp_path, clock=FakeClock(MONDAY_8AM)) as bot:
            await open_privates(emu, WORKER_LI, RESIDENT)
            await _register(emu, RESIDENT, "3 2 301")
            card = await say(emu, GROUP, WORKER_LI, "/task new 清扫单元门口 | 5 | 时长 1.5")
            await press(emu, GROUP, RESIDENT, card, "claim:1")
            await emu.wait_for(RESIDENT, lambda m: "您已接下任务 #1" in m.text)
            await emu.send_photo(RESIDENT, RESIDENT, caption="/done 1")
            assert (await emu.wait_for(RESIDENT)).text == texts.DONE_SUBMITTED.format(task_id=1)
            verify = await emu.wait_for(WORKER_LI, lambda m: "任务验收 #1" in m.text)

            answer = await press(emu, WORKER_LI, WORKER_LI, verify, f"tno:1:{RESIDENT}")
            assert answer == texts.VERIFY_ANSWER_ASK
            ask = await emu.wait_for(WORKER_LI, lambda m: "退回任务 #1" in m.text)
            assert "原因" in ask.text
            await emu.send_text(WORKER_LI, WORKER_LI, "照片看不清门口，请白天再拍一张")
            told = await emu.wait_for(RESIDENT, lambda m: "被退回" in m.text)
            assert "照片看不清门口" in told.text and "/done 1" in told.text
            await bot.idle()
            assert "已退回" in emu.message(WORKER_LI, verify.message_id).text
            services = bot.state.require_services()
            assert await services.db.fetchval("SELECT COUNT(*) FROM tickets") == 0

            await emu.send_photo(RESIDENT, RESIDENT, caption="/done 1 重新拍了")
            second = await emu.wait_for(
                WORKER_LI, lambda m: "任务验收 #1" in m.text and m.message_id != verify.message_id
            )
            assert "重新拍了" in second.text
            await press(emu, WORKER_LI, WORKER_LI, second, f"tok:1:{RESIDENT}")
            praised = await emu.wait_for(RESIDENT, lambda m: "验收通过" in m.text)
            assert "志愿服务 1.5 小时" in praised.text
            summary = await services.points.summary(RESIDENT)
            assert (summary.balance, summary.hours) == (5, 1.5)


async def test_nobody_verifies_their_own_work(tmp_path: Path) -> None:
    async with offline_emulator() as emu:
        populate(emu)
        async with offline_bot(
            emu, tmp_path, clock=FakeClock(MONDAY_8AM), expect_errors=True
        ) as bot:
            await open_privates(emu, WORKER_LI, SECRETARY)
            card = await say(emu, GROUP, WORKER_LI, "/task new 给花坛浇水 | 5")
            assert "接单成功" in await press(emu, GROUP, WORKER_LI, card, "claim:1")
            await emu.send_photo(WORKER_LI, WORKER_LI, caption="/done 1")
            await emu.wait_for(WORKER_LI, lambda m: "已提交" in m.text)
            # The publisher did the work: the card goes to the admins instead.
            verify = await emu.wait_for(SECRETARY, lambda m: "任务验收 #1" in m.text)
            await bot.idle()
            assert not [m for m in emu.sent(WORKER_LI) if "任务验收" in m.text]
            # The worker forges an approval of their own claim on their own private chat.
            message = await emu.wait_for(WORKER_LI, lambda m: "已提交" in m.text)
            answer = await press(
                emu, WORKER_LI, WORKER_LI, message, f"tok:1:{WORKER_LI}", check=False
            )
            assert answer == texts.ERRORS["task_verify_own"]
            assert await bot.state.require_services().points.balance(WORKER_LI) == 0
            ok = await press(emu, SECRETARY, SECRETARY, verify, f"tok:1:{WORKER_LI}")
            assert ok == texts.VERIFY_ANSWER_OK
            assert await bot.state.require_services().points.balance(WORKER_LI) == 5
        assert only_domain_errors(bot) == ["task_verify_own"]


async def test_forged_and_malformed_buttons_get_clear_answers(tmp_path: Path) -> None:
    async with offline_emulator() as emu:
        populate(emu)
        async with offline_bot(
            emu,
            tmp_path,
            clock=FakeClock(MONDAY_8AM),
            config=community_config(tmp_path),
            expect_errors=True,
        ) as bot:
            await open_privates(emu, RESIDENT)
            card = await say(emu, GROUP, WORKER_LI, "/task new 擦拭信报箱 | 5")
            cases = {
                "claim:999": texts.ERRORS["task_not_found"].format(task_id=999),
                "claim:abc": texts.BUTTON_STALE,
                "claim:1:extra": texts.BUTTON_STALE,
                f"tok:1:{RESIDENT}": texts.ERRORS["not_allowed"],
                f"tno:1:{NEIGHBOUR}": texts.ERRORS["not_allowed"],
                "tok:1": texts.BUTTON_STALE,
                "redeem:caviar": texts.ERRORS["redeem_unknown_item"].format(item="caviar"),
                "redeem:../x": texts.BUTTON_STALE,
                "rdok:1": texts.ERRORS["not_allowed"],
                "rdgive:xyz": texts.BUTTON_STALE,
            }
            for data, expected in cases.items():
                answer = await press(emu, GROUP, RESIDENT, card, data, check=False)
                assert answer == expected, data
            services = bot.state.require_services()
            assert await services.tasks.claims(1) == []
            assert await services.points.balance(RESIDENT) == 0
        assert set(only_domain_errors(bot)) == {
            "task_not_found",
            "not_allowed",
            "redeem_unknown_item",
        }


async def test_a_resolved_ticket_becomes_a_task(tmp_path: Path) -> None:
    async with offline_emulator() as emu:
        populate(emu)
        async with offline_bot(
            emu, tmp_path, clock=FakeClock(MONDAY_8AM), expect_errors=True
        ) as bot:
            services = bot.state.require_services()
            from bot.services.tickets import Actor

            li = Actor(WORKER_LI, "李娜", worker_key="li")
            open_id = await open_ticket(bot, "facilities", "a")
            done_id = await open_ticket(bot, "greenery", "b")
            await services.tickets.accept(done_id, li)
            await services.tickets.resolve(done_id, li, note="已修好", photo=None)
            await bot.idle()  # the rating request the resolve queued goes out first
            number = (await services.tickets.get(done_id)).number
            open_number = (await services.tickets.get(open_id)).number

            refused = await say(emu, GROUP, WORKER_LI, f"/task from {open_number}")
            assert "还没有办结" in refused.text
            made = await say(emu, GROUP, WORKER_LI, f"/task from {number} | 名额 3")
            assert f"工单 #{number} 后续" in made.text and "名额：3 人" in made.text
            assert "10 分" in made.text  # the 'normal' difficulty by default
            twice = await say(emu, GROUP, WORKER_LI, f"/task from {number}")
            assert "已经转成任务" in twice.text
        assert set(only_domain_errors(bot)) == {"task_ticket_not_resolved", "task_ticket_has_task"}


async def test_a_proof_photo_sent_without_done_is_taken_for_the_one_task_waiting(
    tmp_path: Path,
) -> None:
    """Residents send the photo straight away: with one task waiting for its proof, a bare
    photo or one captioned "换好了" is that proof; a photo of a problem is still a report;
    "任务做完了" in words is told how to hand the proof in."""
    async with offline_emulator() as emu:
        populate(emu)
        clock = FakeClock(MONDAY_8AM)
        async with offline_bot(
            emu, tmp_path, clock=clock, config=community_config(tmp_path)
        ) as bot:
            await open_privates(emu, WORKER_LI, RESIDENT)
            await _register(emu, RESIDENT, "3 2 301")
            card = await say(emu, GROUP, WORKER_LI, "/task new 更换楼道灯泡 | 10 | 名额 1")
            await press(emu, GROUP, RESIDENT, card, "claim:1")
            told = await say(emu, RESIDENT, RESIDENT, "任务做完了")
            assert "/done" in told.text and "#1「更换楼道灯泡」" in told.text
            await emu.send_photo(RESIDENT, RESIDENT, caption="楼道灯坏了")
            asked = await emu.wait_for(RESIDENT, lambda m: "哪栋楼" in m.text)
            assert asked.buttons  # a report, asked where
            await emu.send_photo(RESIDENT, RESIDENT, caption="灯泡换好了")
            done = await emu.wait_for(RESIDENT, lambda m: "已提交任务 #1" in m.text)
            assert done.text == texts.DONE_SUBMITTED.format(task_id=1)
            verify = await emu.wait_for(WORKER_LI, lambda m: "任务验收 #1" in m.text)
            assert "灯泡换好了" in verify.text and verify.photo
            await bot.idle()
            claims = await bot.state.require_services().tasks.claims(1)
            assert [c.status for c in claims] == ["submitted"]
