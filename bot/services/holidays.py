"""China's working days: the chinesecalendar package, plus years the community file adds.

The State Council announces each year's holidays and 调休 working days in the autumn before;
the package learns them only with a new release. Until then a community can write the year
into its file:

    [holidays.2027]
    off = ["2027-02-06..2027-02-13", "2027-10-01..2027-10-07"]  # 放假
    work = ["2027-02-14"]                                       # 调休上班

A year given in the file replaces the package's data for that year.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any

import chinese_calendar

from bot.services.community import ConfigError

_MAX_RANGE_DAYS = 31  # no holiday is longer; a longer range is a typo


def _library_is_workday(day: date) -> bool:
    return bool(chinese_calendar.is_workday(day))


@dataclass(frozen=True, slots=True)
class YearHolidays:
    off: frozenset[date]
    work: frozenset[date]


@dataclass(frozen=True, slots=True)
class HolidayCalendar:
    """Say whether a day is a working day; raise NotImplementedError for an unknown year."""

    years: Mapping[int, YearHolidays] = field(default_factory=dict)
    library: Callable[[date], bool] = _library_is_workday

    def is_workday(self, day: date) -> bool:
        """Return True on a working day (a weekday not off, or a 调休 weekend day)."""
        configured = self.years.get(day.year)
        if configured is None:
            return self.library(day)
        if day in configured.work:
            return True
        return day.weekday() < 5 and day not in configured.off

    def knows_year(self, year: int) -> bool:
        """Say whether the holidays of `year` are known (from the file or the package)."""
        if year in self.years:
            return True
        try:
            self.library(date(year, 1, 1))
        except NotImplementedError:
            return False
        return True

    def missing_years(self, now: datetime, *, ahead_from_month: int = 12) -> list[int]:
        """Return this year, and from December the next, when their holidays are unknown."""
        wanted = [now.year] + ([now.year + 1] if now.month >= ahead_from_month else [])
        return [year for year in wanted if not self.knows_year(year)]


def _day(value: Any) -> date | None:
    if isinstance(value, datetime):
        return None
    if isinstance(value, date):
        return value
    if isinstance(value, str):
        try:
            return date.fromisoformat(value.strip())
        except ValueError:
            return None
    return None


def _days(value: Any) -> list[date] | None:
    """Read a date, a "YYYY-MM-DD" string or a "YYYY-MM-DD..YYYY-MM-DD" range; None if bad."""
    if isinstance(value, str) and ".." in value:
        first_text, _, last_text = value.partition("..")
        first, last = _day(first_text), _day(last_text)
        if first is None or last is None or last < first:
            return None
        if (last - first).days >= _MAX_RANGE_DAYS:
            return None
        return [first + timedelta(days=n) for n in range((last - first).days + 1)]
    one = _day(value)
    return None if one is None else [one]


def parse_holidays(
    raw: Mapping[str, Any],
    source: str,
    library: Callable[[date], bool] = _library_is_workday,
) -> HolidayCalendar:
    """Read the [holidays.YYYY] tables of the community file; raise ConfigError listing all."""
    section = raw.get("holidays", {})
    problems: list[str] = []
    if not isinstance(section, Mapping):
        raise ConfigError(["[holidays]: 应为表格 (expected [holidays.YYYY] tables)"], source)
    years: dict[int, YearHolidays] = {}
    for name, table in section.items():
        where = f"[holidays.{name}]"
        if not (isinstance(name, str) and name.isdigit() and len(name) == 4):
            problems.append(
                f"{where}: 年份应为四位数字 (the table name must be a year, e.g. 2027)"
            )
            continue
        if not isinstance(table, Mapping):
            problems.append(f"{where}: 应为表格 (expected off = [...] and work = [...])")
            continue
        year = int(name)
        for key in table:
            if key not in ("off", "work"):
                problems.append(
                    f"{where}.{key}: 未知项 (unknown key; use off = 放假日, work = 调休上班日)"
                )
        read: dict[str, set[date]] = {"off": set(), "work": set()}
        for key in ("off", "work"):
            items = table.get(key, [])
            if not isinstance(items, list):
                problems.append(f"{where}.{key}: 应为日期列表 (expected a list of dates)")
                continue
            for item in items:
                days = _days(item)
                if days is None:
                    problems.append(
                        f"{where}.{key}: 无法识别的日期 {item!r} "
                        "(write 2027-02-06 or 2027-02-06..2027-02-13)"
                    )
                    continue
                outside = [d for d in days if d.year != year]
                if outside:
                    problems.append(
                        f"{where}.{key}: {outside[0].isoformat()} 不在 {year} 年 (not in {year})"
                    )
                    continue
                read[key].update(days)
        both = sorted(read["off"] & read["work"])
        if both:
            problems.append(
                f"{where}: {both[0].isoformat()} 同时是放假日和上班日 (in both off and work)"
            )
        weekend_work = [d for d in read["work"] if d.weekday() < 5]
        if weekend_work:
            problems.append(
                f"{where}.work: {min(weekend_work).isoformat()} 本来就是工作日 "
                "(work lists weekend days worked instead of a holiday)"
            )
        if not read["off"]:
            problems.append(f"{where}.off: 缺少放假日 (missing: list the year's days off)")
        years[year] = YearHolidays(frozenset(read["off"]), frozenset(read["work"]))
    if problems:
        raise ConfigError(problems, source)
    return HolidayCalendar(years=years, library=library)
