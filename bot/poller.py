"""Durable intake: store every update before Telegram is told it arrived.

python-telegram-bot's own Updater confirms a batch (by asking for the next offset) before its
handlers have run, so a crash in between would lose a resident's complaint. This poller writes
each batch to the inbox first, confirms it by the next getUpdates call, processes the updates
one by one, marks each done, and on start replays whatever was stored but not done. The webhook
(bot/webhook.py) feeds the same InboxWorker: it answers Telegram only after the store.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Sequence
from typing import Any

from telegram import Update
from telegram.error import Conflict, InvalidToken, NetworkError, RetryAfter, TimedOut
from telegram.ext import Application

from bot.services.clock import Clock
from storage.db import DatabaseLockedError
from storage.inbox import InboxRepository

log = logging.getLogger(__name__)


class UpdateOutcome:
    """What the error handler learned about one update while it was processed."""

    def __init__(self) -> None:
        self.retry: set[int] = set()

    def ask_retry(self, update_id: int) -> None:
        """Keep the update in the inbox to try again (e.g. the database was locked)."""
        self.retry.add(update_id)


class InboxWorker:
    """Store incoming updates in the inbox, then process them in order, exactly once.

    Polling and the webhook both feed this one worker: whatever the source, an update is in the
    database before Telegram is told it arrived, and it is marked done only after its handlers
    ran.
    """

    def __init__(
        self,
        application: Application[Any, Any, Any, Any, Any, Any],
        inbox: InboxRepository,
        clock: Clock,
        outcome: UpdateOutcome,
        *,
        retry_delay: float = 1.0,
    ) -> None:
        self.app = application
        self.inbox = inbox
        self.clock = clock
        self.outcome = outcome
        self.retry_delay = retry_delay
        self._queue: asyncio.Queue[int] = asyncio.Queue()
        self._queued: set[int] = set()
        self.processed = 0

    async def replay_pending(self) -> int:
        """Queue what an earlier run stored but did not finish; return how many."""
        items = await self.inbox.pending()
        for item in items:
            self._enqueue(item.update_id)
        if items:
            log.info("replaying %d stored update(s) from the inbox", len(items))
        return len(items)

    def _enqueue(self, update_id: int) -> None:
        if update_id not in self._queued:
            self._queued.add(update_id)
            self._queue.put_nowait(update_id)

    async def accept(self, updates: Sequence[Update]) -> list[int]:
        """Store updates not seen before and queue them; return the ids that were new."""
        rows = [(u.update_id, u.to_dict()) for u in updates]
        new_ids = await self.inbox.store(rows, self.clock.now())
        for update_id in new_ids:
            self._enqueue(update_id)
        return new_ids

    async def process_one(self, update_id: int) -> None:
        """Process one stored update and settle it in the inbox."""
        self._queued.discard(update_id)
        claimed = await self.inbox.claim(update_id)
        if claimed is None:
            return  # a replay of something already done: processed once
        attempts, item_payload = claimed
        update = Update.de_json(item_payload, self.app.bot)
        await self.app.process_update(update)
        if update_id in self.outcome.retry:
            self.outcome.retry.discard(update_id)
            if attempts < InboxRepository.MAX_ATTEMPTS:
                asyncio.get_running_loop().call_later(
                    self.retry_delay * attempts, self._enqueue, update_id
                )
                return
            await self.inbox.mark(update_id, "failed", self.clock.now())
            log.error(
                "update %s failed %d times; left as failed in the inbox", update_id, attempts
            )
            return
        await self.inbox.mark(update_id, "done", self.clock.now())
        self.processed += 1
        log.debug("update %s done", update_id)  # the id only: an update holds people's words

    async def _process_loop(self) -> None:
        while True:
            update_id = await self._queue.get()
            try:
                await self.process_one(update_id)
            except DatabaseLockedError:
                log.warning("database locked while settling update %s; will retry", update_id)
                asyncio.get_running_loop().call_later(self.retry_delay, self._enqueue, update_id)
            except Exception:
                log.exception("update %s could not be processed", update_id)
            finally:
                self._queue.task_done()

    @contextlib.asynccontextmanager
    async def running(self) -> AsyncIterator[None]:
        """Replay stored updates and process the queue until the block ends."""
        await self.replay_pending()
        worker = asyncio.create_task(self._process_loop(), name="gridbot-inbox-worker")
        try:
            yield
        finally:
            worker.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await worker

    async def drain(self) -> None:
        """Wait until every queued update has been processed."""
        await self._queue.join()


class DurablePoller(InboxWorker):
    """Fetch updates into the inbox, then process them in order, exactly once."""

    def __init__(
        self,
        application: Application[Any, Any, Any, Any, Any, Any],
        inbox: InboxRepository,
        clock: Clock,
        outcome: UpdateOutcome,
        *,
        poll_timeout: int = 30,
        batch_limit: int = 100,
        retry_delay: float = 1.0,
    ) -> None:
        super().__init__(application, inbox, clock, outcome, retry_delay=retry_delay)
        self.poll_timeout = poll_timeout
        self.batch_limit = batch_limit

    async def fetch_once(self, offset: int | None) -> int | None:
        """Ask Telegram for updates, store the new ones; return the next offset."""
        updates = await self.app.bot.get_updates(
            offset=offset,
            timeout=self.poll_timeout,
            limit=self.batch_limit,
            allowed_updates=Update.ALL_TYPES,
        )
        if not updates:
            return offset
        await self.accept(updates)
        return int(max(u.update_id for u in updates)) + 1

    async def _fetch_loop(self, stop: asyncio.Event) -> None:
        offset: int | None = None
        last = await self.inbox.max_update_id()
        if last is not None:
            offset = last + 1
        backoff = 1.0
        while not stop.is_set():
            try:
                offset = await self.fetch_once(offset)
                backoff = 1.0
            except RetryAfter as exc:
                await _sleep_or_stop(stop, _seconds(exc.retry_after))
            except (TimedOut, NetworkError, DatabaseLockedError) as exc:
                log.warning("polling paused: %s", type(exc).__name__)
                await _sleep_or_stop(stop, backoff)
                backoff = min(backoff * 2, 30.0)
            except (InvalidToken, Conflict):
                raise

    async def _leave_webhook(self) -> None:
        # Telegram refuses getUpdates while a webhook is set (e.g. after `gridbot run
        # --webhook`); its queued updates stay with Telegram and come to the poller instead.
        info = await self.app.bot.get_webhook_info()
        if info.url:
            log.warning("a webhook was set; deleting it to poll (pending updates are kept)")
            await self.app.bot.delete_webhook(drop_pending_updates=False)

    async def run(self, stop: asyncio.Event) -> None:
        """Replay stored updates, then poll until `stop` is set."""
        await self._leave_webhook()
        async with self.running():
            fetcher = asyncio.create_task(self._fetch_loop(stop), name="gridbot-poller")
            stopper = asyncio.create_task(stop.wait())
            try:
                done, _ = await asyncio.wait(
                    {fetcher, stopper}, return_when=asyncio.FIRST_COMPLETED
                )
                if fetcher in done:
                    fetcher.result()  # re-raise a fatal polling error
                await self.drain()
            finally:
                for task in (fetcher, stopper):
                    task.cancel()
                for task in (fetcher, stopper):
                    with contextlib.suppress(asyncio.CancelledError):
                        await task


def _seconds(value: object) -> float:
    total = getattr(value, "total_seconds", None)
    return float(total()) if callable(total) else float(value)  # type: ignore[arg-type]


async def _sleep_or_stop(stop: asyncio.Event, seconds: float) -> None:
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(stop.wait(), timeout=seconds)
