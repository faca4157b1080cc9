"""The outbox: every message people should receive, written in the transaction that decided it.

A row is one effect on a chat: a new message (`send`), a new text or caption for one the bot sent
(`edit`), or taking a message's buttons away (`markup`). A message that is not sent yet is known
by a placeholder id, the negative of its row id: it can be stored (a ticket's card) and used as a
reply or edit target at once; the sender resolves it when it delivers, and writes the real id over
the placeholder wherever it was stored (PLACEHOLDER_COLUMNS).
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from storage.store import Row, Store

_JSON = json.JSONEncoder(ensure_ascii=False)


@dataclass(frozen=True, slots=True)
class Button:
    text: str
    data: str  # callback data, at most 64 bytes


@dataclass(frozen=True, slots=True)
class OutgoingMessage:
    """What to send: text, or a photo or file with its caption; buttons and a reply target."""

    text: str
    buttons: tuple[tuple[Button, ...], ...] = ()
    reply_to_message_id: int | None = None
    photo_png: bytes | None = None  # a chart; sent with sendPhoto, text becomes the caption
    private: bool = False  # a private chat: a 403 means the user cannot be reached
    purpose: str = ""  # e.g. 'remind', 'escalate', 'digest' — for logs and fallbacks
    extra: dict[str, Any] = field(default_factory=dict)
    kind: str = "send"  # 'send', 'edit' (text or caption) or 'markup' (buttons only)
    message_id: int | None = None  # what an edit changes: a real id or a placeholder
    html: bool = False
    photo_id: str | None = None  # a photo Telegram already has (file_id)
    caption: bool = False  # an edit of a photo's caption
    document: bytes | None = None  # a file (sendDocument) named `filename`; text: its caption
    filename: str | None = None

    def to_json(self) -> str:
        # By hand, not dataclasses.asdict (its deep copies were a tenth of an update's time);
        # the same JSON, key for key.
        data: dict[str, Any] = {
            "text": self.text,
            "buttons": [[{"text": b.text, "data": b.data} for b in row] for row in self.buttons],
            "reply_to_message_id": self.reply_to_message_id,
            "photo_png": self.photo_png.hex() if self.photo_png is not None else None,
            "private": self.private,
            "purpose": self.purpose,
            "extra": self.extra,
        }
        # The delivery fields are written only when set: a plain message keeps the JSON that
        # bulk writers produce.
        for name, default in _DELIVERY_DEFAULTS.items():
            value = getattr(self, name)
            if value != default:
                data[name] = value.hex() if isinstance(value, bytes) else value
        return _JSON.encode(data)

    @classmethod
    def from_json(cls, raw: str) -> OutgoingMessage:
        data = json.loads(raw)
        buttons = tuple(tuple(Button(**b) for b in row) for row in data.get("buttons", ()))
        photo = data.get("photo_png")
        document = data.get("document")
        return cls(
            text=data["text"],
            buttons=buttons,
            reply_to_message_id=data.get("reply_to_message_id"),
            photo_png=bytes.fromhex(photo) if photo else None,
            private=bool(data.get("private", False)),
            purpose=data.get("purpose", ""),
            extra=dict(data.get("extra", {})),
            kind=data.get("kind", "send"),
            message_id=data.get("message_id"),
            html=bool(data.get("html", False)),
            photo_id=data.get("photo_id"),
            caption=bool(data.get("caption", False)),
            document=bytes.fromhex(document) if document is not None else None,
            filename=data.get("filename"),
        )


_DELIVERY_DEFAULTS: dict[str, Any] = {
    "kind": "send",
    "message_id": None,
    "html": False,
    "photo_id": None,
    "caption": False,
    "document": None,
    "filename": None,
}


@dataclass(frozen=True, slots=True)
class OutboxItem:
    id: int
    chat_id: int
    message: OutgoingMessage
    attempts: int
    dedup_key: str | None
    in_flight: bool = False  # a crash interrupted a send: the message may have arrived
    first_try_at: str | None = None
    community: str | None = None  # which community queued it (None: unknown or the street)

    @classmethod
    def _from_row(cls, row: Row) -> OutboxItem:
        keys = set(row.keys())
        return cls(
            id=int(row["id"]),
            chat_id=int(row["chat_id"]),
            message=OutgoingMessage.from_json(row["payload"]),
            attempts=int(row["attempts"]),
            dedup_key=row["dedup_key"],
            in_flight=("in_flight_at" in keys and row["in_flight_at"] is not None)
            or ("resent" in keys and bool(row["resent"])),
            first_try_at=row["first_try_at"] if "first_try_at" in keys else None,
            community=row["community"] if "community" in keys else None,
        )


# Where a message id the bot got back is kept: a placeholder stored there is replaced by the
# real id once the sender has delivered the message.
PLACEHOLDER_COLUMNS: tuple[tuple[str, str], ...] = (
    ("tickets", "card_message_id"),
    ("tickets", "reply_message_id"),
    ("conversations", "prompt_message_id"),
)

_ITEM_COLUMNS = "id, chat_id, payload, attempts, dedup_key, in_flight_at, first_try_at, community"


class OutboxRepository:
    """Queue, list and settle outgoing messages."""

    MAX_ATTEMPTS = 5

    def __init__(self, db: Store, *, community: str | None = None) -> None:
        self.db = db
        # The community whose messages this repository queues (recorded on each row, so a
        # button or reply on a delivered message leads back to it); None for the street's own.
        self.community = community
        # One sender at a time: two drains reading the same pending rows would send them twice.
        self.send_lock = asyncio.Lock()
        # Told the chat of each message queued (the sender looks there at once); whoever queues
        # it need not wake the sender, nor make it look through the whole outbox.
        self.queued: Callable[[int], None] | None = None

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
            "INSERT INTO outbox (dedup_key, chat_id, payload, created_at, not_before, community)"
            " VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (dedup_key) DO NOTHING RETURNING id",
            (
                dedup_key,
                chat_id,
                message.to_json(),
                now.isoformat(),
                not_before.isoformat(),
                self.community,
            ),
        )
        if new_id is None:
            return None
        if self.queued is not None:
            self.queued(chat_id)
        return int(new_id)

    async def due(self, now: datetime, limit: int = 200) -> list[OutboxItem]:
        """Return pending messages whose time has come, oldest first."""
        now = now.astimezone(UTC)
        rows = await self.db.fetchall(
            f"SELECT {_ITEM_COLUMNS} FROM outbox"
            " WHERE status = 'pending' AND not_before <= ? ORDER BY not_before, id LIMIT ?",
            (now.isoformat(), limit),
        )
        return [OutboxItem._from_row(r) for r in rows]

    async def mark_sent(
        self,
        item_id: int,
        now: datetime,
        message_id: int | None,
        *,
        replaces_card: tuple[int, int] | None = None,
    ) -> None:
        """Record that Telegram accepted the message, and put its id where a placeholder is.

        replaces_card: (chat, id) of a ticket card this message replaces (sent afresh because
        the card was deleted): the ticket's card is this message from now on.
        """
        stamp = now.astimezone(UTC).isoformat()
        item_id, real = int(item_id), None if message_id is None else int(message_id)
        # One hop: the ids are integers and the time is ISO text, so inlining them is safe.
        statements = [
            f"UPDATE outbox SET status = 'sent', sent_at = '{stamp}',"
            f" message_id = {'NULL' if real is None else real}, in_flight_at = NULL,"
            f" attempts = attempts + 1 WHERE id = {item_id}"
        ]
        if real is not None:
            statements.extend(
                # "< 0" lets SQLite use the partial index of placeholders.
                f"UPDATE {table} SET {column} = {real}"
                f" WHERE {column} = {-item_id} AND {column} < 0"
                for table, column in PLACEHOLDER_COLUMNS
            )
            if replaces_card is not None:
                chat, replaced = (int(x) for x in replaces_card)
                statements.append(
                    f"UPDATE tickets SET card_message_id = {real}"
                    f" WHERE card_chat_id = {chat} AND card_message_id = {replaced}"
                )
        await self.db.script(statements)

    async def id_of_key(self, dedup_key: str) -> int | None:
        """Return the row queued under an effect key."""
        value = await self.db.fetchval("SELECT id FROM outbox WHERE dedup_key = ?", (dedup_key,))
        return None if value is None else int(value)

    async def delivered_id(self, item_id: int) -> tuple[str, int | None] | None:
        """Return a row's status and the id Telegram gave its message (None while unsent)."""
        row = await self.db.fetchone(
            "SELECT status, message_id FROM outbox WHERE id = ?", (item_id,)
        )
        if row is None:
            return None
        value = row["message_id"]
        return str(row["status"]), None if value is None else int(value)

    async def chats_due(self, now: datetime) -> list[int]:
        """Return the chats that have a message due, the longest waiting first."""
        rows = await self.db.fetchall(
            "SELECT chat_id FROM outbox WHERE status = 'pending' AND not_before <= ?"
            " GROUP BY chat_id ORDER BY MIN(id)",
            (now.astimezone(UTC).isoformat(),),
        )
        return [int(r[0]) for r in rows]

    async def next_for_chat(self, chat_id: int, now: datetime) -> OutboxItem | None:
        """Take a chat's oldest due message and mark it in flight before Telegram is called.

        A crash leaves the mark: the next start sees the message may have arrived (`in_flight`).
        """
        stamp = now.astimezone(UTC).isoformat()
        row = await self.db.fetchone(
            "UPDATE outbox SET resent = CASE WHEN in_flight_at IS NULL THEN resent ELSE 1 END,"
            " in_flight_at = ?,"
            " first_try_at = COALESCE(first_try_at, ?)"
            " WHERE id = (SELECT id FROM outbox WHERE chat_id = ? AND status = 'pending'"
            " AND not_before <= ? ORDER BY id LIMIT 1)"
            " RETURNING id, chat_id, payload, attempts, dedup_key, first_try_at, resent,"
            " community",
            (stamp, stamp, chat_id, stamp),
        )
        return None if row is None else OutboxItem._from_row(row)

    async def start_attempt(self, item_id: int, now: datetime, *, resent: bool) -> None:
        """Mark a message in flight again before another try."""
        stamp = now.astimezone(UTC).isoformat()
        await self.db.execute(
            "UPDATE outbox SET in_flight_at = ?, first_try_at = COALESCE(first_try_at, ?),"
            " resent = CASE WHEN ? = 1 THEN 1 ELSE resent END WHERE id = ?",
            (stamp, stamp, int(resent), item_id),
        )

    async def note_retry(self, item_id: int, error: str) -> None:
        """Count a failed attempt that will be tried again (Telegram did not take it)."""
        await self.db.execute(
            "UPDATE outbox SET attempts = attempts + 1, last_error = ?, in_flight_at = NULL"
            " WHERE id = ?",
            (error[:300], item_id),
        )

    async def give_up(self, item_id: int, reason: str) -> None:
        """Record that a message will never be delivered, and why."""
        await self.db.execute(
            "UPDATE outbox SET status = 'failed', attempts = attempts + 1, last_error = ?,"
            " in_flight_at = NULL WHERE id = ?",
            (reason[:300], item_id),
        )

    async def resent_with_buttons(self, chat_id: int) -> list[tuple[int, OutgoingMessage]]:
        """Return the sent messages of a chat that were sent again after a crash."""
        rows = await self.db.fetchall(
            "SELECT message_id, payload FROM outbox WHERE chat_id = ? AND resent = 1"
            " AND status = 'sent' AND message_id IS NOT NULL",
            (chat_id,),
        )
        return [(int(r[0]), OutgoingMessage.from_json(r[1])) for r in rows]

    async def delivered_message(self, chat_id: int, message_id: int) -> OutgoingMessage | None:
        """Return what this community sent as a chat's message (not a later edit of it)."""
        sql = "SELECT payload FROM outbox WHERE chat_id = ? AND message_id = ?"
        params: list[Any] = [chat_id, message_id]
        if self.community is not None:
            sql += " AND community = ?"
            params.append(self.community)
        raw = await self.db.fetchval(sql + " ORDER BY id LIMIT 1", params)
        return None if raw is None else OutgoingMessage.from_json(str(raw))

    async def knows_message(self, chat_id: int, message_id: int) -> bool:
        """Tell whether a message of a chat is one the outbox recorded sending (or changing)."""
        found = await self.db.fetchval(
            "SELECT 1 FROM outbox WHERE chat_id = ? AND message_id = ? LIMIT 1",
            (chat_id, message_id),
        )
        return found is not None

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
