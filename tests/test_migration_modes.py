"""A migration that rebuilds a table: its first line asks for foreign keys off or no transaction.

Each test applies migrations from a throwaway folder, never the packaged ones.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path

import asyncpg
import pytest

from storage.db import Database, DatabaseError, load_migrations, migration_mode
from storage.pg import PgDatabase

PARENTS_AND_CHILDREN = """
CREATE TABLE grids (key TEXT PRIMARY KEY, name TEXT NOT NULL);
CREATE TABLE workers (
    id INTEGER PRIMARY KEY,
    grid_key TEXT NOT NULL REFERENCES grids(key),
    name TEXT NOT NULL
);
INSERT INTO grids (key, name) VALUES ('g1', '一网格'), ('g2', '二网格');
INSERT INTO workers (id, grid_key, name) VALUES (1, 'g1', '李娜'), (2, 'g2', '张伟');
"""

# SQLite's procedure to change a table's definition: new table, copy, drop the old, rename.
REBUILD_GRIDS = """
CREATE TABLE grids_new (key TEXT PRIMARY KEY, name TEXT NOT NULL, street TEXT NOT NULL DEFAULT '');
INSERT INTO grids_new (key, name) SELECT key, name FROM grids;
DROP TABLE grids;
ALTER TABLE grids_new RENAME TO grids;
"""

# The same, but the copy forgets a grid a worker still belongs to.
REBUILD_GRIDS_LOSING_ONE = REBUILD_GRIDS.replace(
    "SELECT key, name FROM grids;", "SELECT key, name FROM grids WHERE key = 'g1';"
)


def folder_of(tmp_path: Path, *files: tuple[str, str]) -> Path:
    folder = tmp_path / "migrations"
    folder.mkdir()
    for name, sql in files:
        (folder / name).write_text(sql, encoding="utf-8")
    return folder


async def opened(tmp_path: Path) -> Database:
    database = Database(tmp_path / "db.sqlite3")
    await database.open(migrate=False)
    return database


async def versions(database: Database) -> list[int]:
    return [int(r[0]) for r in await database.fetchall("SELECT version FROM schema_version")]


async def test_a_rebuild_with_foreign_keys_off_keeps_the_rows_and_the_keys(tmp_path: Path) -> None:
    folder = folder_of(
        tmp_path,
        ("0001_grids.sql", PARENTS_AND_CHILDREN),
        ("0002_street.sql", "-- gridbot: foreign-keys-off\n" + REBUILD_GRIDS),
    )
    database = await opened(tmp_path)
    try:
        assert await database.migrate(load_migrations(folder)) == [1, 2]
        rows = await database.fetchall("SELECT key, name, street FROM grids ORDER BY key")
        assert [tuple(r) for r in rows] == [("g1", "一网格", ""), ("g2", "二网格", "")]
        assert await database.fetchval("SELECT COUNT(*) FROM workers") == 2
        # Foreign keys are on again: a worker of no grid is refused.
        with pytest.raises(sqlite3.IntegrityError):
            await database.execute(
                "INSERT INTO workers (id, grid_key, name) VALUES (3, 'g9', '王芳')"
            )
    finally:
        await database.close()


async def test_the_same_rebuild_without_the_marker_is_refused(tmp_path: Path) -> None:
    folder = folder_of(
        tmp_path,
        ("0001_grids.sql", PARENTS_AND_CHILDREN),
        ("0002_street.sql", REBUILD_GRIDS),
    )
    database = await opened(tmp_path)
    try:
        with pytest.raises(sqlite3.IntegrityError):  # dropping grids would orphan the workers
            await database.migrate(load_migrations(folder))
        assert await versions(database) == [1]
        assert await database.fetchval("SELECT COUNT(*) FROM grids") == 2
    finally:
        await database.close()


async def test_a_rebuild_that_orphans_rows_is_undone_and_not_recorded(tmp_path: Path) -> None:
    folder = folder_of(
        tmp_path,
        ("0001_grids.sql", PARENTS_AND_CHILDREN),
        ("0002_street.sql", "-- gridbot: foreign-keys-off\n" + REBUILD_GRIDS_LOSING_ONE),
    )
    database = await opened(tmp_path)
    try:
        with pytest.raises(DatabaseError, match=r"0002_street\.sql.*1 rows.*workers.*undone"):
            await database.migrate(load_migrations(folder))
        assert await versions(database) == [1]
        rows = await database.fetchall("SELECT key FROM grids ORDER BY key")
        assert [r[0] for r in rows] == ["g1", "g2"]
        assert await database.fetchval("PRAGMA foreign_keys") == 1
    finally:
        await database.close()


async def test_a_no_transaction_migration_runs_what_a_transaction_refuses(tmp_path: Path) -> None:
    plain = folder_of(
        tmp_path, ("0001_grids.sql", PARENTS_AND_CHILDREN), ("0002_v.sql", "VACUUM;")
    )
    database = await opened(tmp_path)
    try:
        with pytest.raises(sqlite3.OperationalError, match="within a transaction"):
            await database.migrate(load_migrations(plain))
        assert await versions(database) == [1]
        (plain / "0002_v.sql").write_text("-- gridbot: no-transaction\nVACUUM;", encoding="utf-8")
        assert await database.migrate(load_migrations(plain)) == [2]
        assert await versions(database) == [1, 2]
    finally:
        await database.close()


async def test_outside_a_transaction_an_orphaning_rebuild_stays_unrecorded(tmp_path: Path) -> None:
    folder = folder_of(
        tmp_path,
        ("0001_grids.sql", PARENTS_AND_CHILDREN),
        (
            "0002_street.sql",
            "-- gridbot: no-transaction, foreign-keys-off\n" + REBUILD_GRIDS_LOSING_ONE,
        ),
    )
    database = await opened(tmp_path)
    try:
        with pytest.raises(DatabaseError, match="changes stay, it is not recorded"):
            await database.migrate(load_migrations(folder))
        assert await versions(database) == [1]
        assert await database.fetchval("SELECT COUNT(*) FROM grids") == 1
        assert await database.fetchval("PRAGMA foreign_keys") == 1
        assert not database.in_transaction
    finally:
        await database.close()


def test_a_marker_is_read_from_the_first_line_only_and_unknown_flags_are_refused() -> None:
    both = migration_mode("0002_x.sql", "-- gridbot: no-transaction, foreign-keys-off\nSELECT 1;")
    assert (both.transaction, both.foreign_keys) == (False, False)
    later = migration_mode("0002_x.sql", "SELECT 1;\n-- gridbot: foreign-keys-off\n")
    assert (later.transaction, later.foreign_keys) == (True, True)
    assert not later.marked
    with pytest.raises(DatabaseError, match="unknown flag 'foreign-keys-of'"):
        migration_mode("0002_x.sql", "-- gridbot: foreign-keys-of\nSELECT 1;")


def test_no_packaged_migration_carries_an_unknown_flag() -> None:
    for _, name, sql in load_migrations():
        migration_mode(name, sql)


# ── PostgreSQL: no-transaction runs; foreign-keys-off is SQLite's alone ──

PG_GRIDS = (
    "CREATE TABLE grids (key TEXT PRIMARY KEY, name TEXT NOT NULL);"
    " INSERT INTO grids (key, name) VALUES ('g1', '一网格');"
)


async def test_postgresql_runs_a_no_transaction_migration_outside_one(
    tmp_path: Path, pg_url: str
) -> None:
    concurrently = "CREATE INDEX CONCURRENTLY grids_name ON grids (name);"
    migrations = [(1, "0001_grids.sql", PG_GRIDS), (2, "0002_index.sql", concurrently)]
    database = PgDatabase(pg_url)
    await database.open(migrate=False)
    try:
        with pytest.raises(asyncpg.PostgresError, match="transaction block"):
            await database.migrate(migrations)
        marked = (2, "0002_index.sql", "-- gridbot: no-transaction\n" + concurrently)
        assert await database.migrate([migrations[0], marked]) == [2]
        assert await database.fetchval("SELECT to_regclass('grids_name') IS NOT NULL") is True
        assert await database.schema_version() == 2
    finally:
        await database.close()


async def test_postgresql_refuses_foreign_keys_off(pg_url: str) -> None:
    database = PgDatabase(pg_url)
    await database.open(migrate=False)
    try:
        marked = (1, "0001_grids.sql", "-- gridbot: foreign-keys-off\n" + PG_GRIDS)
        with pytest.raises(DatabaseError, match="ALTER TABLE"):
            await database.migrate([marked])
        assert await database.schema_version() == 0
    finally:
        await database.close()
