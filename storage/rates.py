"""The three rates' counts, added up by the database: one GROUP BY instead of every ticket.

bot/services/rates.py defines the rates; this query counts them where the tickets are, so a
street office's month (tens of thousands of tickets) costs one scan of the created_at index
and a few rows back, not a Ticket object per ticket. Times are compared as the ISO-8601 UTC
text they are stored in (it sorts like the times). The averages need durations; both stores
get them from the same integer arithmetic on that text (days from the civil date, seconds of
the day, microseconds), so the sums are exact and agree to the microsecond on both.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from datetime import datetime
from typing import Literal

from storage.store import Store
from storage.tickets import iso

GroupBy = Literal["worker", "grid", "community", "street"]
UNKNOWN_KEY = "-"

_KEYS: dict[GroupBy, str] = {
    "worker": f"COALESCE(NULLIF(assignee_key, ''), '{UNKNOWN_KEY}')",
    "grid": f"COALESCE(NULLIF(grid, ''), '{UNKNOWN_KEY}')",
    "community": "community",
    "street": "'street'",  # one row: every community the query reads
}
# Worker keys and grid codes are a community's own: across communities they are told apart.
_PER_COMMUNITY: frozenset[GroupBy] = frozenset({"worker", "grid"})
KEY_JOIN = "\u00b7"  # 社区·网格员 when a worker or grid row spans several communities


@dataclass(frozen=True, slots=True)
class RateTotals:
    """One group's counts and summed durations (microseconds) over a period."""

    key: str
    tickets: int
    due_for_response: int
    responded_in_time: int
    resolved: int
    rated: int
    satisfied: int
    unrated: int
    overdue: int
    accepted: int
    accept_us: int  # sum of created -> accepted over the accepted tickets
    resolve_us: int  # sum of created -> resolved over the resolved tickets


def _int(expr: str) -> str:
    return f"CAST({expr} AS INTEGER)"


def micros_sql(column: str) -> str:
    """SQL for a stored time's microseconds from a fixed origin (for differences only)."""
    year = _int(f"substr({column}, 1, 4)")
    month = _int(f"substr({column}, 6, 2)")
    day = _int(f"substr({column}, 9, 2)")
    # Days from the civil date (a year starting in March puts the leap day last); the origin
    # is a constant that cancels in every difference.
    y = f"({year} - CASE WHEN {month} <= 2 THEN 1 ELSE 0 END)"
    days = (
        f"(365 * {y} + {y} / 4 - {y} / 100 + {y} / 400"
        f" + (153 * ({month} + CASE WHEN {month} <= 2 THEN 9 ELSE -3 END) + 2) / 5 + {day})"
    )
    seconds = (
        f"({_int(f'substr({column}, 12, 2)')} * 3600 + {_int(f'substr({column}, 15, 2)')} * 60"
        f" + {_int(f'substr({column}, 18, 2)')})"
    )
    # isoformat() writes six digits of microseconds, or none when they are zero.
    micros = _int(f"substr({column}, 21, 6)")
    fraction = f"CASE WHEN substr({column}, 20, 1) = '.' THEN {micros} ELSE 0 END"
    return f"(({days} * 86400 + {seconds}) * 1000000 + {fraction})"


def _states(states: Collection[str]) -> str:
    return ", ".join("'" + s.replace("'", "''") + "'" for s in sorted(states))


class RateRepository:
    """Count the rates of the tickets created in a period, grouped in the database."""

    def __init__(self, db: Store) -> None:
        self.db = db

    async def totals(
        self,
        since: datetime,
        until: datetime,
        by: GroupBy,
        as_of: datetime,
        *,
        not_counted: Collection[str],
        rejected: str,
        finished: Collection[str],
        in_hand: Collection[str],
        communities: Collection[str] | None = None,
    ) -> list[RateTotals]:
        """Return each group's totals, sorted by key; the states come from the lifecycle.

        `not_counted`: left out (duplicates, withdrawn); `rejected`: refused, which responds;
        `finished`: resolved or closed; `in_hand`: accepted and being worked on;
        `communities`: only these communities' tickets (None: every community's). A worker or
        grid row of a query over several communities is keyed `community·key`.
        """
        params: dict[str, str] = {}
        only = ""
        if communities is not None:
            names = sorted(communities)
            marks = ", ".join(f":c{i}" for i in range(len(names)))
            only = f" AND community IN ({marks})" if names else " AND 0 = 1"
            params.update({f"c{i}": name for i, name in enumerate(names)})
        responded = (
            f"CASE WHEN accepted_at IS NOT NULL THEN accepted_at"
            f" WHEN status = {_states([rejected])} THEN closed_at END"
        )
        done = f"status IN ({_states(finished)})"
        comm = "community" if by in _PER_COMMUNITY else "''"
        sql = (
            "SELECT comm, grp, COUNT(*),"
            " SUM(CASE WHEN responded IS NOT NULL"
            "  OR (accept_due_at IS NOT NULL AND accept_due_at <= :as_of) THEN 1 ELSE 0 END),"
            " SUM(CASE WHEN responded IS NOT NULL"
            "  AND (accept_due_at IS NULL OR responded <= accept_due_at) THEN 1 ELSE 0 END),"
            f" SUM(CASE WHEN {done} AND resolved_at IS NOT NULL THEN 1 ELSE 0 END),"
            " SUM(CASE WHEN rating IN ('satisfied', 'basic', 'unsatisfied') THEN 1 ELSE 0 END),"
            " SUM(CASE WHEN rating IN ('satisfied', 'basic') THEN 1 ELSE 0 END),"
            " SUM(CASE WHEN rating = 'unrated' THEN 1 ELSE 0 END),"
            " SUM(CASE WHEN accept_due_at IS NOT NULL"
            "   AND COALESCE(responded, :as_of) > accept_due_at THEN 1"
            "  WHEN accepted_at IS NULL OR resolve_due_at IS NULL THEN 0"
            f"  WHEN {done} THEN CASE WHEN COALESCE(resolved_at, :as_of) > resolve_due_at"
            "   THEN 1 ELSE 0 END"
            f"  WHEN status IN ({_states(in_hand)}) THEN CASE WHEN :as_of > resolve_due_at"
            "   THEN 1 ELSE 0 END"
            "  ELSE 0 END),"
            " SUM(CASE WHEN accepted_at IS NOT NULL THEN 1 ELSE 0 END),"
            f" SUM(CASE WHEN accepted_at IS NOT NULL"
            f"  THEN {micros_sql('accepted_at')} - {micros_sql('created_at')} ELSE 0 END),"
            f" SUM(CASE WHEN {done} AND resolved_at IS NOT NULL"
            f"  THEN {micros_sql('resolved_at')} - {micros_sql('created_at')} ELSE 0 END)"
            f" FROM (SELECT {_KEYS[by]} AS grp, {comm} AS comm, {responded} AS responded,"
            "  status, rating, created_at, accepted_at, resolved_at, accept_due_at,"
            "  resolve_due_at"
            " FROM tickets WHERE created_at >= :since AND created_at < :until"
            f"  AND status NOT IN ({_states(not_counted)}){only}) AS counted"
            " GROUP BY comm, grp"
        )
        rows = await self.db.fetchall(
            sql, {"since": iso(since), "until": iso(until), "as_of": iso(as_of), **params}
        )
        several = len({str(r[0]) for r in rows}) > 1
        totals = [
            RateTotals(
                f"{r[0]}{KEY_JOIN}{r[1]}" if several else str(r[1]),
                *(int(v or 0) for v in tuple(r)[2:]),
            )
            for r in rows
        ]
        return sorted(totals, key=lambda t: t.key)
