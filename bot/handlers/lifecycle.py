"""A ticket's later life in the chat: ratings, 不予受理, 重复, the department's 收到, /stats."""

from __future__ import annotations

import calendar
import contextlib
import re
from collections.abc import Sequence
from datetime import date, datetime, time, timedelta
from typing import TYPE_CHECKING, Any

from telegram import CallbackQuery, Update
from telegram.ext import BaseHandler, CallbackQueryHandler, CommandHandler

from bot import texts
from bot.context import GridContext
from bot.handlers.errors import domain_text
from bot.handlers.intake import ask_unsatisfied_reason
from bot.handlers.jobs import drain
from bot.handlers.mapper import incoming
from bot.handlers.sending import Unreachable, edit, send
from bot.handlers.tickets_out import announce, refresh_card
from bot.services import lifecycle as lc
from bot.services.desk import Desk
from bot.services.errors import DomainError
from bot.services.flows import Prompt
from bot.services.people import has_started
from bot.services.rates import GroupBy, compute_rates, format_rates
from bot.services.tickets import RATINGS, Actor, Ticket
from bot.services.values import Button

if TYPE_CHECKING:
    from bot.services.bootstrap import Services

# Callback data, parsed strictly: anything else is a forged or stale button.
RATE_DATA = re.compile(r"^rate:(\d{1,12}):(" + "|".join(RATINGS) + r")$")
ACK_DATA = re.compile(r"^ack:(\d{1,12})$")
CLOSE_DATA = re.compile(r"^(rej|dup):(\d{1,12})$")
REASON_DATA = re.compile(r"^rj:(\d{1,12}):([a-z_]{1,24})$")
DECISION_DATA = re.compile(r"^rj([an]):(\d{1,12})$")
TICKET_NUMBER = re.compile(r"^#?\s*(\d{1,9})$")
DAYS = re.compile(r"^(\d{1,3})\s*(?:d|天)$")
MONTH = re.compile(r"^(\d{4})-(\d{1,2})$")
DAY = r"\d{4}-\d{1,2}-\d{1,2}"
RANGE = re.compile(rf"^({DAY})\s*(?:\.\.|~|至|到|\s)\s*({DAY})$")
ONE_DAY = re.compile(rf"^({DAY})$")
MAX_DAYS = 366

# The worker's answers this module reads (the worker's prompt handler passes them on).
PROMPT_ACTIONS = frozenset({"reject", "duplicate"})


def _services(context: GridContext) -> Services:
    return context.services


def _may_act(ticket: Ticket, actor: Actor) -> bool:
    return actor.is_admin or (
        actor.worker_key is not None and actor.worker_key == ticket.assignee_key
    )


def _require_action(ticket: Ticket, action: str) -> None:
    """Refuse early, with the service's sentences, an action the ticket's state forbids."""
    if action in lc.allowed_actions(ticket.status):
        return
    label = texts.TICKET_STATE_LABELS.get(ticket.status, ticket.status)
    if ticket.status in lc.TERMINAL:
        raise DomainError("ticket_finished", number=ticket.number, state_label=label)
    raise DomainError(
        "illegal_transition",
        number=ticket.number,
        state_label=label,
        action_label=texts.TICKET_ACTION_LABELS[action],
    )


async def _refuse(query: CallbackQuery, error: DomainError) -> None:
    await query.answer(domain_text(error)[:200], show_alert=True)


# ── ratings ──
async def on_rate(update: Update, context: GridContext) -> None:
    """满意 / 基本满意 / 不满意 from the reporter (or a follower)."""
    query = update.callback_query
    assert query is not None
    match = RATE_DATA.match(query.data or "")
    if match is None:
        await query.answer(texts.STALE_BUTTON, show_alert=True)
        return
    services = _services(context)
    ticket_id, rating = int(match.group(1)), match.group(2)
    try:
        ticket = await services.tickets.rate(ticket_id, query.from_user.id, rating)
    except DomainError as exc:
        if exc.code == "already_rated":
            rated = await services.tickets.get(ticket_id)
            if rated.rating == "unrated":
                await query.answer(
                    texts.RATING_WINDOW_OVER.format(number=rated.number), show_alert=True
                )
                return
        await _refuse(query, exc)
        return
    label = texts.RATING_LABELS[rating]
    await query.answer(texts.RATING_THANKS.format(rating=label))
    if ticket.status == lc.REOPENED:
        text = texts.RATED_REOPENED_MESSAGE.format(
            number=ticket.number, worker=services.worker_name(ticket.assignee_key)
        )
    else:
        text = texts.RATED_MESSAGE.format(number=ticket.number, rating=label)
    if query.message is not None:
        await edit(context.bot, query.message.chat.id, query.message.message_id, text)
        if ticket.status == lc.REOPENED:  # 不满意: ask why (intake's dialogue passes it on)
            await ask_unsatisfied_reason(
                context,
                ticket,
                query.message.chat.id,
                query.from_user.id,
                query.from_user.full_name,
                query.message.message_id,
            )
    await refresh_card(context.bot, services, ticket)  # reopened: the worker's buttons are back
    await drain(context)  # the office and the worker hear of a reopen now


# ── the department's 收到 on a whistle ──
async def on_ack(update: Update, context: GridContext) -> None:
    """The department's contact acknowledges a whistle (吹哨报到)."""
    query = update.callback_query
    assert query is not None
    match = ACK_DATA.match(query.data or "")
    if match is None:
        await query.answer(texts.STALE_BUTTON, show_alert=True)
        return
    services = _services(context)
    try:
        ticket = await services.escalation.acknowledge_whistle(
            int(match.group(1)), query.from_user.id
        )
    except DomainError as exc:
        await _refuse(query, exc)
        return
    department = services.escalation.policy.department_for(ticket.category)
    await query.answer(
        texts.WHISTLE_ACKED.format(
            number=ticket.number, department=department.name if department else ""
        ),
        show_alert=True,
    )
    message = query.message
    if message is not None:
        original = getattr(message, "text", None) or ""
        await edit(
            context.bot, message.chat.id, message.message_id, original + texts.WHISTLE_ACKED_MARK
        )


# ── 不予受理 and 重复, from the card's menus ──
async def on_close_button(update: Update, context: GridContext) -> None:
    """不予受理… / 与已有工单重复… and the ready-made rejection reasons."""
    query = update.callback_query
    assert query is not None
    data = query.data or ""
    simple, with_reason = CLOSE_DATA.match(data), REASON_DATA.match(data)
    if simple is None and with_reason is None:
        await query.answer(texts.STALE_BUTTON, show_alert=True)
        return
    try:
        await _close_button(context, query, simple, with_reason)
    except DomainError as exc:
        await _refuse(query, exc)


async def _close_button(
    context: GridContext,
    query: CallbackQuery,
    simple: re.Match[str] | None,
    with_reason: re.Match[str] | None,
) -> None:
    services = _services(context)
    desk = Desk(services)
    user = query.from_user
    if with_reason is not None:
        verb, ticket_id = "rj", int(with_reason.group(1))
    else:
        assert simple is not None
        verb, ticket_id = simple.group(1), int(simple.group(2))
    actor = await desk.require_staff(user.id, user.full_name)
    try:
        ticket = await services.tickets.get(ticket_id)
    except DomainError:
        await query.answer(texts.STALE_BUTTON, show_alert=True)
        return
    if not _may_act(ticket, actor):
        raise DomainError("not_allowed")
    chat_id = query.message.chat.id if query.message is not None else user.id
    if verb == "rej":
        _require_action(ticket, "reject")
        await desk.ask(user.id, chat_id, "reject", ticket_id, {})
        await query.answer()
        rows = [
            [Button(label, f"rj:{ticket_id}:{code}")]
            for code, label in texts.REJECT_REASONS.items()
        ]
        await send(
            context.bot,
            services,
            chat_id,
            texts.REJECT_PICK.format(number=ticket.number),
            buttons=rows,
        )
    elif verb == "dup":
        _require_action(ticket, "duplicate")
        await desk.ask(user.id, chat_id, "duplicate", ticket_id, {})
        await query.answer()
        await send(
            context.bot, services, chat_id, texts.DUPLICATE_ASK.format(number=ticket.number)
        )
    else:
        assert with_reason is not None
        reason = texts.REJECT_REASONS.get(with_reason.group(2))
        if reason is None:
            await query.answer(texts.STALE_BUTTON, show_alert=True)
            return
        prompt = await desk.open_prompt(user.id, chat_id)
        if prompt is not None and prompt.ticket_id == ticket_id and prompt.action == "reject":
            await desk.close_prompt(prompt)
        ticket, said = await reject(context, actor, ticket_id, reason, chat_id)
        await query.answer(said[:200])
        if query.message is not None:
            await edit(context.bot, chat_id, query.message.message_id, said)


async def answer_prompt(
    context: GridContext, prompt: Prompt, actor: Actor, chat_id: int, text: str
) -> None:
    """A worker's typed answer: the reason for 不予受理, or the original's number for 重复."""
    services = _services(context)
    desk = Desk(services)
    bot = context.bot
    if text in texts.PROMPT_CANCEL_WORDS:
        await desk.close_prompt(prompt)
        await send(bot, services, chat_id, texts.PROMPT_CANCELLED)
        return
    if prompt.action == "reject":
        if not text:
            await send(bot, services, chat_id, texts.ERRORS["reason_required"])
            return
        if await desk.close_prompt(prompt):
            await reject(context, actor, prompt.ticket_id, text, chat_id)
        return
    match = TICKET_NUMBER.match(text)
    if match is None:
        await send(bot, services, chat_id, texts.DUPLICATE_NUMBER_NEEDED)
        return  # the question stays open for the number
    number = int(match.group(1))
    original = await services.tickets.by_number(services.community.name, number)
    if original is None:
        await send(bot, services, chat_id, texts.TICKET_NOT_FOUND.format(number=number))
        return
    if original.id == prompt.ticket_id:
        duplicate = await services.tickets.get(prompt.ticket_id)
        await send(
            bot,
            services,
            chat_id,
            texts.ERRORS["duplicate_of_self"].format(number=duplicate.number),
        )
        return
    if await desk.close_prompt(prompt):
        await mark_duplicate(context, actor, prompt.ticket_id, original.id, chat_id)


async def reject(
    context: GridContext, actor: Actor, ticket_id: int, reason: str, chat_id: int
) -> tuple[Ticket, str]:
    """不予受理: an admin's closes the ticket; a worker's waits for an admin's approval.

    Returns the ticket and what the one who pressed was told.
    """
    services = _services(context)
    bot = context.bot
    if not actor.is_admin:
        await services.tickets.request_reject(ticket_id, actor, reason=reason, chat_id=chat_id)
        ticket = await services.tickets.get(ticket_id)
        await refresh_card(bot, services, ticket)  # the card says it waits for approval
        said = texts.REJECT_REQUESTED.format(number=ticket.number)
        await send(bot, services, chat_id, said)
        await drain(context)  # the admins' approval buttons go out now
        return ticket, said
    ticket = await services.tickets.reject(ticket_id, actor, reason=reason)
    await tell_rejected(context, ticket, reason)
    said = texts.REJECT_DONE.format(number=ticket.number)
    await send(bot, services, chat_id, said)
    return ticket, said


async def tell_rejected(context: GridContext, ticket: Ticket, reason: str) -> None:
    """The ticket was refused: redraw the card, tell the reporter (and followers) why."""
    services = _services(context)
    bot = context.bot
    await refresh_card(bot, services, ticket)
    worker = Desk(services).role_label(ticket.assignee_key) + services.worker_name(
        ticket.assignee_key
    )
    await announce(
        bot,
        services,
        ticket,
        texts.REJECTED_TO_REPORTER.format(
            number=ticket.number, reason=reason, worker=worker or texts.NOBODY_YET
        ),
    )
    for follower in await services.tickets.followers(ticket.id):
        if follower.chat_id is None:
            continue
        with contextlib.suppress(Unreachable):
            await send(
                bot,
                services,
                follower.chat_id,
                texts.REJECTED_TO_FOLLOWER.format(number=ticket.number, reason=reason),
            )


async def on_reject_decision(update: Update, context: GridContext) -> None:
    """An admin's 同意 / 不同意 on a worker's 不予受理."""
    query = update.callback_query
    assert query is not None
    match = DECISION_DATA.match(query.data or "")
    if match is None:
        await query.answer(texts.STALE_BUTTON, show_alert=True)
        return
    services = _services(context)
    user = query.from_user
    actor = await Desk(services).actor(user.id, user.full_name)
    request_id = int(match.group(2))
    try:
        request = await services.tickets.reject_request(request_id)
        ticket, outcome = await services.tickets.decide_reject(
            request_id, actor, approve=match.group(1) == "a"
        )
    except DomainError as exc:
        await _refuse(query, exc)
        return
    assert request is not None
    if outcome == "approved":
        await tell_rejected(context, ticket, request.reason)
        said = texts.REJECT_DECIDED_APPROVED
    elif outcome == "refused":
        await refresh_card(context.bot, services, ticket)  # the pending line goes away
        said = texts.REJECT_DECIDED_REFUSED
    else:
        said = texts.REJECT_DECIDED_DROPPED
    said = said.format(number=ticket.number)
    await query.answer(said[:200])
    if query.message is not None:
        original = getattr(query.message, "text", None) or ""
        await edit(
            context.bot, query.message.chat.id, query.message.message_id, f"{original}\n\n{said}"
        )
    await drain(context)  # the worker hears the outcome now


async def mark_duplicate(
    context: GridContext, actor: Actor, ticket_id: int, original_id: int, chat_id: int
) -> Ticket:
    """重复: close the ticket into its original; the reporter follows the original."""
    services = _services(context)
    bot = context.bot
    ticket = await services.tickets.get(ticket_id)
    # Told when the original is resolved: privately once they opened the bot, else where
    # they complained (as 我也遇到 does).
    started = await has_started(services.state, ticket.reporter_id)
    reporter_chat = ticket.reporter_id if started else ticket.chat_id
    duplicate = await services.tickets.mark_duplicate(
        ticket_id, actor, of_ticket_id=original_id, reporter_chat_id=reporter_chat
    )
    assert duplicate.duplicate_of is not None
    original = await services.tickets.get(duplicate.duplicate_of)
    await refresh_card(bot, services, duplicate)
    await refresh_card(bot, services, original)  # its count of households went up
    await announce(
        bot,
        services,
        duplicate,
        texts.DUPLICATE_TO_REPORTER.format(number=duplicate.number, of_number=original.number),
    )
    await send(
        bot,
        services,
        chat_id,
        texts.DUPLICATE_DONE.format(number=duplicate.number, of_number=original.number),
    )
    return duplicate


# ── /stats ──
def parse_period(words: Sequence[str], today: date) -> tuple[date, date] | None:
    """Return the first and last day (inclusive) a /stats argument names, or None."""
    text = " ".join(words).strip().lower()
    kind = texts.STATS_PERIOD_WORDS.get(text or "本月")
    if kind == "month":
        return today.replace(day=1), today
    if kind == "last_month":
        last = today.replace(day=1) - timedelta(days=1)
        return last.replace(day=1), last
    if kind == "week":
        return today - timedelta(days=today.weekday()), today
    if kind == "today":
        return today, today
    try:
        if match := DAYS.match(text):
            days = int(match.group(1))
            if not 1 <= days <= MAX_DAYS:
                return None
            return today - timedelta(days=days - 1), today
        if match := MONTH.match(text):
            year, month = int(match.group(1)), int(match.group(2))
            first = date(year, month, 1)
            return first, first.replace(day=calendar.monthrange(year, month)[1])
        if match := RANGE.match(text):
            first, last = (date.fromisoformat(_iso(g)) for g in match.groups())
            return (first, last) if first <= last else None
        if match := ONE_DAY.match(text):
            day = date.fromisoformat(_iso(match.group(1)))
            return day, day
    except ValueError:
        return None
    return None


def _iso(text: str) -> str:
    year, month, day = text.split("-")
    return f"{int(year):04d}-{int(month):02d}-{int(day):02d}"


async def stats_text(services: Services, first: date, last: date, worker_key: str | None) -> str:
    """The rates of a period: everything for an admin (worker_key None), else one worker's."""
    tz = services.tz
    since = datetime.combine(first, time(0), tzinfo=tz)
    until = datetime.combine(last + timedelta(days=1), time(0), tzinfo=tz)
    now = services.clock.now()
    community = services.community
    workers = {w.key: w.name for w in community.workers}
    workers.update({a.key: a.name for a in community.admins})

    async def rows(by: GroupBy) -> Any:
        return await compute_rates(
            services.db, since, until, by, as_of=now, communities=(community.name,)
        )

    if worker_key is not None:
        own = [row for row in await rows("worker") if row.key == worker_key]
        return format_rates(own, first, last, "worker", workers)
    grids = {g.code: g.name for g in community.grids}
    return "\n\n".join(
        (
            format_rates(await rows("community"), first, last, "community"),
            format_rates(await rows("worker"), first, last, "worker", workers),
            format_rates(await rows("grid"), first, last, "grid", grids),
        )
    )


async def on_stats(update: Update, context: GridContext) -> None:
    """/stats [period]: the three rates; admins see all, a worker their own; never in a group."""
    msg = incoming(update, context.bot.id)
    if msg is None:
        return
    services = _services(context)
    bot = context.bot
    user_id = msg.sender.user_id
    street = context.bot_data.require_street()
    is_staff = street.is_staff(user_id)  # the street office: every community side by side
    is_admin = await services.state.is_admin(user_id)
    worker = await services.state.worker_for_user(user_id)
    reply_to = None if msg.is_private else msg.message_id
    if not is_staff and not is_admin and worker is None:
        await send(bot, services, msg.chat_id, texts.STATS_NOT_STAFF, reply_to=reply_to)
        return
    today = services.clock.now().astimezone(services.tz).date()
    period = parse_period(context.args or [], today)
    if period is None:
        await send(bot, services, msg.chat_id, texts.STATS_USAGE, reply_to=reply_to)
        return
    worker_key = None if is_admin or worker is None else worker.key
    if is_staff:
        text = await street.stats_text(period[0], period[1])
    else:
        text = await stats_text(services, period[0], period[1], worker_key)
    if msg.is_private:
        await send(bot, services, msg.chat_id, text)
        return
    # Per-worker figures are not for the residents' group: they go to the asker privately.
    try:
        if not await has_started(services.state, user_id):
            raise Unreachable(user_id)  # a first private message would be refused
        await send(bot, services, user_id, text)
    except Unreachable:
        await send(bot, services, msg.chat_id, texts.STATS_OPEN_BOT, reply_to=reply_to)
        return
    await send(bot, services, msg.chat_id, texts.STATS_SENT_PRIVATELY, reply_to=reply_to)


def handlers() -> list[BaseHandler[Any, Any, Any]]:
    """Commands."""
    return [CommandHandler("stats", on_stats)]


def callback_handlers() -> list[BaseHandler[Any, Any, Any]]:
    """Buttons: ratings, the department's 收到, 不予受理 and 重复."""
    return [
        CallbackQueryHandler(on_rate, pattern=r"^rate:"),
        CallbackQueryHandler(on_ack, pattern=r"^ack:"),
        CallbackQueryHandler(on_close_button, pattern=r"^(rej|dup|rj):"),
        CallbackQueryHandler(on_reject_decision, pattern=r"^rj[an]:"),
    ]
