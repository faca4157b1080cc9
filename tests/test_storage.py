"""Storage: migrations, the future-database refusal, transactions, locks and the inbox."""

from __future__ import annotations

import asyncio
import sqlite3
from datetime import UTC, datetime
from pathlib import Path

import pytest

from storage.db import Database, DatabaseFromFutureError, DatabaseLockedError, load_migrations
from storage.inbox import InboxRepository
from storage.outbox import Button, OutboxRepository, OutgoingMessage
from storage.store import INTEGRITY_ERRORS, Store

pytestmark = pytest.mark.both_stores

NOW = datetime(2026, 11, 23, 1, 0, tzinfo=UTC)


async def test_migrations_from_empty_to_head(tmp_path: Path) -> None:
    database = Database(tmp_path / "fresh" / "db.sqlite3")  # the folder is created on first run
    await database.open()
    try:
        head = load_migrations()[-1][0]
        assert await database.schema_version() == head
        rows = await database.fetchall("SELECT version FROM schema_version ORDER BY version")
        assert [r["version"] for r in rows] == [v for v, _, _ in load_migrations()]
        assert await database.migrate() == []  # idempotent
        assert await database.fetchval("PRAGMA foreign_keys") == 1
        assert await database.fetchval("PRAGMA journal_mode") == "wal"
        # A page cache a street office's sweep fits in, not SQLite's 2 MiB default.
        assert await database.fetchval("PRAGMA cache_size") == -64 * 1024
    finally:
        await database.close()


async def test_database_from_the_future_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "db.sqlite3"
    async with Database(path) as database:
        head = await database.schema_version()
        await database.execute(
            "INSERT INTO schema_version (version, name, applied_at) VALUES (?, 'x', 'now')",
            (head + 1,),
        )
    with pytest.raises(DatabaseFromFutureError, match="newer than this GridBot"):
        await Database(path).open()


async def test_transaction_rolls_back_on_error(db: Store) -> None:
    with pytest.raises(RuntimeError):
        async with db.transaction():
            await db.execute("INSERT INTO kv (key, value, updated_at) VALUES ('a', '1', 'x')")
            raise RuntimeError("boom")
    assert await db.fetchval("SELECT COUNT(*) FROM kv") == 0


async def test_nested_transaction_joins_outer(db: Store) -> None:
    async with db.transaction():
        await db.execute("INSERT INTO kv (key, value, updated_at) VALUES ('a', '1', 'x')")
        async with db.transaction():
            await db.execute("INSERT INTO kv (key, value, updated_at) VALUES ('b', '2', 'x')")
    assert await db.fetchval("SELECT COUNT(*) FROM kv") == 2


async def test_other_tasks_never_interleave_in_a_transaction(db: Store) -> None:
    started = asyncio.Event()

    async def writer() -> None:
        async with db.transaction():
            await db.execute("INSERT INTO kv (key, value, updated_at) VALUES ('a', '1', 'x')")
            started.set()
            await asyncio.sleep(0)
            raise RuntimeError("rolled back")

    async def reader() -> int:
        await started.wait()
        return int(await db.fetchval("SELECT COUNT(*) FROM kv"))

    results = await asyncio.gather(writer(), reader(), return_exceptions=True)
    assert isinstance(results[0], RuntimeError)
    assert results[1] == 0  # the reader waited for the rollback, never saw the half-done row


async def test_lock_held_by_another_process_is_reported(tmp_path: Path) -> None:
    path = tmp_path / "db.sqlite3"
    async with Database(path, busy_timeout_ms=50) as database:
        other = sqlite3.connect(path, isolation_level=None)
        try:
            other.execute("BEGIN IMMEDIATE")
            with pytest.raises(DatabaseLockedError):
                async with database.transaction():
                    pass
            other.execute("ROLLBACK")
            async with database.transaction():  # usable again once the lock is gone
                await database.execute(
                    "INSERT INTO kv (key, value, updated_at) VALUES ('a', '1', 'x')"
                )
        finally:
            other.close()


async def test_ticket_history_is_append_only(db: Store) -> None:
    ticket = await db.fetchval(
        "INSERT INTO tickets (community, number, source_key, text, category, confidence,"
        " urgency, reporter_id, reporter_name, status, created_at)"
        " VALUES ('c', 1, 'k', 't', 'noise', 0.9, 'normal', 1, 'r', 'new', 'now') RETURNING id"
    )
    await db.execute(
        "INSERT INTO ticket_events (ticket_id, at, actor_role, kind) VALUES (?, 'now', 's', 'o')",
        (ticket,),
    )
    with pytest.raises(INTEGRITY_ERRORS, match="append-only"):
        await db.execute("UPDATE ticket_events SET kind = 'x'")
    with pytest.raises(INTEGRITY_ERRORS, match="append-only"):
        await db.execute("DELETE FROM ticket_events")


async def test_inbox_stores_each_update_once(db: Store) -> None:
    inbox = InboxRepository(db)
    assert await inbox.store([(10, {"update_id": 10}), (11, {"update_id": 11})], NOW) == [10, 11]
    assert await inbox.store([(11, {"update_id": 11}), (12, {"update_id": 12})], NOW) == [12]
    assert [i.update_id for i in await inbox.pending()] == [10, 11, 12]
    await inbox.mark(11, "done", NOW)
    assert [i.update_id for i in await inbox.pending()] == [10, 12]
    assert await inbox.max_update_id() == 12
    assert await inbox.payload(12) == {"update_id": 12}


async def test_outbox_dedup_and_round_trip(db: Store) -> None:
    outbox = OutboxRepository(db)
    message = OutgoingMessage(
        text="提醒",
        buttons=((Button("接单", "acc:1"),),),
        reply_to_message_id=5,
        photo_png=b"\x89P",
    )
    first = await outbox.enqueue(-100, message, NOW, dedup_key="remind:1")
    again = await outbox.enqueue(-100, message, NOW, dedup_key="remind:1")
    assert first is not None and again is None
    (item,) = await outbox.due(NOW)
    assert item.message == message
    await outbox.mark_sent(item.id, NOW, 77)
    assert await outbox.due(NOW) == []


_OUTBOX_COLUMNS = ("dedup_key", "chat_id", "payload", "created_at", "not_before")


async def test_insert_rows_keeps_order_and_meets_conflicts_like_single_inserts(db: Store) -> None:
    """The bulk seam (COPY / unnest on PostgreSQL, multi-row VALUES on SQLite) writes the rows
    single INSERTs would, in their order; a tail decides conflicts as it would one by one."""
    rows = [
        (
            f"k{i}",
            -100 - i % 3,
            f'{{"text": "第{i}条"}}',
            "2026-11-23T01:00:00+00:00",
            "2026-11-23T01:00:00+00:00",
        )
        for i in range(700)
    ]
    await db.insert_rows("outbox", _OUTBOX_COLUMNS, rows[:5])
    await db.insert_rows(
        "outbox",
        _OUTBOX_COLUMNS,
        [(k, c, p.replace("条", "次"), at, nb) for k, c, p, at, nb in rows],
        "ON CONFLICT (dedup_key) DO NOTHING",
    )
    found = await db.fetchall("SELECT dedup_key, chat_id, payload FROM outbox ORDER BY id")
    assert [r["dedup_key"] for r in found] == [f"k{i}" for i in range(700)]
    assert [r["payload"] for r in found[4:6]] == ['{"text": "第4条"}', '{"text": "第5次"}']
    assert [r["chat_id"] for r in found[:3]] == [-100, -101, -102]
    # Without a tail (COPY on PostgreSQL) a duplicate is refused, as a single INSERT is.
    with pytest.raises(INTEGRITY_ERRORS):
        async with db.transaction():
            await db.insert_rows("outbox", _OUTBOX_COLUMNS, rows[:1])
    assert await db.fetchval("SELECT COUNT(*) FROM outbox") == 700
