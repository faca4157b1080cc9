"""The sweep's clock (escalation level, next check) in ticket_clock: moved there, kept in step."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest

from bot.services.clock import FakeClock
from bot.services.escalation import EscalationPolicy, EscalationSweep
from bot.services.sla import SlaPolicy
from bot.services.tickets import Actor, NewTicket, TicketService
from storage.db import Database, load_migrations
from storage.pg import PgDatabase, load_pg_migrations
from storage.store import Store
from storage.tickets import TicketRepository

T0 = "2026-11-20T02:00:00+00:00"
T1 = "2026-11-21T02:00:00+00:00"
WANG = Actor(user_id=501, name="王网格", worker_key="wang")
SECRETARY = Actor(user_id=900, name="张书记", is_admin=True)
POLICY = EscalationPolicy(office_ids=(900,), street_office_id=950, community="幸福里")

# Three tickets as a deployment before the move held them: one escalated to the street with a
# check ahead, one waiting for its first check, one closed (no check, back at the grid).
_OLD_TICKETS = [(1, 2, T1), (2, 0, T0), (3, 0, None)]
_INSERT_OLD = (
    "INSERT INTO tickets (id, community, number, source_key, text, category, confidence,"
    " urgency, reporter_id, reporter_name, status, created_at, escalation_level, next_check_at)"
    " VALUES (?, '幸福里', ?, ?, '3号楼电梯坏了', 'facilities', 0.9, 'normal', 501, '王阿姨',"
    " 'new', ?, ?, ?)"
)


def _clock_migration(migrations: list[tuple[int, str, str]]) -> int:
    return next(i for i, (_, name, _) in enumerate(migrations) if name.endswith("_clock.sql"))


async def _moved(database: Store) -> None:
    rows = await database.fetchall(
        "SELECT ticket_id, community, escalation_level, next_check_at FROM ticket_clock"
        " ORDER BY ticket_id"
    )
    assert [tuple(r) for r in rows] == [
        (i, "幸福里", level, check) for i, level, check in _OLD_TICKETS
    ]
    repo = TicketRepository(database)
    for i, level, check in _OLD_TICKETS:
        ticket = await repo.get(i)
        assert ticket is not None
        assert ticket.escalation_level == level
        assert (ticket.next_check_at and ticket.next_check_at.isoformat()) == check


async def test_sqlite_moves_the_clock_of_every_ticket(tmp_path: Path) -> None:
    migrations = load_migrations()
    at = _clock_migration(migrations)
    database = Database(tmp_path / "old.sqlite3")
    await database.open(migrate=False)
    try:
        await database.migrate(migrations[:at])
        for i, level, check in _OLD_TICKETS:
            await database.execute(_INSERT_OLD, (i, i, f"msg:{i}", T0, level, check))
        await database.migrate(migrations)
        await _moved(database)
        columns = {r["name"] for r in await database.fetchall("PRAGMA table_info(tickets)")}
        assert not {"escalation_level", "next_check_at"} & columns
    finally:
        await database.close()


async def test_postgresql_moves_the_clock_of_every_ticket(pg_url: str) -> None:
    migrations = load_pg_migrations()
    at = _clock_migration(migrations)
    database = PgDatabase(pg_url)
    await database.open(migrate=False)
    try:
        await database.migrate(migrations[:at])
        for i, level, check in _OLD_TICKETS:
            await database.execute(_INSERT_OLD, (i, i, f"msg:{i}", T0, level, check))
        await database.migrate(migrations)
        await _moved(database)
        columns = await database.fetchall(
            "SELECT column_name FROM information_schema.columns"
            " WHERE table_name = 'tickets' AND table_schema = current_schema()"
        )
        assert not {"escalation_level", "next_check_at"} & {r[0] for r in columns}
    finally:
        await database.close()


def complaint(source: str) -> NewTicket:
    return NewTicket(
        community="幸福里",
        source_key=source,
        text="3号楼电梯坏了",
        category="facilities",
        confidence=0.9,
        keywords=("电梯",),
        urgency="normal",
        location={"building": "3"},
        building="3",
        grid="G1",
        reporter_id=1001,
        reporter_name="刘阿姨",
        is_private=False,
        chat_id=-100123,
        message_id=77,
        assignee_key="wang",
        assignee_id=501,
    )


async def _out_of_step(db: Store) -> list[tuple[object, ...]]:
    """Tickets whose clock is missing, of another community, or not at their earliest step."""
    rows = await db.fetchall(
        "SELECT t.id, k.ticket_id, k.community, k.next_check_at FROM tickets t"
        " LEFT JOIN ticket_clock k ON k.ticket_id = t.id"
        " WHERE k.ticket_id IS NULL OR k.community != t.community"
        " OR k.next_check_at IS NOT (SELECT MIN(s.due_at) FROM ticket_steps s"
        " WHERE s.ticket_id = t.id AND s.done_at IS NULL)"
    )
    return [tuple(r) for r in rows]


@pytest.mark.both_stores
async def test_every_writer_keeps_the_clock_in_step(db: Store, clock: FakeClock) -> None:
    sla = SlaPolicy()
    service = TicketService(db, clock, sla, "幸福里", office_ids=(900,))
    sweep = EscalationSweep(db, clock, sla, POLICY)
    first, _ = await service.open_ticket(complaint("msg:1"))
    second, _ = await service.open_ticket(complaint("msg:2"))
    third, _ = await service.open_ticket(complaint("msg:3"))
    assert await _out_of_step(db) == []
    assert (first.escalation_level, first.next_check_at) == (0, clock.now() + timedelta(hours=3))

    clock.advance(timedelta(hours=4, minutes=1))  # past the accept deadline: the office
    assert (await sweep.run()).escalated == 3
    assert await _out_of_step(db) == []
    assert {(await service.get(t.id)).escalation_level for t in (first, second, third)} == {1}

    accepted = await service.accept(first.id, WANG)  # back at the grid, the resolve deadline
    assert accepted.escalation_level == 0
    # Refused and closed: nothing more to check.
    await service.reject(second.id, SECRETARY, reason="不属于物业")
    assert (await service.get(second.id)).next_check_at is None
    assert await _out_of_step(db) == []

    clock.advance(timedelta(days=30))  # the street, then past every rung
    await sweep.run()
    assert (await service.get(third.id)).escalation_level == 2
    assert await _out_of_step(db) == []
    assert await sweep.communities_with_work() == set()
