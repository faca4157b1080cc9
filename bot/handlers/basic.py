"""/start, /help, and a clear answer to commands GridBot does not know."""

from __future__ import annotations

from typing import Any

from telegram import Update
from telegram.ext import (
    BaseHandler,
    CallbackQueryHandler,
    CommandHandler,
    MessageHandler,
    filters,
)

from bot import texts
from bot.context import GridContext
from bot.handlers.admin import start_hook
from bot.handlers.sending import send


def community_name(context: GridContext) -> str:
    """Return the name of the community the update acts in."""
    return context.services.community.name or "本社区"


async def start(update: Update, context: GridContext) -> None:
    """Greet a person (privately, with everything; in a group, briefly)."""
    chat = update.effective_chat
    message = update.effective_message
    if chat is None or message is None:
        return
    if await start_hook(update, context):
        return
    text = texts.START_PRIVATE if chat.type == "private" else texts.START_GROUP
    services = context.services
    await send(context.bot, services, chat.id, text.format(community=community_name(context)))


async def help_command(update: Update, context: GridContext) -> None:
    """Explain how to use the bot."""
    chat = update.effective_chat
    if chat is None:
        return
    await send(context.bot, context.services, chat.id, texts.HELP)


async def unknown_command(update: Update, context: GridContext) -> None:
    """Answer a command nobody handles (in groups only when it was addressed to this bot)."""
    chat = update.effective_chat
    message = update.effective_message
    if chat is None or message is None or not message.text:
        return
    command = message.text.split()[0]
    name = command[1:].partition("@")[0]
    if name.lower() in context.bot_data.known_commands:
        return  # a feature handled it in its own group
    addressed = command.lower().endswith("@" + context.bot_data.bot_username.lower())
    if chat.type != "private" and not addressed:
        return  # in a group, only a command addressed to this bot gets an answer
    services = context.services
    await send(context.bot, services, chat.id, texts.UNKNOWN_COMMAND, reply_to=message.message_id)


def handlers() -> list[BaseHandler[Any, Any, Any]]:
    """The basic commands."""
    return [CommandHandler("start", start), CommandHandler("help", help_command)]


async def unknown_button(update: Update, context: GridContext) -> None:
    """A button whose data no feature knows (forged or from an old version): say so."""
    query = update.callback_query
    if query is None:
        return
    data = query.data or ""
    if any(pattern.match(data) for pattern in context.bot_data.known_buttons):
        return  # a feature handled it in its own group
    await query.answer(texts.STALE_BUTTON, show_alert=True)


def fallback_handlers() -> list[BaseHandler[Any, Any, Any]]:
    """Answers of last resort."""
    return [
        MessageHandler(filters.COMMAND, unknown_command),
        CallbackQueryHandler(unknown_button),
    ]
