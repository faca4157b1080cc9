"""Checks `gridbot run` makes before it connects to Telegram."""

from __future__ import annotations

from storage.db import Database


async def probe_write(db: Database) -> None:
    """Take SQLite's write lock and give it back: a read-only file fails here, not later."""
    await db.conn.execute("BEGIN IMMEDIATE")
    await db.conn.execute("ROLLBACK")
