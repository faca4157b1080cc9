"""`gridbot migrate-store`: a SQLite deployment copied to PostgreSQL, counted and checked."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from pathlib import Path

import pytest

from bot.cli import main
from bot.services.clock import FakeClock
from storage.db import Database
from storage.pg import PgDatabase
from tests.points_support import ALICE, BOB, add_ticket, give_points, local, services


def _prepare(path: Path) -> None:
    async def run() -> None:
        async with Database(path) as db:
            clock = FakeClock(datetime(2026, 11, 1, 2, 0, tzinfo=UTC))
            s = services(db, clock)
            await give_points(s, ALICE, 10)
            clock.set(local(2026, 11, 20, 10, 0))
            await give_points(s, BOB, 25)
            await add_ticket(db, created_at=clock.now(), status="resolved")

    asyncio.run(run())


async def _next_ids(url: str) -> tuple[int, int, int]:
    async with PgDatabase(url) as db:
        biggest = int(await db.fetchval("SELECT MAX(id) FROM points_ledger"))
        new_id = int(
            await db.fetchval(
                "INSERT INTO points_ledger (user_id, delta, kind, rule, reason, at)"
                " VALUES (1, 1, 'behaviour', 'x', 'x', 'now') RETURNING id"
            )
        )
        balances = int(await db.fetchval("SELECT COUNT(*) FROM point_balances"))
        return biggest, new_id, balances


def test_a_deployment_moves_to_postgresql_and_checks_out(
    tmp_path: Path, pg_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "gridbot.sqlite3"
    _prepare(path)
    assert main(["migrate-store", str(path), pg_url]) == 0
    out = capsys.readouterr().out
    assert "行数一致，积分余额与台账一致" in out
    assert "points_ledger: 2" in out and "tickets: 1" in out

    # Ids continue past the copied rows instead of colliding with them.
    biggest, new_id, balances = asyncio.run(_next_ids(pg_url))
    assert new_id > biggest and balances == 2

    # A second run refuses to overwrite what is there, unless told to.
    assert main(["migrate-store", str(path), pg_url]) == 1
    assert "--force" in capsys.readouterr().err
    assert main(["migrate-store", str(path), pg_url, "--force"]) == 0
    assert "points_ledger: 2" in capsys.readouterr().out


def test_the_arguments_are_checked_before_anything_is_touched(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["migrate-store", "postgresql://u@h/db", str(tmp_path / "x.sqlite3")]) == 2
    assert main(["migrate-store", str(tmp_path / "missing.sqlite3"), "postgresql://u@h/d"]) == 2
    assert not (tmp_path / "missing.sqlite3").exists()
