"""Each bound group's posting schedule, the decisions taken per occurrence, and report queries."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from storage.store import Row, Store

# Ticket states after which nothing is left to do; everything else counts as open.
# The states a ticket is still being worked in (bot.services.lifecycle.OPEN_STATES): listed, not
# excluded, so a new final state (withdrawn came later) can never show up as unfinished.
OPEN_TICKET_STATUSES = ("new", "accepted", "reopened", "transferred", "returned")


@dataclass(frozen=True, slots=True)
class BoundGroup:
    chat_id: int
    grids: tuple[str, ...]
    title: str

    @classmethod
    def _from_row(cls, row: Row) -> BoundGroup:
        return cls(
            chat_id=int(row["chat_id"]),
            grids=tuple(str(g) for g in json.loads(row["grids"] or "[]")),
            title=row["title"],
        )


@dataclass(frozen=True, slots=True)
class OpenTicket:
    """The public facts of an open ticket: no text, no reporter."""

    number: int
    category: str
    building: str | None
    grid: str | None
    status: str
    created_at: datetime
    accept_due_at: datetime | None
    resolve_due_at: datetime | None
    accepted_at: datetime | None

    @classmethod
    def _from_row(cls, row: Row) -> OpenTicket:
        def when(value: str | None) -> datetime | None:
            return datetime.fromisoformat(value) if value else None

        return cls(
            number=int(row["number"]),
            category=row["category"],
            building=row["building"],
            grid=row["grid"],
            status=row["status"],
            created_at=datetime.fromisoformat(row["created_at"]),
            accept_due_at=when(row["accept_due_at"]),
            resolve_due_at=when(row["resolve_due_at"]),
            accepted_at=when(row["accepted_at"]),
        )


@dataclass(frozen=True, slots=True)
class TicketFacts:
    """What the monthly report needs from one ticket."""

    category: str
    grid: str | None
    created_at: datetime
    accepted_at: datetime | None
    accept_due_at: datetime | None
    resolved_at: datetime | None
    rating: str | None

    @classmethod
    def _from_row(cls, row: Row) -> TicketFacts:
        def when(value: str | None) -> datetime | None:
            return datetime.fromisoformat(value) if value else None

        return cls(
            category=row["category"],
            grid=row["grid"],
            created_at=datetime.fromisoformat(row["created_at"]),
            accepted_at=when(row["accepted_at"]),
            accept_due_at=when(row["accept_due_at"]),
            resolved_at=when(row["resolved_at"]),
            rating=row["rating"],
        )


class ScheduleRepository:
    """Store schedule overrides and per-occurrence decisions; read tickets for the posts."""

    def __init__(self, db: Store, community: str) -> None:
        self.db = db
        self.community = community

    async def active_groups(self) -> list[BoundGroup]:
        """Return the community's bound groups that are still active."""
        rows = await self.db.fetchall(
            "SELECT chat_id, grids, title FROM group_bindings WHERE community = ? AND active = 1"
            " ORDER BY chat_id",
            (self.community,),
        )
        return [BoundGroup._from_row(r) for r in rows]

    async def overrides(self) -> dict[int, dict[str, Any]]:
        """Return every group's schedule overrides."""
        rows = await self.db.fetchall("SELECT chat_id, overrides FROM group_schedules")
        return {int(r["chat_id"]): dict(json.loads(r["overrides"])) for r in rows}

    async def override(self, chat_id: int) -> dict[str, Any]:
        """Return one group's overrides ({} when none)."""
        raw = await self.db.fetchval(
            "SELECT overrides FROM group_schedules WHERE chat_id = ?", (chat_id,)
        )
        return dict(json.loads(raw)) if raw else {}

    async def save_override(
        self, chat_id: int, overrides: dict[str, Any], by: int | None, now: datetime
    ) -> None:
        """Store a group's overrides, replacing the previous ones."""
        await self.db.execute(
            "INSERT INTO group_schedules (chat_id, overrides, updated_by, updated_at)"
            " VALUES (?, ?, ?, ?) ON CONFLICT (chat_id) DO UPDATE SET"
            " overrides = excluded.overrides, updated_by = excluded.updated_by,"
            " updated_at = excluded.updated_at",
            (
                chat_id,
                json.dumps(overrides, ensure_ascii=False, sort_keys=True),
                by,
                now.isoformat(),
            ),
        )

    async def decided(self, chat_id: int, kind: str, period: str) -> bool:
        """Return whether this occurrence was already decided for the group."""
        found = await self.db.fetchval(
            "SELECT 1 FROM schedule_runs WHERE chat_id = ? AND kind = ? AND period = ?",
            (chat_id, kind, period),
        )
        return found is not None

    async def record(
        self,
        chat_id: int,
        kind: str,
        period: str,
        outcome: str,
        outbox_id: int | None,
        now: datetime,
    ) -> bool:
        """Record the decision for an occurrence; False when it was already recorded."""
        count = await self.db.execute_rowcount(
            "INSERT INTO schedule_runs (chat_id, kind, period, outcome, outbox_id, decided_at)"
            " VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING",
            (chat_id, kind, period, outcome, outbox_id, now.isoformat()),
        )
        return count > 0

    async def runs(self, chat_id: int) -> list[tuple[str, str, str]]:
        """Return (kind, period, outcome) decided for a group, in order."""
        rows = await self.db.fetchall(
            "SELECT kind, period, outcome FROM schedule_runs WHERE chat_id = ?"
            " ORDER BY decided_at, kind",
            (chat_id,),
        )
        return [(r["kind"], r["period"], r["outcome"]) for r in rows]

    async def open_tickets(self, grids: tuple[str, ...] | None) -> list[OpenTicket]:
        """Return unfinished, non-private tickets of some grids (None: all), oldest first."""
        marks = ", ".join("?" for _ in OPEN_TICKET_STATUSES)
        sql = (
            "SELECT number, category, building, grid, status, created_at, accept_due_at,"
            " resolve_due_at, accepted_at FROM tickets"
            f" WHERE community = ? AND status IN ({marks}) AND duplicate_of IS NULL"
            " AND is_private = 0"
        )
        params: list[object] = [self.community, *OPEN_TICKET_STATUSES]
        if grids is not None:
            sql += f" AND grid IN ({', '.join('?' for _ in grids)})" if grids else " AND 0"
            params.extend(grids)
        sql += " ORDER BY created_at, number"
        rows = await self.db.fetchall(sql, params)
        return [OpenTicket._from_row(r) for r in rows]

    async def tickets_created_between(
        self, start: datetime, end: datetime, grids: tuple[str, ...] | None
    ) -> list[TicketFacts]:
        """Return the tickets opened in [start, end) in some grids (None: all)."""
        sql = (
            "SELECT category, grid, created_at, accepted_at, accept_due_at, resolved_at, rating"
            " FROM tickets WHERE community = ? AND created_at >= ? AND created_at < ?"
            " AND duplicate_of IS NULL"
        )
        params: list[object] = [self.community, start.isoformat(), end.isoformat()]
        if grids is not None:
            sql += f" AND grid IN ({', '.join('?' for _ in grids)})" if grids else " AND 0"
            params.extend(grids)
        rows = await self.db.fetchall(sql, params)
        return [TicketFacts._from_row(r) for r in rows]
