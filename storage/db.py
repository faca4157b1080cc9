"""The process's one database connection, its PRAGMAs, migrations and transactions."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import re
import sqlite3
from collections.abc import AsyncIterator, Iterable, Sequence
from importlib import resources
from pathlib import Path
from typing import Any

import aiosqlite

log = logging.getLogger(__name__)

BUSY_TIMEOUT_MS = 5000
_MIGRATION_NAME = re.compile(r"^(\d{4})_[a-z0-9_]+\.sql$")

Params = Sequence[Any] | dict[str, Any]


class DatabaseError(Exception):
    """A storage problem that start-up or a service reports in plain words."""


class DatabaseFromFutureError(DatabaseError):
    """The database was written by a newer GridBot than this one."""


class DatabaseLockedError(DatabaseError):
    """Another process holds the database lock for longer than busy_timeout."""


def _is_locked(exc: BaseException) -> bool:
    return isinstance(exc, sqlite3.OperationalError) and (
        "locked" in str(exc) or "busy" in str(exc)
    )


def load_migrations() -> list[tuple[int, str, str]]:
    """Return the packaged migrations as (version, name, sql), in order."""
    found: list[tuple[int, str, str]] = []
    folder = resources.files("storage") / "migrations"
    for entry in folder.iterdir():
        match = _MIGRATION_NAME.match(entry.name)
        if match:
            found.append((int(match.group(1)), entry.name, entry.read_text(encoding="utf-8")))
    found.sort()
    versions = [v for v, _, _ in found]
    if versions != list(range(1, len(versions) + 1)):
        raise DatabaseError(f"migrations are not numbered 1..N without gaps: {versions}")
    return found


class Database:
    """Own the connection; services open transactions, repositories run statements."""

    def __init__(self, path: str | Path, *, busy_timeout_ms: int = BUSY_TIMEOUT_MS) -> None:
        self.path = str(path)
        self.busy_timeout_ms = busy_timeout_ms
        self._conn: aiosqlite.Connection | None = None
        self._tx_lock = asyncio.Lock()
        self._tx_owner: asyncio.Task[Any] | None = None

    @property
    def conn(self) -> aiosqlite.Connection:
        if self._conn is None:
            raise DatabaseError("database is not open")
        return self._conn

    async def open(self, *, migrate: bool = True) -> None:
        """Open the file (creating its folder), set PRAGMAs and apply migrations."""
        if self.path != ":memory:" and not self.path.startswith("file:"):
            folder = Path(self.path).parent
            try:
                folder.mkdir(parents=True, exist_ok=True)
            except OSError as exc:
                raise DatabaseError(
                    f"cannot create the folder {folder} of database {self.path}: "
                    f"{exc.strerror or exc}"
                ) from None
        try:
            conn = await aiosqlite.connect(self.path, isolation_level=None)
        except sqlite3.Error as exc:
            raise DatabaseError(f"cannot open database {self.path}: {exc}") from exc
        self._conn = conn
        conn.row_factory = sqlite3.Row
        try:
            await conn.execute(f"PRAGMA busy_timeout = {int(self.busy_timeout_ms)}")
            await conn.execute("PRAGMA foreign_keys = ON")
            await conn.execute("PRAGMA journal_mode = WAL")
            await conn.execute("PRAGMA synchronous = NORMAL")
            if migrate:
                await self.migrate()
        except BaseException:
            await self.close()
            raise

    async def close(self) -> None:
        """Close the connection; safe to call twice."""
        if self._conn is not None:
            conn, self._conn = self._conn, None
            await conn.close()

    async def __aenter__(self) -> Database:
        await self.open()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    async def schema_version(self) -> int:
        """Return the highest applied migration, 0 for an empty database."""
        await self.conn.execute(
            "CREATE TABLE IF NOT EXISTS schema_version ("
            " version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at TEXT NOT NULL)"
        )
        row = await self.fetchone("SELECT MAX(version) AS v FROM schema_version")
        return int(row["v"]) if row and row["v"] is not None else 0

    async def migrate(self) -> list[int]:
        """Apply pending migrations, each in its own transaction; refuse a newer database."""
        migrations = load_migrations()
        head = migrations[-1][0] if migrations else 0
        current = await self.schema_version()
        if current > head:
            raise DatabaseFromFutureError(
                f"database {self.path} is at schema version {current}, "
                f"newer than this GridBot (knows up to {head}); upgrade GridBot"
            )
        applied: list[int] = []
        for version, name, sql in migrations:
            if version <= current:
                continue
            async with self.transaction():
                for statement in _split_sql(sql):
                    await self.conn.execute(statement)
                await self.conn.execute(
                    "INSERT INTO schema_version (version, name, applied_at)"
                    " VALUES (?, ?, datetime('now'))",
                    (version, name),
                )
            log.info("applied migration %s", name)
            applied.append(version)
        return applied

    @contextlib.asynccontextmanager
    async def transaction(self) -> AsyncIterator[Database]:
        """Run the block in one IMMEDIATE transaction; nested use joins the outer one."""
        task = asyncio.current_task()
        if self._tx_owner is not None and self._tx_owner is task:
            yield self
            return
        async with self._tx_lock:
            self._tx_owner = task
            try:
                try:
                    await self.conn.execute("BEGIN IMMEDIATE")
                except sqlite3.OperationalError as exc:
                    if _is_locked(exc):
                        raise DatabaseLockedError(str(exc)) from exc
                    raise
                try:
                    yield self
                except BaseException:
                    await self.conn.execute("ROLLBACK")
                    raise
                else:
                    try:
                        await self.conn.execute("COMMIT")
                    except sqlite3.OperationalError as exc:
                        await self.conn.execute("ROLLBACK")
                        if _is_locked(exc):
                            raise DatabaseLockedError(str(exc)) from exc
                        raise
            finally:
                self._tx_owner = None

    async def _guarded(self) -> contextlib.AbstractAsyncContextManager[Any]:
        """Wait for another task's transaction so single statements never land inside it."""
        task = asyncio.current_task()
        if self._tx_owner is not None and self._tx_owner is task:
            return contextlib.nullcontext()
        return self._tx_lock

    # Each call below is one hop to aiosqlite's thread (execute + fetch together), since on a
    # busy path the hops, not SQLite, are what costs: a cursor fetch and close are hops too.

    async def execute(self, sql: str, params: Params = ()) -> int:
        """Run one statement; return the last inserted row id (or 0)."""
        async with await self._guarded():
            try:
                row = await self.conn.execute_insert(sql, params)
            except sqlite3.OperationalError as exc:
                if _is_locked(exc):
                    raise DatabaseLockedError(str(exc)) from exc
                raise
            return int(row[0] or 0) if row is not None else 0

    async def execute_rowcount(self, sql: str, params: Params = ()) -> int:
        """Run one statement; return how many rows it changed."""
        async with await self._guarded():
            try:
                cursor = await self.conn.execute(sql, params)
            except sqlite3.OperationalError as exc:
                if _is_locked(exc):
                    raise DatabaseLockedError(str(exc)) from exc
                raise
            # The statement has run to completion; the cursor holds nothing to release.
            return int(cursor.rowcount)

    async def executemany(self, sql: str, rows: Iterable[Params]) -> None:
        """Run one statement for many parameter rows."""
        async with await self._guarded():
            try:
                await self.conn.executemany(sql, rows)
            except sqlite3.OperationalError as exc:
                if _is_locked(exc):
                    raise DatabaseLockedError(str(exc)) from exc
                raise

    async def fetchone(self, sql: str, params: Params = ()) -> sqlite3.Row | None:
        """Return the first row of a query (or of an INSERT/UPDATE … RETURNING), or None."""
        rows = await self.fetchall(sql, params)
        return rows[0] if rows else None

    async def fetchall(self, sql: str, params: Params = ()) -> list[sqlite3.Row]:
        """Return all rows of a query."""
        async with await self._guarded():
            try:
                rows = await self.conn.execute_fetchall(sql, params)
            except sqlite3.OperationalError as exc:
                if _is_locked(exc):
                    raise DatabaseLockedError(str(exc)) from exc
                raise
            return list(rows)

    async def fetchval(self, sql: str, params: Params = ()) -> Any:
        """Return the first column of the first row, or None."""
        row = await self.fetchone(sql, params)
        return None if row is None else row[0]


def _split_sql(script: str) -> list[str]:
    """Split a migration into statements (triggers keep their inner semicolons)."""
    statements: list[str] = []
    buffer = ""
    for line in script.splitlines(keepends=True):
        stripped = line.strip()
        if stripped.startswith("--") and not buffer.strip():
            continue
        buffer += line
        if sqlite3.complete_statement(buffer):
            if buffer.strip():
                statements.append(buffer.strip())
            buffer = ""
    if buffer.strip():
        raise DatabaseError(f"unterminated SQL statement in migration: {buffer.strip()[:60]}")
    return statements
