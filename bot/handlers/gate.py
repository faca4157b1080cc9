"""The gatekeeper: runs before every feature and stops what GridBot must not act on."""

from __future__ import annotations

from typing import Any

from telegram import Update
from telegram.ext import ApplicationHandlerStop, BaseHandler, TypeHandler

from bot.app import GridContext


async def gate(update: Update, context: GridContext) -> None:
    """Drop updates from bots and channels, and edits (a ticket is opened by the first version)."""
    user = update.effective_user
    chat = update.effective_chat
    if update.edited_message is not None or update.edited_channel_post is not None:
        raise ApplicationHandlerStop
    if update.channel_post is not None:
        raise ApplicationHandlerStop
    if user is not None and user.is_bot:
        raise ApplicationHandlerStop
    if chat is not None and chat.type == "channel":
        raise ApplicationHandlerStop


def handlers() -> list[BaseHandler[Any, Any, Any]]:
    """The gatekeeping handler."""
    return [TypeHandler(Update, gate)]
