"""Whole bot: /points, /award and /deduct, and /redeem with the admins' buttons."""

from __future__ import annotations

import asyncio
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
    SECRETARY_ACTOR,
    button_data,
    community_config,
    only_domain_errors,
    press,
    say,
)
from tests.fastkit import offline_bot, offline_emulator
from tgsandbox import Emulator

pytestmark = pytest.mark.both_stores


async def test_points_privately_and_briefly_in_the_group(tmp_path: Path) -> None:
    async with offline_emulator() as emu:
        populate(emu)
        async with offline_bot(emu, tmp_path, clock=FakeClock(MONDAY_8AM)) as bot:
            await open_privates(emu, RESIDENT)
            empty = await say(emu, RESIDENT, RESIDENT, "/points")
            assert "当前余额：0 分" in empty.text and "/register" in empty.text
            await say(emu, RESIDENT, RESIDENT, "/register 3 2 301")
            services = bot.state.require_services()
            await services.points.correct(SECRETARY_ACTOR, RESIDENT, 25, "补记上月积分")

            brief = await say(emu, GROUP, RESIDENT, "/points")
            assert brief.text == texts.POINTS_SENT_PRIVATELY
            detail = await emu.wait_for(RESIDENT, lambda m: "当前余额" in m.text)
            assert "当前余额：25 分" in detail.text and "补记上月积分" in detail.text
            assert "家庭（3号楼2单元301）合计：25 分" in detail.text
            assert not any("25 分" in m.text for m in emu.sent(GROUP))

            # Someone who never opened the bot is told how to.
            hint = await say(emu, GROUP, NEIGHBOUR, "/points")
            assert hint.text.startswith(texts.POINTS_OPEN_BOT.split("：")[0])
            assert f"t.me/{emu.bot_user['username']}" in hint.text


async def test_admin_awards_and_deducts_against_the_behaviour_list(tmp_path: Path) -> None:
    async with offline_emulator() as emu:
        populate(emu)
        async with offline_bot(
            emu, tmp_path, clock=FakeClock(MONDAY_8AM), expect_errors=True
        ) as bot:
            await open_privates(emu, RESIDENT, SECRETARY)
            await say(emu, RESIDENT, RESIDENT, "/register 5 1 101")
            usage = await say(emu, SECRETARY, SECRETARY, "/award")
            # Listed by the names the secretary reads, never by the file's codes.
            assert "帮扶独居老人" in usage.text and "高空抛物" not in usage.text
            assert "help_elderly" not in usage.text

            done = await say(
                emu, SECRETARY, SECRETARY, f"/award {RESIDENT} help_elderly 陪独居老人看病"
            )
            assert "+10 分" in done.text and "当前余额 10 分" in done.text
            notice = await emu.wait_for(RESIDENT, lambda m: "积分变动" in m.text)
            assert "+10 分" in notice.text and "陪独居老人看病" in notice.text

            wrong = await say(
                emu, SECRETARY, SECRETARY, f"/award {RESIDENT} throw_from_height 乱扔"
            )
            assert wrong.text == texts.AWARD_WRONG_SIGN_AWARD.format(name="高空抛物")
            capped = await say(
                emu, SECRETARY, SECRETARY, f"/deduct {RESIDENT} throw_from_height 阳台扔烟头"
            )
            assert "-10 分" in capped.text and "当前余额 0 分" in capped.text
            told = await emu.wait_for(RESIDENT, lambda m: "-10 分" in m.text)
            assert "应扣 20 分" in told.text

            refused = await say(emu, GROUP, RESIDENT, f"/award {RESIDENT} help_elderly 自己加")
            assert refused.text == texts.ERRORS["not_allowed"]
            nosy = await say(emu, RESIDENT, RESIDENT, f"/points {NEIGHBOUR}")
            assert nosy.text == texts.ERRORS["not_allowed"]
            lookup = await say(emu, SECRETARY, SECRETARY, f"/points {RESIDENT}")
            assert "当前余额：0 分" in lookup.text and "阳台扔烟头" in lookup.text
            by_name = await say(emu, SECRETARY, SECRETARY, f"/award {RESIDENT} 帮扶独居老人 买菜")
            assert "+10 分" in by_name.text  # the name the secretary reads works as the code
            unknown = await say(emu, SECRETARY, SECRETARY, f"/award {RESIDENT} 20 帮忙")
            assert "帮扶独居老人" in unknown.text and "help_elderly" not in unknown.text
            assert await bot.state.require_services().points.check_balances() == []
        assert only_domain_errors(bot) == [
            "not_allowed",
            "not_allowed",
            "points_unknown_behaviour",
        ]


async def test_redeem_request_approve_hand_over_and_reject_with_refund(tmp_path: Path) -> None:
    async with offline_emulator() as emu:
        populate(emu)
        async with offline_bot(
            emu, tmp_path, clock=FakeClock(MONDAY_8AM), config=community_config(tmp_path)
        ) as bot:
            await open_privates(emu, RESIDENT, SECRETARY)
            services = bot.state.require_services()
            await services.points.correct(
                SECRETARY_ACTOR, RESIDENT, 140, "测试积分", name="周大爷"
            )
            catalogue = await say(emu, RESIDENT, RESIDENT, "/redeem")
            assert (
                "余额 140 分" in catalogue.text
                and "大米 5kg — 100 分（库存 30）" in catalogue.text
            )
            assert "redeem:rice" in button_data(catalogue)

            answer = await press(emu, RESIDENT, RESIDENT, catalogue, "redeem:rice")
            assert "已申请兑换 大米 5kg" in answer
            card = await emu.wait_for(SECRETARY, lambda m: "兑换申请 #1" in m.text)
            assert button_data(card) == ["rdok:1", "rdgive:1", "rdno:1"]
            assert await services.points.balance(RESIDENT) == 40

            await press(emu, SECRETARY, SECRETARY, card, "rdok:1")
            assert "已核准" in (await emu.wait_for(RESIDENT, lambda m: "#1" in m.text)).text
            await bot.idle()
            card = emu.message(SECRETARY, card.message_id)
            assert "已核准" in card.text and button_data(card) == ["rdgive:1", "rdno:1"]
            await press(emu, SECRETARY, SECRETARY, card, "rdgive:1")
            assert "已发放" in (await emu.wait_for(RESIDENT, lambda m: "已发放" in m.text)).text

            await press(emu, RESIDENT, RESIDENT, catalogue, "redeem:tissue")
            second = await emu.wait_for(SECRETARY, lambda m: "兑换申请 #2" in m.text)
            await press(emu, SECRETARY, SECRETARY, second, "rdno:2")
            await emu.wait_for(SECRETARY, lambda m: "拒绝兑换申请 #2" in m.text)
            await emu.send_text(SECRETARY, SECRETARY, "本季度抽纸已兑完")
            refund = await emu.wait_for(RESIDENT, lambda m: "未通过" in m.text)
            assert "本季度抽纸已兑完" in refund.text and "30 分已退回" in refund.text
            assert await services.points.balance(RESIDENT) == 40
            stock = {i.code: i.stock for i in await services.redemption.catalogue()}
            assert stock["rice"] == 29 and stock["tissue"] == 50
            assert await services.points.check_balances() == []
            assert await services.db.fetchval("SELECT COUNT(*) FROM tickets") == 0


async def test_double_redemptions_pressed_at_once_never_go_negative(tmp_path: Path) -> None:
    async with Emulator() as emu:
        populate(emu)
        async with running_bot(
            emu,
            tmp_path,
            clock=FakeClock(MONDAY_8AM),
            config=community_config(tmp_path),
            expect_errors=True,
        ) as bot:
            await open_privates(emu, RESIDENT, NEIGHBOUR, SECRETARY, WORKER_LI)
            services = bot.state.require_services()
            await services.points.correct(SECRETARY_ACTOR, RESIDENT, 100, "测试", name="周大爷")
            await services.points.correct(SECRETARY_ACTOR, NEIGHBOUR, 50, "测试", name="吴阿姨")
            mine = await say(emu, RESIDENT, RESIDENT, "/redeem")
            theirs = await say(emu, NEIGHBOUR, NEIGHBOUR, "/redeem")
            # Balance for one bag of rice, pressed twice; and two people race for one soap.
            presses = [
                await emu.press_button(RESIDENT, RESIDENT, mine.message_id, "redeem:rice"),
                await emu.press_button(RESIDENT, RESIDENT, mine.message_id, "redeem:rice"),
                await emu.press_button(RESIDENT, RESIDENT, mine.message_id, "redeem:soap"),
                await emu.press_button(NEIGHBOUR, NEIGHBOUR, theirs.message_id, "redeem:soap"),
            ]
            answers = await asyncio.gather(*(emu.wait_for_answer(q, 10) for q in presses))
            texts_ = [a.text or "" for a in answers]
            assert "已申请兑换 大米 5kg" in texts_[0]
            assert texts_[1] == texts.ERRORS["points_insufficient"].format(balance=0, needed=100)
            assert texts_[2] == texts.ERRORS["points_insufficient"].format(balance=0, needed=10)
            assert "已申请兑换 洗衣皂" in texts_[3]
            # A press is answered before its update commits (an answer cannot wait).
            await bot.idle()
            stock = {i.code: i.stock for i in await services.redemption.catalogue()}
            assert stock["soap"] == 0 and stock["rice"] == 29
            assert await services.points.balance(RESIDENT) == 0
            assert await services.points.balance(NEIGHBOUR) == 40
            assert await services.points.check_balances() == []
            # The soap is gone: the next press says so, and nothing moves.
            late = await press(emu, NEIGHBOUR, NEIGHBOUR, theirs, "redeem:soap")
            assert late == texts.ERRORS["redeem_out_of_stock"].format(item="洗衣皂", stock=0)
        assert sorted(only_domain_errors(bot)) == [
            "points_insufficient",
            "points_insufficient",
            "redeem_out_of_stock",
        ]


async def test_forged_approval_and_cancel_buttons_from_others_change_nothing(
    tmp_path: Path,
) -> None:
    async with offline_emulator() as emu:
        populate(emu)
        async with offline_bot(
            emu, tmp_path, clock=FakeClock(MONDAY_8AM), config=community_config(tmp_path)
        ) as bot:
            await open_privates(emu, RESIDENT, NEIGHBOUR, SECRETARY)
            services = bot.state.require_services()
            await services.points.correct(
                SECRETARY_ACTOR, RESIDENT, 140, "测试积分", name="周大爷"
            )
            catalogue = await say(emu, RESIDENT, RESIDENT, "/redeem")
            await press(emu, RESIDENT, RESIDENT, catalogue, "redeem:rice")
            await emu.wait_for(SECRETARY, lambda m: "兑换申请 #1" in m.text)
            # A neighbour replays the secretary's and the resident's callback data from their
            # own chat: approve, hand over, refuse, cancel someone else's request.
            mine = await say(emu, NEIGHBOUR, NEIGHBOUR, "/points")
            answers = [
                await press(emu, NEIGHBOUR, NEIGHBOUR, mine, data, check=False)
                for data in ("rdok:1", "rdgive:1", "rdno:1", "rdcancel:1")
            ]
            assert answers == [texts.ERRORS["not_allowed"]] * 4
            await bot.idle()
            assert await services.points.balance(RESIDENT) == 40  # still reserved, once
            assert [r.status for r in await services.redemption.pending()] == ["requested"]
            assert await services.points.check_balances() == []
            assert only_domain_errors(bot) == ["not_allowed"] * 4
