"""Residents register where they live; points add up per household (户) and building."""

from __future__ import annotations

import logging
import re
import unicodedata
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Protocol

from bot import texts
from bot.services.clock import Clock
from bot.services.community import Community, normalise_building
from bot.services.errors import DomainError
from storage.residents import Resident, ResidentRepository
from storage.store import Store

_UNIT = re.compile(r"^(\d{1,3})(?:单元|門|门)?$")
_ROOM = re.compile(r"^([A-Z]?\d{1,5})(?:室|号|房)?$")
_CN_SMALL = dict(zip("一二三四五六七八九", "123456789", strict=True))

log = logging.getLogger(__name__)


class Actor(Protocol):
    """Whoever asks: the handler builds it from the Telegram user and the community config."""

    @property
    def user_id(self) -> int: ...
    @property
    def name(self) -> str: ...
    @property
    def is_worker(self) -> bool: ...
    @property
    def is_admin(self) -> bool: ...
    @property
    def org(self) -> str | None: ...


@dataclass(frozen=True, slots=True)
class Person:
    """A plain Actor: a resident, a worker, an admin, or someone from a company (org)."""

    user_id: int
    name: str
    is_worker: bool = False
    is_admin: bool = False
    org: str | None = None


def parse_organisations(raw: Mapping[str, Any], source: str) -> dict[int, str]:
    """Read [[organisations]] (name, members = [telegram ids]): who may claim targeted tasks.

    A bad entry is skipped with a warning naming the file and key, so the bot still starts.
    """
    members: dict[int, str] = {}
    entries = raw.get("organisations", [])
    if not isinstance(entries, list):
        log.warning("%s: organisations: expected [[organisations]] tables", source)
        return members
    for i, entry in enumerate(entries):
        where = f"{source}: organisations[{i}]"
        name = entry.get("name") if isinstance(entry, Mapping) else None
        ids = entry.get("members", []) if isinstance(entry, Mapping) else None
        if not isinstance(name, str) or not name.strip():
            log.warning("%s.name: expected a non-empty name", where)
            continue
        if not isinstance(ids, list) or any(
            isinstance(m, bool) or not isinstance(m, int) for m in ids
        ):
            log.warning("%s.members: expected a list of Telegram user ids", where)
            continue
        for member in ids:
            members[member] = name.strip()
    return members


def household_key(building: str, unit: str, room: str) -> str:
    """Return the household key '3-2-301' of a building, unit and room."""
    return f"{building}-{unit}-{room}"


def _order(building: str) -> tuple[str, int]:
    """Sort 2 before 10, and zone B's buildings together (B7 after B2)."""
    zone = building.rstrip("0123456789")
    number = building[len(zone) :]
    return zone, int(number) if number else 0


def _fold(text: str) -> str:
    return unicodedata.normalize("NFKC", text).strip().upper().replace(" ", "")


def normalise_unit(text: str) -> str | None:
    """Return '2' for '2', '2单元', '二单元'; None when it is not a unit."""
    raw = _fold(text)
    if raw[:1] in _CN_SMALL:
        raw = _CN_SMALL[raw[0]] + raw[1:]
    match = _UNIT.match(raw)
    return str(int(match.group(1))) if match else None


def normalise_room(text: str) -> str | None:
    """Return '301' for '301', '301室'; None when it is not a room number."""
    match = _ROOM.match(_fold(text))
    return match.group(1) if match else None


class ResidentService:
    """Register residents and look them up."""

    def __init__(
        self, db: Store, clock: Clock, community: Community | None = None, *, scope: str = ""
    ) -> None:
        self.db = db
        self.clock = clock
        self.community = community  # when given, only its buildings can be registered
        # Whose residents these are: the community's name (scope only without a community).
        self.repo = ResidentRepository(db, community.name if community is not None else scope)

    async def register(
        self, user_id: int, name: str, building: str, unit: str, room: str
    ) -> Resident:
        """Register (or move) a resident to a household; raise resident_bad_address."""
        clean_name = name.strip()
        b = normalise_building(building)
        u = normalise_unit(unit)
        r = normalise_room(room)
        if not clean_name or b is None or u is None or r is None:
            raise DomainError("resident_bad_address")
        if self.community is not None and self.community.grid_for_building(b) is None:
            # Refused before anything is written: a valid address on file stays as it was.
            known = [x for g in self.community.grids for x in g.buildings]
            raise DomainError(
                "resident_unknown_building",
                building=building.strip(),
                known=texts.REGISTER_BUILDINGS.format(
                    buildings="、".join(sorted(known, key=_order))
                ),
            )
        async with self.db.transaction():
            await self.repo.upsert(
                user_id, clean_name[:64], b, u, r, household_key(b, u, r), self.clock.now()
            )
            resident = await self.repo.get(user_id)
        assert resident is not None
        return resident

    async def get(self, user_id: int) -> Resident | None:
        """Return a resident, or None when they never registered."""
        return await self.repo.get(user_id)

    async def require(self, user_id: int) -> Resident:
        """Return a resident or raise resident_not_registered."""
        resident = await self.repo.get(user_id)
        if resident is None:
            raise DomainError("resident_not_registered")
        return resident

    async def named(self, name: str) -> list[tuple[int, str]]:
        """Return (user_id, name) of the people known by exactly this name (residents first)."""
        clean = name.strip().lstrip("@")
        return await self.repo.named(clean) if clean else []

    async def household(self, key: str) -> list[Resident]:
        """Return the members of a household."""
        return await self.repo.household(key)
