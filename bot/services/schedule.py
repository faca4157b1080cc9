"""Scheduled posts per bound group: daily digest, weekly 积分公示, monthly report, event reminders.

`ScheduleService.run_due(now)` is called by a periodic job. For every active group and every kind
of post it finds the latest occurrence at or before now (in the community's timezone); if that
occurrence was not decided yet and is still within the grace window, it builds the post and
queues it in the outbox. The decision row (schedule_runs) and the outbox dedup key make each
occurrence post at most once, across restarts and processes; a post due while the bot was down
is caught up once if still within grace, else recorded as missed. An occurrence with nothing to
say is recorded as empty. Quiet hours push not_before to the end of the quiet window.
"""

from __future__ import annotations

import calendar
import logging
import re
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from bot import texts
from bot.services import audit, posts
from bot.services.clock import Clock
from bot.services.community import ConfigError
from bot.services.errors import DomainError
from bot.services.holidays import HolidayCalendar
from bot.services.residents import Actor
from storage.kv import write_kv
from storage.outbox import OutboxRepository, OutgoingMessage
from storage.points import PointsRepository
from storage.schedule import BoundGroup, ScheduleRepository
from storage.store import Store
from storage.tasks import TaskRepository

log = logging.getLogger(__name__)

OFF = "off"
HEARTBEAT_KEY = "heartbeat"
_HHMM = re.compile(r"^([01]?\d|2[0-3])[:：]([0-5]\d)$")
_WEEKDAYS = {
    "mon": 0, "tue": 1, "wed": 2, "thu": 3, "fri": 4, "sat": 5, "sun": 6,
    "周一": 0, "周二": 1, "周三": 2, "周四": 3, "周五": 4, "周六": 5, "周日": 6, "周天": 6,
    "星期一": 0, "星期二": 1, "星期三": 2, "星期四": 3, "星期五": 4, "星期六": 5, "星期日": 6,
    "星期天": 6, "1": 0, "2": 1, "3": 2, "4": 3, "5": 4, "6": 5, "7": 6,
}  # fmt: skip
_OFF_WORDS = {"off", "关", "关闭", "不发", "false", "no"}

# What /schedule may change, and the form each value takes (the hint shown on a bad value).
SETTABLE: Mapping[str, str] = {
    "digest": "HH:MM 或 off，例如 08:30",
    "weekly": "星期 HH:MM 或 off，例如 sun 18:00",
    "monthly": "日 HH:MM 或 off，例如 25 09:00",
    "points_detail": "balances（公示变动居民的余额）或 totals（只公示总数）",
    "quiet_hours": "HH:MM-HH:MM 或 off，例如 22:00-07:00",
    "reminders": "on 或 off",
}


@dataclass(frozen=True, slots=True)
class GroupSchedule:
    """One group's effective schedule (times are local, in the community's timezone)."""

    digest: time | None
    weekly: tuple[int, time] | None  # (weekday 0 = Monday, time)
    monthly: tuple[int, time] | None  # (day of month, time); a short month uses its last day
    totals_only: bool
    quiet_hours: tuple[time, time] | None
    reminders: bool


@dataclass(frozen=True, slots=True)
class EventConfig:
    """A recurring community event (议事日 on the 10th, quarterly redemption day)."""

    code: str
    name: str
    day: int
    months: tuple[int, ...]  # empty: every month
    at: time
    days_before: int
    note: str


@dataclass(frozen=True, slots=True)
class ScheduleConfig:
    defaults: GroupSchedule
    grace: timedelta
    top: int
    events: tuple[EventConfig, ...]


DEFAULT_SCHEDULE = GroupSchedule(
    digest=time(8, 30),
    weekly=(6, time(18, 0)),
    monthly=(25, time(9, 0)),
    totals_only=False,
    quiet_hours=(time(22, 0), time(7, 0)),
    reminders=True,
)


def _time(text: str) -> time:
    match = _HHMM.match(text.strip())
    if not match:
        raise ValueError(text)
    return time(int(match.group(1)), int(match.group(2)))


def _is_off(text: str) -> bool:
    return text.strip().lower() in _OFF_WORDS


def apply_setting(schedule: GroupSchedule, key: str, value: str) -> GroupSchedule:
    """Return the schedule with one setting changed; raise ValueError on a bad value."""
    value = str(value).strip()
    if key == "digest":
        return replace(schedule, digest=None if _is_off(value) else _time(value))
    if key == "weekly":
        if _is_off(value):
            return replace(schedule, weekly=None)
        day, _, at = value.partition(" ")
        weekday = _WEEKDAYS.get(day.strip().lower())
        if weekday is None:
            raise ValueError(value)
        return replace(schedule, weekly=(weekday, _time(at)))
    if key == "monthly":
        if _is_off(value):
            return replace(schedule, monthly=None)
        day, _, at = value.partition(" ")
        if not day.strip().isdigit() or not 1 <= int(day) <= 31:
            raise ValueError(value)
        return replace(schedule, monthly=(int(day), _time(at)))
    if key == "points_detail":
        if value not in ("balances", "totals"):
            raise ValueError(value)
        return replace(schedule, totals_only=value == "totals")
    if key == "quiet_hours":
        if _is_off(value):
            return replace(schedule, quiet_hours=None)
        begin, sep, finish = value.partition("-")
        if not sep:
            raise ValueError(value)
        return replace(schedule, quiet_hours=(_time(begin), _time(finish)))
    if key == "reminders":
        if value.lower() not in ("on", "off", "开", "关", "打开", "开启", "关闭"):
            raise ValueError(value)
        return replace(schedule, reminders=value.lower() in ("on", "开", "打开", "开启"))
    raise KeyError(key)


def parse_schedule_config(raw: Mapping[str, Any], source: str) -> ScheduleConfig:
    """Read [schedule] and [[events]] from the community file."""
    problems: list[str] = []
    section = raw.get("schedule", {})
    if not isinstance(section, Mapping):
        raise ConfigError(["schedule: expected a table"], source)
    schedule = DEFAULT_SCHEDULE
    for key in SETTABLE:
        if key in section:
            value = section[key]
            if isinstance(value, bool):
                value = "on" if value else "off"
            try:
                schedule = apply_setting(schedule, key, str(value))
            except ValueError:
                problems.append(f"schedule.{key}: expected {SETTABLE[key]}, got {value!r}")
    grace = section.get("grace_minutes", 120)
    if isinstance(grace, bool) or not isinstance(grace, int) or not 0 <= grace <= 24 * 60:
        problems.append(f"schedule.grace_minutes: expected minutes 0..1440, got {grace!r}")
        grace = 120
    top = section.get("top", 5)
    if isinstance(top, bool) or not isinstance(top, int) or not 1 <= top <= 50:
        problems.append(f"schedule.top: expected 1..50, got {top!r}")
        top = 5
    unknown = set(section) - set(SETTABLE) - {"grace_minutes", "top"}
    problems.extend(f"schedule.{k}: unknown setting" for k in sorted(unknown))

    events: list[EventConfig] = []
    seen: set[str] = set()
    entries = raw.get("events", [])
    if not isinstance(entries, list):
        problems.append("events: expected [[events]] tables")
        entries = []
    for i, entry in enumerate(entries):
        where = f"events[{i}]"
        if not isinstance(entry, Mapping):
            problems.append(f"{where}: expected a table")
            continue
        event = _parse_event(entry, where, seen, problems)
        if event is not None:
            events.append(event)
    if problems:
        raise ConfigError(problems, source)
    return ScheduleConfig(schedule, timedelta(minutes=grace), top, tuple(events))


def _parse_event(
    entry: Mapping[str, Any], where: str, seen: set[str], problems: list[str]
) -> EventConfig | None:
    before = len(problems)
    code, name = entry.get("code"), entry.get("name")
    if not isinstance(code, str) or not re.match(r"^[a-z][a-z0-9_]{0,31}$", code):
        problems.append(f"{where}.code: expected a lower-case code, got {code!r}")
    elif code in seen:
        problems.append(f"{where}.code: {code!r} is listed twice")
    if not isinstance(name, str) or not name.strip():
        problems.append(f"{where}.name: expected a non-empty name, got {name!r}")
    day = entry.get("day")
    if isinstance(day, bool) or not isinstance(day, int) or not 1 <= day <= 31:
        problems.append(f"{where}.day: expected a day of month 1..31, got {day!r}")
    months = entry.get("months", [])
    if not isinstance(months, list) or any(
        isinstance(m, bool) or not isinstance(m, int) or not 1 <= m <= 12 for m in months
    ):
        problems.append(f"{where}.months: expected a list of months 1..12, got {months!r}")
    days_before = entry.get("days_before", 1)
    if (
        isinstance(days_before, bool)
        or not isinstance(days_before, int)
        or not (0 <= days_before <= 14)
    ):
        problems.append(f"{where}.days_before: expected 0..14, got {days_before!r}")
    note = entry.get("note", "")
    if not isinstance(note, str):
        problems.append(f"{where}.note: expected text, got {note!r}")
    try:
        at = _time(str(entry.get("time", "09:00")))
    except ValueError:
        problems.append(f"{where}.time: expected HH:MM, got {entry.get('time')!r}")
        at = time(9)
    if len(problems) > before:
        return None
    assert isinstance(code, str) and isinstance(name, str) and isinstance(day, int)
    seen.add(code)
    return EventConfig(
        code, name.strip(), day, tuple(sorted(set(months))), at, int(days_before), str(note)
    )


# ── occurrences ───────────────────────────────────────────────────────────────────────────────


def _at(day: date, at: time, tz: ZoneInfo) -> datetime:
    return datetime.combine(day, at, tzinfo=tz)


def _add_months(year: int, month: int, delta: int) -> tuple[int, int]:
    index = year * 12 + (month - 1) + delta
    return index // 12, index % 12 + 1


def _month_day(year: int, month: int, day: int) -> date:
    return date(year, month, min(day, calendar.monthrange(year, month)[1]))


def last_daily(now: datetime, at: time, tz: ZoneInfo) -> datetime:
    """Return the latest daily occurrence at or before now."""
    local = now.astimezone(tz)
    occurrence = _at(local.date(), at, tz)
    return occurrence if occurrence <= local else _at(local.date() - timedelta(days=1), at, tz)


def last_weekly(now: datetime, weekday: int, at: time, tz: ZoneInfo) -> datetime:
    """Return the latest weekly occurrence at or before now."""
    local = now.astimezone(tz)
    day = local.date() - timedelta(days=(local.weekday() - weekday) % 7)
    occurrence = _at(day, at, tz)
    return occurrence if occurrence <= local else _at(day - timedelta(days=7), at, tz)


def monthly_occurrence(year: int, month: int, day: int, at: time, tz: ZoneInfo) -> datetime:
    """Return the month's occurrence (the last day of a month too short for `day`)."""
    return _at(_month_day(year, month, day), at, tz)


def last_monthly(now: datetime, day: int, at: time, tz: ZoneInfo) -> datetime:
    """Return the latest monthly occurrence at or before now."""
    local = now.astimezone(tz)
    occurrence = monthly_occurrence(local.year, local.month, day, at, tz)
    if occurrence <= local:
        return occurrence
    year, month = _add_months(local.year, local.month, -1)
    return monthly_occurrence(year, month, day, at, tz)


def last_event_reminder(
    now: datetime, event: EventConfig, tz: ZoneInfo
) -> tuple[date, datetime] | None:
    """Return (event date, reminder time) of the latest reminder at or before now."""
    local = now.astimezone(tz)
    best: tuple[date, datetime] | None = None
    for delta in (-2, -1, 0, 1):  # a reminder days ahead may fall in the month before
        year, month = _add_months(local.year, local.month, delta)
        if event.months and month not in event.months:
            continue
        day = _month_day(year, month, event.day)
        remind = _at(day - timedelta(days=event.days_before), event.at, tz)
        if remind <= local and (best is None or remind > best[1]):
            best = (day, remind)
    return best


def quiet_until(moment: datetime, quiet: tuple[time, time] | None, tz: ZoneInfo) -> datetime:
    """Return when a post decided at `moment` may be sent: now, or the end of quiet hours."""
    if quiet is None:
        return moment
    begin, finish = quiet
    local = moment.astimezone(tz)
    clock = local.time().replace(tzinfo=None)
    # A window like 22:00-07:00 crosses midnight.
    crosses = begin > finish
    inside = (clock >= begin or clock < finish) if crosses else begin <= clock < finish
    if not inside:
        return moment
    end = _at(local.date(), finish, tz)
    if end <= local:
        end = _at(local.date() + timedelta(days=1), finish, tz)
    return end


# ── the service ───────────────────────────────────────────────────────────────────────────────


@dataclass(frozen=True, slots=True)
class ScheduledPost:
    """What run_due decided for one occurrence in one group."""

    chat_id: int
    kind: str
    period: str
    outcome: str  # 'queued' | 'empty' | 'missed'
    outbox_ids: tuple[int, ...]
    not_before: datetime | None


class ScheduleService:
    """Decide and queue each group's scheduled posts; adjust a group's schedule."""

    def __init__(
        self,
        db: Store,
        clock: Clock,
        config: ScheduleConfig,
        tz: ZoneInfo,
        *,
        category_names: Mapping[str, str] | None = None,
        grid_names: Mapping[str, str] | None = None,
        holidays: HolidayCalendar | None = None,
        admin_ids: Callable[[], Awaitable[list[int]]] | None = None,
        community: str = "",
    ) -> None:
        self.db = db
        self.community = community
        self.holidays = holidays
        self.admin_ids = admin_ids
        self._told_years: set[int] = set()
        self.clock = clock
        self.config = config
        self.tz = tz
        self.category_names = category_names
        self.grid_names = grid_names
        self.repo = ScheduleRepository(db, community)
        self.outbox = OutboxRepository(db)
        self.tasks = TaskRepository(db, community)
        self.points = PointsRepository(db, community)

    # ── per-group settings ──

    def effective(self, overrides: Mapping[str, str]) -> GroupSchedule:
        """Return the defaults with a group's overrides applied (bad stored values ignored)."""
        schedule = self.config.defaults
        for key, value in overrides.items():
            try:
                schedule = apply_setting(schedule, key, value)
            except (KeyError, ValueError):
                log.warning("ignoring stored schedule setting %s", key)
        return schedule

    async def schedule_for(self, chat_id: int) -> GroupSchedule:
        """Return a group's effective schedule."""
        return self.effective(await self.repo.override(chat_id))

    async def set_schedule(
        self, actor: Actor, chat_id: int, changes: Mapping[str, str]
    ) -> GroupSchedule:
        """Change a group's schedule (admins); values as typed, e.g. {'digest': '08:00'}."""
        if not actor.is_admin:
            raise DomainError("not_allowed")
        stored = await self.repo.override(chat_id)
        schedule = self.effective(stored)
        for key, value in changes.items():
            if key not in SETTABLE:
                known = "、".join(texts.SCHEDULE_LABELS.values())
                raise DomainError("schedule_unknown_key", key=key, known=known)
            try:
                schedule = apply_setting(schedule, key, value)
            except ValueError:
                raise DomainError(
                    "schedule_bad_value",
                    key=texts.SCHEDULE_LABELS.get(key, key),
                    hint=texts.SCHEDULE_HINTS.get(key, SETTABLE[key]),
                ) from None
            stored[key] = str(value).strip()
        async with self.db.transaction():
            await self.repo.save_override(chat_id, stored, actor.user_id, self.clock.now())
            await audit.record(
                self.db,
                self.clock.now(),
                actor.user_id,
                actor.name,
                "settings",
                target=str(chat_id),
                detail=dict(changes),
                community=self.community,
            )
        return schedule

    async def reset_schedule(self, actor: Actor, chat_id: int) -> GroupSchedule:
        """Drop a group's overrides so the config's defaults apply again (admins)."""
        if not actor.is_admin:
            raise DomainError("not_allowed")
        async with self.db.transaction():
            await self.repo.save_override(chat_id, {}, actor.user_id, self.clock.now())
            await audit.record(
                self.db,
                self.clock.now(),
                actor.user_id,
                actor.name,
                "settings",
                target=str(chat_id),
                detail={"reset": True},
                community=self.community,
            )
        return self.config.defaults

    # ── deciding what is due ──

    async def run_due(self, now: datetime | None = None) -> list[ScheduledPost]:
        """Queue every post that is due for every active group; return what was decided."""
        moment = now or self.clock.now()
        await self.beat(moment)
        await self.warn_missing_holidays(moment)
        overrides = await self.repo.overrides()
        decided: list[ScheduledPost] = []
        for group in await self.repo.active_groups():
            schedule = self.effective(overrides.get(group.chat_id, {}))
            for kind, period, occurrence, build in self._due(group, schedule, moment):
                post = await self._decide(group, schedule, kind, period, occurrence, build, moment)
                if post is not None:
                    decided.append(post)
        return decided

    async def beat(self, now: datetime) -> None:
        """Record that the scheduler is alive (`gridbot health` reads it)."""
        stamp = now.astimezone(UTC)
        await write_kv(self.db, HEARTBEAT_KEY, stamp.isoformat(), stamp)

    async def warn_missing_holidays(self, now: datetime) -> list[int]:
        """Tell the admins once a year when this year's or next year's holidays are unknown."""
        if self.holidays is None or self.admin_ids is None:
            return []
        local = now.astimezone(self.tz)
        missing = [y for y in self.holidays.missing_years(local) if y not in self._told_years]
        if not missing:
            return []
        queued: list[int] = []
        admins = await self.admin_ids()
        async with self.db.transaction():
            for year in missing:
                text = texts.HOLIDAYS_MISSING.format(year=year)
                for admin in admins:
                    got = await self.outbox.enqueue(
                        admin,
                        OutgoingMessage(text=text, private=True, purpose="holidays"),
                        now,
                        dedup_key=f"holidays:missing:{year}:{admin}",
                    )
                    if got is not None:
                        queued.append(got)
        self._told_years.update(missing)  # the dedup keys hold it across restarts
        if queued:
            log.warning("no holiday calendar for %s; the admins were told", missing)
        return queued

    def _due(
        self, group: BoundGroup, schedule: GroupSchedule, now: datetime
    ) -> list[tuple[str, str, datetime, Any]]:
        tz = self.tz
        found: list[tuple[str, str, datetime, Any]] = []
        if schedule.digest is not None:
            occ = last_daily(now, schedule.digest, tz)
            found.append(("digest", occ.date().isoformat(), occ, self._digest))
        if schedule.weekly is not None:
            occ = last_weekly(now, *schedule.weekly, tz)
            found.append(("weekly", occ.date().isoformat(), occ, self._weekly))
        if schedule.monthly is not None:
            occ = last_monthly(now, *schedule.monthly, tz)
            found.append(("monthly", f"{occ.year:04d}-{occ.month:02d}", occ, self._monthly))
        if schedule.reminders:
            for event in self.config.events:
                hit = last_event_reminder(now, event, tz)
                if hit is not None:
                    day, occ = hit
                    found.append((f"event:{event.code}", day.isoformat(), occ, event))
        return found

    async def _decide(
        self,
        group: BoundGroup,
        schedule: GroupSchedule,
        kind: str,
        period: str,
        occurrence: datetime,
        build: Any,
        now: datetime,
    ) -> ScheduledPost | None:
        chat = group.chat_id
        if await self.repo.decided(chat, kind, period):
            return None
        if now - occurrence > self.config.grace:
            async with self.db.transaction():
                fresh = await self.repo.record(chat, kind, period, "missed", None, now)
            if fresh:
                log.info("scheduled %s for chat %s missed (past grace)", kind, chat)
            return ScheduledPost(chat, kind, period, "missed", (), None) if fresh else None
        if isinstance(build, EventConfig):
            messages = [
                posts.build_event_reminder(
                    name=build.name,
                    note=build.note,
                    event_date=date.fromisoformat(period),
                    days_before=build.days_before,
                )
            ]
        else:
            messages = await build(group, schedule, occurrence, now)
        # Stored as UTC text like every time, so the outbox's text comparison orders it right.
        not_before = quiet_until(now, schedule.quiet_hours, self.tz).astimezone(UTC)
        ids: list[int] = []
        async with self.db.transaction():
            if not messages:
                fresh = await self.repo.record(chat, kind, period, "empty", None, now)
                return ScheduledPost(chat, kind, period, "empty", (), None) if fresh else None
            if not await self.repo.record(chat, kind, period, "queued", None, now):
                return None  # another process decided it a moment ago
            for i, message in enumerate(messages):
                key = f"{kind}:{chat}:{period}" + (f":{i}" if i else "")
                got = await self.outbox.enqueue(
                    chat, message, now, dedup_key=key, not_before=not_before
                )
                if got is not None:
                    ids.append(got)
        log.info("scheduled %s for chat %s queued (%d messages)", kind, chat, len(ids))
        return ScheduledPost(chat, kind, period, "queued", tuple(ids), not_before)

    def _grids(self, group: BoundGroup) -> tuple[str, ...] | None:
        return group.grids or None  # a group bound to no grid sees the whole community

    async def _digest(
        self, group: BoundGroup, schedule: GroupSchedule, occurrence: datetime, now: datetime
    ) -> list[OutgoingMessage]:
        grids = self._grids(group)
        return posts.build_digest(
            now=now,
            tz=self.tz,
            tickets=await self.repo.open_tickets(grids),
            tasks=await self.tasks.list_open(now, grids),
            category_names=self.category_names,
        )

    async def _weekly(
        self, group: BoundGroup, schedule: GroupSchedule, occurrence: datetime, now: datetime
    ) -> list[OutgoingMessage]:
        start = occurrence - timedelta(days=7)
        moved = await self.points.moved_between(start, occurrence)
        if not moved:
            return []
        top = self.config.top
        return posts.build_weekly(
            start=start,
            end=occurrence,
            tz=self.tz,
            awarded=await self.points.awarded_between(start, occurrence),
            buildings=await self.points.group_totals("building"),
            households=await self.points.group_totals("household_key", top),
            residents=await self.points.top_residents(top),
            moved=moved,
            totals_only=schedule.totals_only,
        )

    async def _monthly(
        self, group: BoundGroup, schedule: GroupSchedule, occurrence: datetime, now: datetime
    ) -> list[OutgoingMessage]:
        assert schedule.monthly is not None
        local = occurrence.astimezone(self.tz)
        year, month = _add_months(local.year, local.month, -1)
        start = monthly_occurrence(year, month, *schedule.monthly, self.tz)
        return posts.build_monthly(
            start=start,
            end=occurrence,
            now=now,
            tz=self.tz,
            facts=await self.repo.tickets_created_between(start, occurrence, self._grids(group)),
            tasks_done=await self.tasks.approved_between(start, occurrence),
            points_awarded=await self.points.awarded_between(start, occurrence),
            category_names=self.category_names,
            grid_names=self.grid_names,
        )
