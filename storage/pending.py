"""Reports waiting for the reporter's answer (which category, which building)."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from storage.store import Row, Store


@dataclass(frozen=True, slots=True)
class PendingReport:
    id: int
    kind: str
    reporter_id: int
    reporter_name: str
    chat_id: int
    message_id: int
    is_private: bool
    text: str
    reading: dict[str, Any]
    photos: list[list[str]]
    prompt_message_id: int | None
    created_at: datetime
    expires_at: datetime
    resolved: str | None

    @classmethod
    def _from_row(cls, row: Row) -> PendingReport:
        return cls(
            id=int(row["id"]),
            kind=str(row["kind"]),
            reporter_id=int(row["reporter_id"]),
            reporter_name=str(row["reporter_name"]),
            chat_id=int(row["chat_id"]),
            message_id=int(row["message_id"]),
            is_private=bool(row["is_private"]),
            text=str(row["text"]),
            reading=json.loads(row["reading"]),
            photos=json.loads(row["photos"]),
            prompt_message_id=row["prompt_message_id"],
            created_at=datetime.fromisoformat(row["created_at"]),
            expires_at=datetime.fromisoformat(row["expires_at"]),
            resolved=row["resolved"],
        )


_PENDING_COLUMNS = (
    "id, kind, reporter_id, reporter_name, chat_id, message_id, is_private, text, reading,"
    " photos, prompt_message_id, created_at, expires_at, resolved"
)


class PendingRepository:
    """Reports waiting for the reporter's answer (which category, which building)."""

    def __init__(self, db: Store) -> None:
        self.db = db

    async def add(
        self,
        *,
        kind: str,
        reporter_id: int,
        reporter_name: str,
        chat_id: int,
        message_id: int,
        is_private: bool,
        text: str,
        reading: dict[str, Any],
        photos: list[list[str]],
        created_at: datetime,
        expires_at: datetime,
    ) -> int:
        """Store a waiting report (once per message); return its id."""
        row = await self.db.fetchone(
            "INSERT INTO pending_reports (kind, reporter_id, reporter_name, chat_id, message_id,"
            " is_private, text, reading, photos, created_at, expires_at)"
            " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
            " ON CONFLICT (chat_id, message_id) DO UPDATE SET kind = excluded.kind,"
            " reading = excluded.reading RETURNING id",
            (
                kind,
                reporter_id,
                reporter_name,
                chat_id,
                message_id,
                int(is_private),
                text,
                json.dumps(reading, ensure_ascii=False),
                json.dumps(photos),
                created_at.isoformat(),
                expires_at.isoformat(),
            ),
        )
        assert row is not None
        return int(row["id"])

    async def get(self, pending_id: int) -> PendingReport | None:
        """Return one waiting report."""
        row = await self.db.fetchone(
            f"SELECT {_PENDING_COLUMNS} FROM pending_reports WHERE id = ?", (pending_id,)
        )
        return None if row is None else PendingReport._from_row(row)

    async def by_prompt(self, chat_id: int, prompt_message_id: int) -> PendingReport | None:
        """Return the waiting report whose question is this bot message."""
        row = await self.db.fetchone(
            f"SELECT {_PENDING_COLUMNS} FROM pending_reports"
            " WHERE chat_id = ? AND prompt_message_id = ?",
            (chat_id, prompt_message_id),
        )
        return None if row is None else PendingReport._from_row(row)

    async def open_for(
        self, chat_id: int, reporter_id: int, kind: str, now: datetime
    ) -> PendingReport | None:
        """Return the reporter's newest unanswered question of a kind in a chat."""
        row = await self.db.fetchone(
            f"SELECT {_PENDING_COLUMNS} FROM pending_reports"
            " WHERE chat_id = ? AND reporter_id = ? AND kind = ? AND resolved IS NULL"
            " AND expires_at > ? ORDER BY id DESC LIMIT 1",
            (chat_id, reporter_id, kind, now.isoformat()),
        )
        return None if row is None else PendingReport._from_row(row)

    async def set_prompt(self, pending_id: int, message_id: int) -> None:
        """Remember the bot's question message (to edit it when answered)."""
        await self.db.execute(
            "UPDATE pending_reports SET prompt_message_id = ? WHERE id = ?",
            (message_id, pending_id),
        )

    async def settle(self, pending_id: int, how: str) -> bool:
        """Mark a waiting report answered; False when it was already settled."""
        count = await self.db.execute_rowcount(
            "UPDATE pending_reports SET resolved = ? WHERE id = ? AND resolved IS NULL",
            (how, pending_id),
        )
        return count > 0
