"""Conversations: where each person stands in a dialogue the bot holds with them, per chat."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from storage.store import Row, Store

_COLUMNS = "user_id, chat_id, flow, step, data, last_message_id, updated_at, expires_at"
_ALL = f"id, topic, prompt_message_id, {_COLUMNS}"
DONE = "done"  # the step of a finished dialogue, kept until it expires


@dataclass(frozen=True, slots=True)
class Conversation:
    user_id: int
    chat_id: int
    flow: str  # which dialogue: 'task', 'proof', 'intake', … (bot/services/flows.py)
    step: str  # its state in that flow; DONE once finished
    data: dict[str, Any]
    last_message_id: int  # the newest message of chat_id it consumed
    updated_at: datetime
    expires_at: datetime
    id: int = 0  # what a question's buttons carry
    topic: int = 0  # 0: the person's one dialogue in the chat; else the message it is about
    # (negative: the album that message began, bot/services/flows.py ALBUM)
    prompt_message_id: int | None = None  # the bot's question (a placeholder while unsent)

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
            id=int(row["id"]),
            topic=int(row["topic"]),
            prompt_message_id=row["prompt_message_id"],
        )


class ConversationRepository:
    """Keep a person's conversations in a chat, one per topic; the caller owns any transaction.

    Topic 0 is the person's one dialogue in the chat (a new question replaces the older one);
    a question about one of their messages (which category, which building) has that message's
    id as its topic, so a person may wait on several at once.
    """

    def __init__(self, db: Store, community: str | None = None) -> None:
        self.db = db
        self.community = community  # recorded on the rows it writes: whose question it is

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
            f"INSERT INTO conversations ({_COLUMNS}, community) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)"
            " ON CONFLICT (user_id, chat_id, topic) DO UPDATE SET flow = excluded.flow,"
            " community = excluded.community,"
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
                self.community,
            ),
        )

    async def get(self, user_id: int, chat_id: int, now: datetime) -> Conversation | None:
        """Return a person's unexpired dialogue in a chat (open or recently finished)."""
        row = await self.db.fetchone(
            f"SELECT {_ALL} FROM conversations"
            " WHERE user_id = ? AND chat_id = ? AND topic = 0 AND expires_at > ?",
            (user_id, chat_id, now.isoformat()),
        )
        return None if row is None else Conversation._from_row(row)

    async def open_in_flow(self, user_id: int, flow: str, now: datetime) -> list[Conversation]:
        """Return a person's open dialogues of one flow, in any chat."""
        rows = await self.db.fetchall(
            f"SELECT {_ALL} FROM conversations WHERE user_id = ? AND flow = ? AND topic = 0"
            " AND step <> ? AND expires_at > ? ORDER BY chat_id",
            (user_id, flow, DONE, now.isoformat()),
        )
        return [Conversation._from_row(r) for r in rows]

    async def hold(
        self,
        user_id: int,
        chat_id: int,
        topic: int,
        flow: str,
        step: str,
        data: dict[str, Any],
        now: datetime,
        expires_at: datetime,
    ) -> int:
        """Store a question about one message (once per message); return its id.

        Asked again (the next question about the same message), the row moves to that step and
        keeps its id and expiry; an answered one stays answered.
        """
        row = await self.db.fetchone(
            "INSERT INTO conversations (user_id, chat_id, topic, flow, step, data, updated_at,"
            " expires_at, community) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)"
            " ON CONFLICT (user_id, chat_id, topic) DO UPDATE SET"
            " step = CASE WHEN conversations.step = ? THEN conversations.step"
            " ELSE excluded.step END,"
            " data = CASE WHEN conversations.step = ? THEN conversations.data"
            " ELSE excluded.data END,"
            " updated_at = excluded.updated_at RETURNING id",
            (
                user_id,
                chat_id,
                topic,
                flow,
                step,
                json.dumps(data, ensure_ascii=False),
                now.isoformat(),
                expires_at.isoformat(),
                self.community,
                DONE,
                DONE,
            ),
        )
        assert row is not None
        return int(row["id"])

    async def by_id(self, conversation_id: int) -> Conversation | None:
        """Return one conversation, expired or not."""
        row = await self.db.fetchone(
            f"SELECT {_ALL} FROM conversations WHERE id = ?", (conversation_id,)
        )
        return None if row is None else Conversation._from_row(row)

    async def by_prompt(self, chat_id: int, prompt_message_id: int) -> Conversation | None:
        """Return the conversation whose question is this bot message, expired or not."""
        row = await self.db.fetchone(
            f"SELECT {_ALL} FROM conversations WHERE chat_id = ? AND prompt_message_id = ?",
            (chat_id, prompt_message_id),
        )
        return None if row is None else Conversation._from_row(row)

    async def newest_open(
        self, user_id: int, chat_id: int, flow: str, step: str, now: datetime
    ) -> Conversation | None:
        """Return a person's newest unexpired question of a flow waiting in a step in a chat."""
        row = await self.db.fetchone(
            f"SELECT {_ALL} FROM conversations WHERE user_id = ? AND chat_id = ? AND flow = ?"
            " AND step = ? AND expires_at > ? ORDER BY id DESC LIMIT 1",
            (user_id, chat_id, flow, step, now.isoformat()),
        )
        return None if row is None else Conversation._from_row(row)

    async def set_prompt(self, conversation_id: int, message_id: int) -> None:
        """Remember the bot's question message (to edit it when answered)."""
        await self.db.execute(
            "UPDATE conversations SET prompt_message_id = ? WHERE id = ?",
            (message_id, conversation_id),
        )

    async def settle(self, conversation_id: int, now: datetime) -> bool:
        """Mark a question answered, keeping what it gathered; False when it was already."""
        count = await self.db.execute_rowcount(
            "UPDATE conversations SET step = ?, updated_at = ? WHERE id = ? AND step <> ?",
            (DONE, now.isoformat(), conversation_id, DONE),
        )
        return count > 0

    async def user_ids(self, now: datetime) -> set[int]:
        """Return the people who have an unexpired conversation row."""
        rows = await self.db.fetchall(
            "SELECT DISTINCT user_id FROM conversations WHERE expires_at > ?", (now.isoformat(),)
        )
        return {int(r["user_id"]) for r in rows}

    async def purge(self, now: datetime, questions_before: datetime) -> int:
        """Delete expired conversations; return how many.

        A question about a message stays until `questions_before`, so a press of its button
        still hears that it expired (or was answered) rather than that the button is unknown.
        """
        return await self.db.execute_rowcount(
            "DELETE FROM conversations WHERE expires_at <= ? AND (topic = 0 OR expires_at <= ?)",
            (now.isoformat(), questions_before.isoformat()),
        )
