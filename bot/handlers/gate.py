"""The gatekeeper: runs before every feature and stops what GridBot must not act on.

Never a complaint: channel posts, posts a
linked channel forwards into its discussion group (from Telegram's service account 777000, or
`is_automatic_forward`), anything sent on behalf of a channel, messages from bots, and service
messages (joins, leaves, pins, title changes; only a group's move to a supergroup goes on, so its
binding follows). An anonymous group admin (the message comes from the group itself) cannot be
told apart from any other admin, so a command from them is answered: act from your own account.
"""

from __future__ import annotations

from typing import Any

from telegram import Message, Update
from telegram.ext import ApplicationHandlerStop, BaseHandler

from bot import texts
from bot.context import GridContext
from bot.handlers.sending import send

TELEGRAM_SERVICE_USER = 777000  # "Telegram": posts of a linked channel in its group
SERVICE_FIELDS = (
    "new_chat_members",
    "left_chat_member",
    "new_chat_title",
    "new_chat_photo",
    "delete_chat_photo",
    "group_chat_created",
    "supergroup_chat_created",
    "channel_chat_created",
    "message_auto_delete_timer_changed",
    "pinned_message",
    "video_chat_started",
    "video_chat_ended",
    "video_chat_scheduled",
    "video_chat_participants_invited",
    "forum_topic_created",
    "forum_topic_edited",
    "forum_topic_closed",
    "forum_topic_reopened",
    "general_forum_topic_hidden",
    "general_forum_topic_unhidden",
    "write_access_allowed",
    "users_shared",
    "chat_shared",
    "boost_added",
    "chat_background_set",
    "proximity_alert_triggered",
)


def is_anonymous_admin(message: Message | None) -> bool:
    """A message an admin sent as the group itself."""
    return (
        message is not None
        and message.sender_chat is not None
        and message.sender_chat.id == message.chat.id
    )


def is_service_message(message: Message) -> bool:
    """Joins, leaves, pins and the like (a move to a supergroup is not dropped)."""
    return any(getattr(message, name, None) for name in SERVICE_FIELDS)


def must_drop(update: Update) -> bool:
    """Whether no feature may see this update."""
    if update.edited_channel_post is not None or update.channel_post is not None:
        return True
    chat = update.effective_chat
    if chat is not None and chat.type == "channel":
        return True
    # A person's edit goes on to intake's edit handler, which alone reads edits.
    message = update.message or update.edited_message
    if message is not None:
        if is_anonymous_admin(message):
            return True
        if message.is_automatic_forward or message.sender_chat is not None:
            return True  # a linked channel's post, or someone posting as a channel
        if message.from_user is not None and message.from_user.id == TELEGRAM_SERVICE_USER:
            return True
        if is_service_message(message):
            return True
    user = update.effective_user
    return user is not None and user.is_bot


async def drop(update: Update, context: GridContext) -> None:
    """Stop the update; an anonymous admin's command gets a word on how to act instead."""
    message = update.message
    if is_anonymous_admin(message) and message is not None and (message.text or "")[:1] == "/":
        services = context.services
        await send(
            context.bot,
            services,
            message.chat.id,
            texts.ANONYMOUS_ADMIN,
            reply_to=message.message_id,
        )
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
