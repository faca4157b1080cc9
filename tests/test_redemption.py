"""Redemption: balance and stock reserved at once, never negative, refunds by new rows."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from bot.services.clock import FakeClock
from bot.services.errors import DomainError
from bot.services.points import CatalogueItem
from storage.db import Database
from tests.points_support import (
    ADMIN,
    ALICE,
    BOB,
    CONFIG,
    give_points,
    services,
)

pytestmark = pytest.mark.both_stores


async def test_request_approve_hand_over(db: Database, clock: FakeClock) -> None:
    s = services(db, clock)
    await s.redemption.sync_catalogue()
    await give_points(s, ALICE, 100)
    request = await s.redemption.request(ALICE, "rice")
    assert request.status == "requested" and request.points == 60
    assert await s.points.balance(ALICE.user_id) == 40
    assert {i.code: i.stock for i in await s.redemption.catalogue()} == {"rice": 4, "oil": 1}

    with pytest.raises(DomainError) as err:
        await s.redemption.approve(ALICE, request.id)
    assert err.value.code == "not_allowed"
    approved = await s.redemption.approve(ADMIN, request.id)
    assert approved.status == "approved" and approved.decided_by == ADMIN.user_id
    handed = await s.redemption.hand_over(ADMIN, request.id)
    assert handed.status == "handed_over" and handed.handed_by == ADMIN.user_id
    with pytest.raises(DomainError) as err:
        await s.redemption.reject(ADMIN, request.id, "晚了")
    assert err.value.code == "redeem_wrong_state"
    assert await s.redemption.pending() == []
    assert await s.points.check_balances() == []


async def test_reject_refunds_with_a_compensating_row(db: Database, clock: FakeClock) -> None:
    s = services(db, clock)
    await s.redemption.sync_catalogue()
    await give_points(s, BOB, 80)
    request = await s.redemption.request(BOB, "oil")
    assert await s.points.balance(BOB.user_id) == 0
    with pytest.raises(DomainError) as err:
        await s.redemption.reject(ADMIN, request.id, "")
    assert err.value.code == "points_reason_required"
    rejected = await s.redemption.reject(ADMIN, request.id, "本季度食用油已发完")
    assert rejected.status == "rejected" and rejected.reason == "本季度食用油已发完"
    rows = await s.points.repo.entries(user_id=BOB.user_id)
    assert [(r.kind, r.delta) for r in rows] == [("task", 80), ("redemption", -80), ("refund", 80)]
    assert "本季度食用油已发完" in rows[-1].reason
    assert await s.points.balance(BOB.user_id) == 80
    assert {i.code: i.stock for i in await s.redemption.catalogue()}["oil"] == 1
    assert await s.points.check_balances() == []


async def test_a_resident_may_cancel_only_their_own_waiting_request(
    db: Database, clock: FakeClock
) -> None:
    s = services(db, clock)
    await s.redemption.sync_catalogue()
    await give_points(s, ALICE, 60)
    request = await s.redemption.request(ALICE, "rice")
    with pytest.raises(DomainError) as err:
        await s.redemption.reject(BOB, request.id, "不要了")
    assert err.value.code == "not_allowed"
    cancelled = await s.redemption.reject(ALICE, request.id, "")
    assert cancelled.status == "rejected" and cancelled.reason == "本人取消"
    assert await s.points.balance(ALICE.user_id) == 60


async def test_refusals_for_balance_stock_item_and_quantity(
    db: Database, clock: FakeClock
) -> None:
    s = services(db, clock)
    await s.redemption.sync_catalogue()
    await give_points(s, ALICE, 50)
    cases = (
        ("rice", 1, "points_insufficient"),
        ("gold", 1, "redeem_unknown_item"),
        ("rice", 0, "redeem_bad_quantity"),
        ("oil", 2, "redeem_out_of_stock"),
    )
    for code, quantity, expected in cases:
        with pytest.raises(DomainError) as err:
            await s.redemption.request(ALICE, code, quantity)
        assert err.value.code == expected
    assert await s.points.balance(ALICE.user_id) == 50


async def test_two_requests_at_once_never_overspend_the_balance(
    db: Database, clock: FakeClock
) -> None:
    s = services(db, clock)
    await s.redemption.sync_catalogue()
    await give_points(s, ALICE, 100)  # enough for one bag of rice (60), not two
    results = await asyncio.gather(
        s.redemption.request(ALICE, "rice"),
        s.redemption.request(ALICE, "rice"),
        return_exceptions=True,
    )
    errors = [r for r in results if isinstance(r, DomainError)]
    assert len(errors) == 1 and errors[0].code == "points_insufficient"
    assert await s.points.balance(ALICE.user_id) == 40
    assert {i.code: i.stock for i in await s.redemption.catalogue()}["rice"] == 4


async def test_two_requests_at_once_never_overdraw_the_stock(
    db: Database, clock: FakeClock
) -> None:
    s = services(db, clock)
    await s.redemption.sync_catalogue()
    await give_points(s, ALICE, 100)
    await give_points(s, BOB, 100)
    results = await asyncio.gather(
        s.redemption.request(ALICE, "oil"),
        s.redemption.request(BOB, "oil"),
        return_exceptions=True,
    )
    errors = [r for r in results if isinstance(r, DomainError)]
    assert len(errors) == 1 and errors[0].code == "redeem_out_of_stock"
    assert {i.code: i.stock for i in await s.redemption.catalogue()}["oil"] == 0
    assert sorted(
        [await s.points.balance(ALICE.user_id), await s.points.balance(BOB.user_id)]
    ) == [
        20,
        100,
    ]
    assert await s.points.check_balances() == []


async def test_two_processes_at_once_never_overdraw(tmp_path: Path, clock: FakeClock) -> None:
    path = tmp_path / "shared.sqlite3"
    first, second = Database(path), Database(path)
    await first.open()
    await second.open()
    try:
        a, b = services(first, clock), services(second, clock)
        await a.redemption.sync_catalogue()
        await give_points(a, ALICE, 100)
        await give_points(a, BOB, 100)
        # The same resident from two processes: the balance holds only one bag of rice.
        same = await asyncio.gather(
            a.redemption.request(ALICE, "rice"),
            b.redemption.request(ALICE, "rice"),
            return_exceptions=True,
        )
        assert sum(isinstance(r, DomainError) for r in same) == 1
        # Two residents from two processes: the stock holds only one bottle of oil.
        both = await asyncio.gather(
            a.redemption.request(BOB, "oil"),
            b.redemption.request(ALICE, "oil"),
            return_exceptions=True,
        )
        assert sum(isinstance(r, DomainError) for r in both) == 1
        assert await a.points.balance(ALICE.user_id) in (40, 0)
        stock = {i.code: i.stock for i in await b.redemption.catalogue()}
        assert stock == {"rice": 4, "oil": 0}
        assert await b.points.check_balances() == []
    finally:
        await first.close()
        await second.close()


async def test_catalogue_follows_the_config_stock_as_a_restock(
    db: Database, clock: FakeClock
) -> None:
    s = services(db, clock)
    await s.redemption.sync_catalogue()
    await give_points(s, ALICE, 200)
    await s.redemption.request(ALICE, "rice", 2)  # 5 -> 3 left
    restocked = type(CONFIG)(
        difficulty=CONFIG.difficulty,
        ticket_confirmed=0,
        behaviours=(),
        catalogue=(CatalogueItem("rice", "大米 5kg", 60, 15),),  # the office bought 10 more
    )
    s2 = services(db, clock, restocked)
    await s2.redemption.sync_catalogue()
    assert {i.code: i.stock for i in await s2.redemption.catalogue()} == {"rice": 13}
    with pytest.raises(DomainError) as err:
        await s2.redemption.request(ALICE, "oil")
    assert err.value.code == "redeem_unknown_item"
