"""Whole bot: staff commands take a person's name or a reply; /register is private."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot import texts
from bot.services.clock import FakeClock
from tests.botkit import (
    GROUP,
    NEIGHBOUR,
    RESIDENT,
    SECRETARY,
    open_privates,
    populate,
)
from tests.community_kit import MONDAY_8AM, only_domain_errors, say
from tests.fastkit import offline_bot, offline_emulator

pytestmark = pytest.mark.both_stores

NAMESAKE = 3003  # a second 周大爷


async def test_award_by_name_by_reply_and_a_clear_answer_when_unsure(tmp_path: Path) -> None:
    async with offline_emulator() as emu:
        populate(emu)
        async with offline_bot(emu, tmp_path, clock=FakeClock(MONDAY_8AM)) as bot:
            await open_privates(emu, RESIDENT, NEIGHBOUR, SECRETARY)
            await say(emu, RESIDENT, RESIDENT, "/register 5 1 101")

            by_name = await say(emu, SECRETARY, SECRETARY, "/award 周大爷 help_elderly 陪老人看病")
            assert by_name.text.startswith("已记录：周大爷 +10 分（帮扶独居老人：陪老人看病）")
            notice = await emu.wait_for(RESIDENT, lambda m: "积分变动" in m.text)
            assert "+10 分" in notice.text

            # In the group, a reply to the person's own message names them.
            said = await emu.send_text(GROUP, NEIGHBOUR, "楼道我扫干净了")
            mark = len(emu.sent(GROUP))
            await emu.send_text(
                GROUP, SECRETARY, "/award help_elderly 打扫楼道", reply_to=said["message_id"]
            )
            by_reply = await emu.wait_for(GROUP, after=mark)
            assert by_reply.text.startswith("已记录：吴阿姨 +10 分")
            services = bot.state.require_services()
            assert await services.points.balance(NEIGHBOUR) == 10

            unknown = await say(emu, SECRETARY, SECRETARY, "/deduct 钱七 throw_from_height 扔垃圾")
            assert unknown.text == texts.AWARD_NAME_UNKNOWN.format(name="钱七", command="/deduct")

            emu.add_user(NAMESAKE, "周大爷")
            await open_privates(emu, NAMESAKE)
            unsure = await say(emu, SECRETARY, SECRETARY, "/award 周大爷 help_elderly 再来一次")
            assert unsure.text.startswith("有 2 位叫“周大爷”的居民")
            assert f"ID {RESIDENT}" in unsure.text and f"ID {NAMESAKE}" in unsure.text
            assert await services.points.balance(RESIDENT) == 10  # nothing awarded when unsure

            looked_up = await say(emu, SECRETARY, SECRETARY, "/points 吴阿姨")
            assert "当前余额：10 分" in looked_up.text
        assert only_domain_errors(bot) == []


async def test_register_only_in_private_and_only_for_the_communitys_buildings(
    tmp_path: Path,
) -> None:
    async with offline_emulator() as emu:
        populate(emu)
        async with offline_bot(emu, tmp_path, expect_errors=True) as bot:
            await open_privates(emu, RESIDENT)
            services = bot.state.require_services()

            in_group = await say(emu, GROUP, NEIGHBOUR, "/register 3 2 302")
            assert in_group.text.startswith("住址是个人信息，请私聊我登记")
            assert f"t.me/{emu.bot_user['username']}?start=register" in in_group.text
            assert await services.residents.get(NEIGHBOUR) is None  # not stored

            done = await say(emu, RESIDENT, RESIDENT, "/register 3 2 301")
            assert "3号楼2单元301" in done.text
            refused = await say(emu, RESIDENT, RESIDENT, "/register 十五号楼 1 2")
            assert refused.text.startswith("本社区没有“十五号楼”。可登记的楼栋：1、2、3")
            assert "14号楼" in refused.text
            kept = await services.residents.get(RESIDENT)
            assert kept is not None and kept.household_key == "3-2-301"

            # The group's link opens the private chat with the form to use.
            await emu.open_private(NEIGHBOUR, payload="register")
            hint = await emu.wait_for(NEIGHBOUR)
            assert hint.text == texts.REGISTER_USAGE
        assert only_domain_errors(bot) == ["resident_unknown_building"]
