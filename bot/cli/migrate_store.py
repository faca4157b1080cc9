"""`gridbot migrate-store SQLITE_PATH postgresql://…`: move a deployment and check it."""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
from dataclasses import dataclass
from typing import Any

import asyncpg

from bot.services.clock import SystemClock
from bot.services.points import DEFAULT_POINTS_CONFIG, PointsService
from storage.db import Database, DatabaseError
from storage.pg import PgDatabase
from storage.store import describe, is_postgres_url

BATCH = 5000


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


@dataclass(frozen=True)
class TableCopy:
    """How many rows one table had in the source and has in the target."""

    table: str
    source_rows: int
    target_rows: int


class TargetNotEmptyError(DatabaseError):
    """The PostgreSQL database already holds a deployment's rows."""


async def tables_in_dependency_order(source: Database) -> list[str]:
    """Return the source's tables so that every referenced table comes before its referrers."""
    rows = await source.fetchall(
        "SELECT name FROM sqlite_master WHERE type = 'table'"
        " AND name NOT LIKE 'sqlite_%' AND name != 'schema_version' ORDER BY name"
    )
    names = [str(r["name"]) for r in rows]
    needs: dict[str, set[str]] = {}
    for name in names:
        refs = await source.fetchall(f"PRAGMA foreign_key_list({name})")
        needs[name] = {str(r["table"]) for r in refs} - {name}
    ordered: list[str] = []
    while len(ordered) < len(names):
        ready = [n for n in names if n not in ordered and needs[n] <= set(ordered)]
        if not ready:
            raise DatabaseError(
                f"foreign keys form a cycle among {sorted(set(names) - set(ordered))}"
            )
        ordered.extend(ready)
    return ordered


def _coerce(kind: str) -> Any:
    # SQLite keeps whatever was stored; PostgreSQL's columns take only their own type.
    if kind == "text":
        return lambda v: v if v is None or isinstance(v, str) else str(v)
    if kind == "bigint":
        return lambda v: v if v is None else int(v)
    if kind == "double precision":
        return lambda v: v if v is None else float(v)
    return lambda v: v


async def _autoincrement_issued(source: Database, table: str) -> int:
    """Return the last id SQLite's AUTOINCREMENT handed out for a table (0 if none)."""
    if not await source.fetchval(
        "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'sqlite_sequence'"
    ):
        return 0
    issued = await source.fetchval("SELECT seq FROM sqlite_sequence WHERE name = ?", (table,))
    return int(issued or 0)


async def copy_store(source: Database, target: PgDatabase, *, force: bool) -> list[TableCopy]:
    """Copy every table in one transaction, advance the id sequences, and count both sides."""
    tables = await tables_in_dependency_order(source)
    async with target.pool.acquire() as conn, conn.transaction():
        filled = [t for t in tables if await conn.fetchval(f"SELECT EXISTS (SELECT 1 FROM {t})")]
        if filled and not force:
            raise TargetNotEmptyError(", ".join(filled))
        if filled:
            # TRUNCATE, not DELETE: the append-only triggers guard rows, not a wholesale reset.
            await conn.execute(f"TRUNCATE {', '.join(tables)} RESTART IDENTITY CASCADE")
        for table in tables:
            types = {
                str(r["column_name"]): str(r["data_type"])
                for r in await conn.fetch(
                    "SELECT column_name, data_type FROM information_schema.columns"
                    " WHERE table_schema = current_schema() AND table_name = $1",
                    table,
                )
            }
            info = await source.fetchall(f"PRAGMA table_info({table})")
            columns = [str(r["name"]) for r in info]
            coerce = [_coerce(types[c]) for c in columns]
            offset = 0
            while True:
                rows = await source.fetchall(
                    f"SELECT {', '.join(columns)} FROM {table} ORDER BY rowid LIMIT ? OFFSET ?",
                    (BATCH, offset),
                )
                if not rows:
                    break
                records = [tuple(f(v) for f, v in zip(coerce, r, strict=True)) for r in rows]
                await conn.copy_records_to_table(table, records=records, columns=columns)
                offset += len(rows)
            for column in columns:
                # Every identity column (id, anonymous_ids.anon_id, audit_people.ref) goes on
                # past both the copied rows and what SQLite's AUTOINCREMENT handed out before.
                if not await conn.fetchval("SELECT pg_get_serial_sequence($1, $2)", table, column):
                    continue
                issued = await _autoincrement_issued(source, table)
                await conn.execute(
                    f"SELECT setval(pg_get_serial_sequence('{table}', '{column}'),"
                    f" GREATEST(COALESCE(MAX({column}), 0), $1) + 1, false) FROM {table}",
                    issued,
                )
        counts = []
        for table in tables:
            source_rows = int(await source.fetchval(f"SELECT COUNT(*) FROM {table}"))
            target_rows = int(await conn.fetchval(f"SELECT COUNT(*) FROM {table}"))
            counts.append(TableCopy(table, source_rows, target_rows))
        if any(c.source_rows != c.target_rows for c in counts):
            raise DatabaseError("row counts differ after the copy; nothing was committed")
    return counts


async def migrate_store(source_path: str, target_url: str, *, force: bool) -> int:
    """Copy, check and print the summary; return the exit status."""
    source = Database(source_path)
    target = PgDatabase(target_url)
    await source.open()  # brings the file to the current schema, as starting the bot would
    try:
        await target.open()
        try:
            counts = await copy_store(source, target, force=force)
            problems = await PointsService(
                target, SystemClock(), DEFAULT_POINTS_CONFIG
            ).check_balances()
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
