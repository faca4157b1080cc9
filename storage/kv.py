"""The small key/value table: the bot's username, the scheduler's heartbeat, open questions."""

from __future__ import annotations

import sqlite3
from datetime import datetime
from pathlib import Path

from storage.store import Store


async def read_kv(db: Store, key: str) -> str | None:
    """Return a value from the small key/value table (e.g. 'bot_username'), or None."""
    value = await db.fetchval("SELECT value FROM kv WHERE key = ?", (key,))
    return None if value is None else str(value)


async def write_kv(db: Store, key: str, value: str, now: datetime) -> None:
    """Insert or replace one value, stamped with the time it was written."""
    await db.execute(
        "INSERT INTO kv (key, value, updated_at) VALUES (?, ?, ?)"
        " ON CONFLICT (key) DO UPDATE SET value = excluded.value,"
        " updated_at = excluded.updated_at",
        (key, value, now.isoformat()),
    )


async def keys_with_prefix(db: Store, prefix: str) -> list[str]:
    """Return every key that starts with a prefix."""
    rows = await db.fetchall("SELECT key FROM kv WHERE key LIKE ?", (prefix + "%",))
    return [str(r["key"]) for r in rows]


async def delete_expired(db: Store, prefix: str, now: datetime) -> None:
    """Delete the prefix's JSON values whose `expires_at` lies before now."""
    await db.execute(
        "DELETE FROM kv WHERE key LIKE ? AND json_extract(value, '$.expires_at') < ?",
        (prefix + "%", now.isoformat()),
    )


def read_kv_readonly(path: str, key: str) -> str | None:
    """Read one value from a SQLite file without creating, migrating or locking it."""
    conn = sqlite3.connect(f"file:{Path(path).resolve()}?mode=ro", uri=True, timeout=5)
    try:
        row = conn.execute("SELECT value FROM kv WHERE key = ?", (key,)).fetchone()
    finally:
        conn.close()
    return None if row is None else str(row[0])
