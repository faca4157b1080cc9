"""Privacy storage: followers' ratings, the audit log, anonymous ids, and what a person's data is.

Repositories never open a transaction; the services that call them do.
"""

from __future__ import annotations

import json
import sqlite3
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from storage.db import Database

ANONYMOUS_NAME = "已注销居民"
ERASED_TEXT = "（内容已按隐私规则删除）"


def _utc(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat()


class FollowerRatings:
    """Ratings by followers of public tickets, kept apart from the reporter's."""

    def __init__(self, db: Database) -> None:
        self.db = db

    async def add(
        self, ticket_id: int, resolved_at: datetime, user_id: int, rating: str, at: datetime
    ) -> bool:
        """Record a follower's rating of one resolution; False if they rated it already."""
        count = await self.db.execute_rowcount(
            "INSERT INTO ticket_follower_ratings (ticket_id, resolved_at, user_id, rating, at)"
            " VALUES (?, ?, ?, ?, ?) ON CONFLICT DO NOTHING",
            (ticket_id, _utc(resolved_at), user_id, rating, _utc(at)),
        )
        return count > 0

    async def of_ticket(self, ticket_id: int) -> list[tuple[int, str]]:
        """Return (user_id, rating) for every follower's rating of a ticket."""
        rows = await self.db.fetchall(
            "SELECT user_id, rating FROM ticket_follower_ratings WHERE ticket_id = ?"
            " ORDER BY at, user_id",
            (ticket_id,),
        )
        return [(int(r["user_id"]), str(r["rating"])) for r in rows]


@dataclass(frozen=True, slots=True)
class AuditEntry:
    """One staff action."""

    id: int
    at: datetime
    actor_id: int | None
    actor_name: str
    action: str
    subject_id: int | None  # the person acted on, while they have not asked to be forgotten
    target: str
    detail: dict[str, Any]

    @classmethod
    def _from_row(cls, row: sqlite3.Row) -> AuditEntry:
        return cls(
            id=int(row["id"]),
            at=datetime.fromisoformat(row["at"]),
            actor_id=None if row["actor_id"] is None else int(row["actor_id"]),
            actor_name=str(row["actor_name"]),
            action=str(row["action"]),
            subject_id=None if row["subject_id"] is None else int(row["subject_id"]),
            target=str(row["target"]),
            detail=json.loads(row["detail"]),
        )


class AuditRepository:
    """The append-only log of staff actions."""

    def __init__(self, db: Database) -> None:
        self.db = db

    async def add(
        self,
        at: datetime,
        actor_id: int | None,
        actor_name: str,
        action: str,
        *,
        subject_id: int | None = None,
        target: str = "",
        detail: dict[str, Any] | None = None,
    ) -> None:
        """Append one entry; the person acted on is kept in audit_people so it can be erased."""
        ref = None
        if subject_id is not None:
            await self.db.execute(
                "INSERT INTO audit_people (user_id) VALUES (?) ON CONFLICT DO NOTHING",
                (subject_id,),
            )
            ref = await self.db.fetchval(
                "SELECT ref FROM audit_people WHERE user_id = ?", (subject_id,)
            )
        await self.db.execute(
            "INSERT INTO audit_log (at, actor_id, actor_name, action, subject_ref, target, detail)"
            " VALUES (?, ?, ?, ?, ?, ?, ?)",
            (
                _utc(at),
                actor_id,
                actor_name,
                action,
                ref,
                target,
                json.dumps(detail or {}, ensure_ascii=False, sort_keys=True),
            ),
        )

    async def recent(self, limit: int = 50, *, since: datetime | None = None) -> list[AuditEntry]:
        """Return the newest entries, newest first."""
        sql = (
            "SELECT a.id, a.at, a.actor_id, a.actor_name, a.action, p.user_id AS subject_id,"
            " a.target, a.detail FROM audit_log a"
            " LEFT JOIN audit_people p ON p.ref = a.subject_ref"
        )
        params: list[object] = []
        if since is not None:
            sql += " WHERE a.at >= ?"
            params.append(_utc(since))
        sql += " ORDER BY a.id DESC LIMIT ?"
        params.append(limit)
        return [AuditEntry._from_row(r) for r in await self.db.fetchall(sql, params)]
