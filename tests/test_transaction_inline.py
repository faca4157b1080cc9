"""SQLite: a transaction's statements run on the loop's thread, with the same results as a hop."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest
from telegram import InlineKeyboardButton, InlineKeyboardMarkup

from bot.handlers.sending import keyboard_kwargs
from bot.services.values import Button
from storage.db import Database
from storage.outbox import OutgoingMessage


async def test_statements_in_a_transaction_answer_as_outside_it(tmp_path: Path) -> None:
    async with Database(tmp_path / "db.sqlite3") as db:
        sql = "INSERT INTO kv (key, value, updated_at) VALUES (?, ?, '2026-11-29')"
        outside = await db.execute(sql, ("a", "1"))
        async with db.transaction():
            assert db._here() is not None  # on the loop's thread, not a hop
            inside = await db.execute(sql, ("b", "2"))
            assert inside == outside + 1
            assert await db.execute_rowcount("UPDATE kv SET value = 'x'") == 2
            await db.executemany(sql, [("c", "3"), ("d", "4")])
            rows = await db.fetchall("SELECT key FROM kv ORDER BY key")
            assert [r["key"] for r in rows] == ["a", "b", "c", "d"]
            with pytest.raises(sqlite3.IntegrityError):
                async with db.transaction():  # a savepoint: its refusal undoes only itself
                    await db.execute(sql, ("e", "5"))
                    await db.execute(sql, ("a", "again"))
        assert db._here() is None
        keys = [r["key"] for r in await db.fetchall("SELECT key FROM kv ORDER BY key")]
        assert keys == ["a", "b", "c", "d"]


async def test_a_failed_transaction_leaves_nothing(tmp_path: Path) -> None:
    async with Database(tmp_path / "db.sqlite3") as db:
        with pytest.raises(RuntimeError):
            async with db.transaction():
                await db.execute("INSERT INTO kv (key, value, updated_at) VALUES ('k', 'v', 't')")
                raise RuntimeError
        assert await db.fetchval("SELECT COUNT(*) FROM kv") == 0


def test_the_keyboard_json_is_what_python_telegram_bot_would_send() -> None:
    rows = ((Button("5号楼", "bld:7:5"), Button("不清楚", "bldu:7")), (), (Button("东门", "p"),))
    built = InlineKeyboardMarkup(
        [[InlineKeyboardButton(b.text, callback_data=b.data) for b in row] for row in rows if row]
    )
    assert keyboard_kwargs(rows) == {"reply_markup": built.to_dict()}
    assert keyboard_kwargs(()) is None


def test_a_queued_message_round_trips_its_json() -> None:
    message = OutgoingMessage(
        "问题", buttons=((Button("a", "b"),),), reply_to_message_id=-3, extra={"after": 2}
    )
    assert OutgoingMessage.from_json(message.to_json()) == message
    assert '"kind"' not in message.to_json()  # delivery fields only when set
