"""Operations: `gridbot check`, `gridbot health`, the holiday calendar and its admin warning."""

from __future__ import annotations

import subprocess
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from bot import texts
from bot.services.clock import FakeClock, SystemClock
from bot.services.community import ConfigError
from bot.services.holidays import HolidayCalendar, parse_holidays
from bot.services.schedule import DEFAULT_SCHEDULE, ScheduleConfig, ScheduleService
from storage.db import Database
from storage.pg import PgDatabase
from tests.botkit import (
    EXAMPLE_CONFIG,
    SECRETARY,
    gridbot_command,
    open_privates,
    populate,
    running_bot,
    subprocess_env,
)
from tests.community_kit import run_schedule_job
from tests.test_startup_cli import real_config
from tgsandbox import Emulator

UTC_ZONE = ZoneInfo("UTC")


def gridbot(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*gridbot_command(), *args],
        env=subprocess_env(env or {}),
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


# ── gridbot check ─────────────────────────────────────────────────────────────────────────────


def test_check_passes_a_good_file_and_says_what_it_holds(tmp_path: Path) -> None:
    done = gridbot("check", str(real_config(tmp_path)))
    assert done.returncode == 0, done.stderr
    assert "检查通过" in done.stdout and "3 个网格" in done.stdout and done.stderr == ""


def test_check_lists_every_problem_with_file_and_key(tmp_path: Path) -> None:
    config = real_config(tmp_path, replace=("buildings = [1, 2, 3, 4, 5]", 'buildings = "1-5"'))
    text = config.read_text(encoding="utf-8")
    text = text.replace('grids = ["g2"]', 'grids = ["g9"]', 1)
    text = text.replace("accept_minutes = 30", "accept_minutes = -5")
    text += '\n[holidays.27]\noff = ["2027-02-06"]\n'
    config.write_text(text, encoding="utf-8")
    done = gridbot("check", str(config))
    assert done.returncode == 1
    lines = done.stderr.strip().splitlines()
    problems, total = lines[:-1], lines[-1]
    assert all(str(config) in line for line in problems), done.stderr
    joined = "\n".join(problems)
    assert "[[grids]] g1.buildings" in joined  # a wrong type
    assert "unknown grid 'g9'" in joined  # an unknown key
    assert "accept_minutes" in joined
    assert "[holidays.27]" in joined
    assert total.startswith(f"共 {len(problems)} 处问题")
    assert "Traceback" not in done.stderr


def test_check_refuses_the_example_unless_asked() -> None:
    refused = gridbot("check", str(EXAMPLE_CONFIG))
    assert refused.returncode == 1 and "示例社区" in refused.stderr
    allowed = gridbot("check", str(EXAMPLE_CONFIG), env={"GRIDBOT_ALLOW_EXAMPLE": "1"})
    assert allowed.returncode == 0, allowed.stderr


# ── gridbot health ────────────────────────────────────────────────────────────────────────────


async def _beat(path: Path, at: datetime) -> None:
    async with Database(path) as db:
        config = ScheduleConfig(DEFAULT_SCHEDULE, timedelta(hours=2), 10, ())
        await ScheduleService(db, SystemClock(), config, UTC_ZONE).beat(at)


async def test_health_is_good_only_with_a_recent_heartbeat(tmp_path: Path) -> None:
    path = tmp_path / "gridbot.sqlite3"
    env = {"GRIDBOT_DB": str(path)}
    missing = gridbot("health", env=env)
    assert missing.returncode == 1 and "数据库不存在" in missing.stderr
    assert not path.exists()  # the check never creates the database
    await _beat(path, datetime.now(UTC) - timedelta(minutes=10))
    stale = gridbot("health", env=env)
    assert stale.returncode == 1 and "心跳已停" in stale.stderr
    await _beat(path, datetime.now(UTC))
    fresh = gridbot("health", env=env)
    assert fresh.returncode == 0, fresh.stderr


async def _beat_pg(url: str, at: datetime) -> None:
    async with PgDatabase(url) as db:
        config = ScheduleConfig(DEFAULT_SCHEDULE, timedelta(hours=2), 10, ())
        await ScheduleService(db, SystemClock(), config, UTC_ZONE).beat(at)


async def test_health_reads_the_heartbeat_from_postgresql(pg_url: str) -> None:
    env = {"GRIDBOT_DB": pg_url}
    empty = gridbot("health", env=env)  # never migrated: no heartbeat table, nothing created
    assert empty.returncode == 1 and "数据库不可读" in empty.stderr, empty.stderr
    assert "Traceback" not in empty.stderr
    await _beat_pg(pg_url, datetime.now(UTC) - timedelta(minutes=10))
    stale = gridbot("health", env=env)
    assert stale.returncode == 1 and "心跳已停" in stale.stderr
    await _beat_pg(pg_url, datetime.now(UTC))
    fresh = gridbot("health", env=env)
    assert fresh.returncode == 0, fresh.stderr


@pytest.mark.both_stores
async def test_the_running_bot_keeps_its_heartbeat(tmp_path: Path) -> None:
    clock = FakeClock(datetime(2026, 11, 23, 1, 0, tzinfo=UTC))
    async with Emulator() as emu:
        populate(emu)
        async with running_bot(emu, tmp_path, clock=clock) as bot:
            await run_schedule_job(bot)
            row = await bot.state.require_db().fetchone(
                "SELECT value FROM kv WHERE key = 'heartbeat'"
            )
    assert row is not None and datetime.fromisoformat(row["value"]) == clock.now()


# ── holidays ─────────────────────────────────────────────────────────────────────────────────


def test_a_year_written_in_the_file_counts_its_holidays_and_adjusted_days() -> None:
    def library(day: date) -> bool:
        raise NotImplementedError(day.year)

    calendar = parse_holidays(
        {"holidays": {"2027": {"off": ["2027-02-06..2027-02-13"], "work": [date(2027, 2, 14)]}}},
        "c.toml",
        library=library,
    )
    assert not calendar.is_workday(date(2027, 2, 8))  # Monday of 春节
    assert calendar.is_workday(date(2027, 2, 14))  # Sunday worked instead (调休)
    assert calendar.is_workday(date(2027, 3, 1))
    assert not calendar.is_workday(date(2027, 3, 6))  # an ordinary Saturday
    assert calendar.knows_year(2027) and not calendar.knows_year(2028)
    with pytest.raises(NotImplementedError):
        calendar.is_workday(date(2028, 1, 3))


@pytest.mark.parametrize(
    ("table", "named"),
    [
        ({"2027": {"off": ["2027-02-30"]}}, "[holidays.2027].off"),
        ({"2027": {"off": ["2027-02-06..2027-01-01"]}}, "[holidays.2027].off"),
        ({"2027": {"off": ["2028-01-01"]}}, "不在 2027 年"),
        ({"2027": {"off": ["2027-02-06"], "work": ["2027-02-08"]}}, "本来就是工作日"),
        ({"2027": {"off": ["2027-02-06"], "extra": []}}, "[holidays.2027].extra"),
        ({"2027": {"work": ["2027-02-14"]}}, "缺少放假日"),
        ({"next": {"off": ["2027-02-06"]}}, "[holidays.next]"),
    ],
)
def test_bad_holidays_are_named(table: dict[str, object], named: str) -> None:
    with pytest.raises(ConfigError) as info:
        parse_holidays({"holidays": table}, "c.toml")
    assert named in str(info.value) and str(info.value).startswith("c.toml: ")


def test_the_library_year_is_known_and_the_year_ahead_is_checked_from_december() -> None:
    calendar = HolidayCalendar(library=lambda day: day.year <= 2026 or _unknown(day))
    assert calendar.missing_years(datetime(2026, 11, 30)) == []
    assert calendar.missing_years(datetime(2026, 12, 1)) == [2027]
    assert calendar.missing_years(datetime(2027, 3, 1)) == [2027]


def _unknown(day: date) -> bool:
    raise NotImplementedError(day.year)


async def test_admins_are_told_in_telegram_when_next_years_holidays_are_missing(
    tmp_path: Path,
) -> None:
    # 2026-12-01 09:00 in Shanghai; the installed chinesecalendar stops at 2026.
    clock = FakeClock(datetime(2026, 12, 1, 1, 0, tzinfo=UTC))
    async with Emulator() as emu:
        populate(emu)
        async with running_bot(emu, tmp_path, clock=clock) as bot:
            await open_privates(emu, SECRETARY)
            await run_schedule_job(bot)
            warning = await emu.wait_for(SECRETARY, lambda m: "2027" in m.text, timeout=10)
            assert warning.text == texts.HOLIDAYS_MISSING.format(year=2027)
            clock.advance(timedelta(days=1))
            await run_schedule_job(bot)  # once a year, not every minute
            await bot.idle()
        assert [m for m in emu.sent(SECRETARY) if "2027" in m.text] == [warning]
    # With the year written in the file, nobody is warned.
    config = real_config(tmp_path, extra='\n[holidays.2027]\noff = ["2027-02-06..2027-02-13"]\n')
    async with Emulator() as emu:
        populate(emu)
        async with running_bot(emu, tmp_path / "b", clock=clock, config=config) as bot:
            await open_privates(emu, SECRETARY)
            await run_schedule_job(bot)
            await bot.idle()
        assert not [m for m in emu.sent(SECRETARY) if "2027" in m.text]
