"""Privacy storage on both stores: the one change the append-only tables allow, erasure, audit."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest

from storage.conversations import ConversationRepository
from storage.privacy import (
    ANONYMOUS_NAME,
    ERASED_TEXT,
    AuditRepository,
    ErasureRepository,
    FollowerRatings,
)
from storage.store import INTEGRITY_ERRORS, Store
from tests.points_support import ALICE, BOB, CAROL, add_ticket

pytestmark = pytest.mark.both_stores

AT = datetime(2026, 3, 1, 8, 0, tzinfo=UTC)


async def ledger_row(db: Store, user_id: int, delta: int = 5) -> int:
    return int(
        await db.fetchval(
            "INSERT INTO points_ledger (user_id, delta, kind, rule, reason, at)"
            " VALUES (?, ?, 'behaviour', 'help', '帮扶独居老人', ?) RETURNING id",
            (user_id, delta, AT.isoformat()),
        )
    )


async def event(db: Store, ticket_id: int, actor_id: int | None, role: str) -> int:
    return int(
        await db.fetchval(
            "INSERT INTO ticket_events (ticket_id, at, actor_id, actor_role, kind)"
            " VALUES (?, ?, ?, ?, 'opened') RETURNING id",
            (ticket_id, AT.isoformat(), actor_id, role),
        )
    )


async def test_the_ledger_allows_only_a_resident_becoming_an_existing_anonymous_id(
    db: Store,
) -> None:
    row = await ledger_row(db, ALICE.user_id)
    # No such anonymous id yet: refused.
    with pytest.raises(INTEGRITY_ERRORS):
        await db.execute("UPDATE points_ledger SET user_id = -1 WHERE id = ?", (row,))
    anon = await ErasureRepository(db).new_anonymous_id("forget", AT)
    assert anon < 0
    for sql, params in (
        ("UPDATE points_ledger SET delta = 99 WHERE id = ?", (row,)),
        ("UPDATE points_ledger SET user_id = ?, delta = 99 WHERE id = ?", (anon, row)),
        ("UPDATE points_ledger SET user_id = ?, reason = 'x' WHERE id = ?", (anon, row)),
        ("UPDATE points_ledger SET user_id = ? WHERE id = ?", (BOB.user_id, row)),
        ("DELETE FROM points_ledger WHERE id = ?", (row,)),
    ):
        with pytest.raises(INTEGRITY_ERRORS):
            await db.execute(sql, params)
    await db.execute("UPDATE points_ledger SET user_id = ? WHERE id = ?", (anon, row))
    assert await db.fetchval("SELECT user_id FROM points_ledger WHERE id = ?", (row,)) == anon
    # An anonymous id never becomes another one (OLD.user_id must be a person's).
    other = await ErasureRepository(db).new_anonymous_id("retention", AT)
    assert other < anon
    with pytest.raises(INTEGRITY_ERRORS):
        await db.execute("UPDATE points_ledger SET user_id = ? WHERE id = ?", (other, row))


async def test_ticket_history_lets_only_reporters_and_followers_become_anonymous(
    db: Store,
) -> None:
    ticket = await add_ticket(db, created_at=AT)
    reporter = await event(db, ticket, ALICE.user_id, "reporter")
    worker = await event(db, ticket, 7, "worker")
    system = await event(db, ticket, None, "system")
    anon = await ErasureRepository(db).new_anonymous_id("forget", AT)
    with pytest.raises(INTEGRITY_ERRORS):
        await db.execute("UPDATE ticket_events SET actor_id = ? WHERE id = ?", (anon, worker))
    with pytest.raises(INTEGRITY_ERRORS):
        await db.execute(
            "UPDATE ticket_events SET actor_id = ?, kind = 'closed' WHERE id = ?",
            (anon, reporter),
        )
    with pytest.raises(INTEGRITY_ERRORS):
        await db.execute("UPDATE ticket_events SET kind = 'closed' WHERE id = ?", (system,))
    await db.execute("UPDATE ticket_events SET actor_id = ? WHERE id = ?", (anon, reporter))
    actors = await db.fetchall("SELECT id, actor_id FROM ticket_events ORDER BY id")
    assert [(r["id"], r["actor_id"]) for r in actors] == [
        (reporter, anon),
        (worker, 7),
        (system, None),
    ]


async def test_anonymising_a_ticket_keeps_the_building_and_each_rater_apart(db: Store) -> None:
    ticket = await add_ticket(db, created_at=AT, building="4", status="closed")
    await db.execute(
        "UPDATE tickets SET location = ?, closed_at = ? WHERE id = ?",
        (json.dumps({"building": "4", "room": "301"}), AT.isoformat(), ticket),
    )
    ratings = FollowerRatings(db)
    for user in (BOB, CAROL):
        assert await ratings.add(ticket, AT, user.user_id, "basic", AT + timedelta(hours=1))
    assert not await ratings.add(ticket, AT, BOB.user_id, "satisfied", AT)
    erasure = ErasureRepository(db)
    closed = await erasure.closed_before("demo", AT + timedelta(days=1), 10)
    assert [(c.id, c.reporter_id) for c in closed] == [(ticket, ALICE.user_id)]
    anon = await erasure.new_anonymous_id("retention", AT)
    await erasure.anonymise_ticket(ticket, anon, AT + timedelta(days=1))

    row = await db.fetchone(
        "SELECT text, reporter_name, reporter_id, location, building FROM tickets WHERE id = ?",
        (ticket,),
    )
    assert row is not None
    assert (row["text"], row["reporter_name"], row["reporter_id"]) == (
        ERASED_TEXT,
        ANONYMOUS_NAME,
        anon,
    )
    assert json.loads(row["location"]) == {"building": "4"} and row["building"] == "4"
    raters = [user for user, _ in await ratings.of_ticket(ticket)]
    assert len(set(raters)) == 2 and all(user < 0 for user in raters)
    assert await erasure.closed_before("demo", AT + timedelta(days=2), 10) == []


async def test_forgetting_a_person_finds_their_updates_by_number(db: Store) -> None:
    payloads = [
        {"update_id": 1, "message": {"from": {"id": ALICE.user_id}, "chat": {"id": -100}}},
        {"update_id": 2, "callback_query": {"from": {"id": ALICE.user_id}}},
        {"update_id": 3, "message": {"from": {"id": BOB.user_id}, "chat": {"id": -100}}},
    ]
    for payload in payloads:
        await db.execute(
            "INSERT INTO inbox (update_id, payload, received_at, status) VALUES (?, ?, ?, 'done')",
            (payload["update_id"], json.dumps(payload), AT.isoformat()),
        )
    erasure = ErasureRepository(db)
    assert (await erasure.export(ALICE.user_id))["messages"] == [{"stored_updates": 2}]
    await erasure.forget_person(ALICE.user_id)
    left = await db.fetchall("SELECT update_id FROM inbox ORDER BY update_id")
    assert [r["update_id"] for r in left] == [3]


async def test_the_audit_log_names_a_person_until_they_are_forgotten(db: Store) -> None:
    audit = AuditRepository(db)
    await audit.add(AT, 1, "刘书记", "award", subject_id=ALICE.user_id, detail={"points": 5})
    await audit.add(AT + timedelta(minutes=1), None, "", "prune", target="inbox")
    entries = await audit.recent()
    assert [(e.action, e.subject_id) for e in entries] == [
        ("prune", None),
        ("award", ALICE.user_id),
    ]
    assert [e.action for e in await audit.recent(since=AT + timedelta(seconds=30))] == ["prune"]
    await ErasureRepository(db).forget_person(ALICE.user_id)
    assert [e.subject_id for e in await audit.recent()] == [None, None]


async def test_forgetting_a_reporter_drops_the_questions_about_their_messages(db: Store) -> None:
    questions = ConversationRepository(db)
    for user, message_id in ((ALICE.user_id, 60), (BOB.user_id, 61)):
        await questions.hold(
            user,
            -100,
            message_id,
            "intake",
            "building",
            {"text": "电梯坏了"},
            AT,
            AT + timedelta(days=1),
        )
    erasure = ErasureRepository(db)
    anon = await erasure.new_anonymous_id("forget", AT)
    await erasure.forget_in_tickets(ALICE.user_id, anon, {})
    left = await db.fetchall("SELECT user_id FROM conversations")
    assert [r["user_id"] for r in left] == [BOB.user_id]


async def test_forgetting_a_person_drops_their_own_dialogues(db: Store) -> None:
    """A half-written task draft or a reason they were typing holds their words too."""
    conversations = ConversationRepository(db)
    for user in (ALICE.user_id, BOB.user_id):
        await conversations.save(
            user, user, "task", "title", {"title": "帮忙修灯"}, 0, AT, AT + timedelta(days=1)
        )
    await ErasureRepository(db).forget_person(ALICE.user_id)
    left = await db.fetchall("SELECT user_id FROM conversations")
    assert [r["user_id"] for r in left] == [BOB.user_id]


async def said(db: Store, ticket_id: int, actor_id: int, role: str, kind: str, words: str) -> int:
    key = "reason" if kind == "unsatisfied_reason" else "note"
    return int(
        await db.fetchval(
            "INSERT INTO ticket_events (ticket_id, at, actor_id, actor_role, kind, detail)"
            " VALUES (?, ?, ?, ?, ?, ?) RETURNING id",
            (ticket_id, AT.isoformat(), actor_id, role, kind, json.dumps({key: words})),
        )
    )


async def details(db: Store, ticket_id: int) -> list[tuple[str, dict[str, object]]]:
    rows = await db.fetchall(
        "SELECT kind, detail FROM ticket_events WHERE ticket_id = ? ORDER BY id", (ticket_id,)
    )
    return [(str(r["kind"]), json.loads(r["detail"])) for r in rows]


async def test_a_residents_later_words_go_with_the_ticket_and_with_them(db: Store) -> None:
    """What a reporter added, edited or said when not satisfied is erased with the ticket's
    words (retention) and with the person (/forget); a worker's note stays; nothing else may
    rewrite a detail."""
    kept = await add_ticket(db, created_at=AT, status="closed")
    await said(db, kept, ALICE.user_id, "reporter", "added_words", "我家电话13912345678")
    await said(db, kept, ALICE.user_id, "reporter", "source_edited", "3号楼2单元301电梯坏了")
    await said(db, kept, BOB.user_id, "follower", "unsatisfied_reason", "王师傅根本没来")
    await said(db, kept, 7, "worker", "noted", "维保公司明天来")
    erasure = ErasureRepository(db)
    anon = await erasure.new_anonymous_id("retention", AT)
    with pytest.raises(INTEGRITY_ERRORS):  # words may go only with the person's id
        await db.execute(
            "UPDATE ticket_events SET detail = '{\"erased\": true}' WHERE ticket_id = ?", (kept,)
        )
    with pytest.raises(INTEGRITY_ERRORS):  # and only to the erased mark
        await db.execute(
            "UPDATE ticket_events SET actor_id = ?, detail = '{}' WHERE ticket_id = ?"
            " AND actor_role = 'reporter'",
            (anon, kept),
        )
    await erasure.anonymise_ticket(kept, anon, AT + timedelta(days=1))
    assert await details(db, kept) == [
        ("added_words", {"erased": True}),
        ("source_edited", {"erased": True}),
        ("unsatisfied_reason", {"erased": True}),
        ("noted", {"note": "维保公司明天来"}),
    ]


async def test_forgetting_a_follower_erases_the_words_they_added(db: Store) -> None:
    ticket = await add_ticket(db, created_at=AT)
    await said(db, ticket, BOB.user_id, "follower", "added_words", "我们单元也是，我住502")
    await said(db, ticket, ALICE.user_id, "reporter", "added_words", "麻烦快点")
    erasure = ErasureRepository(db)
    anon = await erasure.new_anonymous_id("forget", AT)
    await erasure.forget_in_tickets(BOB.user_id, anon, {})
    assert await details(db, ticket) == [
        ("added_words", {"erased": True}),
        ("added_words", {"note": "麻烦快点"}),  # the reporter was not forgotten
    ]
