"""Prompts: what the bot asked a worker and is waiting for."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from storage.store import Row, Store


@dataclass(frozen=True, slots=True)
class Prompt:
    id: int
    user_id: int
    chat_id: int
    action: str
    ticket_id: int
    data: dict[str, Any]
    created_at: datetime
    expires_at: datetime

    @classmethod
    def _from_row(cls, row: Row) -> Prompt:
        return cls(
            id=int(row["id"]),
            user_id=int(row["user_id"]),
            chat_id=int(row["chat_id"]),
            action=str(row["action"]),
            ticket_id=int(row["ticket_id"]),
            data=json.loads(row["data"]),
            created_at=datetime.fromisoformat(row["created_at"]),
            expires_at=datetime.fromisoformat(row["expires_at"]),
        )


class PromptRepository:
    """Open, find and close prompts."""

    def __init__(self, db: Store) -> None:
        self.db = db

    async def open(
        self,
        user_id: int,
        chat_id: int,
        action: str,
        ticket_id: int,
        data: dict[str, Any],
        now: datetime,
        expires_at: datetime,
    ) -> int:
        """Open a prompt, closing any earlier one of the same person in that chat."""
        await self.db.execute(
            "UPDATE prompts SET done_at = ? WHERE user_id = ? AND chat_id = ? AND done_at IS NULL",
            (now.isoformat(), user_id, chat_id),
        )
        return int(
            await self.db.fetchval(
                "INSERT INTO prompts (user_id, chat_id, action, ticket_id, data, created_at,"
                " expires_at) VALUES (?, ?, ?, ?, ?, ?, ?) RETURNING id",
                (
                    user_id,
                    chat_id,
                    action,
                    ticket_id,
                    json.dumps(data, ensure_ascii=False),
                    now.isoformat(),
                    expires_at.isoformat(),
                ),
            )
        )

    async def current(self, user_id: int, chat_id: int, now: datetime) -> Prompt | None:
        """Return the person's open, unexpired prompt in a chat."""
        row = await self.db.fetchone(
            "SELECT id, user_id, chat_id, action, ticket_id, data, created_at, expires_at"
            " FROM prompts WHERE user_id = ? AND chat_id = ? AND done_at IS NULL"
            " AND expires_at > ? ORDER BY id DESC LIMIT 1",
            (user_id, chat_id, now.isoformat()),
        )
        return None if row is None else Prompt._from_row(row)

    async def close(self, prompt_id: int, now: datetime) -> bool:
        """Close a prompt; False when it was closed already."""
        count = await self.db.execute_rowcount(
            "UPDATE prompts SET done_at = ? WHERE id = ? AND done_at IS NULL",
            (now.isoformat(), prompt_id),
        )
        return count > 0
