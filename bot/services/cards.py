"""What people read about a ticket: the worker's card, the group's reply, the timeline.

Pure functions from tickets to (text, buttons); HTML-escaped where the text is sent as HTML.
"""

from __future__ import annotations

import html
from collections.abc import Callable, Sequence
from datetime import datetime
from zoneinfo import ZoneInfo

from bot import texts
from bot.services import lifecycle as lc
from bot.services.privacy import mask_for_staff, mask_pii
from storage.outbox import Button
from storage.tickets import Ticket, TicketEvent

Buttons = list[list[Button]]
QUOTE_LIMIT = 60


def local_time(when: datetime | None, tz: ZoneInfo) -> str:
    """Show a moment in the community's timezone, e.g. 11-23 13:00."""
    if when is None:
        return "—"
    return when.astimezone(tz).strftime("%m-%d %H:%M")


def place_of(ticket: Ticket) -> str:
    """Describe where the problem is: building, unit, room or named place."""
    location = ticket.location or {}
    parts: list[str] = []
    building = ticket.building or location.get("building")
    if building:
        parts.append(texts.BUILDING_LABEL.format(building=building))
    if location.get("unit"):
        parts.append(f"{location['unit']}单元")
    if location.get("room"):
        parts.append(str(location["room"]))
    if location.get("place"):
        parts.append(str(location["place"]))
    return "".join(parts) if parts else texts.PLACE_UNKNOWN


def quote(text: str, limit: int = QUOTE_LIMIT) -> str:
    """A short, masked quote of a resident's words for echoing in a group."""
    flat = " ".join(mask_pii(text).split())
    return flat if len(flat) <= limit else flat[: limit - 1] + "…"


def card_buttons(ticket: Ticket) -> Buttons:
    """The buttons a worker's card shows in the ticket's current state."""
    actions = lc.allowed_actions(ticket.status)
    tid = ticket.id
    if ticket.status in lc.AWAITING_ACCEPT:
        return [
            [Button(texts.BTN_ACCEPT, f"acc:{tid}")],
            [Button(texts.BTN_TRANSFER, f"xfer:{tid}"), Button(texts.BTN_RETURN, f"ret:{tid}")],
        ]
    if "resolve" in actions:
        return [
            [Button(texts.BTN_RESOLVE, f"res:{tid}"), Button(texts.BTN_TRANSFER, f"xfer:{tid}")]
        ]
    return []


def closing_buttons(ticket: Ticket) -> list[Button]:
    """不予受理 / 重复, offered in the card's menus while the ticket's state allows them."""
    actions = lc.allowed_actions(ticket.status)
    row: list[Button] = []
    if "reject" in actions:
        row.append(Button(texts.BTN_REJECT, f"rej:{ticket.id}"))
    if "duplicate" in actions:
        row.append(Button(texts.BTN_DUPLICATE, f"dup:{ticket.id}"))
    return row


CARD_TEXT_LIMIT = 1500  # the resident's words on a card, escaped: the card stays far under 4096


def escaped_within(text: str, limit: int) -> str:
    """Escape a person's words for HTML, shortened first so the escaped form fits `limit`."""
    out: list[str] = []
    used = 0
    for char in text:
        piece = html.escape(char)
        if used + len(piece) > limit - 1:
            return "".join(out) + "…"
        out.append(piece)
        used += len(piece)
    return "".join(out)


def worker_card(
    ticket: Ticket,
    *,
    category: str,
    worker: str,
    tz: ZoneInfo,
    photos: int = 0,
    videos: int = 0,
    handover: str | None = None,
) -> tuple[str, Buttons]:
    """Render the ticket card a worker acts on (HTML); handover: why it came to this worker."""
    e = html.escape
    icon = "🆕" if ticket.status in lc.AWAITING_ACCEPT else "🛠"
    # Each way a ticket ends looks different: 办结 is not 撤回, 不予受理 or 重复.
    icon = texts.CARD_FINAL_ICONS.get(ticket.status, icon)
    reporter = f'<a href="tg://user?id={ticket.reporter_id}">{e(ticket.reporter_name)}</a>'
    lines = [
        texts.CARD_TITLE.format(
            icon=icon,
            number=ticket.number,
            category=e(category),
            urgency=texts.URGENCY_LABELS.get(ticket.urgency, ticket.urgency),
        ),
        texts.CARD_LOCATION.format(location=e(place_of(ticket))),
        texts.CARD_TEXT.format(text=escaped_within(mask_for_staff(ticket.text), CARD_TEXT_LIMIT)),
        texts.CARD_REPORTER.format(reporter=reporter),
    ]
    if ticket.is_private:
        lines.append(texts.CARD_PRIVATE)
    if ticket.follower_count:
        lines.append(texts.CARD_FOLLOWERS.format(count=ticket.follower_count + 1))
    if ticket.priority > 0 and ticket.status in lc.OPEN_STATES:
        lines.append(texts.CARD_PRIORITY)
    if photos or videos:
        lines.append(media_line(photos, videos))
    if handover and ticket.status in lc.OPEN_STATES:
        lines.append(e(handover))
    if ticket.status in lc.AWAITING_ACCEPT:
        lines.append(texts.CARD_ACCEPT_DUE.format(due=local_time(ticket.accept_due_at, tz)))
    elif ticket.status in lc.IN_HAND:
        lines.append(texts.CARD_RESOLVE_DUE.format(due=local_time(ticket.resolve_due_at, tz)))
    lines.append(texts.CARD_ASSIGNEE.format(worker=e(worker or texts.NOBODY_YET)))
    lines.append(
        texts.CARD_STATUS.format(
            status=texts.TICKET_STATE_LABELS.get(ticket.status, ticket.status)
        )
    )
    return "\n".join(lines), card_buttons(ticket)


def handover_line(event: TicketEvent, who: str) -> str | None:
    """Say why a ticket came to its worker: a transfer's or a return's reason, and by whom."""
    detail = event.detail or {}
    if event.kind == "reassigned":
        return texts.CARD_REASSIGNED
    reason = str(detail.get("reason") or "").strip()
    if not reason:
        return None
    template = texts.CARD_TRANSFERRED if event.kind == "transferred" else texts.CARD_RETURNED
    return template.format(reason=reason, by=who or texts.TIMELINE_STAFF)


def group_ack(
    ticket: Ticket, *, category: str, worker: str, role: str, tz: ZoneInfo, echo: bool
) -> str:
    """The calm reply in the group: number, category, who has it, when they will respond."""
    promise = texts.PROMISE_ACCEPT.format(due=local_time(ticket.accept_due_at, tz))
    text = texts.GROUP_ACK.format(
        number=ticket.number,
        category=category,
        urgent=texts.GROUP_ACK_URGENT if ticket.urgency == "urgent" else "",
        role=role,
        worker=worker or texts.NOBODY_YET,
        promise=promise,
    )
    if echo:
        text = texts.GROUP_ACK_QUOTE.format(text=quote(ticket.text)) + text
    return text


def private_ack(ticket: Ticket, *, category: str, worker: str, role: str, tz: ZoneInfo) -> str:
    """The private acknowledgement for a complaint sent to the bot directly."""
    return texts.PRIVATE_ACK.format(
        number=ticket.number,
        category=category,
        role=role,
        worker=worker or texts.NOBODY_YET,
        promise=texts.PROMISE_ACCEPT.format(due=local_time(ticket.accept_due_at, tz)),
    )


def media_line(photos: int, videos: int) -> str:
    """A card's line for its evidence: 📷 照片 3 张, or with videos 📷 照片 2 张 · 🎬 视频 1 段."""
    shown = [texts.CARD_PHOTOS.format(count=photos)] if photos else []
    if videos:
        shown.append(texts.CARD_VIDEOS.format(count=videos))
    return texts.CARD_MEDIA_JOIN.join(shown)


def public_status(ticket: Ticket, *, category: str) -> str:
    """A status line with no personal data, for groups."""
    rating = ""
    if ticket.rating:
        rating = f"（{texts.RATING_LABELS.get(ticket.rating, ticket.rating)}）"
    return texts.TICKET_PUBLIC.format(
        number=ticket.number,
        category=category,
        place=place_of(ticket),
        status=texts.TICKET_STATE_LABELS.get(ticket.status, ticket.status),
        rating=rating,
    )


def timeline(
    events: Sequence[TicketEvent],
    *,
    tz: ZoneInfo,
    who: Callable[[TicketEvent], str],
    category_name: Callable[[str], str] | None = None,
    worker_name: Callable[[str], str] | None = None,
) -> str:
    """The ticket's history, one line per event (plain text, in words, never codes)."""
    category_of = category_name or (lambda code: texts.POSTS_CATEGORY_NAMES.get(code, code))
    lines = [texts.TIMELINE_HEAD]
    for event in events:
        label = texts.TIMELINE_KINDS.get(event.kind, event.kind)
        detail = event.detail or {}
        extra = ""
        for key in ("reason", "note", "to_worker", "to_category", "category", "rating", "level"):
            value = detail.get(key)
            if value:
                if key == "level":
                    value = texts.ESCALATION_LEVEL_LABELS.get(value, value)
                elif key in ("category", "to_category"):
                    value = category_of(str(value))
                elif key == "to_worker" and worker_name is not None:
                    value = worker_name(str(value))
                elif key == "rating":
                    value = texts.RATING_LABELS.get(value, value)
                extra = f"（{value}）"
                break
        lines.append(
            texts.TIMELINE_LINE.format(
                at=local_time(event.at, tz), who=who(event), what=label, detail=extra
            )
        )
    return "\n".join(lines)


def worklist(
    tickets: Sequence[Ticket],
    *,
    now: datetime,
    tz: ZoneInfo,
    category_name: Callable[[str], str],
) -> str:
    """A worker's open tickets (/mytickets), the late first, then the urgent, then by deadline;
    each with the time it must be taken (接单) or done (办结) by."""

    def due_of(t: Ticket) -> datetime | None:  # None: resolved, the reporter's rating awaited
        return t.accept_due_at if t.accepted_at is None else t.resolve_due_at

    def is_late(t: Ticket) -> bool:
        due = due_of(t)
        return due is not None and due < now

    never = datetime.max.replace(tzinfo=now.tzinfo)
    ordered = sorted(
        tickets, key=lambda t: (not is_late(t), t.urgency != "urgent", due_of(t) or never)
    )
    late = sum(is_late(t) for t in ordered)
    head = texts.MYTICKETS_HEAD_LATE if late else texts.MYTICKETS_HEAD
    lines = [head.format(count=len(ordered), late=late)]
    for t in ordered:
        line = texts.MYTICKETS_LINE.format(
            mark=texts.MYTICKETS_URGENT if t.urgency == "urgent" else "",
            number=t.number,
            category=category_name(t.category),
            place=place_of(t),
            status=texts.TICKET_STATE_LABELS.get(t.status, t.status),
        )
        due = due_of(t)
        if due is not None:
            accept = t.accepted_at is None
            line += texts.MYTICKETS_DUE.format(
                due=local_time(due, tz),
                action=texts.MYTICKETS_ACTION_ACCEPT if accept else texts.MYTICKETS_ACTION_RESOLVE,
                late=texts.MYTICKETS_LATE if is_late(t) else "",
            )
        lines.append(line)
    return "\n".join(lines)
