"""Personal data with a lifetime: pruning, anonymising, showing a person their data, forgetting.

As the 个人信息保护法 asks, data is kept no longer than needed and the person can see and erase it:
- handled updates (inbox) and sent messages (outbox) are deleted after `keep_updates`
  (`[privacy] keep_updates_days`, default 7);
- a closed ticket's words, photos, room and people are anonymised after `keep_closed_tickets`
  (`[privacy] keep_closed_tickets_days`, default 3 years); its category, building, grid,
  times, worker and rating stay, so the statistics do not change;
- `export` gathers what is stored about a person (/mydata); `forget` erases it (/forget):
  their own rows are deleted, rows history must keep (the points ledger, a ticket's timeline,
  balances, claims, redemptions) are moved to a fresh anonymous id — amounts never change, so
  `gridbot points check` still proves every balance. Open complaints keep their words (with
  phone and ID numbers masked) for the worker until they are closed and anonymised.
Every erasure is recorded in the audit log. All of it runs on the injected clock.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from bot.services.clock import Clock
from bot.services.community import ConfigError
from bot.services.privacy import mask_pii
from storage.inbox import InboxRepository
from storage.outbox import OutboxRepository
from storage.privacy import AuditRepository, ErasureRepository
from storage.store import Store

DEFAULT_KEEP_UPDATES = timedelta(days=7)
DEFAULT_KEEP_CLOSED_TICKETS = timedelta(days=3 * 365)
BATCH = 200  # tickets anonymised per run; the next run takes the rest


@dataclass(frozen=True, slots=True)
class RetentionConfig:
    """How long things are kept (`[privacy]` in the community file)."""

    keep_updates: timedelta = DEFAULT_KEEP_UPDATES
    keep_closed_tickets: timedelta = DEFAULT_KEEP_CLOSED_TICKETS


def parse_retention_config(raw: Mapping[str, Any], source: str) -> RetentionConfig:
    """Read `[privacy] keep_updates_days` and `keep_closed_tickets_days`."""
    section = raw.get("privacy", {})
    if not isinstance(section, Mapping):
        raise ConfigError(["privacy: expected a table"], source)
    problems: list[str] = []
    days: dict[str, int] = {}
    for key, default, low in (
        ("keep_updates_days", DEFAULT_KEEP_UPDATES.days, 1),
        ("keep_closed_tickets_days", DEFAULT_KEEP_CLOSED_TICKETS.days, 30),
    ):
        value = section.get(key, default)
        if isinstance(value, bool) or not isinstance(value, int) or value < low:
            problems.append(f"privacy.{key}: expected a whole number of days ≥ {low}")
        else:
            days[key] = value
    unknown = sorted(set(section) - {"keep_updates_days", "keep_closed_tickets_days"})
    problems.extend(f"privacy.{key}: unknown setting" for key in unknown)
    if problems:
        raise ConfigError(problems, source)
    return RetentionConfig(
        keep_updates=timedelta(days=days["keep_updates_days"]),
        keep_closed_tickets=timedelta(days=days["keep_closed_tickets_days"]),
    )


@dataclass(frozen=True, slots=True)
class Pruned:
    """What one run of the retention job removed."""

    inbox: int
    outbox: int
    tickets: int


class RetentionService:
    """Prune, anonymise, export and forget; each change one transaction."""

    def __init__(
        self, db: Store, clock: Clock, config: RetentionConfig, community: str = ""
    ) -> None:
        self.db = db
        self.clock = clock
        self.config = config
        self.community = community  # whose closed tickets age out under this config
        self.erasure = ErasureRepository(db)
        self.audit = AuditRepository(db, community)
        self.inbox = InboxRepository(db)
        self.outbox = OutboxRepository(db)

    async def run(self) -> Pruned:
        """Delete old handled updates and sent messages; anonymise old closed tickets."""
        now = self.clock.now()
        before = now - self.config.keep_updates
        async with self.db.transaction():
            inbox = await self.inbox.prune(before.astimezone(UTC))
            outbox = await self.outbox.prune(before)
        return Pruned(inbox, outbox, await self.anonymise_closed())

    async def anonymise_closed(self) -> int:
        """Anonymise tickets closed longer ago than the community keeps them."""
        now = self.clock.now()
        due = await self.erasure.closed_before(
            self.community, now - self.config.keep_closed_tickets, BATCH
        )
        for ticket in due:
            async with self.db.transaction():
                anon = await self.erasure.new_anonymous_id("retention", now)
                await self.erasure.anonymise_ticket(ticket.id, anon, now)
                await self.audit.add(now, None, "", "anonymise", target=f"#{ticket.number}")
        return len(due)

    async def export(self, user_id: int) -> dict[str, list[dict[str, Any]]]:
        """Return everything stored about a person, table by table."""
        return await self.erasure.export(user_id)

    async def forget(self, user_id: int) -> int:
        """Erase a person's data or move it to an anonymous id; return that id."""
        now = self.clock.now()
        async with self.db.transaction():
            anon = await self.erasure.new_anonymous_id("forget", now)
            reported = await self.erasure.open_reported(user_id)
            masked = {tid: mask_pii(text) for tid, text, closed in reported if not closed}
            await self.erasure.forget_in_tickets(user_id, anon, masked)
            for ticket_id, _, closed in reported:
                if closed:
                    await self.erasure.anonymise_ticket(ticket_id, anon, now)
            await self.erasure.forget_in_points(user_id, anon)
            await self.erasure.forget_person(user_id)
            await self.audit.add(
                now, None, "", "forget", target=str(anon), detail={"tickets": len(reported)}
            )
        return anon


def export_file(data: Mapping[str, Any], *, when: datetime) -> bytes:
    """The /mydata file: everything stored, as readable JSON."""
    body = {"exported_at": when.isoformat(), **data}
    return json.dumps(body, ensure_ascii=False, indent=2, default=str).encode("utf-8")
