"""Admins and accounts: /bind and /unbind a group, /start <invitation> to link a worker."""

from __future__ import annotations

from typing import Any

from telegram import ChatMember, Update
from telegram.error import TelegramError
from telegram.ext import BaseHandler, CommandHandler

from bot import texts
from bot.context import GridContext
from bot.handlers.mapper import incoming
from bot.handlers.sending import send
from bot.services.community import Worker
from bot.services.people import Contact


async def on_bind(update: Update, context: GridContext) -> None:
    """/bind g1 [g2 …]: an admin binds this group to grids (the check is in the service)."""
    msg = incoming(update, context.bot.id)
    if msg is None:
        return
    services = context.services
    grids_known = "、".join(f"{g.code}（{g.name}）" for g in services.community.grids)
    if not msg.is_group:
        await send(context.bot, services, msg.chat_id, texts.BIND_GROUP_ONLY)
        return
    codes = tuple(a.strip().lower() for a in (context.args or []) if a.strip())
    if not codes:
        await send(context.bot, services, msg.chat_id, texts.BIND_USAGE.format(grids=grids_known))
        return
    binding = await services.state.bind_group(
        msg.chat_id, codes, msg.chat_title, msg.sender.user_id
    )
    names = "、".join(
        (g.name if (g := services.community.grid(code)) else code) for code in binding.grids
    )
    said = texts.GROUP_BOUND.format(grids=names)
    if not await _reads_every_message(context, msg.chat_id):
        said += texts.GROUP_BOUND_UNSEEN
    await send(context.bot, services, msg.chat_id, said)


async def _reads_every_message(context: GridContext, chat_id: int) -> bool:
    """Whether the bot receives plain messages in this group: with privacy mode on (BotFather's
    default) only as one of its admins. Unknown (Telegram did not answer): assumed so."""
    if not context.bot_data.privacy_mode:
        return True
    try:
        member = await context.bot.get_chat_member(chat_id, context.bot.id)
    except TelegramError:
        return True
    return member.status in (ChatMember.ADMINISTRATOR, ChatMember.OWNER)


async def on_unbind(update: Update, context: GridContext) -> None:
    """/unbind: an admin stops the bot taking complaints in this group."""
    msg = incoming(update, context.bot.id)
    if msg is None:
        return
    services = context.services
    if not msg.is_group:
        await send(context.bot, services, msg.chat_id, texts.UNBIND_GROUP_ONLY)
        return
    await services.state.unbind_group(msg.chat_id, msg.sender.user_id)
    await send(context.bot, services, msg.chat_id, texts.GROUP_UNBOUND)


async def start_hook(update: Update, context: GridContext) -> bool:
    """On a private /start: remember the person can be messaged; redeem an invitation code."""
    msg = incoming(update, context.bot.id)
    if msg is None or not msg.is_private:
        return False
    services = context.services
    await services.state.note_started(msg.sender.user_id, msg.sender.name)
    args = context.args or []
    if not args:
        return False
    if args[0] in texts.DEEP_LINK_HINTS:  # our own t.me/<bot>?start=… links, not invitations
        hint = texts.DEEP_LINK_HINTS[args[0]]
        if not hint:
            return False
        await send(context.bot, services, msg.chat_id, hint)
        return True
    person = await services.state.redeem_invite(args[0], msg.sender.user_id)
    if isinstance(person, Contact):
        text = texts.INVITE_LINKED_CONTACT.format(
            name=person.name, community=services.community.name
        )
    elif isinstance(person, Worker):
        text = texts.INVITE_LINKED_WORKER.format(
            name=person.name,
            community=services.community.name,
            role=texts.WORKER_ROLE_NAMES.get(person.role, person.role),
        )
    else:
        text = texts.INVITE_LINKED_ADMIN.format(
            name=person.name, community=services.community.name
        )
    await send(context.bot, services, msg.chat_id, text)
    return True


def handlers() -> list[BaseHandler[Any, Any, Any]]:
    """Admin commands."""
    return [CommandHandler("bind", on_bind), CommandHandler("unbind", on_unbind)]
