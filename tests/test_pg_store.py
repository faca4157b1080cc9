"""The PostgreSQL store: its dialect, its schema against SQLite's, its transactions and locks."""

from __future__ import annotations

import asyncio
import sqlite3
from pathlib import Path
from typing import Any

import asyncpg
import pytest

from storage import open_database
from storage.db import Database, DatabaseFromFutureError, DatabaseLockedError, load_migrations
from storage.dialect import UnsupportedSQL, bind, to_postgres
from storage.pg import WRITER_LOCK_KEY, PgDatabase, load_pg_migrations
from storage.store import describe

# ── the dialect (no server needed) ──


@pytest.mark.parametrize(
    ("sqlite", "postgres"),
    [
        ("SELECT a FROM t WHERE b = ? AND c = ?", "SELECT a FROM t WHERE b = $1 AND c = $2"),
        ("SELECT 1 FROM t WHERE b IS ?", "SELECT 1 FROM t WHERE b IS NOT DISTINCT FROM $1"),
        ("SELECT 1 FROM t WHERE b IS NOT ?", "SELECT 1 FROM t WHERE b IS DISTINCT FROM $1"),
        ("SELECT 1 FROM t WHERE b IS NOT NULL", "SELECT 1 FROM t WHERE b IS NOT NULL"),
        ("UPDATE t SET n = MAX(n, ?)", "UPDATE t SET n = GREATEST(n, $1)"),
        ("SELECT MAX(n) FROM t", "SELECT MAX(n) FROM t"),
        ("SELECT IFNULL(a, 0) FROM t", "SELECT COALESCE(a, 0) FROM t"),
        (
            "SELECT 1 FROM t WHERE json_extract(loc, '$.place') IS ?",
            "SELECT 1 FROM t WHERE (CAST(loc AS jsonb) #>> '{place}') IS NOT DISTINCT FROM $1",
        ),
        ("SELECT GROUP_CONCAT(a) FROM t", "SELECT string_agg(CAST(a AS TEXT), ',') FROM t"),
        ("SELECT id FROM t INDEXED BY t_idx WHERE a = 1", "SELECT id FROM t  WHERE a = 1"),
        ("SELECT CAST(a AS REAL) FROM t", "SELECT CAST(a AS DOUBLE PRECISION) FROM t"),
        ("SELECT 1 FROM kv WHERE key LIKE ?", "SELECT 1 FROM kv WHERE key ILIKE $1"),
        (
            "INSERT OR IGNORE INTO t (a) VALUES (?) RETURNING id",
            "INSERT INTO t (a) VALUES ($1)  ON CONFLICT DO NOTHING RETURNING id",
        ),
        # What is inside a string literal or a comment is never touched.
        ("SELECT 'a ? b IS c' -- MAX(x, y)?", "SELECT 'a ? b IS c' -- MAX(x, y)?"),
        (
            "INSERT INTO v (at) VALUES (datetime('now'))",
            "INSERT INTO v (at) VALUES (to_char(now() AT TIME ZONE 'UTC',"
            " 'YYYY-MM-DD HH24:MI:SS'))",
        ),
    ],
)
def test_dialect_translates_what_postgresql_spells_differently(sqlite: str, postgres: str) -> None:
    statement = to_postgres(sqlite)
    assert statement is not None
    assert statement.sql == postgres


def test_dialect_maps_named_parameters_and_skips_pragmas() -> None:
    statement = to_postgres("SELECT 1 FROM t WHERE a = :a AND b = :b AND c = :a")
    assert statement is not None
    assert statement.sql == "SELECT 1 FROM t WHERE a = $1 AND b = $2 AND c = $1"
    assert bind(statement, {"b": 2, "a": 1}) == [1, 2]
    assert to_postgres("PRAGMA foreign_keys = ON") is None


@pytest.mark.parametrize(
    "sql",
    [
        "SELECT last_insert_rowid()",
        "REPLACE INTO kv (key) VALUES (?)",
        "INSERT OR REPLACE INTO kv (key) VALUES (?)",
        "SELECT strftime('%Y', at) FROM t",
        "BEGIN IMMEDIATE",
        "SELECT 1 FROM t WHERE a = ? COLLATE NOCASE",
    ],
)
def test_dialect_refuses_what_has_no_faithful_translation(sql: str) -> None:
    with pytest.raises(UnsupportedSQL):
        to_postgres(sql)


def test_the_factory_picks_the_store_by_gridbot_db(tmp_path: Path) -> None:
    assert isinstance(open_database(str(tmp_path / "x.sqlite3")), Database)
    assert isinstance(open_database("postgresql://u@h/db"), PgDatabase)
    assert describe("postgresql://gridbot:secret@db:5432/g") == "postgresql://gridbot@db:5432/g"


def test_postgresql_migrations_mirror_sqlite_version_by_version() -> None:
    assert [v for v, _, _ in load_pg_migrations()] == [v for v, _, _ in load_migrations()]


# ── the schema at head, compared (both stores needed) ──


def _sqlite_schema(path: Path) -> dict[str, Any]:
    conn = sqlite3.connect(path)
    affinity = {"INTEGER": "bigint", "TEXT": "text", "REAL": "double precision"}
    try:
        tables = sorted(
            r[0]
            for r in conn.execute(
                "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'"
            )
        )
        schema: dict[str, Any] = {}
        for table in tables:
            info = conn.execute(f"PRAGMA table_info({table})").fetchall()
            columns = {
                name: (affinity[kind.upper()], bool(notnull or pk))
                for _, name, kind, notnull, _, pk in info
            }
            pk = tuple(r[1] for r in sorted(info, key=lambda r: r[5]) if r[5])
            unique, indexes = set(), set()
            for _, index, is_unique, origin, partial in conn.execute(
                f"PRAGMA index_list({table})"
            ):
                cols = tuple(r[2] for r in conn.execute(f"PRAGMA index_info({index})"))
                if is_unique and origin != "pk":
                    unique.add((cols, bool(partial)))
                if origin == "c":
                    indexes.add(index)
            fks = {(r[3], r[2], r[4]) for r in conn.execute(f"PRAGMA foreign_key_list({table})")}
            schema[table] = {
                "columns": columns,
                "pk": pk,
                "unique": unique,
                "indexes": indexes,
                "fks": fks,
            }
        triggers = {
            r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type='trigger'")
        }
        return {"tables": schema, "triggers": triggers}
    finally:
        conn.close()


async def _pg_schema(url: str) -> tuple[dict[str, Any], list[str]]:
    conn = await asyncpg.connect(url)
    try:
        columns = await conn.fetch(
            "SELECT table_name, column_name, data_type, is_nullable, collation_name"
            " FROM information_schema.columns WHERE table_schema = current_schema()"
        )
        schema: dict[str, Any] = {}
        not_c: list[str] = []
        for r in columns:
            table = schema.setdefault(
                r["table_name"],
                {"columns": {}, "pk": (), "unique": set(), "indexes": set(), "fks": set()},
            )
            table["columns"][r["column_name"]] = (r["data_type"], r["is_nullable"] == "NO")
            if r["data_type"] == "text" and r["collation_name"] != "C":
                not_c.append(f"{r['table_name']}.{r['column_name']}")
        indexes = await conn.fetch(
            "SELECT t.relname AS tbl, i.relname AS idx, x.indisprimary AS pk,"
            " x.indisunique AS uniq, x.indpred IS NOT NULL AS partial,"
            " EXISTS (SELECT 1 FROM pg_constraint c WHERE c.conindid = x.indexrelid) AS backs,"
            " ARRAY(SELECT a.attname FROM unnest(x.indkey) WITH ORDINALITY k(n, o)"
            "  JOIN pg_attribute a ON a.attrelid = t.oid AND a.attnum = k.n ORDER BY k.o)"
            "  AS cols"
            " FROM pg_index x JOIN pg_class i ON i.oid = x.indexrelid"
            " JOIN pg_class t ON t.oid = x.indrelid"
            " WHERE t.relnamespace = current_schema()::regnamespace"
        )
        for r in indexes:
            table = schema[r["tbl"]]
            cols = tuple(r["cols"])
            if r["pk"]:
                table["pk"] = cols
            elif r["uniq"]:
                table["unique"].add((cols, bool(r["partial"])))
            if not r["backs"]:
                table["indexes"].add(r["idx"])
        # Every column pair of a foreign key (a key of two columns gives two), as SQLite's
        # foreign_key_list lists them.
        fks = await conn.fetch(
            "SELECT c.conrelid::regclass::text AS tbl, a.attname AS col,"
            " c.confrelid::regclass::text AS ref, fa.attname AS ref_col"
            " FROM pg_constraint c"
            " CROSS JOIN LATERAL unnest(c.conkey, c.confkey) AS k(col, ref_col)"
            " JOIN pg_attribute a ON a.attrelid = c.conrelid AND a.attnum = k.col"
            " JOIN pg_attribute fa ON fa.attrelid = c.confrelid AND fa.attnum = k.ref_col"
            " WHERE c.contype = 'f' AND c.connamespace = current_schema()::regnamespace"
        )
        for r in fks:
            schema[r["tbl"]]["fks"].add((r["col"], r["ref"], r["ref_col"]))
        triggers = {
            r[0]
            for r in await conn.fetch(
                "SELECT tgname FROM pg_trigger t JOIN pg_class c ON c.oid = t.tgrelid"
                " WHERE NOT t.tgisinternal AND c.relnamespace = current_schema()::regnamespace"
            )
        }
        return {"tables": schema, "triggers": triggers}, not_c
    finally:
        await conn.close()


async def test_both_schemas_match_at_head(tmp_path: Path, pg_url: str) -> None:
    async with Database(tmp_path / "head.sqlite3"):
        pass
    async with PgDatabase(pg_url):
        pass
    sqlite_schema = _sqlite_schema(tmp_path / "head.sqlite3")
    pg_schema, not_c = await _pg_schema(pg_url)
    assert sorted(pg_schema["tables"]) == sorted(sqlite_schema["tables"])
    for table, expected in sqlite_schema["tables"].items():
        assert pg_schema["tables"][table] == expected, table
    assert pg_schema["triggers"] == sqlite_schema["triggers"]
    # Text compares byte by byte in SQLite; the "C" collation keeps ISO times and names in order.
    assert not_c == []


# ── transactions and locks on PostgreSQL ──


async def test_a_newer_postgresql_database_is_refused(pg_url: str) -> None:
    async with PgDatabase(pg_url) as database:
        head = await database.schema_version()
        await database.execute(
            "INSERT INTO schema_version (version, name, applied_at) VALUES (?, 'x', 'now')",
            (head + 1,),
        )
    with pytest.raises(DatabaseFromFutureError, match="newer than this GridBot"):
        await PgDatabase(pg_url).open()


async def test_writers_take_turns_across_connections(pg_url: str) -> None:
    async with PgDatabase(pg_url, max_size=4) as database:
        await database.execute("INSERT INTO kv (key, value, updated_at) VALUES ('n', '0', 'x')")

        async def bump() -> None:
            async with database.transaction():
                value = int(await database.fetchval("SELECT value FROM kv WHERE key = 'n'"))
                await asyncio.sleep(0.01)  # the other writer runs now, and must wait
                await database.execute(
                    "UPDATE kv SET value = ? WHERE key = 'n'", (str(value + 1),)
                )

        await asyncio.gather(*(bump() for _ in range(6)))
        assert await database.fetchval("SELECT value FROM kv WHERE key = 'n'") == "6"


async def test_a_task_started_inside_a_transaction_runs_outside_it(pg_url: str) -> None:
    async with PgDatabase(pg_url) as database, database.transaction():
        await database.execute("INSERT INTO kv (key, value, updated_at) VALUES ('a', '1', 'x')")
        seen = await asyncio.create_task(database.fetchval("SELECT COUNT(*) FROM kv"))
        assert seen == 0  # the row is not committed yet; the child task has its own view
        assert await database.fetchval("SELECT COUNT(*) FROM kv") == 1


async def test_a_writer_lock_held_elsewhere_is_reported(pg_url: str) -> None:
    other = await asyncpg.connect(pg_url)
    try:
        async with PgDatabase(pg_url, busy_timeout_ms=50) as database:
            await other.execute("BEGIN")
            await other.execute("SELECT pg_advisory_xact_lock($1)", WRITER_LOCK_KEY)
            with pytest.raises(DatabaseLockedError):
                async with database.transaction():
                    pass
            await other.execute("ROLLBACK")
            async with database.transaction():  # usable again once the lock is gone
                await database.execute(
                    "INSERT INTO kv (key, value, updated_at) VALUES ('a', '1', 'x')"
                )
    finally:
        await other.close()
