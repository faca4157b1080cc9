"""Several instances on one PostgreSQL: updates claimed across instances, and one leader.

Each instance stores the updates its webhook receives; any instance may process a stored one.
`FleetInbox.claim` takes the oldest pending updates with `FOR UPDATE SKIP LOCKED` (two
instances claiming at once never wait for, nor take, the same row) and only those that no
earlier pending update sharing a lane (a chat, a person, a ticket: bot/poller.py update_keys)
holds elsewhere, so a chat's updates keep their order across instances. A claim is a lease on
the server's clock: its instance renews it while it works; when the instance dies the lease
runs out and another takes the update over. The update's transaction settles it only while
the lease is still this instance's (storage.inbox.InboxRepository.finish), so an update taken
over from a slow instance never commits twice.

`LeaderLock` elects the one instance that delivers the outbox and runs the jobs: a session
advisory lock on a connection of its own. PostgreSQL frees it the moment that connection ends
(the process killed, the machine gone), and a follower trying every second takes it.

PostgreSQL only: these statements are native (`$1`, arrays, SKIP LOCKED) and run on the pool.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any

import asyncpg

from storage.db import DatabaseError, DatabaseLockedError
from storage.pg import PgDatabase

log = logging.getLogger(__name__)

# pg_try_advisory_lock(LEADER_LOCK_CLASS, hashtext(current_schema())): one leader per schema,
# so deployments (and tests) sharing a server in schemas of their own elect one each.
LEADER_LOCK_CLASS = 0x67726966


class FleetInbox:
    """Store, claim, renew and release inbox rows for one instance of a fleet."""

    def __init__(self, db: PgDatabase, instance: str, *, lease_s: float = 15.0) -> None:
        self.db = db
        self.instance = instance
        self.lease_s = lease_s

    async def store(
        self, updates: Sequence[tuple[int, dict[str, Any], Iterable[str]]], now: datetime
    ) -> list[int]:
        """Insert updates not seen before, with their lanes; return the ids that were new."""
        if not updates:
            return []
        rows = [
            (update_id, json.dumps(payload, ensure_ascii=False), now.isoformat(), _joined(lanes))
            for update_id, payload, lanes in updates
        ]
        async with self.db.pool.acquire() as conn:
            found = await conn.fetch(
                "INSERT INTO inbox (update_id, payload, received_at, lanes)"
                " SELECT u, p, r, l"
                " FROM unnest($1::bigint[], $2::text[], $3::text[], $4::text[]) AS t(u, p, r, l)"
                " ON CONFLICT (update_id) DO NOTHING RETURNING update_id",
                [r[0] for r in rows],
                [r[1] for r in rows],
                [r[2] for r in rows],
                [r[3] for r in rows],
            )
        return sorted(int(r[0]) for r in found)

    async def claim(self, limit: int) -> list[tuple[int, dict[str, Any]]]:
        """Claim up to `limit` pending updates this instance may run now; oldest first.

        Free ones, and ones whose lease ran out (their instance died). An update waits while
        an earlier pending one sharing a lane is unclaimed or held by another instance: it goes
        where that one went, after it.
        """
        if limit <= 0:
            return []
        async with self.db.pool.acquire() as conn:
            try:
                rows = await conn.fetch(_CLAIM, self.instance, self.lease_s, limit)
            except (asyncpg.LockNotAvailableError, asyncpg.TransactionRollbackError) as exc:
                raise DatabaseLockedError(str(exc)) from exc
        return [(int(r["update_id"]), json.loads(r["payload"])) for r in rows]

    async def renew(self, update_ids: Iterable[int]) -> None:
        """Extend this instance's leases on updates it still has to run."""
        ids = sorted(set(update_ids))
        if not ids:
            return
        async with self.db.pool.acquire() as conn:
            await conn.execute(
                f"UPDATE inbox SET claimed_at = {_stamp('now()')}"
                " WHERE update_id = ANY($1::bigint[]) AND claimed_by = $2 AND status = 'pending'",
                ids,
                self.instance,
            )

    async def release(self) -> int:
        """Give back every update this instance claimed and did not finish (a clean stop)."""
        async with self.db.pool.acquire() as conn:
            status = await conn.execute(
                "UPDATE inbox SET claimed_by = NULL, claimed_at = NULL"
                " WHERE claimed_by = $1 AND status = 'pending'",
                self.instance,
            )
        return int(status.rsplit(" ", 1)[-1])


def _stamp(moment: str) -> str:
    # The server's clock as the stores keep times: ISO text in UTC, compared as text.
    return f"to_char(({moment}) AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.US')"


# The candidates are locked with SKIP LOCKED, so instances claiming together split the rows
# instead of queueing behind each other; the lane test reads the other pending rows without
# locking them (their status and claim are as committed when the statement began).
_CLAIM = """
WITH ready AS (
    SELECT i.update_id FROM inbox i
    WHERE i.status = 'pending'
      AND (i.claimed_by IS NULL OR i.claimed_at < {expired})
      AND NOT EXISTS (
          SELECT 1 FROM inbox e
          WHERE e.status = 'pending' AND e.update_id < i.update_id
            AND string_to_array(e.lanes, chr(31)) && string_to_array(i.lanes, chr(31))
            AND (e.claimed_by IS DISTINCT FROM $1 OR e.claimed_at < {expired}))
    ORDER BY i.update_id
    LIMIT $3
    FOR UPDATE OF i SKIP LOCKED
)
UPDATE inbox SET claimed_by = $1, claimed_at = {now}
FROM ready WHERE inbox.update_id = ready.update_id
RETURNING inbox.update_id, inbox.payload
""".format(now=_stamp("now()"), expired=_stamp("now() - make_interval(secs => $2)"))


def _joined(lanes: Iterable[str]) -> str:
    # One text (the stores' schemas match); PostgreSQL's index and the claim split it again.
    # The unit separator cannot occur in a lane's text (chat and user ids, button data).
    return "\x1f".join(sorted(lane.replace("\x1f", "") for lane in lanes))


class LeaderLock:
    """The fleet's leadership: a session advisory lock held on a connection of its own."""

    def __init__(self, db: PgDatabase, *, check_timeout_s: float = 3.0) -> None:
        self.db = db
        self.check_timeout_s = check_timeout_s
        self._conn: asyncpg.Connection[Any] | None = None
        self.lost = asyncio.Event()  # set when the connection holding the lock ends

    @property
    def held(self) -> bool:
        """Tell whether this instance believes it leads (its connection is open)."""
        return self._conn is not None and not self._conn.is_closed() and not self.lost.is_set()

    async def try_take(self) -> bool:
        """Try once to become the leader; True when this instance now leads."""
        if self.held:
            return True
        await self._drop()
        try:
            conn = await asyncpg.connect(self.db.url)
        except (OSError, asyncpg.PostgresError, asyncpg.InterfaceError) as exc:
            raise DatabaseError(f"cannot reach {self.db.path}: {exc}") from exc
        try:
            taken = bool(
                await conn.fetchval(
                    "SELECT pg_try_advisory_lock($1, hashtext(current_schema()))",
                    LEADER_LOCK_CLASS,
                )
            )
        except BaseException:
            await conn.close()
            raise
        if not taken:
            await conn.close()
            return False
        self.lost = asyncio.Event()
        conn.add_termination_listener(lambda _conn: self.lost.set())
        self._conn = conn
        return True

    async def still_held(self) -> bool:
        """Ask the server whether the lock's connection is alive; False (and lost) if not."""
        conn = self._conn
        if conn is None or conn.is_closed():
            self.lost.set()
            return False
        try:
            async with asyncio.timeout(self.check_timeout_s):
                await conn.fetchval("SELECT 1")
        except (TimeoutError, OSError, asyncpg.PostgresError, asyncpg.InterfaceError):
            self.lost.set()
            await self._drop()
            return False
        return True

    async def release(self) -> None:
        """Give the leadership up (closing the connection frees the lock)."""
        await self._drop()

    async def _drop(self) -> None:
        conn, self._conn = self._conn, None
        if conn is not None and not conn.is_closed():
            with contextlib.suppress(Exception):
                async with asyncio.timeout(self.check_timeout_s):
                    await conn.close()
            if not conn.is_closed():
                conn.terminate()
