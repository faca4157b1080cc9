"""Turn Telegram objects into plain values at the edge (the services never see telegram)."""

from __future__ import annotations

from dataclasses import dataclass

from telegram import Chat, Message, Update, User


@dataclass(frozen=True, slots=True)
class Person:
    user_id: int
    name: str
    username: str | None
    is_bot: bool


@dataclass(frozen=True, slots=True)
class Incoming:
    """A message as GridBot reads it."""

    update_id: int
    chat_id: int
    chat_type: str  # private | group | supergroup | channel
    chat_title: str
    message_id: int
    sender: Person
    text: str  # text or caption, '' when none
    photo: tuple[str, str] | None  # (file_id, file_unique_id) of the largest size
    reply_to_message_id: int | None
    reply_to_bot: bool
    album: str | None = None  # Telegram's media_group_id: photos sent together, one message each

    @property
    def is_private(self) -> bool:
        return self.chat_type == "private"

    @property
    def is_group(self) -> bool:
        return self.chat_type in ("group", "supergroup")


def person(user: User) -> Person:
    """Map a Telegram user."""
    return Person(
        user_id=user.id,
        name=user.full_name.strip() or str(user.id),
        username=user.username,
        is_bot=user.is_bot,
    )


def incoming(update: Update, bot_id: int | None = None) -> Incoming | None:
    """Map an update carrying a message from a person; None for anything else."""
    message: Message | None = update.effective_message
    chat: Chat | None = update.effective_chat
    user = update.effective_user
    if message is None or chat is None or user is None:
        return None
    photo = None
    if message.photo:
        largest = message.photo[-1]
        photo = (largest.file_id, largest.file_unique_id)
    reply = message.reply_to_message
    return Incoming(
        update_id=update.update_id,
        chat_id=chat.id,
        chat_type=chat.type,
        chat_title=chat.title or "",
        message_id=message.message_id,
        sender=person(user),
        text=(message.text or message.caption or ""),
        photo=photo,
        reply_to_message_id=reply.message_id if reply else None,
        reply_to_bot=bool(reply and reply.from_user and bot_id and reply.from_user.id == bot_id),
        album=message.media_group_id,
    )
