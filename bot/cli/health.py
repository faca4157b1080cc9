"""`gridbot health`: the container's HEALTHCHECK: the database is readable, the bot alive."""

from __future__ import annotations

import argparse
import asyncio
import os
import sqlite3
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from bot.settings import DEFAULT_DB_PATH
from storage.db import DatabaseError
from storage.kv import read_kv, read_kv_readonly
from storage.store import describe, is_postgres_url

# The scheduler writes its heartbeat every minute (bot.handlers.jobs.SCHEDULE_EVERY_S).
DEFAULT_MAX_AGE_S = 180


def add_parser(sub: Any) -> None:
    """Register `gridbot health`."""
    parser: argparse.ArgumentParser = sub.add_parser(
        "health",
        help="健康检查：数据库可读、机器人在运行（供 Docker HEALTHCHECK 使用）",
        description="Exit 0 when the database (GRIDBOT_DB) is readable and the running bot's "
        "heartbeat is recent; else print one line and exit 1.",
    )
    parser.add_argument(
        "--max-age",
        type=int,
        default=DEFAULT_MAX_AGE_S,
        help=f"seconds a heartbeat stays fresh (default {DEFAULT_MAX_AGE_S})",
    )
    parser.set_defaults(handler=run)


async def _postgres_heartbeat(url: str, key: str) -> tuple[str] | None:
    """Read the heartbeat from PostgreSQL without migrating (the check never writes)."""
    import asyncpg

    from storage.pg import PgDatabase

    db = PgDatabase(url)
    await db.open(migrate=False)
    try:
        value = await read_kv(db, key)
    except asyncpg.PostgresError as exc:  # no kv table yet: never migrated
        raise DatabaseError(str(exc)) from None
    finally:
        await db.close()
    return None if value is None else (str(value),)


def heartbeat_age(db_path: str, now: datetime) -> timedelta:
    """Return how old the bot's heartbeat is; raise LookupError, sqlite3.Error or DatabaseError."""
    from bot.services.schedule import HEARTBEAT_KEY

    if is_postgres_url(db_path):
        row = asyncio.run(_postgres_heartbeat(db_path, HEARTBEAT_KEY))
    else:
        if not Path(db_path).is_file():
            raise LookupError(f"数据库不存在 (no database at {db_path})")
        # Read-only: the check must never create, migrate or lock the bot's database.
        value = read_kv_readonly(db_path, HEARTBEAT_KEY)
        row = None if value is None else (value,)
    if row is None:
        raise LookupError("还没有心跳 (no heartbeat yet: the bot has not started its jobs)")
    beat = datetime.fromisoformat(str(row[0]))
    if beat.tzinfo is None:
        beat = beat.replace(tzinfo=UTC)
    return now - beat


def run(args: argparse.Namespace) -> int:
    """Print one line; exit 0 when healthy, 1 when not."""
    db_path = os.environ.get("GRIDBOT_DB", DEFAULT_DB_PATH).strip() or DEFAULT_DB_PATH
    try:
        age = heartbeat_age(db_path, datetime.now(UTC))
    except LookupError as exc:
        print(f"不健康 (unhealthy): {exc}", file=sys.stderr)
        return 1
    except (sqlite3.Error, DatabaseError) as exc:
        print(
            f"不健康 (unhealthy): 数据库不可读 (cannot read {describe(db_path)}: {exc})",
            file=sys.stderr,
        )
        return 1
    seconds = int(age.total_seconds())
    if seconds > args.max_age:
        print(
            f"不健康 (unhealthy): 心跳已停 {seconds} 秒 (last heartbeat {seconds}s ago, "
            f"more than {args.max_age}s)",
            file=sys.stderr,
        )
        return 1
    print(f"健康 (healthy): 心跳 {max(seconds, 0)} 秒前 (heartbeat {max(seconds, 0)}s ago)")
    return 0
