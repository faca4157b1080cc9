"""Tickets: open, accept, transfer, return, resolve, reject, rate — each one transaction."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Any

from bot import texts
from bot.services import access, audit
from bot.services import lifecycle as lc
from bot.services.cards import quote
from bot.services.clock import Clock
from bot.services.errors import DomainError
from bot.services.points import PointsService
from bot.services.sla import SlaPolicy
from storage.outbox import Button, OutboxRepository, OutgoingMessage
from storage.privacy import FollowerRatings
from storage.store import Store
from storage.tickets import (
    Follower,
    NewEvent,
    PlannedStep,
    RejectRequest,
    Ticket,
    TicketEvent,
    TicketPhoto,
    TicketRepository,
    iso,
)

log = logging.getLogger(__name__)

RATINGS = ("satisfied", "basic", "unsatisfied")
AUDITED = {"transferred": "transfer", "rejected": "reject"}
PHOTO_ROLES = ("reporter", "worker", "follower")
# A holder's progress note (进展) on a ticket, and its telling to the reporter.
NOTED = "noted"
NOTE_SHARED = "note_shared"
MAX_NOTE = 500

__all__ = ["Actor", "NewTicket", "Ticket", "TicketEvent", "TicketPhoto", "TicketService"]


@dataclass(frozen=True, slots=True)
class Actor:
    """Who presses a button: a worker (worker_key), an admin, or both."""

    user_id: int
    name: str
    worker_key: str | None = None
    is_admin: bool = False


@dataclass(frozen=True, slots=True)
class NewTicket:
    """What intake knows when it opens a ticket."""

    community: str
    source_key: str
    text: str
    category: str
    confidence: float
    keywords: tuple[str, ...]
    urgency: str
    location: dict[str, Any]
    building: str | None
    grid: str | None
    reporter_id: int
    reporter_name: str
    is_private: bool
    chat_id: int | None
    message_id: int | None
    assignee_key: str | None
    assignee_id: int | None
    photos: tuple[tuple[str, str], ...] = ()  # (file_id, file_unique_id)


def deadline_steps(
    ticket_id: int,
    phase: str,
    start: datetime,
    deadline: datetime,
    sla: SlaPolicy,
    urgency: str = "urgent",
) -> list[PlannedStep]:
    """Plan the first steps of a deadline: remind the worker, then tell the office at the end."""
    remind_at = sla.reminder_time(start, deadline, urgency)
    return [
        PlannedStep(ticket_id, phase, "remind", start, deadline, remind_at),
        PlannedStep(ticket_id, phase, "office", start, deadline, deadline),
    ]


def _require_open(ticket: Ticket) -> None:
    if ticket.status not in lc.OPEN_STATES:
        raise DomainError(
            "ticket_finished",
            number=ticket.number,
            state_label=texts.TICKET_STATE_LABELS[ticket.status],
        )


def rating_request(ticket: Ticket, note: str) -> tuple[int, OutgoingMessage] | None:
    """Return (chat, message) asking the reporter to rate, as a reply to their complaint."""
    if ticket.chat_id is None:
        return None
    return ticket.chat_id, OutgoingMessage(
        text=texts.RATING_REQUEST.format(
            reporter=ticket.reporter_name,
            number=ticket.number,
            note=texts.RATING_REQUEST_NOTE.format(note=note) if note else "",
        ),
        buttons=(rating_buttons(ticket.id),),
        reply_to_message_id=ticket.message_id,
        private=ticket.is_private,
        purpose="rate",
        extra={"ticket_id": ticket.id},
    )


def rating_buttons(ticket_id: int) -> tuple[Button, ...]:
    """Return the three rating buttons (callback data rate:<id>:<rating>)."""
    return (
        Button(texts.RATING_BUTTON_SATISFIED, f"rate:{ticket_id}:satisfied"),
        Button(texts.RATING_BUTTON_BASIC, f"rate:{ticket_id}:basic"),
        Button(texts.RATING_BUTTON_UNSATISFIED, f"rate:{ticket_id}:unsatisfied"),
    )


def acts_for_holder(ticket: Ticket, actor: Actor) -> bool:
    """Tell whether the actor is the ticket's own worker (not an admin acting for them)."""
    if actor.worker_key is not None and actor.worker_key == ticket.assignee_key:
        return True
    return ticket.assignee_id is not None and actor.user_id == ticket.assignee_id


def actor_role(ticket: Ticket, actor: Actor) -> str:
    """The role an action is recorded under: the holder's own press, or an admin's."""
    if acts_for_holder(ticket, actor) or not actor.is_admin:
        return "worker"
    return "admin"


def actor_detail(ticket: Ticket, actor: Actor) -> dict[str, Any]:
    """Who took an action, by name and key; an admin's press names whose ticket it was."""
    detail: dict[str, Any] = {"by": actor.name, "by_key": actor.worker_key}
    if not acts_for_holder(ticket, actor):
        detail["for_worker"] = ticket.assignee_key
    return detail


class TicketService:
    """The ticket rules; every state change is one transaction with its history row."""

    def __init__(
        self,
        db: Store,
        clock: Clock,
        sla: SlaPolicy,
        community_name: str,
        *,
        office_ids: Sequence[int] = (),
        category_names: Mapping[str, str] | None = None,
        worker_names: Mapping[str, str] | None = None,
        points: PointsService | None = None,
    ) -> None:
        # office_ids: Telegram ids of the community office (the admins), told on 不满意 reopens.
        # category_names: Chinese names for messages (the classifier's category_name).
        self.category_names = dict(category_names or {})
        self.worker_names = dict(worker_names or {})
        self.db = db
        self.clock = clock
        self.sla = sla
        self.community = community_name
        self.office_ids = tuple(office_ids)
        self.repo = TicketRepository(db, community=community_name)
        self.points = points  # applies the ticket_confirmed rule when a ticket is resolved
        # When a post to a group may go out (the end of its quiet hours); set by bootstrap.
        self.group_release: Callable[[int, datetime], Awaitable[datetime]] | None = None

    # ── reading ──
    async def get(self, ticket_id: int) -> Ticket:
        """Return a ticket or raise ticket_not_found."""
        ticket = await self.repo.get(ticket_id)
        if ticket is None or ticket.community != self.community:  # another community's: unseen
            raise DomainError("ticket_not_found", ref=f"#{ticket_id}")
        return ticket

    async def by_number(self, community: str, number: int) -> Ticket | None:
        """Return a community's ticket #number, or None."""
        return await self.repo.by_number(community, number)

    async def history(self, ticket_id: int) -> list[TicketEvent]:
        """Return a ticket's timeline, oldest first."""
        return await self.repo.events(ticket_id)

    async def photos(self, ticket_id: int) -> list[TicketPhoto]:
        """Return a ticket's photos (reporter's, followers' and the worker's)."""
        return await self.repo.photos(ticket_id)

    async def last_event(self, ticket_id: int, kinds: Sequence[str]) -> TicketEvent | None:
        """Return a ticket's latest event of some kinds, or None."""
        return await self.repo.last_event(ticket_id, kinds)

    async def followers(self, ticket_id: int) -> list[Follower]:
        """Return the residents who pressed 我也遇到 on a ticket."""
        return await self.repo.followers(ticket_id)

    async def facts(self, ticket: Ticket) -> access.TicketFacts:
        """Gather the access policy's facts about a ticket from the database."""
        return await access.load_facts(self.repo, ticket)

    async def open_for_worker(self, worker_key: str) -> list[Ticket]:
        """Return a worker's open tickets, highest priority and oldest first."""
        return await self.repo.by_assignee(self.community, worker_key, sorted(lc.OPEN_STATES))

    async def find_similar_open(
        self,
        community: str,
        category: str,
        building: str | None,
        place: str | None,
        within: timedelta,
        limit: int = 10,
    ) -> list[Ticket]:
        """Return the open tickets of the same category and location opened within `within`,
        newest first."""
        if building is None and place is None:
            return []  # no location: two complaints cannot be told to be the same thing
        return await self.repo.find_open_like(
            community,
            category,
            building,
            place,
            sorted(lc.OPEN_STATES),
            self.clock.now() - within,
            limit,
        )

    async def recent_by_reporter(
        self, reporter_id: int, category: str, within: timedelta, limit: int = 5
    ) -> list[Ticket]:
        """Return the reporter's tickets of a category opened within `within` (a burst),
        newest first."""
        return await self.repo.recent_by_reporter(
            self.community, reporter_id, category, self.clock.now() - within, limit
        )

    # ── opening ──
    async def open_ticket(self, new: NewTicket) -> tuple[Ticket, bool]:
        """Open a ticket; on a replayed source_key return (the existing ticket, False)."""
        if new.urgency not in ("urgent", "normal"):
            raise ValueError(f"unknown urgency {new.urgency!r}")
        now = self.clock.now()
        async with self.db.transaction():
            existing = await self.repo.by_source(new.source_key)
            if existing is not None:
                return existing, False
            number = await self.repo.next_number(new.community)
            accept_due = self.sla.accept_due(new.category, new.urgency, now)
            # The first deadline steps are known now: their earliest is the next check, so the
            # row is written once instead of being refreshed after the steps.
            steps = deadline_steps(0, "accept", now, accept_due, self.sla, new.urgency)
            ticket = await self.repo.insert(
                {
                    "community": new.community,
                    "number": number,
                    "source_key": new.source_key,
                    "text": new.text,
                    "category": new.category,
                    "confidence": new.confidence,
                    "keywords": list(new.keywords),
                    "urgency": new.urgency,
                    "location": new.location,
                    "building": new.building,
                    "grid": new.grid,
                    "reporter_id": new.reporter_id,
                    "reporter_name": new.reporter_name,
                    "is_private": new.is_private,
                    "chat_id": new.chat_id,
                    "message_id": new.message_id,
                    "status": lc.NEW,
                    "assignee_key": new.assignee_key,
                    "assignee_id": new.assignee_id,
                    "created_at": now,
                    "accept_due_at": accept_due,
                    "resolve_due_at": self.sla.resolve_due(new.category, new.urgency, now),
                    "next_check_at": min(step.due_at for step in steps),
                }
            )
            ticket_id = ticket.id
            for file_id, unique_id in new.photos:
                await self.repo.add_photo(
                    ticket_id, file_id, unique_id, new.reporter_id, "reporter", now
                )
            await self.repo.add_event(
                NewEvent(
                    ticket_id,
                    now,
                    new.reporter_id,
                    "reporter",
                    "opened",
                    None,
                    lc.NEW,
                    {
                        "category": new.category,
                        "urgency": new.urgency,
                        "assignee": new.assignee_key,
                        "photos": len(new.photos),
                    },
                )
            )
            await self.repo.plan_steps(replace(step, ticket_id=ticket_id) for step in steps)
            return ticket, True

    # ── the worker's side ──
    async def accept(self, ticket_id: int, actor: Actor) -> Ticket:
        """Accept (接单): the resolve deadline starts now."""
        now = self.clock.now()
        async with self.db.transaction():
            ticket = await self.get(ticket_id)
            self._require_assignee(ticket, actor)
            to = self._check(ticket, "accept")
            due = self.sla.resolve_due(ticket.category, ticket.urgency, now)
            await self.repo.update(
                ticket_id,
                status=to,
                accepted_at=ticket.accepted_at or now,
                resolve_due_at=due,
                escalation_level=0,
            )
            await self._event(ticket, actor, "accepted", to, {"resolve_due": iso(due)})
            await self._restart_clock(ticket_id, "resolve", now, due, ticket.urgency)
            return await self.get(ticket_id)

    async def transfer(
        self,
        ticket_id: int,
        actor: Actor,
        *,
        to_worker_key: str | None,
        to_worker_id: int | None,
        to_category: str | None,
        reason: str,
    ) -> Ticket:
        """Hand a ticket to another worker and/or category (转派); a fresh accept deadline runs."""
        reason = reason.strip()
        now = self.clock.now()
        async with self.db.transaction():
            ticket = await self.get(ticket_id)
            self._require_assignee(ticket, actor)
            to = self._check(ticket, "transfer")
            if to_worker_key is None and to_category is None:
                raise DomainError("transfer_target_required", number=ticket.number)
            category = to_category or ticket.category
            if to_worker_key == ticket.assignee_key and category == ticket.category:
                raise DomainError("same_worker", number=ticket.number)
            if not reason:
                raise DomainError("reason_required", number=ticket.number)
            new_key = to_worker_key if to_worker_key is not None else ticket.assignee_key
            new_id = to_worker_id if to_worker_key is not None else ticket.assignee_id
            if new_key == ticket.assignee_key:
                # Only the category was wrong: the holder keeps the ticket, its state and the
                # time promised to the resident.
                await self.repo.update(ticket_id, category=category)
                await self._event(
                    ticket,
                    actor,
                    "recategorised",
                    ticket.status,
                    {"from_category": ticket.category, "to_category": category, "reason": reason},
                )
                return await self.get(ticket_id)
            due = self.sla.accept_due(category, ticket.urgency, now)
            await self.repo.update(
                ticket_id,
                status=to,
                category=category,
                assignee_key=new_key,
                assignee_id=new_id,
                accept_due_at=due,
                escalation_level=0,
                resolve_due_at=self.sla.resolve_due(category, ticket.urgency, now),
            )
            await self._event(
                ticket,
                actor,
                "transferred",
                to,
                {
                    "from_worker": ticket.assignee_key,
                    "to_worker": new_key,
                    "from_category": ticket.category,
                    "to_category": category,
                    "reason": reason,
                },
            )
            await self._restart_clock(ticket_id, "accept", now, due, ticket.urgency)
            return await self.get(ticket_id)

    async def return_to_duty(
        self,
        ticket_id: int,
        actor: Actor,
        *,
        reason_code: str,
        reason: str,
        duty_key: str,
        duty_id: int | None,
    ) -> Ticket:
        """Return a ticket to the duty worker (退单, 不属于我) with a reason code."""
        now = self.clock.now()
        async with self.db.transaction():
            ticket = await self.get(ticket_id)
            self._require_assignee(ticket, actor)
            to = self._check(ticket, "return")
            if reason_code not in texts.RETURN_REASONS:
                raise DomainError("bad_reason_code", number=ticket.number)
            if ticket.assignee_key == duty_key:
                raise DomainError("already_with_duty", number=ticket.number)
            due = self.sla.accept_due(ticket.category, ticket.urgency, now)
            await self.repo.update(
                ticket_id,
                status=to,
                assignee_key=duty_key,
                assignee_id=duty_id,
                accept_due_at=due,
                escalation_level=0,
            )
            await self._event(
                ticket,
                actor,
                "returned",
                to,
                {
                    "reason_code": reason_code,
                    "reason": reason.strip(),
                    "from_worker": ticket.assignee_key,
                    "to_worker": duty_key,
                },
            )
            await self._restart_clock(ticket_id, "accept", now, due, ticket.urgency)
            return await self.get(ticket_id)

    async def reassign(
        self, ticket_id: int, worker_key: str, worker_id: int | None, reason: str
    ) -> Ticket:
        """Move a ticket to another worker for the system (the assignee cannot be reached)."""
        now = self.clock.now()
        async with self.db.transaction():
            ticket = await self.get(ticket_id)
            to = self._check(ticket, "reassign")
            # The resident was promised a time: a ticket still waiting keeps its accept deadline.
            if ticket.status in lc.AWAITING_ACCEPT and ticket.accept_due_at is not None:
                due = ticket.accept_due_at
            else:
                due = self.sla.accept_due(ticket.category, ticket.urgency, now)
            await self.repo.update(
                ticket_id,
                status=to,
                assignee_key=worker_key,
                assignee_id=worker_id,
                accept_due_at=due,
            )
            await self.repo.add_event(
                NewEvent(
                    ticket_id,
                    now,
                    None,
                    "system",
                    "reassigned",
                    ticket.status,
                    to,
                    {
                        "from_worker": ticket.assignee_key,
                        "to_worker": worker_key,
                        "reason": reason,
                    },
                )
            )
            if ticket.status not in lc.AWAITING_ACCEPT:
                await self._restart_clock(ticket_id, "accept", now, due, ticket.urgency)
            return await self.get(ticket_id)

    async def resolve(
        self, ticket_id: int, actor: Actor, *, note: str, photo: tuple[str, str] | None
    ) -> Ticket:
        """Resolve (办结): ask the reporter to rate and tell the followers."""
        note = note.strip()
        now = self.clock.now()
        async with self.db.transaction():
            ticket = await self.get(ticket_id)
            self._require_assignee(ticket, actor)
            to = self._check(ticket, "resolve")
            if photo is not None:
                await self.repo.add_photo(
                    ticket_id, photo[0], photo[1], actor.user_id, "worker", now
                )
            await self.repo.update(ticket_id, status=to, resolved_at=now, rating=None)
            await self._event(
                ticket,
                actor,
                "resolved",
                to,
                {
                    "note": note,
                    "photo": photo[1] if photo else None,
                    "late": bool(ticket.resolve_due_at and now > ticket.resolve_due_at),
                },
            )
            if self.points is not None:
                await self.points.confirm_ticket(ticket_id)
            await self.repo.cancel_steps(ticket_id, now)
            window_end = now + self.sla.rating_window
            await self.repo.plan_steps(
                [PlannedStep(ticket_id, "rating", "close_unrated", now, window_end, window_end)]
            )
            await self.repo.refresh_next_check([ticket_id])
            resolved = await self.get(ticket_id)
            messages: list[tuple[str, int, OutgoingMessage]] = []
            request = rating_request(resolved, note)
            held: dict[str, datetime] = {}
            if request is not None:
                key = f"rate-req:{ticket_id}:{iso(now)}"
                messages.append((key, *request))
                chat = request[0]
                if chat < 0 and resolved.urgency != "urgent" and self.group_release is not None:
                    # A rating question is no reason to wake a group at night.
                    held[key] = await self.group_release(chat, now)
            for follower in await self.repo.followers(ticket_id):
                if follower.chat_id is None or ticket.is_private:  # private: nobody else hears
                    continue
                messages.append(
                    (
                        f"followed-resolved:{ticket_id}:{follower.user_id}:{iso(now)}",
                        follower.chat_id,
                        OutgoingMessage(
                            text=texts.FOLLOWER_RESOLVED.format(
                                number=ticket.number,
                                note=texts.RATING_REQUEST_NOTE.format(note=note) if note else "",
                            ),
                            buttons=(rating_buttons(ticket_id),),
                            private=True,
                            purpose="rate",
                            extra={"ticket_id": ticket_id},
                        ),
                    )
                )
            await self.repo.queue_messages(messages, now, not_before=held)
            return resolved

    async def reject(
        self,
        ticket_id: int,
        actor: Actor,
        *,
        reason: str,
        request: RejectRequest | None = None,
    ) -> Ticket:
        """Refuse a ticket (不予受理) with a reason the reporter will see; only an admin may.

        A worker asks with `request_reject`; an admin's approval (`decide_reject`) ends here.
        """
        reason = reason.strip()
        now = self.clock.now()
        async with self.db.transaction():
            ticket = await self.get(ticket_id)
            if not actor.is_admin:
                raise DomainError("reject_needs_approval", number=ticket.number)
            to = self._check(ticket, "reject")
            if not reason:
                raise DomainError("reason_required", number=ticket.number)
            await self.repo.update(ticket_id, status=to, closed_at=now)
            detail: dict[str, Any] = {"reason": reason}
            if request is not None:
                detail["requested_by"] = request.requester_key
            await self._event(ticket, actor, "rejected", to, detail)
            await self.repo.cancel_steps(ticket_id, now)
            await self.repo.refresh_next_check([ticket_id])
            pending = await self.repo.open_reject_request(ticket_id)
            if pending is not None and (request is None or pending.id != request.id):
                await self.repo.decide_reject_request(pending.id, actor.user_id, "dropped", now)
            return await self.get(ticket_id)

    async def request_reject(
        self, ticket_id: int, actor: Actor, *, reason: str, chat_id: int
    ) -> RejectRequest:
        """A worker's 不予受理: nobody but the admins hears of it until one of them approves."""
        reason = reason.strip()
        now = self.clock.now()
        async with self.db.transaction():
            ticket = await self.get(ticket_id)
            self._require_assignee(ticket, actor)
            self._check(ticket, "reject")
            if not reason:
                raise DomainError("reason_required", number=ticket.number)
            if not self.office_ids:
                raise DomainError("reject_no_approver", number=ticket.number)
            if await self.repo.open_reject_request(ticket_id) is not None:
                raise DomainError("reject_pending", number=ticket.number)
            request_id = await self.repo.add_reject_request(
                ticket_id, reason, actor.user_id, actor.worker_key, now, chat_id
            )
            await self._event(ticket, actor, "reject_requested", ticket.status, {"reason": reason})
            worker = self.worker_names.get(actor.worker_key or "", "") or actor.name
            text = texts.REJECT_APPROVAL_ASK.format(
                number=ticket.number,
                category=self.category_names.get(ticket.category, ticket.category),
                worker=worker,
                reason=reason,
                text=ticket.text[:300],
            )
            buttons = (
                (
                    Button(texts.BTN_REJECT_APPROVE, f"rja:{request_id}"),
                    Button(texts.BTN_REJECT_REFUSE, f"rjn:{request_id}"),
                ),
            )
            await self.repo.queue_messages(
                [
                    (
                        f"reject-ask:{request_id}:{office_id}",
                        office_id,
                        OutgoingMessage(
                            text,
                            buttons=buttons,
                            private=True,
                            purpose="approval",
                            extra={"ticket_id": ticket_id},
                        ),
                    )
                    for office_id in self.office_ids
                ],
                now,
            )
            request = await self.repo.reject_request(request_id)
            assert request is not None
            return request

    async def decide_reject(
        self, request_id: int, actor: Actor, *, approve: bool
    ) -> tuple[Ticket, str]:
        """An admin approves or refuses a worker's 不予受理; the worker is told the outcome.

        Returns the ticket and the outcome: 'approved', 'refused', or 'dropped' when the ticket
        moved on (another worker, accepted elsewhere, finished) since it was asked.
        """
        if not actor.is_admin:
            raise DomainError("not_allowed")
        now = self.clock.now()
        async with self.db.transaction():
            request = await self.repo.reject_request(request_id)
            if request is None:
                raise DomainError("stale_button")
            ticket = await self.get(request.ticket_id)
            if request.decided_at is not None:
                raise DomainError("reject_decided", number=ticket.number)
            still = ticket.assignee_key == request.requester_key and "reject" in (
                lc.allowed_actions(ticket.status)
            )
            outcome = ("approved" if approve else "refused") if still else "dropped"
            await self.repo.decide_reject_request(request.id, actor.user_id, outcome, now)
            admin = self.worker_names.get(actor.worker_key or "", "") or actor.name
            if outcome == "approved":
                ticket = await self.reject(
                    ticket.id, actor, reason=request.reason, request=request
                )
                told = texts.REJECT_APPROVED_TO_WORKER
            elif outcome == "refused":
                await self._event(
                    ticket, actor, "reject_refused", ticket.status, {"reason": request.reason}
                )
                told = texts.REJECT_REFUSED_TO_WORKER
            else:
                return ticket, outcome
            await self.repo.queue_messages(
                [
                    (
                        f"reject-outcome:{request.id}",
                        request.chat_id,
                        OutgoingMessage(
                            told.format(number=ticket.number, admin=admin),
                            private=True,
                            purpose="approval",
                            extra={"ticket_id": ticket.id},
                        ),
                    )
                ],
                now,
            )
            return ticket, outcome

    async def open_reject_request(self, ticket_id: int) -> RejectRequest | None:
        """Return a ticket's 不予受理 request still waiting for an admin."""
        return await self.repo.open_reject_request(ticket_id)

    async def reject_request(self, request_id: int) -> RejectRequest | None:
        """Return a 不予受理 request of this community's tickets by id."""
        request = await self.repo.reject_request(request_id)
        ticket = None if request is None else await self.repo.get(request.ticket_id)
        return request if ticket is not None and ticket.community == self.community else None

    async def mark_duplicate(
        self,
        ticket_id: int,
        actor: Actor,
        *,
        of_ticket_id: int,
        reporter_chat_id: int | None = None,
    ) -> Ticket:
        """Close a ticket as a duplicate; its reporter follows the original instead.

        reporter_chat_id: where to tell the reporter when the original is resolved (their
        private chat once they have opened the bot); by default only private reporters are told.
        """
        now = self.clock.now()
        async with self.db.transaction():
            ticket = await self.get(ticket_id)
            self._require_assignee(ticket, actor)
            to = self._check(ticket, "duplicate")
            original = await self.get(of_ticket_id)
            if original.duplicate_of is not None:
                original = await self.get(original.duplicate_of)
            if original.id == ticket.id:
                raise DomainError("duplicate_of_self", number=ticket.number)
            if original.status in lc.TERMINAL:
                raise DomainError("duplicate_target_closed", of_number=original.number)
            await self.repo.update(ticket_id, status=to, duplicate_of=original.id, closed_at=now)
            await self._event(ticket, actor, "duplicate", to, {"of": original.number})
            await self.repo.cancel_steps(ticket_id, now)
            await self.repo.refresh_next_check([ticket_id])
            if ticket.reporter_id != original.reporter_id:
                await self._add_follower(
                    original,
                    ticket.reporter_id,
                    ticket.reporter_name,
                    reporter_chat_id
                    if reporter_chat_id is not None
                    else (ticket.chat_id if ticket.is_private else None),
                    now,
                )
            return await self.get(ticket_id)

    async def withdraw(self, ticket_id: int, user_id: int, *, within: timedelta) -> Ticket:
        """The reporter takes back a false alarm, within minutes of reporting it."""
        now = self.clock.now()
        async with self.db.transaction():
            ticket = await self.get(ticket_id)
            if ticket.reporter_id != user_id:
                raise DomainError("not_your_report")
            if now - ticket.created_at > within:
                raise DomainError("undo_too_late", number=ticket.number)
            to = self._check(ticket, "withdraw")
            await self.repo.update(ticket_id, status=to, closed_at=now)
            await self.repo.add_event(
                NewEvent(ticket_id, now, user_id, "reporter", "withdrawn", ticket.status, to, {})
            )
            await self.repo.cancel_steps(ticket_id, now)
            await self.repo.refresh_next_check([ticket_id])
            return await self.get(ticket_id)

    async def publish(self, ticket_id: int, user_id: int) -> Ticket:
        """The reporter of a private complaint lets the group see it (never who they are)."""
        now = self.clock.now()
        async with self.db.transaction():
            ticket = await self.get(ticket_id)
            if ticket.reporter_id != user_id:
                raise DomainError("not_your_report")
            if not ticket.is_private:
                raise DomainError("stale_button")
            if await self.repo.has_event(ticket_id, "published"):
                raise DomainError("already_published", number=ticket.number)
            await self.repo.add_event(
                NewEvent(
                    ticket_id,
                    now,
                    user_id,
                    "reporter",
                    "published",
                    ticket.status,
                    ticket.status,
                    {},
                )
            )
            return ticket

    async def by_reply(self, chat_id: int, reply_message_id: int) -> Ticket | None:
        """Return the ticket whose acknowledgement is this bot message."""
        ticket_id = await self.repo.id_by_reply(chat_id, reply_message_id)
        return None if ticket_id is None else await self.get(ticket_id)

    async def _sent_as(self, chat_id: int, message_id: int, purpose: str) -> Ticket | None:
        """Return the ticket of this community a delivered bot message of a kind is about."""
        sent = await OutboxRepository(self.db, community=self.community).delivered_message(
            chat_id, message_id
        )
        if sent is None or sent.purpose != purpose or "ticket_id" not in sent.extra:
            return None
        ticket = await self.repo.get(int(sent.extra["ticket_id"]))
        return ticket if ticket is not None and ticket.community == self.community else None

    async def rating_asked(self, chat_id: int, message_id: int, user_id: int) -> Ticket | None:
        """Return the ticket this bot message asks `user_id` to rate, while it waits for it."""
        ticket = await self._sent_as(chat_id, message_id, "rate")
        if ticket is None or ticket.status != lc.RESOLVED or ticket.reporter_id != user_id:
            return None
        return ticket

    async def card_held(self, chat_id: int, message_id: int, user_id: int) -> Ticket | None:
        """Return the ticket whose card this message is, when `user_id` holds it."""
        ticket = await self._sent_as(chat_id, message_id, "card")
        return ticket if ticket is not None and ticket.assignee_id == user_id else None

    async def add_note(self, ticket_id: int, actor: Actor, note: str) -> int:
        """Put the holder's progress note (进展) into the ticket's timeline; return its id."""
        async with self.db.transaction():
            ticket = await self.get(ticket_id)
            self._require_assignee(ticket, actor)
            _require_open(ticket)
            return await self._event(
                ticket, actor, NOTED, ticket.status, {"note": note.strip()[:MAX_NOTE]}
            )

    async def share_note(self, ticket_id: int, note_id: int, actor: Actor) -> Ticket:
        """Tell the reporter a progress note: a reply to their complaint in its group, or
        privately for a private one. Each note is told once."""
        now = self.clock.now()
        async with self.db.transaction():
            ticket = await self.get(ticket_id)
            self._require_assignee(ticket, actor)
            history = await self.repo.events(ticket_id)
            note = next((e for e in history if e.id == note_id and e.kind == NOTED), None)
            if note is None:
                raise DomainError("stale_button")
            if any(e.kind == NOTE_SHARED and e.detail.get("note_id") == note_id for e in history):
                raise DomainError("note_shared", number=ticket.number)
            _require_open(ticket)
            await self._event(ticket, actor, NOTE_SHARED, ticket.status, {"note_id": note_id})
            worker = self.worker_names.get(ticket.assignee_key or "", "") or actor.name
            words = quote(str(note.detail.get("note", "")), limit=MAX_NOTE)
            if ticket.is_private or ticket.chat_id is None:
                if ticket.reporter_id <= 0:  # /forget: nobody left to tell privately
                    raise DomainError("reporter_forgotten", number=ticket.number)
                chat, reply_to = ticket.reporter_id, None
                text = texts.NOTE_TO_REPORTER.format(
                    number=ticket.number, worker=worker, note=words
                )
            else:
                chat, reply_to = ticket.chat_id, ticket.message_id
                text = texts.NOTE_TO_GROUP.format(number=ticket.number, worker=worker, note=words)
            key = f"note:{note_id}"
            held: dict[str, datetime] = {}
            if chat < 0 and ticket.urgency != "urgent" and self.group_release is not None:
                held[key] = await self.group_release(chat, now)  # no reason to wake a group
            message = OutgoingMessage(
                text,
                reply_to_message_id=reply_to,
                private=chat > 0,
                purpose="note",
                extra={"ticket_id": ticket.id},
            )
            await self.repo.queue_messages([(key, chat, message)], now, not_before=held)
            return ticket

    async def is_follower(self, ticket_id: int, user_id: int) -> bool:
        """Tell whether a resident follows a ticket (我也遇到)."""
        return await self.repo.is_follower(ticket_id, user_id)

    # ── residents ──
    async def follow(self, ticket_id: int, user_id: int, name: str, chat_id: int | None) -> Ticket:
        """Follow a ticket (我也遇到); enough followers raise its priority."""
        now = self.clock.now()
        async with self.db.transaction():
            ticket = await self.get(ticket_id)
            if ticket.is_private:
                raise access.invisible(f"#{ticket_id}")
            if ticket.reporter_id == user_id:
                raise DomainError("own_ticket", number=ticket.number)
            if ticket.status in lc.TERMINAL:
                raise DomainError(
                    "ticket_finished",
                    number=ticket.number,
                    state_label=texts.TICKET_STATE_LABELS[ticket.status],
                )
            if not await self._add_follower(ticket, user_id, name, chat_id, now):
                raise DomainError("already_following", number=ticket.number)
            return await self.get(ticket_id)

    async def _add_follower(
        self, ticket: Ticket, user_id: int, name: str, chat_id: int | None, now: datetime
    ) -> bool:
        if not await self.repo.add_follower(ticket.id, user_id, name, chat_id, now):
            return False
        await self.repo.add_event(
            NewEvent(ticket.id, now, user_id, "follower", "followed", None, None, {})
        )
        count = ticket.follower_count + 1
        if count >= self.sla.follower_threshold and ticket.priority == 0:
            await self.repo.update(ticket.id, priority=1)
            await self.repo.add_event(
                NewEvent(
                    ticket.id,
                    now,
                    None,
                    "system",
                    "priority_raised",
                    None,
                    None,
                    {"followers": count},
                )
            )
        return True

    async def rate(self, ticket_id: int, user_id: int, rating: str) -> Ticket:
        """Rate a resolution; 不满意 reopens it to the same worker and tells the office."""
        now = self.clock.now()
        async with self.db.transaction():
            ticket = await self.get(ticket_id)
            who = access.Viewer(user_id)
            facts = await access.load_facts(self.repo, ticket)
            if not access.knows_of(who, facts):
                raise access.invisible(f"#{ticket_id}")  # a private ticket: as if it did not exist
            if rating not in RATINGS:
                raise DomainError("bad_rating", number=ticket.number)
            role = access.rater_role(who, facts)
            if role is None:
                raise DomainError("not_rater", number=ticket.number)
            if role == "follower":  # counted apart: never reopens, never the reporter's answer
                return await self._follower_rating(ticket, user_id, rating, now)
            if ticket.status != lc.RESOLVED:
                code = "already_rated" if ticket.rating is not None else "not_resolved"
                raise DomainError(code, number=ticket.number)
            assert ticket.resolved_at is not None
            # The first answer per resolution counts (reporter or follower, whoever is first).
            if not await self.repo.add_rating(
                ticket_id, ticket.resolved_at, user_id, role, rating, now
            ):
                raise DomainError("already_rated", number=ticket.number)
            action = "rate_unsatisfied" if rating == "unsatisfied" else "rate"
            to = lc.check_transition(ticket.status, action, number=ticket.number)
            await self.repo.cancel_steps(ticket_id, now)
            detail: dict[str, Any] = {"rating": rating}
            if to == lc.CLOSED:
                await self.repo.update(ticket_id, status=to, rating=rating, closed_at=now)
                await self.repo.add_event(
                    NewEvent(ticket_id, now, user_id, role, "rated", ticket.status, to, detail)
                )
                await self.repo.refresh_next_check([ticket_id])
                return await self.get(ticket_id)
            due = self.sla.resolve_due(ticket.category, ticket.urgency, now)
            await self.repo.update(
                ticket_id, status=to, rating=rating, resolve_due_at=due, escalation_level=0
            )
            await self.repo.add_event(
                NewEvent(ticket_id, now, user_id, role, "reopened", ticket.status, to, detail)
            )
            await self._restart_clock(ticket_id, "resolve", now, due, ticket.urgency)
            await self.repo.queue_messages(self._reopen_messages(ticket, due, now), now)
            return await self.get(ticket_id)

    async def _follower_rating(
        self, ticket: Ticket, user_id: int, rating: str, now: datetime
    ) -> Ticket:
        if ticket.resolved_at is None or ticket.status not in (lc.RESOLVED, lc.CLOSED):
            raise DomainError("not_resolved", number=ticket.number)
        if not await FollowerRatings(self.db).add(
            ticket.id, ticket.resolved_at, user_id, rating, now
        ):
            raise DomainError("already_rated", number=ticket.number)
        return ticket

    def _reopen_messages(
        self, ticket: Ticket, due: datetime, now: datetime
    ) -> list[tuple[str, int, OutgoingMessage]]:
        worker = self.worker_names.get(ticket.assignee_key or "", "") or ticket.assignee_key or "-"
        category = self.category_names.get(ticket.category, ticket.category)
        out: list[tuple[str, int, OutgoingMessage]] = []
        for office_id in self.office_ids:
            out.append(
                (
                    f"reopen-office:{ticket.id}:{office_id}:{iso(now)}",
                    office_id,
                    OutgoingMessage(
                        text=texts.REOPENED_TO_OFFICE.format(
                            number=ticket.number, category=category, worker=worker
                        ),
                        private=True,
                        purpose="reopen",
                        extra={"ticket_id": ticket.id},
                    ),
                )
            )
        if ticket.assignee_id is not None:
            local_due = due.astimezone(self.sla.timezone).strftime("%m-%d %H:%M")
            out.append(
                (
                    f"reopen-worker:{ticket.id}:{iso(now)}",
                    ticket.assignee_id,
                    OutgoingMessage(
                        text=texts.REOPENED_TO_WORKER.format(number=ticket.number, due=local_due),
                        private=True,
                        purpose="reopen",
                        extra={"ticket_id": ticket.id},
                    ),
                )
            )
        return out

    async def add_photo(
        self, ticket_id: int, user_id: int, file_id: str, file_unique_id: str, role: str
    ) -> None:
        """Attach evidence to a ticket (the same photo twice is kept once)."""
        if role not in PHOTO_ROLES:
            raise DomainError("bad_photo_role")
        now = self.clock.now()
        async with self.db.transaction():
            ticket = await self.get(ticket_id)
            if ticket.status in lc.TERMINAL:
                raise DomainError(
                    "ticket_finished",
                    number=ticket.number,
                    state_label=texts.TICKET_STATE_LABELS[ticket.status],
                )
            if await self.repo.add_photo(ticket_id, file_id, file_unique_id, user_id, role, now):
                await self.repo.add_event(
                    NewEvent(
                        ticket_id,
                        now,
                        user_id,
                        role,
                        "photo_added",
                        None,
                        None,
                        {"file_unique_id": file_unique_id},
                    )
                )

    async def set_card(self, ticket_id: int, chat_id: int, message_id: int) -> None:
        """Remember where the worker's ticket card is, to edit it in place."""
        await self.repo.update(ticket_id, card_chat_id=chat_id, card_message_id=message_id)

    async def set_reply(self, ticket_id: int, message_id: int) -> None:
        """Remember the bot's reply to the complaint."""
        await self.repo.update(ticket_id, reply_message_id=message_id)

    # ── helpers ──
    def _require_assignee(self, ticket: Ticket, actor: Actor) -> None:
        if actor.is_admin:
            return
        if actor.worker_key is not None and actor.worker_key == ticket.assignee_key:
            return
        if ticket.assignee_id is not None and actor.user_id == ticket.assignee_id:
            return
        raise DomainError("not_assignee", number=ticket.number)

    def _check(self, ticket: Ticket, action: str) -> str:
        """Return the next state, refusing with the clearest sentence for the situation."""
        state = ticket.status
        if action not in lc.allowed_actions(state):
            if state in lc.TERMINAL:
                raise DomainError(
                    "ticket_finished",
                    number=ticket.number,
                    state_label=texts.TICKET_STATE_LABELS[state],
                )
            if action == "resolve" and state in lc.AWAITING_ACCEPT:
                raise DomainError("not_accepted", number=ticket.number)
            if action == "accept" and state == lc.ACCEPTED:
                raise DomainError("already_accepted", number=ticket.number)
            if state == lc.RESOLVED:
                raise DomainError("already_resolved", number=ticket.number)
        try:
            return lc.check_transition(state, action, number=ticket.number)
        except DomainError as exc:
            exc.params.setdefault("state_label", texts.TICKET_STATE_LABELS[state])
            exc.params.setdefault("action_label", texts.TICKET_ACTION_LABELS[action])
            raise

    async def _event(
        self, ticket: Ticket, actor: Actor, kind: str, to: str, detail: dict[str, Any]
    ) -> int:
        event_id = await self.repo.add_event(
            NewEvent(
                ticket.id,
                self.clock.now(),
                actor.user_id,
                actor_role(ticket, actor),
                kind,
                ticket.status,
                to,
                {**actor_detail(ticket, actor), **detail},
            )
        )
        if kind in AUDITED:  # staff actions the admins can review (/audit)
            await audit.record(
                self.db,
                self.clock.now(),
                actor.user_id,
                actor.name,
                AUDITED[kind],
                target=f"#{ticket.number}",
                community=self.community,
            )
        return event_id

    async def _restart_clock(
        self, ticket_id: int, phase: str, now: datetime, deadline: datetime, urgency: str
    ) -> None:
        """Cancel the old deadline's steps and plan the new deadline's."""
        await self.repo.cancel_steps(ticket_id, now)
        await self.repo.plan_steps(
            deadline_steps(ticket_id, phase, now, deadline, self.sla, urgency)
        )
        await self.repo.refresh_next_check([ticket_id])
