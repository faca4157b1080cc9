"""Who is asking, in plain values: the Telegram user turned into a services Actor."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import TYPE_CHECKING

from telegram import User

from bot.context import GridContext
from bot.handlers.sending import Unreachable, send
from bot.services.people import has_started
from bot.services.residents import Person
from bot.services.values import Button

if TYPE_CHECKING:
    from bot.services.bootstrap import Services

log = logging.getLogger(__name__)


def organisations(context: GridContext) -> Mapping[int, str]:
    """Return who belongs to which organisation ([[organisations]] in the community file)."""
    return context.services.organisations


async def actor_for(context: GridContext, user: User) -> Person:
    """Build the Actor of a Telegram user: registered name, worker/admin flags, organisation."""
    services = context.services
    resident = await services.residents.get(user.id)
    name = resident.name if resident else (user.full_name.strip() or str(user.id))
    worker = await services.state.worker_for_user(user.id)
    admin = await services.state.admin_for_user(user.id)
    return Person(
        user_id=user.id,
        name=name,
        is_worker=worker is not None,
        is_admin=admin is not None,
        org=organisations(context).get(user.id),
    )


async def admin_ids(services: Services) -> list[int]:
    """Return the Telegram ids of the community's admins that are known."""
    found: list[int] = []
    for admin in services.community.admins:
        telegram_id = await services.state.telegram_id_of(admin.key)
        if telegram_id is not None and telegram_id not in found:
            found.append(telegram_id)
    return found


async def tell(
    context: GridContext,
    chat_id: int,
    text: str,
    *,
    buttons: tuple[tuple[Button, ...], ...] | list[list[Button]] = (),
) -> int | None:
    """Send a private message; return its id, or None when the person cannot be reached."""
    services = context.services
    if chat_id > 0 and not await has_started(services.state, chat_id):
        # Telegram refuses a first private message; known now, not only when the outbox sends.
        log.info("private message to %s not queued: the person never opened the bot", chat_id)
        return None
    try:
        message = await send(context.bot, services, chat_id, text, buttons=buttons)
    except Unreachable:
        log.info("private message to %s not delivered (403)", chat_id)
        return None
    return message.message_id
