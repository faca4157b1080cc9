"""Data with a lifetime: pruning, anonymising, /mydata, /forget and the audit log, over HTTP."""

from __future__ import annotations

import io
import json
import re
from datetime import timedelta
from pathlib import Path

import pytest

from bot import texts
from bot.cli import audit as audit_cli
from bot.cli import points as points_cli
from bot.context import GridContext
from bot.handlers import jobs
from bot.services.clock import FakeClock
from bot.services.residents import Person
from storage import open_database
from storage.privacy import ANONYMOUS_NAME, ERASED_TEXT, AuditRepository
from storage.store import INTEGRITY_ERRORS, Store, is_postgres_url
from tests.botkit import (
    EXAMPLE_CONFIG,
    GROUP,
    RESIDENT,
    SECRETARY,
    WORKER_LI,
    RunningBot,
    bot_db_target,
    open_privates,
    populate,
)
from tests.fastkit import offline_bot, offline_emulator
from tgsandbox import Emulator

pytestmark = pytest.mark.both_stores

PHONE = "13812345678"
COMPLAINT = f"4号楼电梯坏了，关人了！我电话{PHONE}"
ADMIN = Person(SECRETARY, "刘书记", is_admin=True)


def config_with(tmp_path: Path, **days: int) -> Path:
    """The example community with its [privacy] days changed."""
    text = EXAMPLE_CONFIG.read_text(encoding="utf-8")
    for key, value in days.items():
        text, found = re.subn(rf"(?m)^{key} = \d+$", f"{key} = {value}", text)
        assert found == 1, key
    path = tmp_path / "community.toml"
    path.write_text(text, encoding="utf-8")
    return path


async def retention(bot: RunningBot) -> None:
    """Run the periodic retention job as the JobQueue would."""
    await jobs.retention_job(GridContext(bot.app))  # type: ignore[arg-type]


async def closed_ticket(emu: Emulator, bot: RunningBot) -> None:
    """A resident's complaint, accepted, resolved and rated: closed."""
    await emu.send_text(GROUP, RESIDENT, COMPLAINT)
    card = await emu.wait_for(WORKER_LI, lambda m: "工单 #1" in m.text)
    await emu.press_button(WORKER_LI, WORKER_LI, card.message_id, "acc:1")
    await bot.idle()
    await emu.press_button(WORKER_LI, WORKER_LI, card.message_id, "res:1")
    note = await emu.wait_for(WORKER_LI, lambda m: m.text == texts.RESOLVE_NOTE)
    await emu.press_button(WORKER_LI, WORKER_LI, note.message_id, "rs:1")
    request = await emu.wait_for(GROUP, lambda m: "请评价" in m.text)
    await emu.press_button(GROUP, RESIDENT, request.message_id, "rate:1:basic")
    await bot.idle()


async def count(db: Store, sql: str) -> int:
    return int(await db.fetchval(sql))


async def dump(target: str) -> list[str]:
    """Every row of every table, one line each: INSERT INTO "table" VALUES(...)."""
    database = open_database(target)
    await database.open(migrate=False)
    try:
        if is_postgres_url(target):
            tables = await database.fetchall(
                "SELECT table_name AS name FROM information_schema.tables"
                " WHERE table_schema = current_schema() ORDER BY table_name"
            )
        else:
            tables = await database.fetchall(
                "SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name"
            )
        lines = []
        for table in (str(t["name"]) for t in tables):
            for row in await database.fetchall(f"SELECT * FROM {table}"):
                lines.append(f'INSERT INTO "{table}" VALUES({", ".join(map(repr, row))})')
        return lines
    finally:
        await database.close()


async def test_handled_updates_are_pruned_and_closed_tickets_anonymised_on_time(
    tmp_path: Path, clock: FakeClock
) -> None:
    config = config_with(tmp_path, keep_updates_days=2, keep_closed_tickets_days=365)
    async with offline_emulator(privacy_mode=False) as emu:
        populate(emu)
        async with offline_bot(emu, tmp_path, clock=clock, config=config) as bot:
            services = bot.state.require_services()
            db = services.db
            await open_privates(emu, WORKER_LI, RESIDENT)
            await closed_ticket(emu, bot)
            await jobs.drain(GridContext(bot.app))  # type: ignore[arg-type]
            handled = await count(db, "SELECT COUNT(*) FROM inbox WHERE status = 'done'")
            sent = await count(db, "SELECT COUNT(*) FROM outbox WHERE status = 'sent'")
            assert handled > 5 and sent > 0

            clock.advance(timedelta(days=1))  # younger than the setting: kept
            await retention(bot)
            assert await count(db, "SELECT COUNT(*) FROM inbox WHERE status = 'done'") >= handled
            clock.advance(timedelta(days=1, hours=1))  # the setting (2 days) really works
            await retention(bot)
            assert await count(db, "SELECT COUNT(*) FROM inbox WHERE status = 'done'") < 3
            assert await count(db, "SELECT COUNT(*) FROM outbox WHERE status = 'sent'") == 0
            ticket = await services.tickets.get(1)
            assert PHONE in ticket.text  # the closed ticket is still within its retention

            clock.advance(timedelta(days=364))
            await retention(bot)
            ticket = await services.tickets.get(1)
            assert ticket.text == ERASED_TEXT and ticket.reporter_name == ANONYMOUS_NAME
            assert ticket.reporter_id < 0
            # What the statistics count stays.
            assert (ticket.category, ticket.building, ticket.rating) == (
                "facilities",
                "4",
                "basic",
            )
            assert ticket.assignee_key == "li" and ticket.closed_at is not None
            history = await services.tickets.history(1)
            assert RESIDENT not in {e.actor_id for e in history}
            assert [e.action for e in await services.retention.audit.recent()] == ["anonymise"]
    rows = await dump(bot_db_target(tmp_path))
    for line in rows:
        assert PHONE not in line, line[:300]
    # Only their account and their points balance (they still live here) name them.
    assert sorted(line.split('"')[1] for line in rows if "周大爷" in line) == [
        "point_balances",
        "users",
    ]


async def test_mydata_shows_and_sends_everything_and_forget_erases_it(
    tmp_path: Path, clock: FakeClock
) -> None:
    async with offline_emulator(privacy_mode=False) as emu:
        populate(emu)
        async with offline_bot(emu, tmp_path, clock=clock) as bot:
            services = bot.state.require_services()
            db = services.db
            await open_privates(emu, WORKER_LI, RESIDENT, SECRETARY)
            await closed_ticket(emu, bot)
            clock.advance(timedelta(hours=2))  # not a burst of the first complaint
            await emu.send_text(GROUP, RESIDENT, "8号楼楼道灯坏了好几天了，晚上黑乎乎的没人管")
            await emu.wait_for(GROUP, lambda m: "#2" in m.text)
            await services.residents.register(RESIDENT, "周大爷", "4", "2", "301")
            await services.points.correct(ADMIN, RESIDENT, 30, "义务打扫楼道")
            await services.points.correct(ADMIN, RESIDENT, -5, "更正")
            ledger_rows = await count(db, "SELECT COUNT(*) FROM points_ledger")

            # In a group, nothing is shown.
            await emu.send_text(GROUP, RESIDENT, f"/mydata@{emu.bot_username}")
            assert (await emu.wait_for(GROUP)).text == texts.MYDATA_PRIVATE_ONLY
            before = len(emu.sent(RESIDENT))
            await emu.send_text(RESIDENT, RESIDENT, "/mydata")
            summary = await emu.wait_for(
                RESIDENT, lambda m: texts.MYDATA_HEAD in m.text, after=before
            )
            # 2 corrections and the example rule ticket_confirmed = 2 for the closed ticket
            assert "您反映的问题：2 件" in summary.text and "积分记录：3 条" in summary.text
            # Both go through the outbox, in order: the summary, then the file.
            document = await emu.wait_for(RESIDENT, lambda m: m.document is not None)
            assert document.document is not None
            assert document.message_id > summary.message_id
            assert document.document["file_name"] == texts.MYDATA_FILENAME
            stored = json.loads(emu.file_bytes(document.document["file_id"]))
            assert [t["number"] for t in stored["reported"]] == [1, 2]
            assert PHONE in stored["reported"][0]["text"]  # their own data, in full, to them
            assert stored["household"][0]["room"] == "301"

            await emu.send_text(RESIDENT, RESIDENT, "/forget")
            confirm = await emu.wait_for(RESIDENT, lambda m: m.text == texts.FORGET_CONFIRM)
            # A forged 确定删除 pressed anywhere but the person's own private chat does nothing.
            post = await emu.send_text(GROUP, RESIDENT, "大家好")
            query = await emu.press_button(
                GROUP, RESIDENT, post["message_id"], "forget:yes", check=False
            )
            assert (await emu.wait_for_answer(query)).text == texts.STALE_BUTTON
            assert await services.residents.get(RESIDENT) is not None
            await emu.press_button(RESIDENT, RESIDENT, confirm.message_id, "forget:yes")
            await bot.idle()
            assert emu.message(RESIDENT, confirm.message_id).text == texts.FORGET_DONE

            assert await services.residents.get(RESIDENT) is None
            assert await services.points.balance(RESIDENT) == 0
            assert await services.points.check_balances() == []
            assert await count(db, "SELECT COUNT(*) FROM points_ledger") == ledger_rows
            anon = await count(db, "SELECT user_id FROM point_balances WHERE name = '已注销居民'")
            assert anon < 0 and await services.points.balance(anon) == 27
            closed, open_ = await services.tickets.get(1), await services.tickets.get(2)
            assert closed.text == ERASED_TEXT and closed.reporter_id == anon
            assert (
                open_.reporter_id == anon and "楼道灯" in open_.text
            )  # the worker still needs it
            assert open_.reporter_name == ANONYMOUS_NAME
            # Amounts stay append-only.
            with pytest.raises(INTEGRITY_ERRORS):
                await db.execute("UPDATE points_ledger SET delta = 99 WHERE user_id = ?", (anon,))

            before = len(emu.sent(RESIDENT))
            await emu.send_text(RESIDENT, RESIDENT, "/mydata")
            summary = await emu.wait_for(
                RESIDENT, lambda m: texts.MYDATA_HEAD in m.text, after=before
            )
            assert "您反映的问题：0 件" in summary.text and "积分记录：0 条" in summary.text

            # The secretary sees the erasure (not who) in /audit; a resident may not look.
            await emu.send_text(SECRETARY, SECRETARY, "/audit")
            log = await emu.wait_for(SECRETARY, lambda m: "管理操作" in m.text)
            assert "应居民要求删除数据" in log.text and "加分" in log.text and "扣分" in log.text
            await emu.send_text(RESIDENT, RESIDENT, "/audit")
            refused = await emu.wait_for(RESIDENT, lambda m: m.text == texts.ERRORS["not_allowed"])
            assert refused

    out = io.StringIO()
    database = open_database(bot_db_target(tmp_path))
    await database.open()
    try:
        assert await points_cli.check(database, out) == 0  # `gridbot points check` still passes
        listed = io.StringIO()
        shown = await audit_cli.show(database, listed, limit=50, fmt="jsonl", tz=services.tz)
    finally:
        await database.close()
    rows = [json.loads(line) for line in listed.getvalue().splitlines()]
    assert shown == len(rows) and rows[0]["action"] == "forget"
    assert {r["action"] for r in rows} >= {"award", "deduct", "forget"}
    # The awards' subject was the resident: after /forget the log names nobody.
    assert all(r["subject_id"] != RESIDENT for r in rows)


async def test_audit_log_refuses_to_be_rewritten(db: Store) -> None:
    clock = FakeClock()
    await AuditRepository(db).add(clock.now(), 1, "刘书记", "bind", target="群")
    for sql in ("UPDATE audit_log SET action = 'x'", "DELETE FROM audit_log"):
        with pytest.raises(INTEGRITY_ERRORS):
            await db.execute(sql)
    assert await db.fetchval("SELECT COUNT(*) FROM audit_log") == 1
