"""Whole-bot test kit: the real Application and handlers, over HTTP, against the emulator."""

from __future__ import annotations

import asyncio
import contextlib
import os
import shutil
import sys
import threading
from collections.abc import AsyncIterator, Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from telegram import Update

from bot.app import build_application, serve
from bot.context import GridApp, GridContext
from bot.services.clock import Clock, ShiftedClock
from bot.services.errors import DomainError
from bot.settings import Settings, load_settings
from storage import open_database
from storage.store import Params, Store
from tgsandbox import Emulator

REPO = Path(__file__).resolve().parent.parent
# 14:00 in Shanghai on Tuesday 2026-11-24: hours from the example community's daily digest
# (08:30, posted late for up to 2 hours), its weekly (Sunday) and monthly (the 25th) posts and
# its events' reminders.
QUIET_AFTERNOON = datetime(2026, 11, 24, 6, 0, tzinfo=UTC)
EXAMPLE_CONFIG = REPO / "examples" / "community.toml"

# People of the example community (examples/community.toml).
GROUP = -1001000000001  # 幸福里业主群, bound to every grid
GROUP_G1 = -1001000000011  # 一网格群, bound to g1
WORKER_LI = 2001  # grid worker of g1 (buildings 1-5)
WORKER_ZHANG = 2002  # g2 (6-9)
WORKER_WANG = 2003  # g3 (10-14)
SOCIAL_WORKER = 2010
OFFICE = 2011
DUTY = 2012
SECRETARY = 2020
RESIDENT = 3001
NEIGHBOUR = 3002


def bot_db_target(tmp_path: Path) -> str:
    """GRIDBOT_DB of a bot under test: a SQLite file under tmp_path, or PostgreSQL."""
    # conftest.py sets GRIDBOT_TEST_DB in the PostgreSQL case of a both_stores test.
    return os.environ.get("GRIDBOT_TEST_DB") or str(tmp_path / "gridbot.sqlite3")


class StoreReader:
    """Read (and, for a test's refusals, write) a database another process serves, from sync code.

    One seam for both stores: the project's own store (SQLite file or PostgreSQL URL, never
    migrated here) on an event loop of its own in its own thread, so statements in SQLite's
    dialect run unchanged on either and the test's own loop is never blocked by a second one.
    Opened at the first statement (the process made the database by then), closed by close()
    and opened again by the next statement.
    """

    def __init__(self, target: str) -> None:
        self.target = target
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._db: Store | None = None

    def rows(self, sql: str, params: Params = ()) -> list[tuple[Any, ...]]:
        """Every row of a query, as tuples."""

        async def fetch() -> list[tuple[Any, ...]]:
            return [tuple(row) for row in await (await self._store()).fetchall(sql, params)]

        return self._run(fetch)

    def execute(self, sql: str, params: Params = ()) -> None:
        """Run one statement outside any transaction (the store's errors pass through)."""

        async def run() -> None:
            await (await self._store()).execute(sql, params)

        self._run(run)

    def close(self) -> None:
        """Close the store and stop its thread; safe to call twice."""
        if self._loop is None or self._thread is None:
            return
        loop, thread, self._loop, self._thread = self._loop, self._thread, None, None
        if self._db is not None:
            db, self._db = self._db, None
            asyncio.run_coroutine_threadsafe(db.close(), loop).result(timeout=60)
        loop.call_soon_threadsafe(loop.stop)
        thread.join(timeout=60)
        loop.close()

    async def _store(self) -> Store:
        if self._db is None:
            db = open_database(self.target)
            await db.open(migrate=False)
            self._db = db
        return self._db

    def _run(self, work: Callable[[], Any]) -> Any:
        if self._loop is None:
            self._loop = asyncio.new_event_loop()
            self._thread = threading.Thread(
                target=self._loop.run_forever, name="gridbot-test-store-reader", daemon=True
            )
            self._thread.start()
        return asyncio.run_coroutine_threadsafe(work(), self._loop).result(timeout=60)


def bot_env(emu: Emulator, tmp_path: Path, config: Path | None = None) -> dict[str, str]:
    """Environment for a bot talking to the emulator with a database under tmp_path."""
    return {
        "GRIDBOT_TOKEN": emu.token,
        "GRIDBOT_API_BASE_URL": emu.base_url,
        "GRIDBOT_FILE_BASE_URL": emu.base_file_url,
        "GRIDBOT_DB": bot_db_target(tmp_path),
        "GRIDBOT_CONFIG": str(config or EXAMPLE_CONFIG),
        "GRIDBOT_LOG_LEVEL": "INFO",
        "GRIDBOT_ALLOW_EXAMPLE": "1",  # the example community is what tests run on
    }


def settings_for(emu: Emulator, tmp_path: Path, config: Path | None = None) -> Settings:
    """Settings for an in-process bot against the emulator."""
    return load_settings(bot_env(emu, tmp_path, config))


def populate(emu: Emulator) -> None:
    """Create the example community's people and group chats in the emulator."""
    people = {
        WORKER_LI: "李娜",
        WORKER_ZHANG: "张伟",
        WORKER_WANG: "王强",
        SOCIAL_WORKER: "陈静",
        OFFICE: "社区办公室",
        DUTY: "赵敏",
        SECRETARY: "刘书记",
        RESIDENT: "周大爷",
        NEIGHBOUR: "吴阿姨",
    }
    for user_id, name in people.items():
        emu.add_user(user_id, name)
    members = tuple(people)
    emu.add_group(GROUP, "幸福里业主群", supergroup=True, members=members, admins=(SECRETARY,))
    emu.add_group(GROUP_G1, "一网格群", supergroup=False, members=members, admins=(SECRETARY,))


async def open_privates(emu: Emulator, *user_ids: int) -> None:
    """Have people press Start in their private chat with the bot."""
    for user_id in user_ids:
        before = len(emu.sent(user_id))
        await emu.open_private(user_id)
        await emu.wait_for(user_id, after=before)


def observe_errors(app: GridApp, observer: Callable[[int | None, BaseException], None]) -> None:
    """Tell `observer` of every handler error: an error handler of the test's own, after the bot's.

    python-telegram-bot runs every error handler of the Application in turn, so the bot's code
    knows nothing of it.
    """

    async def observe(update: object, context: GridContext) -> None:
        if context.error is not None:
            observer(update.update_id if isinstance(update, Update) else None, context.error)

    app.add_error_handler(observe)


@dataclass
class RunningBot:
    emu: Emulator
    app: GridApp
    errors: list[tuple[int | None, BaseException]] = field(default_factory=list)
    drain_lock: asyncio.Lock = field(default_factory=asyncio.Lock)  # tests' own outbox drains

    @property
    def state(self) -> Any:
        return self.app.bot_data

    async def idle(self) -> None:
        """Wait until every update the emulator has delivered has been processed."""
        poller = self.state.poller
        await self.emu.wait_until(lambda: self.emu.pending_updates == 0, timeout=10)
        if poller is not None:
            await poller.drain()


@contextlib.asynccontextmanager
async def running_bot(
    emu: Emulator,
    tmp_path: Path,
    *,
    clock: Clock | None = None,
    config: Path | None = None,
    expect_errors: bool = False,
) -> AsyncIterator[RunningBot]:
    """Run the real bot in this event loop until the block ends; fail on handler errors.

    Without a clock of the test's own, the bot's clock runs at the real pace from a Tuesday
    afternoon (QUIET_AFTERNOON): no scheduled post is due then, so none can slip between the
    messages a test waits for, whatever hour the suite runs at.
    """
    if clock is None:
        clock = ShiftedClock(QUIET_AFTERNOON)
    app = build_application(settings_for(emu, tmp_path, config), clock=clock)
    running = RunningBot(emu, app)
    observe_errors(app, lambda uid, err: running.errors.append((uid, err)))
    stop = asyncio.Event()
    task = asyncio.create_task(serve(app, stop, poll_timeout=1))
    try:
        await emu.wait_until(lambda: app.bot_data.poller is not None or task.done(), timeout=30)
        if task.done():
            task.result()
        yield running
        await running.idle()
    finally:
        stop.set()
        with contextlib.suppress(asyncio.CancelledError):
            await asyncio.wait_for(task, timeout=30)
    # A refusal (DomainError) is an answer to the user, not a failure of the bot.
    failures = [(uid, err) for uid, err in running.errors if not isinstance(err, DomainError)]
    if failures and not expect_errors:
        uid, err = failures[0]
        raise AssertionError(f"handler error on update {uid}: {err!r}") from err


def subprocess_env(env: Mapping[str, str]) -> dict[str, str]:
    """A clean environment for a bot subprocess (this venv's python, PTB timedelta mode)."""
    keep = {k: v for k, v in os.environ.items() if k in ("PATH", "HOME", "LANG", "TMPDIR")}
    keep.update(env)
    keep["PTB_TIMEDELTA"] = "true"
    keep["PYTHONUNBUFFERED"] = "1"
    return keep


def gridbot_command() -> list[str]:
    """The command that starts the bot in a subprocess."""
    exe = shutil.which("gridbot", path=str(Path(sys.executable).parent))
    return [exe] if exe else [sys.executable, "-m", "bot"]
