"""A street office's month of rates and one deadline sweep over 1,000,000 tickets, on each store.

Figures (median of 5 after a warm-up, per store: `sqlite`, and `pg` when a PostgreSQL server
is installed — it is started for the run like scripts/test.sh does, and removed after):

- stats_1m_<store>_ms: `compute_rates` (the three rates 响应率/解决率/满意率, what /stats and
  `gridbot stats --by community` run) over the last 30 days of a year of tickets, every
  community of the street office at once (about 82,000 tickets in the month).
- sweep_1m_<store>_ms: one deadline sweep with 1 % of the tickets (10,000) due, as the sweep
  job runs it: which communities have work (one read), then each one's `EscalationSweep.run`,
  all in one transaction (`sweep_communities`).
- sweep_1m_1k_due_<store>_ms: the same with 1,000 due (the due count of sweep_100k_ms), which
  tells the table's size from the work: a sweep's cost is its due steps, not the table.

The database: 1,000,000 tickets created evenly over a year in 20 communities (8 grids and a
worker each), 8 categories, 5 % urgent; the old ones closed with ratings (70 % 满意, 15 % 基本满意,
5 % 不满意, 10 % closed unrated), some rejected, duplicates, withdrawn, awaiting a rating; some
accepted late. The newest 10,000 are open with deadlines ahead. Before them come the due
cohorts: 5 + 1 blocks of 10,000 tickets not accepted, their office step due at one minute
each (the first is the warm-up), then blocks of 1,000 for the second figure. Each sweep is run
at its cohort's minute on the same database, so it finds exactly that cohort due. The history
(ticket_events) and the ratings table stay empty: neither the rates nor the sweep read them.
"""

from __future__ import annotations

import asyncio
import sqlite3
import statistics
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import asyncpg

from bench._common import figure, note
from bench._pgserver import pg_server
from bot.services.clock import FakeClock
from bot.services.escalation import EscalationPolicy, EscalationSweep, sweep_communities
from bot.services.rates import compute_rates
from bot.services.sla import SlaPolicy
from storage.db import Database
from storage.pg import PgDatabase
from storage.store import Store

COUNT = 1_000_000
COMMUNITIES = 20
GRIDS = 8
CATEGORIES = (
    "facilities",
    "utilities",
    "sanitation",
    "noise",
    "parking",
    "greenery",
    "security",
    "neighbour",
)
REPEATS = 5
BIG_DUE = COUNT // 100  # 1 %
SMALL_DUE = 1_000
OPEN_TAIL = 10_000  # the newest tickets: open, deadlines ahead
NOW = datetime(2026, 11, 23, 6, 0, tzinfo=UTC)
START = NOW - timedelta(days=365)
MONTH = timedelta(days=30)
CHUNK = 50_000
POLICY = EscalationPolicy(office_ids=(900,), street_office_id=950, community="幸福里")

TICKET_COLUMNS = [
    "id",
    "community",
    "number",
    "source_key",
    "text",
    "category",
    "confidence",
    "keywords",
    "urgency",
    "location",
    "building",
    "grid",
    "reporter_id",
    "reporter_name",
    "is_private",
    "chat_id",
    "message_id",
    "status",
    "assignee_key",
    "assignee_id",
    "duplicate_of",
    "rating",
    "created_at",
    "accepted_at",
    "resolved_at",
    "closed_at",
    "accept_due_at",
    "resolve_due_at",
]
CLOCK_COLUMNS = ["ticket_id", "community", "escalation_level", "next_check_at"]
STEP_COLUMNS = [
    "ticket_id",
    "phase",
    "step",
    "started_at",
    "deadline_at",
    "due_at",
    "done_at",
    "outcome",
]

_DAY = 86_400
_HMS = [f"{s // 3600:02d}:{s // 60 % 60:02d}:{s % 60:02d}" for s in range(_DAY)]
_MIDNIGHT = START.replace(hour=0, minute=0, second=0)
_DAYS = [(_MIDNIGHT + timedelta(days=d)).strftime("%Y-%m-%d") for d in range(400)]
_MIDNIGHT_S = int(_MIDNIGHT.timestamp())


def _iso(seconds: int) -> str:
    """Seconds since START's midnight as the ISO text storage's iso() writes."""
    return f"{_DAYS[seconds // _DAY]}T{_HMS[seconds % _DAY]}+00:00"


def _at(moment: datetime) -> int:
    return int(moment.timestamp()) - _MIDNIGHT_S


@dataclass(frozen=True)
class Cohort:
    """Tickets first..last (inclusive) whose office step falls due just before `sweep_at`."""

    first: int
    last: int
    sweep_at: datetime


def cohorts() -> tuple[list[Cohort], list[Cohort]]:
    """Return the 1 % cohorts and the 1,000 cohorts, oldest ids first, the newest last."""
    big: list[Cohort] = []
    small: list[Cohort] = []
    last = COUNT - OPEN_TAIL
    minute = 1
    for size, out in ((SMALL_DUE, small), (BIG_DUE, big)):
        for _ in range(REPEATS + 1):
            out.append(Cohort(last - size + 1, last, NOW + timedelta(minutes=minute)))
            last -= size
            minute += 1
    return big, small


def _mix(i: int) -> int:
    return (i * 2_654_435_761 + 0x9E3779B9) & 0xFFFFFFFF


def rows(
    first: int, last: int, due: dict[int, int]
) -> Iterator[tuple[list[Any], list[Any], list[Any]]]:
    """Yield (tickets, steps, clocks) records in chunks for ids first..last; `due`: id -> due s."""
    now_s = _at(NOW)
    start_s = _at(START)
    span = now_s - start_s - 60  # every ticket created in the year before NOW
    for chunk_start in range(first, last + 1, CHUNK):
        tickets: list[Any] = []
        steps: list[Any] = []
        clocks: list[Any] = []
        for i in range(chunk_start, min(chunk_start + CHUNK, last + 1)):
            u = _mix(i)
            c = i % COMMUNITIES
            g = (u >> 4) % GRIDS
            created = start_s + (i - 1) * span // COUNT
            urgent = u % 20 == 0
            accept_due = created + (3_600 if urgent else 14_400)
            resolve_due = created + 3 * _DAY
            accepted = resolved = closed = next_check = duplicate_of = None
            rating = None
            due_s = due.get(i)
            if due_s is not None:
                # Not accepted; the reminder went out, the office step is due now.
                status = "new"
                accept_due = due_s
                next_check = _iso(due_s)
                remind = _iso(due_s - 3_600)
                steps.append(
                    (i, "accept", "remind", _iso(created), next_check, remind, remind, "done")
                )
                steps.append(
                    (i, "accept", "office", _iso(created), next_check, next_check, None, None)
                )
            elif i > COUNT - OPEN_TAIL:
                # Recent: accepted in time, the resolve reminder ahead.
                status = "accepted"
                accepted = _iso(created + 1_800)
                resolve_due = created + 7 * _DAY
                next_check = _iso(resolve_due - _DAY)
                steps.append(
                    (i, "resolve", "remind", accepted, _iso(resolve_due), next_check, None, None)
                )
            else:
                kind = (u >> 16) % 100
                accepted_s = created + 300 + (u >> 8) % 18_000  # 5 min .. 5 h: some late
                if kind < 2:
                    status = "rejected"
                    closed = _iso(created + 7_200)
                elif kind < 4:
                    status = "duplicate"
                    duplicate_of = i - 1
                    closed = _iso(created + 600)
                elif kind < 5:
                    status = "withdrawn"
                    closed = _iso(created + 300)
                else:
                    accepted = _iso(accepted_s)
                    resolved_s = accepted_s + 3_600 * (1 + (u >> 9) % 96)
                    resolved = _iso(resolved_s)
                    if kind < 6:
                        status = "resolved"  # waiting for a rating
                    else:
                        status = "closed"
                        closed = _iso(resolved_s + _DAY)
                        r = (u >> 24) % 100
                        rating = (
                            "satisfied"
                            if r < 70
                            else "basic"
                            if r < 85
                            else "unsatisfied"
                            if r < 90
                            else "unrated"
                        )
            tickets.append(
                (
                    i,
                    f"社区{c:02d}",
                    i // COMMUNITIES + 1,
                    f"msg:{i}",
                    "3号楼电梯坏了",
                    CATEGORIES[(u >> 12) % len(CATEGORIES)],
                    0.9,
                    '["电梯"]',
                    "urgent" if urgent else "normal",
                    '{"building": "3"}',
                    str((u >> 7) % 30 + 1),
                    f"g{g + 1}",
                    10_000 + (u >> 3) % 50_000,
                    "居民",
                    0,
                    -100_000 - c,
                    i,
                    status,
                    f"w{c:02d}{g + 1}",
                    100_000 + c * 10 + g,
                    duplicate_of,
                    rating,
                    _iso(created),
                    accepted,
                    resolved,
                    closed,
                    _iso(accept_due),
                    _iso(resolve_due),
                )
            )
            clocks.append((i, f"社区{c:02d}", 0, next_check))
        yield tickets, steps, clocks


def _due_map() -> dict[int, int]:
    big, small = cohorts()
    due: dict[int, int] = {}
    for cohort in (*big, *small):
        at = _at(cohort.sweep_at) - 30
        for i in range(cohort.first, cohort.last + 1):
            due[i] = at
    return due


def _numbers() -> list[tuple[str, int]]:
    return [(f"社区{c:02d}", COUNT // COMMUNITIES + 1) for c in range(COMMUNITIES)]


async def build_sqlite(path: Path) -> None:
    """Migrate a SQLite file, then fill it in big transactions (no ANALYZE: the bot runs none)."""
    db = Database(path)
    await db.open()
    await db.close()
    conn = sqlite3.connect(path)
    try:
        conn.execute("PRAGMA synchronous = OFF")
        ticket_sql = (
            f"INSERT INTO tickets ({', '.join(TICKET_COLUMNS)})"
            f" VALUES ({', '.join('?' for _ in TICKET_COLUMNS)})"
        )
        step_sql = (
            f"INSERT INTO ticket_steps ({', '.join(STEP_COLUMNS)})"
            f" VALUES ({', '.join('?' for _ in STEP_COLUMNS)})"
        )
        clock_sql = (
            f"INSERT INTO ticket_clock ({', '.join(CLOCK_COLUMNS)})"
            f" VALUES ({', '.join('?' for _ in CLOCK_COLUMNS)})"
        )
        for tickets, steps, clocks in rows(1, COUNT, _due_map()):
            with conn:
                conn.executemany(ticket_sql, tickets)
                conn.executemany(step_sql, steps)
                conn.executemany(clock_sql, clocks)
        with conn:
            conn.executemany(
                "INSERT INTO ticket_numbers (community, last) VALUES (?, ?)", _numbers()
            )
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    finally:
        conn.close()


async def build_pg(url: str) -> None:
    """Migrate a PostgreSQL database, then COPY the rows in and ANALYZE (autovacuum would)."""
    db = PgDatabase(url)
    await db.open()
    await db.close()
    conn = await asyncpg.connect(url)
    try:
        for tickets, steps, clocks in rows(1, COUNT, _due_map()):
            await conn.copy_records_to_table("tickets", records=tickets, columns=TICKET_COLUMNS)
            await conn.copy_records_to_table("ticket_steps", records=steps, columns=STEP_COLUMNS)
            await conn.copy_records_to_table("ticket_clock", records=clocks, columns=CLOCK_COLUMNS)
        await conn.copy_records_to_table(
            "ticket_numbers", records=_numbers(), columns=["community", "last"]
        )
        await conn.execute("SELECT setval(pg_get_serial_sequence('tickets', 'id'), $1)", COUNT)
        await conn.execute("VACUUM ANALYZE")
    finally:
        await conn.close()


async def time_stats(db: Store) -> tuple[float, int]:
    """Median ms of a month's rates by community, after a warm-up; and the tickets counted."""
    times: list[float] = []
    counted = 0
    for rep in range(REPEATS + 1):
        start = time.perf_counter()
        result = await compute_rates(db, NOW - MONTH, NOW, "community", as_of=NOW)
        elapsed = (time.perf_counter() - start) * 1000
        counted = sum(r.tickets for r in result)
        if rep:
            times.append(elapsed)
    return statistics.median(times), counted


async def time_sweeps(db: Store, chosen: list[Cohort]) -> float:
    """Median ms of one sweep per cohort (the first a warm-up); each must take its cohort."""
    times: list[float] = []
    for rep, cohort in enumerate(chosen):
        # The sweep job runs each community's sweep in turn: the street's sweep is all of them.
        clock = FakeClock(cohort.sweep_at)
        sweeps = [
            EscalationSweep(db, clock, SlaPolicy(), replace(POLICY, community=name))
            for name, _ in _numbers()
        ]
        start = time.perf_counter()
        busy = await sweeps[0].communities_with_work()  # as the job asks first
        results = await sweep_communities([s for s in sweeps if s.policy.community in busy])
        steps = sum(r.steps for r in results.values())
        elapsed = (time.perf_counter() - start) * 1000
        expected = cohort.last - cohort.first + 1
        if steps != expected:
            raise RuntimeError(f"expected {expected} escalations, got {steps}")
        if rep:
            times.append(elapsed)
    return statistics.median(times)


async def measure(db: Store, store: str) -> None:
    """Time the rates, then the sweeps (smaller cohorts first: they are due first)."""
    await db.open()
    try:
        stats_ms, counted = await time_stats(db)
        big, small = cohorts()
        small_ms = await time_sweeps(db, small)
        big_ms = await time_sweeps(db, big)
    finally:
        await db.close()
    note(
        f"{store}: rates over {counted:,} tickets in {stats_ms:.1f} ms; sweep"
        f" {big_ms:.1f} ms for {BIG_DUE:,} due, {small_ms:.1f} ms for {SMALL_DUE:,}"
    )
    figure(f"stats_1m_{store}_ms", stats_ms, "ms")
    figure(f"sweep_1m_{store}_ms", big_ms, "ms")
    figure(f"sweep_1m_1k_due_{store}_ms", small_ms, "ms")


def main() -> None:
    """Print stats_1m and sweep_1m figures on SQLite, then on PostgreSQL when installed."""
    with tempfile.TemporaryDirectory(prefix="gridbot-stats-") as tmp:
        path = Path(tmp) / "million.sqlite3"
        started = time.perf_counter()
        asyncio.run(build_sqlite(path))
        note(f"sqlite: built {COUNT:,} tickets in {time.perf_counter() - started:.1f}s")
        asyncio.run(measure(Database(path), "sqlite"))
    with pg_server() as url:
        if url is None:
            note("no PostgreSQL server installed: the pg figures are not measured")
            return
        started = time.perf_counter()
        asyncio.run(build_pg(url))
        note(f"pg: built {COUNT:,} tickets in {time.perf_counter() - started:.1f}s")
        asyncio.run(measure(PgDatabase(url), "pg"))


if __name__ == "__main__":
    main()
