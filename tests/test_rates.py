"""The three rates on a known ticket history, built through the service with a fake clock."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest

from bot.services.clock import FakeClock
from bot.services.escalation import EscalationPolicy, EscalationSweep
from bot.services.rates import GroupBy, RateRow, compute_rates, format_rates, rate_rows
from bot.services.sla import SlaPolicy
from bot.services.tickets import Actor, NewTicket, TicketService
from storage.db import Database
from storage.rates import micros_sql
from storage.tickets import TicketRepository, iso

pytestmark = pytest.mark.both_stores

WANG = Actor(user_id=501, name="王网格", worker_key="wang")
LI = Actor(user_id=502, name="李网格", worker_key="li")
SECRETARY = Actor(user_id=900, name="刘书记", worker_key="secretary", is_admin=True)
SINCE = datetime(2026, 11, 22, 16, 0, tzinfo=UTC)  # Monday 00:00 in Shanghai
UNTIL = SINCE + timedelta(days=7)
AS_OF = datetime(2026, 11, 27, 4, 0, tzinfo=UTC)  # Friday 12:00 in Shanghai


def complaint(n: int, worker: Actor, grid: str) -> NewTicket:
    return NewTicket(
        community="幸福里",
        source_key=f"msg:{n}",
        text=f"问题{n}",
        category="facilities",
        confidence=0.9,
        keywords=(),
        urgency="normal",
        location={},
        building=str(n),
        grid=grid,
        reporter_id=1000 + n,
        reporter_name=f"居民{n}",
        is_private=False,
        chat_id=-100,
        message_id=n,
        assignee_key=worker.worker_key,
        assignee_id=worker.user_id,
    )


async def build_history(db: Database, clock: FakeClock) -> None:
    """Monday 09:00: seven complaints; what each worker did is written beside it."""
    sla = SlaPolicy()
    service = TicketService(db, clock, sla, "幸福里", office_ids=(900,))
    t = {}
    for n, worker, grid in (
        (1, WANG, "g1"),
        (2, WANG, "g1"),
        (3, WANG, "g1"),
        (4, WANG, "g1"),
        (5, LI, "g2"),
        (6, LI, "g2"),
        (7, LI, "g2"),
    ):
        t[n] = (await service.open_ticket(complaint(n, worker, grid)))[0].id
    start = clock.now()

    async def at(delta: timedelta) -> None:
        clock.set(start + delta)

    await at(timedelta(minutes=30))
    await service.accept(t[5], LI)  # in time, 30 minutes
    await at(timedelta(hours=1))
    await service.accept(t[1], WANG)  # in time, 60 minutes
    # A refusal in time (asked by the worker, approved by the secretary) is a response.
    asked = await service.request_reject(t[6], LI, reason="不属于社区事务", chat_id=502)
    await service.decide_reject(asked.id, SECRETARY, approve=True)
    await service.mark_duplicate(t[7], LI, of_ticket_id=t[5])  # not counted at all
    await at(timedelta(hours=2))
    await service.accept(t[3], WANG)  # in time, 120 minutes
    await at(timedelta(hours=5))
    await service.accept(t[2], WANG)  # late: the 4-hour deadline was 13:00
    # t4 is never accepted.
    await at(timedelta(hours=24))
    for n, worker in ((1, WANG), (2, WANG), (3, WANG), (5, LI)):
        await service.resolve(t[n], worker, note="", photo=None)
    await at(timedelta(hours=25))
    await service.rate(t[1], 1001, "satisfied")
    await service.rate(t[2], 1002, "unsatisfied")  # reopened: not resolved, rated unsatisfied
    await service.rate(t[5], 1005, "basic")
    # t3 is never rated; the sweep closes it as unrated after 72 hours.
    clock.set(AS_OF)
    await EscalationSweep(db, clock, sla, EscalationPolicy(community="幸福里")).run()
    assert (await service.get(t[3])).rating == "unrated"


@pytest.fixture
async def history(db: Database, clock: FakeClock) -> Database:
    await build_history(db, clock)
    return db


async def test_rates_per_worker(history: Database) -> None:
    rows = {r.key: r for r in await compute_rates(history, SINCE, UNTIL, "worker", as_of=AS_OF)}
    assert set(rows) == {"wang", "li"}
    assert rows["wang"] == RateRow(
        key="wang",
        tickets=4,
        due_for_response=4,  # t4's deadline passed without a response
        responded_in_time=2,  # t1, t3
        response_rate=0.5,
        resolved=2,  # t1 closed, t3 closed unrated; t2 reopened
        resolution_rate=0.5,
        rated=2,  # t1 satisfied, t2 unsatisfied; t3 unrated is left out
        satisfied=1,
        unrated=1,
        satisfaction_rate=0.5,
        avg_accept_minutes=160.0,  # (60 + 300 + 120) / 3
        avg_resolve_hours=24.0,
        overdue=2,  # t2 accepted late, t4 never accepted
    )
    assert rows["li"] == RateRow(
        key="li",
        tickets=2,
        due_for_response=2,
        responded_in_time=2,
        response_rate=1.0,
        resolved=1,
        resolution_rate=0.5,
        rated=1,
        satisfied=1,
        unrated=0,
        satisfaction_rate=1.0,
        avg_accept_minutes=30.0,
        avg_resolve_hours=24.0,
        overdue=0,
    )


async def test_rates_per_grid_and_community(history: Database) -> None:
    grids = await compute_rates(history, SINCE, UNTIL, "grid", as_of=AS_OF)
    assert [(r.key, r.tickets, r.response_rate) for r in grids] == [("g1", 4, 0.5), ("g2", 2, 1.0)]
    [whole] = await compute_rates(history, SINCE, UNTIL, "community", as_of=AS_OF)
    assert whole.key == "幸福里"
    assert (whole.tickets, whole.responded_in_time, whole.resolved, whole.rated) == (6, 4, 3, 3)
    assert whole.satisfaction_rate == pytest.approx(2 / 3)
    assert whole.avg_accept_minutes == pytest.approx(127.5)
    assert whole.overdue == 2


async def test_period_outside_the_history_is_empty(history: Database) -> None:
    assert await compute_rates(history, UNTIL, UNTIL + timedelta(days=7)) == []


async def test_an_open_ticket_becomes_due_only_when_its_deadline_passes(
    db: Database, clock: FakeClock
) -> None:
    service = TicketService(db, clock, SlaPolicy(), "幸福里")
    await service.open_ticket(complaint(1, WANG, "g1"))
    early = clock.now() + timedelta(hours=1)
    [row] = await compute_rates(db, SINCE, UNTIL, as_of=early)
    assert (row.due_for_response, row.response_rate, row.overdue) == (0, None, 0)
    late = clock.now() + timedelta(hours=5)
    [row] = await compute_rates(db, SINCE, UNTIL, as_of=late)
    assert (row.due_for_response, row.response_rate, row.overdue) == (1, 0.0, 1)


async def test_withdrawn_false_alarms_are_not_counted(db: Database, clock: FakeClock) -> None:
    service = TicketService(db, clock, SlaPolicy(), "幸福里")
    kept, _ = await service.open_ticket(complaint(1, WANG, "g1"))
    alarm, _ = await service.open_ticket(complaint(2, WANG, "g1"))
    await service.withdraw(alarm.id, 1002, within=timedelta(minutes=10))
    [row] = await compute_rates(db, SINCE, UNTIL, as_of=clock.now() + timedelta(hours=5))
    assert (row.tickets, row.due_for_response, row.overdue) == (1, 1, 1)
    assert kept.id != alarm.id


async def test_stats_message_names_the_workers_and_shows_percentages(history: Database) -> None:
    rows = await compute_rates(history, SINCE, UNTIL, "worker", as_of=AS_OF)
    text = format_rates(
        rows, date(2026, 11, 23), date(2026, 11, 29), "worker", {"wang": "王芳", "li": "李娜"}
    )
    lines = text.splitlines()
    assert lines[0] == "📊 2026-11-23 至 2026-11-29 工单“三率”（按网格员）"
    assert "李娜：工单 2 件" in lines
    assert "  响应率 50.0%｜解决率 50.0%｜满意率 50.0%（2 件评价，1 件未评价）" in lines
    assert "  平均接单 160 分钟｜平均办结 24.0 小时｜超时 2 件" in lines
    assert format_rates([], date(2026, 1, 1), date(2026, 1, 2), "grid").endswith(
        "这段时间没有工单。"
    )


@pytest.mark.parametrize("by", ["worker", "grid", "community"])
async def test_the_database_counts_what_the_definition_says(
    history: Database, by: GroupBy
) -> None:
    tickets = await TicketRepository(history).in_period(SINCE, UNTIL)
    for as_of in (SINCE + timedelta(hours=3), SINCE + timedelta(hours=30), AS_OF):
        expected = rate_rows(tickets, by, as_of)
        assert await compute_rates(history, SINCE, UNTIL, by, as_of=as_of) == expected


async def test_durations_are_exact_across_leap_days_years_and_microseconds(db: Database) -> None:
    origin = datetime(2023, 12, 31, 23, 59, 59, 999_999, tzinfo=UTC)
    moments = [
        datetime(2024, 1, 1, tzinfo=UTC),
        datetime(2024, 2, 28, 23, 0, 0, 1, tzinfo=UTC),
        datetime(2024, 2, 29, 12, 30, 15, 500_000, tzinfo=UTC),
        datetime(2024, 3, 1, 0, 0, 1, tzinfo=UTC),
        datetime(2025, 3, 1, 8, 0, tzinfo=UTC),
        datetime(2100, 3, 1, tzinfo=UTC),  # not a leap year
        datetime(2000, 2, 29, 6, 0, tzinfo=UTC),
    ]
    sql = f"SELECT {micros_sql(':t')} - {micros_sql(':o')}"
    for moment in moments:
        got = await db.fetchval(sql, {"t": iso(moment), "o": iso(origin)})
        assert got == (moment - origin) // timedelta(microseconds=1), moment
