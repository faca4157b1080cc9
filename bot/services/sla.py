"""Promised times: how long a ticket may wait to be accepted and resolved, on China's calendar."""

from __future__ import annotations

import logging
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import chinese_calendar

from bot.services.community import ConfigError

log = logging.getLogger(__name__)

SHANGHAI = ZoneInfo("Asia/Shanghai")


class SlaConfigError(ConfigError):
    """The [sla] section is wrong; the message names the file and each key."""


class WorkCalendar:
    """China's official working days (with 调休), Monday to Friday where the data ends."""

    def __init__(self, is_workday: Callable[[date], bool] | None = None) -> None:
        self._is_workday = is_workday or chinese_calendar.is_workday
        self._warned: set[int] = set()
        self._cache: dict[date, bool] = {}

    def is_workday(self, day: date) -> bool:
        """Say whether `day` is a working day."""
        cached = self._cache.get(day)
        if cached is not None:
            return cached
        try:
            result = bool(self._is_workday(day))
        except NotImplementedError:
            # The library only knows the years the State Council has announced.
            if day.year not in self._warned:
                self._warned.add(day.year)
                log.warning(
                    "no official holiday calendar for %d; counting Mon-Fri as working days",
                    day.year,
                )
            result = day.weekday() < 5
        self._cache[day] = result
        return result

    def add_working_days(self, start: datetime, days: int, tz: ZoneInfo) -> datetime:
        """Return the same local time `days` working days after `start`."""
        local = start.astimezone(tz)
        day = local.date()
        counted = 0
        while counted < days:
            day += timedelta(days=1)
            if self.is_workday(day):
                counted += 1
        moved = datetime.combine(day, local.timetz().replace(tzinfo=None), tzinfo=tz)
        return moved.astimezone(start.tzinfo)

    def add_working_time(
        self, start: datetime, duration: timedelta, tz: ZoneInfo, hours: WorkingHours
    ) -> datetime:
        """Return the moment `duration` of working time (hours on working days) after `start`."""
        remaining = duration
        cursor = start.astimezone(tz)
        day = cursor.date()
        for _ in range(_MAX_DAYS):
            if self.is_workday(day):
                opens, closes = hours.on(day, tz)
                begin = max(cursor, opens)
                if begin < closes:
                    available = closes - begin
                    if remaining <= available:
                        return (begin + remaining).astimezone(start.tzinfo)
                    remaining -= available
            day += timedelta(days=1)
            cursor = datetime.combine(day, time(0), tzinfo=tz)
        raise ValueError("no working time within ten years")

    def working_time_between(
        self, start: datetime, end: datetime, tz: ZoneInfo, hours: WorkingHours
    ) -> timedelta:
        """Return how much working time lies between two moments."""
        total = timedelta(0)
        cursor = start.astimezone(tz)
        end = end.astimezone(tz)
        day = cursor.date()
        while cursor < end:
            if self.is_workday(day):
                opens, closes = hours.on(day, tz)
                begin, finish = max(cursor, opens), min(end, closes)
                if begin < finish:
                    total += finish - begin
            day += timedelta(days=1)
            cursor = datetime.combine(day, time(0), tzinfo=tz)
        return total


_MAX_DAYS = 3660
_HHMM = r"([01]?\d|2[0-3])[:：]([0-5]\d)"


@dataclass(frozen=True, slots=True)
class WorkingHours:
    """The office hours of a working day (local time), e.g. 08:30-17:30."""

    begin: time
    end: time

    @property
    def length(self) -> timedelta:
        """Return how long one working day is."""
        day = date(2000, 1, 3)
        return datetime.combine(day, self.end) - datetime.combine(day, self.begin)

    def on(self, day: date, tz: ZoneInfo) -> tuple[datetime, datetime]:
        """Return when the office opens and closes on `day`."""
        return datetime.combine(day, self.begin, tzinfo=tz), datetime.combine(
            day, self.end, tzinfo=tz
        )

    @classmethod
    def parse(cls, text: str) -> WorkingHours:
        """Read 'HH:MM-HH:MM' (the same day); raise ValueError otherwise."""
        match = re.fullmatch(rf"\s*{_HHMM}\s*[-—~至到]\s*{_HHMM}\s*", text)
        if match is None:
            raise ValueError(text)
        h1, m1, h2, m2 = (int(g) for g in match.groups())
        hours = cls(time(h1, m1), time(h2, m2))
        if hours.begin >= hours.end:
            raise ValueError(text)
        return hours


DEFAULT_WORKING_HOURS = WorkingHours(time(8, 30), time(17, 30))


@dataclass(frozen=True, slots=True)
class Window:
    """A promised time: a plain duration, or a number of working days."""

    duration: timedelta | None = None
    working_days: int = 0

    def due(
        self,
        start: datetime,
        calendar: WorkCalendar,
        tz: ZoneInfo,
        hours: WorkingHours | None = None,
    ) -> datetime:
        """Return when this window, started at `start`, runs out.

        With working hours the window counts only office time on working days (a working day
        is one day's office hours); without, a plain duration runs around the clock.
        """
        if hours is not None:
            length = hours.length * self.working_days if self.working_days else self.duration
            assert length is not None
            return calendar.add_working_time(start, length, tz, hours)
        if self.working_days:
            return calendar.add_working_days(start, self.working_days, tz)
        assert self.duration is not None
        return start + self.duration


@dataclass(frozen=True, slots=True)
class Promise:
    accept: Window
    resolve: Window


def _defaults() -> dict[str, Promise]:
    return {
        "urgent": Promise(Window(timedelta(minutes=30)), Window(timedelta(hours=24))),
        "normal": Promise(Window(timedelta(hours=4)), Window(working_days=3)),
    }


@dataclass(frozen=True, slots=True)
class SlaPolicy:
    """Deadlines per urgency and category, reminder point, rating window, follower threshold."""

    by_urgency: Mapping[str, Promise] = field(default_factory=_defaults)
    # category -> promise; a category here overrides the urgency's promise for normal tickets.
    by_category: Mapping[str, Promise] = field(
        default_factory=lambda: {
            "services": Promise(Window(timedelta(hours=4)), Window(working_days=1))
        }
    )
    reminder_at: float = 0.75
    rating_window: timedelta = timedelta(hours=72)
    follower_threshold: int = 3
    timezone: ZoneInfo = SHANGHAI
    calendar: WorkCalendar = field(default_factory=WorkCalendar, compare=False)
    # Normal tickets' clocks run only in these hours on working days; urgent ones never stop.
    working_hours: WorkingHours | None = DEFAULT_WORKING_HOURS

    def hours_for(self, urgency: str) -> WorkingHours | None:
        """Return the hours a ticket's clock runs in (None: around the clock)."""
        return None if urgency == "urgent" else self.working_hours

    def promise(self, category: str, urgency: str) -> Promise:
        """Return the promise for a ticket; urgency 'urgent' always wins over a category rule."""
        if urgency != "urgent" and category in self.by_category:
            return self.by_category[category]
        return self.by_urgency.get(urgency, self.by_urgency["normal"])

    def accept_due(self, category: str, urgency: str, start: datetime) -> datetime:
        """Return when a ticket opened (or handed over) at `start` must be accepted."""
        return self.promise(category, urgency).accept.due(
            start, self.calendar, self.timezone, self.hours_for(urgency)
        )

    def resolve_due(self, category: str, urgency: str, start: datetime) -> datetime:
        """Return when a ticket accepted (or reopened) at `start` must be resolved."""
        return self.promise(category, urgency).resolve.due(
            start, self.calendar, self.timezone, self.hours_for(urgency)
        )

    def reminder_time(self, start: datetime, due: datetime, urgency: str = "urgent") -> datetime:
        """Return when to remind the worker of a deadline running from start to due.

        A normal ticket's reminder falls at the same share of the working time, so it comes
        in office hours rather than in the night between.
        """
        hours = self.hours_for(urgency)
        if hours is None:
            return start + (due - start) * self.reminder_at
        working = self.calendar.working_time_between(start, due, self.timezone, hours)
        if working <= timedelta(0):
            return start + (due - start) * self.reminder_at
        return min(
            due,
            self.calendar.add_working_time(
                start, working * self.reminder_at, self.timezone, hours
            ),
        )

    @classmethod
    def from_config(
        cls,
        section: Mapping[str, Any] | None,
        *,
        timezone: ZoneInfo = SHANGHAI,
        source: str = "community.toml",
    ) -> SlaPolicy:
        """Build the policy from the [sla] table of the community TOML."""
        section = dict(section or {})
        problems: list[str] = []
        by_urgency = _defaults()
        for urgency in ("urgent", "normal"):
            table = section.get(urgency)
            if table is not None:
                by_urgency[urgency] = _promise(
                    f"sla.{urgency}", table, by_urgency[urgency], problems
                )
        by_category: dict[str, Promise] = {
            "services": Promise(Window(timedelta(hours=4)), Window(working_days=1))
        }
        categories = section.get("categories", {})
        if not isinstance(categories, Mapping):
            problems.append("sla.categories: must be a table of category tables")
            categories = {}
        for name, table in categories.items():
            base = by_category.get(name, by_urgency["normal"])
            by_category[name] = _promise(f"sla.categories.{name}", table, base, problems)
        reminder_at = section.get("reminder_at", 0.75)
        if not isinstance(reminder_at, int | float) or not 0 < reminder_at < 1:
            problems.append("sla.reminder_at: must be a number between 0 and 1 (e.g. 0.75)")
            reminder_at = 0.75
        rating_hours = section.get("rating_window_hours", 72)
        if not isinstance(rating_hours, int | float) or rating_hours <= 0:
            problems.append("sla.rating_window_hours: must be a positive number of hours")
            rating_hours = 72
        threshold = section.get("follower_threshold", 3)
        if not isinstance(threshold, int) or threshold < 1:
            problems.append("sla.follower_threshold: must be a positive whole number")
            threshold = 3
        working_hours: WorkingHours | None = DEFAULT_WORKING_HOURS
        raw_hours = section.get("working_hours", "08:30-17:30")
        if isinstance(raw_hours, str) and raw_hours.strip().lower() == "off":
            working_hours = None
        else:
            try:
                if not isinstance(raw_hours, str):
                    raise ValueError(raw_hours)
                working_hours = WorkingHours.parse(raw_hours)
            except ValueError:
                problems.append(
                    "sla.working_hours: must be 'HH:MM-HH:MM' within one day"
                    ' (e.g. "08:30-17:30") or "off"'
                )
        known = {
            "urgent",
            "normal",
            "categories",
            "reminder_at",
            "rating_window_hours",
            "follower_threshold",
            "working_hours",
        }
        problems.extend(f"sla.{key}: unknown key" for key in sorted(set(section) - known))
        if problems:
            raise SlaConfigError(problems, source)
        return cls(
            by_urgency=by_urgency,
            by_category=by_category,
            reminder_at=float(reminder_at),
            rating_window=timedelta(hours=float(rating_hours)),
            follower_threshold=threshold,
            timezone=timezone,
            working_hours=working_hours,
        )


def _window(
    where: str, table: Mapping[str, Any], kind: str, base: Window, problems: list[str]
) -> Window:
    keys = {f"{kind}_minutes": "m", f"{kind}_hours": "h", f"{kind}_working_days": "d"}
    given = [k for k in keys if k in table]
    if not given:
        return base
    if len(given) > 1:
        problems.append(f"{where}: give only one of {', '.join(given)}")
        return base
    key = given[0]
    value = table[key]
    if isinstance(value, bool) or not isinstance(value, int | float) or value <= 0:
        problems.append(f"{where}.{key}: must be a positive number")
        return base
    unit = keys[key]
    if unit == "d":
        if not isinstance(value, int):
            problems.append(f"{where}.{key}: must be a whole number of working days")
            return base
        return Window(working_days=value)
    return Window(timedelta(minutes=value) if unit == "m" else timedelta(hours=value))


def _promise(where: str, table: object, base: Promise, problems: list[str]) -> Promise:
    if not isinstance(table, Mapping):
        problems.append(f"{where}: must be a table")
        return base
    known = {
        f"{k}_{u}" for k in ("accept", "resolve") for u in ("minutes", "hours", "working_days")
    }
    problems.extend(f"{where}.{key}: unknown key" for key in sorted(set(table) - known))
    return Promise(
        _window(where, table, "accept", base.accept, problems),
        _window(where, table, "resolve", base.resolve, problems),
    )
