"""Storage: SQLite (embedded default) or PostgreSQL, migrations and repositories."""

from storage.db import Database, DatabaseError, DatabaseFromFutureError, DatabaseLockedError
from storage.store import Store, open_database

__all__ = [
    "Database",
    "DatabaseError",
    "DatabaseFromFutureError",
    "DatabaseLockedError",
    "Store",
    "open_database",
]
