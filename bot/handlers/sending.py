"""Send to Telegram the way it really behaves: 403s, migrated groups, long texts, the outbox."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from telegram import InlineKeyboardButton, InlineKeyboardMarkup, Message, ReplyParameters
from telegram.constants import ParseMode
from telegram.error import BadRequest, ChatMigrated, Forbidden, RetryAfter, TimedOut
from telegram.ext import ExtBot

from bot.services.posts import split_text
from bot.services.values import Button, OutgoingMessage

if TYPE_CHECKING:
    from bot.services.bootstrap import Services

log = logging.getLogger(__name__)


def markup(
    rows: tuple[tuple[Button, ...], ...] | list[list[Button]],
) -> InlineKeyboardMarkup | None:
    """Turn plain buttons into an inline keyboard."""
    keyboard = [
        [InlineKeyboardButton(b.text, callback_data=b.data) for b in row] for row in rows if row
    ]
    return InlineKeyboardMarkup(keyboard) if keyboard else None


class Unreachable(Exception):
    """Telegram said 403: the person never opened the bot or blocked it."""


async def send(
    bot: ExtBot[None],
    services: Services,
    chat_id: int,
    text: str,
    *,
    buttons: tuple[tuple[Button, ...], ...] | list[list[Button]] = (),
    reply_to: int | None = None,
    html: bool = False,
    photo: str | bytes | None = None,
) -> Message:
    """Send text (split at 4096) or a photo; follow a migrated group; raise Unreachable on 403."""
    chat_id = await services.state.resolve_chat(chat_id)
    keyboard = markup(buttons)
    parse_mode = ParseMode.HTML if html else None
    for attempt in range(2):
        try:
            if photo is not None:
                return await bot.send_photo(
                    chat_id,
                    photo,
                    caption=text[:1024] or None,
                    parse_mode=parse_mode,
                    reply_markup=keyboard,
                    reply_parameters=_reply(reply_to),
                )
            parts = split_text(text if text.strip() else "…")
            message: Message | None = None
            for index, part in enumerate(parts):
                last = index == len(parts) - 1
                message = await bot.send_message(
                    chat_id,
                    part,
                    parse_mode=parse_mode,
                    reply_markup=keyboard if last else None,
                    reply_parameters=_reply(reply_to) if index == 0 else None,
                )
            assert message is not None
            return message
        except ChatMigrated as exc:
            if attempt:
                raise
            new_id = int(exc.new_chat_id)
            await services.state.migrate_chat(chat_id, new_id)
            await services.outbox.retarget(chat_id, new_id)
            chat_id = new_id
        except Forbidden as exc:
            if chat_id > 0:
                await services.state.mark_unreachable(chat_id)
            raise Unreachable(chat_id) from exc
    raise AssertionError("unreachable")


def _reply(message_id: int | None) -> ReplyParameters | None:
    if not message_id:
        return None
    return ReplyParameters(message_id, allow_sending_without_reply=True)


async def edit(
    bot: ExtBot[None],
    chat_id: int,
    message_id: int,
    text: str,
    *,
    buttons: tuple[tuple[Button, ...], ...] | list[list[Button]] = (),
    html: bool = False,
) -> None:
    """Edit a card in place; 'message is not modified' is not an error."""
    try:
        await bot.edit_message_text(
            text[:4096],
            chat_id=chat_id,
            message_id=message_id,
            parse_mode=ParseMode.HTML if html else None,
            reply_markup=markup(buttons),
        )
    except BadRequest as exc:
        if "not modified" not in str(exc).lower():
            raise


async def drain_outbox(bot: ExtBot[None], services: Services, limit: int = 200) -> int:
    """Send what the services queued; each message once. Return how many were sent."""
    async with services.outbox.send_lock:
        return await _drain(bot, services, limit)


async def _drain(bot: ExtBot[None], services: Services, limit: int) -> int:
    sent = 0
    for item in await services.outbox.due(services.clock.now(), limit=limit):
        message: OutgoingMessage = item.message
        try:
            result = await send(
                bot,
                services,
                item.chat_id,
                message.text,
                buttons=message.buttons,
                reply_to=message.reply_to_message_id,
                photo=message.photo_png,
            )
        except Unreachable:
            await services.outbox.mark_failed(item.id, "403 unreachable", final=True)
            log.warning("outbox %s: recipient unreachable (%s)", item.id, message.purpose)
            continue
        except (RetryAfter, TimedOut):
            await services.outbox.mark_failed(item.id, "retry later", final=False)
            break  # Telegram asks us to slow down: the next run continues
        except BadRequest as exc:
            await services.outbox.mark_failed(item.id, str(exc), final=True)
            log.warning("outbox %s: refused by Telegram: %s", item.id, exc)
            continue
        await services.outbox.mark_sent(item.id, services.clock.now(), result.message_id)
        sent += 1
    return sent
