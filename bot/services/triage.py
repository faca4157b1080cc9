"""The triage path: a message that might be a complaint goes to the grid worker, not the group.

The worker sees the text, a link to the message and two buttons: 立案 opens the ticket as a
clear complaint would have (the handler replies to the resident in the group), 不是问题 dismisses
it and teaches the gate. An item nobody handles by the accept deadline goes once into the
staff's daily digest (`[triage] digest_at` in the community file, 08:30 by default, on working
days): one private message per staff member per day; the group never hears of it.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime, time
from typing import Any

from bot import texts
from bot.nlp import NONE, OTHER, Classifier, Reading
from bot.services.cards import quote
from bot.services.clock import Clock
from bot.services.community import Community, ConfigError
from bot.services.errors import DomainError
from bot.services.intake import Outcome, Report, reading_from_json, reading_to_json
from bot.services.learning import Learner
from bot.services.people import CommunityState
from bot.services.routing import route_ticket
from bot.services.schedule import last_daily
from bot.services.sla import SlaPolicy, WorkingHours
from storage import triage as repo
from storage.outbox import Button, OutboxRepository, OutgoingMessage
from storage.store import Store
from storage.triage import TriageItem

DEFAULT_DIGEST_AT = time(8, 30)
_HHMM = re.compile(r"\s*([01]?\d|2[0-3])[:：]([0-5]\d)\s*")

OPEN_DATA = "tri:open:{id}"
DISMISS_DATA = "tri:no:{id}"


def message_link(chat_id: int, message_id: int) -> str | None:
    """Return a t.me link to a supergroup's message (basic groups have none)."""
    text = str(chat_id)
    if not text.startswith("-100"):
        return None
    return f"https://t.me/c/{text[4:]}/{message_id}"


@dataclass(frozen=True, slots=True)
class TriageConfig:
    """The community file's [triage] table."""

    digest_at: time = DEFAULT_DIGEST_AT  # local time of the staff's daily digest


def parse_triage_config(
    raw: Mapping[str, Any],
    source: str,
    working_hours: WorkingHours | None,
    quiet_hours: tuple[time, time] | None,
) -> TriageConfig:
    """Read `[triage] digest_at = "HH:MM"`: within working hours, outside quiet hours."""
    section = raw.get("triage", {})
    if not isinstance(section, Mapping):
        raise ConfigError(["triage: expected a table"], source)
    problems = [f"triage.{key}: unknown setting" for key in sorted(set(section) - {"digest_at"})]
    digest_at = DEFAULT_DIGEST_AT
    value = section.get("digest_at", "08:30")
    match = _HHMM.fullmatch(value) if isinstance(value, str) else None
    if match is None:
        problems.append('triage.digest_at: expected a time "HH:MM", e.g. "08:30"')
    else:
        digest_at = time(int(match.group(1)), int(match.group(2)))
        if working_hours is not None and not (
            working_hours.begin <= digest_at < working_hours.end
        ):
            span = f"{working_hours.begin:%H:%M}-{working_hours.end:%H:%M}"
            problems.append(f"triage.digest_at: must lie within the working hours {span}")
        if quiet_hours is not None and _in_quiet(digest_at, quiet_hours):
            span = f"{quiet_hours[0]:%H:%M}-{quiet_hours[1]:%H:%M}"
            problems.append(f"triage.digest_at: must lie outside the quiet hours {span}")
    if problems:
        raise ConfigError(problems, source)
    return TriageConfig(digest_at=digest_at)


def _in_quiet(at: time, quiet: tuple[time, time]) -> bool:
    begin, finish = quiet
    return (at >= begin or at < finish) if begin > finish else begin <= at < finish


@dataclass
class TriageService:
    """File possible problems with the grid worker; open or dismiss them; list the forgotten."""

    db: Store
    clock: Clock
    sla: SlaPolicy
    classifier: Classifier
    community: Community
    state: CommunityState
    learner: Learner
    outbox: OutboxRepository
    office_ids: Sequence[int] = ()
    config: TriageConfig = field(default_factory=TriageConfig)

    async def file(self, report: Report, reading: Reading) -> TriageItem:
        """Put a group message on its grid worker's triage list and queue the worker's note."""
        now = self.clock.now()
        category = reading.category if reading.category not in (NONE,) else OTHER
        unavailable = await self.state.unavailable_workers()
        route = route_ticket(
            self.community,
            category,
            reading.location.building,
            reading.location.place,
            report.group_grids,
            unavailable,
            may_ask=False,
        )
        worker_id = await self.state.telegram_id_of(route.worker_key) if route.worker_key else None
        item, created = await repo.add(
            self.db,
            community=self.community.name,
            source_key=report.source_key,
            chat_id=report.chat_id,
            message_id=report.message_id,
            reporter_id=report.reporter_id,
            reporter_name=report.reporter_name,
            text=report.text.strip()[:2000],
            reading=reading_to_json(reading),
            group_grids=report.group_grids,
            worker_key=route.worker_key,
            worker_id=worker_id,
            now=now,
            due=self.sla.accept_due(category, reading.urgency, now),
        )
        if created:
            note = self._note(item, reading)
            for chat_id in [worker_id] if worker_id is not None else list(self.office_ids):
                await self.outbox.enqueue(
                    chat_id, note, now, dedup_key=f"triage:{item.id}:{chat_id}"
                )
        return item

    def _note(self, item: TriageItem, reading: Reading) -> OutgoingMessage:
        link = message_link(item.chat_id, item.message_id)
        category = (
            self.classifier.category_name(reading.category)
            if reading.category not in (NONE, OTHER)
            else texts.TRIAGE_UNKNOWN_CATEGORY
        )
        text = texts.TRIAGE_ITEM.format(
            name=item.reporter_name,
            quote=quote(item.text),
            link=texts.TRIAGE_LINK.format(url=link) if link else "",
            category=category,
            due=item.due_at.astimezone(self.sla.timezone).strftime("%m-%d %H:%M"),
        )
        buttons = (
            (
                Button(texts.TRIAGE_OPEN_BUTTON, OPEN_DATA.format(id=item.id)),
                Button(texts.TRIAGE_DISMISS_BUTTON, DISMISS_DATA.format(id=item.id)),
            ),
        )
        return OutgoingMessage(
            text, buttons=buttons, private=True, purpose="triage", extra={"triage_id": item.id}
        )

    async def _take(self, item_id: int, user_id: int, status: str) -> TriageItem:
        item = await repo.get(self.db, item_id)
        if item is None or item.community != self.community.name:  # another community's
            raise DomainError("not_found")
        if user_id != item.worker_id and user_id not in self.office_ids:
            raise DomainError("triage_not_yours")
        if not await repo.settle(self.db, item_id, status, user_id, self.clock.now()):
            raise DomainError("triage_handled")
        return item

    async def open(self, item_id: int, user_id: int) -> tuple[TriageItem, Report, Reading]:
        """立案: settle the item; return the report and reading to open the ticket from."""
        item = await self._take(item_id, user_id, repo.OPENED)
        reading = reading_from_json(item.reading)
        if reading.category == NONE:
            reading = replace(reading, category=OTHER)
        report = Report(
            chat_id=item.chat_id,
            message_id=item.message_id,
            is_private=False,
            reporter_id=item.reporter_id,
            reporter_name=item.reporter_name,
            text=item.text,
            group_grids=item.group_grids,
        )
        await self.learner.teach_gate(
            self.community.name, self.classifier, item.text, complaint=True, actor_id=user_id
        )
        return item, report, reading

    async def dismiss(self, item_id: int, user_id: int) -> TriageItem:
        """不是问题: settle the item and teach the gate that such words are no complaint."""
        item = await self._take(item_id, user_id, repo.DISMISSED)
        await self.learner.teach_gate(
            self.community.name, self.classifier, item.text, complaint=False, actor_id=user_id
        )
        return item

    def digest_time(self, now: datetime) -> datetime | None:
        """Return today's digest time once it has come on a working day, else None."""
        tz = self.sla.timezone
        occurrence = last_daily(now, self.config.digest_at, tz)
        if occurrence.date() != now.astimezone(tz).date():
            return None  # today's time has not come yet
        if not self.sla.calendar.is_workday(occurrence.date()):
            return None  # no digest on a day off: the items wait for the next working day
        return occurrence

    async def digest_overdue(self) -> int:
        """Queue today's staff digest of the items overdue at digest time; return how many.

        Called by every sweep; it sends at most once a day: the items it lists are those past
        their deadline at today's digest time, and it marks them, so a later sweep the same day
        finds none (an item overdue after that waits for tomorrow's digest).
        """
        now = self.clock.now()
        occurrence = self.digest_time(now)
        if occurrence is None or not self.office_ids:
            return 0
        items = await repo.overdue(self.db, self.community.name, occurrence)
        if not items:
            return 0
        tz = self.sla.timezone
        lines = "\n".join(
            texts.TRIAGE_DIGEST_LINE.format(
                when=i.created_at.astimezone(tz).strftime("%m-%d %H:%M"),
                name=i.reporter_name,
                quote=quote(i.text),
            )
            for i in items
        )
        text = texts.TRIAGE_DIGEST.format(count=len(items), lines=lines)
        day = occurrence.date().isoformat()
        async with self.db.transaction():
            for office_id in self.office_ids:
                await self.outbox.enqueue(
                    office_id,
                    OutgoingMessage(text, private=True, purpose="digest"),
                    now,
                    dedup_key=f"triage-digest:{day}:{office_id}",
                )
            await repo.mark_digested(self.db, [i.id for i in items], now)
        return len(items)


__all__ = [
    "Outcome",
    "TriageConfig",
    "TriageService",
    "message_link",
    "parse_triage_config",
]
