"""Copy a deployment's SQLite database into PostgreSQL table by table (`gridbot migrate-store`)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from storage.db import Database, DatabaseError
from storage.pg import PgDatabase

BATCH = 5000


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
