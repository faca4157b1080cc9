"""Scheduled posts with an injected clock: due, caught up, missed, quiet, empty, never twice."""

from __future__ import annotations

import asyncio
from datetime import UTC, time, timedelta
from pathlib import Path
from typing import Any

import pytest

from bot import texts
from bot.services.clock import FakeClock
from bot.services.community import ConfigError
from bot.services.errors import DomainError
from bot.services.schedule import (
    ScheduleConfig,
    ScheduleService,
    last_monthly,
    parse_schedule_config,
    quiet_until,
)
from storage.db import Database
from storage.outbox import OutboxItem, OutboxRepository
from tests.points_support import (
    ADMIN,
    ALICE,
    BOB,
    COMMUNITY,
    DAY,
    HOUR,
    TZ,
    WORKER,
    add_ticket,
    bind_group,
    give_points,
    local,
    services,
)

pytestmark = pytest.mark.both_stores

GROUP = -1001
OTHER = -1002
EVENTS = [
    {
        "code": "council_day",
        "name": "居民议事日",
        "day": 10,
        "time": "09:00",
        "note": "地点：社区活动室",
    },
    {
        "code": "redeem_day",
        "name": "积分兑换日",
        "day": 28,
        "months": [3, 6, 9, 12],
        "days_before": 3,
        "time": "09:00",
    },
]


def config(**schedule: Any) -> ScheduleConfig:
    """A schedule with every post off except those named."""
    section: dict[str, Any] = {
        "digest": "off",
        "weekly": "off",
        "monthly": "off",
        "reminders": "off",
        "quiet_hours": "22:00-07:00",
        "grace_minutes": 120,
    }
    section.update(schedule)
    return parse_schedule_config({"schedule": section, "events": EVENTS}, "test.toml")


def service(db: Database, clock: FakeClock, cfg: ScheduleConfig) -> ScheduleService:
    return ScheduleService(db, clock, cfg, TZ, grid_names={"g1": "第一网格"}, community=COMMUNITY)


async def queued(db: Database, chat_id: int | None = None) -> list[OutboxItem]:
    """Everything in the outbox, whenever it may be sent."""
    items = await OutboxRepository(db).due(local(2100, 1, 1), limit=10_000)
    return [i for i in items if chat_id is None or i.chat_id == chat_id]


async def test_daily_digest_lists_open_tickets_overdue_first_and_tasks_with_buttons(
    db: Database, clock: FakeClock
) -> None:
    now = clock.now()  # Monday 09:00, half an hour after the 08:30 digest
    await bind_group(db, GROUP, ["g1"])
    late = await add_ticket(
        db,
        created_at=now - 3 * DAY,
        status="accepted",
        accepted_at=now - 3 * DAY + HOUR,
        resolve_due_at=now - DAY,
        category="drainage",
    )
    fresh = await add_ticket(
        db, created_at=now - 2 * HOUR, status="new", accept_due_at=now + 2 * HOUR, building="5"
    )
    await add_ticket(db, created_at=now - HOUR, grid="g2")  # another grid's
    await add_ticket(db, created_at=now - DAY, status="resolved")  # finished
    await add_ticket(db, created_at=now - DAY, is_private=True)  # reported privately
    s = services(db, clock)
    task = await s.tasks.publish(WORKER, title="更换楼道灯泡", points=10, capacity=2)

    decided = await service(db, clock, config(digest="08:30")).run_due()
    assert [(p.chat_id, p.kind, p.outcome) for p in decided] == [(GROUP, "digest", "queued")]
    [item] = await queued(db)
    text = item.message.text
    numbers = {
        tid: await db.fetchval("SELECT number FROM tickets WHERE id = ?", (tid,))
        for tid in (late, fresh)
    }
    assert "未办结工单 2 件，其中已超时 1 件" in text
    assert text.index(f"#{numbers[late]} 排水管道 3号楼 处理中 3天") < text.index(
        f"#{numbers[fresh]} 公共设施 5号楼 待接单 2小时"
    )
    for private in ("张三丰", "13800138000", "电梯坏了"):
        assert private not in text
    assert f"#{task.id} 更换楼道灯泡 · 10分 · 余 2 个名额" in text
    assert [[b.data for b in row] for row in item.message.buttons] == [[f"claim:{task.id}"]]
    assert item.message.buttons[0][0].text.startswith("接单")


async def test_a_post_is_never_queued_twice(db: Database, clock: FakeClock) -> None:
    await bind_group(db, GROUP, [])
    await add_ticket(db, created_at=clock.now() - DAY)
    schedule = service(db, clock, config(digest="08:30"))
    assert len(await schedule.run_due()) == 1
    clock.advance(timedelta(minutes=1))
    assert await schedule.run_due() == []
    # A second process (or a restart) with its own service decides nothing new either.
    assert await service(db, clock, config(digest="08:30")).run_due() == []
    assert len(await queued(db)) == 1


async def test_two_processes_at_once_queue_one_post(tmp_path: Path, clock: FakeClock) -> None:
    path = tmp_path / "shared.sqlite3"
    first, second = Database(path), Database(path)
    await first.open()
    await second.open()
    try:
        await bind_group(first, GROUP, [])
        await add_ticket(first, created_at=clock.now() - DAY)
        cfg = config(digest="08:30")
        a, b = await asyncio.gather(
            service(first, clock, cfg).run_due(), service(second, clock, cfg).run_due()
        )
        assert len(a) + len(b) == 1
        assert len(await queued(first)) == 1
    finally:
        await first.close()
        await second.close()


async def test_catch_up_after_downtime_within_grace_posts_once(
    db: Database, clock: FakeClock
) -> None:
    await bind_group(db, GROUP, [])
    await add_ticket(db, created_at=clock.now() - DAY)
    clock.set(local(2026, 11, 23, 8, 0))
    schedule = service(db, clock, config(digest="08:30"))
    before = await schedule.run_due()  # yesterday's 08:30 is long past its grace
    assert [(p.period, p.outcome) for p in before] == [("2026-11-22", "missed")]
    assert await queued(db) == []
    # The bot is down from 08:00 and comes back at 10:15, inside the two-hour grace window.
    clock.set(local(2026, 11, 23, 10, 15))
    back = await schedule.run_due()
    assert [(p.period, p.outcome) for p in back] == [("2026-11-23", "queued")]
    clock.advance(timedelta(minutes=5))
    assert await schedule.run_due() == []
    assert len(await queued(db)) == 1


async def test_outside_grace_the_post_is_skipped(db: Database, clock: FakeClock) -> None:
    await bind_group(db, GROUP, [])
    await add_ticket(db, created_at=clock.now() - DAY)
    clock.set(local(2026, 11, 23, 10, 31))  # 2 h 1 min after 08:30
    schedule = service(db, clock, config(digest="08:30"))
    assert [(p.period, p.outcome) for p in await schedule.run_due()] == [("2026-11-23", "missed")]
    assert await queued(db) == []
    clock.set(local(2026, 11, 24, 8, 31))  # the next day posts as usual
    assert [p.outcome for p in await schedule.run_due()] == ["queued"]


async def test_quiet_hours_push_the_post_to_the_morning(db: Database, clock: FakeClock) -> None:
    await bind_group(db, GROUP, [])
    await add_ticket(db, created_at=clock.now() - DAY)
    schedule = service(db, clock, config(digest="08:30"))
    await schedule.set_schedule(ADMIN, GROUP, {"digest": "23:00"})
    clock.set(local(2026, 11, 23, 23, 5).astimezone(UTC))  # a Clock answers in UTC
    [post] = await schedule.run_due()
    assert post.outcome == "queued"
    assert post.not_before == local(2026, 11, 24, 7, 0)
    outbox = OutboxRepository(db)
    assert await outbox.due(clock.now()) == []
    assert await outbox.due(local(2026, 11, 24, 6, 59).astimezone(UTC)) == []
    assert len(await outbox.due(local(2026, 11, 24, 7, 0).astimezone(UTC))) == 1


def test_quiet_window_edges() -> None:
    quiet = (time(22, 0), time(7, 0))
    assert quiet_until(local(2026, 11, 23, 21, 59), quiet, TZ) == local(2026, 11, 23, 21, 59)
    assert quiet_until(local(2026, 11, 23, 22, 0), quiet, TZ) == local(2026, 11, 24, 7, 0)
    assert quiet_until(local(2026, 11, 24, 3, 0), quiet, TZ) == local(2026, 11, 24, 7, 0)
    assert quiet_until(local(2026, 11, 24, 7, 0), quiet, TZ) == local(2026, 11, 24, 7, 0)
    day_quiet = (time(12, 0), time(14, 0))
    assert quiet_until(local(2026, 11, 24, 13, 0), day_quiet, TZ) == local(2026, 11, 24, 14, 0)


async def test_a_group_with_nothing_to_report_gets_no_post(db: Database, clock: FakeClock) -> None:
    await bind_group(db, GROUP, ["g1"])
    await add_ticket(db, created_at=clock.now() - DAY, grid="g2")  # not this group's grid
    schedule = service(db, clock, config(digest="08:30", weekly="mon 08:30", monthly="23 08:30"))
    decided = await schedule.run_due()
    assert {(p.kind, p.outcome) for p in decided} == {
        ("digest", "empty"),
        ("weekly", "empty"),
        ("monthly", "empty"),
    }
    assert await queued(db) == []
    # A complaint arriving later that morning waits for tomorrow's digest, not a second one.
    await add_ticket(db, created_at=clock.now(), grid="g1")
    clock.advance(timedelta(minutes=10))
    assert await schedule.run_due() == []
    clock.set(local(2026, 11, 24, 8, 45))
    assert [(p.kind, p.outcome) for p in await schedule.run_due()] == [("digest", "queued")]


async def test_each_group_sees_its_own_grids(db: Database, clock: FakeClock) -> None:
    await bind_group(db, GROUP, ["g1"])
    await bind_group(db, OTHER, ["g2"])
    await add_ticket(db, created_at=clock.now() - DAY, grid="g1", category="noise")
    await add_ticket(db, created_at=clock.now() - DAY, grid="g2", category="pets")
    await service(db, clock, config(digest="08:30")).run_due()
    [mine] = await queued(db, GROUP)
    [theirs] = await queued(db, OTHER)
    assert "噪音扰民" in mine.message.text and "文明养宠" not in mine.message.text
    assert "文明养宠" in theirs.message.text and "噪音扰民" not in theirs.message.text


async def test_weekly_points_post_masks_names_and_lists_moved_balances(
    db: Database, clock: FakeClock
) -> None:
    await bind_group(db, GROUP, [])
    await bind_group(db, OTHER, [])
    s = services(db, clock)
    await s.residents.register(ALICE.user_id, ALICE.name, "3", "2", "301")
    await s.residents.register(BOB.user_id, BOB.name, "5", "1", "102")
    clock.set(local(2026, 11, 10, 10, 0))  # two weeks ago: Bob's points do not move this week
    await give_points(s, BOB, 7)
    clock.set(local(2026, 11, 21, 10, 0))  # last Saturday
    await give_points(s, ALICE, 12)
    clock.set(local(2026, 11, 23, 9, 0))
    schedule = service(db, clock, config(weekly="mon 08:30"))
    await schedule.set_schedule(ADMIN, OTHER, {"points_detail": "totals"})
    decided = await schedule.run_due()
    assert sorted((p.chat_id, p.kind, p.outcome) for p in decided) == [
        (OTHER, "weekly", "queued"),
        (GROUP, "weekly", "queued"),
    ]
    [full] = await queued(db, GROUP)
    text = full.message.text
    assert "积分公示（11月16日—11月23日）" in text
    assert "本周共发放积分 12 分" in text
    assert "3号楼 12分" in text and "5号楼 7分" in text
    assert "3号楼2单元3** 12分" in text
    assert "张** 12分" in text
    moved = text.split("本周积分有变动的居民")[1]
    assert "张**" in moved and "李**" not in moved
    assert "张三丰" not in text and "301" not in text
    [totals] = await queued(db, OTHER)
    assert "3号楼 12分" in totals.message.text and "张**" not in totals.message.text

    clock.set(local(2026, 11, 30, 9, 0))  # a week with no movement: no post
    assert {(p.kind, p.outcome) for p in await schedule.run_due()} == {("weekly", "empty")}


async def test_monthly_report_counts_tickets_rates_tasks_and_has_a_chart(
    db: Database, clock: FakeClock
) -> None:
    await bind_group(db, GROUP, ["g1"])
    start = local(2026, 10, 25, 9, 0)
    due = timedelta(hours=4)
    await add_ticket(  # accepted in time, resolved, satisfied
        db,
        created_at=start + DAY,
        accept_due_at=start + DAY + due,
        accepted_at=start + DAY + HOUR,
        resolved_at=start + 2 * DAY,
        status="closed",
        rating="satisfied",
    )
    await add_ticket(  # accepted late, still open
        db,
        created_at=start + 3 * DAY,
        accept_due_at=start + 3 * DAY + due,
        accepted_at=start + 4 * DAY,
        status="accepted",
        category="noise",
    )
    await add_ticket(db, created_at=start - DAY, category="pets")  # last month's period
    await add_ticket(db, created_at=start + DAY, grid="g2", category="pets")  # other grid
    s = services(db, clock)
    clock.set(local(2026, 11, 20, 10, 0))
    await give_points(s, ALICE, 10)
    clock.set(local(2026, 11, 25, 9, 30))
    decided = await service(db, clock, config(monthly="25 09:00")).run_due()
    assert [(p.kind, p.period, p.outcome, len(p.outbox_ids)) for p in decided] == [
        ("monthly", "2026-11", "queued", 2)
    ]
    report, chart = await queued(db)
    text = report.message.text
    assert "社区月报（10月25日—11月25日）" in text
    assert "新收工单 2 件" in text and "文明养宠" not in text
    assert "公共设施 1" in text and "噪音扰民 1" in text and "第一网格 2" in text
    assert "响应率 50% · 解决率 50% · 满意率 100%" in text
    assert "完成任务 1 个，发放积分 10 分" in text
    assert chart.message.photo_png is not None
    assert chart.message.photo_png.startswith(b"\x89PNG")
    assert len(chart.message.text) <= 1024


def test_monthly_day_beyond_a_short_month_falls_on_its_last_day() -> None:
    assert last_monthly(local(2026, 12, 1, 0, 0), 31, time(9), TZ) == local(2026, 11, 30, 9, 0)
    assert last_monthly(local(2027, 3, 1, 0, 0), 30, time(9), TZ) == local(2027, 2, 28, 9, 0)


async def test_event_reminders_for_council_day_and_quarterly_redemption(
    db: Database, clock: FakeClock
) -> None:
    await bind_group(db, GROUP, [])
    schedule = service(db, clock, config(reminders="on"))
    clock.set(local(2026, 11, 25, 9, 5))  # November is not a redemption month; 9 Nov is past
    assert {p.outcome for p in await schedule.run_due()} == {"missed"}
    assert await queued(db) == []
    clock.set(local(2026, 12, 9, 9, 10))
    [post] = await schedule.run_due()
    assert (post.kind, post.period) == ("event:council_day", "2026-12-10")
    [item] = await queued(db)
    assert item.message.text == "📅 提醒：明天（12月10日）是居民议事日。地点：社区活动室"
    assert await schedule.run_due() == []

    clock.set(local(2026, 12, 25, 9, 5))
    [post] = await schedule.run_due()
    assert (post.kind, post.period) == ("event:redeem_day", "2026-12-28")
    assert "3天后（12月28日）是积分兑换日" in (await queued(db))[-1].message.text


async def test_reminders_can_be_turned_off_per_group(db: Database, clock: FakeClock) -> None:
    await bind_group(db, GROUP, [])
    await bind_group(db, OTHER, [])
    schedule = service(db, clock, config(reminders="on"))
    await schedule.set_schedule(ADMIN, OTHER, {"reminders": "off"})
    clock.set(local(2026, 12, 9, 9, 10))
    assert [p.chat_id for p in await schedule.run_due()] == [GROUP]


async def test_set_schedule_is_for_admins_and_checks_values(
    db: Database, clock: FakeClock
) -> None:
    schedule = service(db, clock, config(digest="08:30"))
    with pytest.raises(DomainError) as err:
        await schedule.set_schedule(WORKER, GROUP, {"digest": "07:00"})
    assert err.value.code == "not_allowed"
    with pytest.raises(DomainError) as err:
        await schedule.set_schedule(ADMIN, GROUP, {"lunch": "12:00"})
    assert err.value.code == "schedule_unknown_key"
    for key, bad in (("digest", "25:00"), ("weekly", "someday 10:00"), ("monthly", "32 09:00")):
        with pytest.raises(DomainError) as err:
            await schedule.set_schedule(ADMIN, GROUP, {key: bad})
        assert err.value.code == "schedule_bad_value"
        assert err.value.params["key"] == texts.SCHEDULE_LABELS[key]
    changed = await schedule.set_schedule(
        ADMIN, GROUP, {"digest": "07:45", "weekly": "周六 10:00", "points_detail": "totals"}
    )
    assert changed.digest == time(7, 45) and changed.weekly == (5, time(10, 0))
    again = service(db, clock, config(digest="08:30"))  # after a restart
    assert await again.schedule_for(GROUP) == changed
    assert (await again.schedule_for(OTHER)).digest == time(8, 30)
    assert (await again.reset_schedule(ADMIN, GROUP)).digest == time(8, 30)


def test_schedule_config_problems_are_named() -> None:
    with pytest.raises(ConfigError) as err:
        parse_schedule_config(
            {
                "schedule": {"digest": "8.30", "grace_minutes": -5, "colour": "red"},
                "events": [{"code": "x", "name": "", "day": 40}],
            },
            "community.toml",
        )
    message = str(err.value)
    for key in (
        "schedule.digest",
        "schedule.grace_minutes",
        "schedule.colour",
        "events[0].name",
        "events[0].day",
    ):
        assert f"community.toml: {key}" in message
    defaults = parse_schedule_config({}, "empty.toml")
    assert defaults.defaults.digest == time(8, 30) and defaults.grace == timedelta(hours=2)
