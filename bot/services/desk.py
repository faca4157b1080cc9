"""The worker's desk: who may act, the questions the bot asks back, and routing on transfer."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from bot.services.community import Worker
from bot.services.errors import DomainError
from bot.services.flows import STAFF_QUESTIONS, AwaitStaff, Prompt
from bot.services.learning import Lesson
from bot.services.routing import Route, route_ticket
from bot.services.tickets import Actor, Ticket

if TYPE_CHECKING:
    from bot.services.bootstrap import Services

ROLE_LABEL_KEYS = {
    "grid_worker": "ROLE_GRID_WORKER",
    "duty": "ROLE_DUTY",
    "social_worker": "ROLE_SOCIAL",
    "office": "ROLE_OFFICE",
}


@dataclass(frozen=True, slots=True)
class Reroute:
    """A ticket moved to someone else because its worker could not be reached."""

    ticket: Ticket
    from_key: str | None
    route: Route


class Desk:
    """Operations a worker starts from a ticket card."""

    def __init__(self, services: Services) -> None:
        self.s = services

    async def actor(self, user_id: int, name: str) -> Actor:
        """Describe who is pressing: their worker key (if any) and whether they are an admin."""
        worker = await self.s.state.worker_for_user(user_id)
        admin = await self.s.state.admin_for_user(user_id)
        return Actor(
            user_id=user_id,
            name=name,
            worker_key=worker.key if worker else (admin.key if admin else None),
            is_admin=admin is not None,
        )

    async def require_staff(self, user_id: int, name: str) -> Actor:
        """Return the actor, refusing residents."""
        actor = await self.actor(user_id, name)
        if actor.worker_key is None and not actor.is_admin:
            raise DomainError("not_allowed")
        return actor

    def role_label(self, worker_key: str | None) -> str:
        """The role word the group reads before a worker's name (网格员, 社工 …)."""
        from bot import texts

        worker = self.s.community.worker(worker_key) if worker_key else None
        if worker is None:
            return ""
        return str(getattr(texts, ROLE_LABEL_KEYS.get(worker.role, "ROLE_OFFICE")))

    def transfer_targets(self, ticket: Ticket) -> list[Worker]:
        """Workers a ticket can be handed to (everyone active but its current worker)."""
        return [w for w in self.s.community.workers if w.active and w.key != ticket.assignee_key]

    async def ask(
        self, user_id: int, chat_id: int, action: str, ticket_id: int, data: dict[str, str]
    ) -> None:
        """Put a question to a worker about a ticket (their next message in that chat answers).

        It is a dialogue of the one store (bot.services.dialogues): a newer question in the same
        chat replaces it.
        """
        flow = STAFF_QUESTIONS[action]
        await self.s.dialogues.start(flow, user_id, chat_id, AwaitStaff(ticket_id, dict(data)))

    async def open_prompt(self, user_id: int, chat_id: int) -> Prompt | None:
        """Return the question a worker has yet to answer in this chat."""
        found = await self.s.dialogues.current(user_id, chat_id)
        if found is None or not found.is_open or found.flow not in STAFF_QUESTIONS:
            return None
        waiting = STAFF_QUESTIONS[found.flow].data_of(found)
        return Prompt(user_id, chat_id, found.flow, waiting.ticket_id, waiting.data)

    async def close_prompt(self, prompt: Prompt) -> bool:
        """Mark a question answered; False when it was answered already."""
        async with self.s.db.transaction():
            if await self.open_prompt(prompt.user_id, prompt.chat_id) != prompt:
                return False
            await self.s.dialogues.close(prompt.action, prompt.user_id, prompt.chat_id)
            return True

    async def transfer_to_worker(
        self, ticket_id: int, actor: Actor, worker_key: str, reason: str
    ) -> Ticket:
        """Hand a ticket to another worker, with a reason."""
        worker = self.s.community.worker(worker_key)
        if worker is None or not worker.active:
            raise DomainError("stale_button")
        worker_id = await self.s.state.telegram_id_of(worker_key)
        return await self.s.tickets.transfer(
            ticket_id,
            actor,
            to_worker_key=worker_key,
            to_worker_id=worker_id,
            to_category=None,
            reason=reason,
        )

    async def transfer_to_category(
        self, ticket_id: int, actor: Actor, category: str, reason: str
    ) -> tuple[Ticket, Lesson | None]:
        """Change a ticket's category, route it anew, and teach the classifier the correction."""
        if category not in self.s.classifier.categories:
            raise DomainError("bad_choice")
        ticket = await self.s.tickets.get(ticket_id)
        unavailable = await self.s.state.unavailable_workers()
        place = (ticket.location or {}).get("place")
        route = route_ticket(
            self.s.community, category, ticket.building, place, None, unavailable, may_ask=False
        )
        worker_id = (
            await self.s.state.telegram_id_of(route.worker_key) if route.worker_key else None
        )
        moved = await self.s.tickets.transfer(
            ticket_id,
            actor,
            to_worker_key=route.worker_key,
            to_worker_id=worker_id,
            to_category=category,
            reason=reason,
        )
        lesson = None
        if ticket.category != category:
            lesson = await self.s.learner.learn(
                self.s.community.name,
                self.s.classifier,
                ticket.text,
                ticket.category,
                category,
                actor.user_id,
                ticket_id=ticket_id,
            )
        return moved, lesson

    async def return_ticket(self, ticket_id: int, actor: Actor, reason_code: str) -> Ticket:
        """退单: give the ticket back to the duty worker with a reason code."""
        from bot import texts

        if reason_code not in texts.RETURN_REASONS:
            raise DomainError("stale_button")
        duty = self.s.community.duty_worker
        return await self.s.tickets.return_to_duty(
            ticket_id,
            actor,
            reason_code=reason_code,
            reason=texts.RETURN_REASONS[reason_code],
            duty_key=duty,
            duty_id=await self.s.state.telegram_id_of(duty),
        )

    async def reroute_unreachable(self, ticket: Ticket) -> Reroute:
        """The worker could not be reached (403): route to the next available person."""
        unavailable = await self.s.state.unavailable_workers()
        if ticket.assignee_key:
            unavailable = unavailable | {ticket.assignee_key}
        place = (ticket.location or {}).get("place")
        route = route_ticket(
            self.s.community,
            ticket.category,
            ticket.building,
            place,
            None,
            unavailable,
            may_ask=False,
        )
        if route.worker_key is None:
            return Reroute(ticket, ticket.assignee_key, route)
        worker_id = await self.s.state.telegram_id_of(route.worker_key)
        moved = await self.s.tickets.reassign(
            ticket.id, route.worker_key, worker_id, "unreachable"
        )
        return Reroute(moved, ticket.assignee_key, route)

    async def admin_ids(self) -> list[int]:
        """Telegram ids of the community's admins."""
        ids = [await self.s.state.telegram_id_of(a.key) for a in self.s.community.admins]
        return [i for i in ids if i is not None]
