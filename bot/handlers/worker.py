"""The grid worker's side: ticket cards, their buttons, the questions back, /mytickets, /ticket."""

from __future__ import annotations

import html
import re
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from telegram import CallbackQuery, Update
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
from bot.handlers import lifecycle
from bot.handlers.jobs import drain
from bot.handlers.mapper import Incoming, incoming
from bot.handlers.replies import finish_card
from bot.handlers.sending import edit, send
from bot.handlers.tickets_out import announce, card_of, ensure_card, refresh_card
from bot.services import access
from bot.services.bootstrap import Services
from bot.services.cards import (
    closing_buttons,
    local_time,
    place_of,
    public_status,
    quote,
    timeline,
)
from bot.services.community import Admin, Worker
from bot.services.desk import Desk
from bot.services.errors import DomainError
from bot.services.flows import AlbumStart
from bot.services.tickets import MAX_NOTE, Actor, Ticket, acts_for_holder
from bot.services.values import Button, TicketEvent

# Callback data: verb:ticket[:arg], one pattern and one handler per verb (callback_handlers).
# Data matching none of them (forged, or from an old version) gets the fallback's answer.
TICKET_NUMBER = re.compile(r"^#?(\d{1,9})$")
_ID = r"(\d{1,12})"
_ARG = r"([a-z0-9_]{1,32})"


def _services(context: GridContext) -> Services:
    return context.services


def _may_act(ticket: Ticket, actor: Actor) -> bool:
    return actor.is_admin or (
        actor.worker_key is not None and actor.worker_key == ticket.assignee_key
    )


@dataclass(frozen=True)
class _Press:
    """A press on a ticket card's button by a member of staff: who, which ticket, where."""

    query: CallbackQuery
    services: Services
    desk: Desk
    actor: Actor
    ticket: Ticket
    chat_id: int
    arg: str  # the verb's argument (a worker, a category, a reason), "" for most verbs


async def _press(
    update: Update, context: GridContext, *, holder_only: bool = True
) -> _Press | None:
    """Read a card button's press; None when it was answered already (its ticket is gone).

    Only staff press card buttons; only the ticket's holder or an admin acts on it
    (`holder_only`), anyone of staff may look at the card.
    """
    query = update.callback_query
    match = context.match
    assert query is not None and match is not None
    services = _services(context)
    desk = Desk(services)
    actor = await desk.require_staff(query.from_user.id, query.from_user.full_name)
    try:
        ticket = await services.tickets.get(int(match.group(1)))
    except (DomainError, LookupError):
        await query.answer(texts.STALE_BUTTON, show_alert=True)
        return None
    if holder_only and not _may_act(ticket, actor):
        raise DomainError("not_allowed")
    chat_id = query.message.chat.id if query.message else query.from_user.id
    arg = match.group(2) if match.lastindex is not None and match.lastindex >= 2 else ""
    return _Press(query, services, desk, actor, ticket, chat_id, arg)


async def on_accept(update: Update, context: GridContext) -> None:
    """接单 (acc): the holder takes the ticket; the group hears who did."""
    press = await _press(update, context)
    if press is None:
        return
    services, actor, bot = press.services, press.actor, context.bot
    ticket = await services.tickets.accept(press.ticket.id, actor)
    await press.query.answer(texts.DONE_ACCEPTED.format(number=ticket.number))
    await refresh_card(bot, services, ticket)
    holder = services.worker_name(ticket.assignee_key)
    if acts_for_holder(ticket, actor):
        said = texts.ACCEPTED_GROUP.format(number=ticket.number, worker=holder)
    else:  # the secretary's own press: recorded and told as theirs, not the worker's
        said = texts.ACCEPTED_FOR_GROUP.format(
            number=ticket.number,
            admin=services.worker_name(actor.worker_key) or actor.name,
            worker=holder or texts.NOBODY_YET,
        )
    await announce(bot, services, ticket, said)


async def on_show_card(update: Update, context: GridContext) -> None:
    """返回 (card): show the card again in place of a list of choices."""
    press = await _press(update, context, holder_only=False)
    if press is None:
        return
    await press.query.answer()
    await _show_card(context, press.services, press.ticket, press.query)


async def on_transfer(update: Update, context: GridContext) -> None:
    """转派 (xfer): offer the workers to transfer to, and a change of category."""
    press = await _press(update, context)
    if press is None:
        return
    ticket = press.ticket
    await press.query.answer()
    rows: list[list[Button]] = []
    targets = [
        Button(w.name, f"xw:{ticket.id}:{w.key}") for w in press.desk.transfer_targets(ticket)
    ]
    rows.extend(targets[i : i + 2] for i in range(0, len(targets), 2))
    rows.append([Button(texts.BTN_CHANGE_CATEGORY, f"xc:{ticket.id}")])
    rows.append(closing_buttons(ticket))
    rows.append([Button(texts.BTN_BACK, f"card:{ticket.id}")])
    await _replace_card(
        context, press.query, texts.TRANSFER_PICK.format(number=ticket.number), rows
    )


async def on_change_category(update: Update, context: GridContext) -> None:
    """改类别 (xc): offer the other categories."""
    press = await _press(update, context)
    if press is None:
        return
    ticket, services = press.ticket, press.services
    await press.query.answer()
    codes = [c for c in services.classifier.categories if c != ticket.category]
    buttons = [Button(services.category_name(c), f"xk:{ticket.id}:{c}") for c in codes]
    rows = [buttons[i : i + 3] for i in range(0, len(buttons), 3)]
    rows.append([Button(texts.BTN_BACK, f"card:{ticket.id}")])
    await _replace_card(
        context, press.query, texts.TRANSFER_PICK_CATEGORY.format(number=ticket.number), rows
    )


async def on_transfer_to_worker(update: Update, context: GridContext) -> None:
    """A worker picked (xw): ask the reason; the answer transfers the ticket."""
    press = await _press(update, context)
    if press is None:
        return
    target = press.services.community.worker(press.arg)
    if target is None:
        raise DomainError("stale_button")
    await _ask_transfer_reason(context, press, target.name, {"worker": press.arg})


async def on_transfer_to_category(update: Update, context: GridContext) -> None:
    """A category picked (xk): ask the reason; the answer moves the ticket."""
    press = await _press(update, context)
    if press is None:
        return
    if press.arg not in press.services.classifier.categories:
        raise DomainError("stale_button")
    target = press.services.category_name(press.arg)
    await _ask_transfer_reason(context, press, target, {"category": press.arg})


async def _ask_transfer_reason(
    context: GridContext, press: _Press, target: str, data: dict[str, str]
) -> None:
    await press.desk.ask(
        press.query.from_user.id, press.chat_id, "transfer", press.ticket.id, data
    )
    await press.query.answer()
    await send(
        context.bot,
        press.services,
        press.chat_id,
        texts.TRANSFER_REASON.format(number=press.ticket.number, target=target),
        force_reply=True,
    )


async def on_return(update: Update, context: GridContext) -> None:
    """退回 (ret): offer the reasons to return the ticket."""
    press = await _press(update, context)
    if press is None:
        return
    ticket = press.ticket
    await press.query.answer()
    reasons = [
        [Button(label, f"rt:{ticket.id}:{code}")] for code, label in texts.RETURN_REASONS.items()
    ]
    reasons.append(closing_buttons(ticket))
    reasons.append([Button(texts.BTN_BACK, f"card:{ticket.id}")])
    await _replace_card(
        context, press.query, texts.RETURN_PICK.format(number=ticket.number), reasons
    )


async def on_return_reason(update: Update, context: GridContext) -> None:
    """A return reason picked (rt): the ticket goes back to be routed again."""
    press = await _press(update, context)
    if press is None:
        return
    ticket = await press.desk.return_ticket(press.ticket.id, press.actor, press.arg)
    await press.query.answer(texts.DONE_RETURNED.format(number=ticket.number))
    await _after_move(context, press.services, ticket, texts.RETURNED_GROUP)


async def on_resolve(update: Update, context: GridContext) -> None:
    """办结 (res): ask for the note (or a photo); 直接办结 skips it."""
    press = await _press(update, context)
    if press is None:
        return
    ticket_id = press.ticket.id
    await press.desk.ask(press.query.from_user.id, press.chat_id, "resolve", ticket_id, {})
    await press.query.answer()
    await send(
        context.bot,
        press.services,
        press.chat_id,
        texts.RESOLVE_NOTE,
        buttons=[[Button(texts.BTN_RESOLVE_NOW, f"rs:{ticket_id}")]],
    )


async def on_resolve_now(update: Update, context: GridContext) -> None:
    """直接办结 (rs): resolve without a note; the question asked by 办结 is closed."""
    press = await _press(update, context)
    if press is None:
        return
    query, desk, ticket = press.query, press.desk, press.ticket
    prompt = await desk.open_prompt(query.from_user.id, press.chat_id)
    if prompt is not None and prompt.ticket_id == ticket.id:
        await desk.close_prompt(prompt)
    await _resolve(context, press.services, ticket.id, press.actor, note="", photo=None)
    resolved = texts.DONE_RESOLVED.format(number=ticket.number)
    await query.answer(resolved)
    if query.message is not None:
        await edit(context.bot, press.chat_id, query.message.message_id, resolved)


async def _replace_card(
    context: GridContext, query: Any, text: str, rows: list[list[Button]]
) -> None:
    if query.message is None:
        return
    await edit(context.bot, query.message.chat.id, query.message.message_id, text, buttons=rows)


async def _show_card(context: GridContext, services: Services, ticket: Ticket, query: Any) -> None:
    if query.message is None:
        return
    photos = len(await services.tickets.photos(ticket.id))
    text, buttons = await card_of(services, ticket, photos)
    actor = await Desk(services).actor(query.from_user.id, query.from_user.full_name)
    if not _may_act(ticket, actor):
        buttons = []
    await edit(
        context.bot,
        query.message.chat.id,
        query.message.message_id,
        text,
        buttons=buttons,
        html=True,
    )


async def _after_move(
    context: GridContext, services: Services, ticket: Ticket, group_text: str
) -> None:
    """After a transfer or return: old card read-only, a card for the new worker, tell all."""
    await refresh_card(context.bot, services, ticket)
    ticket = await ensure_card(context.bot, services, ticket)
    await announce(
        context.bot,
        services,
        ticket,
        group_text.format(number=ticket.number, worker=services.worker_name(ticket.assignee_key)),
    )


async def _resolve(
    context: GridContext,
    services: Services,
    ticket_id: int,
    actor: Actor,
    *,
    note: str,
    photo: tuple[str, str] | None,
) -> None:
    ticket = await services.tickets.resolve(ticket_id, actor, note=note, photo=photo)
    await refresh_card(context.bot, services, ticket)
    await drain(context)  # the rating request goes out now, not in 2 s (one drain at a time)


async def on_prompt_answer(update: Update, context: GridContext) -> None:
    """A worker's private reply to the bot's question (transfer reason, resolve note)."""
    msg = incoming(update, context.bot.id)
    if msg is None or not msg.is_private:
        return
    services = _services(context)
    desk = Desk(services)
    prompt = await desk.open_prompt(msg.sender.user_id, msg.chat_id)
    if prompt is None:
        if await _card_note(context, msg):
            raise ApplicationHandlerStop
        return  # not an answer: intake reads it as a report
    actor = await desk.require_staff(msg.sender.user_id, msg.sender.name)
    text = msg.text.strip()[:500]
    if prompt.action == "transfer":
        if not text:
            await send(context.bot, services, msg.chat_id, texts.TRANSFER_REASON_NEEDED)
            raise ApplicationHandlerStop
        if not await desk.close_prompt(prompt):
            raise ApplicationHandlerStop
        if "worker" in prompt.data:
            ticket = await desk.transfer_to_worker(
                prompt.ticket_id, actor, str(prompt.data["worker"]), text
            )
        else:
            held_by = (await services.tickets.get(prompt.ticket_id)).assignee_key
            ticket, lesson = await desk.transfer_to_category(
                prompt.ticket_id, actor, str(prompt.data["category"]), text
            )
            if lesson is not None:
                await send(
                    context.bot,
                    services,
                    msg.chat_id,
                    texts.LEARNED_NOTE.format(
                        number=ticket.number,
                        category=services.category_name(ticket.category),
                        explanation=lesson.explanation,
                    ),
                )
        if "worker" not in prompt.data and ticket.assignee_key == held_by:
            # A corrected category with the same holder: no move, nothing for the group.
            await send(
                context.bot,
                services,
                msg.chat_id,
                texts.RECATEGORISED_KEPT.format(
                    number=ticket.number, category=services.category_name(ticket.category)
                ),
            )
            await refresh_card(context.bot, services, ticket)
            raise ApplicationHandlerStop
        moved = texts.DONE_TRANSFERRED.format(
            number=ticket.number, worker=services.worker_name(ticket.assignee_key)
        )
        await send(context.bot, services, msg.chat_id, moved)
        await _after_move(context, services, ticket, texts.TRANSFERRED_GROUP)
    elif prompt.action == "resolve":
        if not await desk.close_prompt(prompt):
            raise ApplicationHandlerStop
        await _resolve(context, services, prompt.ticket_id, actor, note=text, photo=msg.photo)
        await _worker_album(services, msg, prompt.ticket_id)
        resolved = await services.tickets.get(prompt.ticket_id)
        await send(
            context.bot, services, msg.chat_id, texts.DONE_RESOLVED.format(number=resolved.number)
        )
    elif prompt.action in lifecycle.PROMPT_ACTIONS:
        await lifecycle.answer_prompt(context, prompt, actor, msg.chat_id, text)
    raise ApplicationHandlerStop


async def _worker_album(services: Services, msg: Incoming, ticket_id: int) -> None:
    """A worker's album (整改前/整改后 photos at once): its other photos join the same ticket."""
    if msg.album is not None:
        start = AlbumStart(msg.album, ticket_id, role="worker")
        await services.intake.remember_album(
            msg.sender.user_id, msg.chat_id, msg.message_id, start
        )


async def _card_note(context: GridContext, msg: Incoming) -> bool:
    """The holder's words or photo in reply to their card: a progress note (进展) on it, which
    they may then tell the reporter with one press."""
    if msg.reply_to_message_id is None:
        return False
    services = _services(context)
    user_id = msg.sender.user_id
    ticket = await services.tickets.card_held(msg.chat_id, msg.reply_to_message_id, user_id)
    if ticket is None:
        return False  # not a reply to one's own card: intake reads it
    actor = await Desk(services).require_staff(user_id, msg.sender.name)
    text = msg.text.strip()
    later = msg.album is not None and not text
    if later and await services.intake.album_start(user_id, msg.chat_id, msg.album or ""):
        # A later photo of an album sent under the card: added without a word each.
        if msg.photo is not None:
            await services.tickets.add_photo(ticket.id, user_id, *msg.photo, "worker")
        await refresh_card(context.bot, services, await services.tickets.get(ticket.id))
        return True
    await _worker_album(services, msg, ticket.id)
    if msg.photo is not None:
        await services.tickets.add_photo(ticket.id, user_id, msg.photo[0], msg.photo[1], "worker")
    buttons: list[list[Button]] = []
    if text:
        note_id = await services.tickets.add_note(ticket.id, actor, text)
        said = texts.NOTE_SAVED.format(number=ticket.number, note=quote(text, limit=MAX_NOTE))
        buttons = [[Button(texts.BTN_NOTE_SHARE, f"nts:{ticket.id}:{note_id}")]]
    else:
        said = (texts.PHOTO_ADDED if msg.photo else texts.NOTE_EMPTY).format(number=ticket.number)
    await send(context.bot, services, msg.chat_id, said, buttons=buttons, reply_to=msg.message_id)
    await refresh_card(context.bot, services, await services.tickets.get(ticket.id))
    return True


async def on_share_note(update: Update, context: GridContext) -> None:
    """告诉反映人 (nts): the progress note goes to the reporter, once."""
    press = await _press(update, context)
    if press is None:
        return
    ticket = await press.services.tickets.share_note(press.ticket.id, int(press.arg), press.actor)
    await press.query.answer(texts.NOTE_SHARED_DONE.format(number=ticket.number))
    message = press.query.message
    if message is not None:
        await finish_card(
            context,
            message.chat.id,
            message.message_id,
            getattr(message, "text", None) or "",
            False,
            texts.NOTE_SHARED_DONE.format(number=ticket.number),
        )


async def on_mytickets(update: Update, context: GridContext) -> None:
    """List a worker's open tickets, overdue first."""
    msg = incoming(update, context.bot.id)
    if msg is None:
        return
    services = _services(context)
    worker = await services.state.worker_for_user(msg.sender.user_id)
    if worker is None:
        await send(context.bot, services, msg.chat_id, texts.MYTICKETS_NOT_WORKER)
        return
    tickets = await services.tickets.open_for_worker(worker.key)
    if not tickets:
        await send(context.bot, services, msg.sender.user_id, texts.MYTICKETS_NONE)
        return
    now = services.clock.now()

    def due_of(t: Ticket) -> datetime | None:  # None: resolved, the reporter's rating awaited
        return t.accept_due_at if t.accepted_at is None else t.resolve_due_at

    def is_late(t: Ticket) -> bool:
        due = due_of(t)
        return due is not None and due < now

    # What is late first, then what is urgent, then by deadline (none last).
    tickets.sort(
        key=lambda t: (
            not is_late(t),
            t.urgency != "urgent",
            due_of(t) or datetime.max.replace(tzinfo=now.tzinfo),
        )
    )
    late = sum(is_late(t) for t in tickets)
    head = texts.MYTICKETS_HEAD_LATE if late else texts.MYTICKETS_HEAD
    lines = [head.format(count=len(tickets), late=late)]
    for t in tickets:
        due = due_of(t)
        line = texts.MYTICKETS_LINE.format(
            mark=texts.MYTICKETS_URGENT if t.urgency == "urgent" else "",
            number=t.number,
            category=services.category_name(t.category),
            place=place_of(t),
            status=texts.TICKET_STATE_LABELS.get(t.status, t.status),
        )
        if due is not None:
            action = (
                texts.MYTICKETS_ACTION_ACCEPT
                if t.accepted_at is None
                else texts.MYTICKETS_ACTION_RESOLVE
            )
            late_mark = texts.MYTICKETS_LATE if is_late(t) else ""
            line += texts.MYTICKETS_DUE.format(
                due=local_time(due, services.tz), action=action, late=late_mark
            )
        lines.append(line)
    await send(context.bot, services, msg.sender.user_id, "\n".join(lines))


async def on_ticket(update: Update, context: GridContext) -> None:
    """/ticket N: the card and timeline to those allowed; a calm status line in groups."""
    msg = incoming(update, context.bot.id)
    if msg is None:
        return
    services = _services(context)
    args = context.args or []
    match = TICKET_NUMBER.match(args[0]) if len(args) == 1 else None
    if match is None:
        await send(context.bot, services, msg.chat_id, texts.TICKET_USAGE, reply_to=msg.message_id)
        return
    number = int(match.group(1))
    ticket = await services.tickets.by_number(services.community.name, number)
    if ticket is None:
        await send(
            context.bot, services, msg.chat_id, texts.TICKET_NOT_FOUND.format(number=number)
        )
        return
    category = services.category_name(ticket.category)
    # One policy decides: the card in private to its people, a status line in the community's
    # groups for public tickets, and otherwise the very answer a missing number gets.
    facts = await gate_access.facts_of(services, ticket)
    who = await gate_access.viewer_of(services, msg.sender.user_id)
    place = await gate_access.place_of_chat(services, msg.chat_id, is_private=msg.is_private)
    member = False
    if place.is_private and not access.sees_card(who, facts) and facts.origin_chat_id:
        member = await gate_access.is_member(context.bot, facts.origin_chat_id, who.user_id)
    shown = access.view(who, facts, place, member_of_community_group=member)
    if shown is access.View.NOTHING:
        await send(
            context.bot, services, msg.chat_id, texts.TICKET_NOT_FOUND.format(number=number)
        )
        return
    if shown is access.View.STATUS:
        await send(
            context.bot,
            services,
            msg.chat_id,
            public_status(ticket, category=category),
            reply_to=None if msg.is_private else msg.message_id,
        )
        return
    desk = Desk(services)
    actor = await desk.actor(msg.sender.user_id, msg.sender.name)
    events = await services.tickets.history(ticket.id)
    photos = await services.tickets.photos(ticket.id)
    history = timeline(
        events,
        tz=services.tz,
        who=_who(services, ticket),
        worker_name=services.worker_name,
        category_name=services.category_name,
    )
    card, buttons = await card_of(services, ticket, len(photos))
    if not _may_act(ticket, actor):
        buttons = []
    text = card + "\n\n" + html.escape(history)
    await send(context.bot, services, msg.chat_id, text, buttons=buttons, html=True)
    for photo in photos:
        await send(context.bot, services, msg.chat_id, "", photo=photo.file_id)


def _who(services: Services, ticket: Ticket) -> Any:
    departments = {d.key: d.name for d in services.escalation.policy.departments}

    def who(event: TicketEvent) -> str:
        detail = event.detail or {}
        key = detail.get("by_key")
        if isinstance(key, str) and key:
            return services.worker_name(key)  # the person, by the name the community knows
        if event.actor_id is None:
            return texts.TIMELINE_SYSTEM
        if event.actor_id == ticket.reporter_id:
            return texts.TIMELINE_REPORTER
        people: list[Worker | Admin] = [*services.community.workers, *services.community.admins]
        for person in people:
            if person.telegram_id == event.actor_id:
                return person.name
        if event.actor_role == "department":
            return departments.get(str(detail.get("department", "")), texts.TIMELINE_DEPARTMENT)
        if event.actor_role in ("worker", "admin") and detail.get("by"):
            return str(detail["by"])
        # Never the role's code ("admin"): its Chinese name when the person is not on file.
        return texts.TIMELINE_ROLE_NAMES.get(event.actor_role, texts.TIMELINE_RESIDENT)

    return who


def handlers() -> list[BaseHandler[Any, Any, Any]]:
    """Worker commands."""
    return [CommandHandler("mytickets", on_mytickets), CommandHandler("ticket", on_ticket)]


def callback_handlers() -> list[BaseHandler[Any, Any, Any]]:
    """Ticket card buttons: one pattern, one handler per verb."""
    return [
        CallbackQueryHandler(on_accept, pattern=rf"^acc:{_ID}$"),
        CallbackQueryHandler(on_show_card, pattern=rf"^card:{_ID}$"),
        CallbackQueryHandler(on_transfer, pattern=rf"^xfer:{_ID}$"),
        CallbackQueryHandler(on_change_category, pattern=rf"^xc:{_ID}$"),
        CallbackQueryHandler(on_transfer_to_worker, pattern=rf"^xw:{_ID}:{_ARG}$"),
        CallbackQueryHandler(on_transfer_to_category, pattern=rf"^xk:{_ID}:{_ARG}$"),
        CallbackQueryHandler(on_return, pattern=rf"^ret:{_ID}$"),
        CallbackQueryHandler(on_return_reason, pattern=rf"^rt:{_ID}:{_ARG}$"),
        CallbackQueryHandler(on_resolve, pattern=rf"^res:{_ID}$"),
        CallbackQueryHandler(on_resolve_now, pattern=rf"^rs:{_ID}$"),
        CallbackQueryHandler(on_share_note, pattern=rf"^nts:{_ID}:{_ID}$"),
    ]


def prompt_handlers() -> list[BaseHandler[Any, Any, Any]]:
    """Answers to the bot's questions, before intake reads private messages as reports."""
    return [
        MessageHandler(
            filters.ChatType.PRIVATE & (filters.TEXT | filters.PHOTO) & ~filters.COMMAND,
            on_prompt_answer,
        )
    ]
