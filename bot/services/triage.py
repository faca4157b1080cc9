"""The triage path: a message that might be a complaint goes to the grid worker, not the group.

The worker sees the text, a link to the message and two buttons: 立案 opens the ticket as a
clear complaint would have (the handler replies to the resident in the group), 不是问题 dismisses
it and teaches the gate. An item nobody handles by the accept deadline goes once into the
staff's digest; the group never hears of it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace

from bot import texts
from bot.nlp import NONE, OTHER, Classifier, Reading
from bot.services.cards import quote
from bot.services.clock import Clock
from bot.services.community import Community
from bot.services.errors import DomainError
from bot.services.intake import Outcome, Report, reading_from_json, reading_to_json
from bot.services.learning import Learner
from bot.services.people import CommunityState
from bot.services.routing import route_ticket
from bot.services.sla import SlaPolicy
from storage import triage as repo
from storage.outbox import Button, OutboxRepository, OutgoingMessage
from storage.store import Store
from storage.triage import TriageItem

OPEN_DATA = "tri:open:{id}"
DISMISS_DATA = "tri:no:{id}"


def message_link(chat_id: int, message_id: int) -> str | None:
    """Return a t.me link to a supergroup's message (basic groups have none)."""
    text = str(chat_id)
    if not text.startswith("-100"):
        return None
    return f"https://t.me/c/{text[4:]}/{message_id}"


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
        if item is None:
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

    async def digest_overdue(self) -> int:
        """Queue one staff digest of the items past their deadline; return how many it lists."""
        now = self.clock.now()
        items = await repo.overdue(self.db, self.community.name, now)
        if not items or not self.office_ids:
            return 0
        lines = "\n".join(
            texts.TRIAGE_DIGEST_LINE.format(
                when=i.created_at.astimezone(self.sla.timezone).strftime("%m-%d %H:%M"),
                name=i.reporter_name,
                quote=quote(i.text),
            )
            for i in items
        )
        text = texts.TRIAGE_DIGEST.format(count=len(items), lines=lines)
        key = "triage-digest:" + ",".join(str(i.id) for i in items)
        async with self.db.transaction():
            for office_id in self.office_ids:
                await self.outbox.enqueue(
                    office_id,
                    OutgoingMessage(text, private=True, purpose="digest"),
                    now,
                    dedup_key=f"{key}:{office_id}",
                )
            await repo.mark_digested(self.db, [i.id for i in items], now)
        return len(items)


__all__ = ["Outcome", "TriageService", "message_link"]
