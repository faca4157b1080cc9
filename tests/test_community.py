"""The community file: parsing, lookups and a validation that names every problem."""

from __future__ import annotations

import copy
import tomllib
from pathlib import Path
from typing import Any

import pytest

from bot.services.community import (
    DEFAULT_CATEGORIES,
    Community,
    ConfigError,
    load_community,
    normalise_building,
)

pytestmark = pytest.mark.both_stores

EXAMPLE = Path(__file__).resolve().parent.parent / "examples" / "community.toml"


def example_raw() -> dict[str, Any]:
    return tomllib.loads(EXAMPLE.read_text(encoding="utf-8"))


def minimal() -> dict[str, Any]:
    return {
        "community": {"name": "测试社区", "street_office": "测试街道", "duty_worker": "d"},
        "grids": [
            {"code": "a", "name": "A网格", "buildings": [1, 2], "places": ["东门"]},
            {"code": "b", "name": "B网格", "buildings": ["3号楼"], "places": ["地库"]},
        ],
        "workers": [
            {"key": "w1", "name": "甲", "grids": ["a"], "telegram_id": 11},
            {"key": "w2", "name": "乙", "grids": ["b"], "telegram_id": 12},
            {"key": "d", "name": "值班", "role": "duty", "telegram_id": 13},
        ],
        "admins": [{"key": "sec", "name": "书记", "telegram_id": 20}],
        "groups": [{"chat_id": -100, "title": "群", "grids": ["a", "b"]}],
    }


def problems_of(raw: dict[str, Any]) -> list[str]:
    with pytest.raises(ConfigError) as caught:
        load_community(raw, "c.toml", DEFAULT_CATEGORIES)
    return caught.value.problems


@pytest.fixture
def community() -> Community:
    return load_community(example_raw(), str(EXAMPLE), DEFAULT_CATEGORIES)


def test_example_community_loads_with_its_grids_workers_and_groups(community: Community) -> None:
    assert community.name == "幸福里社区"
    assert community.street_office == "和平街道办事处"
    assert [g.code for g in community.grids] == ["g1", "g2", "g3"]
    assert community.grid("g2") is not None
    assert community.grid("g2").buildings == ("6", "7", "8", "9")  # type: ignore[union-attr]
    assert community.grid("g3").buildings == ("10", "11", "12", "13", "14")  # type: ignore[union-attr]
    assert [w.key for w in community.grid_workers("g1")] == ["li"]
    assert community.duty_worker == "duty"
    assert community.worker("chen") is not None
    assert community.worker("chen").telegram_id == 2010  # type: ignore[union-attr]
    assert community.worker("nobody") is None
    assert [g.chat_id for g in community.groups] == [-1001000000001, -1001000000011]
    assert community.admins[0].telegram_id == 2020


def test_example_file_ends_with_the_marker_for_other_sections() -> None:
    assert "# ── other sections follow ──" in EXAMPLE.read_text(encoding="utf-8")


def test_sections_owned_by_other_services_are_ignored() -> None:
    raw = example_raw()
    raw["sla"] = {"urgent_hours": 2}
    raw["points"] = {"enabled": True}
    assert load_community(raw, "x.toml").name == "幸福里社区"


@pytest.mark.parametrize(
    ("written", "expected"),
    [
        ("3", "3"),
        (3, "3"),
        ("3栋", "3"),
        ("3号楼", "3"),
        ("3幢", "3"),
        ("三号楼", "3"),
        ("十二栋", "12"),
        ("二十一号楼", "21"),
        ("B区7号楼", "B7"),
        ("b区7栋", "B7"),
        ("B7", "B7"),
        ("１２号楼", "12"),  # full-width digits
        (" 5号楼 ", "5"),
        ("A座", "A"),
    ],
)
def test_building_spellings_normalise_to_one_form(written: str | int, expected: str) -> None:
    assert normalise_building(written) == expected


@pytest.mark.parametrize("written", ["", "3楼", "0", "零号楼", "东门", "3号楼301", "地库B2"])
def test_non_buildings_are_not_read_as_buildings(written: str) -> None:
    assert normalise_building(written) is None


def test_buildings_in_any_spelling_find_their_grid(community: Community) -> None:
    assert community.grid_for_building("3") == "g1"
    assert community.grid_for_building("7号楼") == "g2"
    assert community.grid_for_building("十二栋") == "g3"
    assert community.grid_for_building("99") is None
    assert community.grid_for_building(None) is None


def test_places_match_by_prefix(community: Community) -> None:
    assert community.grid_for_place("地库B2") == "g2"
    assert community.grid_for_place("东门") == "g1"
    assert community.grid_for_place("垃圾房旁边") == "g3"
    assert community.grid_for_place("西门") is None
    assert community.grid_for_place(None) is None


def test_longest_configured_place_wins() -> None:
    raw = minimal()
    raw["grids"][1]["places"] = ["东门岗亭"]
    c = load_community(raw, "c.toml")
    assert c.grid_for_place("东门岗亭外") == "b"
    assert c.grid_for_place("东门口") == "a"


def test_handling_rules_default_to_the_grid_worker(community: Community) -> None:
    assert community.handler_for("services") == "chen"
    assert community.handler_for("property") == "office"
    assert community.handler_for("construction") == "office"
    assert community.handler_for("other") == "duty"
    assert community.handler_for("noise") == "grid"
    assert community.handler_for("unheard_of") == "grid"


def test_other_goes_to_the_duty_worker_without_a_rule() -> None:
    c = load_community(minimal(), "c.toml")
    assert c.handler_for("other") == "d"
    raw = minimal()
    raw["handling"] = {"parking": "duty"}
    assert load_community(raw, "c.toml").handler_for("parking") == "d"


def test_find_grid_by_code_or_name(community: Community) -> None:
    assert community.find_grid("G2") is not None
    assert community.find_grid("第三网格").code == "g3"  # type: ignore[union-attr]
    assert community.find_grid("g9") is None


def test_duty_worker_can_be_implied_by_the_only_duty_role() -> None:
    raw = minimal()
    del raw["community"]["duty_worker"]
    assert load_community(raw, "c.toml").duty_worker == "d"


def test_minimal_config_is_valid() -> None:
    c = load_community(minimal(), "c.toml")
    assert c.grid_for_building("3") == "b"


@pytest.mark.parametrize(
    ("mutate", "expected"),
    [
        (lambda r: r["workers"][0].update(grids=[]), "[[workers]] w1.grids: a grid worker must"),
        (lambda r: r["workers"][0].pop("grids"), "[[workers]] w1.grids: a grid worker must"),
        (
            lambda r: r["workers"][1].update(grids=["zz"]),
            "[[workers]] w2.grids: unknown grid 'zz'",
        ),
        (
            lambda r: r["grids"][1]["buildings"].append("1号楼"),
            "building 1 is already in grid 'a'",
        ),
        (lambda r: r["grids"][1]["places"].append("东门"), "place '东门' is already in grid 'a'"),
        (lambda r: r["workers"].append(dict(r["workers"][0])), "duplicate worker key 'w1'"),
        (lambda r: r["grids"].append(dict(r["grids"][0])), "duplicate grid code 'a'"),
        (lambda r: r["admins"].append(dict(r["admins"][0])), "duplicate admin key 'sec'"),
        (
            lambda r: r["workers"][0].update(telegram_id="11"),
            "[[workers]] w1.telegram_id: expected a positive integer",
        ),
        (lambda r: r["workers"][0].update(telegram_id=True), "w1.telegram_id: expected"),
        (lambda r: r["admins"][0].update(telegram_id=-5), "sec.telegram_id: expected a positive"),
        (lambda r: r["workers"][1].update(telegram_id=11), "user id 11 is also given to 'w1'"),
        (
            lambda r: r.update(handling={"potholes": "grid"}),
            "[handling].potholes: unknown category",
        ),
        (lambda r: r.update(handling={"services": "ghost"}), "nobody handles services: 'ghost'"),
        (lambda r: r.update(handling={"services": 7}), "[handling].services: expected"),
        (lambda r: r["community"].update(duty_worker="ghost"), "'ghost' is not a worker key"),
        (
            lambda r: (r["community"].pop("duty_worker"), r["workers"][2].update(role="office")),
            "[community].duty_worker: missing",
        ),
        (lambda r: r["community"].update(timezone="Mars/Base"), "unknown time zone 'Mars/Base'"),
        (lambda r: r["community"].pop("name"), "[community].name: missing"),
        (lambda r: r.pop("community"), "[community]: missing"),
        (lambda r: r.pop("grids"), "[[grids]]: missing"),
        (lambda r: r["grids"][0].update(buildings=["东门楼"]), "cannot read building '东门楼'"),
        (
            lambda r: r["grids"][0].update(buildings=[], places=[]),
            "at least one building or place",
        ),
        (lambda r: r["workers"][0].update(role="boss"), "w1.role: unknown role 'boss'"),
        (lambda r: r["workers"][0].update(active="no"), "w1.active: expected true or false"),
        (
            lambda r: r["groups"][0].update(chat_id="-100"),
            "[[groups]][0].chat_id: expected a negative",
        ),
        (lambda r: r["groups"][0].update(grids=["q"]), "[[groups]] -100.grids: unknown grid 'q'"),
        (lambda r: r["groups"][0].update(grids=[]), "a group must be bound to at least one grid"),
        (lambda r: r["admins"][0].update(key="w1"), "[[admins]] w1.key: the same key"),
        (lambda r: r.update(grids="a"), "[[grids]]: expected an array of tables"),
    ],
)
def test_each_problem_is_named_with_its_key(mutate: Any, expected: str) -> None:
    raw = copy.deepcopy(minimal())
    mutate(raw)
    found = problems_of(raw)
    assert any(expected in p for p in found), found


def test_a_grid_nobody_covers_is_named() -> None:
    raw = minimal()
    raw["workers"][1]["grids"] = ["a"]
    assert "[[grids]] b: no grid worker covers this grid（没有网格员负责这个网格）" in problems_of(
        raw
    )


def test_every_problem_is_reported_at_once_one_line_each_naming_the_file() -> None:
    raw = minimal()
    raw["workers"][0]["grids"] = []
    raw["grids"][1]["buildings"].append(2)
    raw["handling"] = {"potholes": "grid", "services": "ghost"}
    raw["community"]["duty_worker"] = "ghost"
    with pytest.raises(ConfigError) as caught:
        load_community(raw, "site/community.toml")
    lines = str(caught.value).splitlines()
    assert len(lines) == len(caught.value.problems) >= 5
    assert all(line.startswith("site/community.toml: ") for line in lines)
    joined = "\n".join(lines)
    for part in ("w1.grids", "building 2", "potholes", "services", "duty_worker"):
        assert part in joined
    # grid a lost its only worker, so that is named too
    assert "[[grids]] a: no grid worker covers this grid" in joined


def test_a_worker_may_also_be_an_admin() -> None:
    raw = minimal()
    raw["admins"][0]["telegram_id"] = 13
    assert load_community(raw, "c.toml").admins[0].telegram_id == 13


def test_custom_categories_come_from_the_caller() -> None:
    raw = minimal()
    raw["handling"] = {"elevators": "w2"}
    assert problems_of(raw)
    c = load_community(raw, "c.toml", [*DEFAULT_CATEGORIES, "elevators"])
    assert c.handler_for("elevators") == "w2"
