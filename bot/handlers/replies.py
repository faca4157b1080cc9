"""Send text within Telegram's limits: never more than 4096 characters a message."""

from __future__ import annotations

from telegram import InlineKeyboardMarkup, Message, ReplyParameters
from telegram.ext import ExtBot

MAX_TEXT = 4096


def split_text(text: str, limit: int = MAX_TEXT) -> list[str]:
    """Split a long text at line breaks (or hard at the limit) into sendable parts."""
    text = text if text.strip() else "…"
    parts: list[str] = []
    while len(text) > limit:
        cut = text.rfind("\n", 0, limit)
        if cut <= limit // 2:
            cut = limit
        parts.append(text[:cut])
        text = text[cut:].lstrip("\n")
    parts.append(text)
    return parts


async def send_text(
    bot: ExtBot[None],
    chat_id: int,
    text: str,
    *,
    reply_to: int | None = None,
    markup: InlineKeyboardMarkup | None = None,
) -> Message:
    """Send text split into parts; buttons go on the last part; return the last message."""
    parts = split_text(text)
    message: Message | None = None
    for index, part in enumerate(parts):
        last = index == len(parts) - 1
        message = await bot.send_message(
            chat_id,
            part,
            reply_parameters=(
                ReplyParameters(reply_to, allow_sending_without_reply=True)
                if reply_to and index == 0
                else None
            ),
            reply_markup=markup if last else None,
        )
    assert message is not None
    return message
