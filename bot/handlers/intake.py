"""Residents' messages: group complaints, /report, private reports, photos, and the answers."""

from __future__ import annotations

import contextlib
import re
from typing import Any

from telegram import Update
from telegram.ext import (
    ApplicationHandlerStop,
    BaseHandler,
    CallbackQueryHandler,
    CommandHandler,
    MessageHandler,
    filters,
)

from bot import texts
from bot.context import GridContext
from bot.handlers import access as gate_access
from bot.handlers.mapper import Incoming, incoming, media_kind
from bot.handlers.sending import Unreachable, edit, send
from bot.handlers.tickets_out import deliver, refresh_card, send_evidence, tell_admins
from bot.nlp import NONE, OTHER
from bot.services import access
from bot.services import intake as flow
from bot.services import lifecycle as lc
from bot.services.bootstrap import Services
from bot.services.cards import local_time, place_of, quote
from bot.services.community import normalise_building
from bot.services.desk import Desk
from bot.services.dialogues import Answer, DialogueService
from bot.services.errors import DomainError
from bot.services.flows import CANCEL_WORDS, UNSATISFIED, AwaitUnsatisfied
from bot.services.intake import Outcome, Report
from bot.services.people import has_started
from bot.services.values import Button, Ticket

CATEGORY_DATA = re.compile(r"^cat:(\d{1,12}):([a-z_]{1,24})$")
BUILDING_DATA = re.compile(r"^bld:(\d{1,12}):([A-Za-z0-9]{1,8})$")
PLACE_DATA = re.compile(r"^plc:(\d{1,12}):(\S{1,16})$")
UNKNOWN_PLACE_DATA = re.compile(r"^bldu:(\d{1,12})$")
FOLLOW_DATA = re.compile(r"^follow:(\d{1,12})$")
UNDO_DATA = re.compile(r"^undo:(\d{1,12})$")
PUBLISH_DATA = re.compile(r"^pub:(\d{1,12})$")
BUILDINGS_PER_ROW = 5
PLACES_PER_ROW = 3
CATEGORIES_PER_ROW = 3
MAX_CALLBACK_BYTES = 64  # Telegram's limit on a button's data
NOTICE_LIMIT = 500  # a worker's notice quotes this much of a resident's words


def _services(context: GridContext) -> Services:
    return context.services


def _dialogues(context: GridContext) -> DialogueService:
    return _services(context).dialogues


def _report(
    msg: Incoming,
    text: str,
    *,
    explicit: bool,
    grids: tuple[str, ...] | None,
    about: int | None = None,
) -> Report:
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
        about=about,
        album=msg.album,
        video=msg.video,
    )


async def _acknowledged(context: GridContext, msg: Incoming) -> int | None:
    """The ticket whose acknowledgement (登记为 #N) this message replies to, if any."""
    if not msg.reply_to_bot or msg.reply_to_message_id is None:
        return None
    ticket = await _services(context).tickets.by_reply(msg.chat_id, msg.reply_to_message_id)
    return None if ticket is None else ticket.id


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
    if await _answered_dialogue(context, msg):
        return
    text = msg.text
    mention = f"@{context.bot_data.bot_username}".lower() if context.bot_data.bot_username else ""
    addressed = bool(mention) and mention in text.lower()
    if addressed:  # "@bot 4号楼电梯坏了": meant for the bot, even with group privacy on
        start = text.lower().index(mention)
        text = (text[:start] + text[start + len(mention) :]).strip()
    if not text.strip() and msg.album is None:
        return
    about = await _acknowledged(context, msg)
    outcome = await services.intake.receive(
        _report(msg, text, explicit=addressed, grids=grids, about=about)
    )
    await respond(context, msg.chat_id, msg.message_id, msg.sender.name, outcome)


async def on_edited(update: Update, context: GridContext) -> None:
    """An edit is never read as a new message (the first version was read). The reporter's
    edit of the message that opened their open ticket goes into its timeline and to its
    worker, who may have been sent to the wrong building by the first version."""
    msg = incoming(update, context.bot.id)
    if msg is not None and context.has_community and msg.text.strip():
        services = _services(context)
        report = _report(msg, msg.text, explicit=False, grids=None)
        ticket = await services.intake.edited(report)
        if ticket is not None:
            said = texts.SOURCE_EDITED_TO_WORKER.format(
                number=ticket.number, text=quote(msg.text.strip(), limit=NOTICE_LIMIT)
            )
            await _tell_card(context, ticket, said)
    raise ApplicationHandlerStop


async def _answered_dialogue(context: GridContext, msg: Incoming) -> bool:
    """A message that answers the bot's open question to this person, not a new complaint."""
    if await _unsatisfied_reason(context, msg):
        return True
    if await _typed_rating(context, msg):
        return True
    return await _typed_location(context, msg)


async def _typed_rating(context: GridContext, msg: Incoming) -> bool:
    """The reporter answered "请评价" in words, replying to it: 没修好 is 不满意, and why."""
    if not msg.reply_to_bot or msg.reply_to_message_id is None or not msg.text.strip():
        return False
    services = _services(context)
    user_id = msg.sender.user_id
    ticket = await services.tickets.rating_asked(msg.chat_id, msg.reply_to_message_id, user_id)
    if ticket is None:
        return False
    rating = services.intake.typed_rating(msg.text)
    if rating is not None:  # "满意！" typed: as if pressed
        ticket = await services.tickets.rate(ticket.id, user_id, rating)
        label = texts.RATING_LABELS[rating]
        rated = texts.RATED_MESSAGE.format(number=ticket.number, rating=label)
        await edit(context.bot, msg.chat_id, msg.reply_to_message_id, rated)
        said = texts.RATING_THANKS.format(rating=label)
        await send(context.bot, services, msg.chat_id, said, reply_to=msg.message_id)
        await refresh_card(context.bot, services, ticket)
        return True
    if not services.intake.says_unsolved(msg.text):  # 修好了，谢谢: the buttons say how much
        await send(
            context.bot,
            services,
            msg.chat_id,
            texts.RATING_USE_BUTTONS.format(number=ticket.number),
            reply_to=msg.message_id,
        )
        return True
    text = msg.text.strip()
    async with services.db.transaction():
        ticket = await services.tickets.rate(ticket.id, user_id, "unsatisfied")
        await services.intake.record_unsatisfied_reason(ticket.id, user_id, text)
    await edit(
        context.bot,
        msg.chat_id,
        msg.reply_to_message_id,
        texts.RATED_REOPENED_MESSAGE.format(
            number=ticket.number, worker=services.worker_name(ticket.assignee_key)
        ),
    )
    await _pass_on_reason(context, msg, ticket, text)
    await refresh_card(context.bot, services, ticket)  # reopened: the worker's buttons are back
    return True


async def _typed_location(context: GridContext, msg: Incoming) -> bool:
    """The reporter answered "哪栋楼？" by typing (5号楼, 东门, 不清楚), as a reply or not."""
    services = _services(context)
    intake = services.intake
    if msg.reply_to_bot and msg.reply_to_message_id is not None:
        waiting = await intake.question_by_prompt(msg.chat_id, msg.reply_to_message_id)
        as_reply = waiting is not None
    else:
        waiting, as_reply = None, False
    if waiting is None:
        waiting = await intake.open_building_question(msg.chat_id, msg.sender.user_id)
    if waiting is None or waiting.step != "building" or not waiting.is_open:
        return False
    if waiting.reporter_id != msg.sender.user_id:
        return False
    answer = intake.typed_location(msg.text)
    known = answer is not None and (
        answer[0] is None or services.community.grid_for_building(answer[0]) is not None
    )
    if answer is None and not as_reply:
        return False  # a sentence of its own: read it as a new message
    if answer is None or not known:
        await send(
            context.bot,
            services,
            msg.chat_id,
            texts.TYPED_LOCATION_UNKNOWN.format(text=msg.text.strip()[:10]),
            reply_to=msg.message_id,
        )
        return True
    building, place, _unknown = answer
    outcome = await intake.answer_location(
        waiting.id, msg.sender.user_id, building=building, place=place
    )
    if waiting.prompt_message_id is not None:
        await edit(
            context.bot, msg.chat_id, waiting.prompt_message_id, _location_label(building, place)
        )
    await respond(context, waiting.chat_id, waiting.message_id, waiting.reporter_name, outcome)
    return True


def _location_label(building: str | None, place: str | None) -> str:
    """What the answered "哪栋楼？" question shows afterwards."""
    if building is not None:
        return texts.BUILDING_LABEL.format(building=building)
    return place or texts.LOCATION_UNKNOWN_LABEL


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
    if await _answered_dialogue(context, msg):
        return
    about = await _acknowledged(context, msg)
    outcome = await services.intake.receive(
        _report(msg, msg.text, explicit=True, grids=None, about=about)
    )
    if outcome.kind == flow.IGNORED and not msg.text.strip():
        # A photo without words (an album's first, too: its other photos then say nothing).
        await send(context.bot, services, msg.chat_id, texts.PRIVATE_NOT_UNDERSTOOD)
        return
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
        ticket.id, msg.sender.user_id, *msg.photo, role, media_kind(msg)
    )
    await send(
        context.bot,
        services,
        msg.chat_id,
        texts.PHOTO_ADDED.format(number=ticket.number),
        reply_to=msg.message_id,
    )
    await _show_worker_photo(context, ticket, msg.photo[0], media_kind(msg))
    return True


async def _show_worker_photo(
    context: GridContext, ticket: Ticket, file_id: str, kind: str
) -> None:
    """A photo (or video) added to a ticket goes to its worker under the card, and the card
    counts it."""
    if ticket.card_chat_id is None or ticket.card_chat_id != ticket.assignee_id:
        return
    services = _services(context)
    with contextlib.suppress(Unreachable):
        await send_evidence(
            context.bot,
            services,
            ticket.card_chat_id,
            file_id,
            kind,
            text=texts.PHOTO_ADDED.format(number=ticket.number),
            reply_to=ticket.card_message_id,
        )
    await refresh_card(context.bot, services, await services.tickets.get(ticket.id))


async def respond(
    context: GridContext,
    chat_id: int,
    message_id: int,
    name: str,
    outcome: Outcome,
) -> None:
    """Turn intake's decision into replies; a danger's reply starts with whom to call first."""
    services = _services(context)
    bot = context.bot
    call = outcome.call_first
    first = texts.CALL_FIRST[call] + "\n" if call else ""
    if outcome.kind == flow.ALBUM_PHOTO:
        # A photo of an album whose first message was answered already: no second answer.
        if outcome.ticket is not None and outcome.photo is not None:
            await _show_worker_photo(context, outcome.ticket, outcome.photo[0], outcome.photo_kind)
        elif outcome.ticket is not None:  # the worker's own: the card counts it
            await refresh_card(bot, services, await services.tickets.get(outcome.ticket.id))
    elif outcome.kind in (flow.OPENED, flow.REPLAYED) and outcome.ticket is not None:
        fresh = outcome.kind == flow.OPENED and not outcome.with_photo
        await deliver(bot, services, outcome.ticket, new_without_photos=fresh, call_first=call)
    elif outcome.kind == flow.SIMILAR and outcome.similar is not None:
        similar = outcome.similar
        await send(
            bot,
            services,
            chat_id,
            first
            + texts.SIMILAR_OPEN.format(
                number=similar.number,
                category=services.category_name(similar.category),
                status=texts.TICKET_STATE_LABELS.get(similar.status, similar.status),
            ),
            buttons=[[Button(texts.FOLLOW_BUTTON, f"follow:{similar.id}")]],
            reply_to=message_id,
        )
    elif outcome.kind == flow.CONFIRM and outcome.pending_id is not None:
        await _ask_category(context, chat_id, message_id, name, outcome, first)
    elif outcome.kind == flow.ASK_BUILDING and outcome.pending_id is not None:
        await _ask_location(context, chat_id, message_id, name, outcome, first)
    elif outcome.kind == flow.MERGED and outcome.ticket is not None:
        if outcome.created:
            await _tell_card(context, outcome.ticket, _added_words(outcome))
        if chat_id > 0:
            await send(
                bot,
                services,
                chat_id,
                first + texts.MERGED_PRIVATE.format(number=outcome.ticket.number),
                reply_to=message_id,
            )
        elif call:  # the group heard about the ticket already; the danger needs saying now
            await send(bot, services, chat_id, texts.CALL_FIRST[call], reply_to=message_id)
    elif outcome.kind == flow.SAID_GONE and outcome.ticket is not None:
        number = outcome.ticket.number
        if outcome.undo:  # one press withdraws it; the press tells the worker
            button = Button(
                texts.GONE_UNDO_BUTTON.format(number=number), f"undo:{outcome.ticket.id}"
            )
            said = texts.GONE_UNDO_OFFER.format(number=number)
            await send(bot, services, chat_id, said, buttons=[[button]], reply_to=message_id)
        else:
            if outcome.created:
                told = texts.GONE_TO_WORKER.format(
                    number=number, text=quote(outcome.note, limit=NOTICE_LIMIT)
                )
                await _tell_card(context, outcome.ticket, told)
            said = texts.GONE_TOLD.format(number=number)
            await send(bot, services, chat_id, said, reply_to=message_id)
    elif outcome.kind == flow.ADDED and outcome.ticket is not None:
        if outcome.created:
            await _tell_card(context, outcome.ticket, _added_words(outcome))
        said = texts.ADDED_TO_TICKET.format(number=outcome.ticket.number)
        await send(bot, services, chat_id, said, reply_to=message_id)
    elif outcome.kind == flow.STATUS and outcome.ticket is not None:
        await send(
            bot,
            services,
            chat_id,
            first + own_ticket_status(services, outcome.ticket, name),
            reply_to=message_id,
        )
    elif outcome.kind == flow.TRIAGE:
        pass  # the group hears nothing; the worker's list grows (its note is queued)
    elif outcome.kind == flow.IGNORED and chat_id > 0:
        said = await _not_a_report(services, chat_id, name, outcome.topic)
        await send(bot, services, chat_id, said, reply_to=message_id)
    elif outcome.kind == flow.ASIDE:  # said to the bot in a group: one short pointer
        said = texts.ASIDE_HINTS.get(outcome.topic, texts.GROUP_ASIDE)
        await send(bot, services, chat_id, said, reply_to=message_id)


async def _not_a_report(services: Services, chat_id: int, name: str, topic: str) -> str:
    """What to say privately to words that report nothing: the command for what they asked
    about (积分, 任务, 网格员), staff their own tools, everyone else how to report."""
    staff = await Desk(services).actor(chat_id, name)  # a private chat's id is its person's
    if staff.worker_key or staff.is_admin:
        return texts.STAFF_NOT_UNDERSTOOD
    return texts.PRIVATE_HINTS.get(topic, texts.PRIVATE_NOT_UNDERSTOOD)


async def _ask_category(
    context: GridContext, chat_id: int, message_id: int, name: str, outcome: Outcome, first: str
) -> None:
    """Ask which kind of problem it is; with nothing to go on, every kind is offered."""
    services = _services(context)
    assert outcome.pending_id is not None
    pid = outcome.pending_id
    buttons = [
        Button(services.category_name(code), f"cat:{pid}:{code}") for code in outcome.candidates
    ]
    every = len(outcome.candidates) > CATEGORIES_PER_ROW
    per_row = CATEGORIES_PER_ROW if every else 1
    rows = [buttons[i : i + per_row] for i in range(0, len(buttons), per_row)]
    rows.append(
        [
            Button(texts.CONFIRM_OTHER, f"cat:{pid}:{OTHER}"),
            Button(texts.CONFIRM_NOT_COMPLAINT, f"cat:{pid}:{NONE}"),
        ]
    )
    question = texts.CONFIRM_ALL_QUESTION if every else texts.CONFIRM_QUESTION
    prompt = await send(
        context.bot,
        services,
        chat_id,
        first + question.format(name=name),
        buttons=rows,
        reply_to=message_id,
    )
    await services.intake.set_prompt(pid, prompt.message_id)


async def _ask_location(
    context: GridContext, chat_id: int, message_id: int, name: str, outcome: Outcome, first: str
) -> None:
    """Ask which building or place: the community's buildings, its places, and 不清楚."""
    services = _services(context)
    assert outcome.pending_id is not None
    pid = outcome.pending_id
    buttons = [Button(f"{b}号楼", f"bld:{pid}:{b}") for b in outcome.buildings]
    rows = [buttons[i : i + BUILDINGS_PER_ROW] for i in range(0, len(buttons), BUILDINGS_PER_ROW)]
    places = [
        Button(p, f"plc:{pid}:{p}")
        for p in outcome.places
        if PLACE_DATA.match(f"plc:{pid}:{p}")
        and len(f"plc:{pid}:{p}".encode()) <= MAX_CALLBACK_BYTES
    ]
    rows += [places[i : i + PLACES_PER_ROW] for i in range(0, len(places), PLACES_PER_ROW)]
    rows.append([Button(texts.LOCATION_UNKNOWN_BUTTON, f"bldu:{pid}")])
    question = texts.ASK_BUILDING_WITH_PLACES if places else texts.ASK_BUILDING
    prompt = await send(
        context.bot,
        services,
        chat_id,
        first + question.format(name=name),
        buttons=rows,
        reply_to=message_id,
    )
    await services.intake.set_prompt(pid, prompt.message_id)


def _added_words(outcome: Outcome) -> str:
    """The worker's notice of words folded into their ticket (masked like every echo)."""
    assert outcome.ticket is not None
    return texts.ADDED_WORDS_TO_WORKER.format(
        number=outcome.ticket.number, text=quote(outcome.note, limit=NOTICE_LIMIT)
    )


def own_ticket_status(services: Services, ticket: Ticket, name: str) -> str:
    """How a resident's own open ticket stands: status, who has it, by when."""
    if ticket.status in lc.AWAITING_ACCEPT:
        due = texts.OWN_TICKET_ACCEPT_DUE.format(due=local_time(ticket.accept_due_at, services.tz))
    elif ticket.status in lc.IN_HAND:
        due = texts.OWN_TICKET_RESOLVE_DUE.format(
            due=local_time(ticket.resolve_due_at, services.tz)
        )
    else:
        due = ""
    if due and ticket.escalation_level > 0 and ticket.status in lc.OPEN_STATES:
        due += texts.OWN_TICKET_ESCALATED  # late, and the office knows
    return (
        texts.OWN_TICKET_STATUS.format(
            name=name,
            number=ticket.number,
            category=services.category_name(ticket.category),
            place=place_of(ticket),
            status=texts.TICKET_STATE_LABELS.get(ticket.status, ticket.status),
            role=Desk(services).role_label(ticket.assignee_key),
            worker=services.worker_name(ticket.assignee_key) or texts.NOBODY_YET,
            due=due,
        )
        + texts.OWN_TICKET_MORE
    )


async def _tell_card(context: GridContext, ticket: Ticket, text: str) -> None:
    """Tell the worker who holds the ticket, as a reply to their card (or plainly)."""
    services = _services(context)
    if ticket.assignee_id is None:
        return
    on_card = ticket.card_chat_id == ticket.assignee_id
    with contextlib.suppress(Unreachable):
        await send(
            context.bot,
            services,
            ticket.assignee_id,
            text,
            reply_to=ticket.card_message_id if on_card else None,
        )


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
    waiting = await services.intake.question(pid)
    if waiting is None:
        return
    if query.message is not None:
        done = texts.CONFIRM_DISMISSED if outcome.kind == flow.NOT_COMPLAINT else texts.ACTION_DONE
        await edit(context.bot, query.message.chat.id, query.message.message_id, done)
    await respond(context, waiting.chat_id, waiting.message_id, waiting.reporter_name, outcome)


async def on_location_choice(update: Update, context: GridContext) -> None:
    """The reporter said which building, which place, or 不清楚."""
    query = update.callback_query
    assert query is not None and query.data is not None
    building: str | None = None
    place: str | None = None
    if match := BUILDING_DATA.match(query.data):
        building = match.group(2)
    elif match := PLACE_DATA.match(query.data):
        place = match.group(2)
    else:
        match = UNKNOWN_PLACE_DATA.match(query.data)
    if match is None:
        await query.answer(texts.STALE_BUTTON, show_alert=True)
        return
    services = _services(context)
    pid = int(match.group(1))
    outcome = await services.intake.answer_location(
        pid, query.from_user.id, building=building, place=place
    )
    await query.answer()
    waiting = await services.intake.question(pid)
    if waiting is None:
        return
    if query.message is not None:
        await edit(
            context.bot,
            query.message.chat.id,
            query.message.message_id,
            _location_label(building, place),
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


# ── 不满意: ask why, and tell the worker and the office ───────────────────────────────────────


async def ask_unsatisfied_reason(
    context: GridContext, ticket: Ticket, chat_id: int, user_id: int, name: str, reply_to: int
) -> None:
    """After 不满意, ask the rater why; their next message in that chat is the reason."""
    services = _services(context)
    await _dialogues(context).start(UNSATISFIED, user_id, chat_id, AwaitUnsatisfied(ticket.id))
    with contextlib.suppress(Unreachable):
        await send(
            context.bot,
            services,
            chat_id,
            texts.UNSATISFIED_ASK_REASON.format(name=name),
            reply_to=reply_to if chat_id < 0 else None,
        )


async def _unsatisfied_reason(context: GridContext, msg: Incoming) -> bool:
    """Take the rater's reason for 不满意 and pass it to the worker and the office."""
    store = _dialogues(context)
    user_id = msg.sender.user_id
    found = await store.current(user_id, msg.chat_id)
    if found is None or found.flow != UNSATISFIED.name:
        return False
    if not found.is_open:
        # Answered already: only a redelivery of that answer (or an older message) stops here.
        return msg.message_id <= found.last_message_id
    question = UNSATISFIED.data_of(found)
    services = _services(context)
    text = msg.text.strip()
    if not UNSATISFIED.advance(found.step, Answer(text), question, None).understood:
        return False
    if text.lower() in CANCEL_WORDS:
        await store.close(UNSATISFIED.name, user_id, msg.chat_id, msg.message_id)
        await send(
            context.bot, services, msg.chat_id, texts.DIALOGUE_CANCELLED, reply_to=msg.message_id
        )
        return True
    async with services.db.transaction():
        ticket = await services.intake.record_unsatisfied_reason(
            question.ticket_id, msg.sender.user_id, text
        )
        await store.close(UNSATISFIED.name, user_id, msg.chat_id, msg.message_id)
    await _pass_on_reason(context, msg, ticket, text)
    return True


async def _pass_on_reason(context: GridContext, msg: Incoming, ticket: Ticket, text: str) -> None:
    """Thank the rater for their reason for 不满意 and pass it to the worker and the office."""
    services = _services(context)
    reason = quote(text, limit=NOTICE_LIMIT)
    await send(
        context.bot,
        services,
        msg.chat_id,
        texts.UNSATISFIED_REASON_THANKS.format(reason=reason),
        reply_to=msg.message_id,
    )
    await _tell_card(
        context,
        ticket,
        texts.UNSATISFIED_REASON_TO_WORKER.format(number=ticket.number, reason=reason),
    )
    await tell_admins(
        context.bot,
        services,
        texts.UNSATISFIED_REASON_TO_OFFICE.format(
            number=ticket.number,
            category=services.category_name(ticket.category),
            reason=reason,
            worker=services.worker_name(ticket.assignee_key) or texts.NOBODY_YET,
        ),
    )


# ── /mygrid: who is my grid worker ────────────────────────────────────────────────────────────


async def on_mygrid(update: Update, context: GridContext) -> None:
    """/mygrid [楼号]: the resident's grid and grid worker (from /register or the argument)."""
    msg = incoming(update, context.bot.id)
    if msg is None:
        return
    services = _services(context)
    typed = " ".join(context.args or []).strip()
    reply_to = msg.message_id if msg.is_group else None
    if typed:
        building = normalise_building(typed)
        if building is None or services.community.grid_for_building(building) is None:
            text = texts.MYGRID_UNKNOWN_BUILDING.format(text=typed[:10])
            await send(context.bot, services, msg.chat_id, text, reply_to=reply_to)
            return
    else:
        resident = await services.residents.get(msg.sender.user_id)
        building = resident.building if resident is not None else None
    if building is None:
        await send(context.bot, services, msg.chat_id, texts.MYGRID_ASK, reply_to=reply_to)
        return
    answer = grid_worker_line(services, building)
    if msg.is_group and not typed:
        # Where a resident lives is not for the group: answer privately when we can.
        if await has_started(services.state, msg.sender.user_id):
            with contextlib.suppress(Unreachable):
                await send(context.bot, services, msg.sender.user_id, answer)
                await send(
                    context.bot, services, msg.chat_id, texts.MYGRID_SENT, reply_to=reply_to
                )
                return
        await send(context.bot, services, msg.chat_id, texts.MYGRID_ASK, reply_to=reply_to)
        return
    await send(context.bot, services, msg.chat_id, answer, reply_to=reply_to)


def grid_worker_line(services: Services, building: str) -> str:
    """Say which grid a building is in and who its grid worker is."""
    community = services.community
    code = community.grid_for_building(building)
    grid = community.grid(code) if code else None
    assert grid is not None
    workers = [w for w in community.grid_workers(grid.code) if w.active] or list(
        community.grid_workers(grid.code)
    )
    if not workers:
        return texts.MYGRID_NO_WORKER.format(building=building, grid=grid.name)
    worker = workers[0]
    return texts.MYGRID_ANSWER.format(
        building=building,
        grid=grid.name,
        worker=worker.name,
        phone=texts.MYGRID_PHONE.format(phone=worker.phone) if worker.phone else "",
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
    return [CommandHandler("report", on_report), CommandHandler("mygrid", on_mygrid)]


def edit_handlers() -> list[BaseHandler[Any, Any, Any]]:
    """Every edit of a person's message, which no other handler sees."""
    return [MessageHandler(filters.UpdateType.EDITED_MESSAGE, on_edited)]


def callback_handlers() -> list[BaseHandler[Any, Any, Any]]:
    """Buttons of intake."""
    return [
        CallbackQueryHandler(on_category_choice, pattern=r"^cat:"),
        CallbackQueryHandler(on_location_choice, pattern=r"^(bld|plc|bldu):"),
        CallbackQueryHandler(on_follow, pattern=r"^follow:"),
        CallbackQueryHandler(on_undo, pattern=r"^undo:"),
        CallbackQueryHandler(on_publish, pattern=r"^pub:"),
    ]


def message_handlers() -> list[BaseHandler[Any, Any, Any]]:
    """Free text in groups and private chats (after every command and dialogue)."""
    text_or_caption = filters.TEXT | filters.CAPTION | filters.PHOTO | filters.VIDEO
    return [
        MessageHandler(filters.StatusUpdate.MIGRATE, on_migrate),
        MessageHandler(
            filters.ChatType.GROUPS & text_or_caption & ~filters.COMMAND, on_group_message
        ),
        MessageHandler(
            filters.ChatType.PRIVATE & text_or_caption & ~filters.COMMAND, on_private_message
        ),
        MessageHandler(filters.ChatType.PRIVATE & _UNREADABLE, on_private_unreadable),
    ]


# What a person may send privately that the bot cannot read: a voice note (many older
# residents speak rather than type), a sticker, a file, a place pin, a contact card.
_UNREADABLE = (
    filters.VOICE
    | filters.AUDIO
    | filters.VIDEO_NOTE
    | filters.Sticker.ALL
    | filters.Document.ALL
    | filters.LOCATION
    | filters.CONTACT
) & ~filters.CAPTION


async def on_private_unreadable(update: Update, context: GridContext) -> None:
    """Say that the bot reads words and photos, instead of leaving a voice note unanswered."""
    msg = incoming(update, context.bot.id)
    if msg is None or not msg.is_private:
        return
    await send(
        context.bot,
        _services(context),
        msg.chat_id,
        texts.PRIVATE_UNREADABLE,
        reply_to=msg.message_id,
    )
