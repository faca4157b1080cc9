"""`gridbot migrate-store SQLITE_PATH postgresql://…`: move a deployment and check it."""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
from typing import Any

import asyncpg

from bot.services.clock import SystemClock
from bot.services.points import DEFAULT_POINTS_CONFIG, PointsService
from storage.db import Database, DatabaseError
from storage.pg import PgDatabase
from storage.points import points_communities
from storage.store import describe, is_postgres_url
from storage.transfer import TargetNotEmptyError, copy_store


def add_parser(sub: Any) -> None:
    """Register the `migrate-store` sub-command."""
    parser: argparse.ArgumentParser = sub.add_parser(
        "migrate-store",
        help="把 SQLite 数据库整体复制到 PostgreSQL 并核对",
        description=(
            "把一个部署的 SQLite 数据库逐表复制到 PostgreSQL（一个事务内），"
            "再核对每张表的行数和每位居民的积分余额与台账。"
        ),
    )
    parser.add_argument("source", help="SQLite 数据库文件")
    parser.add_argument("target", help="postgresql://用户@主机:端口/数据库")
    parser.add_argument(
        "--force", action="store_true", help="目标库已有数据时清空后再复制（默认拒绝）"
    )
    parser.set_defaults(handler=main)


async def migrate_store(source_path: str, target_url: str, *, force: bool) -> int:
    """Copy, check and print the summary; return the exit status."""
    source = Database(source_path)
    target = PgDatabase(target_url)
    await source.open()  # brings the file to the current schema, as starting the bot would
    try:
        await target.open()
        try:
            counts = await copy_store(source, target, force=force)
            problems = [
                p
                for community in await points_communities(target)
                for p in await PointsService(
                    target, SystemClock(), DEFAULT_POINTS_CONFIG, community
                ).check_balances()
            ]
        finally:
            await target.close()
    finally:
        await source.close()
    rows = sum(c.target_rows for c in counts)
    print(f"已复制 {len(counts)} 张表、{rows} 行到 {describe(target_url)}")
    print(f"Copied {len(counts)} tables, {rows} rows to {describe(target_url)}")
    for c in counts:
        if c.target_rows:
            print(f"  {c.table}: {c.target_rows}")
    if problems:
        print(f"{len(problems)} 位居民的积分余额与台账不一致 / balances differ from the ledger:")
        for p in problems:
            print(f"  user {p.user_id}: cached={p.cached} ledger={p.ledger}")
        return 1
    print("行数一致，积分余额与台账一致 / row counts match, every balance equals its ledger")
    return 0


def main(args: argparse.Namespace) -> int:
    """Run `gridbot migrate-store`."""
    if is_postgres_url(args.source) or not is_postgres_url(args.target):
        print(
            "用法: gridbot migrate-store SQLite文件 postgresql://…"
            " (usage: SQLITE_PATH postgresql://…)",
            file=sys.stderr,
        )
        return 2
    if not os.path.exists(args.source):
        print(f"找不到数据库文件 {args.source} / no such file", file=sys.stderr)
        return 2
    try:
        return asyncio.run(migrate_store(args.source, args.target, force=args.force))
    except TargetNotEmptyError as exc:
        print(
            f"目标数据库已有数据（{exc}），未复制；确认要覆盖请加 --force"
            " / the target is not empty; add --force to replace it",
            file=sys.stderr,
        )
        return 1
    except (DatabaseError, asyncpg.PostgresError, OSError) as exc:
        print(
            f"迁移失败，未写入任何数据 / migration failed, nothing written: {exc}", file=sys.stderr
        )
        return 1
