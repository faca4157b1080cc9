"""The grid worker's triage list: 立案 and 不是问题 on a possible problem."""

from __future__ import annotations

import re
from typing import Any

from telegram import Update
from telegram.ext import BaseHandler, CallbackQueryHandler

from bot import texts
from bot.context import GridContext
from bot.handlers.intake import respond
from bot.handlers.sending import edit

TRIAGE_DATA = re.compile(r"^tri:(open|no):(\d{1,12})$")


async def on_triage_choice(update: Update, context: GridContext) -> None:
    """The worker opened (立案) or dismissed (不是问题) an item of their triage list."""
    query = update.callback_query
    assert query is not None and query.data is not None
    match = TRIAGE_DATA.match(query.data)
    if match is None:
        await query.answer(texts.STALE_BUTTON, show_alert=True)
        return
    services = context.services
    verb, item_id, user = match.group(1), int(match.group(2)), query.from_user
    if verb == "no":
        await services.triage.dismiss(item_id, user.id)
        await query.answer()
        done = texts.TRIAGE_DISMISSED
    else:
        item, report, reading = await services.triage.open(item_id, user.id)
        outcome = await services.intake.open_confirmed(report, reading)
        await query.answer()
        # The resident hears in the group exactly what a clear complaint would have brought.
        await respond(context, item.chat_id, item.message_id, item.reporter_name, outcome)
        done = texts.TRIAGE_OPENED.format(name=user.full_name)
    if query.message is not None:
        text = getattr(query.message, "text", None) or ""
        await edit(
            context.bot, query.message.chat.id, query.message.message_id, f"{text}\n\n{done}"
        )


def callback_handlers() -> list[BaseHandler[Any, Any, Any]]:
    """Buttons of the triage list."""
    return [CallbackQueryHandler(on_triage_choice, pattern=r"^tri:")]
