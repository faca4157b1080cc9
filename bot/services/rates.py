"""The three rates (响应率、解决率、满意率) and timings, per worker, grid or community.

Definitions, over the tickets *created* in [since, until), duplicates left out (a duplicate is
the same complaint as its original, already counted there) and so are tickets the reporter
withdrew as a false alarm:

- response rate = tickets responded to within the accept deadline / tickets due for a response.
  A ticket responds when it is accepted, or refused (不予受理) before being accepted. A ticket is
  due for a response once it has responded or its accept deadline is past `as_of`.
- resolution rate = tickets resolved (resolved and waiting for a rating, or closed after a
  resolution) / tickets. Rejected tickets stay in the denominator: every request counts.
- satisfaction rate = (满意 + 基本满意) / tickets rated by a resident. A ticket closed unrated is
  *not* counted as satisfied and is left out of the denominator (nobody said anything); the
  row's `unrated` column shows how many there were, so a low answer rate is visible. A ticket
  reopened after 不满意 counts as unsatisfied until its next rating.
- average time to accept: created -> first accepted; to resolve: created -> last resolved.
- overdue: tickets that missed the accept deadline, or the resolve deadline once accepted
  (resolved late, or still open past it at `as_of`).
"""

from __future__ import annotations

import statistics
from collections import defaultdict
from collections.abc import Collection, Mapping
from dataclasses import dataclass
from datetime import date, datetime

from bot import texts
from bot.services import lifecycle as lc
from storage.rates import UNKNOWN_KEY as UNKNOWN_KEY
from storage.rates import GroupBy as GroupBy
from storage.rates import RateRepository
from storage.store import Store
from storage.tickets import Ticket

GROUP_BY: tuple[GroupBy, ...] = ("worker", "grid", "community", "street")
_NOT_COUNTED = frozenset({lc.DUPLICATE, lc.WITHDRAWN})


@dataclass(frozen=True, slots=True)
class RateRow:
    """The figures of one worker, grid or community over a period."""

    key: str
    tickets: int
    due_for_response: int
    responded_in_time: int
    response_rate: float | None
    resolved: int
    resolution_rate: float | None
    rated: int
    satisfied: int  # 满意 + 基本满意
    unrated: int
    satisfaction_rate: float | None
    avg_accept_minutes: float | None
    avg_resolve_hours: float | None
    overdue: int


def _key(ticket: Ticket, by: GroupBy) -> str:
    if by == "worker":
        return ticket.assignee_key or UNKNOWN_KEY
    if by == "grid":
        return ticket.grid or UNKNOWN_KEY
    return ticket.community


def _responded_at(ticket: Ticket) -> datetime | None:
    if ticket.accepted_at is not None:
        return ticket.accepted_at
    if ticket.status == lc.REJECTED:
        return ticket.closed_at
    return None


def _is_overdue(ticket: Ticket, as_of: datetime) -> bool:
    responded = _responded_at(ticket)
    if ticket.accept_due_at is not None and (responded or as_of) > ticket.accept_due_at:
        return True
    if ticket.accepted_at is None or ticket.resolve_due_at is None:
        return False
    if ticket.status in (lc.RESOLVED, lc.CLOSED):
        finished = ticket.resolved_at or as_of
    elif ticket.status in lc.IN_HAND:
        finished = as_of
    else:
        return False
    return finished > ticket.resolve_due_at


def _ratio(part: int, whole: int) -> float | None:
    return None if whole == 0 else part / whole


def rate_rows(tickets: list[Ticket], by: GroupBy, as_of: datetime) -> list[RateRow]:
    """Compute the rates of some tickets grouped by worker, grid or community.

    The definition in Python, ticket by ticket; `compute_rates` asks the database for the same
    figures (tests hold the two equal).
    """
    if by not in GROUP_BY:
        raise ValueError(f"group by one of {GROUP_BY}, not {by!r}")
    groups: dict[str, list[Ticket]] = defaultdict(list)
    for ticket in tickets:
        if ticket.status in _NOT_COUNTED:
            continue
        groups[_key(ticket, by)].append(ticket)
    rows: list[RateRow] = []
    for key in sorted(groups):
        group = groups[key]
        due = in_time = resolved = rated = satisfied = unrated = overdue = 0
        accept_minutes: list[float] = []
        resolve_hours: list[float] = []
        for t in group:
            responded = _responded_at(t)
            if responded is not None or (t.accept_due_at is not None and t.accept_due_at <= as_of):
                due += 1
                if responded is not None and (
                    t.accept_due_at is None or responded <= t.accept_due_at
                ):
                    in_time += 1
            if t.accepted_at is not None:
                accept_minutes.append((t.accepted_at - t.created_at).total_seconds() / 60)
            if t.status in (lc.RESOLVED, lc.CLOSED) and t.resolved_at is not None:
                resolved += 1
                resolve_hours.append((t.resolved_at - t.created_at).total_seconds() / 3600)
            if t.rating in ("satisfied", "basic", "unsatisfied"):
                rated += 1
                satisfied += t.rating != "unsatisfied"
            elif t.rating == "unrated":
                unrated += 1
            overdue += _is_overdue(t, as_of)
        rows.append(
            RateRow(
                key=key,
                tickets=len(group),
                due_for_response=due,
                responded_in_time=in_time,
                response_rate=_ratio(in_time, due),
                resolved=resolved,
                resolution_rate=_ratio(resolved, len(group)),
                rated=rated,
                satisfied=satisfied,
                unrated=unrated,
                satisfaction_rate=_ratio(satisfied, rated),
                avg_accept_minutes=statistics.fmean(accept_minutes) if accept_minutes else None,
                avg_resolve_hours=statistics.fmean(resolve_hours) if resolve_hours else None,
                overdue=overdue,
            )
        )
    return rows


async def compute_rates(
    db: Store,
    since: datetime,
    until: datetime,
    by: GroupBy = "worker",
    *,
    as_of: datetime | None = None,
    communities: Collection[str] | None = None,
) -> list[RateRow]:
    """Compute the three rates for tickets created in [since, until), as known at `as_of`.

    The database adds the counts up (storage/rates.py); the result is what `rate_rows` gives
    for the same tickets, without reading each ticket into Python.
    """
    if by not in GROUP_BY:
        raise ValueError(f"group by one of {GROUP_BY}, not {by!r}")
    # The tickets' states are today's, so lateness of still-open ones is judged at as_of (now).
    totals = await RateRepository(db).totals(
        since,
        until,
        by,
        as_of if as_of is not None else until,
        not_counted=_NOT_COUNTED,
        rejected=lc.REJECTED,
        finished=(lc.RESOLVED, lc.CLOSED),
        in_hand=lc.IN_HAND,
        communities=communities,
    )
    return [
        RateRow(
            key=t.key,
            tickets=t.tickets,
            due_for_response=t.due_for_response,
            responded_in_time=t.responded_in_time,
            response_rate=_ratio(t.responded_in_time, t.due_for_response),
            resolved=t.resolved,
            resolution_rate=_ratio(t.resolved, t.tickets),
            rated=t.rated,
            satisfied=t.satisfied,
            unrated=t.unrated,
            satisfaction_rate=_ratio(t.satisfied, t.rated),
            avg_accept_minutes=t.accept_us / t.accepted / 60_000_000 if t.accepted else None,
            avg_resolve_hours=t.resolve_us / t.resolved / 3_600_000_000 if t.resolved else None,
            overdue=t.overdue,
        )
        for t in totals
    ]


def _percent(value: float | None) -> str:
    return texts.STATS_NOT_AVAILABLE if value is None else f"{value * 100:.1f}%"


def row_name(key: str, by: GroupBy, names: Mapping[str, str]) -> str:
    """Return the name a row is shown under: 未分网格 / 未派单 for tickets without one."""
    if key == UNKNOWN_KEY:
        return texts.STATS_UNKNOWN_ROW[by]
    return names.get(key, key)


def format_rates(
    rows: list[RateRow],
    since: date,
    until: date,
    by: GroupBy,
    names: Mapping[str, str] | None = None,
) -> str:
    """Render the rates as a Chinese chat message (/stats); `names` maps keys to names."""
    names = names or {}
    label = texts.STATS_BY_LABELS[by]
    if by == "community" and len(rows) > 1:  # a street office's communities side by side
        label = texts.STATS_BY_COMMUNITIES
    title = texts.STATS_TITLE.format(since=since.isoformat(), until=until.isoformat(), by=label)
    if not rows:
        return f"{title}\n{texts.STATS_EMPTY}"
    lines = [title]
    for row in rows:
        lines.append(
            texts.STATS_ROW.format(
                key=row_name(row.key, by, names),
                tickets=row.tickets,
                response=_percent(row.response_rate),
                resolution=_percent(row.resolution_rate),
                satisfaction=_percent(row.satisfaction_rate),
                rated=row.rated,
                unrated=row.unrated,
                accept=texts.STATS_NOT_AVAILABLE
                if row.avg_accept_minutes is None
                else texts.STATS_MINUTES.format(value=row.avg_accept_minutes),
                resolve=texts.STATS_NOT_AVAILABLE
                if row.avg_resolve_hours is None
                else texts.STATS_HOURS.format(value=row.avg_resolve_hours),
                overdue=row.overdue,
            )
        )
    return "\n".join(lines)
