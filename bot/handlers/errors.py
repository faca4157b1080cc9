"""The one error handler: log the traceback and the update id, never the message text.

It never sends by itself: a refusal (DomainError) is queued in the update's transaction like any
reply; anything else rolls the update back (see bot.poller), and the apology, if one is due,
is queued only when the update is settled as failed.
"""

from __future__ import annotations

import logging

from telegram import Update
from telegram.error import BadRequest, Forbidden, NetworkError, RetryAfter, TelegramError, TimedOut

from bot import texts
from bot.context import GridContext
from bot.handlers.sending import Unreachable, send
from bot.services.errors import DatabaseLockedError, DatabaseUnwritableError, DomainError

log = logging.getLogger("bot.errors")


def domain_text(error: DomainError) -> str:
    """Turn a domain error into its Chinese sentence."""
    template = texts.ERRORS.get(error.code)
    if template is None:
        return texts.ERROR_GENERIC
    try:
        return template.format(**error.params)
    except (KeyError, IndexError, ValueError):
        return template


def _transient(error: BaseException | None) -> bool:
    """A failure that a later try may not meet: the update runs again from scratch."""
    if isinstance(error, DatabaseLockedError | DatabaseUnwritableError | RetryAfter | TimedOut):
        return True
    # BadRequest subclasses NetworkError in python-telegram-bot, but a 400 will not heal.
    return isinstance(error, NetworkError) and not isinstance(error, BadRequest | Forbidden)


async def on_error(update: object, context: GridContext) -> None:
    """Log the failure; tell the person in Chinese when there is something to tell them."""
    error = context.error
    update_id = update.update_id if isinstance(update, Update) else None
    chat = update.effective_chat if isinstance(update, Update) else None
    query = update.callback_query if isinstance(update, Update) else None
    outcome = context.bot_data.outcome

    if isinstance(error, DomainError):
        reply = domain_text(error)
        try:
            if query is not None:
                await query.answer(reply[:200], show_alert=True)
            elif chat is not None:
                await send(context.bot, context.bot_data.require_street().any(), chat.id, reply)
        except (TelegramError, Unreachable) as exc:
            log.warning("update %s: could not answer a refusal: %s", update_id, type(exc).__name__)
        return

    if _transient(error):
        log.warning("update %s: %s; rolled back, it runs again", update_id, type(error).__name__)
        if update_id is not None:
            outcome.ask_retry(update_id)
        return

    log.error("update %s failed", update_id, exc_info=error)
    apology: tuple[int, str] | None = None
    if query is not None:
        try:
            await query.answer(texts.ERROR_GENERIC[:200], show_alert=True)
        except TelegramError as exc:
            log.warning("update %s: could not answer the press: %s", update_id, type(exc).__name__)
    elif chat is not None:
        message = update.effective_message if isinstance(update, Update) else None
        # In a group, apologise only to someone who addressed the bot.
        if chat.type == "private" or (
            message is not None and (message.text or "").startswith("/")
        ):
            apology = (chat.id, texts.ERROR_GENERIC)
    if update_id is not None:
        outcome.fail(update_id, apology)
