"""The storage under exactly-once delivery, on both stores: savepoints inside an update's
transaction, the outbox's in-flight marks and settling, and one instance per database."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from storage.db import AnotherInstanceError, InstanceLock
from storage.outbox import OutboxRepository, OutgoingMessage
from storage.store import Store

pytestmark = pytest.mark.both_stores

NOW = datetime(2026, 11, 23, 1, 0, tzinfo=UTC)


class _Refused(Exception):
    pass


async def _kv(db: Store, key: str) -> str | None:
    value = await db.fetchval("SELECT value FROM kv WHERE key = ?", (key,))
    return None if value is None else str(value)


async def _put(db: Store, key: str, value: str) -> None:
    await db.execute(
        "INSERT INTO kv (key, value, updated_at) VALUES (?, ?, ?)", (key, value, NOW.isoformat())
    )


async def test_a_refused_inner_transaction_undoes_only_its_own_writes(db: Store) -> None:
    async with db.transaction():
        assert db.in_transaction
        await _put(db, "update", "1")
        with pytest.raises(_Refused):
            async with db.transaction():
                await _put(db, "service", "1")
                raise _Refused
        async with db.transaction():
            await _put(db, "kept", "1")
    assert not db.in_transaction
    assert await _kv(db, "update") == "1"
    assert await _kv(db, "service") is None
    assert await _kv(db, "kept") == "1"


async def test_an_error_in_the_outer_block_undoes_the_inner_one_too(db: Store) -> None:
    with pytest.raises(_Refused):
        async with db.transaction():
            async with db.transaction():
                await _put(db, "service", "1")
            raise _Refused
    assert await _kv(db, "service") is None


async def test_a_script_runs_inside_and_outside_a_transaction(db: Store) -> None:
    await db.script(
        [
            f"INSERT INTO kv (key, value, updated_at) VALUES ('a', '1', '{NOW.isoformat()}')",
            "UPDATE kv SET value = '2' WHERE key = 'a'",
        ]
    )
    assert await _kv(db, "a") == "2"
    with pytest.raises(_Refused):
        async with db.transaction():
            await db.script(["UPDATE kv SET value = '3' WHERE key = 'a'"])
            assert await _kv(db, "a") == "3"
            raise _Refused
    assert await _kv(db, "a") == "2"


async def test_a_message_taken_twice_is_known_as_possibly_sent(db: Store) -> None:
    outbox = OutboxRepository(db)
    first = await outbox.enqueue(7, OutgoingMessage("one"), NOW, dedup_key="k1")
    second = await outbox.enqueue(7, OutgoingMessage("two"), NOW)
    await outbox.enqueue(9, OutgoingMessage("later"), NOW, not_before=NOW + timedelta(hours=1))
    assert first is not None and second is not None
    assert await outbox.enqueue(7, OutgoingMessage("one"), NOW, dedup_key="k1") is None
    assert await outbox.id_of_key("k1") == first
    assert await outbox.chats_due(NOW) == [7]

    taken = await outbox.next_for_chat(7, NOW)
    assert taken is not None and taken.id == first and not taken.in_flight
    # A crash before it was settled: taken again, it may have arrived.
    again = await outbox.next_for_chat(7, NOW)
    assert again is not None and again.id == first and again.in_flight
    await outbox.mark_sent(first, NOW, 501)
    assert await outbox.delivered_id(first) == ("sent", 501)
    assert [m for m, _ in await outbox.resent_with_buttons(7)] == [501]
    # 501 is live; a copy Telegram got from the interrupted try has an id the outbox never saw.
    assert await outbox.knows_message(7, 501) and not await outbox.knows_message(7, 500)
    assert not await outbox.knows_message(9, 501)

    taken = await outbox.next_for_chat(7, NOW)
    assert taken is not None and taken.id == second and not taken.in_flight
    await outbox.note_retry(second, "502 Bad Gateway")
    await outbox.start_attempt(second, NOW, resent=True)
    await outbox.give_up(second, "400 chat not found")
    assert await outbox.delivered_id(second) == ("failed", None)
    assert await outbox.next_for_chat(7, NOW) is None
    assert await outbox.chats_due(NOW + timedelta(hours=2)) == [9]


async def test_a_second_instance_is_refused_until_the_first_releases(db: Store) -> None:
    first = await InstanceLock.acquire(db)
    try:
        with pytest.raises(AnotherInstanceError, match="already running"):
            await InstanceLock.acquire(db)
    finally:
        await first.release()
    again = await InstanceLock.acquire(db)
    await again.release()
    assert await _kv(db, InstanceLock.KEY) is None


async def test_a_file_is_stored_whole_and_a_plain_message_keeps_its_json(db: Store) -> None:
    outbox = OutboxRepository(db)
    body = "我的数据 {}".encode() + bytes(range(256))
    message = OutgoingMessage("", private=True, document=body, filename="我的数据.json")
    assert OutgoingMessage.from_json(message.to_json()) == message
    assert "document" not in OutgoingMessage("一条消息").to_json()  # what bulk writers produce
    await outbox.enqueue(7, message, NOW)
    taken = await outbox.next_for_chat(7, NOW)
    assert taken is not None and taken.message == message
