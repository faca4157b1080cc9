"""The crash matrix on PostgreSQL: the real bot process on a fresh schema, killed and restarted.

The matrix (tests/test_bot_crash_matrix.py) and its street office (tests/test_bot_crash_street.py)
kill every step of a ticket's, a task's and a street's life on SQLite. A street office runs on
PostgreSQL, whose store (storage/pg.py) commits and records its sends through code of its own
(an asyncpg pool, the advisory-lock writer, savepoints for a service inside an update's
transaction). The same scenes and the same harness run here on it, each test on a schema of
its own (conftest.py's pg_url; in CI a missing server fails rather than skips).

The subset, one process life per test so that its restarts, not its starts, take the time:
- intake and the worker's card at all four points (`commit`, `taken`, `during`, `send`): every
  path runs through it (inbox, ticket numbering, history, outbox, card ids);
- an award at `commit` and `send`: the ledger and balance written in an update's transaction,
  then a send interrupted after Telegram answered;
- the scheduled digest at `job` (after its post committed) and `send`: the scheduler's own
  transactions and schedule_runs, the other writer beside updates;
- a complaint, a button and an award killed inside the update's open transaction (`open`):
  the server rolls back what the dead connection wrote, and the update runs again whole;
- an edit, an album and "已经好了" under the acknowledgement at `commit` and `send`;
- intake in webhook mode, a fleet of one, at `commit` and `send`: the update stored and claimed
  from the inbox (storage/fleet.py), its messages sent by the instance while it leads; the
  restarted instance takes the lead and resends what the dead one had in flight;
- a street office's intake in two communities at `commit` and `during`, with the second
  community's file added while running and the process killed right after the reload: the
  per-community numbering, bindings and stock written by the rebuild on PostgreSQL.
What is left to SQLite alone: the rest of a ticket's and a task's life (their transitions are
the same service code over the same store calls) and the adoption of a one-community
deployment's rows (a SQLite upgrade path). The eleven tests take about 110 s on a 2-core machine.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from storage.store import is_postgres_url
from tests.botkit import DUTY, RESIDENT, SECRETARY, WORKER_LI, open_privates, populate
from tests.test_bot_crash_matrix import (
    CRASHES,
    BotProcess,
    award,
    digest,
    intake,
    new_users,
    open_transaction,
    points_ready,
    write_config,
)
from tests.test_bot_crash_street import (
    intake_in_two_communities,
    street_office,
    street_process,
    tickets,
)
from tests.test_bot_street import B_LI, B_SECRETARY, A, B, populate_street
from tgsandbox import Emulator

# Every test here runs on PostgreSQL only (SQLite runs the whole matrix).
pytestmark = pytest.mark.parametrize("store", ["postgresql"], indirect=True)

POINTS_AND_DIGEST = ("commit", "send")
FLEET = ("commit", "send")
STREET = ("commit", "during")


@pytest.mark.parametrize("crash", CRASHES)
async def test_intake_an_award_and_a_digest_survive_a_kill_on_postgresql(
    tmp_path: Path, crash: str
) -> None:
    """A complaint (each point), then an award and the day's digest (commit and send)."""
    async with Emulator(privacy_mode=False) as emu:
        populate(emu)
        config = write_config(tmp_path)
        bot = BotProcess(emu, tmp_path, crash, config)
        assert is_postgres_url(bot.target)
        await bot.start()
        try:
            await open_privates(emu, WORKER_LI, DUTY, SECRETARY, RESIDENT)
            await intake(bot, emu)
            assert bot.count("SELECT COUNT(*) FROM tickets") == 1
            kills = 1
            if crash in POINTS_AND_DIGEST:
                await points_ready(bot, emu)
                await award(bot, emu)
                await digest(bot, config)
                kills += 2
            assert [r[0] for r in bot.rows("SELECT kind FROM ticket_events")] == ["opened"]
            assert bot.count("SELECT COUNT(*) FROM inbox WHERE status != 'done'") == 0
            assert bot.kills == kills
        finally:
            await bot.stop()


@pytest.mark.parametrize("crash", FLEET)
async def test_intake_in_a_fleet_of_one_survives_a_kill_on_postgresql(
    tmp_path: Path, crash: str
) -> None:
    """Webhook mode: the update claimed from the inbox, its messages sent by the leader."""
    async with Emulator(privacy_mode=False) as emu:
        populate(emu)
        bot = BotProcess(emu, tmp_path, crash, write_config(tmp_path), webhook=True)
        assert is_postgres_url(bot.target)
        await bot.start()
        try:
            await open_privates(emu, WORKER_LI, DUTY, SECRETARY, RESIDENT)
            await intake(bot, emu)
            assert bot.count("SELECT COUNT(*) FROM tickets") == 1
            assert [r[0] for r in bot.rows("SELECT kind FROM ticket_events")] == ["opened"]
            assert bot.rows("SELECT DISTINCT status FROM inbox") == [("done",)]
            assert "getUpdates" not in emu.stats.by_method  # every update came by the webhook
            assert bot.kills == 1
        finally:
            await bot.stop()


@pytest.mark.parametrize("crash", STREET)
async def test_a_street_offices_intake_survives_a_kill_on_postgresql(
    tmp_path: Path, crash: str
) -> None:
    """Intake in A, B's file added while running (killed after the reload), intake in B."""
    folder, _, b_text = street_office(tmp_path)
    async with Emulator(privacy_mode=False) as emu:
        populate_street(emu)
        bot = street_process(emu, tmp_path, crash, folder)
        assert is_postgres_url(bot.target)
        await bot.start()
        try:
            await open_privates(emu, WORKER_LI, B_LI, DUTY, SECRETARY, B_SECRETARY, RESIDENT)
            await intake_in_two_communities(bot, emu, folder, b_text)
            assert tickets(bot) == [(B, 1, ["opened"]), (A, 1, ["opened"])]
            assert bot.count("SELECT COUNT(*) FROM inbox WHERE status != 'done'") == 0
            assert bot.kills == 3
        finally:
            await bot.stop()


async def test_a_kill_inside_an_updates_open_transaction_on_postgresql(tmp_path: Path) -> None:
    async with Emulator(privacy_mode=False) as emu:
        populate(emu)
        bot = BotProcess(emu, tmp_path, "open", write_config(tmp_path))
        assert is_postgres_url(bot.target)
        await bot.start()
        try:
            await open_transaction(bot, emu)
        finally:
            await bot.stop()


@pytest.mark.parametrize("crash", POINTS_AND_DIGEST)
async def test_an_edit_an_album_and_its_over_survive_a_kill_on_postgresql(
    tmp_path: Path, crash: str
) -> None:
    async with Emulator(privacy_mode=False) as emu:
        populate(emu)
        bot = BotProcess(emu, tmp_path, crash, write_config(tmp_path))
        assert is_postgres_url(bot.target)
        await bot.start()
        try:
            await new_users(bot, emu)
        finally:
            await bot.stop()
