"""The community as configured: grids, buildings, workers, handling rules, admins and groups."""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Collection, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

# The default taxonomy (../shared/CATEGORIES.md) without `none`; callers pass the classifier's.
DEFAULT_CATEGORIES: tuple[str, ...] = (
    "utilities",
    "drainage",
    "sanitation",
    "noise",
    "parking",
    "fire_safety",
    "security",
    "facilities",
    "greenery",
    "property",
    "pets",
    "construction",
    "neighbor",
    "services",
    "other",
)

WORKER_ROLES = frozenset({"grid_worker", "social_worker", "office", "duty"})
ADMIN_ROLES = frozenset({"secretary", "director", "admin", "staff"})

# Handling rule values besides a worker key.
RULE_GRID = "grid"  # the grid's own worker
RULE_DUTY = "duty"  # the duty worker

_CN_DIGITS = {"零": 0, "〇": 0, "一": 1, "二": 2, "两": 2, "三": 3, "四": 4, "五": 5}
_CN_DIGITS |= {"六": 6, "七": 7, "八": 8, "九": 9}
_CN_UNITS = {"十": 10, "百": 100}
_BUILDING = re.compile(
    r"^(?:(?P<zone>[A-Z])(?:区|-)?)?"
    r"(?P<num>\d{1,4}|[零〇一二两三四五六七八九十百]{1,5})?"
    r"(?:号楼|号|栋|幢|座|#)?$"  # a bare 楼 (3楼) means a floor
)


class ConfigError(Exception):
    """The community file has problems; str() names the file and key of each, one per line."""

    def __init__(self, problems: list[str], source: str) -> None:
        self.problems = list(problems)
        self.source = source
        super().__init__("\n".join(f"{source}: {p}" for p in self.problems))


def _cn_number(text: str) -> int | None:
    """Read a small Chinese numeral (一 … 九百九十九); None if it is not one."""
    if all(ch in _CN_DIGITS for ch in text):
        # 一二 read digit by digit, as people write 十二 less often than 12 but do write 一二
        value = 0
        for ch in text:
            value = value * 10 + _CN_DIGITS[ch]
        return value
    total, digit = 0, None
    for ch in text:
        if ch in _CN_DIGITS:
            if digit is not None:
                return None
            digit = _CN_DIGITS[ch]
        elif ch in _CN_UNITS:
            total += (1 if digit is None else digit) * _CN_UNITS[ch]
            digit = None
        else:
            return None
    return total + (digit or 0)


def normalise_building(text: str | int) -> str | None:
    """Return the canonical building id of "3栋", "三号楼", "B区7号楼" ("3", "B7"); else None."""
    raw = unicodedata.normalize("NFKC", str(text)).strip().upper().replace(" ", "")
    match = _BUILDING.match(raw)
    if not match or not raw:
        return None
    zone, num = match.group("zone") or "", match.group("num")
    if num is None:
        return zone or None
    if num.isdigit():
        value: int | None = int(num)
    else:
        value = _cn_number(num)
    if value is None or value <= 0:
        return None
    return f"{zone}{value}"


def normalise_place(text: str) -> str:
    """Return a place name in the form used for matching (full-width folded, upper case)."""
    return unicodedata.normalize("NFKC", text).strip().upper().replace(" ", "")


@dataclass(frozen=True, slots=True)
class Grid:
    code: str
    name: str
    buildings: tuple[str, ...]
    places: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class Worker:
    key: str
    name: str
    telegram_id: int | None
    phone: str | None
    grids: tuple[str, ...]
    role: str  # 'grid_worker' | 'social_worker' | 'office' | 'duty'
    active: bool  # False while off duty or on leave


@dataclass(frozen=True, slots=True)
class Admin:
    key: str
    name: str
    telegram_id: int | None
    role: str  # 'secretary' | 'director' | 'admin' | 'staff'


@dataclass(frozen=True, slots=True)
class GroupConfig:
    chat_id: int
    title: str
    grids: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class Community:
    name: str
    street_office: str
    timezone: str | None
    grids: tuple[Grid, ...]
    workers: tuple[Worker, ...]
    handling: Mapping[str, str]  # category -> 'grid' | 'duty' | worker key
    duty_worker: str
    admins: tuple[Admin, ...]
    groups: tuple[GroupConfig, ...]
    _by_building: Mapping[str, str] = field(default_factory=dict, repr=False, compare=False)
    _places: tuple[tuple[str, str], ...] = field(default=(), repr=False, compare=False)

    def grid(self, code: str) -> Grid | None:
        """Return the grid with this code, or None."""
        return next((g for g in self.grids if g.code == code), None)

    def find_grid(self, token: str) -> Grid | None:
        """Find a grid by code or name, as an admin types it after /bind."""
        wanted = token.strip().casefold()
        for grid in self.grids:
            if wanted in (grid.code.casefold(), grid.name.casefold()):
                return grid
        return None

    def grid_for_building(self, building: str | int | None) -> str | None:
        """Return the code of the grid holding this building, or None."""
        if building is None:
            return None
        key = normalise_building(building)
        return None if key is None else self._by_building.get(key)

    def grid_for_place(self, place: str | None) -> str | None:
        """Return the grid of a named place; "地库B2" matches a configured "地库" by prefix."""
        if not place:
            return None
        wanted = normalise_place(place)
        for configured, code in self._places:  # longest first, so 东门岗亭 beats 东门
            if wanted.startswith(configured):
                return code
        return None

    def worker(self, key: str) -> Worker | None:
        """Return the worker with this key, or None."""
        return next((w for w in self.workers if w.key == key), None)

    def admin(self, key: str) -> Admin | None:
        """Return the admin with this key, or None."""
        return next((a for a in self.admins if a.key == key), None)

    def grid_workers(self, grid_code: str) -> tuple[Worker, ...]:
        """Return the grid workers covering a grid, in config order (the first is the primary)."""
        return tuple(w for w in self.workers if w.role == "grid_worker" and grid_code in w.grids)

    def handler_for(self, category: str) -> str:
        """Return 'grid' or the worker key that handles a category; unknown ones go to duty."""
        rule = self.handling.get(category)
        if rule is None:
            return self.duty_worker if category == "other" else RULE_GRID
        return self.duty_worker if rule == RULE_DUTY else rule


class _Problems:
    def __init__(self) -> None:
        self.items: list[str] = []

    def add(self, key: str, message: str) -> None:
        self.items.append(f"{key}: {message}")


def _str(
    table: Mapping[str, Any], name: str, where: str, problems: _Problems, *, required: bool = True
) -> str | None:
    value = table.get(name)
    if value is None:
        if required:
            problems.add(f"{where}.{name}", "missing (缺少此项)")
        return None
    if not isinstance(value, str) or not value.strip():
        problems.add(
            f"{where}.{name}", f"expected a non-empty string, got {value!r}（应为非空文字）"
        )
        return None
    return value.strip()


def _telegram_id(table: Mapping[str, Any], where: str, problems: _Problems) -> int | None:
    value = table.get("telegram_id")
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
        problems.add(
            f"{where}.telegram_id",
            f"expected a positive integer user id, got {value!r}（应为正整数的用户 ID）",
        )
        return None
    return value


def _str_list(table: Mapping[str, Any], name: str, where: str, problems: _Problems) -> list[Any]:
    value = table.get(name, [])
    if not isinstance(value, list):
        problems.add(f"{where}.{name}", f"expected a list, got {value!r}（应为列表）")
        return []
    return value


def _tables(raw: Mapping[str, Any], name: str, problems: _Problems) -> list[Mapping[str, Any]]:
    value = raw.get(name, [])
    if not isinstance(value, list) or not all(isinstance(t, Mapping) for t in value):
        problems.add(f"[[{name}]]", "expected an array of tables ([[" + name + "]])")
        return []
    return value


def _parse_grids(raw: Mapping[str, Any], problems: _Problems) -> list[Grid]:
    grids: list[Grid] = []
    seen_codes: set[str] = set()
    building_owner: dict[str, str] = {}
    place_owner: dict[str, str] = {}
    for i, table in enumerate(_tables(raw, "grids", problems)):
        where = f"[[grids]][{i}]"
        code = _str(table, "code", where, problems)
        name = _str(table, "name", where, problems, required=False) or code or ""
        if code is None:
            continue
        where = f"[[grids]] {code}"
        if code in seen_codes:
            problems.add(f"{where}.code", f"duplicate grid code {code!r}（网格代码重复）")
            continue
        seen_codes.add(code)
        buildings: list[str] = []
        for item in _str_list(table, "buildings", where, problems):
            if isinstance(item, bool) or not isinstance(item, str | int):
                problems.add(
                    f"{where}.buildings", f"{item!r} is not a building number（不是楼号）"
                )
                continue
            building = normalise_building(item)
            if building is None:
                problems.add(
                    f"{where}.buildings",
                    f"cannot read building {item!r} (write 3, 3号楼 or B区7号楼)（看不懂楼号）",
                )
                continue
            if building in building_owner:
                problems.add(
                    f"{where}.buildings",
                    f"building {building} is already in grid {building_owner[building]!r}"
                    "（一栋楼只能属于一个网格）",
                )
                continue
            building_owner[building] = code
            buildings.append(building)
        places: list[str] = []
        for item in _str_list(table, "places", where, problems):
            if not isinstance(item, str) or not item.strip():
                problems.add(f"{where}.places", f"{item!r} is not a place name")
                continue
            place = normalise_place(item)
            if place in place_owner:
                problems.add(
                    f"{where}.places",
                    f"place {item!r} is already in grid {place_owner[place]!r}"
                    "（一个场所只能属于一个网格）",
                )
                continue
            place_owner[place] = code
            places.append(place)
        if not buildings and not places:
            problems.add(
                where,
                "a grid needs at least one building or place（网格至少要有一栋楼或一个场所）",
            )
        grids.append(Grid(code, name, tuple(buildings), tuple(places)))
    if not grids and "grids" in raw:
        problems.add("[[grids]]", "no usable grid")
    elif not grids:
        problems.add("[[grids]]", "missing: declare at least one grid（缺少网格）")
    return grids


def _parse_workers(
    raw: Mapping[str, Any], grid_codes: set[str], problems: _Problems
) -> list[Worker]:
    workers: list[Worker] = []
    seen: set[str] = set()
    for i, table in enumerate(_tables(raw, "workers", problems)):
        where = f"[[workers]][{i}]"
        key = _str(table, "key", where, problems)
        if key is None:
            continue
        where = f"[[workers]] {key}"
        if key in seen:
            problems.add(f"{where}.key", f"duplicate worker key {key!r}（工作人员代号重复）")
            continue
        seen.add(key)
        name = _str(table, "name", where, problems) or key
        telegram_id = _telegram_id(table, where, problems)
        phone = _str(table, "phone", where, problems, required=False)
        role = _str(table, "role", where, problems, required=False) or "grid_worker"
        if role not in WORKER_ROLES:
            problems.add(
                f"{where}.role",
                f"unknown role {role!r}, use one of {sorted(WORKER_ROLES)}（未知角色）",
            )
        active = table.get("active", True)
        if not isinstance(active, bool):
            problems.add(
                f"{where}.active", f"expected true or false, got {active!r}（应为 true 或 false）"
            )
            active = True
        grids: list[str] = []
        for item in _str_list(table, "grids", where, problems):
            if not isinstance(item, str) or item not in grid_codes:
                problems.add(f"{where}.grids", f"unknown grid {item!r}（没有这个网格）")
            elif item not in grids:
                grids.append(item)
        if role == "grid_worker" and not grids and "grids" not in table:
            problems.add(
                f"{where}.grids",
                "a grid worker must cover at least one grid（网格员至少要负责一个网格）",
            )
        elif role == "grid_worker" and not grids:
            problems.add(
                f"{where}.grids",
                "a grid worker must cover at least one known grid（网格员至少要负责一个网格）",
            )
        workers.append(Worker(key, name, telegram_id, phone, tuple(grids), role, active))
    return workers


def _parse_admins(raw: Mapping[str, Any], problems: _Problems) -> list[Admin]:
    admins: list[Admin] = []
    seen: set[str] = set()
    for i, table in enumerate(_tables(raw, "admins", problems)):
        where = f"[[admins]][{i}]"
        key = _str(table, "key", where, problems)
        if key is None:
            continue
        where = f"[[admins]] {key}"
        if key in seen:
            problems.add(f"{where}.key", f"duplicate admin key {key!r}（管理员代号重复）")
            continue
        seen.add(key)
        name = _str(table, "name", where, problems) or key
        role = _str(table, "role", where, problems, required=False) or "secretary"
        if role not in ADMIN_ROLES:
            problems.add(
                f"{where}.role",
                f"unknown role {role!r}, use one of {sorted(ADMIN_ROLES)}（未知角色）",
            )
        admins.append(Admin(key, name, _telegram_id(table, where, problems), role))
    return admins


def _parse_groups(
    raw: Mapping[str, Any], grid_codes: set[str], problems: _Problems
) -> list[GroupConfig]:
    groups: list[GroupConfig] = []
    seen: set[int] = set()
    for i, table in enumerate(_tables(raw, "groups", problems)):
        where = f"[[groups]][{i}]"
        chat_id = table.get("chat_id")
        if isinstance(chat_id, bool) or not isinstance(chat_id, int) or chat_id >= 0:
            problems.add(
                f"{where}.chat_id", f"expected a negative integer group chat id, got {chat_id!r}"
            )
            continue
        where = f"[[groups]] {chat_id}"
        if chat_id in seen:
            problems.add(f"{where}.chat_id", f"duplicate group {chat_id}")
            continue
        seen.add(chat_id)
        title = _str(table, "title", where, problems, required=False) or ""
        grids: list[str] = []
        for item in _str_list(table, "grids", where, problems):
            if not isinstance(item, str) or item not in grid_codes:
                problems.add(f"{where}.grids", f"unknown grid {item!r}（没有这个网格）")
            elif item not in grids:
                grids.append(item)
        if not grids and not any(f"{where}.grids" in p for p in problems.items):
            problems.add(
                f"{where}.grids",
                "a group must be bound to at least one grid（群至少要绑定一个网格）",
            )
        groups.append(GroupConfig(chat_id, title, tuple(grids)))
    return groups


def load_community(
    raw: Mapping[str, Any], source: str, categories: Collection[str] = DEFAULT_CATEGORIES
) -> Community:
    """Parse and check the community sections of the TOML file; raise ConfigError listing all."""
    problems = _Problems()
    head = raw.get("community", {})
    if not isinstance(head, Mapping):
        problems.add("[community]", "expected a table")
        head = {}
    if "community" not in raw:
        problems.add("[community]", "missing: name the community and its street office")
    name = _str(head, "name", "[community]", problems) or ""
    street = _str(head, "street_office", "[community]", problems, required=False) or ""
    timezone = _str(head, "timezone", "[community]", problems, required=False)
    if timezone is not None:
        try:
            ZoneInfo(timezone)
        except (ZoneInfoNotFoundError, ValueError):
            problems.add("[community].timezone", f"unknown time zone {timezone!r}")

    grids = _parse_grids(raw, problems)
    grid_codes = {g.code for g in grids}
    workers = _parse_workers(raw, grid_codes, problems)
    worker_keys = {w.key for w in workers}
    admins = _parse_admins(raw, problems)
    groups = _parse_groups(raw, grid_codes, problems)

    for admin in admins:
        if admin.key in worker_keys:
            problems.add(f"[[admins]] {admin.key}.key", "the same key is used by a worker")
    # A secretary may also be on the worker roster, so ids repeat only across the two lists.
    for kind, people in (("workers", workers), ("admins", admins)):
        owners: dict[int, str] = {}
        for person in people:
            if person.telegram_id is None:
                continue
            if person.telegram_id in owners:
                problems.add(
                    f"[[{kind}]] {person.key}.telegram_id",
                    f"user id {person.telegram_id} is also given to "
                    f"{owners[person.telegram_id]!r}",
                )
            owners[person.telegram_id] = person.key

    for grid in grids:
        if not any(w.role == "grid_worker" and grid.code in w.grids for w in workers):
            problems.add(
                f"[[grids]] {grid.code}",
                "no grid worker covers this grid（没有网格员负责这个网格）",
            )

    duty = head.get("duty_worker", raw.get("duty_worker"))
    if duty is None:
        on_duty = [w.key for w in workers if w.role == "duty"]
        if len(on_duty) == 1:
            duty = on_duty[0]
        else:
            problems.add("[community].duty_worker", "missing: name the worker who takes the rest")
    if duty is not None and (not isinstance(duty, str) or duty not in worker_keys):
        problems.add(
            "[community].duty_worker", f"{duty!r} is not a worker key（没有这个工作人员代号）"
        )
        duty = None

    handling: dict[str, str] = {}
    table = raw.get("handling", {})
    if not isinstance(table, Mapping):
        problems.add("[handling]", 'expected a table of category = worker key or "grid"')
        table = {}
    known = set(categories)
    for category, rule in table.items():
        key = f"[handling].{category}"
        if category not in known:
            problems.add(key, f"unknown category {category!r}（没有这个类别）")
            continue
        if not isinstance(rule, str) or not rule.strip():
            problems.add(key, f'expected "grid", "duty" or a worker key, got {rule!r}')
            continue
        if rule not in (RULE_GRID, RULE_DUTY) and rule not in worker_keys:
            problems.add(
                key,
                f"nobody handles {category}: {rule!r} is not a worker key（没有这个工作人员代号）",
            )
            continue
        handling[category] = rule
    for category in sorted(known):
        rule = handling.get(category, RULE_DUTY if category == "other" else RULE_GRID)
        if rule == RULE_GRID and not any(w.role == "grid_worker" for w in workers):
            problems.add(
                f"[handling].{category}",
                f"nobody handles {category}: no grid worker（没有网格员）",
            )

    if problems.items:
        raise ConfigError(problems.items, source)

    by_building = {b: g.code for g in grids for b in g.buildings}
    places = sorted(((p, g.code) for g in grids for p in g.places), key=lambda item: -len(item[0]))
    return Community(
        name=name,
        street_office=street,
        timezone=timezone,
        grids=tuple(grids),
        workers=tuple(workers),
        handling=MappingProxyType(handling),
        duty_worker=str(duty),
        admins=tuple(admins),
        groups=tuple(groups),
        _by_building=MappingProxyType(by_building),
        _places=tuple(places),
    )
