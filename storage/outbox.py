"""The outbox: messages decided by services, sent later by a job, each exactly once."""

from __future__ import annotations

import asyncio
import json
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from typing import Any

from storage.store import Row, Store


@dataclass(frozen=True, slots=True)
class Button:
    text: str
    data: str  # callback data, at most 64 bytes


@dataclass(frozen=True, slots=True)
class OutgoingMessage:
    """What to send: text (or a photo with caption) with optional buttons and a reply target."""

    text: str
    buttons: tuple[tuple[Button, ...], ...] = ()
    reply_to_message_id: int | None = None
    photo_png: bytes | None = None  # a chart; sent with sendPhoto, text becomes the caption
    private: bool = False  # a private chat: a 403 means the user cannot be reached
    purpose: str = ""  # e.g. 'remind', 'escalate', 'digest' — for logs and fallbacks
    extra: dict[str, Any] = field(default_factory=dict)

    def to_json(self) -> str:
        data = asdict(self)
        data["photo_png"] = self.photo_png.hex() if self.photo_png is not None else None
        return json.dumps(data, ensure_ascii=False)

    @classmethod
    def from_json(cls, raw: str) -> OutgoingMessage:
        data = json.loads(raw)
        buttons = tuple(tuple(Button(**b) for b in row) for row in data.get("buttons", ()))
        photo = data.get("photo_png")
        return cls(
            text=data["text"],
            buttons=buttons,
            reply_to_message_id=data.get("reply_to_message_id"),
            photo_png=bytes.fromhex(photo) if photo else None,
            private=bool(data.get("private", False)),
            purpose=data.get("purpose", ""),
            extra=dict(data.get("extra", {})),
        )


@dataclass(frozen=True, slots=True)
class OutboxItem:
    id: int
    chat_id: int
    message: OutgoingMessage
    attempts: int
    dedup_key: str | None

    @classmethod
    def _from_row(cls, row: Row) -> OutboxItem:
        return cls(
            id=int(row["id"]),
            chat_id=int(row["chat_id"]),
            message=OutgoingMessage.from_json(row["payload"]),
            attempts=int(row["attempts"]),
            dedup_key=row["dedup_key"],
        )


class OutboxRepository:
    """Queue, list and settle outgoing messages."""

    MAX_ATTEMPTS = 5

    def __init__(self, db: Store) -> None:
        self.db = db
        # One sender at a time: two drains reading the same pending rows would send them twice.
        self.send_lock = asyncio.Lock()

    async def enqueue(
        self,
        chat_id: int,
        message: OutgoingMessage,
        now: datetime,
        *,
        dedup_key: str | None = None,
        not_before: datetime | None = None,
    ) -> int | None:
        """Queue a message; return its id, or None when dedup_key was queued before."""
        # Stored as UTC text: due() compares text, so every time must share one offset.
        now = now.astimezone(UTC)
        not_before = (not_before or now).astimezone(UTC)
        new_id = await self.db.fetchval(
            "INSERT INTO outbox (dedup_key, chat_id, payload, created_at, not_before)"
            " VALUES (?, ?, ?, ?, ?) ON CONFLICT (dedup_key) DO NOTHING RETURNING id",
            (
                dedup_key,
                chat_id,
                message.to_json(),
                now.isoformat(),
                not_before.isoformat(),
            ),
        )
        return None if new_id is None else int(new_id)

    async def due(self, now: datetime, limit: int = 200) -> list[OutboxItem]:
        """Return pending messages whose time has come, oldest first."""
        now = now.astimezone(UTC)
        rows = await self.db.fetchall(
            "SELECT id, chat_id, payload, attempts, dedup_key FROM outbox"
            " WHERE status = 'pending' AND not_before <= ? ORDER BY not_before, id LIMIT ?",
            (now.isoformat(), limit),
        )
        return [OutboxItem._from_row(r) for r in rows]

    async def mark_sent(self, item_id: int, now: datetime, message_id: int | None) -> None:
        """Record that Telegram accepted the message."""
        now = now.astimezone(UTC)
        await self.db.execute(
            "UPDATE outbox SET status = 'sent', sent_at = ?, message_id = ?,"
            " attempts = attempts + 1 WHERE id = ?",
            (now.isoformat(), message_id, item_id),
        )

    async def mark_failed(self, item_id: int, error: str, *, final: bool) -> None:
        """Count a failed attempt; a final failure stops retries."""
        await self.db.execute(
            "UPDATE outbox SET attempts = attempts + 1, last_error = ?,"
            " status = CASE WHEN ? = 1 OR attempts + 1 >= ? THEN 'failed' ELSE 'pending' END"
            " WHERE id = ?",
            (error[:300], int(final), self.MAX_ATTEMPTS, item_id),
        )

    async def retarget(self, old_chat_id: int, new_chat_id: int) -> int:
        """Point pending messages at a group's new supergroup id."""
        return await self.db.execute_rowcount(
            "UPDATE outbox SET chat_id = ? WHERE chat_id = ? AND status = 'pending'",
            (new_chat_id, old_chat_id),
        )

    async def count_pending(self) -> int:
        """Return how many messages wait to be sent."""
        return int(await self.db.fetchval("SELECT COUNT(*) FROM outbox WHERE status = 'pending'"))

    async def prune(self, before: datetime) -> int:
        """Delete sent and failed messages created before a moment (their words are personal)."""
        return await self.db.execute_rowcount(
            "DELETE FROM outbox WHERE status != 'pending' AND created_at < ?",
            (before.astimezone(UTC).isoformat(),),
        )
