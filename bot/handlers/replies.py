"""What the feature handlers share: the services, the dialogues, a reply, a card's outcome."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

from telegram import Update
from telegram.error import TelegramError

from bot.context import GridContext
from bot.handlers.sending import Sent, edit, send
from bot.services.dialogues import DialogueService
from bot.services.values import Button

if TYPE_CHECKING:
    from bot.services.bootstrap import Services

log = logging.getLogger(__name__)


def services_of(context: GridContext) -> Services:
    """Return the services."""
    return context.services


def dialogues(context: GridContext) -> DialogueService:
    """Return the dialogue store of this application."""
    return services_of(context).dialogues


async def reply(update: Update, context: GridContext, text: str, **kwargs: Any) -> Sent:
    """Answer in the chat the update came from."""
    chat = update.effective_chat
    assert chat is not None
    message = update.effective_message
    reply_to = message.message_id if message is not None and chat.type != "private" else None
    return await send(
        context.bot, services_of(context), chat.id, text, reply_to=reply_to, **kwargs
    )


async def finish_card(
    context: GridContext,
    chat_id: int,
    message_id: int,
    original: str,
    is_photo: bool,
    outcome: str,
    buttons: list[list[Button]] | None = None,
) -> None:
    """Write the outcome under a card and take its buttons away (or leave the given ones)."""
    if not message_id:
        return
    text = f"{original}\n\n{outcome}" if original else outcome
    try:
        await edit(context.bot, chat_id, message_id, text, buttons=buttons or [], caption=is_photo)
    except TelegramError as exc:  # the card may be gone; the decision itself is recorded
        log.info("could not update card %s: %s", message_id, type(exc).__name__)
