"""Points: behaviour list, corrections, ticket awards, balances, rankings, and cache == ledger."""

from __future__ import annotations

import pytest

from bot.services.clock import FakeClock
from bot.services.community import ConfigError
from bot.services.errors import DomainError
from bot.services.points import DEFAULT_POINTS_CONFIG, PointsService, parse_points_config
from storage.db import Database
from tests.points_support import (
    ADMIN,
    ALICE,
    BOB,
    CAROL,
    CONFIG,
    DAY,
    WORKER,
    add_ticket,
    give_points,
    services,
)

pytestmark = pytest.mark.both_stores


async def test_register_normalises_the_address_into_a_household(
    db: Database, clock: FakeClock
) -> None:
    s = services(db, clock)
    resident = await s.residents.register(ALICE.user_id, "张三丰", "三号楼", "2单元", "301室")
    assert (resident.building, resident.unit, resident.room) == ("3", "2", "301")
    assert resident.household_key == "3-2-301"
    moved = await s.residents.register(ALICE.user_id, "张三丰", "5栋", "1", "102")
    assert moved.household_key == "5-1-102"
    with pytest.raises(DomainError) as err:
        await s.residents.register(BOB.user_id, "李小明", "楼上", "2", "301")
    assert err.value.code == "resident_bad_address"


async def test_positive_behaviour_awards_with_the_reason_the_resident_sees(
    db: Database, clock: FakeClock
) -> None:
    s = services(db, clock)
    await s.residents.register(ALICE.user_id, ALICE.name, "3", "2", "301")
    entry = await s.points.apply_behaviour(
        ADMIN, ALICE.user_id, "help_elderly", "每周陪刘奶奶买菜"
    )
    assert entry.delta == 10 and entry.rule == "behaviour:help_elderly"
    assert entry.reason == "帮扶独居老人：每周陪刘奶奶买菜"
    assert entry.actor_id == ADMIN.user_id
    summary = await s.points.summary(ALICE.user_id)
    assert summary.balance == 10 and summary.recent[0].reason == entry.reason


async def test_deduction_never_takes_a_balance_below_zero(db: Database, clock: FakeClock) -> None:
    s = services(db, clock)
    await s.residents.register(BOB.user_id, BOB.name, "3", "2", "302")
    with pytest.raises(DomainError) as err:
        await s.points.apply_behaviour(ADMIN, BOB.user_id, "throw_from_height", "阳台扔花盆")
    assert err.value.code == "points_nothing_to_deduct"

    await give_points(s, BOB, 15)
    entry = await s.points.apply_behaviour(ADMIN, BOB.user_id, "throw_from_height", "阳台扔花盆")
    assert entry.delta == -15  # asked for 20, took what was there
    assert "应扣 20 分" in entry.reason and "已扣至 0" in entry.reason
    assert await s.points.balance(BOB.user_id) == 0

    await give_points(s, BOB, 30)
    entry = await s.points.apply_behaviour(ADMIN, BOB.user_id, "throw_from_height", "又扔了")
    assert entry.delta == -20 and await s.points.balance(BOB.user_id) == 10
    assert await s.points.check_balances() == []


async def test_behaviour_rules_are_guarded(db: Database, clock: FakeClock) -> None:
    s = services(db, clock)
    await s.residents.register(ALICE.user_id, ALICE.name, "3", "2", "301")
    for actor, code, reason, expected in (
        (WORKER, "help_elderly", "好人好事", "not_allowed"),
        (ADMIN, "sing_well", "好听", "points_unknown_behaviour"),
        (ADMIN, "help_elderly", "  ", "points_reason_required"),
    ):
        with pytest.raises(DomainError) as err:
            await s.points.apply_behaviour(actor, ALICE.user_id, code, reason)
        assert err.value.code == expected
    with pytest.raises(DomainError) as err:
        await s.points.apply_behaviour(ADMIN, 777, "help_elderly", "好人好事")
    assert err.value.code == "resident_not_registered"


async def test_corrections_are_new_rows_and_never_overdraw(db: Database, clock: FakeClock) -> None:
    s = services(db, clock)
    await give_points(s, CAROL, 10)
    with pytest.raises(DomainError) as err:
        await s.points.correct(ADMIN, CAROL.user_id, -11, "录错了")
    assert err.value.code == "points_insufficient"
    assert err.value.params == {"balance": 10, "needed": 11}
    entry = await s.points.correct(ADMIN, CAROL.user_id, -4, "上次多记了 4 分")
    assert entry.kind == "correction" and await s.points.balance(CAROL.user_id) == 6
    rows = await s.points.repo.entries(user_id=CAROL.user_id)
    assert [r.delta for r in rows] == [10, -4]
    with pytest.raises(DomainError):
        await s.points.correct(BOB, CAROL.user_id, 100, "我自己加")


async def test_ticket_confirmed_as_real_pays_the_reporter_once(
    db: Database, clock: FakeClock
) -> None:
    s = services(db, clock)
    ticket = await add_ticket(db, created_at=clock.now() - DAY, reporter=BOB)
    entry = await s.points.award_ticket(ticket, WORKER)
    assert entry is not None and entry.user_id == BOB.user_id and entry.delta == 3
    assert entry.ticket_id == ticket
    with pytest.raises(DomainError) as err:
        await s.points.award_ticket(ticket, WORKER)
    assert err.value.code == "points_ticket_already"
    off = PointsService(db, clock, DEFAULT_POINTS_CONFIG, "demo")
    other = await add_ticket(db, created_at=clock.now(), reporter=ALICE)
    assert await off.award_ticket(other, WORKER) is None
    assert await s.points.balance(ALICE.user_id) == 0


async def test_household_and_building_totals_and_rankings(db: Database, clock: FakeClock) -> None:
    s = services(db, clock)
    await s.residents.register(ALICE.user_id, ALICE.name, "3", "2", "301")
    await s.residents.register(BOB.user_id, BOB.name, "3", "2", "301")  # same household
    await s.residents.register(CAROL.user_id, CAROL.name, "5", "1", "102")
    await give_points(s, ALICE, 10)
    await give_points(s, BOB, 5)
    await give_points(s, CAROL, 12)

    summary = await s.points.summary(BOB.user_id)
    assert summary.balance == 5 and summary.household_key == "3-2-301"
    assert summary.household_balance == 15 and summary.building_earned == 15
    assert await s.points.top_households(5) == [("3-2-301", 15), ("5-1-102", 12)]
    assert await s.points.building_totals() == [("3", 15), ("5", 12)]
    top = await s.points.top_residents(2)
    assert [b.user_id for b, _ in top] == [CAROL.user_id, ALICE.user_id]


async def test_check_balances_finds_a_tampered_cache(db: Database, clock: FakeClock) -> None:
    s = services(db, clock)
    await give_points(s, ALICE, 10)
    await give_points(s, BOB, 7)
    assert await s.points.check_balances() == []
    await db.execute("UPDATE point_balances SET balance = 99 WHERE user_id = ?", (BOB.user_id,))
    problems = await s.points.check_balances()
    assert [p.user_id for p in problems] == [BOB.user_id]
    assert problems[0].ledger == (7, 7, 0.0)


def test_config_is_parsed_and_problems_are_named() -> None:
    config = parse_points_config(
        {
            "points": {
                "ticket_confirmed": 2,
                "difficulty": {"easy": 3, "hard": 15},
                "behaviours": [
                    {"code": "help_elderly", "name": "帮扶老人", "points": 10},
                    {"code": "litter", "name": "乱扔垃圾", "points": -5},
                ],
            },
            "catalogue": [{"code": "rice", "name": "大米", "points": 50, "stock": 10}],
        },
        "community.toml",
    )
    assert config.difficulty == {"easy": 3, "hard": 15}
    assert config.behaviour("litter") is not None and config.item("rice") is not None
    assert config == parse_points_config(
        {
            "points": {
                "ticket_confirmed": 2,
                "difficulty": {"easy": 3, "hard": 15},
                "behaviours": [
                    {"code": "help_elderly", "name": "帮扶老人", "points": 10},
                    {"code": "litter", "name": "乱扔垃圾", "points": -5},
                ],
            },
            "catalogue": [{"code": "rice", "name": "大米", "points": 50, "stock": 10}],
        },
        "x",
    )
    with pytest.raises(ConfigError) as err:
        parse_points_config(
            {
                "points": {"behaviours": [{"code": "Bad Code", "name": "", "points": 0}]},
                "catalogue": [{"code": "rice", "name": "大米", "points": 0, "stock": -1}],
            },
            "community.toml",
        )
    message = str(err.value)
    for key in (
        "points.behaviours[0].code",
        "points.behaviours[0].name",
        "points.behaviours[0].points",
        "catalogue[0].points",
        "catalogue[0].stock",
    ):
        assert f"community.toml: {key}" in message


def test_default_config_matches_the_shipped_rules() -> None:
    assert CONFIG.difficulty["normal"] == 10
    assert parse_points_config({}, "empty.toml") == DEFAULT_POINTS_CONFIG


def test_every_error_these_services_raise_has_a_chinese_sentence() -> None:
    import ast
    import string
    from pathlib import Path

    from bot import texts

    root = Path(__file__).resolve().parent.parent / "bot" / "services"
    found = 0
    for name in ("tasks", "points", "redemption", "residents", "schedule"):
        tree = ast.parse((root / f"{name}.py").read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            if not (
                isinstance(node, ast.Call)
                and isinstance(node.func, ast.Name)
                and node.func.id == "DomainError"
            ):
                continue
            first = node.args[0]
            assert isinstance(first, ast.Constant), ast.unparse(node)
            code = str(first.value)
            assert code in texts.ERRORS, code
            wanted = {f for _, f, _, _ in string.Formatter().parse(texts.ERRORS[code]) if f}
            given = {k.arg for k in node.keywords}
            assert wanted == given, (code, wanted, given)
            found += 1
    assert found > 30


def test_an_unknown_points_rule_is_refused_at_start_up_naming_the_key() -> None:
    from bot.services.community import ConfigError
    from bot.services.points import parse_points_config

    with pytest.raises(ConfigError) as caught:
        parse_points_config({"points": {"ticket_confirmed": 2, "ticket_fixed": 3}}, "c.toml")
    message = str(caught.value)
    assert "points.ticket_fixed" in message and "未知的积分规则" in message
    assert "ticket_confirmed" not in message.split("可用")[0]
    assert parse_points_config({"points": {"ticket_confirmed": 2}}, "c.toml").ticket_confirmed == 2


def test_a_misspelt_key_in_a_behaviour_or_catalogue_entry_is_refused_naming_it() -> None:
    from bot.services.community import ConfigError
    from bot.services.points import parse_points_config

    config = {
        "points": {"behaviours": [{"code": "help", "name": "帮扶老人", "pionts": 10}]},
        "catalogue": [{"code": "soap", "name": "洗衣皂", "points": 3, "stock": 5, "stok": 9}],
    }
    with pytest.raises(ConfigError) as caught:
        parse_points_config(config, "c.toml")
    message = str(caught.value)
    assert "points.behaviours[0].pionts" in message and "catalogue[0].stok" in message
    config["points"]["behaviours"][0]["points"] = config["points"]["behaviours"][0].pop("pionts")
    config["catalogue"][0].pop("stok")
    parsed = parse_points_config(config, "c.toml")
    assert parsed.behaviours[0].points == 10 and parsed.catalogue[0].stock == 5
