"""Privacy storage: followers' ratings, the audit log, anonymous ids, and what a person's data is.

Repositories never open a transaction; the services that call them do.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from storage.store import Row, Store
from storage.street import choice_key

ANONYMOUS_NAME = "已注销居民"
ERASED_TEXT = "（内容已按隐私规则删除）"
# A resident's own words in a ticket's history (what they added, why not satisfied, their edit
# of the message) go with them; the history's trigger allows exactly this rewrite (0022).
_ERASE_WORDS = (
    "detail = CASE WHEN kind IN ('added_words', 'unsatisfied_reason', 'source_edited')"
    " THEN '{\"erased\": true}' ELSE detail END"
)


def _utc(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat()


class FollowerRatings:
    """Ratings by followers of public tickets, kept apart from the reporter's."""

    def __init__(self, db: Store) -> None:
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
    def _from_row(cls, row: Row) -> AuditEntry:
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

    def __init__(self, db: Store, community: str | None = None) -> None:
        self.db = db
        # Whose entries it writes and reads (None: every community's, for `gridbot audit`).
        self.community = community

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
            "INSERT INTO audit_log"
            " (at, actor_id, actor_name, action, subject_ref, target, detail, community)"
            " VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            (
                _utc(at),
                actor_id,
                actor_name,
                action,
                ref,
                target,
                json.dumps(detail or {}, ensure_ascii=False, sort_keys=True),
                self.community or "",
            ),
        )

    async def recent(self, limit: int = 50, *, since: datetime | None = None) -> list[AuditEntry]:
        """Return the newest entries, newest first."""
        sql = (
            "SELECT a.id, a.at, a.actor_id, a.actor_name, a.action, p.user_id AS subject_id,"
            " a.target, a.detail FROM audit_log a"
            " LEFT JOIN audit_people p ON p.ref = a.subject_ref"
        )
        clauses: list[str] = []
        params: list[object] = []
        if self.community is not None:
            # Entries from before communities were kept apart belong to the one that adopted
            # that deployment's rows (storage/street.py).
            clauses.append(
                "(a.community = ? OR (a.community = '' AND ? ="
                " (SELECT value FROM kv WHERE key = 'legacy_community')))"
            )
            params.extend((self.community, self.community))
        if since is not None:
            clauses.append("a.at >= ?")
            params.append(_utc(since))
        if clauses:
            sql += " WHERE " + " AND ".join(clauses)
        sql += " ORDER BY a.id DESC LIMIT ?"
        params.append(limit)
        return [AuditEntry._from_row(r) for r in await self.db.fetchall(sql, params)]


@dataclass(frozen=True, slots=True)
class ClosedTicket:
    """A closed ticket due for anonymisation."""

    id: int
    number: int
    reporter_id: int


class ErasureRepository:
    """What a person's data is, and the statements that erase or anonymise it."""

    def __init__(self, db: Store) -> None:
        self.db = db

    # ── anonymous ids ──
    async def new_anonymous_id(self, reason: str, at: datetime) -> int:
        """Return a fresh negative id that stands for an erased person from now on."""
        anon = await self.db.fetchval(
            "INSERT INTO anonymous_ids (reason, at) VALUES (?, ?) RETURNING anon_id",
            (reason, _utc(at)),
        )
        return -int(anon)

    # ── tickets ──
    async def closed_before(
        self, community: str, before: datetime, limit: int
    ) -> list[ClosedTicket]:
        """Return a community's closed tickets not yet anonymised that closed before a moment."""
        rows = await self.db.fetchall(
            "SELECT id, number, reporter_id FROM tickets WHERE community = ?"
            " AND anonymised_at IS NULL AND closed_at IS NOT NULL AND closed_at < ?"
            " ORDER BY closed_at LIMIT ?",
            (community, _utc(before), limit),
        )
        return [ClosedTicket(int(r["id"]), int(r["number"]), int(r["reporter_id"])) for r in rows]

    async def anonymise_ticket(self, ticket_id: int, anon: int, at: datetime) -> None:
        """Erase a ticket's words, photos, room and people; keep what statistics count."""
        # Only the building stays of the place; built here, as both stores' JSON functions differ.
        location = await self.db.fetchval(
            "SELECT location FROM tickets WHERE id = ?", (ticket_id,)
        )
        building = json.loads(location).get("building") if location else None
        await self.db.execute(
            "UPDATE tickets SET text = ?, reporter_name = ?, reporter_id = ?, location = ?,"
            " chat_id = CASE WHEN is_private = 1 THEN NULL ELSE chat_id END,"
            " message_id = NULL, anonymised_at = ? WHERE id = ?",
            (
                ERASED_TEXT,
                ANONYMOUS_NAME,
                anon,
                json.dumps({"building": building}, ensure_ascii=False, separators=(",", ":")),
                _utc(at),
                ticket_id,
            ),
        )
        await self.db.execute("DELETE FROM ticket_photos WHERE ticket_id = ?", (ticket_id,))
        await self.db.execute(
            "UPDATE classifier_corrections SET text = ? WHERE ticket_id = ?",
            (ERASED_TEXT, ticket_id),
        )
        people = await self.db.fetchall(
            "SELECT user_id FROM ticket_followers WHERE ticket_id = ? AND user_id > 0",
            (ticket_id,),
        )
        await self.db.execute(
            f"UPDATE ticket_events SET actor_id = ?, {_ERASE_WORDS} WHERE ticket_id = ?"
            " AND actor_id > 0 AND actor_role IN ('reporter', 'follower')",
            (anon, ticket_id),
        )
        for index, row in enumerate(people, start=1):
            # Followers keep their place in the count under ids nobody can trace.
            await self.db.execute(
                "UPDATE ticket_followers SET user_id = ?, name = ?, chat_id = NULL"
                " WHERE ticket_id = ? AND user_id = ?",
                (anon * 1000 - index, ANONYMOUS_NAME, ticket_id, int(row["user_id"])),
            )
        await self.db.execute(
            "UPDATE ticket_ratings SET user_id = ? WHERE ticket_id = ? AND user_id > 0",
            (anon, ticket_id),
        )
        raters = await self.db.fetchall(
            "SELECT resolved_at, user_id FROM ticket_follower_ratings"
            " WHERE ticket_id = ? AND user_id > 0 ORDER BY at, user_id",
            (ticket_id,),
        )
        for index, row in enumerate(raters, start=1):
            # Each rating keeps its own untraceable id (a ticket's raters stay distinct).
            await self.db.execute(
                "UPDATE ticket_follower_ratings SET user_id = ?"
                " WHERE ticket_id = ? AND resolved_at = ? AND user_id = ?",
                (anon * 1000 - index, ticket_id, row["resolved_at"], int(row["user_id"])),
            )

    async def forget_in_tickets(self, user_id: int, anon: int, masked: dict[int, str]) -> None:
        """Replace a person's identity on every ticket they reported, followed or rated.

        masked: ticket id -> its text with phone and ID numbers masked (for open tickets, whose
        words the worker still needs).
        """
        for ticket_id, text in masked.items():
            await self.db.execute("UPDATE tickets SET text = ? WHERE id = ?", (text, ticket_id))
        await self.db.execute(
            "UPDATE tickets SET reporter_id = ?, reporter_name = ?,"
            " chat_id = CASE WHEN is_private = 1 THEN NULL ELSE chat_id END"
            " WHERE reporter_id = ?",
            (anon, ANONYMOUS_NAME, user_id),
        )
        await self.db.execute(
            "DELETE FROM ticket_photos WHERE added_by = ? AND role IN ('reporter', 'follower')",
            (user_id,),
        )
        await self.db.execute(
            f"UPDATE ticket_events SET actor_id = ?, {_ERASE_WORDS} WHERE actor_id = ?"
            " AND actor_role IN ('reporter', 'follower')",
            (anon, user_id),
        )
        await self.db.execute(
            "UPDATE ticket_followers SET user_id = ?, name = ?, chat_id = NULL WHERE user_id = ?",
            (anon, ANONYMOUS_NAME, user_id),
        )
        await self.db.execute(
            "UPDATE ticket_ratings SET user_id = ? WHERE user_id = ?", (anon, user_id)
        )
        await self.db.execute(
            "UPDATE ticket_follower_ratings SET user_id = ? WHERE user_id = ?", (anon, user_id)
        )
        # The questions about their messages hold their words (which category, which building).
        await self.db.execute(
            "DELETE FROM conversations WHERE user_id = ? AND topic <> 0", (user_id,)
        )

    async def open_reported(self, user_id: int) -> list[tuple[int, str, bool]]:
        """Return (id, text, closed) of every ticket a person reported."""
        rows = await self.db.fetchall(
            "SELECT id, text, closed_at IS NOT NULL AS closed FROM tickets WHERE reporter_id = ?",
            (user_id,),
        )
        return [(int(r["id"]), str(r["text"]), bool(r["closed"])) for r in rows]

    # ── points, tasks, redemptions ──
    async def forget_in_points(self, user_id: int, anon: int) -> None:
        """Move a person's ledger rows and balance to the anonymous id (amounts unchanged)."""
        await self.db.execute(
            "UPDATE points_ledger SET user_id = ? WHERE user_id = ?", (anon, user_id)
        )
        await self.db.execute(
            "UPDATE point_balances SET user_id = ?, name = ? WHERE user_id = ?",
            (anon, ANONYMOUS_NAME, user_id),
        )
        await self.db.execute(
            "UPDATE task_claims SET user_id = ?, name = ?, proof = '[]', note = ''"
            " WHERE user_id = ?",
            (anon, ANONYMOUS_NAME, user_id),
        )
        await self.db.execute(
            "UPDATE redemptions SET user_id = ?, name = ? WHERE user_id = ?",
            (anon, ANONYMOUS_NAME, user_id),
        )

    # ── the person and their messages ──
    async def forget_person(self, user_id: int) -> None:
        """Delete the person's own rows and the stored updates and messages that carry them."""
        for sql in (
            "DELETE FROM residents WHERE user_id = ?",
            "DELETE FROM users WHERE user_id = ?",
            "DELETE FROM conversations WHERE user_id = ?",  # their drafts and reasons
            "DELETE FROM audit_people WHERE user_id = ?",
            "DELETE FROM outbox WHERE chat_id = ? AND status != 'pending'",
        ):
            await self.db.execute(sql, (user_id,))
        await self.db.execute(
            "DELETE FROM inbox WHERE status != 'pending' AND ("
            " CAST(json_extract(payload, '$.message.from.id') AS INTEGER) = ?"
            " OR CAST(json_extract(payload, '$.edited_message.from.id') AS INTEGER) = ?"
            " OR CAST(json_extract(payload, '$.callback_query.from.id') AS INTEGER) = ?"
            " OR CAST(json_extract(payload, '$.message.chat.id') AS INTEGER) = ?)",
            (user_id, user_id, user_id, user_id),
        )
        # Which community they chose to act in (a street office's deployment, /community).
        await self.db.execute("DELETE FROM kv WHERE key = ?", (choice_key(user_id),))

    # ── what is stored ──
    async def export(self, user_id: int) -> dict[str, list[dict[str, Any]]]:
        """Return every row that names a person, table by table."""
        queries = {
            "account": "SELECT name, started_at, unreachable_at FROM users WHERE user_id = ?",
            "household": "SELECT name, building, unit, room, registered_at FROM residents"
            " WHERE user_id = ?",
            "reported": "SELECT number, text, category, status, building, is_private,"
            " created_at, closed_at, rating FROM tickets WHERE reporter_id = ? ORDER BY id",
            "followed": "SELECT t.number, f.at FROM ticket_followers f"
            " JOIN tickets t ON t.id = f.ticket_id WHERE f.user_id = ? ORDER BY f.at",
            "ratings": "SELECT t.number, r.rating, r.at FROM ticket_ratings r"
            " JOIN tickets t ON t.id = r.ticket_id WHERE r.user_id = ?"
            " UNION ALL SELECT t.number, r.rating, r.at FROM ticket_follower_ratings r"
            " JOIN tickets t ON t.id = r.ticket_id WHERE r.user_id = ?",
            "photos": "SELECT t.number, p.at FROM ticket_photos p"
            " JOIN tickets t ON t.id = p.ticket_id WHERE p.added_by = ?",
            "points": "SELECT delta, hours, kind, reason, at FROM points_ledger"
            " WHERE user_id = ? ORDER BY id",
            "balance": "SELECT balance, earned, hours FROM point_balances WHERE user_id = ?",
            "tasks": "SELECT task_id, status, claimed_at FROM task_claims WHERE user_id = ?",
            "redemptions": "SELECT item_name, quantity, points, status, requested_at"
            " FROM redemptions WHERE user_id = ?",
            "messages": "SELECT COUNT(*) AS stored_updates FROM inbox"
            " WHERE CAST(json_extract(payload, '$.message.from.id') AS INTEGER) = ?"
            " OR CAST(json_extract(payload, '$.callback_query.from.id') AS INTEGER) = ?",
        }
        out: dict[str, list[dict[str, Any]]] = {}
        for key, sql in queries.items():
            params = (user_id,) * sql.count("?")
            out[key] = [dict(row) for row in await self.db.fetchall(sql, params)]
        return out
