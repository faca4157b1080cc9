"""Dialogues: the one short conversation the bot holds with a person, step by step."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from storage.store import Row, Store

_COLUMNS = "user_id, kind, chat_id, state, last_message_id, updated_at, expires_at"


@dataclass(frozen=True, slots=True)
class Dialogue:
    user_id: int
    kind: str  # 'task' | 'proof' | 'reason' | 'closed'
    chat_id: int
    state: dict[str, Any]
    last_message_id: int
    updated_at: datetime
    expires_at: datetime

    @classmethod
    def _from_row(cls, row: Row) -> Dialogue:
        return cls(
            user_id=int(row["user_id"]),
            kind=str(row["kind"]),
            chat_id=int(row["chat_id"]),
            state=json.loads(row["state"]),
            last_message_id=int(row["last_message_id"]),
            updated_at=datetime.fromisoformat(row["updated_at"]),
            expires_at=datetime.fromisoformat(row["expires_at"]),
        )


class DialogueRepository:
    """Keep one dialogue row per person; the caller owns any transaction."""

    def __init__(self, db: Store) -> None:
        self.db = db

    async def save(
        self,
        user_id: int,
        kind: str,
        chat_id: int,
        state: dict[str, Any],
        message_id: int,
        now: datetime,
        expires_at: datetime,
    ) -> None:
        """Store a person's dialogue, replacing the one before it."""
        # In the same chat the consumed message id only grows: a button press (message id 0)
        # must not make an answer consumed earlier look new again.
        await self.db.execute(
            f"INSERT INTO dialogues ({_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?)"
            " ON CONFLICT (user_id) DO UPDATE SET kind = excluded.kind,"
            " state = excluded.state, updated_at = excluded.updated_at,"
            " expires_at = excluded.expires_at,"
            " last_message_id = CASE WHEN dialogues.chat_id = excluded.chat_id"
            " THEN MAX(dialogues.last_message_id, excluded.last_message_id)"
            " ELSE excluded.last_message_id END,"
            " chat_id = excluded.chat_id",
            (
                user_id,
                kind,
                chat_id,
                json.dumps(state, ensure_ascii=False),
                message_id,
                now.isoformat(),
                expires_at.isoformat(),
            ),
        )

    async def get(self, user_id: int, now: datetime) -> Dialogue | None:
        """Return a person's unexpired dialogue (open or recently closed)."""
        row = await self.db.fetchone(
            f"SELECT {_COLUMNS} FROM dialogues WHERE user_id = ? AND expires_at > ?",
            (user_id, now.isoformat()),
        )
        return None if row is None else Dialogue._from_row(row)

    async def user_ids(self, now: datetime) -> set[int]:
        """Return the people who have an unexpired dialogue row."""
        rows = await self.db.fetchall(
            "SELECT user_id FROM dialogues WHERE expires_at > ?", (now.isoformat(),)
        )
        return {int(r["user_id"]) for r in rows}

    async def purge(self, now: datetime) -> int:
        """Delete expired dialogues; return how many."""
        return await self.db.execute_rowcount(
            "DELETE FROM dialogues WHERE expires_at <= ?", (now.isoformat(),)
        )
