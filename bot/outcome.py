"""What the error handler learned about an update: undo it and try again, or settle it failed.

Its own module so the application state can hold it without importing the poller.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Failure:
    """An update whose transaction must not commit: try again, or settle it as failed."""

    retry: bool
    apology: tuple[int, str] | None = None  # (chat, text) to send when it is settled as failed


class UpdateOutcome:
    """What the error handler learned about one update while it was processed."""

    def __init__(self) -> None:
        self.failures: dict[int, Failure] = {}

    @property
    def retry(self) -> set[int]:
        """The updates that asked to be tried again."""
        return {uid for uid, failure in self.failures.items() if failure.retry}

    def ask_retry(self, update_id: int) -> None:
        """Undo the update and try it again later (e.g. the database was locked)."""
        self.failures[update_id] = Failure(retry=True)

    def fail(self, update_id: int, apology: tuple[int, str] | None) -> None:
        """Undo the update and settle it as failed, apologising to the person if given."""
        self.failures.setdefault(update_id, Failure(retry=False, apology=apology))

    def take(self, update_id: int) -> Failure | None:
        """Return and forget what went wrong with an update."""
        return self.failures.pop(update_id, None)
