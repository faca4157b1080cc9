"""Storage: SQLite (embedded default) or PostgreSQL, migrations and repositories."""

from storage.db import Database, DatabaseError, DatabaseFromFutureError, DatabaseLockedError
from storage.store import Store, is_postgres_url


def open_database(target: str) -> Store:
    """Return the store for GRIDBOT_DB: a postgresql:// URL or a SQLite file path (not opened)."""
    if is_postgres_url(target):
        # Only a PostgreSQL deployment loads asyncpg.
        from storage.pg import PgDatabase

        return PgDatabase(target.strip())
    return Database(target)


__all__ = [
    "Database",
    "DatabaseError",
    "DatabaseFromFutureError",
    "DatabaseLockedError",
    "Store",
    "open_database",
]
