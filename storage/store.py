"""The one database interface repositories and services use (`storage.open_database` opens one).

Two stores implement it: :class:`storage.db.Database` (SQLite through aiosqlite, the embedded
default for one community) and :class:`storage.pg.PgDatabase` (PostgreSQL through asyncpg).
Repositories write SQLite's dialect; the PostgreSQL store translates it (storage/dialect.py).
"""

from __future__ import annotations

import contextlib
import sqlite3
from collections.abc import Iterable, Iterator, Sequence
from typing import Any, Protocol

from storage.db import DatabaseError

Params = Sequence[Any] | dict[str, Any]

_PG_SCHEMES = ("postgresql://", "postgres://")


class IntegrityError(DatabaseError):
    """A constraint or an append-only rule refused the statement (PostgreSQL store)."""


# What to catch for a refused statement on either store; SQLite raises its own class.
INTEGRITY_ERRORS: tuple[type[Exception], ...] = (sqlite3.IntegrityError, IntegrityError)


class Row(Protocol):
    """A result row: by column name (row["id"]) or position (row[0]), as both drivers give."""

    def __getitem__(self, key: int | str, /) -> Any: ...

    def __iter__(self) -> Iterator[Any]: ...

    def __len__(self) -> int: ...

    def keys(self) -> Iterable[str]: ...


class Store(Protocol):
    """What services and repositories may ask of a database, on either store."""

    @property
    def path(self) -> str:
        """The database's name for messages and logs (never a password)."""
        ...

    @property
    def in_transaction(self) -> bool:
        """Tell whether the current task is inside a transaction of this store."""
        ...

    async def open(self, *, migrate: bool = True) -> None:
        """Connect and (by default) apply pending migrations."""
        ...

    async def close(self) -> None:
        """Release the connection(s); safe to call twice."""
        ...

    async def schema_version(self) -> int:
        """Return the highest applied migration, 0 for an empty database."""
        ...

    async def migrate(self) -> list[int]:
        """Apply pending migrations; refuse a database newer than the code."""
        ...

    def transaction(self, *, lanes: bool = False) -> contextlib.AbstractAsyncContextManager[Store]:
        """Run the block as one transaction with writers serialized.

        `lanes`: an update's own transaction, whose lanes its caller holds; on PostgreSQL with
        several instances such transactions share the writers' turn (storage.pg).

        Nested use is a savepoint inside the outer transaction: an error raised out of the inner
        block undoes its own writes only, and the outer transaction goes on.
        """
        ...

    async def script(self, statements: Sequence[str]) -> None:
        """Run parameter-free statements atomically in one hop (inside a transaction or not)."""
        ...

    async def execute(self, sql: str, params: Params = ()) -> object:
        """Run one statement (use INSERT … RETURNING with fetchval for a new row's id)."""
        ...

    async def execute_rowcount(self, sql: str, params: Params = ()) -> int:
        """Run one statement; return how many rows it changed."""
        ...

    async def executemany(self, sql: str, rows: Iterable[Params]) -> None:
        """Run one statement for many parameter rows."""
        ...

    async def insert_rows(
        self,
        table: str,
        columns: Sequence[str],
        rows: Sequence[Sequence[Any]],
        tail: str = "",
    ) -> None:
        """Insert many rows in their order, `tail` an ON CONFLICT clause (SQLite's dialect).

        In as few statements as the store allows: multi-row VALUES on SQLite; on PostgreSQL
        COPY without a tail and one INSERT … SELECT FROM unnest(…) with one.
        """
        ...

    async def fetchone(self, sql: str, params: Params = ()) -> Row | None:
        """Return the first row of a query (or of … RETURNING), or None."""
        ...

    async def fetchall(self, sql: str, params: Params = ()) -> Sequence[Row]:
        """Return all rows of a query."""
        ...

    async def fetchval(self, sql: str, params: Params = ()) -> Any:
        """Return the first column of the first row, or None."""
        ...


def is_postgres_url(target: str) -> bool:
    """Tell a PostgreSQL URL from a SQLite file path."""
    return target.strip().lower().startswith(_PG_SCHEMES)


def describe(target: str) -> str:
    """Name a store for messages and logs without the password a URL may carry."""
    if not is_postgres_url(target):
        return target
    scheme, _, rest = target.partition("://")
    credentials, at, location = rest.rpartition("@")
    if not at:
        return target
    user = credentials.split(":", 1)[0]
    return f"{scheme}://{user}@{location}"
