"""Fast handler tests (STYLE.md tier 3): the real Application, no HTTP, no sockets.

``offline_bot`` builds the bot exactly as ``tests/botkit.running_bot`` does (bot/app.py
``build_application``, the real database and services), but gives it
``tgsandbox.offline.OfflineRequest``: every Bot API call runs the emulator's own methods
in-process. Nothing polls; the test's waits (``emu.wait_for``…) first catch the bot up:

1. ``process()`` hands the queued updates to the same InboxWorker the poller uses (stored in
   the inbox, then ``Application.process_update``, each once);
2. ``deliver()`` runs the sender over what the handlers queued (today ``drain_outbox``).

The people's API is the same as over HTTP, so a test reads the same in both tiers; the HTTP
tier keeps what needs the whole path: crashes, faults, delivery, durability, start-up.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from telegram import Update

from bot.app import build_application, stop_app
from bot.context import GridApp
from bot.handlers.sending import drain_outbox
from bot.poller import InboxWorker
from bot.services.clock import Clock
from bot.services.errors import DomainError
from bot.settings import Settings
from tests.botkit import observe_errors, settings_for
from tgsandbox import Emulator
from tgsandbox.offline import OfflineRequest, take_updates


@dataclass
class OfflineBot:
    """The real bot, driven step by step by the test (no polling, no jobs running)."""

    emu: Emulator
    app: GridApp
    worker: InboxWorker
    errors: list[tuple[int | None, BaseException]] = field(default_factory=list)
    _lock: asyncio.Lock = field(default_factory=asyncio.Lock)
    drain_lock: asyncio.Lock = field(default_factory=asyncio.Lock)  # tests' own outbox drains

    @property
    def state(self) -> Any:
        return self.app.bot_data

    async def process(self) -> int:
        """Feed the bot every update Telegram holds for it; return how many were new."""
        bodies = take_updates(self.emu)
        if not bodies:
            return 0
        updates = [Update.de_json(body, self.app.bot) for body in bodies]
        new_ids = await self.worker.accept(updates)
        for update_id in new_ids:
            await self.worker.process_one(update_id)
        return len(new_ids)

    async def deliver(self) -> int:
        """Send what the handlers and services queued; return how many messages went out."""
        return await drain_outbox(self.app.bot, self.state.require_street().any())

    async def catch_up(self) -> None:
        """Process and deliver until nothing is left to do."""
        async with self._lock:
            while True:
                processed = await self.process()
                sent = await self.deliver()
                if not processed and not sent and self.emu.pending_updates == 0:
                    return

    async def idle(self) -> None:
        """Wait until every update has been processed (the same name as over HTTP)."""
        await self.catch_up()


@contextlib.asynccontextmanager
async def offline_bot(
    emu: Emulator,
    tmp_path: Path,
    *,
    clock: Clock | None = None,
    config: Path | None = None,
    settings: Settings | None = None,
    expect_errors: bool = False,
) -> AsyncIterator[OfflineBot]:
    """Run the real bot over the offline request until the block ends; fail on handler errors."""
    request = OfflineRequest(emu)
    app = build_application(
        settings or settings_for(emu, tmp_path, config),
        clock=clock,
        request=request,
        get_updates_request=request,
        rate_limiter=False,  # nothing to pace: no network, and the sends are counted, not timed
    )
    await app.initialize()
    try:
        assert app.post_init is not None
        await app.post_init(app)
        state = app.bot_data
        assert state.inbox is not None
        worker = InboxWorker(app, state.inbox, state.clock, state.outcome)
        bot = OfflineBot(emu, app, worker)
        observe_errors(app, lambda uid, err: bot.errors.append((uid, err)))
        emu.catch_up = bot.catch_up
        yield bot
        await bot.catch_up()
    finally:
        emu.catch_up = None
        await stop_app(app, started=False)
    # A refusal (DomainError) is an answer to the user, not a failure of the bot.
    failures = [(uid, err) for uid, err in bot.errors if not isinstance(err, DomainError)]
    if failures and not expect_errors:
        uid, err = failures[0]
        raise AssertionError(f"handler error on update {uid}: {err!r}") from err


@contextlib.asynccontextmanager
async def offline_emulator(**kwargs: Any) -> AsyncIterator[Emulator]:
    """An Emulator that serves nothing over HTTP: the fast tier talks to it in-process."""
    emu = Emulator(**kwargs)
    yield emu
    assert emu.internal_errors == []
