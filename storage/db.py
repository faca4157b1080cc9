"""The process's one database connection, its PRAGMAs, migrations and transactions."""

from __future__ import annotations

import asyncio
import contextlib
import functools
import json
import logging
import os
import re
import secrets
import socket
import sqlite3
import sys
import time
from collections.abc import AsyncIterator, Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from importlib import resources
from importlib.resources.abc import Traversable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import aiosqlite

if TYPE_CHECKING:
    from storage.store import Store

log = logging.getLogger(__name__)

BUSY_TIMEOUT_MS = 5000
# aiosqlite runs each statement on its own thread, which then needs the GIL to hand the result
# back; while the event loop's thread is busy (reading a complaint, building a card) it waits
# for the interpreter's switch interval, 5 ms by default: longer than the statement and the
# rest of the update together. A shorter interval lets the result through sooner.
SWITCH_INTERVAL_S = 0.0005
_MIGRATION_NAME = re.compile(r"^(\d{4})_[a-z0-9_]+\.sql$")
_MIGRATION_MARKER = re.compile(r"^--\s*gridbot:(.*)$")

Params = Sequence[Any] | dict[str, Any]


PAGE_CACHE_KIB = 64 * 1024

# Bulk statements carry up to this many rows each (multi-row VALUES, IN lists): a batch of
# thousands is a handful of statements instead of a statement per row. Sizes are powers of
# two, so there are few statement texts: each is prepared once, not once per batch size.
BULK_ROWS = 512


def bulk_pieces(count: int) -> Iterator[tuple[int, int]]:
    """Split `count` rows into (start, size) pieces whose sizes are powers of two."""
    start, size = 0, BULK_ROWS
    while start < count:
        while size > count - start:
            size //= 2
        yield start, size
        start += size


@functools.lru_cache(maxsize=256)
def _values_sql(head: str, width: int, rows: int, tail: str) -> str:
    group = "(" + ", ".join("?" * width) + ")"
    return f"{head} VALUES {', '.join([group] * rows)}{tail}"


class DatabaseError(Exception):
    """A storage problem that start-up or a service reports in plain words."""


class DatabaseFromFutureError(DatabaseError):
    """The database was written by a newer GridBot than this one."""


class DatabaseLockedError(DatabaseError):
    """Another process holds the database lock for longer than busy_timeout."""


class DatabaseUnwritableError(DatabaseError):
    """The disk is full, or the database file or its folder is read-only."""


_UNWRITABLE = ("disk is full", "readonly database", "read-only", "disk i/o error")


def _raise_known(exc: sqlite3.Error) -> None:
    """Raise the storage error a caller can act on (wait, retry, tell the admin), if it is one."""
    if _is_locked(exc):
        raise DatabaseLockedError(str(exc)) from exc
    if any(marker in str(exc).lower() for marker in _UNWRITABLE):
        raise DatabaseUnwritableError(str(exc)) from exc


def _is_locked(exc: BaseException) -> bool:
    return isinstance(exc, sqlite3.OperationalError) and (
        "locked" in str(exc) or "busy" in str(exc)
    )


@dataclass(frozen=True)
class MigrationMode:
    """How the runner applies a migration, as its first line declares.

    By default a migration runs in a transaction of its own with foreign keys enforced. A
    migration whose first line is a marker such as

        -- gridbot: no-transaction, foreign-keys-off

    runs otherwise: `foreign-keys-off` turns SQLite's foreign keys off around it (SQLite's own
    procedure for rebuilding a table: create the new table, copy, drop the old one, rename), and
    `no-transaction` runs its statements as they come, outside the runner's transaction (for a
    statement SQLite or PostgreSQL refuses inside one, or a file with its own BEGIN … COMMIT).
    Either way `PRAGMA foreign_key_check` must find no row pointing nowhere before the version is
    recorded; without `no-transaction` a failed check undoes the migration, with it the changes
    stay, unrecorded, so such a file must be safe to run again.
    """

    transaction: bool = True
    foreign_keys: bool = True

    @property
    def marked(self) -> bool:
        """Tell whether the migration declared anything."""
        return not (self.transaction and self.foreign_keys)


_MODE_FLAGS = {"no-transaction": "transaction", "foreign-keys-off": "foreign_keys"}


def migration_mode(name: str, sql: str) -> MigrationMode:
    """Read how a migration runs from its first line; refuse a flag the runner does not know."""
    first = sql.lstrip("\ufeff").split("\n", 1)[0].strip()
    marker = _MIGRATION_MARKER.match(first)
    if marker is None:
        return MigrationMode()
    off: dict[str, bool] = {}
    for flag in (f.strip() for f in marker.group(1).split(",")):
        if flag not in _MODE_FLAGS:
            known = ", ".join(_MODE_FLAGS)
            raise DatabaseError(f"migration {name}: unknown flag {flag!r} (known: {known})")
        off[_MODE_FLAGS[flag]] = False
    return MigrationMode(**off)


def load_migrations(folder: Traversable | None = None) -> list[tuple[int, str, str]]:
    """Return the packaged migrations (or those of `folder`) as (version, name, sql), in order."""
    found: list[tuple[int, str, str]] = []
    if folder is None:
        folder = resources.files("storage") / "migrations"
    for entry in folder.iterdir():
        match = _MIGRATION_NAME.match(entry.name)
        if match:
            found.append((int(match.group(1)), entry.name, entry.read_text(encoding="utf-8")))
    found.sort()
    versions = [v for v, _, _ in found]
    # Numbers are unique and start at 1; a gap is allowed (parallel branches take numbers ahead
    # of their merge), since each database records exactly which versions it applied.
    if len(set(versions)) != len(versions) or (versions and versions[0] != 1):
        raise DatabaseError(f"migrations are not numbered uniquely from 1: {versions}")
    return found


class Database:
    """Own the connection; services open transactions, repositories run statements."""

    def __init__(self, path: str | Path, *, busy_timeout_ms: int = BUSY_TIMEOUT_MS) -> None:
        self.path = str(path)
        self.busy_timeout_ms = busy_timeout_ms
        self._conn: aiosqlite.Connection | None = None
        # The same SQLite connection, for the statements of a transaction that run on the
        # event loop's thread (see `_here`).
        self._raw: sqlite3.Connection | None = None
        self._inline_ok = False
        self._inline = False
        self._tx_lock = asyncio.Lock()
        self._tx_owner: asyncio.Task[Any] | None = None
        self._savepoints = 0

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
        if sys.getswitchinterval() > SWITCH_INTERVAL_S:
            sys.setswitchinterval(SWITCH_INTERVAL_S)

        def connector() -> sqlite3.Connection:
            # Made on aiosqlite's thread; used from the loop's thread too, never at once (the
            # transaction lock and aiosqlite's one queue keep the two apart, see `_here`).
            raw = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False)
            self._raw = raw
            return raw

        try:
            conn = await aiosqlite.Connection(connector, 64)
        except sqlite3.Error as exc:
            raise DatabaseError(f"cannot open database {self.path}: {exc}") from exc
        self._conn = conn
        conn.row_factory = sqlite3.Row
        try:
            await conn.execute(f"PRAGMA busy_timeout = {int(self.busy_timeout_ms)}")
            await conn.execute("PRAGMA foreign_keys = ON")
            mode = await conn.execute_fetchall("PRAGMA journal_mode = WAL")
            # In WAL mode a transaction that holds the write lock never waits for another
            # process again until COMMIT (rollback-journal mode may, when it spills its cache).
            self._inline_ok = str(next(iter(mode))[0]).lower() in ("wal", "memory")
            await conn.execute("PRAGMA synchronous = NORMAL")
            # SQLite's default page cache is 2 MiB: a street office's database of a million
            # tickets is hundreds, and one sweep of thousands of due steps touches more pages
            # than that, reading them back from the file while it writes (a 10,000-step sweep
            # took a third longer). The cache grows only as pages are used.
            await conn.execute(f"PRAGMA cache_size = -{PAGE_CACHE_KIB}")
            if migrate:
                await self.migrate()
        except BaseException:
            await self.close()
            raise

    async def close(self) -> None:
        """Close the connection; safe to call twice."""
        if self._conn is not None:
            conn, self._conn = self._conn, None
            self._raw, self._inline = None, False
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

    async def migrate(self, migrations: Sequence[tuple[int, str, str]] | None = None) -> list[int]:
        """Apply pending migrations, each in its own transaction; refuse a newer database.

        `migrations` defaults to the packaged ones; a migration's first line may ask to run
        otherwise (MigrationMode).
        """
        if migrations is None:
            migrations = load_migrations()
        head = migrations[-1][0] if migrations else 0
        current = await self.schema_version()
        if current > head:
            raise DatabaseFromFutureError(
                f"database {self.path} is at schema version {current}, "
                f"newer than this GridBot (knows up to {head}); upgrade GridBot"
            )
        done = {int(r[0]) for r in await self.fetchall("SELECT version FROM schema_version")}
        applied: list[int] = []
        for version, name, sql in migrations:
            if version in done:
                continue
            mode = migration_mode(name, sql)
            if mode.marked:
                await self._apply_marked(version, name, sql, mode)
            else:
                async with self.transaction():
                    for statement in _split_sql(sql):
                        await self.conn.execute(statement)
                    await self._record(version, name)
            log.info("applied migration %s", name)
            applied.append(version)
        return applied

    async def _record(self, version: int, name: str) -> None:
        await self.conn.execute(
            "INSERT INTO schema_version (version, name, applied_at)"
            " VALUES (?, ?, datetime('now'))",
            (version, name),
        )

    async def _apply_marked(self, version: int, name: str, sql: str, mode: MigrationMode) -> None:
        """Apply a migration marked to run outside a transaction or with foreign keys off."""
        conn = self.conn
        if not mode.foreign_keys:
            # A no-op inside a transaction: SQLite's rebuild procedure sets it before BEGIN.
            await conn.execute("PRAGMA foreign_keys = OFF")
        try:
            if mode.transaction:
                async with self.transaction():
                    for statement in _split_sql(sql):
                        await conn.execute(statement)
                    await self._check_foreign_keys(name, undone=True)
                    await self._record(version, name)
                return
            async with self._tx_lock:
                try:
                    for statement in _split_sql(sql):
                        await conn.execute(statement)
                except BaseException:
                    if conn.in_transaction:  # the file's own BEGIN without its COMMIT
                        await self._rollback()
                    raise
            async with self.transaction():
                await self._check_foreign_keys(name, undone=False)
                await self._record(version, name)
        finally:
            if not mode.foreign_keys:
                await conn.execute("PRAGMA foreign_keys = ON")

    async def _check_foreign_keys(self, name: str, *, undone: bool) -> None:
        broken = list(await self.conn.execute_fetchall("PRAGMA foreign_key_check"))
        if broken:
            tables = sorted({str(row[0]) for row in broken})
            outcome = "it is undone" if undone else "its changes stay, it is not recorded"
            raise DatabaseError(
                f"migration {name} leaves {len(broken)} rows whose foreign keys point nowhere"
                f" (in {', '.join(tables)}); {outcome}"
            )

    @contextlib.asynccontextmanager
    async def transaction(self, *, lanes: bool = False) -> AsyncIterator[Database]:
        """Run the block in one IMMEDIATE transaction; nested use joins the outer one.

        `lanes` matters on PostgreSQL only (storage.pg): one process serves a SQLite file.
        """
        task = asyncio.current_task()
        if self._tx_owner is not None and self._tx_owner is task:
            # A service's transaction inside an update's: a savepoint, so a refusal raised in
            # the service undoes its own writes and nothing else of the update.
            self._savepoints += 1
            name = f"sp{self._savepoints}"
            await self._statement(f"SAVEPOINT {name}")
            try:
                yield self
            except BaseException:
                await self._statement(f"ROLLBACK TO {name}")
                await self._statement(f"RELEASE {name}")
                raise
            else:
                await self._statement(f"RELEASE {name}")
            finally:
                self._savepoints -= 1
            return
        async with self._tx_lock:
            self._tx_owner = task
            try:
                try:
                    await self.conn.execute("BEGIN IMMEDIATE")
                except sqlite3.Error as exc:
                    _raise_known(exc)
                    raise
                self._inline = self._inline_ok
                try:
                    yield self
                except BaseException:
                    self._inline = False
                    await self._rollback()
                    raise
                else:
                    # COMMIT on aiosqlite's thread: it may checkpoint the WAL (disk work).
                    self._inline = False
                    try:
                        await self.conn.execute("COMMIT")
                    except sqlite3.Error as exc:
                        await self._rollback()
                        _raise_known(exc)
                        raise
            finally:
                self._inline = False
                self._tx_owner = None

    async def _rollback(self) -> None:
        # SQLite may have rolled back already (a full disk, an I/O error): nothing left to undo.
        with contextlib.suppress(sqlite3.Error):
            await self.conn.execute("ROLLBACK")

    async def _statement(self, sql: str) -> None:
        raw = self._here()
        try:
            if raw is not None:
                raw.execute(sql)
            else:
                await self.conn.execute(sql)
        except sqlite3.Error as exc:
            _raise_known(exc)
            raise

    @property
    def in_transaction(self) -> bool:
        """Tell whether the current task is inside a transaction."""
        return self._tx_owner is not None and self._tx_owner is asyncio.current_task()

    async def _guarded(self) -> contextlib.AbstractAsyncContextManager[Any]:
        """Wait for another task's transaction so single statements never land inside it."""
        task = asyncio.current_task()
        if self._tx_owner is not None and self._tx_owner is task:
            return contextlib.nullcontext()
        return self._tx_lock

    def _here(self) -> sqlite3.Connection | None:
        """The connection, when the statement may run on the loop's thread instead of a hop.

        Inside this task's transaction (after BEGIN IMMEDIATE took the write lock, in WAL mode)
        a statement never waits for another process, and runs in microseconds: a hop to
        aiosqlite's thread and back costs more than the statement. Nothing else uses the
        connection meanwhile: other tasks wait for the transaction lock, and aiosqlite's queue
        was empty when BEGIN (queued behind anything sent before) came back.
        """
        if self._inline and self._tx_owner is asyncio.current_task():
            return self._raw
        return None

    # Each call below is one hop to aiosqlite's thread (execute + fetch together), since on a
    # busy path the hops, not SQLite, are what costs: a cursor fetch and close are hops too.
    # Inside the task's own transaction the statement runs where it is asked (`_here`).

    async def execute(self, sql: str, params: Params = ()) -> int:
        """Run one statement; return the last inserted row id (or 0)."""
        raw = self._here()
        if raw is not None:
            try:
                cursor = raw.execute(sql, params)
                row = cursor.execute("SELECT last_insert_rowid()").fetchone()
            except sqlite3.Error as exc:
                _raise_known(exc)
                raise
            return int(row[0] or 0) if row is not None else 0
        async with await self._guarded():
            try:
                row = await self.conn.execute_insert(sql, params)
            except sqlite3.Error as exc:
                _raise_known(exc)
                raise
            return int(row[0] or 0) if row is not None else 0

    async def execute_rowcount(self, sql: str, params: Params = ()) -> int:
        """Run one statement; return how many rows it changed."""
        raw = self._here()
        if raw is not None:
            try:
                return int(raw.execute(sql, params).rowcount)
            except sqlite3.Error as exc:
                _raise_known(exc)
                raise
        async with await self._guarded():
            try:
                cursor = await self.conn.execute(sql, params)
            except sqlite3.Error as exc:
                _raise_known(exc)
                raise
            # The statement has run to completion; the cursor holds nothing to release.
            return int(cursor.rowcount)

    async def script(self, statements: Sequence[str]) -> None:
        """Run parameter-free statements atomically in one hop (inside a transaction or not)."""
        if self.in_transaction:
            # executescript would commit the open transaction first: one statement at a time.
            for statement in statements:
                await self.execute(statement)
            return
        async with await self._guarded():
            body = ";\n".join(statements)
            try:
                await self.conn.executescript(f"BEGIN IMMEDIATE;\n{body};\nCOMMIT;")
            except sqlite3.Error as exc:
                await self._rollback()
                _raise_known(exc)
                raise

    async def executemany(self, sql: str, rows: Iterable[Params]) -> None:
        """Run one statement for many parameter rows."""
        raw = self._here()
        if raw is not None:
            try:
                raw.executemany(sql, rows)
            except sqlite3.Error as exc:
                _raise_known(exc)
                raise
            return
        async with await self._guarded():
            try:
                await self.conn.executemany(sql, rows)
            except sqlite3.Error as exc:
                _raise_known(exc)
                raise

    async def insert_rows(
        self,
        table: str,
        columns: Sequence[str],
        rows: Sequence[Sequence[Any]],
        tail: str = "",
    ) -> None:
        """Insert many rows in their order (multi-row VALUES, up to BULK_ROWS a statement)."""
        if not rows:
            return
        head = f"INSERT INTO {table} ({', '.join(columns)})"
        tail = f" {tail}" if tail else ""
        width = len(columns)
        for start, size in bulk_pieces(len(rows)):
            params = [v for row in rows[start : start + size] for v in row]
            await self.execute(_values_sql(head, width, size, tail), params)

    async def fetchone(self, sql: str, params: Params = ()) -> sqlite3.Row | None:
        """Return the first row of a query (or of an INSERT/UPDATE … RETURNING), or None."""
        rows = await self.fetchall(sql, params)
        return rows[0] if rows else None

    async def fetchall(self, sql: str, params: Params = ()) -> list[sqlite3.Row]:
        """Return all rows of a query."""
        raw = self._here()
        if raw is not None:
            try:
                return raw.execute(sql, params).fetchall()
            except sqlite3.Error as exc:
                _raise_known(exc)
                raise
        async with await self._guarded():
            try:
                rows = await self.conn.execute_fetchall(sql, params)
            except sqlite3.Error as exc:
                _raise_known(exc)
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


class AnotherInstanceError(DatabaseError):
    """Another GridBot process serves this database."""


class InstanceLock:
    """One running GridBot per database: a row in kv with a heartbeat.

    A second process finds a fresh heartbeat of a live process and stops at once with one line
    naming it; a heartbeat older than `stale_s`, or the row of a process that no longer exists on
    this host (killed), is taken over.
    """

    KEY = "instance"
    HEARTBEAT_S = 10.0
    STALE_S = 45.0

    def __init__(self, db: Store, token: str, owner: str, *, fleet: bool = False) -> None:
        self.db = db
        self.token = token
        self.owner = owner
        self.fleet = fleet
        self._beat: asyncio.Task[None] | None = None
        self._started = 0.0

    @classmethod
    async def acquire(
        cls, db: Store, *, stale_s: float = STALE_S, fleet: bool = False
    ) -> InstanceLock:
        """Take the database for this process, or raise AnotherInstanceError.

        `fleet`: several instances in webhook mode on PostgreSQL (bot/fleet.py) share the
        database; such an instance joins a running fleet, but neither it nor a lone instance
        (polling: Telegram allows one getUpdates consumer) starts beside the other kind.
        """
        host = socket.gethostname()
        lock = cls(db, secrets.token_hex(8), f"pid {os.getpid()} on {host}", fleet=fleet)
        now = time.time()
        async with db.transaction():
            row = await db.fetchone("SELECT value FROM kv WHERE key = ?", (cls.KEY,))
            if row is not None:
                held = _decode_lock(str(row[0]))
                age = now - float(held.get("beat", 0.0))
                alive = age < stale_s and _alive(held, host)
                if alive and fleet and held.get("fleet"):
                    started = float(held.get("started", now))
                    await lock._write(now, started=started)
                    return lock._beating()
                if alive:
                    started_at = datetime.fromtimestamp(float(held.get("started", 0.0)), UTC)
                    kind = "webhook instances are" if held.get("fleet") else "another GridBot is"
                    raise AnotherInstanceError(
                        f"{kind} already running on {db.path}: {held.get('owner')}, "
                        f"started {started_at:%Y-%m-%d %H:%M:%S} UTC, last heartbeat {age:.0f} s "
                        "ago; stop it first (this one exits and leaves it running)"
                    )
            await lock._write(now, started=now)
        return lock._beating()

    def _beating(self) -> InstanceLock:
        self._beat = asyncio.create_task(self._heartbeat(), name="gridbot-instance-heartbeat")
        return self

    async def _write(self, now: float, *, started: float | None = None) -> None:
        value = {
            "token": self.token,
            "owner": self.owner,
            "pid": os.getpid(),
            "host": socket.gethostname(),
            "beat": now,
            "started": started if started is not None else self._started,
        }
        if self.fleet:
            value["fleet"] = True  # every member writes the row; any live one keeps it fresh
        self._started = float(value["started"])  # type: ignore[arg-type]
        await self.db.execute(
            "INSERT INTO kv (key, value, updated_at) VALUES (?, ?, ?)"
            " ON CONFLICT (key) DO UPDATE SET value = excluded.value,"
            " updated_at = excluded.updated_at",
            (self.KEY, json.dumps(value), datetime.fromtimestamp(now, UTC).isoformat()),
        )

    async def _heartbeat(self) -> None:
        while True:
            await asyncio.sleep(self.HEARTBEAT_S)
            try:
                await self._write(time.time())
            except DatabaseError as exc:
                log.warning("instance heartbeat not written: %s", exc)

    async def release(self) -> None:
        """Stop the heartbeat and free the database for the next start."""
        if self._beat is not None:
            self._beat.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._beat
            self._beat = None
        try:
            row = await self.db.fetchone("SELECT value FROM kv WHERE key = ?", (self.KEY,))
            if row is not None and _decode_lock(str(row[0])).get("token") == self.token:
                await self.db.execute("DELETE FROM kv WHERE key = ?", (self.KEY,))
        except DatabaseError as exc:
            log.warning("instance lock not released: %s", exc)


def _decode_lock(raw: str) -> dict[str, Any]:
    try:
        value = json.loads(raw)
    except ValueError:
        return {}
    return value if isinstance(value, dict) else {}


def _alive(held: dict[str, Any], host: str) -> bool:
    """Tell whether the lock's process may still run (only checkable on this host)."""
    if held.get("host") != host:
        return True
    try:
        os.kill(int(held.get("pid", 0)), 0)
    except ProcessLookupError:
        return False
    except (PermissionError, ValueError, OverflowError):
        return True
    return int(held.get("pid", 0)) > 0
