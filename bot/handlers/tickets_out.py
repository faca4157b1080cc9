"""Deliver a ticket: the worker's card (with fallback on 403) and the reply to the reporter."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import replace

from telegram.ext import ExtBot

from bot import texts
from bot.handlers.sending import CARD, UNREACHABLE_HOOKS, Unreachable, edit, send
from bot.services import lifecycle as lc
from bot.services.bootstrap import Services
from bot.services.cards import group_ack, handover_line, private_ack, worker_card
from bot.services.desk import Desk
from bot.services.schedule import quiet_until
from bot.services.values import Button, OutboxItem, OutgoingMessage, Ticket, TicketPhoto

log = logging.getLogger(__name__)

MAX_FALLBACKS = 4


def render_card(
    services: Services,
    ticket: Ticket,
    media: Sequence[TicketPhoto],
    handover: str | None = None,
) -> tuple[str, list[list[Button]]]:
    """Render a ticket's worker card (media: its photos and videos)."""
    videos = sum(m.kind == "video" for m in media)
    return worker_card(
        ticket,
        category=services.category_name(ticket.category),
        worker=services.worker_name(ticket.assignee_key),
        tz=services.tz,
        photos=len(media) - videos,
        videos=videos,
        handover=handover,
    )


async def handover_of(services: Services, ticket: Ticket) -> str | None:
    """Why the ticket came to its worker (the last transfer's or return's reason), if it moved."""
    if ticket.status == lc.NEW:
        return None  # never moved: nothing to read
    event = await services.tickets.last_event(ticket.id, ("transferred", "returned", "reassigned"))
    if event is None:
        return None
    key = (event.detail or {}).get("by_key")
    who = services.worker_name(key) if isinstance(key, str) else ""
    return handover_line(event, who)


async def card_of(
    services: Services, ticket: Ticket, media: Sequence[TicketPhoto]
) -> tuple[str, list[list[Button]]]:
    """Render a ticket's worker card with why it was handed over and what waits on it."""
    notes = [await handover_of(services, ticket)]
    if ticket.status in lc.OPEN_STATES:
        pending = await services.tickets.open_reject_request(ticket.id)
        if pending is not None:
            notes.append(texts.CARD_REJECT_PENDING.format(reason=pending.reason))
    return render_card(services, ticket, media, "\n".join(n for n in notes if n) or None)


async def send_evidence(
    bot: ExtBot[None],
    services: Services,
    chat_id: int,
    file_id: str,
    kind: str,
    *,
    text: str = "",
    reply_to: int | None = None,
) -> None:
    """Show a ticket's photo or video again, with a caption (a video goes as a video, never as
    a photo)."""
    video = kind == "video"
    await send(
        bot,
        services,
        chat_id,
        text,
        photo=None if video else file_id,
        video=file_id if video else None,
        reply_to=reply_to,
    )


async def refresh_card(bot: ExtBot[None], services: Services, ticket: Ticket) -> None:
    """Redraw the worker's card in place after any change."""
    if ticket.card_chat_id is None or ticket.card_message_id is None:
        return
    media = await services.tickets.photos(ticket.id)
    text, buttons = await card_of(services, ticket, media)
    if ticket.card_chat_id != ticket.assignee_id:
        buttons = []  # the card of someone who no longer has the ticket: read-only
    await edit(
        bot,
        ticket.card_chat_id,
        ticket.card_message_id,
        text,
        buttons=buttons,
        html=True,
        purpose=CARD,
    )


async def tell_admins(
    bot: ExtBot[None], services: Services, text: str, *, key: str | None = None
) -> None:
    """Tell every reachable admin; a 403 from one of them does not stop the others."""
    for admin_id in await Desk(services).admin_ids():
        try:
            await send(
                bot,
                services,
                admin_id,
                text,
                key=f"{key}:{admin_id}" if key else None,
                purpose="delivery_failed" if key else "",
            )
        except Unreachable:
            log.warning("an admin cannot be reached by private message")


async def _move_on(bot: ExtBot[None], services: Services, ticket: Ticket) -> Ticket | None:
    """The worker cannot be reached: route to the next one and tell the admins (None: nobody)."""
    desk = Desk(services)
    unreachable_name = services.worker_name(ticket.assignee_key)
    reroute = await desk.reroute_unreachable(ticket)
    fallback = services.worker_name(reroute.route.worker_key)
    if reroute.route.worker_key is None:
        await tell_admins(
            bot,
            services,
            texts.UNASSIGNED_ADMIN.format(
                number=ticket.number, category=services.category_name(ticket.category)
            ),
        )
        return None
    await tell_admins(
        bot,
        services,
        texts.WORKER_UNREACHABLE_ADMIN.format(
            worker=unreachable_name, number=ticket.number, fallback=fallback
        ),
    )
    return reroute.ticket


async def card_unreachable(bot: ExtBot[None], services: Services, item: OutboxItem) -> None:
    """Telegram refused a worker's card (403): the fallback worker takes the ticket.

    The reporter's reply waits for the card; if it is still queued it is replaced by one that
    names the fallback worker.
    """
    ticket_id = item.message.extra.get("ticket_id")
    if not isinstance(ticket_id, int):
        return
    async with services.db.transaction():
        ticket = await services.tickets.get(ticket_id)
        if ticket.assignee_id != item.chat_id or ticket.card_chat_id != item.chat_id:
            return  # the ticket has moved on since this card was queued
        moved = await _move_on(bot, services, ticket)
        if moved is None:
            return
        moved = await ensure_card(bot, services, moved)
        reply = moved.reply_message_id
        if reply is not None and reply < 0:
            found = await services.outbox.delivered_id(-reply)
            if found is not None and found[0] == "pending":
                await services.outbox.give_up(-reply, "superseded: the ticket moved on")
                await _queue_ack(bot, services, moved, echo=not moved.is_private)


UNREACHABLE_HOOKS["card"] = card_unreachable


async def ensure_card(
    bot: ExtBot[None], services: Services, ticket: Ticket, *, may_have_photos: bool = True
) -> Ticket:
    """Queue the ticket's card for whoever has it; when they cannot be reached, move it on."""
    desk = Desk(services)
    for _ in range(MAX_FALLBACKS):
        if ticket.assignee_id is not None and ticket.card_chat_id == ticket.assignee_id:
            return ticket  # the current worker has their card already
        if ticket.assignee_id is None:
            reroute = await desk.reroute_unreachable(ticket)
            if reroute.route.worker_key is None:
                await tell_admins(
                    bot,
                    services,
                    texts.UNASSIGNED_ADMIN.format(
                        number=ticket.number, category=services.category_name(ticket.category)
                    ),
                )
                return ticket
            ticket = reroute.ticket
            continue
        photos = await services.tickets.photos(ticket.id) if may_have_photos else []
        text, buttons = await card_of(services, ticket, photos)
        try:
            card = await send(
                bot,
                services,
                ticket.assignee_id,
                text,
                buttons=buttons,
                html=True,
                purpose="card",
                extra={"ticket_id": ticket.id, **urgent_mark(ticket)},
            )
        except Unreachable:
            moved = await _move_on(bot, services, ticket)
            if moved is None:
                return ticket
            ticket = moved
            continue
        await services.tickets.set_card(ticket.id, card.chat_id, card.message_id)
        ticket = replace(ticket, card_chat_id=card.chat_id, card_message_id=card.message_id)
        for photo in photos:
            try:
                await send_evidence(
                    bot,
                    services,
                    card.chat_id,
                    photo.file_id,
                    photo.kind,
                    reply_to=card.message_id,
                )
            except Unreachable:
                break
        return ticket
    return ticket


def urgent_mark(ticket: Ticket) -> dict[str, bool]:
    """What makes a message about an urgent ticket ring even in quiet hours (see sending)."""
    return {"urgent": True} if ticket.urgency == "urgent" else {}


async def acknowledge(
    bot: ExtBot[None],
    services: Services,
    ticket: Ticket,
    *,
    echo: bool = False,
    call_first: str = "",
) -> Ticket:
    """Tell the reporter (in the group, or privately) who has the ticket, once."""
    if ticket.reply_message_id is not None or ticket.chat_id is None:
        return ticket
    return await _queue_ack(bot, services, ticket, echo=echo, call_first=call_first)


async def _queue_ack(
    bot: ExtBot[None], services: Services, ticket: Ticket, *, echo: bool, call_first: str = ""
) -> Ticket:
    assert ticket.chat_id is not None
    desk = Desk(services)
    category = services.category_name(ticket.category)
    worker = services.worker_name(ticket.assignee_key)
    role = desk.role_label(ticket.assignee_key)
    undo = [[Button(texts.UNDO_BUTTON, f"undo:{ticket.id}")]]
    if ticket.is_private:
        undo.append([Button(texts.PUBLISH_BUTTON, f"pub:{ticket.id}")])
        text = private_ack(ticket, category=category, worker=worker, role=role, tz=services.tz)
    else:
        text = group_ack(
            ticket, category=category, worker=worker, role=role, tz=services.tz, echo=echo
        )
    if call_first:  # a danger: calling 119/110/120 comes before anything the community does
        text = texts.CALL_FIRST[call_first] + "\n" + text
    card = ticket.card_message_id
    try:
        reply = await send(
            bot,
            services,
            ticket.chat_id,
            text,
            buttons=undo,
            reply_to=ticket.message_id,
            after=card if card is not None and card < 0 else None,
            extra=urgent_mark(ticket),
        )
    except Unreachable:
        return ticket
    await services.tickets.set_reply(ticket.id, reply.message_id)
    return replace(ticket, reply_message_id=reply.message_id)


async def deliver(
    bot: ExtBot[None],
    services: Services,
    ticket: Ticket,
    *,
    new_without_photos: bool = False,
    call_first: str = "",
) -> Ticket:
    """Card first (so the reply names who really has it), then the reporter's reply."""
    ticket = await ensure_card(bot, services, ticket, may_have_photos=not new_without_photos)
    return await acknowledge(
        bot, services, ticket, echo=not ticket.is_private, call_first=call_first
    )


async def announce(bot: ExtBot[None], services: Services, ticket: Ticket, text: str) -> None:
    """Tell the reporter's chat briefly what happened, as a reply to the complaint.

    In a group, news of a non-urgent ticket waits for the group's quiet hours to end.
    """
    if ticket.chat_id is None:
        return
    if not ticket.is_private and ticket.urgency != "urgent":
        now = services.clock.now()
        quiet = (await services.schedule.schedule_for(ticket.chat_id)).quiet_hours
        release = quiet_until(now, quiet, services.tz)
        if release > now:
            await services.outbox.enqueue(
                ticket.chat_id,
                OutgoingMessage(
                    text,
                    reply_to_message_id=ticket.message_id,
                    purpose="announce",
                    extra={"ticket_id": ticket.id},
                ),
                now,
                not_before=release,
            )
            return
    try:
        await send(bot, services, ticket.chat_id, text, reply_to=ticket.message_id)
    except Unreachable:
        log.info("ticket %s: the reporter cannot be reached privately", ticket.id)
