"""Residents' messages: group complaints, /report, private reports, photos, and the answers."""

from __future__ import annotations

import contextlib
import re
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
from bot.app import GridContext
from bot.handlers import access as gate_access
from bot.handlers.mapper import Incoming, incoming
from bot.handlers.sending import Unreachable, edit, send
from bot.handlers.tickets_out import deliver, refresh_card
from bot.nlp import NONE, OTHER
from bot.services import access
from bot.services import intake as flow
from bot.services.bootstrap import Services
from bot.services.cards import place_of, quote
from bot.services.community import normalise_building
from bot.services.desk import Desk
from bot.services.errors import DomainError
from bot.services.intake import Outcome, Report
from bot.services.people import has_started
from storage.outbox import Button

CATEGORY_DATA = re.compile(r"^cat:(\d{1,12}):([a-z_]{1,24})$")
BUILDING_DATA = re.compile(r"^bld:(\d{1,12}):([A-Za-z0-9]{1,8})$")
FOLLOW_DATA = re.compile(r"^follow:(\d{1,12})$")
UNDO_DATA = re.compile(r"^undo:(\d{1,12})$")
PUBLISH_DATA = re.compile(r"^pub:(\d{1,12})$")
BUILDINGS_PER_ROW = 5


def _services(context: GridContext) -> Services:
    return context.bot_data.require_services()


def _report(msg: Incoming, text: str, *, explicit: bool, grids: tuple[str, ...] | None) -> Report:
    return Report(
        chat_id=msg.chat_id,
        message_id=msg.message_id,
        is_private=msg.is_private,
        reporter_id=msg.sender.user_id,
        reporter_name=msg.sender.name,
        text=text,
        photo=msg.photo,
        explicit=explicit,
        group_grids=grids,
    )


async def on_group_message(update: Update, context: GridContext) -> None:
    """Read every text (or captioned photo) in a bound group; open a ticket for a complaint."""
    msg = incoming(update, context.bot.id)
    if msg is None or not msg.is_group:
        return
    services = _services(context)
    grids = await services.state.group_grids(msg.chat_id)
    if grids is None:
        return  # a group nobody bound: the bot stays quiet
    if msg.photo and msg.reply_to_message_id and await _photo_for_ticket(context, msg):
        return
    if msg.reply_to_bot and await _typed_building(context, msg):
        return
    text = msg.text
    mention = f"@{context.bot_data.bot_username}".lower() if context.bot_data.bot_username else ""
    addressed = bool(mention) and mention in text.lower()
    if addressed:  # "@bot 4号楼电梯坏了": meant for the bot, even with group privacy on
        start = text.lower().index(mention)
        text = (text[:start] + text[start + len(mention) :]).strip()
    if not text.strip():
        return
    outcome = await services.intake.receive(_report(msg, text, explicit=addressed, grids=grids))
    await respond(context, msg.chat_id, msg.message_id, msg.sender.name, outcome)


async def _typed_building(context: GridContext, msg: Incoming) -> bool:
    """The reporter answered "哪栋楼？" by typing (e.g. 5号楼) instead of pressing a button."""
    services = _services(context)
    assert msg.reply_to_message_id is not None
    waiting = await services.intake.pending.by_prompt(msg.chat_id, msg.reply_to_message_id)
    if waiting is None or waiting.kind != "ask_building" or waiting.resolved is not None:
        return False
    if waiting.reporter_id != msg.sender.user_id:
        return False
    building = normalise_building(msg.text.strip())
    if building is None or services.community.grid_for_building(building) is None:
        await send(
            context.bot,
            services,
            msg.chat_id,
            texts.TYPED_BUILDING_UNKNOWN.format(text=msg.text.strip()[:10]),
            reply_to=msg.message_id,
        )
        return True
    outcome = await services.intake.answer_building(waiting.id, msg.sender.user_id, building)
    await edit(
        context.bot,
        msg.chat_id,
        msg.reply_to_message_id,
        texts.BUILDING_LABEL.format(building=building),
    )
    await respond(context, waiting.chat_id, waiting.message_id, waiting.reporter_name, outcome)
    return True


async def on_report(update: Update, context: GridContext) -> None:
    """/report <text>: an explicit complaint, in a bound group or privately."""
    msg = incoming(update, context.bot.id)
    if msg is None:
        return
    services = _services(context)
    text = " ".join(context.args or [])
    if not text.strip():
        await send(context.bot, services, msg.chat_id, texts.REPORT_USAGE, reply_to=msg.message_id)
        return
    grids: tuple[str, ...] | None = None
    if msg.is_group:
        grids = await services.state.group_grids(msg.chat_id)
        if grids is None:
            await send(context.bot, services, msg.chat_id, texts.UNBOUND_GROUP_REPORT)
            return
    outcome = await services.intake.receive(_report(msg, text, explicit=True, grids=grids))
    await respond(context, msg.chat_id, msg.message_id, msg.sender.name, outcome)


async def on_private_message(update: Update, context: GridContext) -> None:
    """A message sent to the bot directly is a report the group does not see."""
    msg = incoming(update, context.bot.id)
    if msg is None or not msg.is_private:
        return
    services = _services(context)
    if msg.photo and msg.reply_to_message_id and await _photo_for_ticket(context, msg):
        return
    if msg.reply_to_bot and await _typed_building(context, msg):
        return
    if not msg.text.strip():
        await send(context.bot, services, msg.chat_id, texts.PRIVATE_NOT_UNDERSTOOD)
        return
    outcome = await services.intake.receive(_report(msg, msg.text, explicit=True, grids=None))
    await respond(context, msg.chat_id, msg.message_id, msg.sender.name, outcome)


async def _photo_for_ticket(context: GridContext, msg: Incoming) -> bool:
    """A photo sent as a reply to the bot's answer about a ticket is evidence for that ticket."""
    services = _services(context)
    assert msg.photo is not None and msg.reply_to_message_id is not None
    ticket = await services.tickets.by_reply(msg.chat_id, msg.reply_to_message_id)
    if ticket is None:
        return False
    facts = await gate_access.facts_of(services, ticket)
    role = access.may_add_photo(access.viewer(msg.sender.user_id), facts)
    if role is None:
        return False
    await services.tickets.add_photo(
        ticket.id, msg.sender.user_id, msg.photo[0], msg.photo[1], role
    )
    await send(
        context.bot,
        services,
        msg.chat_id,
        texts.PHOTO_ADDED.format(number=ticket.number),
        reply_to=msg.message_id,
    )
    if ticket.card_chat_id is not None and ticket.card_chat_id == ticket.assignee_id:
        with contextlib.suppress(Unreachable):
            await send(
                context.bot,
                services,
                ticket.card_chat_id,
                texts.PHOTO_ADDED.format(number=ticket.number),
                photo=msg.photo[0],
                reply_to=ticket.card_message_id,
            )
        await refresh_card(context.bot, services, await services.tickets.get(ticket.id))
    return True


async def respond(
    context: GridContext, chat_id: int, message_id: int, name: str, outcome: Outcome
) -> None:
    """Turn intake's decision into replies."""
    services = _services(context)
    bot = context.bot
    if outcome.kind in (flow.OPENED, flow.REPLAYED) and outcome.ticket is not None:
        fresh = outcome.kind == flow.OPENED and not outcome.with_photo
        await deliver(bot, services, outcome.ticket, new_without_photos=fresh)
    elif outcome.kind == flow.SIMILAR and outcome.similar is not None:
        similar = outcome.similar
        await send(
            bot,
            services,
            chat_id,
            texts.SIMILAR_OPEN.format(
                number=similar.number,
                category=services.category_name(similar.category),
                status=texts.TICKET_STATE_LABELS.get(similar.status, similar.status),
            ),
            buttons=[[Button(texts.FOLLOW_BUTTON, f"follow:{similar.id}")]],
            reply_to=message_id,
        )
    elif outcome.kind == flow.CONFIRM and outcome.pending_id is not None:
        pid = outcome.pending_id
        rows = [
            [Button(services.category_name(code), f"cat:{pid}:{code}")]
            for code in outcome.candidates
        ]
        rows.append(
            [
                Button(texts.CONFIRM_OTHER, f"cat:{pid}:{OTHER}"),
                Button(texts.CONFIRM_NOT_COMPLAINT, f"cat:{pid}:{NONE}"),
            ]
        )
        prompt = await send(
            bot,
            services,
            chat_id,
            texts.CONFIRM_QUESTION.format(name=name),
            buttons=rows,
            reply_to=message_id,
        )
        await services.intake.pending.set_prompt(pid, prompt.message_id)
    elif outcome.kind == flow.ASK_BUILDING and outcome.pending_id is not None:
        pid = outcome.pending_id
        buttons = [Button(f"{b}号楼", f"bld:{pid}:{b}") for b in outcome.buildings]
        rows = [
            buttons[i : i + BUILDINGS_PER_ROW] for i in range(0, len(buttons), BUILDINGS_PER_ROW)
        ]
        prompt = await send(
            bot,
            services,
            chat_id,
            texts.ASK_BUILDING.format(name=name),
            buttons=rows,
            reply_to=message_id,
        )
        await services.intake.pending.set_prompt(pid, prompt.message_id)
    elif outcome.kind == flow.MERGED and outcome.ticket is not None and chat_id > 0:
        await send(
            bot,
            services,
            chat_id,
            texts.MERGED_PRIVATE.format(number=outcome.ticket.number),
            reply_to=message_id,
        )
    elif outcome.kind == flow.IGNORED and chat_id > 0:
        await send(bot, services, chat_id, texts.PRIVATE_NOT_UNDERSTOOD, reply_to=message_id)


async def on_category_choice(update: Update, context: GridContext) -> None:
    """The reporter picked a category (or said it is not a complaint)."""
    query = update.callback_query
    assert query is not None and query.data is not None
    match = CATEGORY_DATA.match(query.data)
    if match is None:
        await query.answer(texts.STALE_BUTTON, show_alert=True)
        return
    services = _services(context)
    pid, choice = int(match.group(1)), match.group(2)
    outcome = await services.intake.answer_category(pid, query.from_user.id, choice)
    await query.answer()
    waiting = await services.intake.pending.get(pid)
    if waiting is None:
        return
    if query.message is not None:
        done = texts.CONFIRM_DISMISSED if outcome.kind == flow.NOT_COMPLAINT else texts.ACTION_DONE
        await edit(context.bot, query.message.chat.id, query.message.message_id, done)
    await respond(context, waiting.chat_id, waiting.message_id, waiting.reporter_name, outcome)


async def on_building_choice(update: Update, context: GridContext) -> None:
    """The reporter said which building."""
    query = update.callback_query
    assert query is not None and query.data is not None
    match = BUILDING_DATA.match(query.data)
    if match is None:
        await query.answer(texts.STALE_BUTTON, show_alert=True)
        return
    services = _services(context)
    pid, building = int(match.group(1)), match.group(2)
    outcome = await services.intake.answer_building(pid, query.from_user.id, building)
    await query.answer()
    waiting = await services.intake.pending.get(pid)
    if waiting is None:
        return
    if query.message is not None:
        await edit(
            context.bot,
            query.message.chat.id,
            query.message.message_id,
            texts.BUILDING_LABEL.format(building=building),
        )
    await respond(context, waiting.chat_id, waiting.message_id, waiting.reporter_name, outcome)


async def on_follow(update: Update, context: GridContext) -> None:
    """我也遇到: count a neighbour on an open ticket."""
    query = update.callback_query
    assert query is not None and query.data is not None
    match = FOLLOW_DATA.match(query.data)
    if match is None:
        await query.answer(texts.STALE_BUTTON, show_alert=True)
        return
    services = _services(context)
    user = query.from_user
    ticket = await services.tickets.get(int(match.group(1)))
    # The button's data is not trusted: the presser's rights are read from the database.
    facts = await gate_access.facts_of(services, ticket)
    who = await gate_access.viewer_of(services, user.id)
    if not access.knows_of(who, facts):
        raise access.invisible(f"#{ticket.id}")  # a private ticket: as if it did not exist
    if access.is_reporter(who, facts) or user.id in facts.follower_ids:
        await query.answer(texts.FOLLOW_ALREADY.format(number=ticket.number), show_alert=True)
        return
    origin = facts.origin_chat_id
    pressed_in = query.message.chat.id if query.message is not None else None
    member = origin is not None and (
        pressed_in == origin or await gate_access.is_member(context.bot, origin, user.id)
    )
    if facts.is_open and not access.may_follow(who, facts, member_of_origin=member):
        raise DomainError("follow_not_member", number=ticket.number)
    chat_id = user.id if await has_started(services.state, user.id) else None
    if chat_id is None and query.message is not None:
        chat_id = query.message.chat.id
    before = ticket.priority
    ticket = await services.tickets.follow(ticket.id, user.id, user.full_name, chat_id)
    await query.answer(
        texts.FOLLOWED.format(number=ticket.number, count=ticket.follower_count + 1),
        show_alert=True,
    )
    await refresh_card(context.bot, services, ticket)
    card_chat = ticket.card_chat_id
    if ticket.priority > before and card_chat is not None and card_chat == ticket.assignee_id:
        # Editing the card makes no sound: tell the worker that more households are waiting.
        with contextlib.suppress(Unreachable):
            await send(
                context.bot,
                services,
                card_chat,
                texts.PRIORITY_RAISED.format(
                    number=ticket.number, count=ticket.follower_count + 1
                ),
                reply_to=ticket.card_message_id,
            )


async def on_undo(update: Update, context: GridContext) -> None:
    """The reporter withdraws a false alarm within a few minutes."""
    query = update.callback_query
    assert query is not None and query.data is not None
    match = UNDO_DATA.match(query.data)
    if match is None:
        await query.answer(texts.STALE_BUTTON, show_alert=True)
        return
    services = _services(context)
    await gate_access.require_known(services, int(match.group(1)), query.from_user.id)
    ticket = await services.tickets.withdraw(
        int(match.group(1)), query.from_user.id, within=flow.UNDO_WINDOW
    )
    await query.answer(texts.UNDONE.format(number=ticket.number))
    if query.message is not None:
        await edit(
            context.bot,
            query.message.chat.id,
            query.message.message_id,
            texts.UNDONE.format(number=ticket.number),
        )
    await refresh_card(context.bot, services, ticket)
    if ticket.card_chat_id is not None:
        with contextlib.suppress(Unreachable):
            await send(
                context.bot,
                services,
                ticket.card_chat_id,
                texts.UNDONE_TO_WORKER.format(number=ticket.number),
                reply_to=ticket.card_message_id,
            )


async def on_publish(update: Update, context: GridContext) -> None:
    """The reporter of a private complaint chooses to let the grid's group see it, unnamed."""
    query = update.callback_query
    assert query is not None and query.data is not None
    match = PUBLISH_DATA.match(query.data)
    if match is None:
        await query.answer(texts.STALE_BUTTON, show_alert=True)
        return
    services = _services(context)
    ticket = await gate_access.require_known(services, int(match.group(1)), query.from_user.id)
    if ticket.reporter_id != query.from_user.id:
        raise DomainError("not_your_report")
    groups = [
        b
        for b in await services.state.bound_groups()
        if not b.grids or ticket.grid is None or ticket.grid in b.grids
    ]
    if not groups:
        await query.answer(texts.PUBLISH_NO_GROUP, show_alert=True)
        return
    group = min(groups, key=lambda b: len(b.grids) or 999)  # the grid's own group first
    ticket = await services.tickets.publish(ticket.id, query.from_user.id)
    desk = Desk(services)
    await send(
        context.bot,
        services,
        group.chat_id,
        texts.PUBLISHED_GROUP.format(
            number=ticket.number,
            category=services.category_name(ticket.category),
            place=place_of(ticket),
            quote=quote(ticket.text),
            role=desk.role_label(ticket.assignee_key),
            worker=services.worker_name(ticket.assignee_key) or texts.NOBODY_YET,
        ),
    )
    await query.answer(
        texts.PUBLISHED_OK.format(group=group.title or group.chat_id, number=ticket.number),
        show_alert=True,
    )


async def on_migrate(update: Update, context: GridContext) -> None:
    """A group became a supergroup: its binding and queued messages follow the new id."""
    message = update.effective_message
    if message is None or not message.migrate_to_chat_id:
        return
    services = _services(context)
    old, new = message.chat.id, int(message.migrate_to_chat_id)
    if await services.state.migrate_chat(old, new):
        await services.outbox.retarget(old, new)
        await send(context.bot, services, new, texts.GROUP_MIGRATED)


def handlers() -> list[BaseHandler[Any, Any, Any]]:
    """Commands of intake."""
    return [CommandHandler("report", on_report)]


def callback_handlers() -> list[BaseHandler[Any, Any, Any]]:
    """Buttons of intake."""
    return [
        CallbackQueryHandler(on_category_choice, pattern=r"^cat:"),
        CallbackQueryHandler(on_building_choice, pattern=r"^bld:"),
        CallbackQueryHandler(on_follow, pattern=r"^follow:"),
        CallbackQueryHandler(on_undo, pattern=r"^undo:"),
        CallbackQueryHandler(on_publish, pattern=r"^pub:"),
    ]


def message_handlers() -> list[BaseHandler[Any, Any, Any]]:
    """Free text in groups and private chats (after every command and dialogue)."""
    text_or_caption = filters.TEXT | filters.CAPTION | filters.PHOTO
    return [
        MessageHandler(filters.StatusUpdate.MIGRATE, on_migrate),
        MessageHandler(
            filters.ChatType.GROUPS & text_or_caption & ~filters.COMMAND, on_group_message
        ),
        MessageHandler(
            filters.ChatType.PRIVATE & text_or_caption & ~filters.COMMAND, on_private_message
        ),
    ]
