"""Clocks: every service takes one, so tests never read the real time."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Protocol


class Clock(Protocol):
    def now(self) -> datetime:
        """Return the current time, timezone-aware (UTC)."""
        ...


class SystemClock:
    """The real clock."""

    def now(self) -> datetime:
        """Return the current UTC time."""
        return datetime.now(UTC)


class FakeClock:
    """A clock that only moves when told to (tests, demo scripts)."""

    def __init__(self, start: datetime | None = None) -> None:
        self._now = start or datetime(2026, 11, 23, 1, 0, tzinfo=UTC)

    def now(self) -> datetime:
        """Return the pinned time."""
        return self._now

    def advance(self, delta: timedelta) -> datetime:
        """Move the clock forward."""
        self._now += delta
        return self._now

    def set(self, when: datetime) -> None:
        """Pin the clock to a moment."""
        if when.tzinfo is None:
            raise ValueError("FakeClock needs a timezone-aware datetime")
        self._now = when
