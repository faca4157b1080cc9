"""`gridbot stats`: the rates of a known history printed as CSV and as a table."""

from __future__ import annotations

import asyncio
import csv
import io
from pathlib import Path

import pytest

from bot.cli import main
from bot.services.clock import FakeClock
from storage.db import Database
from tests.test_rates import AS_OF, build_history


def make_db(path: Path) -> None:
    async def build() -> None:
        db = Database(path)
        await db.open()
        try:
            await build_history(db, FakeClock(AS_OF.replace(day=23, hour=1)))
        finally:
            await db.close()

    asyncio.run(build())


@pytest.fixture
def db_path(tmp_path: Path) -> Path:
    path = tmp_path / "stats.sqlite3"
    make_db(path)
    return path


def test_csv_per_worker(db_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code = main(
        [
            "stats",
            "--db",
            str(db_path),
            "--since",
            "2026-11-23",
            "--until",
            "2026-11-30",
            "--as-of",
            AS_OF.isoformat(),
            "--format",
            "csv",
        ]
    )
    assert code == 0
    rows = list(csv.DictReader(io.StringIO(capsys.readouterr().out)))
    by_key = {r["key"]: r for r in rows}
    assert set(by_key) == {"wang", "li"}
    assert by_key["wang"]["response_rate"] == "0.5000"
    assert by_key["wang"]["satisfaction_rate"] == "0.5000"
    assert by_key["wang"]["unrated"] == "1"
    assert by_key["wang"]["overdue"] == "2"
    assert by_key["li"]["response_rate"] == "1.0000"
    assert by_key["li"]["avg_accept_minutes"] == "30.0000"


def test_table_per_community(db_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code = main(
        [
            "stats",
            "--db",
            str(db_path),
            "--since",
            "2026-11-23",
            "--until",
            "2026-11-30",
            "--as-of",
            AS_OF.isoformat(),
            "--by",
            "community",
        ]
    )
    assert code == 0
    header, line = capsys.readouterr().out.splitlines()
    assert header.split() == [
        "对象",
        "工单",
        "响应率",
        "解决率",
        "满意率",
        "已评价",
        "未评价",
        "平均接单(分)",
        "平均办结(时)",
        "超时",
    ]
    assert line.split() == [
        "幸福里",
        "6",
        "66.7%",
        "50.0%",
        "66.7%",
        "3",
        "1",
        "127.5",
        "24.0",
        "2",
    ]


def test_a_period_before_any_ticket_says_so(
    db_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert (
        main(
            [
                "stats",
                "--db",
                str(db_path),
                "--since",
                "2026-01-01",
                "--until",
                "2026-02-01",
                "--as-of",
                AS_OF.isoformat(),
            ]
        )
        == 0
    )
    assert "没有工单" in capsys.readouterr().out


def test_bad_dates_and_missing_database_are_explained(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["stats", "--db", str(tmp_path / "x.db"), "--since", "yesterday"]) == 2
    assert "YYYY-MM-DD" in capsys.readouterr().err
    assert (
        main(
            [
                "stats",
                "--db",
                str(tmp_path / "x.db"),
                "--since",
                "2026-11-01",
                "--until",
                "2026-10-01",
            ]
        )
        == 2
    )
    assert (
        main(
            [
                "stats",
                "--db",
                str(tmp_path / "none.db"),
                "--since",
                "2026-11-01",
                "--until",
                "2026-12-01",
            ]
        )
        == 1
    )
    assert "找不到数据库" in capsys.readouterr().err
    assert not (tmp_path / "none.db").exists()


def test_table_shows_workers_by_name_from_the_community_file() -> None:
    from bot.cli.stats import display_names, write_table
    from bot.services.rates import RateRow

    row = RateRow("li", 2, 2, 1, 0.5, 1, 0.5, 1, 1, 0, 1.0, 12.0, 3.0, 1)
    out = io.StringIO()
    write_table([row], out, display_names())  # the default community file: li is 李娜
    assert "李娜" in out.getvalue() and "50.0%" in out.getvalue()
    assert " li " not in out.getvalue()
