"""Every dialogue the bot holds, each as a table of states (see bot/services/dialogues.py).

    task         title ─► points ─► deadline ─► capacity ─► audience ─► extras ─► DONE (publish)
    proof        photo (a photo or video) ─► DONE (submit the proof)
    reason       reason (any text) ─► DONE (return the claim, or reject the redemption)
    unsatisfied  reason (any text) ─► DONE (pass the 不满意 reason to the worker and the office)

and the questions put to staff from a ticket's card (asked by bot.services.desk, answered in
bot/handlers/worker.py and lifecycle.py; awaited for 12 hours):

    transfer     reason (any text) ─► DONE (转派 to the worker or 改类别 to the category chosen)
    resolve      note (text, a photo, or nothing) ─► DONE (办结)
    reject       reason (any text) ─► DONE (不予受理, or ask an admin to approve it)
    duplicate    number (a ticket number) ─► DONE (重复 of that ticket)

and the questions put to a reporter whose message cannot become a ticket yet (asked by
bot.services.intake, answered by a button or, for the building, typed; awaited for 24 hours;
a person may wait on several, one per message, each known by the id its buttons carry):

    intake       category (a category's button) ─► building (a building, a place or 不清楚)
                 ─► DONE (the ticket opens)

and what became of the first message of an album (photos sent together arrive as a message each,
the words on the first only), so that the photos after it go the same way (kept 10 minutes):

    album        sent ─► (never answered: it expires)

An intake question starts at `building` when the kind of problem is clear; after `category` the
building is asked only when routing needs it, and 不是投诉 (the category NONE) ends it there.

Cancelling (取消) ends any of the others; the handlers say what each finished dialogue does.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from bot import texts
from bot.services.dialogues import DONE, Answer, Flow, Step
from bot.services.task_forms import (
    NO_DEADLINE_WORDS,
    TaskDraft,
    parse_audience,
    parse_capacity,
    parse_deadline,
    parse_extras,
    parse_points,
)

CANCEL_WORDS = frozenset({"取消", "cancel", "/cancel", "算了"})


# ── task: the guided /task new, one answer at a time (in the publisher's private chat) ────────


@dataclass(frozen=True, slots=True)
class TaskRules:
    """What reading an answer of the task dialogue needs: the point levels, now, the timezone."""

    levels: tuple[str, ...]
    now: datetime
    tz: ZoneInfo


@dataclass(frozen=True, slots=True)
class TaskForm:
    """The task typed so far, and the grid it will be published in."""

    draft: TaskDraft
    grid: str | None


def _title(answer: Answer, form: TaskForm, rules: TaskRules) -> TaskForm | None:
    title = answer.text.strip()
    if not title or len(title) > 60:
        return None
    return replace(form, draft=replace(form.draft, title=title))


def _points(answer: Answer, form: TaskForm, rules: TaskRules) -> TaskForm | None:
    points = parse_points(answer.text, rules.levels)
    if points is None:
        return None
    return replace(form, draft=replace(form.draft, points=points[0], difficulty=points[1]))


def _deadline(answer: Answer, form: TaskForm, rules: TaskRules) -> TaskForm | None:
    raw = answer.text.strip()
    if raw in NO_DEADLINE_WORDS:
        return replace(form, draft=replace(form.draft, deadline=None))
    deadline = parse_deadline(raw, rules.now, rules.tz)
    if deadline is None or deadline <= rules.now:
        return None
    return replace(form, draft=replace(form.draft, deadline=deadline))


def _capacity(answer: Answer, form: TaskForm, rules: TaskRules) -> TaskForm | None:
    capacity = parse_capacity(answer.text)
    return (
        None if capacity is None else replace(form, draft=replace(form.draft, capacity=capacity))
    )


def _audience(answer: Answer, form: TaskForm, rules: TaskRules) -> TaskForm | None:
    audience = parse_audience(answer.text)
    if audience is None:
        return None
    draft = replace(form.draft, audience=audience[0], targets=audience[1])
    return replace(form, draft=draft)


def _extras(answer: Answer, form: TaskForm, rules: TaskRules) -> TaskForm | None:
    draft = parse_extras(answer.text, form.draft)
    return None if draft is None else replace(form, draft=draft)


def _draft_json(draft: TaskDraft) -> dict[str, Any]:
    return {
        "title": draft.title,
        "points": draft.points,
        "difficulty": draft.difficulty,
        "deadline": draft.deadline.isoformat() if draft.deadline else None,
        "capacity": draft.capacity,
        "audience": draft.audience,
        "targets": list(draft.targets),
        "location": draft.location,
        "description": draft.description,
        "hours": draft.hours,
    }


def _draft_from(data: dict[str, Any]) -> TaskDraft:
    deadline = data.get("deadline")
    return TaskDraft(
        title=str(data.get("title", "")),
        points=data.get("points"),
        difficulty=data.get("difficulty"),
        deadline=datetime.fromisoformat(deadline) if deadline else None,
        capacity=int(data.get("capacity", 1)),
        audience=str(data.get("audience", "public")),
        targets=tuple(data.get("targets", ())),
        location=str(data.get("location", "")),
        description=str(data.get("description", "")),
        hours=float(data.get("hours", 0.0)),
    )


TASK: Flow[TaskForm, TaskRules] = Flow(
    name="task",
    steps={
        "title": Step(lambda _: texts.TASK_ASK_TITLE, _title, then="points"),
        "points": Step(
            lambda rules: texts.TASK_ASK_POINTS.format(levels="、".join(rules.levels)),
            _points,
            then="deadline",
        ),
        "deadline": Step(lambda _: texts.TASK_ASK_DEADLINE, _deadline, then="capacity"),
        "capacity": Step(lambda _: texts.TASK_ASK_CAPACITY, _capacity, then="audience"),
        "audience": Step(lambda _: texts.TASK_ASK_AUDIENCE, _audience, then="extras"),
        "extras": Step(lambda _: texts.TASK_ASK_EXTRAS, _extras, then=DONE),
    },
    dump=lambda form: {"grid": form.grid, "draft": _draft_json(form.draft)},
    load=lambda data: TaskForm(_draft_from(data["draft"]), data.get("grid")),
)


# ── proof: after '/done 3' without a photo, the next photo or video is the proof ──────────────


@dataclass(frozen=True, slots=True)
class AwaitProof:
    """The task whose proof is awaited, in the chat where /done was typed."""

    task_id: int
    chat_id: int


PROOF: Flow[AwaitProof, None] = Flow(
    name="proof",
    steps={
        "photo": Step(
            lambda _: "",
            lambda answer, waiting, _: waiting if answer.media is not None else None,
            then=DONE,
        ),
    },
    dump=lambda w: {"task_id": w.task_id, "chat_id": w.chat_id},
    load=lambda data: AwaitProof(int(data["task_id"]), int(data["chat_id"])),
)


# ── reason: after 退回 (a task's claim) or 拒绝 (a redemption), the next text is the reason ─────


@dataclass(frozen=True, slots=True)
class AwaitReason:
    """What the reason is for, and the card to write the outcome under."""

    kind: str  # 'task' | 'redeem'
    ref: int  # task id or redemption id
    user_id: int  # whose claim (task) or request (redemption)
    chat_id: int
    card_chat_id: int
    card_message_id: int
    card_text: str
    card_is_photo: bool


def _any_text(answer: Answer, data: Any, _: None) -> Any | None:
    return data if answer.text.strip() else None


REASON: Flow[AwaitReason, None] = Flow(
    name="reason",
    steps={"reason": Step(lambda _: "", _any_text, then=DONE)},
    dump=lambda r: {
        "kind": r.kind,
        "ref": r.ref,
        "user_id": r.user_id,
        "chat_id": r.chat_id,
        "card_chat_id": r.card_chat_id,
        "card_message_id": r.card_message_id,
        "card_text": r.card_text,
        "card_is_photo": r.card_is_photo,
    },
    load=lambda data: AwaitReason(
        kind=str(data["kind"]),
        ref=int(data["ref"]),
        user_id=int(data["user_id"]),
        chat_id=int(data["chat_id"]),
        card_chat_id=int(data["card_chat_id"]),
        card_message_id=int(data["card_message_id"]),
        card_text=str(data["card_text"]),
        card_is_photo=bool(data["card_is_photo"]),
    ),
)


# ── unsatisfied: after 不满意, the rater's next message in that chat is the reason ───────────


@dataclass(frozen=True, slots=True)
class AwaitUnsatisfied:
    """The ticket rated 不满意."""

    ticket_id: int


UNSATISFIED: Flow[AwaitUnsatisfied, None] = Flow(
    name="unsatisfied",
    steps={"reason": Step(lambda _: "", _any_text, then=DONE)},
    dump=lambda w: {"ticket_id": w.ticket_id},
    load=lambda data: AwaitUnsatisfied(int(data["ticket_id"])),
)


# ── questions to staff: after a card's 转派/改类别, 办结, 不予受理 or 重复, the next message ──


STAFF_QUESTION_TTL = timedelta(hours=12)
_TICKET_NUMBER = re.compile(r"^#?\s*(\d{1,9})$")


@dataclass(frozen=True, slots=True)
class Prompt:
    """A question put to a member of staff about a ticket, awaiting their answer in a chat."""

    user_id: int
    chat_id: int
    action: str  # the flow: 'transfer' | 'resolve' | 'reject' | 'duplicate'
    ticket_id: int
    data: dict[str, str]  # what the button chose: a transfer's {'worker': …} or {'category': …}


@dataclass(frozen=True, slots=True)
class AwaitStaff:
    """The ticket a question to staff is about, and what the button chose."""

    ticket_id: int
    data: dict[str, str]


def _staff_question(
    name: str, step: str, read: Callable[[Answer, AwaitStaff, None], AwaitStaff | None]
) -> Flow[AwaitStaff, None]:
    return Flow(
        name=name,
        steps={step: Step(lambda _: "", read, then=DONE)},
        dump=lambda w: {"ticket_id": w.ticket_id, "data": dict(w.data)},
        load=lambda data: AwaitStaff(
            int(data["ticket_id"]), {str(k): str(v) for k, v in data.get("data", {}).items()}
        ),
        ttl=STAFF_QUESTION_TTL,
    )


def _staff_text(answer: Answer, waiting: AwaitStaff, _: None) -> AwaitStaff | None:
    return waiting if answer.text.strip() else None


def _staff_number(answer: Answer, waiting: AwaitStaff, _: None) -> AwaitStaff | None:
    return waiting if _TICKET_NUMBER.match(answer.text.strip()) else None


TRANSFER = _staff_question("transfer", "reason", _staff_text)
RESOLVE = _staff_question("resolve", "note", lambda _answer, waiting, _: waiting)
REJECT = _staff_question("reject", "reason", _staff_text)
DUPLICATE = _staff_question("duplicate", "number", _staff_number)
STAFF_QUESTIONS: dict[str, Flow[AwaitStaff, None]] = {
    flow.name: flow for flow in (TRANSFER, RESOLVE, REJECT, DUPLICATE)
}


# ── intake: which kind of problem, which building (a reporter's questions, one per message) ──


INTAKE_TTL = timedelta(hours=24)


@dataclass(frozen=True, slots=True)
class HeldReport:
    """A reporter's message waiting for their answer, and what the answers said so far."""

    name: str  # the reporter's name
    message_id: int
    is_private: bool
    text: str
    reading: dict[str, Any]  # the classifier's reading as JSON; its category, once chosen
    photos: tuple[tuple[str, str], ...] = ()  # (file_id, file_unique_id)
    building: str | None = None  # where, once the reporter said (neither: 不清楚)
    place: str | None = None


@dataclass(frozen=True, slots=True)
class IntakeRules:
    """What reading an intake answer needs: the categories and the community's places."""

    categories: frozenset[str]  # what a reporter may choose: the kinds of problem, and NONE
    grid_for_building: Callable[[str], str | None]
    grid_for_place: Callable[[str], str | None]


def _category(answer: Answer, held: HeldReport, rules: IntakeRules) -> HeldReport | None:
    if len(answer.choice) != 2 or answer.choice[0] != "category":
        return None
    code = answer.choice[1]
    if code not in rules.categories:
        return None
    return replace(held, reading={**held.reading, "category": code})


def _location(answer: Answer, held: HeldReport, rules: IntakeRules) -> HeldReport | None:
    match answer.choice:
        case ("building", building) if rules.grid_for_building(building) is not None:
            return replace(held, building=building, place=None)
        case ("place", place) if rules.grid_for_place(place) is not None:
            return replace(held, building=None, place=place)
        case ("unknown",):
            return replace(held, building=None, place=None)
    return None


def _held_json(held: HeldReport) -> dict[str, Any]:
    data: dict[str, Any] = {
        "name": held.name,
        "message_id": held.message_id,
        "is_private": held.is_private,
        "text": held.text,
        "reading": held.reading,
        "photos": [list(p) for p in held.photos],
    }
    if held.building is not None or held.place is not None:
        data["building"], data["place"] = held.building, held.place
    return data


def _held_from(data: dict[str, Any]) -> HeldReport:
    return HeldReport(
        name=str(data["name"]),
        message_id=int(data["message_id"]),
        is_private=bool(data["is_private"]),
        text=str(data["text"]),
        reading=dict(data["reading"]),
        photos=tuple((str(p[0]), str(p[1])) for p in data.get("photos", ())),
        building=data.get("building"),
        place=data.get("place"),
    )


INTAKE: Flow[HeldReport, IntakeRules] = Flow(
    name="intake",
    steps={
        "category": Step(lambda _: "", _category, then="building"),
        "building": Step(lambda _: "", _location, then=DONE),
    },
    dump=_held_json,
    load=_held_from,
    ttl=INTAKE_TTL,
)


# ── album: where the photos after an album's first message go ────────────────────────────────


ALBUM_TTL = timedelta(minutes=10)


@dataclass(frozen=True, slots=True)
class AlbumStart:
    """What an album's first message became: the ticket it opened, went to or resolved (by the
    sender in that role), the question it waits on (which kind, which building), or a task's
    proof; none of them when it was nothing the bot keeps."""

    album: str  # Telegram's media_group_id
    ticket_id: int | None = None
    question_id: int | None = None
    role: str = "reporter"  # the sender's role on the ticket: 'reporter' or 'worker'
    task_id: int | None = None  # the task whose proof it was


def _album_json(start: AlbumStart) -> dict[str, Any]:
    return {
        "album": start.album,
        "ticket": start.ticket_id,
        "question": start.question_id,
        "role": start.role,
        "task": start.task_id,
    }


def _album_from(data: dict[str, Any]) -> AlbumStart:
    return AlbumStart(
        str(data["album"]),
        data.get("ticket"),
        data.get("question"),
        str(data.get("role", "reporter")),
        data.get("task"),
    )


ALBUM: Flow[AlbumStart, None] = Flow(
    name="album",
    steps={"sent": Step(lambda _: "", lambda _answer, _start, _env: None, then=DONE)},
    dump=_album_json,
    load=_album_from,
    ttl=ALBUM_TTL,
)
