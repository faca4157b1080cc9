"""Conversations: where each person stands in a dialogue the bot holds with them, per chat."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from storage.store import Row, Store

_COLUMNS = "user_id, chat_id, flow, step, data, last_message_id, updated_at, expires_at"
DONE = "done"  # the step of a finished dialogue, kept until it expires


@dataclass(frozen=True, slots=True)
class Conversation:
    user_id: int
    chat_id: int
    flow: str  # which dialogue: 'task' | 'proof' | 'reason' | 'unsatisfied'
    step: str  # its state in that flow; DONE once finished
    data: dict[str, Any]
    last_message_id: int  # the newest message of chat_id it consumed
    updated_at: datetime
    expires_at: datetime

    @property
    def is_open(self) -> bool:
        """Return whether the dialogue still waits for an answer."""
        return self.step != DONE

    @classmethod
    def _from_row(cls, row: Row) -> Conversation:
        return cls(
            user_id=int(row["user_id"]),
            chat_id=int(row["chat_id"]),
            flow=str(row["flow"]),
            step=str(row["step"]),
            data=json.loads(row["data"]),
            last_message_id=int(row["last_message_id"]),
            updated_at=datetime.fromisoformat(row["updated_at"]),
            expires_at=datetime.fromisoformat(row["expires_at"]),
        )


class ConversationRepository:
    """Keep one conversation row per person and chat; the caller owns any transaction."""

    def __init__(self, db: Store) -> None:
        self.db = db

    async def save(
        self,
        user_id: int,
        chat_id: int,
        flow: str,
        step: str,
        data: dict[str, Any],
        message_id: int,
        now: datetime,
        expires_at: datetime,
    ) -> None:
        """Store where a person stands in a chat, replacing the dialogue before it."""
        # The consumed message id only grows: a button press (message id 0) must not make an
        # answer consumed earlier look new again.
        await self.db.execute(
            f"INSERT INTO conversations ({_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?)"
            " ON CONFLICT (user_id, chat_id) DO UPDATE SET flow = excluded.flow,"
            " step = excluded.step, data = excluded.data, updated_at = excluded.updated_at,"
            " expires_at = excluded.expires_at,"
            " last_message_id = MAX(conversations.last_message_id, excluded.last_message_id)",
            (
                user_id,
                chat_id,
                flow,
                step,
                json.dumps(data, ensure_ascii=False),
                message_id,
                now.isoformat(),
                expires_at.isoformat(),
            ),
        )

    async def get(self, user_id: int, chat_id: int, now: datetime) -> Conversation | None:
        """Return a person's unexpired dialogue in a chat (open or recently finished)."""
        row = await self.db.fetchone(
            f"SELECT {_COLUMNS} FROM conversations"
            " WHERE user_id = ? AND chat_id = ? AND expires_at > ?",
            (user_id, chat_id, now.isoformat()),
        )
        return None if row is None else Conversation._from_row(row)

    async def open_in_flow(self, user_id: int, flow: str, now: datetime) -> list[Conversation]:
        """Return a person's open dialogues of one flow, in any chat."""
        rows = await self.db.fetchall(
            f"SELECT {_COLUMNS} FROM conversations WHERE user_id = ? AND flow = ?"
            " AND step <> ? AND expires_at > ? ORDER BY chat_id",
            (user_id, flow, DONE, now.isoformat()),
        )
        return [Conversation._from_row(r) for r in rows]

    async def user_ids(self, now: datetime) -> set[int]:
        """Return the people who have an unexpired conversation row."""
        rows = await self.db.fetchall(
            "SELECT DISTINCT user_id FROM conversations WHERE expires_at > ?", (now.isoformat(),)
        )
        return {int(r["user_id"]) for r in rows}

    async def purge(self, now: datetime) -> int:
        """Delete expired conversations; return how many."""
        return await self.db.execute_rowcount(
            "DELETE FROM conversations WHERE expires_at <= ?", (now.isoformat(),)
        )
