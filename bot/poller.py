"""Durable intake: store every update before Telegram is told it arrived; one transaction each.

python-telegram-bot's own Updater confirms a batch (by asking for the next offset) before its
handlers have run, so a crash in between would lose a resident's complaint. This poller writes
each batch to the inbox first, confirms it by the next getUpdates call, and processes the
updates in order, each in ONE transaction: the state change, its history, points, every message
queued in the outbox and the inbox row's "done" commit together. A committed update never runs
again; one that did not commit runs again from scratch. The webhook (bot/webhook.py) feeds the
same InboxWorker: it answers Telegram only after the store.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import re
from collections.abc import AsyncIterator, Sequence
from typing import Any

from telegram import Update
from telegram.error import (
    Conflict,
    InvalidToken,
    NetworkError,
    RetryAfter,
    TelegramError,
    TimedOut,
)
from telegram.ext import Application

from bot import texts
from bot.handlers.sending import Unreachable, crash_point, duplicate_press, effect_scope, send
from bot.outcome import Failure, UpdateOutcome
from bot.services.clock import Clock
from bot.services.desk import Desk
from storage.db import DatabaseLockedError, DatabaseUnwritableError
from storage.inbox import InboxRepository

log = logging.getLogger(__name__)


class _Undo(Exception):
    """Roll the update's transaction back."""


# Updates of different chats run side by side (their transactions still commit one at a time);
# a group's burst never holds up a worker's press in a private chat.
MAX_CONCURRENT = 8
_NUMBER = re.compile(r"\d+")


def update_keys(payload: dict[str, Any]) -> frozenset[str]:
    """What an update waits for: every earlier update of its chat, its sender, or its ticket.

    The ticket (or task, or request) is the first number in a button's data, or the whole data
    when it holds none; two presses that share one wait for each other even when it means
    different things, which is only ever slower, never wrong.
    """
    keys: set[str] = set()
    for name, body in payload.items():
        if name == "update_id" or not isinstance(body, dict):
            continue
        message = body.get("message") if "data" in body or "chat_instance" in body else body
        chat = message.get("chat") if isinstance(message, dict) else None
        if isinstance(chat, dict) and "id" in chat:
            keys.add(f"chat:{chat['id']}")
        if isinstance(body.get("chat"), dict) and "id" in body["chat"]:
            keys.add(f"chat:{body['chat']['id']}")
        person = body.get("from")
        if isinstance(person, dict) and "id" in person:
            keys.add(f"user:{person['id']}")
        data = body.get("data")
        if isinstance(data, str):
            number = _NUMBER.search(data)
            # The object a button acts on: a ticket's number, or the button itself when it
            # names no number (two people pressing 兑换 on the last soap, in order of arrival).
            keys.add(f"n:{number.group()}" if number is not None else f"d:{data}")
    return frozenset(keys)


class InboxWorker:
    """Store incoming updates in the inbox, then process each in one transaction, exactly once.

    Polling and the webhook both feed this one worker: whatever the source, an update is in the
    database before Telegram is told it arrived. Its handlers run inside one transaction that
    also holds every message they queue and the inbox row's "done": committed together, or
    rolled back together and run again from scratch.
    """

    def __init__(
        self,
        application: Application[Any, Any, Any, Any, Any, Any],
        inbox: InboxRepository,
        clock: Clock,
        outcome: UpdateOutcome,
        *,
        retry_delay: float = 1.0,
        max_concurrent: int = MAX_CONCURRENT,
    ) -> None:
        self.app = application
        self.inbox = inbox
        self.clock = clock
        self.outcome = outcome
        self.retry_delay = retry_delay
        self.max_concurrent = max_concurrent
        # Waiting or running, in order of arrival, with what each must wait for (update_keys).
        self._order: dict[int, frozenset[str]] = {}
        self._running: dict[int, asyncio.Task[None]] = {}
        self._later: set[int] = set()
        self._changed = asyncio.Event()
        self._accepting = False  # inside `running()`: arrivals start at once
        self.processed = 0
        self.storage_down = StorageAlarm(application)

    async def replay_pending(self) -> int:
        """Queue what an earlier run stored but did not finish; return how many."""
        items = await self.inbox.pending()
        for item in items:
            self._enqueue(item.update_id, update_keys(item.payload))
        if items:
            log.info("replaying %d stored update(s) from the inbox", len(items))
        return len(items)

    def _enqueue(self, update_id: int, keys: frozenset[str]) -> None:
        self._later.discard(update_id)
        if not self._accepting:
            return  # stored in the inbox: `running()` replays it
        if update_id not in self._order:
            self._order[update_id] = keys
            self._start_ready()

    def _enqueue_later(self, update_id: int, delay: float) -> None:
        keys = self._order.get(update_id, frozenset())
        self._later.add(update_id)
        asyncio.get_running_loop().call_later(delay, self._enqueue, update_id, keys)

    def _start_ready(self) -> None:
        """Start every waiting update that no earlier one of its chat, person or ticket holds."""
        if not self._accepting:
            return  # stopping: what is left stays in the inbox for the next start
        held: set[str] = set()
        for update_id, keys in self._order.items():
            if len(self._running) >= self.max_concurrent:
                break
            if update_id not in self._running and held.isdisjoint(keys):
                self._running[update_id] = asyncio.create_task(
                    self._run(update_id), name=f"gridbot-update:{update_id}"
                )
            held |= keys

    async def _run(self, update_id: int) -> None:
        try:
            await self.process_one(update_id)
        except DatabaseLockedError:
            log.warning("database locked while settling update %s; will retry", update_id)
            self._enqueue_later(update_id, self.retry_delay)
        except DatabaseUnwritableError as exc:
            await self.storage_down.noticed(exc)
            self._enqueue_later(update_id, self.storage_down.delay())
        except Exception:
            log.exception("update %s could not be processed", update_id)
        finally:
            self._running.pop(update_id, None)
            self._order.pop(update_id, None)
            self._changed.set()
            self._start_ready()

    async def accept(self, updates: Sequence[Update]) -> list[int]:
        """Store updates not seen before and queue them; return the ids that were new."""
        rows = [(u.update_id, u.to_dict()) for u in updates]
        new_ids = set(await self.inbox.store(rows, self.clock.now()))
        for update_id, payload in rows:
            if update_id in new_ids:
                self._enqueue(update_id, update_keys(payload))
        return [u for u, _ in rows if u in new_ids]

    async def process_one(self, update_id: int) -> None:
        """Process one stored update in one transaction and settle it in the inbox."""
        claimed = await self.inbox.claim(update_id)
        if claimed is None:
            return  # a replay of something already done: processed once
        attempts, item_payload = claimed
        update = Update.de_json(item_payload, self.app.bot)
        if await self._older_copy_pressed(update):
            await self.inbox.finish(update_id, "done", self.clock.now())
            return
        db = self.inbox.db
        failure: Failure | None = None
        settled_elsewhere = False
        try:
            with effect_scope(f"upd:{update_id}"):
                # lanes: this worker holds the update's lanes (update_keys), in this process
                # and, with several instances, through its claim (bot/fleet.py).
                async with db.transaction(lanes=True):
                    await self.app.process_update(update)
                    failure = self.outcome.take(update_id)
                    if failure is not None:
                        raise _Undo
                    if not await self.inbox.finish(update_id, "done", self.clock.now()):
                        settled_elsewhere = True
                        raise _Undo
                    crash_point("open")  # every row of the update written, none committed
        except _Undo:
            if settled_elsewhere:
                # Its lease ran out and another instance took it over: that one's run counts.
                log.warning("update %s was taken over by another instance; undone here", update_id)
                return
        except (DatabaseLockedError, DatabaseUnwritableError) as exc:
            # BEGIN or COMMIT could not write: nothing of the update happened.
            failure = Failure(retry=True)
            self.outcome.take(update_id)
            if isinstance(exc, DatabaseUnwritableError):
                await self.storage_down.noticed(exc)
                self._enqueue_later(update_id, self.storage_down.delay())
                return
        if failure is None:
            crash_point("commit")
            self.processed += 1
            log.debug("update %s done", update_id)  # the id only: an update holds people's words
            self.storage_down.recovered()
            return  # the sender was told of each chat a message was queued for
        if failure.retry and attempts < InboxRepository.MAX_ATTEMPTS:
            log.warning("update %s rolled back; it runs again from scratch", update_id)
            self._enqueue_later(update_id, self.retry_delay * attempts)
            return
        await self._settle_failed(update_id, failure)

    async def _settle_failed(self, update_id: int, failure: Failure) -> None:
        street = self.app.bot_data.street
        services = street.any() if street is not None and street.all() else None
        async with self.inbox.db.transaction():
            if not await self.inbox.finish(update_id, "failed", self.clock.now()):
                return  # taken over by another instance, which settles it
            if failure.apology is not None and services is not None:
                chat_id, text = failure.apology
                with contextlib.suppress(Unreachable):
                    await send(
                        self.app.bot, services, chat_id, text, key=f"upd:{update_id}:failed"
                    )
        log.error("update %s failed; left as failed in the inbox", update_id)
        _wake_sender(self.app)

    async def _older_copy_pressed(self, update: Update) -> bool:
        query = update.callback_query
        message = query.message if query is not None else None
        if query is None or message is None or not query.data:
            return False
        if not await duplicate_press(
            self.app.bot, message.chat.id, message.message_id, query.data
        ):
            return False
        with contextlib.suppress(TelegramError):
            await query.answer(texts.OLDER_COPY_PRESSED, show_alert=True)
        return True

    @contextlib.asynccontextmanager
    async def running(self) -> AsyncIterator[None]:
        """Replay stored updates and process arrivals until the block ends."""
        self._accepting = True
        await self.replay_pending()
        self._start_ready()
        try:
            yield
        finally:
            self._accepting = False
            tasks = list(self._running.values())
            for task in tasks:
                task.cancel()
            for task in tasks:
                with contextlib.suppress(asyncio.CancelledError):
                    await task

    @property
    def busy(self) -> bool:
        """Tell whether an update is waiting, running or due to be tried again."""
        return bool(self._order or self._later)

    async def drain(self) -> None:
        """Wait until every queued update has been processed and its messages delivered."""
        while True:
            while self._order:
                self._changed.clear()
                await self._changed.wait()
            sender = getattr(self.app.bot_data, "sender", None)
            if sender is not None:
                await sender.idle()
            if not self._order and not self._later:
                return
            await asyncio.sleep(0.02)


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
            except DatabaseUnwritableError as exc:
                # Not stored, so not confirmed: Telegram keeps the updates until we can write.
                await self.storage_down.noticed(exc)
                await _sleep_or_stop(stop, self.storage_down.delay())
            except Conflict:
                log.warning(
                    "another process is polling with this bot token (Telegram said 409); "
                    "waiting %.0f s",
                    backoff,
                )
                await _sleep_or_stop(stop, backoff)
                backoff = min(backoff * 2, 30.0)
            except (TimedOut, NetworkError, DatabaseLockedError) as exc:
                log.warning("polling paused: %s", type(exc).__name__)
                await _sleep_or_stop(stop, backoff)
                backoff = min(backoff * 2, 30.0)
            except InvalidToken:
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


class StorageAlarm:
    """A full disk or a read-only database: one clear log line, backoff, and the admins told."""

    def __init__(self, application: Application[Any, Any, Any, Any, Any, Any]) -> None:
        self.app = application
        self.down = False
        self.failures = 0

    def delay(self) -> float:
        """How long to wait before writing again."""
        return float(min(60.0, 2.0 ** min(self.failures, 6)))

    async def noticed(self, exc: BaseException) -> None:
        """Log once per episode and tell the admins directly (the outbox cannot be written)."""
        self.failures += 1
        if self.down:
            return
        self.down = True
        log.error(
            "cannot write the database (%s): updates are not confirmed to Telegram until it can; "
            "free disk space or make the database file and folder writable",
            exc,
        )
        street = self.app.bot_data.street
        if street is None:
            return
        try:
            told: set[int] = set()
            for services in street.all():  # every community's admins, each once
                for admin_id in await Desk(services).admin_ids():
                    if admin_id in told:
                        continue
                    told.add(admin_id)
                    with contextlib.suppress(TelegramError):
                        await self.app.bot.send_message(admin_id, texts.STORAGE_DOWN_ADMIN)
        except Exception as error:  # reading the admins may fail too; the log line stands
            log.warning("could not tell the admins: %s", type(error).__name__)

    def recovered(self) -> None:
        """Writes work again."""
        if self.down:
            log.warning("the database is writable again; processing resumes")
        self.down = False
        self.failures = 0


def _wake_sender(application: Application[Any, Any, Any, Any, Any, Any]) -> None:
    sender = getattr(application.bot_data, "sender", None)
    if sender is not None:
        sender.wake()


def _seconds(value: object) -> float:
    total = getattr(value, "total_seconds", None)
    return float(total()) if callable(total) else float(value)  # type: ignore[arg-type]


async def _sleep_or_stop(stop: asyncio.Event, seconds: float) -> None:
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(stop.wait(), timeout=seconds)
