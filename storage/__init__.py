"""SQLite storage: one aiosqlite connection per process, migrations and repositories."""

from storage.db import Database, DatabaseError, DatabaseFromFutureError, DatabaseLockedError

__all__ = ["Database", "DatabaseError", "DatabaseFromFutureError", "DatabaseLockedError"]
