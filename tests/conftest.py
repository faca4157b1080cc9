"""Shared fixtures: a fresh migrated database and a clock that only moves when told.

Tests marked ``both_stores`` get their ``db`` on SQLite and on PostgreSQL. PostgreSQL runs
against GRIDBOT_TEST_PG (scripts/test.sh starts a throwaway server and sets it); each test
gets a schema of its own. Without it the PostgreSQL cases skip, except in CI, where they fail.
"""

from __future__ import annotations

import asyncio
import os
import uuid
from collections.abc import AsyncIterator, Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from pathlib import Path

import pytest

from bot.services.clock import FakeClock
from storage import open_database
from storage.store import Store

# python-telegram-bot 22 warns about RetryAfter.retry_after being an int unless this is set.
os.environ.setdefault("PTB_TIMEDELTA", "true")

REPO = Path(__file__).resolve().parent.parent
SHARED_EVAL = REPO.parent / "shared" / "eval"


STORES = ("sqlite", "postgresql")


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    """Run both_stores tests once per store."""
    if "store" in metafunc.fixturenames and metafunc.definition.get_closest_marker("both_stores"):
        metafunc.parametrize("store", STORES, indirect=True)


def pg_base_url() -> str:
    """Return GRIDBOT_TEST_PG, or skip (fail in CI) when no PostgreSQL server is available."""
    url = os.environ.get("GRIDBOT_TEST_PG", "").strip()
    if url:
        return url
    if os.environ.get("CI", "").lower() in ("1", "true", "yes"):
        pytest.fail("CI must run the PostgreSQL tests, but GRIDBOT_TEST_PG is not set")
    pytest.skip("PostgreSQL tests need GRIDBOT_TEST_PG=postgresql://… (scripts/test.sh sets it)")


def _in_thread(coro_fn: object, *args: object) -> None:
    # Its own event loop in its own thread, clear of the test's loop.
    with ThreadPoolExecutor(1) as pool:
        pool.submit(asyncio.run, coro_fn(*args)).result()  # type: ignore[operator]


async def _admin(url: str, sql: str) -> None:
    import asyncpg

    conn = await asyncpg.connect(url)
    try:
        await conn.execute(sql)
    finally:
        await conn.close()


@pytest.fixture
def pg_url() -> Iterator[str]:
    """A PostgreSQL URL whose search_path is an empty schema of this test's own."""
    base = pg_base_url()
    schema = f"t_{uuid.uuid4().hex[:16]}"
    _in_thread(_admin, base, f"CREATE SCHEMA {schema}")
    joiner = "&" if "?" in base else "?"
    try:
        yield f"{base}{joiner}search_path={schema}"
    finally:
        _in_thread(_admin, base, f"DROP SCHEMA {schema} CASCADE")


@pytest.fixture
def store(request: pytest.FixtureRequest) -> str:
    """Which store the db fixture opens: SQLite unless the test is marked both_stores."""
    return str(getattr(request, "param", "sqlite"))


@pytest.fixture(autouse=True)
def _bot_store(
    store: str, request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Point whole-bot tests (tests/botkit.py) at PostgreSQL in their postgresql case."""
    if store == "postgresql":
        monkeypatch.setenv("GRIDBOT_TEST_DB", str(request.getfixturevalue("pg_url")))


@pytest.fixture
def db_target(store: str, tmp_path: Path, request: pytest.FixtureRequest) -> str:
    """GRIDBOT_DB for this test: a SQLite file, or a PostgreSQL URL with a fresh schema."""
    if store == "postgresql":
        return str(request.getfixturevalue("pg_url"))
    return str(tmp_path / "test.sqlite3")


@pytest.fixture
async def db(db_target: str) -> AsyncIterator[Store]:
    """A database with every migration applied, closed after the test."""
    database = open_database(db_target)
    await database.open()
    try:
        yield database
    finally:
        await database.close()


@pytest.fixture
def clock() -> FakeClock:
    """Monday 2026-11-23 09:00 in Shanghai (01:00 UTC)."""
    return FakeClock(datetime(2026, 11, 23, 1, 0, tzinfo=UTC))
