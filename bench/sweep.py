"""The deadline sweep over 10,000 and 100,000 tickets with 1 % due.

Figures: sweep_10k_ms, sweep_100k_ms (one EscalationSweep.run, median of 5 on a fresh copy of the
database each time), sweep_growth (100k / 10k). With 1 % due the work itself grows tenfold (100
then 1,000 due tickets to escalate), so the idle sweep (nothing due) is printed beside it: it
stays flat because the sweep walks the due index of ticket_clock instead of scanning the tickets.
The due tickets are the oldest 1 % (ids grow with creation time, and so do deadlines);
sweep_100k_scattered_ms spreads them over the whole table instead, which costs more because
every escalation then dirties its own pages.
"""

from __future__ import annotations

import asyncio
import json
import shutil
import sqlite3
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from bench._common import figure, note
from bot.services.clock import FakeClock
from bot.services.escalation import Department, EscalationPolicy, EscalationSweep
from bot.services.sla import SlaPolicy
from storage.db import Database

NOW = datetime(2026, 11, 23, 6, 0, tzinfo=UTC)
REPEATS = 5
POLICY = EscalationPolicy(
    office_ids=(900,),  # one secretary, as in examples/community.toml
    street_office_id=950,
    departments=(Department("water", "区水务局", ("utilities",), 960),),
    community="幸福里",
)


def _iso(dt: datetime) -> str:
    return dt.astimezone(UTC).isoformat()


async def build(path: Path, count: int, *, scattered: bool = False) -> None:
    """Create a migrated database holding `count` open tickets, 1 % of them past their deadline."""
    db = Database(path)
    await db.open()
    try:
        tickets = []
        steps = []
        clocks = []
        for i in range(1, count + 1):
            # Ids grow with creation time, so the due 1 % are the oldest tickets; `scattered`
            # spreads them over the table instead (every 100th), the worst case for page writes.
            due = i % 100 == 0 if scattered else i <= count // 100
            created = NOW - timedelta(hours=5) if due else NOW - timedelta(minutes=i % 120)
            accept_due = created + timedelta(hours=4)
            remind = created + timedelta(hours=3)
            # A due ticket already had its reminder; its office step is due now.
            next_check = accept_due if due else remind
            tickets.append(
                (
                    i,
                    "幸福里",
                    i,
                    f"msg:{i}",
                    "3号楼电梯坏了",
                    "facilities",
                    0.9,
                    json.dumps(["电梯"]),
                    "normal",
                    json.dumps({"building": "3"}),
                    "3",
                    "g1",
                    10_000 + i,
                    "居民",
                    0,
                    -100123,
                    i,
                    "new",
                    "wang",
                    2003,
                    _iso(created),
                    _iso(accept_due),
                    _iso(created + timedelta(days=3)),
                )
            )
            clocks.append((i, "幸福里", 0, _iso(next_check)))
            if due:
                steps.append(
                    (
                        i,
                        "accept",
                        "remind",
                        _iso(created),
                        _iso(accept_due),
                        _iso(remind),
                        _iso(remind),
                        "done",
                    )
                )
            else:
                steps.append(
                    (
                        i,
                        "accept",
                        "remind",
                        _iso(created),
                        _iso(accept_due),
                        _iso(remind),
                        None,
                        None,
                    )
                )
            steps.append(
                (
                    i,
                    "accept",
                    "office",
                    _iso(created),
                    _iso(accept_due),
                    _iso(accept_due),
                    None,
                    None,
                )
            )
        async with db.transaction():
            await db.executemany(
                "INSERT INTO tickets (id, community, number, source_key, text, category,"
                " confidence, keywords, urgency, location, building, grid, reporter_id,"
                " reporter_name, is_private, chat_id, message_id, status, assignee_key,"
                " assignee_id, created_at, accept_due_at, resolve_due_at)"
                " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                tickets,
            )
            await db.executemany(
                "INSERT INTO ticket_clock (ticket_id, community, escalation_level, next_check_at)"
                " VALUES (?, ?, ?, ?)",
                clocks,
            )
            await db.executemany(
                "INSERT INTO ticket_steps (ticket_id, phase, step, started_at, deadline_at,"
                " due_at, done_at, outcome) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                steps,
            )
            await db.execute(
                "INSERT INTO ticket_numbers (community, last) VALUES ('幸福里', ?)", (count,)
            )
        await db.execute("ANALYZE")
    finally:
        await db.close()


async def one_sweep(path: Path, at: datetime) -> tuple[float, int]:
    """Time one sweep on `path`; return (milliseconds, steps taken)."""
    db = Database(path)
    await db.open()
    try:
        await db.fetchval("SELECT COUNT(*) FROM ticket_steps")  # warm the page cache
        sweep = EscalationSweep(db, FakeClock(at), SlaPolicy(), POLICY)
        start = time.perf_counter()
        result = await sweep.run()
        elapsed = (time.perf_counter() - start) * 1000
        return elapsed, result.steps
    finally:
        await db.close()


def _plan(path: Path) -> str:
    conn = sqlite3.connect(path)
    try:
        rows = conn.execute(
            "EXPLAIN QUERY PLAN SELECT ticket_id FROM ticket_clock INDEXED BY ticket_clock_due"
            " WHERE community = ? AND next_check_at IS NOT NULL AND next_check_at <= ?"
            " ORDER BY next_check_at",
            ("幸福里", _iso(NOW)),
        ).fetchall()
        return "; ".join(str(r[-1]) for r in rows)
    finally:
        conn.close()


def _remove(path: Path) -> None:
    for suffix in ("", "-wal", "-shm"):
        Path(f"{path}{suffix}").unlink(missing_ok=True)


async def measure(folder: Path, count: int, *, scattered: bool = False) -> tuple[float, float]:
    """Return the median sweep time with 1 % due, and with nothing due, in ms."""
    base = folder / f"base_{count}_{int(scattered)}.sqlite3"
    started = time.perf_counter()
    await build(base, count, scattered=scattered)
    note(f"built {count} tickets in {time.perf_counter() - started:.1f}s; plan: {_plan(base)}")
    due_times: list[float] = []
    idle_times: list[float] = []
    for rep in range(REPEATS + 1):  # the first is a warm-up
        copy = folder / f"run_{count}_{int(scattered)}_{rep}.sqlite3"
        shutil.copy(base, copy)
        elapsed, steps = await one_sweep(copy, NOW)
        if steps != count // 100:
            raise RuntimeError(f"expected {count // 100} escalations, got {steps}")
        idle, idle_steps = await one_sweep(copy, NOW)  # the same moment again: nothing left
        if idle_steps:
            raise RuntimeError("a second sweep repeated a step")
        if rep:
            due_times.append(elapsed)
            idle_times.append(idle)
        _remove(copy)
    due_times.sort()
    idle_times.sort()
    return due_times[len(due_times) // 2], idle_times[len(idle_times) // 2]


def main() -> None:
    """Print sweep_10k_ms, sweep_100k_ms and sweep_growth."""
    with tempfile.TemporaryDirectory(prefix="gridbot-sweep-") as tmp:
        folder = Path(tmp)
        small, small_idle = asyncio.run(measure(folder, 10_000))
        large, large_idle = asyncio.run(measure(folder, 100_000))
        worst, _ = asyncio.run(measure(folder, 100_000, scattered=True))
        _remove(folder / "base_100000_0.sqlite3")
    figure("sweep_10k_ms", small, "ms")
    figure("sweep_100k_ms", large, "ms")
    figure("sweep_growth", large / small, "x")
    figure("sweep_idle_10k_ms", small_idle, "ms")
    figure("sweep_idle_100k_ms", large_idle, "ms")
    figure("sweep_100k_scattered_ms", worst, "ms")
    note(
        f"1 % due: {small:.1f} ms for 100 escalations, {large:.1f} ms for 1,000; nothing due:"
        f" {small_idle:.2f} ms vs {large_idle:.2f} ms"
    )


if __name__ == "__main__":
    main()
