"""PostgreSQL as the second store: an asyncpg pool, its migrations, transactions and dialect.

Repositories are written once in SQLite's dialect and run here unchanged: every statement is
translated once (storage/dialect.py, cached) and prepared by asyncpg (its statement cache).

Transactions keep SQLite's rule that writers take turns: each one runs on a connection
acquired from the pool and bound to the current task, and takes a transaction-level advisory
lock first, so two services deciding from the same rows (a task's capacity, a points balance)
see each other's work exactly as under SQLite's BEGIN IMMEDIATE, across every connection and
every process sharing the database. Readers never wait. Statements outside a transaction run
on any pool connection in autocommit.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import re
from collections.abc import AsyncIterator, Iterable, Sequence
from contextvars import ContextVar
from decimal import Decimal
from importlib import resources
from typing import Any

import asyncpg

from storage.db import (
    BUSY_TIMEOUT_MS,
    DatabaseError,
    DatabaseFromFutureError,
    DatabaseLockedError,
    load_migrations,
    migration_mode,
)
from storage.dialect import PgStatement, UnsupportedSQL, bind, to_postgres
from storage.store import IntegrityError, Params, Row, describe

log = logging.getLogger(__name__)

_MIGRATION_NAME = re.compile(r"^(\d{4})_[a-z0-9_]+\.sql$")

# The advisory lock every write transaction holds: one writer at a time, as with SQLite.
# (Per-community keys can refine this once one deployment serves many communities.)
WRITER_LOCK_KEY = 0x67726964  # "grid"
# And the one migrations hold, so instances starting together migrate once.
MIGRATION_LOCK_KEY = 0x67726965

_Binding = tuple["asyncio.Task[Any] | None", "asyncpg.Connection[Any]"]


def load_pg_migrations() -> list[tuple[int, str, str]]:
    """Return the packaged PostgreSQL migrations as (version, name, sql), in order."""
    found: list[tuple[int, str, str]] = []
    folder = resources.files("storage") / "migrations_pg"
    for entry in folder.iterdir():
        match = _MIGRATION_NAME.match(entry.name)
        if match:
            found.append((int(match.group(1)), entry.name, entry.read_text(encoding="utf-8")))
    found.sort()
    pg_versions = [v for v, _, _ in found]
    sqlite_versions = [v for v, _, _ in load_migrations()]
    if pg_versions != sqlite_versions:
        raise DatabaseError(
            "PostgreSQL migrations must mirror the SQLite ones version by version: "
            f"storage/migrations has {sqlite_versions}, storage/migrations_pg has {pg_versions}"
        )
    return found


def _decode_numeric(text: str) -> int | float:
    # SUM() and AVG() of integers are numeric in PostgreSQL; SQLite gives int or float.
    value = Decimal(text)
    if value == value.to_integral_value():
        return int(value)
    return float(value)


async def _init_connection(conn: asyncpg.Connection[Any]) -> None:
    await conn.set_type_codec(
        "numeric", schema="pg_catalog", encoder=str, decoder=_decode_numeric, format="text"
    )


def _rowcount(status: str) -> int:
    # asyncpg returns the command tag: 'UPDATE 3', 'DELETE 0', 'INSERT 0 1'.
    last = status.rsplit(" ", 1)[-1]
    return int(last) if last.isdigit() else 0


def _translate(sql: str) -> PgStatement | None:
    try:
        return to_postgres(sql)
    except UnsupportedSQL as exc:
        raise UnsupportedSQL(f"{exc} in: {sql[:120]}") from None


@contextlib.contextmanager
def _mapped_errors() -> Any:
    """Turn asyncpg's errors into the store's: locked, integrity; the rest pass through."""
    try:
        yield
    except asyncpg.LockNotAvailableError as exc:
        raise DatabaseLockedError(str(exc)) from exc
    except asyncpg.TransactionRollbackError as exc:
        # A deadlock or a serialization failure: rolled back whole, so it may run again.
        raise DatabaseLockedError(str(exc)) from exc
    except asyncpg.IntegrityConstraintViolationError as exc:
        raise IntegrityError(str(exc)) from exc
    except asyncpg.RaiseError as exc:
        # The append-only triggers raise; they guard integrity like a constraint does.
        raise IntegrityError(str(exc)) from exc


class PgDatabase:
    """Own the pool; services open transactions, repositories run statements."""

    def __init__(
        self,
        url: str,
        *,
        busy_timeout_ms: int = BUSY_TIMEOUT_MS,
        min_size: int = 1,
        max_size: int = 10,
    ) -> None:
        self.url = url
        self.path = describe(url)  # the name messages show, without a password
        self.busy_timeout_ms = busy_timeout_ms
        self.min_size = min_size
        self.max_size = max_size
        self._pool: asyncpg.Pool[Any] | None = None
        self._types: dict[str, dict[str, str]] = {}  # table -> column -> type (insert_rows)
        # The connection of the transaction the current task runs, if any.
        self._bound: ContextVar[_Binding | None] = ContextVar(f"pg_tx_{id(self)}", default=None)
        # Several instances share this database (bot/fleet.py): updates' transactions share
        # the writer lock (see transaction).
        self.shared_lanes = False

    @property
    def pool(self) -> asyncpg.Pool[Any]:
        if self._pool is None:
            raise DatabaseError("database is not open")
        return self._pool

    async def open(self, *, migrate: bool = True) -> None:
        """Connect the pool and apply migrations."""
        try:
            self._pool = await asyncpg.create_pool(
                self.url,
                min_size=self.min_size,
                max_size=self.max_size,
                init=_init_connection,
                # Waiting for a lock longer than this is an error, like SQLite's busy_timeout.
                server_settings={"lock_timeout": str(int(self.busy_timeout_ms))},
            )
        except (OSError, asyncpg.PostgresError, asyncpg.InterfaceError) as exc:
            raise DatabaseError(f"cannot open database {self.path}: {exc}") from exc
        try:
            if migrate:
                await self.migrate()
        except BaseException:
            await self.close()
            raise

    async def close(self) -> None:
        """Close the pool; safe to call twice."""
        if self._pool is not None:
            pool, self._pool = self._pool, None
            await pool.close()

    async def __aenter__(self) -> PgDatabase:
        await self.open()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    async def schema_version(self) -> int:
        """Return the highest applied migration, 0 for an empty database."""
        async with self._connection() as conn:
            return await self._version(conn)

    @staticmethod
    async def _version(conn: asyncpg.Connection[Any]) -> int:
        exists = await conn.fetchval("SELECT to_regclass('schema_version') IS NOT NULL")
        if not exists:
            return 0
        value = await conn.fetchval("SELECT MAX(version) FROM schema_version")
        return int(value) if value is not None else 0

    async def migrate(self, migrations: Sequence[tuple[int, str, str]] | None = None) -> list[int]:
        """Apply pending migrations, each in its own transaction; refuse a newer database.

        A first line `-- gridbot: no-transaction` runs the file outside a transaction, sent as
        one simple query (one statement such as CREATE INDEX CONCURRENTLY, or its own BEGIN …
        COMMIT). `foreign-keys-off` is SQLite's alone (storage.db.MigrationMode): PostgreSQL
        checks every foreign key as it goes and changes a table in place with ALTER TABLE.
        """
        if migrations is None:
            migrations = load_pg_migrations()
        modes = {version: migration_mode(name, sql) for version, name, sql in migrations}
        for version, name, _ in migrations:
            if not modes[version].foreign_keys:
                raise DatabaseError(
                    f"migration {name}: foreign-keys-off is for SQLite's table rebuilds; in"
                    " storage/migrations_pg/ change the table with ALTER TABLE instead"
                )
        head = migrations[-1][0] if migrations else 0
        applied: list[int] = []
        async with self.pool.acquire() as conn:
            for version, name, sql in migrations:
                if not modes[version].transaction:
                    if await self._apply_outside(conn, version, name, sql, head):
                        log.info("applied migration %s", name)
                        applied.append(version)
                    continue
                async with conn.transaction():
                    # Instances starting together take turns; the later ones find it done.
                    await conn.execute("SELECT pg_advisory_xact_lock($1)", MIGRATION_LOCK_KEY)
                    current = await self._prepare_versions(conn, head)
                    if version <= current:
                        continue
                    await conn.execute(sql)
                    await self._record(conn, version, name)
                log.info("applied migration %s", name)
                applied.append(version)
        return applied

    async def _prepare_versions(self, conn: asyncpg.Connection[Any], head: int) -> int:
        await conn.execute(
            "CREATE TABLE IF NOT EXISTS schema_version (version BIGINT PRIMARY KEY,"
            ' name TEXT COLLATE "C" NOT NULL, applied_at TEXT COLLATE "C" NOT NULL)'
        )
        current = await self._version(conn)
        if current > head:
            raise DatabaseFromFutureError(
                f"database {self.path} is at schema version {current}, "
                f"newer than this GridBot (knows up to {head}); upgrade GridBot"
            )
        return current

    @staticmethod
    async def _record(conn: asyncpg.Connection[Any], version: int, name: str) -> None:
        await conn.execute(
            "INSERT INTO schema_version (version, name, applied_at) VALUES ($1, $2,"
            " to_char(now() AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI:SS'))",
            version,
            name,
        )

    async def _apply_outside(
        self, conn: asyncpg.Connection[Any], version: int, name: str, sql: str, head: int
    ) -> bool:
        """Apply a no-transaction migration; False when another instance applied it first."""
        # A session lock, as no transaction holds one: instances starting together take turns.
        await conn.execute("SELECT pg_advisory_lock($1)", MIGRATION_LOCK_KEY)
        try:
            if version <= await self._prepare_versions(conn, head):
                return False
            await conn.execute(sql)
            await self._record(conn, version, name)
            return True
        finally:
            await conn.execute("SELECT pg_advisory_unlock($1)", MIGRATION_LOCK_KEY)

    def _current(self) -> asyncpg.Connection[Any] | None:
        bound = self._bound.get()
        # A task started inside a transaction inherits the variable but not the transaction.
        if bound is not None and bound[0] is asyncio.current_task():
            return bound[1]
        return None

    @contextlib.asynccontextmanager
    async def transaction(self, *, lanes: bool = False) -> AsyncIterator[PgDatabase]:
        """Run the block in one transaction with writers serialized; nested use is a savepoint.

        `lanes`: an update's transaction whose lanes (chat, person, ticket) its caller holds
        across instances (bot/fleet.py). With `shared_lanes` set, such transactions share the
        writer lock and run side by side, as they touch different lanes; every other writer
        (jobs, the sweep) still has the database to itself.
        """
        current = self._current()
        if current is not None:
            # A service's transaction inside an update's: a savepoint (asyncpg nests one), so a
            # refusal raised in the service undoes its own writes and nothing else of the update.
            with _mapped_errors():
                inner = current.transaction()
                await inner.start()
            try:
                yield self
            except BaseException:
                with _mapped_errors():
                    await inner.rollback()
                raise
            else:
                with _mapped_errors():
                    await inner.commit()
            return
        async with self.pool.acquire() as conn:
            token = self._bound.set((asyncio.current_task(), conn))
            try:
                tx = conn.transaction()
                await tx.start()
                try:
                    take = (
                        "SELECT pg_advisory_xact_lock_shared($1)"
                        if lanes and self.shared_lanes
                        else "SELECT pg_advisory_xact_lock($1)"
                    )
                    with _mapped_errors():
                        await conn.execute(take, WRITER_LOCK_KEY)
                    yield self
                except BaseException:
                    await tx.rollback()
                    raise
                else:
                    with _mapped_errors():
                        await tx.commit()
            finally:
                self._bound.reset(token)

    @property
    def in_transaction(self) -> bool:
        """Tell whether the current task is inside a transaction."""
        return self._current() is not None

    async def script(self, statements: Sequence[str]) -> None:
        """Run parameter-free statements atomically in one hop (inside a transaction or not)."""
        translated = [_translate(s) for s in statements]
        body = ";\n".join(t.sql for t in translated if t is not None)
        if not body:
            return
        current = self._current()
        if current is not None:
            with _mapped_errors():
                # No parameters: asyncpg sends the statements as one simple-protocol script.
                await current.execute(body)
            return
        # Statements given whole decide nothing from what they read (the sender recording a
        # delivery): with several instances they take the turn that updates share, so a
        # delivery does not stop every instance's updates.
        async with self.transaction(lanes=True):
            conn = self._current()
            assert conn is not None
            with _mapped_errors():
                await conn.execute(body)

    @contextlib.asynccontextmanager
    async def _connection(self) -> AsyncIterator[asyncpg.Connection[Any]]:
        current = self._current()
        if current is not None:
            yield current
            return
        async with self.pool.acquire() as conn:
            yield conn

    async def execute(self, sql: str, params: Params = ()) -> None:
        """Run one statement (use INSERT … RETURNING with fetchval for a new row's id)."""
        await self.execute_rowcount(sql, params)

    async def execute_rowcount(self, sql: str, params: Params = ()) -> int:
        """Run one statement; return how many rows it changed."""
        statement = _translate(sql)
        if statement is None:
            return 0
        args = bind(statement, params)
        async with self._connection() as conn:
            with _mapped_errors():
                return _rowcount(await conn.execute(statement.sql, *args))

    async def executemany(self, sql: str, rows: Iterable[Params]) -> None:
        """Run one statement for many parameter rows."""
        statement = _translate(sql)
        if statement is None:
            return
        args = [bind(statement, r) for r in rows]
        if not args:
            return
        async with self._connection() as conn:
            with _mapped_errors():
                await conn.executemany(statement.sql, args)

    async def insert_rows(
        self,
        table: str,
        columns: Sequence[str],
        rows: Sequence[Sequence[Any]],
        tail: str = "",
    ) -> None:
        """Insert many rows in their order: COPY, or INSERT … SELECT FROM unnest with a tail.

        Both send the rows as a few typed values instead of a parameter per value, and skip
        planning a statement of thousands of parameters; COPY (no conflicts to handle) also
        skips the executor's per-row work of an INSERT.
        """
        if not rows:
            return
        async with self._connection() as conn:
            with _mapped_errors():
                if not tail:
                    await conn.copy_records_to_table(
                        table, records=[tuple(r) for r in rows], columns=list(columns)
                    )
                    return
                types = await self._column_types(conn, table)
                arrays = ", ".join(f"${i}::{types[c]}[]" for i, c in enumerate(columns, 1))
                translated = _translate(
                    f"INSERT INTO {table} ({', '.join(columns)}) SELECT * FROM unnest(0) {tail}"
                )
                assert translated is not None
                sql = translated.sql.replace("unnest(0)", f"unnest({arrays})", 1)
                await conn.execute(sql, *(list(values) for values in zip(*rows, strict=True)))

    async def _column_types(self, conn: asyncpg.Connection[Any], table: str) -> dict[str, str]:
        """Return a table's column -> type name (for unnest's typed arrays), read once."""
        types = self._types.get(table)
        if types is None:
            found = await conn.fetch(
                "SELECT attname, format_type(atttypid, NULL) FROM pg_attribute"
                " WHERE attrelid = $1::regclass AND attnum > 0 AND NOT attisdropped",
                table,
            )
            types = self._types[table] = {str(r[0]): str(r[1]) for r in found}
        return types

    async def fetchone(self, sql: str, params: Params = ()) -> Row | None:
        """Return the first row of a query (or of an INSERT/UPDATE … RETURNING), or None."""
        rows = await self.fetchall(sql, params)
        return rows[0] if rows else None

    async def fetchall(self, sql: str, params: Params = ()) -> Sequence[Row]:
        """Return all rows of a query."""
        statement = _translate(sql)
        if statement is None:
            return []
        args = bind(statement, params)
        async with self._connection() as conn:
            with _mapped_errors():
                rows: list[Row] = await conn.fetch(statement.sql, *args)
                return rows

    async def fetchval(self, sql: str, params: Params = ()) -> Any:
        """Return the first column of the first row, or None."""
        row = await self.fetchone(sql, params)
        return None if row is None else row[0]
