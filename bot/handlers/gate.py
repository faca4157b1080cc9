"""The gatekeeper: runs before every feature and stops what GridBot must not act on."""

from __future__ import annotations

from typing import Any

from telegram import Update
from telegram.ext import ApplicationHandlerStop, BaseHandler

from bot.app import GridContext


def must_drop(update: Update) -> bool:
    """Updates from bots and channels, and edits (a ticket is opened by the first version)."""
    if update.edited_message is not None or update.edited_channel_post is not None:
        return True
    if update.channel_post is not None:
        return True
    user = update.effective_user
    if user is not None and user.is_bot:
        return True
    chat = update.effective_chat
    return chat is not None and chat.type == "channel"


async def drop(update: Update, context: GridContext) -> None:
    """Stop the update: no feature sees it."""
    raise ApplicationHandlerStop


class Gate(BaseHandler[Update, GridContext, None]):
    """Matches only the updates to drop, so every other update costs no callback here."""

    def __init__(self) -> None:
        super().__init__(drop)

    def check_update(self, update: object) -> bool:
        return isinstance(update, Update) and must_drop(update)


def handlers() -> list[BaseHandler[Any, Any, Any]]:
    """The gatekeeping handler."""
    return [Gate()]
