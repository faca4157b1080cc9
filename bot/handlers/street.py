"""Which community an update acts in, decided before any feature runs; /community.

A deployment may serve a whole street office (bot/services/street.py). Every update acts in one
community, found from plain facts in this order:

- a group: the community it is bound to (a group belongs to exactly one);
- a button or a reply: the community that sent the message it is on;
- an invitation link (/start <code>): the community that made the invitation;
- an answer to the bot's question: the community that asked it;
- otherwise the person's community: the one they belong to (worker, admin, resident or
  reporter), the one they chose with /community when they belong to several, the street
  office's staff's choice or the first; a deployment of one community needs none of this.

An update no community can be found for gets a word on what to do (where someone addressed the
bot) and goes no further.
"""

from __future__ import annotations

import logging
from typing import Any

from telegram import Update
from telegram.ext import ApplicationHandlerStop, BaseHandler, CommandHandler, TypeHandler

from bot import texts
from bot.context import GridContext
from bot.handlers.mapper import incoming
from bot.handlers.sending import Unreachable, send
from bot.services.bootstrap import Services
from bot.services.street import Street, names_of

log = logging.getLogger(__name__)

GROUP_RESOLVE = -20  # before the gate (-10): every feature, the gate included, acts in it


async def community_of(update: Update, street: Street) -> Services | None:
    """Return the community an update acts in, or None when none can be told."""
    only = street.only()
    if only is not None:  # one community: every update acts in it, nothing to look up
        return only
    chat = update.effective_chat
    user = update.effective_user
    message = update.effective_message
    if chat is None:
        return None
    if chat.type != "private":
        found = await street.for_chat(chat.id)
        if found is not None:
            return found
        # An unbound group of a street office: an admin's /bind acts in the admin's community.
        if user is not None and message is not None and (message.text or "").startswith("/"):
            return await person_community(street, user.id)
        return None
    query = update.callback_query
    if query is not None and query.message is not None:
        found = await street.community_of_message(chat.id, query.message.message_id)
        if found is None and query.data:  # the outbox forgot the message: what it acts on
            found = await street.community_of_button(query.data)
        if found is not None:
            return found
    if message is not None and message.reply_to_message is not None:
        found = await street.community_of_message(chat.id, message.reply_to_message.message_id)
        if found is not None:
            return found
    text = (message.text or "") if message is not None else ""
    if text.startswith("/start "):
        found = await street.community_of_invite(text.split(maxsplit=1)[1].strip())
        if found is not None:
            return found
    if user is None:
        return None
    found = await street.community_of_dialogue(user.id, chat.id)
    if found is not None:
        return found
    return await person_community(street, user.id)


async def person_community(street: Street, user_id: int) -> Services | None:
    """Return the community a person acts in privately, or None when it is not clear."""
    chosen = street.get(await street.chosen(user_id))
    if chosen is not None:  # their own choice (/community) comes first
        return chosen
    theirs = await street.of_person(user_id)
    if len(theirs) == 1:
        return theirs[0]
    if street.is_staff(user_id) and theirs:
        return theirs[0]
    return None


def _addressed(update: Update, bot_username: str, bot_id: int) -> bool:
    """Tell whether someone in a group spoke to the bot (a command, a mention, a reply)."""
    msg = incoming(update, bot_id)
    if msg is None:
        return update.callback_query is not None
    mentioned = bool(bot_username) and f"@{bot_username}".lower() in msg.text.lower()
    return msg.text.startswith("/") or mentioned or msg.reply_to_bot


async def resolve(update: Update, context: GridContext) -> None:
    """Set the update's community; answer and stop an update that has none."""
    state = context.bot_data
    street = state.require_street()
    services = await community_of(update, street)
    if services is not None:
        context.act_in(services)
        return
    message = update.effective_message
    chat = update.effective_chat
    user = update.effective_user
    if message is not None and (message.text or "").split("@")[0].split(" ")[0] == "/community":
        context.act_in(street.any())  # answered below, in no community's name
        return
    query = update.callback_query
    if query is not None:
        await query.answer(texts.STREET_BUTTON_UNKNOWN, show_alert=True)
        raise ApplicationHandlerStop
    if chat is None or message is None or user is None or update.edited_message is not None:
        raise ApplicationHandlerStop  # an edit: its first version was answered already
    if chat.type != "private" and not _addressed(update, state.bot_username, context.bot.id):
        raise ApplicationHandlerStop  # free talk in a group no community owns: nothing to say
    any_services = street.any()
    if chat.type != "private":
        text = texts.STREET_GROUP_UNBOUND
    else:
        theirs = await street.of_person(user.id)
        text = (
            texts.STREET_CHOOSE.format(names="、".join(names_of(theirs)))
            if len(theirs) > 1
            else texts.STREET_WHO_ARE_YOU.format(street=street.config.name or texts.STREET_DEFAULT)
        )
    try:
        await send(context.bot, any_services, chat.id, text, reply_to=message.message_id)
    except Unreachable:
        log.info("an update with no community could not be answered")
    raise ApplicationHandlerStop


async def on_community(update: Update, context: GridContext) -> None:
    """/community [名称]: show or choose the community a person acts in privately."""
    msg = incoming(update, context.bot.id)
    if msg is None:
        return
    street = context.bot_data.require_street()
    services = context.services
    if not msg.is_private:
        await send(
            context.bot, services, msg.chat_id, texts.STREET_PRIVATE_ONLY, reply_to=msg.message_id
        )
        return
    user_id = msg.sender.user_id
    theirs = await street.of_person(user_id)
    every = street.all()
    wanted = " ".join(context.args or []).strip()
    if not wanted:
        current = await person_community(street, user_id)
        text = texts.STREET_YOURS.format(
            names="、".join(names_of(theirs)) or texts.STREET_NONE,
            current=current.community.name if current is not None else texts.STREET_NONE,
            every="、".join(names_of(every)),
        )
        await send(context.bot, services, msg.chat_id, text)
        return
    # Anyone may choose any community of the street (a resident says where they live); what
    # they may do there is still decided by who they are in it.
    match = [s for s in every if s.community.name == wanted] or [
        s for s in every if wanted in s.community.name
    ]
    if len(match) != 1:
        await send(
            context.bot,
            services,
            msg.chat_id,
            texts.STREET_NOT_YOURS.format(name=wanted, names="、".join(names_of(every))),
        )
        return
    await street.choose(user_id, match[0].community.name)
    await send(
        context.bot,
        services,
        msg.chat_id,
        texts.STREET_CHOSEN.format(name=match[0].community.name),
    )


def handlers() -> list[BaseHandler[Any, Any, Any]]:
    """The resolver (group GROUP_RESOLVE)."""
    return [TypeHandler(Update, resolve)]


def command_handlers() -> list[BaseHandler[Any, Any, Any]]:
    return [CommandHandler("community", on_community)]
