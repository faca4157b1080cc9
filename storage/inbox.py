"""The inbox: every update is stored before Telegram is told it arrived."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from storage.store import Row, Store


@dataclass(frozen=True, slots=True)
class InboxItem:
    update_id: int
    payload: dict[str, Any]
    status: str
    attempts: int

    @classmethod
    def _from_row(cls, row: Row) -> InboxItem:
        return cls(
            update_id=int(row["update_id"]),
            payload=json.loads(row["payload"]),
            status=str(row["status"]),
            attempts=int(row["attempts"]),
        )


class InboxRepository:
    """Store, list and mark updates by update_id."""

    MAX_ATTEMPTS = 3

    def __init__(self, db: Store, *, claimer: str | None = None) -> None:
        self.db = db
        # The instance whose claims this process settles, when several share the database
        # (storage.fleet): an update is finished only while its lease is still this one's.
        self.claimer = claimer

    async def store(
        self, updates: Sequence[tuple[int, dict[str, Any]]], now: datetime
    ) -> list[int]:
        """Insert updates not seen before; return the ids that were new."""
        new: list[int] = []
        for update_id, payload in updates:
            count = await self.db.execute_rowcount(
                "INSERT INTO inbox (update_id, payload, received_at) VALUES (?, ?, ?)"
                " ON CONFLICT (update_id) DO NOTHING",
                (update_id, json.dumps(payload, ensure_ascii=False), now.isoformat()),
            )
            if count:
                new.append(update_id)
        return new

    async def pending(self, limit: int = 1000) -> list[InboxItem]:
        """Return stored updates not yet processed, oldest first."""
        rows = await self.db.fetchall(
            "SELECT update_id, payload, status, attempts FROM inbox"
            " WHERE status = 'pending' ORDER BY update_id LIMIT ?",
            (limit,),
        )
        return [InboxItem._from_row(r) for r in rows]

    async def claim(self, update_id: int) -> tuple[int, dict[str, Any]] | None:
        """Count an attempt on a pending update; return (attempts, payload), None if settled."""
        row = await self.db.fetchone(
            "UPDATE inbox SET attempts = attempts + 1 WHERE update_id = ? AND status = 'pending'"
            " RETURNING attempts, payload",
            (update_id,),
        )
        if row is None:
            return None
        payload: dict[str, Any] = json.loads(row["payload"])
        return int(row["attempts"]), payload

    async def begin_attempt(self, update_id: int) -> int:
        """Count one processing attempt; return the attempts so far."""
        await self.db.execute(
            "UPDATE inbox SET attempts = attempts + 1 WHERE update_id = ?", (update_id,)
        )
        return int(
            await self.db.fetchval("SELECT attempts FROM inbox WHERE update_id = ?", (update_id,))
            or 0
        )

    async def finish(self, update_id: int, status: str, now: datetime) -> bool:
        """Settle a pending update (done or failed); False when it is no longer ours to settle.

        Inside the update's transaction: False (another instance took it over and settled it, or
        holds it now) means the transaction must be undone.
        """
        if self.claimer is None:
            count = await self.db.execute_rowcount(
                "UPDATE inbox SET status = ?, done_at = ? WHERE update_id = ?"
                " AND status = 'pending'",
                (status, now.isoformat(), update_id),
            )
        else:
            count = await self.db.execute_rowcount(
                "UPDATE inbox SET status = ?, done_at = ?, claimed_at = NULL"
                " WHERE update_id = ? AND status = 'pending' AND claimed_by = ?",
                (status, now.isoformat(), update_id, self.claimer),
            )
        return count > 0

    async def mark(self, update_id: int, status: str, now: datetime) -> None:
        """Mark an update done (or failed after too many attempts)."""
        await self.db.execute(
            "UPDATE inbox SET status = ?, done_at = ? WHERE update_id = ?",
            (status, now.isoformat(), update_id),
        )

    async def payload(self, update_id: int) -> dict[str, Any]:
        """Return the stored JSON of one update."""
        raw = await self.db.fetchval("SELECT payload FROM inbox WHERE update_id = ?", (update_id,))
        if raw is None:
            raise KeyError(update_id)
        result: dict[str, Any] = json.loads(raw)
        return result

    async def max_update_id(self) -> int | None:
        """Return the highest update id ever stored."""
        value = await self.db.fetchval("SELECT MAX(update_id) FROM inbox")
        return None if value is None else int(value)

    async def status(self, update_id: int) -> str | None:
        """Return an update's status, or None when never stored."""
        value = await self.db.fetchval(
            "SELECT status FROM inbox WHERE update_id = ?", (update_id,)
        )
        return None if value is None else str(value)

    async def prune(self, before: datetime) -> int:
        """Delete processed updates older than a date (their effects live elsewhere)."""
        return await self.db.execute_rowcount(
            "DELETE FROM inbox WHERE status != 'pending' AND done_at < ?", (before.isoformat(),)
        )
