"""Whole bot over HTTP: /schedule, and every scheduled post driven by an injected FakeClock."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from bot import texts
from bot.services.clock import FakeClock
from bot.services.residents import Person
from tests.botkit import (
    GROUP,
    GROUP_G1,
    NEIGHBOUR,
    RESIDENT,
    SECRETARY,
    RunningBot,
    open_privates,
    populate,
    running_bot,
)
from tests.community_kit import (
    MONDAY_8AM,
    SECRETARY_ACTOR,
    button_data,
    only_domain_errors,
    open_ticket,
    press,
    run_schedule_job,
    say,
)
from tgsandbox import Emulator
from tgsandbox.model import BotMessage

pytestmark = pytest.mark.both_stores

LI = Person(2001, "李娜", is_worker=True)
SHANGHAI = timedelta(hours=8)


def local(year: int, month: int, day: int, hour: int, minute: int = 0) -> datetime:
    """A Shanghai wall-clock time as an aware UTC datetime."""
    return datetime(year, month, day, hour, minute, tzinfo=UTC) - SHANGHAI


def posts(emu: Emulator, chat_id: int, head: str) -> list[BotMessage]:
    """Return the bot's messages in a chat that start with a post's title."""
    return [m for m in emu.sent(chat_id) if m.text.startswith(head)]


DIGEST = "📋 每日简报"
WEEKLY = "🏅 积分公示"
MONTHLY = "📊 社区月报"


async def _publish(bot: RunningBot, title: str = "清理楼道杂物") -> None:
    await bot.state.require_services().tasks.publish(LI, title=title, points=10)


async def test_admin_shows_and_changes_the_group_schedule_privately(tmp_path: Path) -> None:
    async with Emulator() as emu:
        populate(emu)
        async with running_bot(emu, tmp_path, expect_errors=True) as bot:
            # Before the admin opened a private chat: no schedule in the group, a way to the bot.
            before = await say(emu, GROUP, SECRETARY, "/schedule")
            assert before.text.startswith("设置详情只私聊发送") and "⏰" not in before.text
            await open_privates(emu, SECRETARY)

            async def schedule(chat: int, args: str) -> tuple[str, str]:
                """Return what the group and the admin's private chat were told."""
                mark = len(emu.sent(SECRETARY))
                in_group = await say(emu, chat, SECRETARY, f"/schedule {args}".strip())
                private = await emu.wait_for(SECRETARY, after=mark)
                return in_group.text, private.text

            group, shown = await schedule(GROUP, "")
            assert group == texts.SCHEDULE_SENT_PRIVATELY
            assert shown.startswith("⏰ “幸福里业主群”的定时发布设置")
            assert "每日简报：每天 08:30" in shown and "积分公示：每周日 18:00" in shown
            assert "月报：每月25日 09:00" in shown and "免打扰：22:00—07:00" in shown

            group, changed = await schedule(GROUP, "digest 07:45")
            assert group == "✅ 本群定时发布已调整：每日简报改为每天 07:45。"
            assert "每日简报：每天 07:45" in changed
            group, totals = await schedule(GROUP, "公示明细 总数")
            assert group == f"✅ 本群定时发布已调整：公示明细改为{texts.SCHEDULE_DETAIL_TOTALS}。"
            assert (
                f"公示明细：{texts.SCHEDULE_DETAIL_TOTALS}" in totals
                or texts.SCHEDULE_DETAIL_TOTALS in totals
            )
            group, off = await schedule(GROUP, "积分公示 关闭")
            assert "积分公示：不发" in off and group.endswith("积分公示改为不发。")
            # Nothing longer than one line went to the residents' group.
            assert all("\n" not in m.text for m in emu.sent(GROUP))

            bad = await say(emu, GROUP, SECRETARY, "/schedule digest 25:00")
            assert bad.text == "“每日简报”的值不对，应为：时间或“关闭”，例如 08:30"
            usage = (await say(emu, GROUP, SECRETARY, "/schedule colour red")).text
            assert "可设置：每日简报、积分公示、月报、公示明细、免打扰、活动提醒" in usage
            assert "digest" not in bad.text + usage
            refused = await say(emu, GROUP, RESIDENT, "/schedule digest 06:00")
            assert refused.text == texts.ERRORS["not_allowed"]
            private = await say(emu, SECRETARY, SECRETARY, "/schedule")
            assert private.text == texts.SCHEDULE_ONLY_GROUP
            # Another group keeps the defaults; a reset brings them back.
            _, other = await schedule(GROUP_G1, "")
            assert "“一网格群”" in other and "每天 08:30" in other
            group, reset = await schedule(GROUP, "重置")
            assert group == texts.SCHEDULE_RESET_GROUP
            assert "每天 08:30" in reset and "每周日 18:00" in reset
        assert only_domain_errors(bot) == ["schedule_bad_value", "not_allowed"]


async def test_daily_digest_posts_once_with_claim_buttons_even_across_restarts(
    tmp_path: Path,
) -> None:
    clock = FakeClock(MONDAY_8AM)
    async with Emulator() as emu:
        populate(emu)
        async with running_bot(emu, tmp_path, clock=clock) as bot:
            await open_privates(emu, RESIDENT)
            await say(emu, RESIDENT, RESIDENT, "/register 3 2 301")
            await _publish(bot)
            await open_ticket(bot, "facilities", "digest")
            await run_schedule_job(bot)
            assert posts(emu, GROUP, DIGEST) == []  # 08:00: not yet

            clock.set(local(2026, 11, 23, 8, 31))
            await run_schedule_job(bot)
            [digest] = posts(emu, GROUP, DIGEST)
            assert "11月23日" in digest.text and "#1 公共设施" in digest.text
            assert "周大爷" not in digest.text  # no personal data in the group
            assert button_data(digest) == ["claim:1"]
            assert len(posts(emu, GROUP_G1, DIGEST)) == 1
            assert "接单成功" in await press(emu, GROUP, RESIDENT, digest, "claim:1")

            await run_schedule_job(bot)
            clock.advance(timedelta(minutes=30))
            await run_schedule_job(bot)
        async with running_bot(emu, tmp_path, clock=clock) as bot:
            await run_schedule_job(bot)
            await bot.idle()
        assert len(posts(emu, GROUP, DIGEST)) == 1
        assert len(posts(emu, GROUP_G1, DIGEST)) == 1


async def test_a_post_missed_while_down_is_caught_up_once_within_grace_else_skipped(
    tmp_path: Path,
) -> None:
    clock = FakeClock(MONDAY_8AM)
    async with Emulator() as emu:
        populate(emu)
        async with running_bot(emu, tmp_path, clock=clock) as bot:
            await _publish(bot)
            await run_schedule_job(bot)
        # Down from 08:00 to 09:45: the 08:30 digest is 75 minutes late, inside the 2-hour grace.
        clock.set(local(2026, 11, 23, 9, 45))
        async with running_bot(emu, tmp_path, clock=clock) as bot:
            await run_schedule_job(bot)
            await run_schedule_job(bot)
        assert len(posts(emu, GROUP, DIGEST)) == 1
        async with running_bot(emu, tmp_path, clock=clock) as bot:
            await run_schedule_job(bot)
        assert len(posts(emu, GROUP, DIGEST)) == 1

        # Down all the next morning: at 11:00 the 08:30 digest is past grace and is not sent.
        clock.set(local(2026, 11, 24, 11, 0))
        async with running_bot(emu, tmp_path, clock=clock) as bot:
            await run_schedule_job(bot)
            runs = await bot.state.require_services().schedule.repo.runs(GROUP)
        assert ("digest", "2026-11-24", "missed") in runs
        assert [m.text.splitlines()[0] for m in posts(emu, GROUP, DIGEST)] == [
            "📋 每日简报 11月23日"
        ]


async def test_weekly_points_post_with_balances_or_totals_only(tmp_path: Path) -> None:
    clock = FakeClock(local(2026, 11, 25, 10, 0))
    async with Emulator() as emu:
        populate(emu)
        async with running_bot(emu, tmp_path, clock=clock) as bot:
            services = bot.state.require_services()
            await services.residents.register(RESIDENT, "周大爷", "3", "2", "301")
            await services.residents.register(NEIGHBOUR, "吴阿姨", "7", "1", "102")
            await services.points.correct(SECRETARY_ACTOR, RESIDENT, 30, "帮忙搬运物资")
            await services.points.correct(SECRETARY_ACTOR, NEIGHBOUR, 10, "垃圾分类")
            await say(emu, GROUP, SECRETARY, "/schedule points totals")
            await say(emu, GROUP_G1, SECRETARY, "/schedule digest off")

            clock.set(local(2026, 11, 29, 17, 59))
            await run_schedule_job(bot)
            assert posts(emu, GROUP_G1, WEEKLY) == []
            clock.set(local(2026, 11, 29, 18, 1))
            await run_schedule_job(bot)
            [detailed] = posts(emu, GROUP_G1, WEEKLY)
            assert "本周共发放积分 40 分" in detailed.text
            assert "3号楼 30分" in detailed.text and "7号楼 10分" in detailed.text
            assert "周** 30分" in detailed.text and "吴** 10分" in detailed.text
            assert "周大爷" not in detailed.text and "301" not in detailed.text
            [totals] = posts(emu, GROUP, WEEKLY)
            assert "3号楼 30分" in totals.text and "周**" not in totals.text
            assert "/points" in totals.text

            # A week in which no points moved gets no post at all.
            clock.set(local(2026, 12, 6, 18, 1))
            await run_schedule_job(bot)
            assert len(posts(emu, GROUP_G1, WEEKLY)) == 1
            runs = await services.schedule.repo.runs(GROUP_G1)
            assert ("weekly", "2026-12-06", "empty") in runs


async def test_monthly_report_comes_with_a_chart_photo(tmp_path: Path) -> None:
    clock = FakeClock(MONDAY_8AM)
    async with Emulator() as emu:
        populate(emu)
        async with running_bot(emu, tmp_path, clock=clock) as bot:
            await open_ticket(bot, "facilities", "m1")
            await open_ticket(bot, "facilities", "m2", building="4")
            await open_ticket(bot, "greenery", "m3", grid="g2", building="7")
            clock.set(local(2026, 11, 25, 9, 5))
            await run_schedule_job(bot)
            [report] = posts(emu, GROUP, MONTHLY)
            assert "10月25日—11月25日" in report.text and "新收工单 3 件" in report.text
            assert "公共设施 2" in report.text and "响应率" in report.text
            photos = [c for c in emu.calls_to("sendPhoto") if int(c["chat_id"]) == GROUP]
            assert len(photos) == 1 and "工单分类" in photos[0]["caption"]
            chart = [m for m in emu.sent(GROUP) if m.photo]
            assert len(chart) == 1 and chart[0].photo
            # The one-grid group reports its own grid only: one category, so no chart.
            [own] = posts(emu, GROUP_G1, MONTHLY)
            assert "新收工单 2 件" in own.text
            assert not [m for m in emu.sent(GROUP_G1) if m.photo]
            await run_schedule_job(bot)
            assert len(posts(emu, GROUP, MONTHLY)) == 1


async def test_event_reminders_and_quiet_hours(tmp_path: Path) -> None:
    clock = FakeClock(local(2026, 12, 8, 12, 0))
    async with Emulator() as emu:
        populate(emu)
        async with running_bot(emu, tmp_path, clock=clock) as bot:
            await say(emu, GROUP_G1, SECRETARY, "/schedule reminders off")
            await say(emu, GROUP, SECRETARY, "/schedule digest 23:00")
            await _publish(bot, "检查消防通道")
            clock.set(local(2026, 12, 9, 9, 5))
            await run_schedule_job(bot)
            [reminder] = posts(emu, GROUP, "📅 提醒")
            assert "明天（12月10日）是居民议事日" in reminder.text
            assert posts(emu, GROUP_G1, "📅 提醒") == []

            # A digest at 23:00 falls in the quiet hours: it waits for 07:00, then goes once.
            assert posts(emu, GROUP, DIGEST) == []
            clock.set(local(2026, 12, 9, 23, 1))
            await run_schedule_job(bot)
            await bot.idle()
            assert posts(emu, GROUP, DIGEST) == []
            clock.set(local(2026, 12, 10, 7, 0))
            await run_schedule_job(bot)
            [digest] = posts(emu, GROUP, DIGEST)
            assert "检查消防通道" in digest.text
            await run_schedule_job(bot)
            assert len(posts(emu, GROUP, DIGEST)) == 1
