"""The task list (任务清单): tasks the community publishes and residents' claims on them."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from storage.store import Row, Store


@dataclass(frozen=True, slots=True)
class Task:
    id: int
    title: str
    description: str
    location: str
    grid: str | None
    points: int
    hours: float
    difficulty: str | None
    capacity: int
    deadline: datetime | None
    audience: str  # 'public' | 'targeted'
    targets: tuple[str, ...]
    status: str  # 'open' | 'done' | 'closed'
    publisher_id: int
    publisher_name: str
    ticket_id: int | None
    created_at: datetime
    claimed: int  # every claim holds a place; a returned one too (its proof is redone)

    @property
    def places_left(self) -> int:
        return max(0, self.capacity - self.claimed)

    @classmethod
    def _from_row(cls, row: Row) -> Task:
        deadline = row["deadline"]
        return cls(
            id=int(row["id"]),
            title=row["title"],
            description=row["description"],
            location=row["location"],
            grid=row["grid"],
            points=int(row["points"]),
            hours=float(row["hours"]),
            difficulty=row["difficulty"],
            capacity=int(row["capacity"]),
            deadline=datetime.fromisoformat(deadline) if deadline else None,
            audience=row["audience"],
            targets=tuple(json.loads(row["targets"])),
            status=row["status"],
            publisher_id=int(row["publisher_id"]),
            publisher_name=row["publisher_name"],
            ticket_id=row["ticket_id"],
            created_at=datetime.fromisoformat(row["created_at"]),
            claimed=int(row["claimed"]),
        )


@dataclass(frozen=True, slots=True)
class TaskClaim:
    id: int
    task_id: int
    user_id: int
    name: str
    status: str  # claimed | submitted | approved | returned
    proof: tuple[str, ...]
    note: str
    reason: str
    claimed_at: datetime
    submitted_at: datetime | None
    verified_at: datetime | None
    verified_by: int | None

    @classmethod
    def _from_row(cls, row: Row) -> TaskClaim:
        def when(value: str | None) -> datetime | None:
            return datetime.fromisoformat(value) if value else None

        return cls(
            id=int(row["id"]),
            task_id=int(row["task_id"]),
            user_id=int(row["user_id"]),
            name=row["name"],
            status=row["status"],
            proof=tuple(json.loads(row["proof"])),
            note=row["note"],
            reason=row["reason"],
            claimed_at=datetime.fromisoformat(row["claimed_at"]),
            submitted_at=when(row["submitted_at"]),
            verified_at=when(row["verified_at"]),
            verified_by=row["verified_by"],
        )


_TASK_SELECT = (
    "SELECT t.id, t.title, t.description, t.location, t.grid, t.points, t.hours, t.difficulty,"
    " t.capacity, t.deadline, t.audience, t.targets, t.status, t.publisher_id, t.publisher_name,"
    " t.ticket_id, t.created_at,"
    " (SELECT COUNT(*) FROM task_claims c WHERE c.task_id = t.id) AS claimed"
    " FROM tasks t"
)
_CLAIM_COLUMNS = (
    "id, task_id, user_id, name, status, proof, note, reason, claimed_at, submitted_at,"
    " verified_at, verified_by"
)


@dataclass(frozen=True, slots=True)
class TicketOrigin:
    """What a task made from a resolved ticket takes from it (never the resident's words)."""

    number: int
    category: str
    building: str | None
    grid: str | None
    status: str


# A claim belongs to the community of its task.
_OWN = " AND task_id IN (SELECT id FROM tasks WHERE community = ?)"


class TaskRepository:
    """Store a community's tasks and their claims; the service owns the transaction."""

    def __init__(self, db: Store, community: str) -> None:
        self.db = db
        self.community = community

    async def _new_id(self, sql: str, params: Sequence[Any]) -> int:
        # INSERT … RETURNING id gives the new row's id on both stores.
        return int(await self.db.fetchval(sql, params))

    async def insert(
        self,
        *,
        title: str,
        description: str,
        location: str,
        grid: str | None,
        points: int,
        hours: float,
        difficulty: str | None,
        capacity: int,
        deadline: datetime | None,
        audience: str,
        targets: tuple[str, ...],
        publisher_id: int,
        publisher_name: str,
        ticket_id: int | None,
        now: datetime,
    ) -> int:
        """Insert an open task and return its id."""
        return await self._new_id(
            "INSERT INTO tasks (community, title, description, location, grid, points, hours,"
            " difficulty, capacity, deadline, audience, targets, status, publisher_id,"
            " publisher_name, ticket_id, created_at)"
            " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 'open', ?, ?, ?, ?)"
            " RETURNING id",
            (
                self.community,
                title,
                description,
                location,
                grid,
                points,
                hours,
                difficulty,
                capacity,
                deadline.isoformat() if deadline else None,
                audience,
                json.dumps(list(targets), ensure_ascii=False),
                publisher_id,
                publisher_name,
                ticket_id,
                now.isoformat(),
            ),
        )

    async def get(self, task_id: int) -> Task | None:
        """Return one task with its claim count."""
        row = await self.db.fetchone(
            f"{_TASK_SELECT} WHERE t.id = ? AND t.community = ?", (task_id, self.community)
        )
        return Task._from_row(row) if row else None

    async def by_ticket(self, ticket_id: int) -> Task | None:
        """Return the task made from a ticket, if any."""
        row = await self.db.fetchone(f"{_TASK_SELECT} WHERE t.ticket_id = ?", (ticket_id,))
        return Task._from_row(row) if row else None

    async def list_open(self, now: datetime, grids: tuple[str, ...] | None = None) -> list[Task]:
        """Return open, unexpired tasks, soonest deadline first; grids=None means every grid."""
        sql = (
            f"{_TASK_SELECT} WHERE t.community = ? AND t.status = 'open'"
            " AND (t.deadline IS NULL OR t.deadline > ?)"
        )
        params: list[object] = [self.community, now.isoformat()]
        if grids is not None:
            marks = ", ".join("?" for _ in grids)
            sql += (
                f" AND (t.grid IS NULL OR t.grid IN ({marks}))" if grids else " AND t.grid IS NULL"
            )
            params.extend(grids)
        sql += " ORDER BY t.deadline IS NULL, t.deadline, t.id"
        rows = await self.db.fetchall(sql, params)
        return [Task._from_row(r) for r in rows]

    async def set_status(self, task_id: int, status: str, now: datetime) -> None:
        """Mark a task done or closed."""
        await self.db.execute(
            "UPDATE tasks SET status = ?, closed_at = ? WHERE id = ?",
            (status, now.isoformat(), task_id),
        )

    async def insert_claim(self, task_id: int, user_id: int, name: str, now: datetime) -> int:
        """Insert a claim and return its id."""
        return await self._new_id(
            "INSERT INTO task_claims (task_id, user_id, name, status, claimed_at)"
            " VALUES (?, ?, ?, 'claimed', ?) RETURNING id",
            (task_id, user_id, name, now.isoformat()),
        )

    async def claim(self, task_id: int, user_id: int) -> TaskClaim | None:
        """Return one resident's claim on a task."""
        row = await self.db.fetchone(
            f"SELECT {_CLAIM_COLUMNS} FROM task_claims WHERE task_id = ? AND user_id = ?",
            (task_id, user_id),
        )
        return TaskClaim._from_row(row) if row else None

    async def claim_by_id(self, claim_id: int) -> TaskClaim | None:
        """Return a claim by id."""
        row = await self.db.fetchone(
            f"SELECT {_CLAIM_COLUMNS} FROM task_claims WHERE id = ?{_OWN}",
            (claim_id, self.community),
        )
        return TaskClaim._from_row(row) if row else None

    async def claims(self, task_id: int) -> list[TaskClaim]:
        """Return every claim on a task, first come first."""
        rows = await self.db.fetchall(
            f"SELECT {_CLAIM_COLUMNS} FROM task_claims WHERE task_id = ? ORDER BY id", (task_id,)
        )
        return [TaskClaim._from_row(r) for r in rows]

    async def claims_of(self, user_id: int) -> list[TaskClaim]:
        """Return a resident's claims, newest first."""
        rows = await self.db.fetchall(
            f"SELECT {_CLAIM_COLUMNS} FROM task_claims WHERE user_id = ?{_OWN} ORDER BY id DESC",
            (user_id, self.community),
        )
        return [TaskClaim._from_row(r) for r in rows]

    async def submit(
        self, claim_id: int, proof: tuple[str, ...], note: str, now: datetime
    ) -> None:
        """Attach proof to a claim and mark it submitted."""
        await self.db.execute(
            "UPDATE task_claims SET status = 'submitted', proof = ?, note = ?, submitted_at = ?"
            " WHERE id = ?",
            (json.dumps(list(proof)), note, now.isoformat(), claim_id),
        )

    async def verify(
        self, claim_id: int, status: str, by: int, reason: str, now: datetime
    ) -> None:
        """Record a verdict on a claim: approved or returned."""
        await self.db.execute(
            "UPDATE task_claims SET status = ?, verified_by = ?, verified_at = ?, reason = ?"
            " WHERE id = ?",
            (status, by, now.isoformat(), reason, claim_id),
        )

    async def count_approved(self, task_id: int) -> int:
        """Return how many claims on a task were approved."""
        return int(
            await self.db.fetchval(
                "SELECT COUNT(*) FROM task_claims WHERE task_id = ? AND status = 'approved'",
                (task_id,),
            )
        )

    async def approved_between(self, start: datetime, end: datetime) -> int:
        """Return how many claims were approved in [start, end)."""
        return int(
            await self.db.fetchval(
                "SELECT COUNT(*) FROM task_claims WHERE status = 'approved'"
                f" AND verified_at >= ? AND verified_at < ?{_OWN}",
                (start.isoformat(), end.isoformat(), self.community),
            )
        )

    async def submitted(self) -> list[TaskClaim]:
        """Return claims whose proof waits for a verdict, oldest first."""
        rows = await self.db.fetchall(
            f"SELECT {_CLAIM_COLUMNS} FROM task_claims WHERE status = 'submitted'{_OWN}"
            " ORDER BY submitted_at, id",
            (self.community,),
        )
        return [TaskClaim._from_row(r) for r in rows]

    async def ticket_origin(self, ticket_id: int) -> TicketOrigin | None:
        """Return what a task needs of a ticket, or None for an unknown ticket."""
        row = await self.db.fetchone(
            "SELECT number, category, building, grid, status FROM tickets"
            " WHERE id = ? AND community = ?",
            (ticket_id, self.community),
        )
        if row is None:
            return None
        return TicketOrigin(
            number=int(row["number"]),
            category=str(row["category"]),
            building=row["building"],
            grid=row["grid"],
            status=str(row["status"]),
        )
