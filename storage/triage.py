"""The triage list: group messages that might be complaints, waiting for a grid worker."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from storage.store import Row, Store

OPEN = "open"
OPENED = "opened"
DISMISSED = "dismissed"

_COLUMNS = (
    "id, community, source_key, chat_id, message_id, reporter_id, reporter_name, text, reading,"
    " group_grids, worker_key, worker_id, status, created_at, due_at, handled_by, digested_at"
)


@dataclass(frozen=True, slots=True)
class TriageItem:
    id: int
    community: str
    source_key: str
    chat_id: int
    message_id: int
    reporter_id: int
    reporter_name: str
    text: str
    reading: dict[str, Any]
    group_grids: tuple[str, ...] | None
    worker_key: str | None
    worker_id: int | None
    status: str
    created_at: datetime
    due_at: datetime
    handled_by: int | None
    digested_at: datetime | None

    @classmethod
    def _from_row(cls, row: Row) -> TriageItem:
        grids = row["group_grids"]
        return cls(
            id=int(row["id"]),
            community=str(row["community"]),
            source_key=str(row["source_key"]),
            chat_id=int(row["chat_id"]),
            message_id=int(row["message_id"]),
            reporter_id=int(row["reporter_id"]),
            reporter_name=str(row["reporter_name"]),
            text=str(row["text"]),
            reading=json.loads(row["reading"]),
            group_grids=tuple(json.loads(grids)) if grids is not None else None,
            worker_key=row["worker_key"],
            worker_id=row["worker_id"],
            status=str(row["status"]),
            created_at=datetime.fromisoformat(row["created_at"]),
            due_at=datetime.fromisoformat(row["due_at"]),
            handled_by=row["handled_by"],
            digested_at=(
                datetime.fromisoformat(row["digested_at"]) if row["digested_at"] else None
            ),
        )


def _utc(when: datetime) -> str:
    return when.astimezone(UTC).isoformat()


async def add(
    db: Store,
    *,
    community: str,
    source_key: str,
    chat_id: int,
    message_id: int,
    reporter_id: int,
    reporter_name: str,
    text: str,
    reading: dict[str, Any],
    group_grids: tuple[str, ...] | None,
    worker_key: str | None,
    worker_id: int | None,
    now: datetime,
    due: datetime,
) -> tuple[TriageItem, bool]:
    """Store an item once per message; return it and whether it is new."""
    count = await db.execute_rowcount(
        "INSERT INTO triage_items (community, source_key, chat_id, message_id, reporter_id,"
        " reporter_name, text, reading, group_grids, worker_key, worker_id, created_at, due_at)"
        " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (source_key) DO NOTHING",
        (
            community,
            source_key,
            chat_id,
            message_id,
            reporter_id,
            reporter_name,
            text,
            json.dumps(reading, ensure_ascii=False),
            json.dumps(list(group_grids)) if group_grids is not None else None,
            worker_key,
            worker_id,
            _utc(now),
            _utc(due),
        ),
    )
    row = await db.fetchone(
        f"SELECT {_COLUMNS} FROM triage_items WHERE source_key = ?", (source_key,)
    )
    assert row is not None
    return TriageItem._from_row(row), bool(count)


async def get(db: Store, item_id: int) -> TriageItem | None:
    """Return one item."""
    row = await db.fetchone(f"SELECT {_COLUMNS} FROM triage_items WHERE id = ?", (item_id,))
    return TriageItem._from_row(row) if row is not None else None


async def settle(db: Store, item_id: int, status: str, by: int, now: datetime) -> bool:
    """Close an open item as opened or dismissed; False when someone settled it first."""
    count = await db.execute_rowcount(
        "UPDATE triage_items SET status = ?, handled_by = ?, handled_at = ?"
        " WHERE id = ? AND status = 'open'",
        (status, by, _utc(now), item_id),
    )
    return count > 0


async def overdue(db: Store, community: str, now: datetime) -> list[TriageItem]:
    """Return open items past their deadline that no digest has listed yet."""
    rows = await db.fetchall(
        f"SELECT {_COLUMNS} FROM triage_items WHERE community = ? AND status = 'open'"
        " AND due_at <= ? AND digested_at IS NULL ORDER BY id",
        (community, _utc(now)),
    )
    return [TriageItem._from_row(r) for r in rows]


async def mark_digested(db: Store, item_ids: list[int], now: datetime) -> None:
    """Note that a staff digest listed these items."""
    await db.executemany(
        "UPDATE triage_items SET digested_at = ? WHERE id = ?",
        [(_utc(now), item_id) for item_id in item_ids],
    )
