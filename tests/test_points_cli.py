"""`gridbot points export --format csv` and `gridbot points check` on a real database file."""

from __future__ import annotations

import asyncio
import csv
import io
from datetime import UTC, datetime
from pathlib import Path

import pytest

from bot.cli import main
from bot.services.clock import FakeClock
from storage.db import Database
from tests.points_support import ALICE, BOB, give_points, local, services


def _prepare(path: Path) -> None:
    async def run() -> None:
        db = Database(path)
        await db.open()
        try:
            clock = FakeClock(datetime(2026, 11, 1, 2, 0, tzinfo=UTC))
            s = services(db, clock)
            await give_points(s, ALICE, 10)
            clock.set(local(2026, 11, 20, 10, 0))
            await give_points(s, BOB, 25)
        finally:
            await db.close()

    asyncio.run(run())


def test_export_writes_the_ledger_as_csv(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "gridbot.sqlite3"
    _prepare(path)
    assert main(["points", "--db", str(path), "export", "--format", "csv"]) == 0
    rows = list(csv.DictReader(io.StringIO(capsys.readouterr().out)))
    assert [(r["user_id"], r["delta"], r["kind"]) for r in rows] == [
        (str(ALICE.user_id), "10", "task"),
        (str(BOB.user_id), "25", "task"),
    ]
    assert rows[0]["name"] == ALICE.name and rows[0]["actor_id"] == "2"
    assert rows[1]["at"].startswith("2026-11-20T10:00:00+08:00")

    assert main(["points", "--db", str(path), "export", "--since", "2026-11-15"]) == 0
    rows = list(csv.DictReader(io.StringIO(capsys.readouterr().out)))
    assert [r["user_id"] for r in rows] == [str(BOB.user_id)]

    assert main(["points", "--db", str(path), "export", "--since", "last week"]) == 2
    assert "--since" in capsys.readouterr().err


def test_check_proves_balances_equal_the_ledger(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "gridbot.sqlite3"
    _prepare(path)
    assert main(["points", "--db", str(path), "check"]) == 0
    assert "余额与台账一致" in capsys.readouterr().out

    async def tamper() -> None:
        db = Database(path)
        await db.open()
        try:
            await db.execute(
                "UPDATE point_balances SET balance = balance + 5 WHERE user_id = ?", (BOB.user_id,)
            )
        finally:
            await db.close()

    asyncio.run(tamper())
    assert main(["points", "--db", str(path), "check"]) == 1
    out = capsys.readouterr().out
    assert f"MISMATCH user {BOB.user_id}" in out and f"user {ALICE.user_id}" not in out
