"""Domain errors: a code the handlers turn into a clear Chinese sentence."""

from __future__ import annotations

from typing import Any

# The store's "another process holds the lock" error: handlers answer it (the update stays in
# the inbox for replay) without importing storage.
from storage.db import DatabaseError, DatabaseLockedError, DatabaseUnwritableError

__all__ = ["DatabaseError", "DatabaseLockedError", "DatabaseUnwritableError", "DomainError"]


class DomainError(Exception):
    """A request the community's rules refuse (wrong state, not allowed, bad input)."""

    def __init__(self, code: str, **params: Any) -> None:
        super().__init__(code)
        self.code = code
        self.params = params

    def __repr__(self) -> str:
        return f"DomainError({self.code!r})"
