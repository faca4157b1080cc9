"""Several instances in webhook mode behind a load balancer, sharing one PostgreSQL.

Each instance stores the updates its webhook receives (the inbox, with their lanes) and claims
what it may run from all of them (storage.fleet.FleetInbox: `FOR UPDATE SKIP LOCKED`, a lease
renewed while it works): an update is claimed only when no earlier pending update sharing one
of its lanes (update_keys: the chat, the person, the ticket) is held by another instance, so
per-chat order holds across the fleet, and the claimed ones run in this instance's lanes as
before. An instance killed leaves its claims; their leases run out and another takes them
over; the update's transaction settles it only while the claim is still its own, so nothing
commits twice.

One instance leads (storage.fleet.LeaderLock, a session advisory lock): it alone delivers the
outbox (everyone's queued messages; the sender looks every second) and runs the jobs (sweep,
scheduled posts, retention). The others try to take the lead every second; the leader's
connection ending frees the lock at once, so a follower leads within about a second or two of
the leader dying. A leader that loses its connection stops its sender and jobs at once.

SQLite, and polling on either store (Telegram allows one getUpdates consumer), stay one
instance per database (storage.db.InstanceLock).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Sequence
from typing import Any

from telegram import Update
from telegram.ext import Application

from bot.handlers import jobs
from bot.handlers.sending import OutboxSender, bind
from bot.outcome import UpdateOutcome
from bot.poller import InboxWorker, update_keys
from bot.services.clock import Clock
from storage.db import DatabaseError
from storage.fleet import FleetInbox, LeaderLock
from storage.inbox import InboxRepository
from storage.pg import PgDatabase
from storage.store import Store

log = logging.getLogger(__name__)

CLAIM_EVERY_S = 0.5  # look for updates other instances stored, or left behind
LEASE_S = 15.0  # a claim not renewed for this long is taken over (its instance died)
LEAD_RETRY_S = 1.0  # a follower tries to take the lead this often
LEAD_CHECK_S = 1.0  # the leader makes sure its lock's connection is alive this often


def is_fleet(db: Store, *, webhook: bool) -> bool:
    """Tell whether this instance may share its database with others (webhook on PostgreSQL)."""
    return webhook and isinstance(db, PgDatabase)


class FleetWorker(InboxWorker):
    """The inbox worker of one instance of a fleet: it runs what it claims, in lanes."""

    def __init__(
        self,
        application: Application[Any, Any, Any, Any, Any, Any],
        inbox: InboxRepository,
        clock: Clock,
        outcome: UpdateOutcome,
        claims: FleetInbox,
        *,
        claim_every_s: float = CLAIM_EVERY_S,
        retry_delay: float = 1.0,
    ) -> None:
        super().__init__(application, inbox, clock, outcome, retry_delay=retry_delay)
        self.claims = claims
        self.claim_every_s = claim_every_s
        self._claim_wake = asyncio.Event()
        self._claimer: asyncio.Task[None] | None = None

    async def accept(self, updates: Sequence[Update]) -> list[int]:
        """Store updates not seen before with their lanes; the claim loop takes them from there."""
        rows = []
        for update in updates:
            payload = update.to_dict()
            rows.append((update.update_id, payload, update_keys(payload)))
        new_ids = await self.claims.store(rows, self.clock.now())
        if new_ids:
            self._claim_wake.set()
        return new_ids

    async def replay_pending(self) -> int:
        """Claim what this instance may run now (its own earlier claims ran out with its run)."""
        return await self._claim_round()

    async def _claim_round(self) -> int:
        # Claim no more than this instance can soon start: what it holds, others cannot run.
        room = self.max_concurrent * 2 - len(self._order) - len(self._later)
        claimed = await self.claims.claim(room)
        street = self.app.bot_data.street
        if claimed and street is not None:
            # What services keep in memory (group bindings, open dialogues …) may have been
            # changed by another instance; an update claimed after an earlier one of its lanes
            # ran elsewhere must see that one's effects: read it again.
            street.forget_cached()
        for update_id, payload in claimed:
            if update_id not in self._order and update_id not in self._later:
                self._enqueue(update_id, update_keys(payload))
        return len(claimed)

    async def _run(self, update_id: int) -> None:
        try:
            await super()._run(update_id)
        finally:
            # The next of its chat may be ready, here or stored elsewhere: claim a batch once
            # half the room is free (a claim per update would cost the database more).
            if len(self._order) + len(self._later) <= self.max_concurrent:
                self._claim_wake.set()

    async def _claim_loop(self) -> None:
        loop = asyncio.get_running_loop()
        renewed = loop.time()
        while True:
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(self.claim_every_s):
                    await self._claim_wake.wait()
            self._claim_wake.clear()
            try:
                await self._claim_round()
                if loop.time() - renewed >= self.claims.lease_s / 3:
                    await self.claims.renew([*self._order, *self._later])
                    renewed = loop.time()
            except DatabaseError as exc:
                log.warning("claiming updates paused: %s", type(exc).__name__)
                await asyncio.sleep(self.retry_delay)

    @contextlib.asynccontextmanager
    async def running(self) -> AsyncIterator[None]:
        """Claim and process updates until the block ends; then give back what is left."""
        try:
            async with super().running():
                self._claimer = asyncio.create_task(self._claim_loop(), name="gridbot-claims")
                try:
                    yield
                finally:
                    self._claimer.cancel()
                    with contextlib.suppress(asyncio.CancelledError):
                        await self._claimer
                    self._claimer = None
        finally:
            try:
                released = await self.claims.release()
            except DatabaseError as exc:
                log.warning("claims not given back (they run out): %s", type(exc).__name__)
            else:
                if released:
                    log.info("gave back %d claimed update(s) to the other instances", released)


class Leadership:
    """Deliver the outbox and run the jobs on this instance while it leads the fleet."""

    def __init__(
        self,
        application: Application[Any, Any, Any, Any, Any, Any],
        lock: LeaderLock,
        sender: OutboxSender,
        *,
        retry_s: float = LEAD_RETRY_S,
        check_s: float = LEAD_CHECK_S,
    ) -> None:
        self.app = application
        self.lock = lock
        self.sender = sender
        self.retry_s = retry_s
        self.check_s = check_s
        self.leading = False
        self.changed = asyncio.Event()  # set each time this instance takes or loses the lead
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        """Begin trying for the lead (a follower's sender stays bound, not delivering)."""
        bind(self.sender)
        if self._task is None:
            self._task = asyncio.create_task(self._run(), name="gridbot-leadership")

    async def stop(self) -> None:
        """Stop leading (or trying to) and free the lock for another instance."""
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
        await self.lock.release()

    async def _run(self) -> None:
        while True:
            try:
                if await self.lock.try_take():
                    await self._lead()
            except DatabaseError as exc:
                log.warning("cannot try for the lead: %s", type(exc).__name__)
            await asyncio.sleep(self.retry_s)

    async def _lead(self) -> None:
        log.info("this instance leads: it delivers the outbox and runs the jobs")
        self.leading = True
        self._changed()
        self.sender.start()
        jobs.schedule_jobs(self.app)
        try:
            while True:
                with contextlib.suppress(TimeoutError):
                    async with asyncio.timeout(self.check_s):
                        await self.lock.lost.wait()
                if self.lock.lost.is_set() or not await self.lock.still_held():
                    log.warning("lost the lead (its database connection ended); following")
                    return
        finally:
            self.leading = False
            jobs.unschedule_jobs(self.app)
            await self.sender.stop()
            bind(self.sender)  # handlers still queue through it; the leader delivers
            await self.lock.release()
            self._changed()

    def _changed(self) -> None:
        self.changed.set()
        self.changed = asyncio.Event()


class Fleet:
    """What one instance of a fleet holds: its claims on the inbox and its leadership."""

    def __init__(self, claims: FleetInbox, leadership: Leadership) -> None:
        self.claims = claims
        self.leadership = leadership

    @property
    def instance(self) -> str:
        """This instance's name in the inbox's claims."""
        return self.claims.instance

    def worker(
        self,
        application: Application[Any, Any, Any, Any, Any, Any],
        inbox: InboxRepository,
        clock: Clock,
        outcome: UpdateOutcome,
    ) -> FleetWorker:
        """The inbox worker for this instance's webhook."""
        return FleetWorker(application, inbox, clock, outcome, self.claims)
