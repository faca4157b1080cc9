"""Tickets, their append-only history, photos, followers, deadline steps, whistles and ratings."""

from __future__ import annotations

import functools
import json
from collections.abc import Callable, Hashable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, NamedTuple, TypeVar

from storage.db import BULK_ROWS
from storage.outbox import Button, OutgoingMessage
from storage.store import Row, Store

# json.dumps with options builds a new encoder per call; the sweep encodes thousands at once.
_JSON = json.JSONEncoder(ensure_ascii=False)
_JSON_SORTED = json.JSONEncoder(ensure_ascii=False, sort_keys=True)


_K = TypeVar("_K", bound=Hashable)
_V = TypeVar("_V")


def iso(dt: datetime) -> str:
    """Return the stored form of a time: UTC ISO-8601 text."""
    if dt.tzinfo is UTC:  # what the database gives back: no conversion to make
        return dt.isoformat()
    if dt.tzinfo is None:
        raise ValueError("naive datetime")
    return dt.astimezone(UTC).isoformat()


def _dt(value: str | None) -> datetime | None:
    return None if value is None else datetime.fromisoformat(value)


def _req_dt(value: str) -> datetime:
    return datetime.fromisoformat(value)


@functools.lru_cache(maxsize=64)
def _in_sql(head: str, count: int, tail: str) -> str:
    return f"{head} IN ({', '.join('?' * count)}){tail}"


async def _update_in(
    db: Store, head: str, ids: Sequence[int], params: Sequence[Any] = (), tail: str = ""
) -> None:
    """Run `head IN (ids) tail` for every id, up to BULK_ROWS ids per statement.

    `params` bind the placeholders of `head`; a short list is padded with its last id (an IN
    list holding an id twice means the same) so every statement has a power-of-two length.
    """
    for start in range(0, len(ids), BULK_ROWS):
        piece = list(ids[start : start + BULK_ROWS])
        size = 1
        while size < len(piece):
            size *= 2
        piece.extend([piece[-1]] * (size - len(piece)))
        await db.execute(_in_sql(head, size, tail), [*params, *piece])


@dataclass(frozen=True, slots=True)
class Ticket:
    """One complaint and where it stands."""

    id: int
    community: str
    number: int
    source_key: str
    text: str
    category: str
    confidence: float
    keywords: tuple[str, ...]
    urgency: str
    priority: int
    location: dict[str, Any]
    building: str | None
    grid: str | None
    reporter_id: int
    reporter_name: str
    is_private: bool
    chat_id: int | None
    message_id: int | None
    reply_message_id: int | None
    status: str
    assignee_key: str | None
    assignee_id: int | None
    card_chat_id: int | None
    card_message_id: int | None
    escalation_level: int
    duplicate_of: int | None
    rating: str | None
    created_at: datetime
    accepted_at: datetime | None
    resolved_at: datetime | None
    closed_at: datetime | None
    accept_due_at: datetime | None
    resolve_due_at: datetime | None
    next_check_at: datetime | None
    follower_count: int = 0

    @classmethod
    def _from_row(cls, row: Row | tuple[Any, ...]) -> Ticket:
        # Positional: every ticket SELECT starts with _TICKET_COLUMNS then follower_count, and
        # sqlite3.Row's lookup by name scans the column list (the sweep maps thousands of rows).
        (
            id_,
            community,
            number,
            source_key,
            text,
            category,
            confidence,
            keywords,
            urgency,
            priority,
            location,
            building,
            grid,
            reporter_id,
            reporter_name,
            is_private,
            chat_id,
            message_id,
            reply_message_id,
            status,
            assignee_key,
            assignee_id,
            card_chat_id,
            card_message_id,
            escalation_level,
            duplicate_of,
            rating,
            created_at,
            accepted_at,
            resolved_at,
            closed_at,
            accept_due_at,
            resolve_due_at,
            next_check_at,
            followers,
        ) = tuple(row)[:35]
        return cls(
            id=int(id_),
            community=str(community),
            number=int(number),
            source_key=str(source_key),
            text=str(text),
            category=str(category),
            confidence=float(confidence),
            keywords=tuple(json.loads(keywords)) if keywords != "[]" else (),
            urgency=str(urgency),
            priority=int(priority),
            location=dict(json.loads(location)) if location != "{}" else {},
            building=building,
            grid=grid,
            reporter_id=int(reporter_id),
            reporter_name=str(reporter_name),
            is_private=bool(is_private),
            chat_id=chat_id,
            message_id=message_id,
            reply_message_id=reply_message_id,
            status=str(status),
            assignee_key=assignee_key,
            assignee_id=assignee_id,
            card_chat_id=card_chat_id,
            card_message_id=card_message_id,
            escalation_level=int(escalation_level),
            duplicate_of=duplicate_of,
            rating=rating,
            created_at=_req_dt(created_at),
            accepted_at=_dt(accepted_at),
            resolved_at=_dt(resolved_at),
            closed_at=_dt(closed_at),
            accept_due_at=_dt(accept_due_at),
            resolve_due_at=_dt(resolve_due_at),
            next_check_at=_dt(next_check_at),
            follower_count=int(followers),
        )


@dataclass(frozen=True, slots=True)
class TicketEvent:
    """One line of a ticket's history."""

    id: int
    ticket_id: int
    at: datetime
    actor_id: int | None
    actor_role: str
    kind: str
    from_status: str | None
    to_status: str | None
    detail: dict[str, Any]

    @classmethod
    def _from_row(cls, row: Row) -> TicketEvent:
        return cls(
            id=int(row["id"]),
            ticket_id=int(row["ticket_id"]),
            at=_req_dt(row["at"]),
            actor_id=row["actor_id"],
            actor_role=str(row["actor_role"]),
            kind=str(row["kind"]),
            from_status=row["from_status"],
            to_status=row["to_status"],
            detail=dict(json.loads(row["detail"])),
        )


@dataclass(frozen=True, slots=True)
class TicketPhoto:
    id: int
    ticket_id: int
    file_id: str
    file_unique_id: str
    added_by: int
    role: str
    at: datetime
    kind: str = "photo"  # or 'video'

    @classmethod
    def _from_row(cls, row: Row) -> TicketPhoto:
        return cls(
            id=int(row["id"]),
            ticket_id=int(row["ticket_id"]),
            file_id=str(row["file_id"]),
            file_unique_id=str(row["file_unique_id"]),
            added_by=int(row["added_by"]),
            role=str(row["role"]),
            at=_req_dt(row["at"]),
            kind=str(row["kind"]),
        )


@dataclass(frozen=True, slots=True)
class Follower:
    ticket_id: int
    user_id: int
    name: str
    chat_id: int | None
    at: datetime

    @classmethod
    def _from_row(cls, row: Row) -> Follower:
        return cls(
            ticket_id=int(row["ticket_id"]),
            user_id=int(row["user_id"]),
            name=str(row["name"]),
            chat_id=row["chat_id"],
            at=_req_dt(row["at"]),
        )


@dataclass(frozen=True, slots=True)
class Step:
    """A planned deadline step (remind, office, street, department, whistle_lapse, …)."""

    id: int
    ticket_id: int
    phase: str
    step: str
    started_at: datetime
    deadline_at: datetime
    due_at: datetime
    done_at: datetime | None
    outcome: str | None

    @classmethod
    def _from_row(cls, row: Row) -> Step:
        return cls(
            id=int(row["id"]),
            ticket_id=int(row["ticket_id"]),
            phase=str(row["phase"]),
            step=str(row["step"]),
            started_at=_req_dt(row["started_at"]),
            deadline_at=_req_dt(row["deadline_at"]),
            due_at=_req_dt(row["due_at"]),
            done_at=_dt(row["done_at"]),
            outcome=row["outcome"],
        )


@dataclass(frozen=True, slots=True)
class PlannedStep:
    """A step to plan: which deadline it belongs to and when the sweep must take it."""

    ticket_id: int
    phase: str
    step: str
    started_at: datetime
    deadline_at: datetime
    due_at: datetime


@dataclass(frozen=True, slots=True)
class Whistle:
    """A department called in (吹哨) on an overdue ticket."""

    id: int
    ticket_id: int
    department: str
    contact_id: int
    whistled_at: datetime
    ack_due_at: datetime
    acked_at: datetime | None
    acked_by: int | None
    lapsed_at: datetime | None

    @classmethod
    def _from_row(cls, row: Row) -> Whistle:
        return cls(
            id=int(row["id"]),
            ticket_id=int(row["ticket_id"]),
            department=str(row["department"]),
            contact_id=int(row["contact_id"]),
            whistled_at=_req_dt(row["whistled_at"]),
            ack_due_at=_req_dt(row["ack_due_at"]),
            acked_at=_dt(row["acked_at"]),
            acked_by=row["acked_by"],
            lapsed_at=_dt(row["lapsed_at"]),
        )


@dataclass(frozen=True, slots=True)
class NewEvent:
    """An event to append (the id and row come from the database)."""

    ticket_id: int
    at: datetime
    actor_id: int | None
    actor_role: str
    kind: str
    from_status: str | None
    to_status: str | None
    detail: dict[str, Any] = field(default_factory=dict)

    def params(self) -> tuple[Any, ...]:
        return (
            self.ticket_id,
            iso(self.at),
            self.actor_id,
            self.actor_role,
            self.kind,
            self.from_status,
            self.to_status,
            _JSON_SORTED.encode(self.detail),
        )


class DueStep(NamedTuple):
    """A pending step that has come due, with what the sweep needs of its ticket (no more).

    A tuple rather than a Ticket and a Step: the sweep reads thousands at once, and building
    those (every column parsed) was most of its reading time.
    """

    step_id: int
    phase: str
    step: str
    started_at: datetime
    deadline_at: datetime
    ticket_id: int
    number: int
    status: str
    category: str
    urgency: str
    building: str | None
    place: str | None  # the classifier's location["place"]
    text: str
    assignee_key: str | None
    assignee_id: int | None
    is_private: bool
    chat_id: int | None
    message_id: int | None
    resolved_at: datetime | None
    # A worker's 不予受理 waits for the admins: the worker has answered, the admins have not.
    reject_pending: bool = False


# (ticket_id, kind, from_status, to_status, detail) of a history row the system writes; the
# detail as a dict, or already encoded by encode_detail (the sweep encodes a shared one once).
SystemEvent = tuple[int, str, str | None, str | None, dict[str, Any] | str]


def encode_detail(detail: dict[str, Any]) -> str:
    """Return a history row's detail as stored (the JSON add_event writes)."""
    return _JSON_SORTED.encode(detail)


class QueuedText(NamedTuple):
    """A text message for the outbox, as the sweep decides thousands at once (no buttons but
    the given ones, no photo). Its payload is exactly OutgoingMessage.to_json() of the same."""

    dedup_key: str
    chat_id: int
    text: str
    purpose: str
    extra: dict[str, Any]
    private: bool = True
    reply_to_message_id: int | None = None
    buttons: tuple[tuple[Button, ...], ...] = ()
    not_before: datetime | None = None  # held until then (quiet hours); None: at once


_TICKET_COLUMNS = (
    "id, community, number, source_key, text, category, confidence, keywords, urgency, priority,"
    " location, building, grid, reporter_id, reporter_name, is_private, chat_id, message_id,"
    " reply_message_id, status, assignee_key, assignee_id, card_chat_id, card_message_id,"
    " escalation_level, duplicate_of, rating, created_at, accepted_at, resolved_at, closed_at,"
    " accept_due_at, resolve_due_at, next_check_at"
)
# The sweep's two columns live in ticket_clock (a narrow row of their own, 0021); every other
# column is the tickets row's.
_CLOCK_COLUMNS = {
    "escalation_level": "COALESCE(k.escalation_level, 0)",
    "next_check_at": "k.next_check_at",
}
_ALL_COLUMNS = [c.strip() for c in _TICKET_COLUMNS.split(",")]
_ROW_COLUMNS = [c for c in _ALL_COLUMNS if c not in _CLOCK_COLUMNS]
_SELECT_TICKET = (
    "SELECT "
    + ", ".join(_CLOCK_COLUMNS.get(c, f"t.{c}") for c in _ALL_COLUMNS)
    + ", (SELECT COUNT(*) FROM ticket_followers f WHERE f.ticket_id = t.id) AS follower_count"
    " FROM tickets t LEFT JOIN ticket_clock k ON k.ticket_id = t.id"
)
_EVENT_COLUMNS = (
    "ticket_id",
    "at",
    "actor_id",
    "actor_role",
    "kind",
    "from_status",
    "to_status",
    "detail",
)
_EVENT_INSERT = (
    f"INSERT INTO ticket_events ({', '.join(_EVENT_COLUMNS)}) VALUES (?, ?, ?, ?, ?, ?, ?, ?)"
)
# A ticket's next check: its earliest pending step (NULL when none).
_NEXT_CHECK = (
    "(SELECT MIN(s.due_at) FROM ticket_steps s"
    " WHERE s.ticket_id = ticket_clock.ticket_id AND s.done_at IS NULL)"
)
_STEP_COLUMNS = "id, ticket_id, phase, step, started_at, deadline_at, due_at, done_at, outcome"
_WHISTLE_COLUMNS = (
    "id, ticket_id, department, contact_id, whistled_at, ack_due_at, acked_at, acked_by, lapsed_at"
)
# Columns a service may change with update(); everything else is fixed at insert.
_UPDATABLE = frozenset(
    {
        "category",
        "urgency",
        "priority",
        "status",
        "assignee_key",
        "assignee_id",
        "card_chat_id",
        "card_message_id",
        "reply_message_id",
        "escalation_level",
        "duplicate_of",
        "rating",
        "accepted_at",
        "resolved_at",
        "closed_at",
        "accept_due_at",
        "resolve_due_at",
        "next_check_at",
    }
)


# Failed escalation sends not yet reported to the admins (no 'refused:<id>' row queued).
_REFUSED_FROM = (
    "FROM outbox o JOIN tickets t"
    " ON t.id = CAST(json_extract(o.payload, '$.extra.ticket_id') AS INTEGER)"
    " WHERE o.status = 'failed'"
    " AND json_extract(o.payload, '$.purpose') IN ('escalate', 'whistle')"
    # The office rung goes to the admins themselves: nobody else to tell.
    " AND COALESCE(CAST(json_extract(o.payload, '$.extra.level') AS INTEGER), 0) != 1"
    " AND NOT EXISTS (SELECT 1 FROM outbox r WHERE r.dedup_key = 'refused:' || o.id)"
)


class TicketRepository:
    """Statements over the ticket tables; the service owns the transactions."""

    def __init__(self, db: Store, *, community: str | None = None) -> None:
        self.db = db
        # The community whose messages queue_messages and queue_texts record on their outbox
        # rows (as OutboxRepository does): a reply to one of them leads back to it.
        self.community = community

    # ── tickets ──
    async def next_number(self, community: str) -> int:
        """Allocate the next human number of a community (call inside a transaction)."""
        row = await self.db.fetchone(
            "INSERT INTO ticket_numbers (community, last) VALUES (?, 1)"
            " ON CONFLICT (community) DO UPDATE SET last = ticket_numbers.last + 1 RETURNING last",
            (community,),
        )
        assert row is not None
        return int(row["last"])

    async def insert(self, values: dict[str, Any]) -> Ticket:
        """Insert a ticket row from column values; return it as stored (no followers yet)."""
        own = {c: v for c, v in values.items() if c not in _CLOCK_COLUMNS}
        level = int(values.get("escalation_level", 0))
        next_check = _stored(values.get("next_check_at"))
        placeholders = ", ".join("?" for _ in own)
        row = await self.db.fetchone(
            f"INSERT INTO tickets ({', '.join(own)}) VALUES ({placeholders})"
            f" RETURNING {', '.join(_ROW_COLUMNS)}",
            [_stored(v) for v in own.values()],
        )
        assert row is not None
        stored = dict(zip(_ROW_COLUMNS, tuple(row), strict=True))
        await self.db.execute(
            "INSERT INTO ticket_clock (ticket_id, community, escalation_level, next_check_at)"
            " VALUES (?, ?, ?, ?)",
            (stored["id"], stored["community"], level, next_check),
        )
        stored.update(escalation_level=level, next_check_at=next_check)
        return Ticket._from_row((*(stored[c] for c in _ALL_COLUMNS), 0))

    async def update(self, ticket_id: int, **values: Any) -> None:
        """Set some columns of a ticket."""
        unknown = set(values) - _UPDATABLE
        if unknown:
            raise ValueError(f"not updatable: {sorted(unknown)}")
        clock = {c: v for c, v in values.items() if c in _CLOCK_COLUMNS}
        own = {c: v for c, v in values.items() if c not in _CLOCK_COLUMNS}
        for table, key, part in (("tickets", "id", own), ("ticket_clock", "ticket_id", clock)):
            if part:
                assignments = ", ".join(f"{c} = ?" for c in part)
                await self.db.execute(
                    f"UPDATE {table} SET {assignments} WHERE {key} = ?",
                    [*(_stored(v) for v in part.values()), ticket_id],
                )

    async def get(self, ticket_id: int) -> Ticket | None:
        """Return a ticket by id."""
        row = await self.db.fetchone(_SELECT_TICKET + " WHERE t.id = ?", (ticket_id,))
        return None if row is None else Ticket._from_row(row)

    async def by_source(self, source_key: str) -> Ticket | None:
        """Return the ticket opened from a source message, if any."""
        row = await self.db.fetchone(_SELECT_TICKET + " WHERE t.source_key = ?", (source_key,))
        return None if row is None else Ticket._from_row(row)

    async def by_number(self, community: str, number: int) -> Ticket | None:
        """Return a community's ticket #number."""
        row = await self.db.fetchone(
            _SELECT_TICKET + " WHERE t.community = ? AND t.number = ?", (community, number)
        )
        return None if row is None else Ticket._from_row(row)

    async def find_open_like(
        self,
        community: str,
        category: str,
        building: str | None,
        place: str | None,
        statuses: Sequence[str],
        since: datetime,
        limit: int,
    ) -> list[Ticket]:
        """Return the open tickets of a category at the same building (and place), newest
        first."""
        marks = ", ".join("?" for _ in statuses)
        sql = (
            _SELECT_TICKET + " WHERE t.community = ? AND t.category = ? AND t.building IS ?"
            f" AND t.status IN ({marks}) AND t.created_at >= ?"
        )
        params: list[Any] = [community, category, building, *statuses, iso(since)]
        if place is not None:
            sql += " AND json_extract(t.location, '$.place') IS ?"
            params.append(place)
        rows = await self.db.fetchall(
            sql + " ORDER BY t.created_at DESC, t.id DESC LIMIT ?", [*params, limit]
        )
        return [Ticket._from_row(row) for row in rows]

    async def recent_by_reporter(
        self, community: str, reporter_id: int, category: str, since: datetime, limit: int
    ) -> list[Ticket]:
        """Return the reporter's tickets of a category opened since a moment, newest first."""
        rows = await self.db.fetchall(
            _SELECT_TICKET + " WHERE t.reporter_id = ? AND t.created_at >= ? AND t.category = ?"
            " AND t.community = ? ORDER BY t.created_at DESC, t.id DESC LIMIT ?",
            (reporter_id, iso(since), category, community, limit),
        )
        return [Ticket._from_row(row) for row in rows]

    async def id_by_reply(self, chat_id: int, reply_message_id: int) -> int | None:
        """Return the id of the ticket whose acknowledgement is this bot message."""
        found = await self.db.fetchval(
            "SELECT id FROM tickets WHERE chat_id = ? AND reply_message_id = ?",
            (chat_id, reply_message_id),
        )
        return None if found is None else int(found)

    async def open_ids_by_reporter(
        self, community: str, reporter_id: int, statuses: Sequence[str], limit: int
    ) -> list[int]:
        """Return the ids of a reporter's tickets in some states, newest first."""
        marks = ", ".join("?" for _ in statuses)
        rows = await self.db.fetchall(
            f"SELECT id FROM tickets WHERE reporter_id = ? AND status IN ({marks})"
            " AND community = ? ORDER BY created_at DESC, id DESC LIMIT ?",
            (reporter_id, *statuses, community, limit),
        )
        return [int(r["id"]) for r in rows]

    async def by_assignee(
        self, community: str, worker_key: str, statuses: Sequence[str]
    ) -> list[Ticket]:
        """Return a worker's tickets in the given states, highest priority and oldest first."""
        marks = ", ".join("?" for _ in statuses)
        rows = await self.db.fetchall(
            _SELECT_TICKET + f" WHERE t.assignee_key = ? AND t.status IN ({marks})"
            " AND t.community = ? ORDER BY t.priority DESC, t.created_at, t.id",
            (worker_key, *statuses, community),
        )
        return [Ticket._from_row(r) for r in rows]

    async def in_period(self, since: datetime, until: datetime) -> list[Ticket]:
        """Return the tickets created in [since, until)."""
        rows = await self.db.fetchall(
            _SELECT_TICKET + " WHERE t.created_at >= ? AND t.created_at < ? ORDER BY t.id",
            (iso(since), iso(until)),
        )
        return [Ticket._from_row(r) for r in rows]

    # ── history ──
    async def add_event(self, event: NewEvent) -> int:
        """Append one history row."""
        return int(await self.db.fetchval(_EVENT_INSERT + " RETURNING id", event.params()))

    async def add_events(self, events: Iterable[NewEvent]) -> None:
        """Append many history rows, in their order."""
        await self.db.insert_rows("ticket_events", _EVENT_COLUMNS, [e.params() for e in events])

    async def add_system_events(self, events: Sequence[SystemEvent], at: datetime) -> None:
        """Append (ticket_id, kind, from_status, to_status, detail) rows the system made at `at`.

        The same rows as add_events with actor_id None and actor_role 'system'.
        """
        stamp = iso(at)
        await self.db.insert_rows(
            "ticket_events",
            _EVENT_COLUMNS,
            [
                (
                    ticket_id,
                    stamp,
                    None,
                    "system",
                    kind,
                    before,
                    after,
                    detail if isinstance(detail, str) else _JSON_SORTED.encode(detail),
                )
                for ticket_id, kind, before, after, detail in events
            ],
        )

    async def events(self, ticket_id: int) -> list[TicketEvent]:
        """Return a ticket's history, oldest first."""
        rows = await self.db.fetchall(
            "SELECT id, ticket_id, at, actor_id, actor_role, kind, from_status, to_status, detail"
            " FROM ticket_events WHERE ticket_id = ? ORDER BY id",
            (ticket_id,),
        )
        return [TicketEvent._from_row(r) for r in rows]

    async def last_event(self, ticket_id: int, kinds: Sequence[str]) -> TicketEvent | None:
        """Return a ticket's latest event of some kinds, or None."""
        marks = ", ".join("?" for _ in kinds)
        row = await self.db.fetchone(
            "SELECT id, ticket_id, at, actor_id, actor_role, kind, from_status, to_status, detail"
            f" FROM ticket_events WHERE ticket_id = ? AND kind IN ({marks})"
            " ORDER BY id DESC LIMIT 1",
            (ticket_id, *kinds),
        )
        return None if row is None else TicketEvent._from_row(row)

    async def events_of_kind(
        self, kinds: Sequence[str], since: datetime, until: datetime
    ) -> list[TicketEvent]:
        """Return events of some kinds in [since, until)."""
        marks = ", ".join("?" for _ in kinds)
        rows = await self.db.fetchall(
            "SELECT id, ticket_id, at, actor_id, actor_role, kind, from_status, to_status, detail"
            f" FROM ticket_events WHERE kind IN ({marks}) AND at >= ? AND at < ? ORDER BY id",
            (*kinds, iso(since), iso(until)),
        )
        return [TicketEvent._from_row(r) for r in rows]

    async def has_event(self, ticket_id: int, kind: str) -> bool:
        """Tell whether a ticket's history holds an event of a kind."""
        found = await self.db.fetchval(
            "SELECT 1 FROM ticket_events WHERE ticket_id = ? AND kind = ?", (ticket_id, kind)
        )
        return found is not None

    # ── photos and followers ──
    async def add_photo(
        self,
        ticket_id: int,
        file_id: str,
        file_unique_id: str,
        added_by: int,
        role: str,
        at: datetime,
        kind: str = "photo",
    ) -> bool:
        """Attach a photo (or a video) once; return False when it was attached before."""
        count = await self.db.execute_rowcount(
            "INSERT INTO ticket_photos"
            " (ticket_id, file_id, file_unique_id, added_by, role, at, kind)"
            " VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT (ticket_id, file_unique_id) DO NOTHING",
            (ticket_id, file_id, file_unique_id, added_by, role, iso(at), kind),
        )
        return count > 0

    async def photos(self, ticket_id: int) -> list[TicketPhoto]:
        """Return a ticket's photos and videos in the order they came."""
        rows = await self.db.fetchall(
            "SELECT id, ticket_id, file_id, file_unique_id, added_by, role, at, kind"
            " FROM ticket_photos WHERE ticket_id = ? ORDER BY id",
            (ticket_id,),
        )
        return [TicketPhoto._from_row(r) for r in rows]

    async def add_follower(
        self, ticket_id: int, user_id: int, name: str, chat_id: int | None, at: datetime
    ) -> bool:
        """Add a follower once; return False when they already follow."""
        count = await self.db.execute_rowcount(
            "INSERT INTO ticket_followers (ticket_id, user_id, name, chat_id, at)"
            " VALUES (?, ?, ?, ?, ?) ON CONFLICT (ticket_id, user_id) DO NOTHING",
            (ticket_id, user_id, name, chat_id, iso(at)),
        )
        return count > 0

    async def is_follower(self, ticket_id: int, user_id: int) -> bool:
        """Tell whether a resident follows a ticket."""
        found = await self.db.fetchval(
            "SELECT 1 FROM ticket_followers WHERE ticket_id = ? AND user_id = ?",
            (ticket_id, user_id),
        )
        return found is not None

    async def followers(self, ticket_id: int) -> list[Follower]:
        """Return a ticket's followers in the order they joined."""
        rows = await self.db.fetchall(
            "SELECT ticket_id, user_id, name, chat_id, at FROM ticket_followers"
            " WHERE ticket_id = ? ORDER BY at, user_id",
            (ticket_id,),
        )
        return [Follower._from_row(r) for r in rows]

    # ── deadline steps ──
    async def plan_steps(self, steps: Iterable[PlannedStep]) -> None:
        """Plan steps (a step planned before for the same deadline is kept as it was)."""
        await self._plan(
            (s.ticket_id, s.phase, s.step, iso(s.started_at), iso(s.deadline_at), iso(s.due_at))
            for s in steps
        )

    async def _plan(self, steps: Iterable[tuple[int, str, str, str, str, str]]) -> None:
        rows: dict[tuple[int, str, str, str], tuple[int, str, str, str, str, str]] = {}
        for row in steps:
            # The first of two alike wins, as when each was inserted on its own: the second
            # met the first and left it (PostgreSQL refuses one upsert touching a row twice).
            rows.setdefault((row[0], row[1], row[2], row[4]), row)
        await self.db.insert_rows(
            "ticket_steps",
            ("ticket_id", "phase", "step", "started_at", "deadline_at", "due_at"),
            list(rows.values()),
            "ON CONFLICT (ticket_id, phase, step, deadline_at)"
            # A step cancelled by a hand-over and planned again for the same deadline revives.
            " DO UPDATE SET started_at = excluded.started_at, due_at = excluded.due_at,"
            " done_at = NULL, outcome = NULL WHERE ticket_steps.outcome = 'cancelled'",
        )

    async def plan_step_rows(
        self, rows: Sequence[tuple[int, str, str, datetime, datetime, datetime]]
    ) -> None:
        """plan_steps for (ticket_id, phase, step, started_at, deadline_at, due_at) tuples."""
        stored = _memo(iso)
        await self._plan(
            (t, phase, step, stored(started), stored(deadline), stored(due))
            for t, phase, step, started, deadline, due in rows
        )

    async def cancel_steps(
        self, ticket_id: int, now: datetime, phases: Sequence[str] | None = None
    ) -> None:
        """Cancel a ticket's pending steps (all, or of some phases)."""
        sql = "UPDATE ticket_steps SET done_at = ?, outcome = 'cancelled'"
        sql += " WHERE ticket_id = ? AND done_at IS NULL"
        params: list[Any] = [iso(now), ticket_id]
        if phases:
            sql += f" AND phase IN ({', '.join('?' for _ in phases)})"
            params.extend(phases)
        await self.db.execute(sql, params)

    async def steps(self, ticket_id: int) -> list[Step]:
        """Return every step planned for a ticket."""
        rows = await self.db.fetchall(
            f"SELECT {_STEP_COLUMNS} FROM ticket_steps WHERE ticket_id = ? ORDER BY due_at, id",
            (ticket_id,),
        )
        return [Step._from_row(r) for r in rows]

    async def raise_level_and_refresh(self, levels: Iterable[tuple[int, int]]) -> None:
        """Raise each (ticket, escalation level) and refresh its next_check_at, in one pass."""
        by_level: dict[int, list[int]] = {}
        for ticket_id, level in levels:
            by_level.setdefault(level, []).append(ticket_id)
        for level, ids in sorted(by_level.items()):
            await _update_in(
                self.db,
                "UPDATE ticket_clock SET escalation_level = MAX(escalation_level, ?),"
                f" next_check_at = {_NEXT_CHECK} WHERE ticket_id",
                ids,
                (level,),
            )

    async def refresh_next_check(self, ticket_ids: Iterable[int]) -> None:
        """Set next_check_at to each ticket's earliest pending step (NULL when none)."""
        await _update_in(
            self.db,
            f"UPDATE ticket_clock SET next_check_at = {_NEXT_CHECK} WHERE ticket_id",
            list(ticket_ids),
        )

    async def due_steps(self, community: str, now: datetime, limit: int) -> list[DueStep]:
        """Return a community's pending steps that are due, for tickets whose check has come.

        Up to `limit` tickets, each with all its due steps, in ticket order then due order.
        """
        # The outer scan walks the partial index ticket_clock_due (one community's range of
        # it), never the whole table.
        rows = await self.db.fetchall(
            "WITH due AS (SELECT ticket_id AS id FROM ticket_clock INDEXED BY ticket_clock_due"
            " WHERE community = ? AND next_check_at IS NOT NULL AND next_check_at <= ?"
            " ORDER BY next_check_at LIMIT ?)"
            " SELECT s.id, s.phase, s.step, s.started_at, s.deadline_at, t.id, t.number,"
            " t.status, t.category, t.urgency, t.building, t.location, t.text, t.assignee_key,"
            " t.assignee_id, t.is_private, t.chat_id, t.message_id, t.resolved_at,"
            " r.id IS NOT NULL"
            " FROM due JOIN tickets t ON t.id = due.id"
            " JOIN ticket_steps s ON s.ticket_id = t.id AND s.done_at IS NULL AND s.due_at <= ?"
            " LEFT JOIN reject_requests r ON r.ticket_id = t.id AND r.decided_at IS NULL"
            " ORDER BY t.id, s.due_at, s.id",
            (community, iso(now), limit, iso(now)),
        )
        parse = _memo(datetime.fromisoformat)
        return [
            DueStep(
                r[0],
                r[1],
                r[2],
                parse(r[3]),
                parse(r[4]),
                r[5],
                r[6],
                r[7],
                r[8],
                r[9],
                r[10],
                _place(r[11]),
                r[12],
                r[13],
                r[14],
                bool(r[15]),
                r[16],
                r[17],
                None if r[18] is None else parse(r[18]),
                bool(r[19]),
            )
            for r in map(tuple, rows)
        ]

    async def finish_steps(self, done: Iterable[tuple[int, str]], now: datetime) -> None:
        """Mark steps done with an outcome ('done', 'skipped', 'acked')."""
        by_outcome: dict[str, list[int]] = {}
        for step_id, outcome in done:
            by_outcome.setdefault(outcome, []).append(step_id)
        for outcome, ids in sorted(by_outcome.items()):
            await _update_in(
                self.db,
                "UPDATE ticket_steps SET done_at = ?, outcome = ? WHERE done_at IS NULL AND id",
                ids,
                (iso(now), outcome),
            )

    async def pending_step(self, ticket_id: int, phase: str, step: str) -> Step | None:
        """Return a ticket's pending step of a kind, if any."""
        row = await self.db.fetchone(
            f"SELECT {_STEP_COLUMNS} FROM ticket_steps"
            " WHERE ticket_id = ? AND phase = ? AND step = ? AND done_at IS NULL"
            " ORDER BY due_at LIMIT 1",
            (ticket_id, phase, step),
        )
        return None if row is None else Step._from_row(row)

    # ── whistles ──
    async def add_whistle(
        self, ticket_id: int, department: str, contact_id: int, at: datetime, ack_due: datetime
    ) -> None:
        """Record that a department was called in."""
        await self.db.execute(
            "INSERT INTO ticket_whistles (ticket_id, department, contact_id, whistled_at,"
            " ack_due_at) VALUES (?, ?, ?, ?, ?) ON CONFLICT DO NOTHING",
            (ticket_id, department, contact_id, iso(at), iso(ack_due)),
        )

    async def add_whistles(
        self, whistles: Iterable[tuple[int, str, int, datetime, datetime]]
    ) -> None:
        """Record (ticket_id, department, contact_id, at, ack_due) whistles, in their order."""
        await self.db.insert_rows(
            "ticket_whistles",
            ("ticket_id", "department", "contact_id", "whistled_at", "ack_due_at"),
            [(t, d, c, iso(at), iso(due)) for t, d, c, at, due in whistles],
            "ON CONFLICT DO NOTHING",
        )

    async def open_whistle(self, ticket_id: int) -> Whistle | None:
        """Return the latest whistle of a ticket not yet acknowledged."""
        row = await self.db.fetchone(
            f"SELECT {_WHISTLE_COLUMNS} FROM ticket_whistles"
            " WHERE ticket_id = ? AND acked_at IS NULL ORDER BY whistled_at DESC LIMIT 1",
            (ticket_id,),
        )
        return None if row is None else Whistle._from_row(row)

    async def whistles(self, ticket_id: int) -> list[Whistle]:
        """Return every whistle of a ticket."""
        rows = await self.db.fetchall(
            f"SELECT {_WHISTLE_COLUMNS} FROM ticket_whistles WHERE ticket_id = ? ORDER BY id",
            (ticket_id,),
        )
        return [Whistle._from_row(r) for r in rows]

    async def ack_whistle(self, whistle_id: int, user_id: int, at: datetime) -> None:
        """Record a department's acknowledgement."""
        await self.db.execute(
            "UPDATE ticket_whistles SET acked_at = ?, acked_by = ? WHERE id = ?",
            (iso(at), user_id, whistle_id),
        )

    async def lapse_whistles(self, ticket_ids: Iterable[int], at: datetime) -> None:
        """Record that unacknowledged whistles were reported to the street office."""
        await _update_in(
            self.db,
            "UPDATE ticket_whistles SET lapsed_at = ?"
            " WHERE acked_at IS NULL AND lapsed_at IS NULL AND ticket_id",
            list(ticket_ids),
            (iso(at),),
        )

    # ── ratings ──
    async def close_unrated(
        self, tickets: Sequence[tuple[int, datetime]], status: str, now: datetime
    ) -> None:
        """Move (ticket_id, resolved_at) tickets nobody rated in time to `status`, unrated."""
        await _update_in(
            self.db,
            "UPDATE tickets SET status = ?, rating = 'unrated', closed_at = ? WHERE id",
            [ticket_id for ticket_id, _ in tickets],
            (status, iso(now)),
        )
        await self.db.insert_rows(
            "ticket_ratings",
            ("ticket_id", "resolved_at", "user_id", "role", "rating", "at"),
            [(t, iso(resolved), None, "system", "unrated", iso(now)) for t, resolved in tickets],
            "ON CONFLICT DO NOTHING",
        )

    async def add_rating(
        self,
        ticket_id: int,
        resolved_at: datetime,
        user_id: int | None,
        role: str,
        rating: str,
        at: datetime,
    ) -> bool:
        """Record the rating of one resolution; return False when it was rated before."""
        count = await self.db.execute_rowcount(
            "INSERT INTO ticket_ratings (ticket_id, resolved_at, user_id, role, rating, at)"
            " VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING",
            (ticket_id, iso(resolved_at), user_id, role, rating, iso(at)),
        )
        return count > 0

    async def ratings(self, ticket_id: int) -> list[tuple[datetime, int | None, str, str]]:
        """Return (resolved_at, user_id, role, rating) of each rated resolution."""
        rows = await self.db.fetchall(
            "SELECT resolved_at, user_id, role, rating FROM ticket_ratings"
            " WHERE ticket_id = ? ORDER BY resolved_at",
            (ticket_id,),
        )
        return [
            (_req_dt(r["resolved_at"]), r["user_id"], str(r["role"]), str(r["rating"]))
            for r in rows
        ]

    # ── 不予受理 waiting for approval ──
    async def add_reject_request(
        self,
        ticket_id: int,
        reason: str,
        requested_by: int,
        requester_key: str | None,
        at: datetime,
        chat_id: int,
    ) -> int:
        """Record a worker's request to refuse a ticket; return its id."""
        new_id = await self.db.fetchval(
            "INSERT INTO reject_requests (ticket_id, reason, requested_by, requester_key,"
            " requested_at, chat_id) VALUES (?, ?, ?, ?, ?, ?) RETURNING id",
            (ticket_id, reason, requested_by, requester_key, iso(at), chat_id),
        )
        return int(new_id)

    async def reject_request(self, request_id: int) -> RejectRequest | None:
        """Return a request by id, or None."""
        row = await self.db.fetchone(
            f"SELECT {_REJECT_COLUMNS} FROM reject_requests WHERE id = ?", (request_id,)
        )
        return None if row is None else RejectRequest._from_row(row)

    async def open_reject_request(self, ticket_id: int) -> RejectRequest | None:
        """Return a ticket's undecided request, or None."""
        row = await self.db.fetchone(
            f"SELECT {_REJECT_COLUMNS} FROM reject_requests"
            " WHERE ticket_id = ? AND decided_at IS NULL",
            (ticket_id,),
        )
        return None if row is None else RejectRequest._from_row(row)

    async def decide_reject_request(
        self, request_id: int, by: int | None, outcome: str, at: datetime
    ) -> bool:
        """Record the decision once; False when it was decided already."""
        count = await self.db.execute_rowcount(
            "UPDATE reject_requests SET decided_at = ?, decided_by = ?, outcome = ?"
            " WHERE id = ? AND decided_at IS NULL",
            (iso(at), by, outcome, request_id),
        )
        return bool(count)

    # ── outbox, in bulk ──
    async def queue_held_messages(
        self, messages: Iterable[tuple[str, int, OutgoingMessage, datetime]], now: datetime
    ) -> None:
        """Queue (dedup_key, chat_id, message, not_before) rows held until not_before."""
        stamp = now.astimezone(UTC).isoformat()
        await self._queue(
            [
                (key, chat, msg.to_json(), stamp, at.astimezone(UTC).isoformat())
                for key, chat, msg, at in messages
            ]
        )

    async def communities_with_work(self, now: datetime) -> set[str]:
        """Return the communities a sweep has work in: steps due, or refusals to report.

        Reads over partial indexes (ticket_clock_due, outbox_failed): a street office's sweep
        job runs only those communities' sweeps (together, in one transaction). The due index
        is walked community by community (each community's least next check: one probe each).
        """
        due = await self.db.fetchall(
            "WITH RECURSIVE c (community) AS ("
            " SELECT MIN(community) FROM ticket_clock WHERE next_check_at IS NOT NULL"
            " UNION ALL SELECT (SELECT MIN(community) FROM ticket_clock"
            " WHERE next_check_at IS NOT NULL AND community > c.community)"
            " FROM c WHERE c.community IS NOT NULL)"
            " SELECT c.community FROM c WHERE c.community IS NOT NULL AND EXISTS ("
            "SELECT 1 FROM ticket_clock k WHERE k.community = c.community"
            " AND k.next_check_at IS NOT NULL AND k.next_check_at <= ?)",
            (iso(now),),
        )
        refused = await self.db.fetchall(f"SELECT DISTINCT t.community {_REFUSED_FROM}", ())
        return {str(r[0]) for r in (*due, *refused)}

    async def refused_escalations(self, community: str) -> list[RefusedEscalation]:
        """Return a community's failed escalation sends not yet reported."""
        rows = await self.db.fetchall(
            "SELECT o.id, t.id AS ticket_id, t.number,"
            " json_extract(o.payload, '$.purpose') AS purpose,"
            " json_extract(o.payload, '$.extra.level') AS level,"
            " json_extract(o.payload, '$.extra.department') AS department"
            f" {_REFUSED_FROM} AND t.community = ? ORDER BY o.id",
            (community,),
        )
        return [
            RefusedEscalation(
                outbox_id=int(r["id"]),
                ticket_id=int(r["ticket_id"]),
                number=int(r["number"]),
                purpose=str(r["purpose"]),
                level=None if r["level"] is None else int(r["level"]),
                department=r["department"],
            )
            for r in rows
        ]

    async def queue_messages(
        self,
        messages: Iterable[tuple[str, int, OutgoingMessage]],
        now: datetime,
        *,
        not_before: Mapping[str, datetime] | None = None,
    ) -> None:
        """Queue (dedup_key, chat_id, message) rows in the outbox, skipping keys queued before.

        `not_before` holds some of them (by dedup_key) until a later time.
        """
        # Same rows OutboxRepository.enqueue writes, in one statement for the sweep's batches.
        stamp = now.astimezone(UTC).isoformat()
        later = {k: t.astimezone(UTC).isoformat() for k, t in (not_before or {}).items()}
        await self._queue(
            [
                (key, chat, msg.to_json(), stamp, later.get(key, stamp))
                for key, chat, msg in messages
            ]
        )

    async def queue_texts(self, messages: Sequence[QueuedText], now: datetime) -> None:
        """Queue QueuedText rows in the outbox, skipping keys queued before."""
        stamp = iso(now)
        stored = _memo(iso)
        await self._queue(
            [
                (
                    m.dedup_key,
                    m.chat_id,
                    OutgoingMessage(
                        text=m.text,
                        buttons=m.buttons,
                        reply_to_message_id=m.reply_to_message_id,
                        private=m.private,
                        purpose=m.purpose,
                        extra=m.extra,
                    ).to_json(),
                    stamp,
                    stamp if m.not_before is None else stored(m.not_before),
                )
                for m in messages
            ]
        )

    async def _queue(self, rows: Sequence[tuple[str, int, str, str, str]]) -> None:
        # The first row of a key wins, as when each was inserted on its own.
        unique: dict[str, tuple[str, int, str, str, str, str | None]] = {}
        for row in rows:
            unique.setdefault(row[0], (*row, self.community))
        await self.db.insert_rows(
            "outbox",
            ("dedup_key", "chat_id", "payload", "created_at", "not_before", "community"),
            list(unique.values()),
            "ON CONFLICT (dedup_key) DO NOTHING",
        )


@dataclass(frozen=True, slots=True)
class RejectRequest:
    """A worker's 不予受理, waiting for (or decided by) an admin."""

    id: int
    ticket_id: int
    reason: str
    requested_by: int
    requester_key: str | None
    requested_at: datetime
    chat_id: int
    decided_at: datetime | None
    decided_by: int | None
    outcome: str | None

    @classmethod
    def _from_row(cls, row: Row) -> RejectRequest:
        return cls(
            id=int(row["id"]),
            ticket_id=int(row["ticket_id"]),
            reason=str(row["reason"]),
            requested_by=int(row["requested_by"]),
            requester_key=row["requester_key"],
            requested_at=_req_dt(row["requested_at"]),
            chat_id=int(row["chat_id"]),
            decided_at=_dt(row["decided_at"]),
            decided_by=row["decided_by"],
            outcome=row["outcome"],
        )


_REJECT_COLUMNS = (
    "id, ticket_id, reason, requested_by, requester_key, requested_at, chat_id, decided_at,"
    " decided_by, outcome"
)


@dataclass(frozen=True, slots=True)
class RefusedEscalation:
    """An escalation Telegram refused (chat not found, 403) that nobody was told of yet."""

    outbox_id: int
    ticket_id: int
    number: int
    purpose: str
    level: int | None
    department: str | None


def _memo(convert: Callable[[_K], _V]) -> Callable[[_K], _V]:
    """Return `convert` remembering its answers: a batch holds few distinct times."""
    seen: dict[_K, _V] = {}

    def get(key: _K) -> _V:
        value = seen.get(key)
        if value is None:
            value = seen[key] = convert(key)
        return value

    return get


def _place(location: str | None) -> str | None:
    """The "place" of a ticket's stored location JSON, without parsing the usual ones."""
    if not location or '"place"' not in location:
        return None
    value = json.loads(location)
    return value.get("place") if isinstance(value, dict) else None


def _stored(value: Any) -> Any:
    if isinstance(value, datetime):
        return iso(value)
    if isinstance(value, bool):
        return int(value)
    if isinstance(value, tuple | list):
        return json.dumps(list(value), ensure_ascii=False)
    if isinstance(value, dict):
        return json.dumps(value, ensure_ascii=False, sort_keys=True)
    return value
