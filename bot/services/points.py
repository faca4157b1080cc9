"""Points (积分制): rules from the config, the append-only ledger, balances and rankings.

Policy on deductions: a balance never goes below zero. A behaviour deduction larger than the
balance takes what is there (the ledger row records the amount really taken and the resident
sees both); a deduction from an empty balance is refused (points_nothing_to_deduct). A manual
correction must be exact, so one that would go below zero is refused (points_insufficient).
"""

from __future__ import annotations

import logging
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from bot import texts
from bot.services import audit
from bot.services.clock import Clock
from bot.services.community import ConfigError
from bot.services.errors import DomainError
from bot.services.residents import Actor
from storage.points import Balance, LedgerEntry, PointsRepository
from storage.residents import ResidentRepository
from storage.store import Store

log = logging.getLogger(__name__)

_CODE = re.compile(r"^[a-z][a-z0-9_]{0,31}$")
MAX_AWARD = 10_000  # one row never moves more than this: a typo guard


@dataclass(frozen=True, slots=True)
class Behaviour:
    """One line of the 正面/负面清单: positive points award, negative deduct."""

    code: str
    name: str
    points: int


@dataclass(frozen=True, slots=True)
class CatalogueItem:
    code: str
    name: str
    points: int
    stock: int


@dataclass(frozen=True, slots=True)
class PointsConfig:
    difficulty: Mapping[str, int]
    ticket_confirmed: int  # points for a ticket confirmed as real; 0 turns it off
    behaviours: tuple[Behaviour, ...]
    catalogue: tuple[CatalogueItem, ...]

    def behaviour(self, code: str) -> Behaviour | None:
        """A listed behaviour by its code or by its name as the secretary reads it."""
        return next((b for b in self.behaviours if code in (b.code, b.name)), None)

    def item(self, code: str) -> CatalogueItem | None:
        return next((i for i in self.catalogue if i.code == code), None)


DEFAULT_POINTS_CONFIG = PointsConfig(
    difficulty={"easy": 5, "normal": 10, "hard": 20},
    ticket_confirmed=0,
    behaviours=(),
    catalogue=(),
)


def _int(value: Any, key: str, problems: list[str], *, low: int, high: int) -> int | None:
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        problems.append(f"{key}: expected an integer from {low} to {high}, got {value!r}")
        return None
    return value


def _code_and_name(
    table: Mapping[str, Any], where: str, seen: set[str], problems: list[str]
) -> tuple[str, str] | None:
    code, name = table.get("code"), table.get("name")
    ok = True
    if not isinstance(code, str) or not _CODE.match(code):
        problems.append(f"{where}.code: expected a lower-case code like 'rice', got {code!r}")
        ok = False
    elif code in seen:
        problems.append(f"{where}.code: {code!r} is listed twice")
        ok = False
    if not isinstance(name, str) or not name.strip():
        problems.append(f"{where}.name: expected a non-empty name, got {name!r}")
        ok = False
    if not ok:
        return None
    assert isinstance(code, str) and isinstance(name, str)
    seen.add(code)
    return code, name.strip()


# The [points] keys and where each is applied: ticket_confirmed when a ticket is resolved
# (TicketService.resolve -> PointsService.confirm_ticket), difficulty when a task is published,
# behaviours on /award and /deduct.
POINTS_KEYS = frozenset({"ticket_confirmed", "difficulty", "behaviours"})
BEHAVIOUR_KEYS = frozenset({"code", "name", "points"})
CATALOGUE_KEYS = frozenset({"code", "name", "points", "stock"})


def _unknown_keys(entry: Mapping[str, Any], where: str, known: frozenset[str]) -> list[str]:
    """A misspelt key in an entry (pionts = 10) would silently do nothing: name it instead."""
    return [
        f"{where}.{key}: 未知的设置，不会生效（可用：{'、'.join(sorted(known))}）"
        for key in sorted(set(entry) - known)
    ]


def parse_points_config(raw: Mapping[str, Any], source: str) -> PointsConfig:
    """Read [points], [points.difficulty], [[points.behaviours]] and [[catalogue]]."""
    problems: list[str] = []
    section = raw.get("points", {})
    if not isinstance(section, Mapping):
        raise ConfigError(["points: expected a table"], source)

    difficulty: dict[str, int] = dict(DEFAULT_POINTS_CONFIG.difficulty)
    table = section.get("difficulty")
    if table is not None:
        if not isinstance(table, Mapping) or not table:
            problems.append("points.difficulty: expected a table like {easy = 5}")
        else:
            difficulty = {}
            for level, value in table.items():
                got = _int(value, f"points.difficulty.{level}", problems, low=0, high=MAX_AWARD)
                if got is not None:
                    difficulty[str(level)] = got

    # Every key here is a rule the bot applies; anything else would be a rule that does nothing.
    problems.extend(
        f"points.{key}: 未知的积分规则，不会生效（可用：{'、'.join(sorted(POINTS_KEYS))}）"
        for key in sorted(set(section) - POINTS_KEYS)
    )
    ticket = _int(
        section.get("ticket_confirmed", 0),
        "points.ticket_confirmed",
        problems,
        low=0,
        high=MAX_AWARD,
    )

    behaviours: list[Behaviour] = []
    seen: set[str] = set()
    entries = section.get("behaviours", [])
    if not isinstance(entries, list):
        problems.append("points.behaviours: expected [[points.behaviours]] tables")
        entries = []
    for i, entry in enumerate(entries):
        where = f"points.behaviours[{i}]"
        if not isinstance(entry, Mapping):
            problems.append(f"{where}: expected a table")
            continue
        problems.extend(_unknown_keys(entry, where, BEHAVIOUR_KEYS))
        named = _code_and_name(entry, where, seen, problems)
        value = entry.get("points")
        points = _int(value, f"{where}.points", problems, low=-MAX_AWARD, high=MAX_AWARD)
        if points == 0:
            problems.append(f"{where}.points: must not be 0 (positive awards, negative deducts)")
        elif named and points is not None:
            behaviours.append(Behaviour(named[0], named[1], points))

    catalogue: list[CatalogueItem] = []
    seen = set()
    items = raw.get("catalogue", [])
    if not isinstance(items, list):
        problems.append("catalogue: expected [[catalogue]] tables")
        items = []
    for i, entry in enumerate(items):
        where = f"catalogue[{i}]"
        if not isinstance(entry, Mapping):
            problems.append(f"{where}: expected a table")
            continue
        problems.extend(_unknown_keys(entry, where, CATALOGUE_KEYS))
        named = _code_and_name(entry, where, seen, problems)
        cost = _int(entry.get("points"), f"{where}.points", problems, low=1, high=MAX_AWARD)
        stock = _int(entry.get("stock"), f"{where}.stock", problems, low=0, high=1_000_000)
        if named and cost is not None and stock is not None:
            catalogue.append(CatalogueItem(named[0], named[1], cost, stock))

    if problems:
        raise ConfigError(problems, source)
    assert ticket is not None
    return PointsConfig(difficulty, ticket, tuple(behaviours), tuple(catalogue))


@dataclass(frozen=True, slots=True)
class PointsSummary:
    """What /points shows: own balance, household and building totals, last movements."""

    user_id: int
    name: str
    balance: int
    earned: int
    hours: float
    household_key: str | None
    household_balance: int
    building: str | None
    building_earned: int
    recent: tuple[LedgerEntry, ...]


@dataclass(frozen=True, slots=True)
class Mismatch:
    """A resident whose cached balance differs from the ledger."""

    user_id: int
    cached: tuple[int, int, float] | None
    ledger: tuple[int, int, float] | None


class PointsService:
    """Award, deduct, correct; read balances and rankings; prove the cache equals the ledger."""

    def __init__(self, db: Store, clock: Clock, config: PointsConfig, community: str) -> None:
        self.db = db
        self.clock = clock
        self.config = config
        self.community = community  # every row it writes or reads is this community's
        self.repo = PointsRepository(db, community)
        self.residents = ResidentRepository(db, community)

    async def _name_of(self, user_id: int, fallback: str | None) -> str:
        resident = await self.residents.get(user_id)
        if resident is not None:
            return resident.name
        balance = await self.repo.balance(user_id)
        if balance is not None:
            return balance.name
        if fallback:
            return fallback
        raise DomainError("resident_not_registered")

    async def record(
        self,
        *,
        user_id: int,
        name: str,
        delta: int,
        kind: str,
        rule: str,
        reason: str,
        actor: Actor | None,
        hours: float = 0.0,
        task_id: int | None = None,
        claim_id: int | None = None,
        ticket_id: int | None = None,
        redemption_id: int | None = None,
    ) -> LedgerEntry:
        """Append a ledger row and its cache update; call inside the caller's transaction."""
        if abs(delta) > MAX_AWARD:
            raise DomainError("points_bad_amount", limit=MAX_AWARD)
        if delta < 0:
            current = await self.repo.balance(user_id)
            have = current.balance if current else 0
            if have + delta < 0:
                raise DomainError("points_insufficient", balance=have, needed=-delta)
        entry_id = await self.repo.append(
            user_id=user_id,
            name=name,
            delta=delta,
            hours=hours,
            kind=kind,
            rule=rule,
            reason=reason,
            now=self.clock.now(),
            actor_id=actor.user_id if actor else None,
            actor_name=actor.name if actor else "",
            task_id=task_id,
            claim_id=claim_id,
            ticket_id=ticket_id,
            redemption_id=redemption_id,
        )
        log.info("points %+d kind=%s rule=%s entry=%s", delta, kind, rule, entry_id)
        entry = await self.repo.entry(entry_id)
        assert entry is not None
        return entry

    async def apply_behaviour(
        self, actor: Actor, user_id: int, code: str, reason: str, *, name: str | None = None
    ) -> LedgerEntry:
        """Award or deduct points for a listed behaviour, with a reason the resident sees."""
        if not actor.is_admin:
            raise DomainError("not_allowed")
        behaviour = self.config.behaviour(code)
        if behaviour is None:
            raise DomainError(
                "points_unknown_behaviour",
                behaviour=code,
                known="、".join(b.name for b in self.config.behaviours) or "—",
            )
        why = reason.strip()
        if not why:
            raise DomainError("points_reason_required")
        async with self.db.transaction():
            who = await self._name_of(user_id, name)
            delta = behaviour.points
            if delta < 0:
                current = await self.repo.balance(user_id)
                have = current.balance if current else 0
                if have == 0:
                    raise DomainError("points_nothing_to_deduct")
                if have + delta < 0:
                    # Never below zero: take what is there and say so in the reason.
                    why = texts.POINTS_DEDUCTION_CAPPED.format(
                        reason=why, asked=-delta, taken=have
                    )
                    delta = -have
            label = texts.POINTS_BEHAVIOUR_REASON.format(behaviour=behaviour.name, reason=why)
            await audit.record(
                self.db,
                self.clock.now(),
                actor.user_id,
                actor.name,
                "award" if delta > 0 else "deduct",
                subject_id=user_id,
                detail={"points": delta, "rule": behaviour.code},
                community=self.community,
            )
            return await self.record(
                user_id=user_id,
                name=who,
                delta=delta,
                kind="behaviour",
                rule=f"behaviour:{behaviour.code}",
                reason=label,
                actor=actor,
            )

    async def correct(
        self, actor: Actor, user_id: int, delta: int, reason: str, *, name: str | None = None
    ) -> LedgerEntry:
        """Add a correction row (never an edit); refuse one that would go below zero."""
        if not actor.is_admin:
            raise DomainError("not_allowed")
        if delta == 0:
            raise DomainError("points_bad_amount", limit=MAX_AWARD)
        if not reason.strip():
            raise DomainError("points_reason_required")
        async with self.db.transaction():
            who = await self._name_of(user_id, name)
            await audit.record(
                self.db,
                self.clock.now(),
                actor.user_id,
                actor.name,
                "award" if delta > 0 else "deduct",
                subject_id=user_id,
                detail={"points": delta, "rule": "correction"},
                community=self.community,
            )
            return await self.record(
                user_id=user_id,
                name=who,
                delta=delta,
                kind="correction",
                rule="correction",
                reason=reason.strip(),
                actor=actor,
            )

    async def award_ticket(self, ticket_id: int, actor: Actor | None = None) -> LedgerEntry | None:
        """Give the reporter the configured points for a ticket confirmed as real, once."""
        if self.config.ticket_confirmed <= 0:
            return None
        if actor is not None and not (actor.is_worker or actor.is_admin):
            raise DomainError("not_allowed")
        async with self.db.transaction():
            ticket = await self.repo.ticket_reporter(ticket_id)
            if ticket is None:
                raise DomainError("points_ticket_not_found", number=ticket_id)
            if await self.repo.ticket_awarded(ticket_id):
                raise DomainError("points_ticket_already", number=ticket.number)
            return await self.record(
                user_id=ticket.reporter_id,
                name=await self._name_of(ticket.reporter_id, ticket.reporter_name),
                delta=self.config.ticket_confirmed,
                kind="ticket",
                rule="ticket_confirmed",
                reason=texts.POINTS_TICKET_REASON.format(number=ticket.number),
                actor=actor,
                ticket_id=ticket_id,
            )

    async def confirm_ticket(self, ticket_id: int) -> LedgerEntry | None:
        """Apply the ticket_confirmed rule once: the problem proved real (it was resolved)."""
        if self.config.ticket_confirmed <= 0:
            return None
        async with self.db.transaction():
            if await self.repo.ticket_awarded(ticket_id):
                return None  # resolved again after 不满意: the rule applies once per ticket
            return await self.award_ticket(ticket_id)

    async def balance(self, user_id: int) -> int:
        """Return a resident's spendable balance (0 when none)."""
        found = await self.repo.balance(user_id)
        return found.balance if found else 0

    async def summary(self, user_id: int, recent: int = 5) -> PointsSummary:
        """Return a resident's balance, household and building totals and last movements."""
        found = await self.repo.balance(user_id)
        resident = await self.residents.get(user_id)
        household_balance = building_earned = 0
        if resident is not None:
            household_balance, _ = await self.repo.total_of(
                "household_key", resident.household_key
            )
            _, building_earned = await self.repo.total_of("building", resident.building)
        entries = await self.repo.entries(user_id=user_id, limit=recent, newest_first=True)
        name = resident.name if resident else (found.name if found else "")
        return PointsSummary(
            user_id=user_id,
            name=name,
            balance=found.balance if found else 0,
            earned=found.earned if found else 0,
            hours=found.hours if found else 0.0,
            household_key=resident.household_key if resident else None,
            household_balance=household_balance,
            building=resident.building if resident else None,
            building_earned=building_earned,
            recent=tuple(entries),
        )

    async def top_residents(self, limit: int = 10) -> list[tuple[Balance, str | None]]:
        """Return residents ranked by points earned (not reduced by redemptions)."""
        return await self.repo.top_residents(limit)

    async def top_households(self, limit: int = 10) -> list[tuple[str, int]]:
        """Return households ranked by points earned."""
        return await self.repo.group_totals("household_key", limit)

    async def building_totals(self) -> list[tuple[str, int]]:
        """Return every building's points earned, highest first."""
        return await self.repo.group_totals("building")

    async def check_balances(self) -> list[Mismatch]:
        """Compare the cached balances with sums over the ledger; [] means they agree."""
        async with self.db.transaction():  # one snapshot: no award lands between the reads
            sums = await self.repo.ledger_sums()
            cached = {
                b.user_id: (b.balance, b.earned, b.hours) for b in await self.repo.all_balances()
            }
        problems: list[Mismatch] = []
        for user_id in sorted(set(sums) | set(cached)):
            got, want = cached.get(user_id), sums.get(user_id)
            if got is None or want is None:
                if (got or want) != (0, 0, 0.0):
                    problems.append(Mismatch(user_id, got, want))
                continue
            if got[:2] != want[:2] or abs(got[2] - want[2]) > 1e-6:
                problems.append(Mismatch(user_id, got, want))
        return problems
