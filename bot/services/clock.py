"""Clocks: every service takes one, so tests never read the real time."""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta
from typing import Protocol
from zoneinfo import ZoneInfo


class Clock(Protocol):
    def now(self) -> datetime:
        """Return the current time, timezone-aware (UTC)."""
        ...


class SystemClock:
    """The real clock."""

    def now(self) -> datetime:
        """Return the current UTC time."""
        return datetime.now(UTC)


class ShiftedClock:
    """The real clock's pace from another starting moment (the demo's "早上八点")."""

    def __init__(self, start: datetime) -> None:
        if start.tzinfo is None:
            raise ValueError("ShiftedClock needs a timezone-aware datetime")
        self._offset = start - datetime.now(UTC)

    @classmethod
    def from_local(cls, at: time, tz: ZoneInfo) -> ShiftedClock:
        """Start today at a local time of day, in the community's timezone."""
        return cls(datetime.combine(datetime.now(tz).date(), at, tzinfo=tz))

    def now(self) -> datetime:
        """Return the shifted current time (UTC)."""
        return datetime.now(UTC) + self._offset


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
