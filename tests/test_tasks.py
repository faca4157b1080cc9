"""The task list: publish -> claim -> proof -> verify -> points, and every refusal."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from bot.services.clock import FakeClock
from bot.services.errors import DomainError
from bot.services.residents import Person
from storage.db import Database
from storage.store import INTEGRITY_ERRORS
from tests.points_support import (
    ADMIN,
    ALICE,
    BOB,
    CAROL,
    DAY,
    DRAIN_CO,
    HOUR,
    WORKER,
    add_ticket,
    services,
)

pytestmark = pytest.mark.both_stores


async def test_publish_claim_proof_verify_awards_points_in_the_ledger(
    db: Database, clock: FakeClock
) -> None:
    s = services(db, clock)
    task = await s.tasks.publish(
        WORKER,
        title="更换3号楼2单元楼道灯泡",
        difficulty="normal",
        location="3号楼2单元",
        deadline=clock.now() + 2 * DAY,
        capacity=1,
        hours=1.5,
    )
    assert task.points == 10 and task.places_left == 1

    claim = await s.tasks.claim(ALICE, task.id)
    assert claim.status == "claimed"
    submitted = await s.tasks.submit_proof(ALICE, task.id, ["AgACAgQ-photo"], note="已换好")
    assert submitted.status == "submitted" and submitted.proof == ("AgACAgQ-photo",)

    verdict = await s.tasks.verify(WORKER, task.id, ALICE.user_id, approve=True)
    assert verdict.claim.status == "approved"
    assert verdict.entry is not None
    assert verdict.entry.delta == 10 and verdict.entry.hours == 1.5
    assert verdict.entry.actor_id == WORKER.user_id
    assert verdict.entry.task_id == task.id and verdict.entry.claim_id == claim.id
    assert "更换3号楼2单元楼道灯泡" in verdict.entry.reason
    assert verdict.task.status == "done"

    summary = await s.points.summary(ALICE.user_id)
    assert summary.balance == 10 and summary.hours == 1.5
    assert await s.points.check_balances() == []
    assert task.id not in [t.id for t in await s.tasks.list_open()]


async def test_residents_cannot_publish(db: Database, clock: FakeClock) -> None:
    s = services(db, clock)
    with pytest.raises(DomainError) as err:
        await s.tasks.publish(ALICE, title="帮忙搬东西", points=5)
    assert err.value.code == "not_allowed"


@pytest.mark.parametrize(
    ("kwargs", "code"),
    [
        ({"title": "", "points": 5}, "task_bad_title"),
        ({"title": "x"}, "task_bad_points"),
        ({"title": "x", "difficulty": "extreme"}, "task_bad_difficulty"),
        ({"title": "x", "points": 5, "capacity": 0}, "task_bad_capacity"),
        ({"title": "x", "points": 5, "audience": "targeted"}, "task_no_targets"),
        ({"title": "x", "points": -1}, "task_bad_points"),
    ],
)
async def test_bad_task_arguments_are_refused(
    db: Database, clock: FakeClock, kwargs: dict[str, object], code: str
) -> None:
    s = services(db, clock)
    with pytest.raises(DomainError) as err:
        await s.tasks.publish(WORKER, **kwargs)  # type: ignore[arg-type]
    assert err.value.code == code


async def test_deadline_in_the_past_is_refused(db: Database, clock: FakeClock) -> None:
    s = services(db, clock)
    with pytest.raises(DomainError) as err:
        await s.tasks.publish(WORKER, title="清理小广告", points=5, deadline=clock.now() - HOUR)
    assert err.value.code == "task_bad_deadline"


async def test_targeted_task_is_refused_to_others_and_open_to_the_company(
    db: Database, clock: FakeClock
) -> None:
    s = services(db, clock)
    task = await s.tasks.publish(
        ADMIN,
        title="5号楼化粪池清掏",
        points=30,
        audience="targeted",
        targets=["绿城环卫", "区排水所"],
    )
    for outsider in (ALICE, Person(301, "别家公司", org="某物业")):
        with pytest.raises(DomainError) as err:
            await s.tasks.claim(outsider, task.id)
        assert err.value.code == "task_not_for_you"
        assert "绿城环卫" in err.value.params["targets"]
    claim = await s.tasks.claim(DRAIN_CO, task.id)
    assert claim.user_id == DRAIN_CO.user_id


async def test_claim_refusals_full_expired_closed_and_twice(
    db: Database, clock: FakeClock
) -> None:
    s = services(db, clock)
    task = await s.tasks.publish(WORKER, title="陪独居老人买菜", points=10, capacity=1)
    await s.tasks.claim(ALICE, task.id)
    with pytest.raises(DomainError) as err:
        await s.tasks.claim(ALICE, task.id)
    assert err.value.code == "task_already_claimed"
    with pytest.raises(DomainError) as err:
        await s.tasks.claim(BOB, task.id)
    assert err.value.code == "task_full"

    soon = await s.tasks.publish(
        WORKER, title="清理楼道杂物", points=5, deadline=clock.now() + HOUR
    )
    clock.advance(2 * HOUR)
    with pytest.raises(DomainError) as err:
        await s.tasks.claim(BOB, soon.id)
    assert err.value.code == "task_expired"

    closed = await s.tasks.publish(WORKER, title="辅导作业", points=5)
    await s.tasks.close(WORKER, closed.id)
    with pytest.raises(DomainError) as err:
        await s.tasks.claim(BOB, closed.id)
    assert err.value.code == "task_closed"

    with pytest.raises(DomainError) as err:
        await s.tasks.claim(BOB, 9999)
    assert err.value.code == "task_not_found"


async def test_concurrent_claims_never_exceed_capacity(db: Database, clock: FakeClock) -> None:
    s = services(db, clock)
    task = await s.tasks.publish(WORKER, title="搬运爱心物资", points=10, capacity=2)
    people = [Person(500 + i, f"居民{i}") for i in range(6)]
    results = await asyncio.gather(
        *(s.tasks.claim(p, task.id) for p in people), return_exceptions=True
    )
    won = [r for r in results if not isinstance(r, BaseException)]
    lost = [r for r in results if isinstance(r, DomainError)]
    assert len(won) == 2 and len(lost) == 4
    assert all(e.code == "task_full" for e in lost)
    assert len(await s.tasks.claims(task.id)) == 2


async def test_claims_from_two_processes_never_exceed_capacity(
    tmp_path: Path, clock: FakeClock
) -> None:
    path = tmp_path / "shared.sqlite3"
    first, second = Database(path), Database(path)
    await first.open()
    await second.open()
    try:
        a, b = services(first, clock), services(second, clock)
        task = await a.tasks.publish(WORKER, title="修剪绿篱", points=10, capacity=1)
        results = await asyncio.gather(
            a.tasks.claim(ALICE, task.id), b.tasks.claim(BOB, task.id), return_exceptions=True
        )
        errors = [r for r in results if isinstance(r, DomainError)]
        assert len(errors) == 1 and errors[0].code == "task_full"
        assert len(await a.tasks.claims(task.id)) == 1
    finally:
        await first.close()
        await second.close()


async def test_nobody_verifies_their_own_work(db: Database, clock: FakeClock) -> None:
    s = services(db, clock)
    task = await s.tasks.publish(WORKER, title="清理小广告", points=5)
    await s.tasks.claim(WORKER, task.id)
    await s.tasks.submit_proof(WORKER, task.id, ["photo"])
    with pytest.raises(DomainError) as err:
        await s.tasks.verify(WORKER, task.id, WORKER.user_id, approve=True)
    assert err.value.code == "task_verify_own"
    verdict = await s.tasks.verify(ADMIN, task.id, WORKER.user_id, approve=True)
    assert verdict.entry is not None and verdict.entry.delta == 5


async def test_only_publisher_worker_or_admin_verifies(db: Database, clock: FakeClock) -> None:
    s = services(db, clock)
    task = await s.tasks.publish(WORKER, title="清理小广告", points=5)
    await s.tasks.claim(ALICE, task.id)
    await s.tasks.submit_proof(ALICE, task.id, ["photo"])
    with pytest.raises(DomainError) as err:
        await s.tasks.verify(BOB, task.id, ALICE.user_id, approve=True)
    assert err.value.code == "not_allowed"
    assert await s.points.balance(ALICE.user_id) == 0


async def test_returned_proof_needs_a_reason_and_can_be_redone(
    db: Database, clock: FakeClock
) -> None:
    s = services(db, clock)
    task = await s.tasks.publish(WORKER, title="清理楼道杂物", points=8)
    with pytest.raises(DomainError) as err:
        await s.tasks.submit_proof(ALICE, task.id, ["p"])
    assert err.value.code == "task_not_claimed"
    await s.tasks.claim(ALICE, task.id)
    with pytest.raises(DomainError) as err:
        await s.tasks.submit_proof(ALICE, task.id, [])
    assert err.value.code == "task_proof_missing"
    with pytest.raises(DomainError) as err:
        await s.tasks.verify(WORKER, task.id, ALICE.user_id, approve=True)
    assert err.value.code == "task_not_submitted"

    await s.tasks.submit_proof(ALICE, task.id, ["p1"])
    with pytest.raises(DomainError) as err:
        await s.tasks.verify(WORKER, task.id, ALICE.user_id, approve=False)
    assert err.value.code == "task_reason_required"
    back = await s.tasks.verify(
        WORKER, task.id, ALICE.user_id, approve=False, reason="照片看不清楼层"
    )
    assert back.claim.status == "returned" and back.claim.reason == "照片看不清楼层"
    assert back.entry is None and await s.points.balance(ALICE.user_id) == 0
    assert back.task.places_left == 0  # the place stays hers while she redoes it

    await s.tasks.submit_proof(ALICE, task.id, ["p2"])
    done = await s.tasks.verify(WORKER, task.id, ALICE.user_id, approve=True)
    assert done.entry is not None and await s.points.balance(ALICE.user_id) == 8
    with pytest.raises(DomainError) as err:
        await s.tasks.verify(WORKER, task.id, ALICE.user_id, approve=True)
    assert err.value.code == "task_not_submitted"
    with pytest.raises(DomainError) as err:
        await s.tasks.submit_proof(ALICE, task.id, ["p3"])
    assert err.value.code == "task_already_approved"
    assert await s.points.check_balances() == []


async def test_volunteer_hours_are_kept_beside_points(db: Database, clock: FakeClock) -> None:
    s = services(db, clock)
    task = await s.tasks.publish(WORKER, title="社区义诊志愿者", points=0, hours=3, capacity=2)
    for who in (ALICE, BOB):
        await s.tasks.claim(who, task.id)
        await s.tasks.submit_proof(who, task.id, ["p"])
    await s.tasks.verify(WORKER, task.id, ALICE.user_id, approve=True)
    await s.tasks.verify(WORKER, task.id, BOB.user_id, approve=True, hours=2)
    alice, bob = await s.points.summary(ALICE.user_id), await s.points.summary(BOB.user_id)
    assert (alice.balance, alice.hours) == (0, 3.0)
    assert (bob.balance, bob.hours) == (0, 2.0)
    assert await s.points.check_balances() == []


async def test_resolved_ticket_becomes_a_task(db: Database, clock: FakeClock) -> None:
    s = services(db, clock)
    open_id = await add_ticket(db, created_at=clock.now() - DAY, status="accepted")
    with pytest.raises(DomainError) as err:
        await s.tasks.task_from_ticket(WORKER, open_id, points=5)
    assert err.value.code == "task_ticket_not_resolved"

    done_id = await add_ticket(
        db, created_at=clock.now() - DAY, status="resolved", category="sanitation", grid="g2"
    )
    task = await s.tasks.task_from_ticket(WORKER, done_id, difficulty="easy", capacity=3)
    assert task.ticket_id == done_id and task.grid == "g2" and task.points == 5
    assert "环境卫生" in task.title
    assert "13800138000" not in task.title + task.description  # the resident's words stay out
    with pytest.raises(DomainError) as err:
        await s.tasks.task_from_ticket(WORKER, done_id, points=5)
    assert err.value.code == "task_ticket_has_task"
    with pytest.raises(DomainError) as err:
        await s.tasks.task_from_ticket(WORKER, 424242, points=5)
    assert err.value.code == "task_ticket_not_found"


async def test_open_tasks_are_filtered_by_grid(db: Database, clock: FakeClock) -> None:
    s = services(db, clock)
    everywhere = await s.tasks.publish(WORKER, title="全社区捡垃圾", points=5)
    g1 = await s.tasks.publish(WORKER, title="一网格修车棚", points=5, grid="g1")
    g2 = await s.tasks.publish(WORKER, title="二网格扫落叶", points=5, grid="g2")
    seen = [t.id for t in await s.tasks.list_open(["g1"])]
    assert everywhere.id in seen and g1.id in seen and g2.id not in seen
    assert {t.id for t in await s.tasks.list_open()} == {everywhere.id, g1.id, g2.id}


async def test_ledger_refuses_update_and_delete(db: Database, clock: FakeClock) -> None:
    s = services(db, clock)
    task = await s.tasks.publish(WORKER, title="清理小广告", points=5)
    await s.tasks.claim(CAROL, task.id)
    await s.tasks.submit_proof(CAROL, task.id, ["p"])
    await s.tasks.verify(WORKER, task.id, CAROL.user_id, approve=True)
    with pytest.raises(INTEGRITY_ERRORS, match="append-only"):
        await db.execute("UPDATE points_ledger SET delta = 500")
    with pytest.raises(INTEGRITY_ERRORS, match="append-only"):
        await db.execute("DELETE FROM points_ledger")
    assert await s.points.balance(CAROL.user_id) == 5
