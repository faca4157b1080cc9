"""The one error handler: log the traceback and the update id, never the message text."""

from __future__ import annotations

import logging

from telegram import Update
from telegram.error import Forbidden, NetworkError, RetryAfter, TimedOut

from bot import texts
from bot.context import GridContext
from bot.services.errors import DatabaseLockedError, DomainError

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


async def on_error(update: object, context: GridContext) -> None:
    """Log the failure; answer the person in Chinese when there is something to tell them."""
    error = context.error
    update_id = update.update_id if isinstance(update, Update) else None
    chat = update.effective_chat if isinstance(update, Update) else None
    query = update.callback_query if isinstance(update, Update) else None

    if isinstance(error, DomainError):
        reply = domain_text(error)
    elif isinstance(error, DatabaseLockedError):
        log.warning("update %s: database locked; it stays in the inbox for a retry", update_id)
        if update_id is not None:
            context.bot_data.outcome.ask_retry(update_id)
        reply = texts.ERROR_BUSY
    elif isinstance(error, RetryAfter | TimedOut | NetworkError) and not isinstance(
        error, Forbidden
    ):
        log.warning("update %s: transient Telegram error %s", update_id, type(error).__name__)
        return
    else:
        log.error("update %s failed", update_id, exc_info=error)
        reply = texts.ERROR_GENERIC
        if chat is not None and chat.type != "private" and query is None:
            message = update.effective_message if isinstance(update, Update) else None
            # In a group, apologise only to someone who addressed the bot.
            if message is None or not (message.text or "").startswith("/"):
                return

    try:
        if query is not None:
            await query.answer(reply[:200], show_alert=True)
        elif chat is not None:
            await context.bot.send_message(chat.id, reply)
    except Exception as exc:  # the apology itself failed: log and move on
        log.warning("update %s: could not send the error reply: %s", update_id, type(exc).__name__)

    test_hook = context.bot_data.extras.get("on_error")
    if test_hook is not None:
        test_hook(update_id, error)
