"""Several instances on one PostgreSQL: updates claimed across instances, and one leader.

Each instance stores the updates its webhook receives; any instance may process a stored one.
`FleetInbox.claim` takes the oldest pending updates that no earlier pending update sharing a
lane (a chat, a person, a ticket: bot/poller.py update_keys) holds elsewhere, so a chat's
updates keep their order across instances; claimers take turns for the milliseconds a claim
takes, and lock the rows they take with `FOR UPDATE SKIP LOCKED`. A claim is a lease on
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
# Claims take turns under pg_advisory_xact_lock(CLAIM_LOCK_CLASS, hashtext(current_schema())).
CLAIM_LOCK_CLASS = 0x67726967


class FleetInbox:
    """Store, claim, renew and release inbox rows for one instance of a fleet."""

    def __init__(
        self, db: PgDatabase, instance: str, *, lease_s: float = 15.0, scan: int = 256
    ) -> None:
        self.db = db
        self.instance = instance
        self.lease_s = lease_s
        self.scan = scan  # how many of the oldest pending updates a claim looks at

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

        Free ones, and ones whose lease ran out (their instance died). An update is taken only
        when every earlier pending update sharing one of its lanes is this instance's (held,
        or taken in this same claim), so a chat's burst goes to one instance and runs there in
        order; an update behind one held elsewhere waits for it to finish.

        Claimers take turns (a transaction-level advisory lock, held for the few milliseconds
        a claim takes) so each sees the others' claims; the rows chosen are then locked with
        FOR UPDATE SKIP LOCKED, and one locked elsewhere (the old owner of a run-out lease still
        committing it) is skipped with everything behind it in its lanes.
        """
        if limit <= 0:
            return []
        try:
            async with self.db.pool.acquire() as conn, conn.transaction():
                await conn.execute(
                    "SELECT pg_advisory_xact_lock($1, hashtext(current_schema()))",
                    CLAIM_LOCK_CLASS,
                )
                pending = await conn.fetch(_PENDING, self.lease_s, self.scan)
                chosen = _claimable(pending, self.instance, limit)
                if not chosen:
                    return []
                lockable = {
                    int(r[0])
                    for r in await conn.fetch(
                        "SELECT update_id FROM inbox WHERE update_id = ANY($1::bigint[])"
                        " FOR UPDATE SKIP LOCKED",
                        chosen,
                    )
                }
                if len(lockable) < len(chosen):
                    chosen = _claimable(pending, self.instance, limit, skip=set(chosen) - lockable)
                rows = await conn.fetch(
                    f"UPDATE inbox SET claimed_by = $1, claimed_at = {_stamp('now()')}"
                    " WHERE update_id = ANY($2::bigint[]) RETURNING update_id, payload",
                    self.instance,
                    chosen,
                )
        except (asyncpg.LockNotAvailableError, asyncpg.TransactionRollbackError) as exc:
            raise DatabaseLockedError(str(exc)) from exc
        found = {int(r["update_id"]): json.loads(r["payload"]) for r in rows}
        return [(update_id, found[update_id]) for update_id in sorted(found)]

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


# The oldest pending updates, with what the claim needs to know of each.
_PENDING = f"""
SELECT update_id, lanes, claimed_by,
       claimed_by IS NULL OR claimed_at < {_stamp("now() - make_interval(secs => $1)")} AS free
FROM inbox WHERE status = 'pending' ORDER BY update_id LIMIT $2
"""


def _claimable(
    pending: Sequence[asyncpg.Record], instance: str, limit: int, *, skip: set[int] | None = None
) -> list[int]:
    """Choose, oldest first, the free updates no earlier pending one of another holds back."""
    held: set[str] = set()  # lanes with an earlier update that is not (becoming) this instance's
    chosen: list[int] = []
    for row in pending:
        update_id = int(row["update_id"])
        lanes = set((row["lanes"] or "").split("\x1f")) - {""}
        if row["free"]:
            if len(chosen) < limit and held.isdisjoint(lanes) and update_id not in (skip or ()):
                chosen.append(update_id)
                continue
        elif row["claimed_by"] == instance:
            continue  # this instance's already: what follows it here runs after it here
        held |= lanes
    return chosen


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
