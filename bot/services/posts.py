"""Texts of the scheduled posts, built from plain values: short, calm, no personal data."""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from bot import texts
from bot.services.charts import bar_chart
from bot.services.privacy import mask_name
from storage.outbox import Button, OutgoingMessage
from storage.points import Balance
from storage.schedule import OpenTicket, TicketFacts
from storage.tasks import Task

MESSAGE_LIMIT = 4096
CAPTION_LIMIT = 1024
MAX_DIGEST_TICKETS = 30
MAX_DIGEST_TASKS = 8
BUTTON_TITLE = 12  # characters of a task title on its claim button


def split_text(text: str, limit: int = MESSAGE_LIMIT) -> list[str]:
    """Split a text into parts under Telegram's limit, at line ends where possible."""
    parts: list[str] = []
    current = ""
    for line in text.split("\n"):
        while len(line) > limit:  # one line longer than a message: cut it
            if current:
                parts.append(current)
                current = ""
            parts.append(line[:limit])
            line = line[limit:]
        candidate = f"{current}\n{line}" if current else line
        if len(candidate) > limit:
            parts.append(current)
            current = line
        else:
            current = candidate
    if current or not parts:
        parts.append(current)
    return parts


def mask_household(key: str) -> str:
    """Return '3号楼2单元3**' for the household '3-2-301' (the room is not published)."""
    parts = key.split("-")
    if len(parts) != 3:
        return mask_name(key)
    building, unit, room = parts
    masked = room[:1] + "*" * max(0, len(room) - 1)
    return texts.HOUSEHOLD_LABEL.format(building=building, unit=unit, room=masked)


def month_day(moment: datetime | date, tz: ZoneInfo | None = None) -> str:
    """Return '11月23日' for a moment in the community's timezone."""
    day = moment.astimezone(tz).date() if isinstance(moment, datetime) else moment
    return texts.DATE_MD.format(m=day.month, d=day.day)


def format_age(age: timedelta) -> str:
    """Return how long something has waited: '3天', '5小时'."""
    hours = int(age.total_seconds() // 3600)
    if hours >= 24:
        return texts.AGE_DAYS.format(n=hours // 24)
    if hours >= 1:
        return texts.AGE_HOURS.format(n=hours)
    return texts.AGE_JUST_NOW


def is_overdue(ticket: OpenTicket, now: datetime) -> bool:
    """Return whether a ticket missed its resolve deadline, or its accept deadline unaccepted."""
    if ticket.resolve_due_at is not None and ticket.resolve_due_at < now:
        return True
    return (
        ticket.accepted_at is None
        and ticket.accept_due_at is not None
        and ticket.accept_due_at < now
    )


def _ticket_line(ticket: OpenTicket, now: datetime, category_names: Mapping[str, str]) -> str:
    return texts.DIGEST_TICKET_LINE.format(
        number=ticket.number,
        category=category_names.get(ticket.category, ticket.category),
        place=texts.BUILDING_LABEL.format(building=ticket.building) if ticket.building else "",
        status=texts.POSTS_TICKET_STATUS_NAMES.get(ticket.status, ticket.status),
        age=format_age(now - ticket.created_at),
    ).replace("  ", " ")


def digest_task_line(task: Task, tz: ZoneInfo) -> str:
    """Return a task's line in the digest: '#3 清理楼道 · 5分 · 余 2 个名额 · 截止11月30日'."""
    extra = ""
    if task.deadline is not None:
        extra += texts.DIGEST_TASK_DEADLINE.format(when=month_day(task.deadline, tz))
    if task.audience == "targeted":
        extra += texts.DIGEST_TASK_TARGETED.format(targets="、".join(task.targets))
    return texts.DIGEST_TASK_LINE.format(
        task_id=task.id,
        title=task.title,
        points=task.points,
        left=task.places_left if task.status == "open" else 0,
        extra=extra,
    )


def build_digest(
    *,
    now: datetime,
    tz: ZoneInfo,
    tickets: Sequence[OpenTicket],
    tasks: Sequence[Task],
    category_names: Mapping[str, str] | None = None,
) -> list[OutgoingMessage]:
    """Build the daily digest: open tickets by status, overdue first, then open tasks."""
    if not tickets and not tasks:
        return []
    names = category_names if category_names is not None else texts.POSTS_CATEGORY_NAMES
    overdue = [t for t in tickets if is_overdue(t, now)]
    rest = [t for t in tickets if not is_overdue(t, now)]
    lines = [texts.DIGEST_TITLE.format(date=month_day(now, tz))]
    if tickets:
        lines.append(texts.DIGEST_TICKETS_HEAD.format(count=len(tickets), overdue=len(overdue)))
        order = list(texts.POSTS_TICKET_STATUS_NAMES)
        sections: list[tuple[str, list[OpenTicket]]] = [(texts.DIGEST_OVERDUE_HEAD, overdue)]
        present = {t.status for t in rest}
        statuses = [s for s in order if s in present] + sorted(present - set(order))
        for status in statuses:
            head = texts.POSTS_TICKET_STATUS_NAMES.get(status, status)
            sections.append((f"【{head}】", [t for t in rest if t.status == status]))
        shown = 0
        for head, group in sections:
            if not group or shown >= MAX_DIGEST_TICKETS:
                continue
            lines.append(head)
            for ticket in group[: MAX_DIGEST_TICKETS - shown]:
                lines.append(_ticket_line(ticket, now, names))
                shown += 1
        if shown < len(tickets):
            lines.append(texts.DIGEST_MORE.format(count=len(tickets) - shown))
    else:
        lines.append(texts.DIGEST_NO_TICKETS)
    buttons: list[tuple[Button, ...]] = []
    if tasks:
        lines.append("")
        lines.append(texts.DIGEST_TASKS_HEAD.format(count=len(tasks)))
        for task in tasks[:MAX_DIGEST_TASKS]:
            lines.append(digest_task_line(task, tz))
            if task.places_left > 0:
                label = texts.DIGEST_CLAIM_BUTTON.format(
                    task_id=task.id, title=task.title[:BUTTON_TITLE]
                )
                buttons.append((Button(text=label, data=f"claim:{task.id}"),))
    parts = split_text("\n".join(lines))
    messages = [OutgoingMessage(text=part, purpose="digest") for part in parts[:-1]]
    messages.append(OutgoingMessage(text=parts[-1], buttons=tuple(buttons), purpose="digest"))
    return messages


def build_weekly(
    *,
    start: datetime,
    end: datetime,
    tz: ZoneInfo,
    awarded: int,
    buildings: Sequence[tuple[str, int]],
    households: Sequence[tuple[str, int]],
    residents: Sequence[tuple[Balance, str | None]],
    moved: Sequence[Balance],
    totals_only: bool,
) -> list[OutgoingMessage]:
    """Build the weekly 积分公示; [] when no points moved this week."""
    if not moved:
        return []
    lines = [
        texts.WEEKLY_TITLE.format(
            start=month_day(start, tz), end=month_day(end - timedelta(seconds=1), tz)
        ),
        texts.WEEKLY_AWARDED.format(points=awarded),
    ]
    if buildings:
        lines.append(texts.WEEKLY_BUILDINGS_HEAD)
        lines.extend(
            texts.WEEKLY_BUILDING_LINE.format(
                building=texts.BUILDING_LABEL.format(building=b), points=p
            )
            for b, p in buildings
        )
    if not totals_only:
        if households:
            lines.append(texts.WEEKLY_HOUSEHOLDS_HEAD)
            lines.extend(
                texts.WEEKLY_RANK_LINE.format(rank=i, who=mask_household(k), points=p)
                for i, (k, p) in enumerate(households, 1)
            )
        if residents:
            lines.append(texts.WEEKLY_RESIDENTS_HEAD)
            lines.extend(
                texts.WEEKLY_RANK_LINE.format(rank=i, who=mask_name(b.name), points=b.earned)
                for i, (b, _) in enumerate(residents, 1)
            )
        lines.append(texts.WEEKLY_MOVED_HEAD)
        lines.extend(
            texts.WEEKLY_MOVED_LINE.format(who=mask_name(b.name), balance=b.balance) for b in moved
        )
    lines.append(texts.WEEKLY_PRIVATE_HINT)
    parts = split_text("\n".join(lines), MESSAGE_LIMIT - len(texts.WEEKLY_CONTINUED))
    return [
        OutgoingMessage(text=(texts.WEEKLY_CONTINUED if i else "") + part, purpose="weekly")
        for i, part in enumerate(parts)
    ]


@dataclass(frozen=True, slots=True)
class Rates:
    """The three rates as (numerator, denominator) pairs."""

    response: tuple[int, int]
    resolution: tuple[int, int]
    satisfaction: tuple[int, int]


def ticket_rates(facts: Sequence[TicketFacts], now: datetime) -> Rates:
    """Compute response, resolution and satisfaction from the tickets of a period."""
    due = [
        f
        for f in facts
        if f.accept_due_at is not None and (f.accepted_at is not None or f.accept_due_at <= now)
    ]
    on_time = sum(
        1
        for f in due
        if f.accepted_at is not None
        and f.accept_due_at is not None
        and f.accepted_at <= f.accept_due_at
    )
    resolved = sum(1 for f in facts if f.resolved_at is not None)
    rated = [f for f in facts if f.rating in ("satisfied", "basic", "unsatisfied")]
    happy = sum(1 for f in rated if f.rating in ("satisfied", "basic"))
    return Rates((on_time, len(due)), (resolved, len(facts)), (happy, len(rated)))


def percent(pair: tuple[int, int]) -> str:
    """Return '90%' for (9, 10), '—' when nothing was counted."""
    part, whole = pair
    return f"{round(100 * part / whole)}%" if whole else texts.RATE_NONE


def build_monthly(
    *,
    start: datetime,
    end: datetime,
    now: datetime,
    tz: ZoneInfo,
    facts: Sequence[TicketFacts],
    tasks_done: int,
    points_awarded: int,
    category_names: Mapping[str, str] | None = None,
    grid_names: Mapping[str, str] | None = None,
) -> list[OutgoingMessage]:
    """Build the monthly report text and its chart; [] when the period was empty."""
    if not facts and not tasks_done and not points_awarded:
        return []
    names = category_names if category_names is not None else texts.POSTS_CATEGORY_NAMES
    grids = grid_names or {}
    span = {"start": month_day(start, tz), "end": month_day(end - timedelta(seconds=1), tz)}
    by_category = Counter(f.category for f in facts).most_common()
    by_grid = Counter(f.grid for f in facts).most_common()
    lines = [texts.MONTHLY_TITLE.format(**span), texts.MONTHLY_TICKETS.format(count=len(facts))]
    if facts:
        lines.append(
            texts.MONTHLY_BY_CATEGORY.format(
                items="、".join(f"{names.get(c, c)} {n}" for c, n in by_category)
            )
        )
        lines.append(
            texts.MONTHLY_BY_GRID.format(
                items="、".join(
                    f"{grids.get(g, g) if g else texts.POSTS_NO_GRID} {n}" for g, n in by_grid
                )
            )
        )
        rates = ticket_rates(facts, now)
        lines.append(
            texts.MONTHLY_RATES.format(
                response=percent(rates.response),
                resolution=percent(rates.resolution),
                satisfaction=percent(rates.satisfaction),
            )
        )
    lines.append(texts.MONTHLY_TASKS.format(tasks=tasks_done, points=points_awarded))
    messages = [
        OutgoingMessage(text=part, purpose="monthly") for part in split_text("\n".join(lines))
    ]
    if len(by_category) >= 2:  # one bar says nothing a sentence does not
        png = bar_chart(
            [names.get(c, c) for c, _ in by_category],
            [n for _, n in by_category],
            title="",
            fallback_labels=[c for c, _ in by_category],
        )
        caption = texts.MONTHLY_CHART_CAPTION.format(**span)[:CAPTION_LIMIT]
        messages.append(OutgoingMessage(text=caption, photo_png=png, purpose="monthly_chart"))
    return messages


def build_event_reminder(
    *, name: str, note: str, event_date: date, days_before: int
) -> OutgoingMessage:
    """Build the reminder of a community event (议事日, 积分兑换日)."""
    if days_before == 0:
        when = texts.EVENT_TODAY
    elif days_before == 1:
        when = texts.EVENT_TOMORROW
    else:
        when = texts.EVENT_IN_DAYS.format(n=days_before)
    text = texts.EVENT_REMINDER.format(
        when=when, date=month_day(event_date), name=name, note=note
    ).strip()
    return OutgoingMessage(text=split_text(text)[0], purpose="event")
