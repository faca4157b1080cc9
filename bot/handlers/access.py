"""The Telegram edge of the access policy: who is asking, where, and are they in that group."""

from __future__ import annotations

from telegram import Bot
from telegram.error import TelegramError

from bot.services import access
from bot.services.bootstrap import Services
from bot.services.values import Ticket

MEMBER_STATUSES = frozenset({"creator", "owner", "administrator", "member"})


async def viewer_of(services: Services, user_id: int) -> access.Viewer:
    """Describe a person for the policy: their id and the communities they administer."""
    admin = await services.state.admin_for_user(user_id)
    return access.viewer(user_id, admin_of=[services.community.name] if admin else [])


async def is_member(bot: Bot, chat_id: int, user_id: int) -> bool:
    """Ask Telegram whether a person is in a group now (False when it cannot tell)."""
    try:
        member = await bot.get_chat_member(chat_id, user_id)
    except TelegramError:
        return False
    if member.status == "restricted":
        return bool(getattr(member, "is_member", False))
    return member.status in MEMBER_STATUSES


async def facts_of(services: Services, ticket: Ticket) -> access.TicketFacts:
    """Gather the policy's facts about a ticket from the database (never from a button)."""
    return await services.tickets.facts(ticket)


async def place_of_chat(services: Services, chat_id: int, *, is_private: bool) -> access.Place:
    """Where a question is asked: a private chat, a bound group (its community) or neither."""
    if is_private:
        return access.Place(is_private=True)
    grids = await services.state.group_grids(chat_id)
    return access.Place(
        is_private=False, community=services.community.name if grids is not None else None
    )


async def require_known(services: Services, ticket_id: int, user_id: int) -> Ticket:
    """Return the ticket, or refuse as for a missing one when the person may not know it."""
    ticket = await services.tickets.get(ticket_id)
    facts = await facts_of(services, ticket)
    if not access.knows_of(await viewer_of(services, user_id), facts):
        raise access.invisible(f"#{ticket_id}")
    return ticket
