"""Routing: every category from every kind of location, with workers present and away."""

from __future__ import annotations

import copy
import tomllib
from pathlib import Path
from typing import Any

import pytest

from bot.services.community import DEFAULT_CATEGORIES, Community, load_community
from bot.services.routing import Route, route_ticket

EXAMPLE = Path(__file__).resolve().parent.parent / "examples" / "community.toml"
RAW: dict[str, Any] = tomllib.loads(EXAMPLE.read_text(encoding="utf-8"))


def build(mutate: Any = None) -> Community:
    raw = copy.deepcopy(RAW)
    if mutate is not None:
        mutate(raw)
    return load_community(raw, "example", DEFAULT_CATEGORIES)


COMMUNITY = build()

# Who handles each category in the example community, whatever the location.
FIXED = {"services": "chen", "property": "office", "construction": "office", "other": "duty"}
GRID_CATEGORIES = [c for c in DEFAULT_CATEGORIES if c not in FIXED]
GRID_WORKER = {"g1": "li", "g2": "zhang", "g3": "wang"}

# Location kinds: (building, place, group grids) -> the grid they place the ticket in.
LOCATIONS: dict[str, tuple[str | None, str | None, tuple[str, ...] | None, str | None]] = {
    "building": ("7", None, None, "g2"),
    "building_beats_place_and_group": ("1", "地库B2", ("g3",), "g1"),
    "place": (None, "垃圾房", None, "g3"),
    "place_beats_group": (None, "东门外", ("g3",), "g1"),
    "unknown_building_then_group": ("99", None, ("g3",), "g3"),
    "single_grid_group": (None, None, ("g2",), "g2"),
    "all_grids_group": (None, None, ("g1", "g2", "g3"), None),
    "private_chat": (None, None, None, None),
    "unknown_place": (None, "西门", None, None),
}
GRID_FROM = {
    "building": "building",
    "building_beats_place_and_group": "building",
    "place": "place",
    "place_beats_group": "place",
    "unknown_building_then_group": "group",
    "single_grid_group": "group",
}


def expected_route(category: str, location: str, away: str) -> Route:
    """The spec, written out independently of the implementation."""
    grid = LOCATIONS[location][3]
    grid_from = GRID_FROM.get(location)
    intended = FIXED.get(category) or (GRID_WORKER[grid] if grid else None)
    if intended is None:  # a grid category that nothing placed: ask the reporter
        return Route(None, None, "ask_building", True, None, None)
    if away == "none":
        rule = (
            "duty" if intended == "duty" else ("handler" if category in FIXED else "grid_worker")
        )
        return Route(grid, intended, rule, False, None, grid_from)
    if away == "intended":
        if intended == "duty":  # the duty worker is away: the office stands in
            return Route(grid, "office", "backup", False, "duty", grid_from)
        return Route(grid, "duty", "duty", False, intended, grid_from)
    # away == "intended_and_duty"
    if intended == "office":  # the office and the duty worker away: nobody left to stand in
        return Route(grid, None, "unassigned", False, intended, grid_from)
    return Route(grid, "office", "backup", False, intended, grid_from)


@pytest.mark.parametrize("away", ["none", "intended", "intended_and_duty"])
@pytest.mark.parametrize("location", list(LOCATIONS))
@pytest.mark.parametrize("category", DEFAULT_CATEGORIES)
def test_every_category_location_and_availability(category: str, location: str, away: str) -> None:
    building, place, group, grid = LOCATIONS[location]
    intended = FIXED.get(category) or (GRID_WORKER[grid] if grid else None)
    unavailable: set[str] = set()
    if away != "none" and intended is not None:
        unavailable.add(intended)
    if away == "intended_and_duty":
        unavailable.add("duty")
    route = route_ticket(COMMUNITY, category, building, place, group, frozenset(unavailable))
    if intended is None:
        # Nothing to be away: the reporter is asked whatever the availability.
        assert route == Route(None, None, "ask_building", True, None, None)
    else:
        assert route == expected_route(category, location, away)


@pytest.mark.parametrize("category", GRID_CATEGORIES)
def test_unplaceable_grid_ticket_goes_to_duty_when_asking_is_not_possible(category: str) -> None:
    route = route_ticket(COMMUNITY, category, None, None, None, frozenset(), may_ask=False)
    assert route == Route(None, "duty", "duty", False, None, None)


def test_an_inactive_worker_is_skipped_like_an_unreachable_one() -> None:
    community = build(lambda r: r["workers"][1].update(active=False))  # zhang on leave
    route = route_ticket(community, "parking", "8号楼", None, None, frozenset())
    assert (route.worker_key, route.fallback_from, route.grid) == ("duty", "zhang", "g2")


def test_an_inactive_duty_worker_hands_over_to_the_office() -> None:
    community = build(lambda r: r["workers"][5].update(active=False))
    route = route_ticket(community, "other", None, None, None, frozenset())
    assert (route.worker_key, route.rule, route.fallback_from) == ("office", "backup", "duty")


def test_a_colleague_on_the_same_grid_stands_in_before_the_duty_worker() -> None:
    def second_worker(raw: dict[str, Any]) -> None:
        raw["workers"].append(
            {
                "key": "sun",
                "name": "孙丽",
                "role": "grid_worker",
                "grids": ["g2"],
                "telegram_id": 2004,
            }
        )

    community = build(second_worker)
    route = route_ticket(community, "noise", "6", None, None, frozenset({"zhang"}))
    assert route == Route("g2", "sun", "grid_worker", False, "zhang", "building")
    route = route_ticket(community, "noise", "6", None, None, frozenset({"zhang", "sun"}))
    assert route == Route("g2", "duty", "duty", False, "zhang", "building")
    route = route_ticket(community, "noise", "6", None, None, frozenset())
    assert route.worker_key == "zhang" and route.fallback_from is None


def test_a_fixed_handler_needs_no_grid_and_keeps_the_grid_when_named() -> None:
    route = route_ticket(COMMUNITY, "services", None, None, None, frozenset())
    assert route == Route(None, "chen", "handler", False, None, None)
    route = route_ticket(COMMUNITY, "services", "12", None, None, frozenset())
    assert route.grid == "g3" and route.worker_key == "chen"


def test_a_group_bound_to_an_unknown_grid_does_not_place_the_ticket() -> None:
    route = route_ticket(COMMUNITY, "noise", None, None, ("gone",), frozenset())
    assert route.needs_building


def test_routing_unknown_categories_uses_the_grid_rule() -> None:
    route = route_ticket(COMMUNITY, "elevators", "B区7号楼", None, ("g1",), frozenset())
    # B7 is not a building of this community, so the group's grid decides
    assert route == Route("g1", "li", "grid_worker", False, None, "group")
