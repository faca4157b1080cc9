"""Shared fixtures: a fresh migrated database and a clock that only moves when told."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from bot.services.clock import FakeClock
from storage.db import Database

# python-telegram-bot 22 warns about RetryAfter.retry_after being an int unless this is set.
os.environ.setdefault("PTB_TIMEDELTA", "true")

REPO = Path(__file__).resolve().parent.parent
SHARED_EVAL = REPO.parent / "shared" / "eval"


@pytest.fixture
async def db(tmp_path: Path) -> AsyncIterator[Database]:
    """A file database with every migration applied, closed after the test."""
    database = Database(tmp_path / "test.sqlite3")
    await database.open()
    try:
        yield database
    finally:
        await database.close()


@pytest.fixture
def clock() -> FakeClock:
    """Monday 2026-11-23 09:00 in Shanghai (01:00 UTC)."""
    return FakeClock(datetime(2026, 11, 23, 1, 0, tzinfo=UTC))
