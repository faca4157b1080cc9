"""Migrations: landed ones never change, and every past schema upgrades to head with its data."""

from __future__ import annotations

import hashlib
import json
import sqlite3
import tomllib
from collections.abc import Callable
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from bot.nlp import NONE
from bot.services.bootstrap import build_services
from bot.services.clock import FakeClock
from bot.services.errors import DomainError
from bot.services.flows import INTAKE, STAFF_QUESTIONS, AwaitStaff, HeldReport
from bot.services.intake import NOT_COMPLAINT, OPENED, Outcome, Report
from storage.db import Database, _split_sql, load_migrations, migration_mode
from storage.pg import PgDatabase, load_pg_migrations
from storage.store import Store
from tests.botkit import EXAMPLE_CONFIG

# What each migration held when it landed on main. A landed migration is never edited: a change
# of schema is a new migration. Add a line here when a new migration lands.
LANDED = {
    "0001_foundation.sql": "b5d81e28f4c2a547d8891cc157e368d7f4379a7a9d5e9538b55cc6ab67b6525f",
    "0002_tickets.sql": "4a417c35013f41946b397b58422633e14a458640ea96039299ef7d2150cd3061",
    "0003_community.sql": "a54574af8f7b85b687526177b9eb4b5e10abacda3d3d8b951fdfac94dad28aa5",
    "0004_classifier.sql": "ab24b0bdb9929ce1acc6248331d4ed0f68c8632dae0585a71c49c234bdf7e8f8",
    "0005_lifecycle.sql": "4a5bcfa43f572931ccc0ded4117758b5bd42521bd1224aa6629b069e3a1d6e0f",
    "0006_points.sql": "34a4e1be9c0229c0f942a30063cc61a049005b648da4150bd59b4c9779f774b8",
    "0007_prompts.sql": "71874689b4c35e7dec0ce09d20a7a3fad1bce3d7104e6c12effec1c87c0fd84d",
    "0008_dialogues.sql": "d0eafabeba18da3bc31cef80409df79aa6aba551254662251d4a8d6f8f97c968",
    "0009_records.sql": "19a5f4d970f4c094687d2d05a874ebc87b6e9d085f09fe9f7ab59fa63d574ca2",
    "0010_triage.sql": "7f2a96c9e9d6fd50790c63050eb13e685016dd02d69253ebe67f79c870439276",
    "0011_privacy.sql": "1a7b98ef78c1652a507fe401e856fd679ec51041636e11a299e0a7f87b704669",
    "0012_rates_index.sql": "186d57041abbda7aa501ea3b64ac82a46488371b697ed6041cada92ccb8d4778",
    "0013_conversations.sql": "6efbf813eb825eac541b273cc21066d1ead8ddb3bc01737d24f1f4ef5de8a4ce",
    "0014_delivery.sql": "5a463bc725257b10e7ce2399486528ad559d04584650137c291dd2066ad5d1f1",
    "0015_staff_questions.sql": "b96c5e1a191f42fd21c1a4ebd5edc9c0a8a36021472558ec30508509d104f9a6",
    "0016_pending_open_index.sql": (
        "5a1af4dc2c0791d65145eccb3d2f429e3488e72066b0817e2d1f66c4ed5040c8"
    ),
    "0017_intake_dialogues.sql": (
        "64950977e2c6e52847e083b3ba10d10c29e7b1afbad7df8841ff60eb6d129f0a"
    ),
    "0018_fleet.sql": "c7228da2bcfd3f0c476e76b6a13479ffc5c15d9404600f318abd09bf107f44e6",
    "0019_communities.sql": "296ee1e4f2a5b972c5093a044fcc3d6bdb86b2c5eec9cb44898135ac13a3de48",
    "0020_drop_old_question_stores.sql": (
        "3a089802eaf1818ec56d0eb43c61338c691023ae13f9cd54beff3cf9fc041b41"
    ),
    "0021_ticket_clock.sql": "c64d81fe07860f8c4df3ffa76680e90060979d676880449d4b7158fedca809a2",
    "0022_erase_residents_later_words.sql": (
        "b8f9865cc85f279269e30c57926b9da170829dffe42c247cd332d24a4b70e446"
    ),
    "0023_ticket_videos.sql": "925b81521b59ee73510cb06939ab1f42e5ddc8a6fb7b71d97c3561effcdb8d63",
}
# Tables a migration dropped after an earlier one moved every open row elsewhere (the moves
# are tested below: test_open_dialogues_move_…, test_open_questions_to_staff_move_…, and the
# intake questions' move)
DROPPED = {"prompts": 20, "dialogues": 20, "pending_reports": 20}

T0 = "2026-11-20T02:00:00+00:00"
T1 = "2026-11-21T02:00:00+00:00"
FUTURE = "2027-01-01T00:00:00+00:00"


def test_landed_migrations_are_unchanged() -> None:
    found = {name: hashlib.sha256(sql.encode()).hexdigest() for _, name, sql in load_migrations()}
    for name, digest in LANDED.items():
        assert name in found, f"landed migration {name} was removed or renamed"
        assert found[name] == digest, f"landed migration {name} was edited: add a new one instead"


# Representative rows for the tables each version added, written as a deployment of that
# version would have written them (two residents, a public and a private ticket, a ledger).


def _v1(c: sqlite3.Connection) -> None:
    c.execute(
        "INSERT INTO inbox (update_id, payload, received_at, status, attempts, done_at)"
        " VALUES (1001, '{\"update_id\": 1001}', ?, 'done', 1, ?)",
        (T0, T0),
    )
    c.execute(
        "INSERT INTO inbox (update_id, payload, received_at)"
        " VALUES (1002, '{\"update_id\": 1002}', ?)",
        (T0,),
    )
    c.execute(
        "INSERT INTO kv (key, value, updated_at) VALUES ('bot_username', 'gridbot', ?)", (T0,)
    )
    c.execute(
        "INSERT INTO outbox (dedup_key, chat_id, payload, created_at, not_before, status,"
        " attempts, sent_at, message_id) VALUES ('digest:-100:2026-11-20', -100,"
        " '{\"text\": \"今日待办\"}', ?, ?, 'sent', 1, ?, 77)",
        (T0, T0, T0),
    )


def _v2(c: sqlite3.Connection) -> None:
    c.execute("INSERT INTO ticket_numbers (community, last) VALUES ('xfl', 2)")
    for number, private, reporter, text in (
        (1, 0, 501, "3号楼电梯坏了，困人了"),
        (2, 1, 502, "楼上漏水到我家，电话13812345678"),
    ):
        c.execute(
            "INSERT INTO tickets (id, community, number, source_key, text, category, confidence,"
            " urgency, building, grid, reporter_id, reporter_name, is_private, chat_id,"
            " message_id,"
            " status, assignee_key, created_at, accept_due_at, next_check_at)"
            " VALUES (?, 'xfl', ?, ?, ?, 'facilities', 0.9, 'normal', '3', 'g1', ?, '王阿姨', ?,"
            " -100, ?, 'open', 'li', ?, ?, ?)",
            (number, number, f"msg:-100:{number}", text, reporter, private, number, T0, T1, T1),
        )
        c.execute(
            "INSERT INTO ticket_events (ticket_id, at, actor_id, actor_role, kind, to_status)"
            " VALUES (?, ?, ?, 'reporter', 'opened', 'open')",
            (number, T0, reporter),
        )
    c.execute(
        "INSERT INTO ticket_photos (ticket_id, file_id, file_unique_id, added_by, role, at)"
        " VALUES (1, 'AgAD1', 'u1', 501, 'reporter', ?)",
        (T0,),
    )
    c.execute(
        "INSERT INTO ticket_followers (ticket_id, user_id, name, chat_id, at)"
        " VALUES (1, 503, '张叔', -100, ?)",
        (T0,),
    )


def _v3(c: sqlite3.Connection) -> None:
    c.execute(
        "INSERT INTO worker_links (worker_key, telegram_id, linked_at) VALUES ('li', 9001, ?)",
        (T0,),
    )
    c.execute(
        "INSERT INTO invites (code, worker_key, created_at, expires_at)"
        " VALUES ('abc123', 'wang', ?, ?)",
        (T0, FUTURE),
    )
    c.execute(
        "INSERT INTO group_bindings (chat_id, grids, title, bound_by, bound_at)"
        " VALUES (-100, '[\"g1\"]', '幸福里一网格', 9100, ?)",
        (T0,),
    )
    c.execute(
        "INSERT INTO chat_migrations (old_chat_id, new_chat_id, at) VALUES (-99, -1009, ?)", (T0,)
    )
    for user_id, name in ((501, "王阿姨"), (502, "刘先生"), (9001, "李娜")):
        c.execute(
            "INSERT INTO users (user_id, name, started_at, updated_at) VALUES (?, ?, ?, ?)",
            (user_id, name, T0, T0),
        )
    c.execute(
        "INSERT INTO pending_reports (kind, reporter_id, reporter_name, chat_id, message_id, text,"
        " reading, created_at, expires_at) VALUES ('ask_building', 501, '王阿姨', -100, 50,"
        " '电梯又坏了', '{}', ?, ?)",
        (T0, FUTURE),
    )


def _v4(c: sqlite3.Connection) -> None:
    c.execute(
        "INSERT INTO classifier_corrections (community, text, wrong, correct, actor_id, ticket_id,"
        " words, created_at) VALUES ('xfl', '楼道堆满纸箱', 'environment', 'fire_safety', 9001, 1,"
        " '[\"纸箱\"]', ?)",
        (T0,),
    )
    c.execute(
        "INSERT INTO classifier_weights"
        " (community, word, category, delta, corrections, updated_at)"
        " VALUES ('xfl', '纸箱', 'fire_safety', 0.5, 1, ?)",
        (T0,),
    )


def _v5(c: sqlite3.Connection) -> None:
    c.execute(
        "INSERT INTO ticket_steps (ticket_id, phase, step, started_at, deadline_at, due_at)"
        " VALUES (1, 'accept', 'remind', ?, ?, ?)",
        (T0, T1, T1),
    )
    c.execute(
        "INSERT INTO ticket_whistles (ticket_id, department, contact_id, whistled_at, ack_due_at)"
        " VALUES (1, 'fire', 9200, ?, ?)",
        (T0, T1),
    )
    c.execute(
        "INSERT INTO ticket_ratings (ticket_id, resolved_at, user_id, role, rating, at)"
        " VALUES (1, ?, 501, 'reporter', 'satisfied', ?)",
        (T0, T1),
    )


def _v6(c: sqlite3.Connection) -> None:
    c.execute(
        "INSERT INTO residents (user_id, name, building, unit, room, household_key, registered_at,"
        " updated_at) VALUES (501, '王阿姨', '3', '2', '301', '3-2-301', ?, ?)",
        (T0, T0),
    )
    c.execute(
        "INSERT INTO tasks (id, title, points, capacity, audience, publisher_id, publisher_name,"
        " created_at) VALUES (1, '换楼道灯泡', 5, 2, 'public', 9001, '李娜', ?)",
        (T0,),
    )
    c.execute(
        "INSERT INTO task_claims (id, task_id, user_id, name, status, claimed_at, verified_at,"
        " verified_by) VALUES (1, 1, 501, '王阿姨', 'approved', ?, ?, 9001)",
        (T0, T1),
    )
    c.execute(
        "INSERT INTO catalogue_stock (code, name, points, stock, config_stock, updated_at)"
        " VALUES ('soap', '洗衣皂', 3, 9, 10, ?)",
        (T0,),
    )
    c.execute(
        "INSERT INTO redemptions (id, user_id, name, item_code, item_name, quantity, points,"
        " status, requested_at) VALUES (1, 501, '王阿姨', 'soap', '洗衣皂', 1, 3, 'requested', ?)",
        (T1,),
    )
    c.execute(
        "INSERT INTO points_ledger"
        " (user_id, delta, kind, rule, reason, actor_id, task_id, claim_id, at)"
        " VALUES (501, 5, 'task', 'task', '换楼道灯泡', 9001, 1, 1, ?)",
        (T1,),
    )
    c.execute(
        "INSERT INTO points_ledger (user_id, delta, kind, rule, reason, redemption_id, at)"
        " VALUES (501, -3, 'redemption', 'redemption', '兑换 洗衣皂', 1, ?)",
        (T1,),
    )
    c.execute(
        "INSERT INTO point_balances (user_id, name, balance, earned, updated_at)"
        " VALUES (501, '王阿姨', 2, 5, ?)",
        (T1,),
    )
    c.execute(
        "INSERT INTO group_schedules (chat_id, overrides, updated_by, updated_at)"
        ' VALUES (-100, \'{"digest": "08:00"}\', 9100, ?)',
        (T0,),
    )
    c.execute(
        "INSERT INTO schedule_runs (chat_id, kind, period, outcome, outbox_id, decided_at)"
        " VALUES (-100, 'digest', '2026-11-20', 'queued', 1, ?)",
        (T0,),
    )


def _v7(c: sqlite3.Connection) -> None:
    c.execute(
        "INSERT INTO prompts (user_id, chat_id, action, ticket_id, created_at, expires_at)"
        " VALUES (9001, 9001, 'resolve', 1, ?, ?)",
        (T0, FUTURE),
    )


def _v8(c: sqlite3.Connection) -> None:
    c.execute(
        "INSERT INTO dialogues (user_id, kind, chat_id, state, updated_at, expires_at)"
        " VALUES (9001, 'task', 9001, '{\"step\": \"title\"}', ?, ?)",
        (T0, FUTURE),
    )


def _v9(c: sqlite3.Connection) -> None:
    c.execute(
        "INSERT INTO reject_requests (ticket_id, reason, requested_by, requester_key,"
        " requested_at, chat_id) VALUES (1, '不属于本社区', 9001, 'li', ?, 9001)",
        (T1,),
    )


def _v10(c: sqlite3.Connection) -> None:
    c.execute(
        "INSERT INTO triage_items (community, source_key, chat_id, message_id, reporter_id,"
        " reporter_name, text, reading, worker_key, worker_id, created_at, due_at)"
        " VALUES ('xfl', 'msg:-100:60', -100, 60, 502, '刘先生', '楼下好像有点吵', '{}',"
        " 'li', 9001, ?, ?)",
        (T0, T1),
    )


def _v11(c: sqlite3.Connection) -> None:
    c.execute(
        "INSERT INTO ticket_follower_ratings (ticket_id, resolved_at, user_id, rating, at)"
        " VALUES (1, ?, 503, 'basic', ?)",
        (T0, T1),
    )
    c.execute("INSERT INTO anonymous_ids (reason, at) VALUES ('retention', ?)", (T1,))
    c.execute("INSERT INTO audit_people (ref, user_id) VALUES (1, 501)")
    c.execute(
        "INSERT INTO audit_log (at, actor_id, actor_name, action, subject_ref, target, detail)"
        " VALUES (?, 9100, '刘书记', 'award', 1, '', '{\"delta\": 5}')",
        (T1,),
    )


def _v12(c: sqlite3.Connection) -> None:
    """0012 adds an index only: nothing new to fill."""


def _v13(c: sqlite3.Connection) -> None:
    c.execute(
        "INSERT INTO conversations (user_id, chat_id, flow, step, data, updated_at, expires_at)"
        " VALUES (501, -100, 'proof', 'photo', '{\"task_id\": 1}', ?, ?)",
        (T1, FUTURE),
    )


def _v14(c: sqlite3.Connection) -> None:
    """0014 adds delivery columns: a message a crash left in flight, sent again once."""
    c.execute(
        "INSERT INTO outbox (dedup_key, chat_id, payload, created_at, not_before, status,"
        " attempts, in_flight_at, resent, first_try_at) VALUES ('upd:1002:1', -100,"
        " '{\"text\": \"已收到\"}', ?, ?, 'pending', 1, ?, 1, ?)",
        (T1, T1, T1, T1),
    )


def _v15(c: sqlite3.Connection) -> None:
    """0015 moves open staff questions into conversations and creates no table: nothing new."""


def _v16(c: sqlite3.Connection) -> None:
    """0016 adds an index only: nothing new to fill."""


def _v17(c: sqlite3.Connection) -> None:
    """0017 moves open intake questions into conversations and creates no table: nothing new."""


def _v18(c: sqlite3.Connection) -> None:
    """0018 adds the inbox's claim columns: an update a fleet instance holds a lease on."""
    c.execute(
        "INSERT INTO inbox (update_id, payload, received_at, claimed_by, claimed_at, lanes)"
        " VALUES (1801, '{\"update_id\": 1801}', ?, 'pid 7 on web-1', ?, 'chat:-100')",
        (T1, T1),
    )


def _v19(c: sqlite3.Connection) -> None:
    """0019 keys a community's rows by its name: a second community's worker and balance."""
    c.execute(
        "INSERT INTO worker_links (community, worker_key, telegram_id, linked_at)"
        " VALUES ('和谐家园社区', 'li', 4001, ?)",
        (T1,),
    )
    c.execute(
        "INSERT INTO point_balances (community, user_id, name, balance, earned, updated_at)"
        " VALUES ('和谐家园社区', 601, '周', 0, 0, ?)",
        (T1,),
    )


def _v20(c: sqlite3.Connection) -> None:
    """0020 drops the old question stores and creates no table: nothing new."""


def _v21(c: sqlite3.Connection) -> None:
    """The sweep's clock in a table of its own: a ticket opened since, escalated to the office."""
    c.execute(
        "INSERT INTO tickets (id, community, number, source_key, text, category, confidence,"
        " urgency, building, grid, reporter_id, reporter_name, is_private, chat_id, message_id,"
        " status, assignee_key, created_at, accept_due_at)"
        " VALUES (3, 'xfl', 3, 'msg:-100:3', '路灯不亮', 'facilities', 0.9, 'normal', '5', 'g1',"
        " 503, '张叔', 0, -100, 3, 'new', 'li', ?, ?)",
        (T0, T1),
    )
    c.execute(
        "INSERT INTO ticket_clock (ticket_id, community, escalation_level, next_check_at)"
        " VALUES (3, 'xfl', 1, ?)",
        (FUTURE,),
    )


def _v22(c: sqlite3.Connection) -> None:
    """0022 lets anonymisation erase a resident's later words and creates no table: nothing
    new (test_words_left_by_earlier_anonymisations_are_erased_on_upgrade)."""


def _v23(c: sqlite3.Connection) -> None:
    """A video kept as evidence on the ticket of _v2."""
    c.execute(
        "INSERT INTO ticket_photos (ticket_id, file_id, file_unique_id, added_by, role, at, kind)"
        " VALUES (1, 'BAACAgIAAxkBAAI', 'AgADvideo', 501, 'reporter', ?, 'video')",
        (T1,),
    )


FILLERS: dict[int, Callable[[sqlite3.Connection], None]] = {
    1: _v1, 2: _v2, 3: _v3, 4: _v4, 5: _v5, 6: _v6, 7: _v7, 8: _v8,
    9: _v9, 10: _v10, 11: _v11, 12: _v12, 13: _v13, 14: _v14, 15: _v15, 16: _v16, 17: _v17,
    18: _v18, 19: _v19, 20: _v20, 21: _v21, 22: _v22, 23: _v23,
}  # fmt: skip


def _build(path: Path, version: int) -> None:
    """Create the schema exactly as a deployment at `version` has it, with its data."""
    conn = sqlite3.connect(path, isolation_level=None)
    try:
        conn.execute("PRAGMA foreign_keys = ON")
        conn.execute(
            "CREATE TABLE schema_version ("
            " version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at TEXT NOT NULL)"
        )
        # Past schemas whose tables a later migration dropped (DROPPED) are filled before the
        # drop; otherwise every migration is applied first and every filler after, so that
        # the upgrade under test moves all the data.
        interleave = any(version >= at for at in DROPPED.values())
        for number, name, sql in load_migrations()[:version]:
            # As the runner does: a migration that rebuilds a table runs with foreign keys off.
            keys_off = not migration_mode(name, sql).foreign_keys
            if keys_off:
                conn.execute("PRAGMA foreign_keys = OFF")
            conn.execute("BEGIN")
            for statement in _split_sql(sql):
                conn.execute(statement)
            conn.execute(
                "INSERT INTO schema_version (version, name, applied_at) VALUES (?, ?, ?)",
                (number, name, T0),
            )
            conn.execute("COMMIT")
            if keys_off:
                conn.execute("PRAGMA foreign_keys = ON")
            if interleave:
                conn.execute("BEGIN")
                FILLERS[number](conn)
                conn.execute("COMMIT")
        for number in range(1, version + 1) if not interleave else ():
            conn.execute("BEGIN")
            FILLERS[number](conn)
            conn.execute("COMMIT")
    finally:
        conn.close()


def _snapshot(path: Path) -> dict[str, int]:
    conn = sqlite3.connect(path)
    try:
        tables = [
            r[0]
            for r in conn.execute(
                "SELECT name FROM sqlite_master WHERE type = 'table'"
                " AND name NOT LIKE 'sqlite_%' AND name != 'schema_version'"
            )
        ]
        return {t: conn.execute(f'SELECT COUNT(*) FROM "{t}"').fetchone()[0] for t in tables}
    finally:
        conn.close()


def test_every_landed_version_has_a_filler() -> None:
    # A migration still on its branch may bring its filler before it is pinned in LANDED.
    assert set(range(1, len(LANDED) + 1)) <= set(FILLERS)
    assert set(FILLERS) <= {number for number, _, _ in load_migrations()}


@pytest.mark.parametrize("version", sorted(FILLERS))
async def test_a_past_schema_upgrades_to_head_with_its_data(tmp_path: Path, version: int) -> None:
    path = tmp_path / "db.sqlite3"
    _build(path, version)
    before = _snapshot(path)
    assert all(before.values()), f"the filler left a table empty: {before}"

    async with Database(path) as database:
        head = load_migrations()[-1][0]
        assert await database.schema_version() == head
        assert await database.fetchval("PRAGMA foreign_key_check") is None
        after = {t: n for t, n in _snapshot(path).items() if t in before}
        # A table may be rebuilt or split by a later migration, never emptied of what it held.
        for table, count in before.items():
            if table in DROPPED:
                assert table not in after, f"{table} should be gone at head"
                continue
            assert table in after, f"migration to head dropped table {table}"
            assert after[table] >= count, f"{table}: {count} rows before, {after[table]} after"
        if version >= 2:
            texts = await database.fetchall("SELECT text FROM tickets ORDER BY number")
            assert [r["text"] for r in texts][:1] == ["3号楼电梯坏了，困人了"]
        if version >= 6:
            total = await database.fetchval("SELECT SUM(delta) FROM points_ledger")
            assert total == 2
            stock = await database.fetchval("SELECT stock FROM catalogue_stock WHERE code='soap'")
            assert stock == 9


async def test_words_left_by_earlier_anonymisations_are_erased_on_upgrade(
    tmp_path: Path,
) -> None:
    """A ticket anonymised before 0022 kept its reporter's later words in its history (their id
    anonymous): the upgrade erases them; a worker's note and an event's other details stay."""
    path = tmp_path / "db.sqlite3"
    _build(path, 21)
    conn = sqlite3.connect(path, isolation_level=None)
    try:
        rows = [
            (-7, "reporter", "added_words", '{"note": "我家电话13912345678"}'),
            (-7, "reporter", "unsatisfied_reason", '{"reason": "王师傅根本没来"}'),
            (-7, "reporter", "opened", '{"category": "facilities"}'),
            (7, "worker", "noted", '{"note": "维保明天来"}'),
        ]
        for actor, role, kind, detail in rows:
            conn.execute(
                "INSERT INTO ticket_events (ticket_id, at, actor_id, actor_role, kind, detail)"
                " VALUES (1, ?, ?, ?, ?, ?)",
                (T1, actor, role, kind, detail),
            )
    finally:
        conn.close()
    async with Database(path) as database:
        found = await database.fetchall(
            "SELECT kind, detail FROM ticket_events WHERE at = ? ORDER BY id", (T1,)
        )
        assert [(r["kind"], json.loads(r["detail"])) for r in found] == [
            ("added_words", {"erased": True}),
            ("unsatisfied_reason", {"erased": True}),
            ("opened", {"category": "facilities"}),
            ("noted", {"note": "维保明天来"}),
        ]


async def test_open_dialogues_move_to_the_one_conversation_store(tmp_path: Path) -> None:
    """The guided /task new and the 不满意 question a person was in survive the upgrade."""
    path = tmp_path / "db.sqlite3"
    _build(path, 8)  # the dialogues table holds 9001's task dialogue at its title step
    conn = sqlite3.connect(path, isolation_level=None)
    try:
        for user, answered in ((502, 0), (501, 88)):
            value = (
                f'{{"ticket_id": 1, "chat_id": -100, "expires_at": "{FUTURE}",'
                f' "answered_by": {answered}}}'
            )
            conn.execute(
                "INSERT INTO kv (key, value, updated_at) VALUES (?, ?, ?)",
                (f"rate_reason:{user}", value, T0),
            )
    finally:
        conn.close()

    async with Database(path) as database:
        rows = await database.fetchall(
            "SELECT user_id, chat_id, flow, step, data, last_message_id FROM conversations"
            " WHERE topic = 0 ORDER BY user_id"  # the one dialogue of each person and chat
        )
        found = [
            (r["user_id"], r["chat_id"], r["flow"], r["step"], r["last_message_id"]) for r in rows
        ]
        assert found == [
            (501, -100, "unsatisfied", "done", 88),
            (502, -100, "unsatisfied", "reason", 0),
            (9001, 9001, "task", "title", 0),
        ]
        assert json.loads(rows[1]["data"]) == {"ticket_id": 1}
        left = await database.fetchval("SELECT COUNT(*) FROM kv WHERE key LIKE 'rate_reason:%'")
        assert left == 0


_PROMPT_ROWS = [
    # 9002 was asked for a 办结 note, then for a transfer reason: the later question holds.
    (9002, 9002, "resolve", 1, "{}", T0, FUTURE, None),
    (9002, 9002, "transfer", 1, '{"worker": "zhang"}', T1, FUTURE, None),
    # A question answered already stays answered.
    (9003, 9003, "reject", 1, "{}", T1, FUTURE, T1),
    # 501 is in a newer dialogue in that chat (the proof photo, at T1): it holds.
    (501, -100, "duplicate", 1, "{}", T0, FUTURE, None),
]
_INSERT_PROMPT = (
    "INSERT INTO prompts (user_id, chat_id, action, ticket_id, data, created_at, expires_at,"
    " done_at) VALUES ({})"
)


def _staff_questions_expected(found: dict[tuple[int, int], tuple[str, str, Any]]) -> None:
    assert found[(9002, 9002)] == (
        "transfer",
        "reason",
        {"ticket_id": 1, "data": {"worker": "zhang"}},
    )
    assert STAFF_QUESTIONS["transfer"].load(found[(9002, 9002)][2]) == AwaitStaff(
        1, {"worker": "zhang"}
    )
    assert (9003, 9003) not in found
    assert found[(501, -100)][0] == "proof"


async def test_open_questions_to_staff_move_to_the_one_conversation_store(tmp_path: Path) -> None:
    """A worker's pending transfer reason (or 办结 note …) survives the upgrade as a dialogue."""
    path = tmp_path / "db.sqlite3"
    before = next(
        number for number, name, _ in load_migrations() if name.endswith("_staff_questions.sql")
    )
    _build(path, before - 1)  # the schema a deployment had before the move
    conn = sqlite3.connect(path, isolation_level=None)
    try:
        conn.executemany(_INSERT_PROMPT.format(", ".join("?" * 8)), _PROMPT_ROWS)
    finally:
        conn.close()

    async with Database(path) as database:
        rows = await database.fetchall(
            "SELECT user_id, chat_id, flow, step, data FROM conversations WHERE topic = 0"
        )
        found = {
            (r["user_id"], r["chat_id"]): (r["flow"], r["step"], json.loads(r["data"]))
            for r in rows
        }
        _staff_questions_expected(found)
        # 9001's 办结 question (0007's filler) waits for its note.
        assert found[(9001, 9001)] == ("resolve", "note", {"ticket_id": 1, "data": {}})


async def test_postgresql_moves_open_questions_to_staff_alike(pg_url: str) -> None:
    migrations = load_pg_migrations()
    at = next(
        i for i, (_, name, _) in enumerate(migrations) if name.endswith("_staff_questions.sql")
    )
    database = PgDatabase(pg_url)
    await database.open(migrate=False)
    try:
        await database.migrate(migrations[:at])
        await database.execute(
            "INSERT INTO tickets (id, community, number, source_key, text, category, confidence,"
            " urgency, building, grid, reporter_id, reporter_name, is_private, chat_id,"
            " message_id, status, assignee_key, created_at, accept_due_at, next_check_at)"
            " VALUES (1, 'xfl', 1, 'msg:-100:1', '3号楼电梯坏了', 'facilities', 0.9, 'normal',"
            " '3', 'g1', 501, '王阿姨', 0, -100, 1, 'open', 'li', ?, ?, ?)",
            (T0, T1, T1),
        )
        await database.execute(
            "INSERT INTO conversations (user_id, chat_id, flow, step, data, updated_at,"
            " expires_at) VALUES (501, -100, 'proof', 'photo', '{\"task_id\": 1}', ?, ?)",
            (T1, FUTURE),
        )
        for row in _PROMPT_ROWS:
            await database.execute(_INSERT_PROMPT.format(", ".join("?" * 8)), row)
        await database.migrate(migrations)
        rows = await database.fetchall(
            "SELECT user_id, chat_id, flow, step, data FROM conversations WHERE topic = 0"
        )
        found = {
            (r["user_id"], r["chat_id"]): (r["flow"], r["step"], json.loads(r["data"]))
            for r in rows
        }
        _staff_questions_expected(found)
    finally:
        await database.close()


# Questions put to reporters before the upgrade: 501 waits on two in the group (which kind, and
# which building, that one's prompt still unsent: a placeholder), 502's was answered.
_READING = {
    "category": "facilities",
    "confidence": 0.9,
    "keywords": ["电梯"],
    "urgency": "normal",
    "location": {"building": None, "unit": None, "room": None, "place": None},
    "candidates": [["facilities", 0.9]],
}
_PENDING_ROWS = [
    (41, "confirm_category", 501, "王阿姨", -100, 60, "楼里有点情况", "[]", 700, None),
    (42, "ask_building", 501, "王阿姨", -100, 61, "电梯坏了", '[["AgAD2", "u2"]]', -5, None),
    (43, "ask_building", 502, "刘先生", -100, 62, "路灯不亮", "[]", 701, "ticket"),
]
_INSERT_PENDING = (
    "INSERT INTO pending_reports (id, kind, reporter_id, reporter_name, chat_id, message_id,"
    " text, photos, prompt_message_id, resolved, reading, created_at, expires_at)"
    " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
)


def _pending_params(row: tuple[Any, ...]) -> tuple[Any, ...]:
    return (*row, json.dumps(_READING), T1, FUTURE)


async def _intake_questions_moved(database: Store) -> None:
    """The questions are intake dialogues under their old ids, and their buttons still work."""
    rows = await database.fetchall(
        "SELECT id, user_id, chat_id, topic, step, data, prompt_message_id FROM conversations"
        " WHERE flow = 'intake' AND id > 40 ORDER BY id"
    )
    found = [
        (r["id"], r["user_id"], r["chat_id"], r["topic"], r["step"], r["prompt_message_id"])
        for r in rows
    ]
    assert found == [
        (41, 501, -100, 60, "category", 700),
        (42, 501, -100, 61, "building", -5),
        (43, 502, -100, 62, "done", 701),
    ]
    assert INTAKE.load(json.loads(rows[1]["data"])) == HeldReport(
        name="王阿姨",
        message_id=61,
        is_private=False,
        text="电梯坏了",
        reading=_READING,
        photos=(("AgAD2", "u2"),),
    )
    # 501's proof dialogue in the group survives beside the questions, under a new id.
    proof = await database.fetchone(
        "SELECT id, step FROM conversations WHERE user_id = 501 AND chat_id = -100 AND topic = 0"
    )
    assert proof is not None and proof["step"] == "photo" and proof["id"] > 43

    config = tomllib.loads(EXAMPLE_CONFIG.read_text(encoding="utf-8"))
    clock = FakeClock(datetime.fromisoformat(T1) + timedelta(hours=1))
    services = await build_services(
        config, str(EXAMPLE_CONFIG), database, clock, ZoneInfo("Asia/Shanghai")
    )
    # A 3号楼 button sent before the upgrade opens the ticket, with the photo it came with.
    opened = await services.intake.answer_location(42, 501, building="3")
    assert opened.kind == OPENED and opened.ticket is not None
    assert (opened.ticket.text, opened.ticket.building) == ("电梯坏了", "3")
    assert len(await services.tickets.photos(opened.ticket.id)) == 1
    assert await services.intake.answer_category(41, 501, NONE) == Outcome(NOT_COMPLAINT)
    with pytest.raises(DomainError) as answered:
        await services.intake.answer_location(43, 502, building="3")
    assert answered.value.code == "already_answered"
    # A new question never takes the id an old button carries.
    fresh = await services.intake.receive(
        Report(-100, 63, False, 501, "王阿姨", "楼道里有点情况", explicit=True)
    )
    assert fresh.pending_id is not None and fresh.pending_id > proof["id"]


async def test_questions_to_reporters_move_to_the_one_conversation_store(tmp_path: Path) -> None:
    """A reporter's pending category or building question survives the upgrade as a dialogue."""
    path = tmp_path / "db.sqlite3"
    at = next(
        i
        for i, (_, name, _) in enumerate(load_migrations())
        if name.endswith("_intake_dialogues.sql")
    )
    _build(path, at)  # the schema a deployment had before the move, with its data
    conn = sqlite3.connect(path, isolation_level=None)
    try:
        conn.executemany(_INSERT_PENDING, [_pending_params(r) for r in _PENDING_ROWS])
    finally:
        conn.close()

    async with Database(path) as database:
        await _intake_questions_moved(database)
        # 0003's filler row (an open 哪栋楼 question) is a dialogue too.
        first = await database.fetchone("SELECT flow, step, topic FROM conversations WHERE id = 1")
        assert first is not None and tuple(first) == ("intake", "building", 50)


async def test_postgresql_moves_questions_to_reporters_alike(pg_url: str) -> None:
    migrations = load_pg_migrations()
    at = next(
        i for i, (_, name, _) in enumerate(migrations) if name.endswith("_intake_dialogues.sql")
    )
    database = PgDatabase(pg_url)
    await database.open(migrate=False)
    try:
        await database.migrate(migrations[:at])
        await database.execute(
            "INSERT INTO conversations (user_id, chat_id, flow, step, data, updated_at,"
            " expires_at) VALUES (501, -100, 'proof', 'photo', '{\"task_id\": 1}', ?, ?)",
            (T1, FUTURE),
        )
        for row in _PENDING_ROWS:
            await database.execute(_INSERT_PENDING, _pending_params(row))
        await database.migrate(migrations)
        await _intake_questions_moved(database)
    finally:
        await database.close()
