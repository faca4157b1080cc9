"""The task list in the chat: /register, /task, /tasks, claim buttons, /done proof, verification.

Short dialogues (the guided /task new, the proof after /done, a reason after 退回 or 拒绝) keep
their state in the database (bot.services.dialogues), so a restart mid-dialogue continues, and an
answer delivered twice is taken once. Messages a dialogue consumes never reach the intake.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import date, datetime, time, timedelta
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

from telegram import Message, Update
from telegram.error import TelegramError
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
from bot.handlers.actors import actor_for, admin_ids, tell
from bot.handlers.errors import domain_text
from bot.handlers.sending import Unreachable, edit, markup, send
from bot.services.dialogues import DialogueService
from bot.services.errors import DomainError
from bot.services.posts import digest_task_line, month_day
from bot.services.residents import Person
from bot.services.tasks import MAX_TASK_POINTS
from bot.services.values import Button, Task, TaskClaim

if TYPE_CHECKING:
    from bot.services.bootstrap import Services

log = logging.getLogger(__name__)

CANCEL_WORDS = frozenset({"取消", "cancel", "/cancel", "算了"})
SKIP_WORDS = frozenset({"跳过", "无", "没有", "不用", "-"})
_DIALOGUES_KEY = "community_dialogues"

_CLAIM = re.compile(r"^claim:(\d{1,9})$")
_VERIFY = re.compile(r"^(tok|tno):(\d{1,9}):(\d{1,15})$")
_NUMBER = re.compile(r"^#?(\d{1,9})$")
_DIFFICULTY_WORDS = {
    "简单": "easy",
    "容易": "easy",
    "一般": "normal",
    "普通": "normal",
    "中等": "normal",
    "较难": "hard",
    "困难": "hard",
    "难": "hard",
}
_DATE = re.compile(
    r"^(?:(\d{4})[-/.年])?(\d{1,2})[-/.月](\d{1,2})日?(?:\s*(\d{1,2})[:：](\d{2}))?$"
)


# ── parsing typed values (pure) ───────────────────────────────────────────────────────────────


@dataclass(frozen=True, slots=True)
class TaskDraft:
    """A task as typed: everything publish() needs."""

    title: str = ""
    points: int | None = None
    difficulty: str | None = None
    deadline: datetime | None = None
    capacity: int = 1
    audience: str = "public"
    targets: tuple[str, ...] = ()
    location: str = ""
    description: str = ""
    hours: float = 0.0


def parse_deadline(text: str, now: datetime, tz: ZoneInfo) -> datetime | None:
    """Read '11-30', '11月30日', '2026-11-30 18:00'; a date without a time means its end."""
    match = _DATE.match(text.strip())
    if not match:
        return None
    year_text, month, day, hour, minute = match.groups()
    local_now = now.astimezone(tz)
    at = time(23, 59) if hour is None else None
    try:
        if hour is not None:
            at = time(int(hour), int(minute))
        assert at is not None
        year = int(year_text) if year_text else local_now.year
        when = datetime.combine(date(year, int(month), int(day)), at, tzinfo=tz)
        if not year_text and when < local_now - timedelta(days=1):
            # '1-15' typed in December means next January.
            when = datetime.combine(date(year + 1, int(month), int(day)), at, tzinfo=tz)
    except ValueError:
        return None
    return when


def parse_points(text: str, levels: Sequence[str]) -> tuple[int | None, str | None] | None:
    """Read '10', '10分', '积分 10', 'easy' or '简单'; None when it is neither."""
    raw = text.strip().removeprefix("积分").strip().removesuffix("分").strip()
    if raw.isdigit():
        return int(raw), None
    level = _DIFFICULTY_WORDS.get(raw, raw.lower())
    if level in levels:
        return None, level
    return None


def parse_capacity(text: str) -> int | None:
    """Read '2', '名额 2', '2人'."""
    raw = text.strip().removeprefix("名额").removeprefix("人数").strip()
    raw = raw.removesuffix("人").removesuffix("个").strip()
    return int(raw) if raw.isdigit() else None


def parse_audience(text: str) -> tuple[str, tuple[str, ...]] | None:
    """Read '公开' or '面向 物业公司、电力公司'."""
    raw = text.strip()
    if raw in ("公开", "所有人", "所有居民", "public"):
        return "public", ()
    for prefix in ("面向", "限", "指定"):
        if raw.startswith(prefix):
            names = re.split(r"[、,，;；\s]+", raw[len(prefix) :].strip())
            targets = tuple(n for n in names if n)
            return ("targeted", targets) if targets else None
    return None


def parse_task_line(
    text: str, now: datetime, tz: ZoneInfo, levels: Sequence[str], *, need_points: bool = True
) -> TaskDraft:
    """Parse '标题 | 积分 | 截止 11-30 | 名额 2 | 面向 物业公司'; raise bad_argument."""
    parts = [p.strip() for p in re.split(r"[|｜]", text)]
    if not parts or not parts[0]:
        raise DomainError("bad_argument", usage=texts.TASK_USAGE)
    draft = TaskDraft(title=parts[0])
    for part in parts[1:]:
        if not part:
            continue
        value = _parse_field(draft, part, now, tz, levels)
        if value is None:
            raise DomainError("bad_argument", usage=f"“{part}”？\n{texts.TASK_USAGE}")
        draft = value
    if need_points and draft.points is None and draft.difficulty is None:
        raise DomainError("task_bad_points", limit=MAX_TASK_POINTS)
    return draft


def _parse_field(
    draft: TaskDraft, part: str, now: datetime, tz: ZoneInfo, levels: Sequence[str]
) -> TaskDraft | None:
    for prefix in ("截止", "期限", "截至"):
        if part.startswith(prefix):
            deadline = parse_deadline(part[len(prefix) :].strip(), now, tz)
            return None if deadline is None else replace(draft, deadline=deadline)
    if part.startswith(("名额", "人数")) or re.fullmatch(r"\d+\s*人", part):
        capacity = parse_capacity(part)
        return None if capacity is None else replace(draft, capacity=capacity)
    for prefix in ("地点", "位置"):
        if part.startswith(prefix):
            return replace(draft, location=part[len(prefix) :].strip(" ：:"))
    for prefix in ("说明", "描述", "内容"):
        if part.startswith(prefix):
            return replace(draft, description=part[len(prefix) :].strip(" ：:"))
    hours = re.fullmatch(r"(?:时长|服务时长)?\s*(\d+(?:\.\d+)?)\s*(?:小时|h)?", part)
    if hours and (part.startswith(("时长", "服务时长")) or part.endswith(("小时", "h"))):
        return replace(draft, hours=float(hours.group(1)))
    audience = parse_audience(part)
    if audience is not None:
        return replace(draft, audience=audience[0], targets=audience[1])
    points = parse_points(part, levels)
    if points is not None:
        return replace(draft, points=points[0], difficulty=points[1])
    return None


# ── dialogue state (kept in the database) ─────────────────────────────────────────────────────


@dataclass(frozen=True, slots=True)
class TaskDialogue:
    """The guided /task new, one answer at a time (in the publisher's private chat)."""

    step: str  # title | points | deadline | capacity | audience | extras
    draft: TaskDraft
    grid: str | None


@dataclass(frozen=True, slots=True)
class AwaitProof:
    """After '/done 3' without a photo: the next photo or video is the proof."""

    task_id: int
    chat_id: int


@dataclass(frozen=True, slots=True)
class AwaitReason:
    """After 退回 (task) or 拒绝 (redemption): the next text is the reason."""

    kind: str  # 'task' | 'redeem'
    ref: int  # task id or redemption id
    user_id: int  # whose claim (task) or request (redemption)
    chat_id: int
    card_chat_id: int
    card_message_id: int
    card_text: str
    card_is_photo: bool


Pending = TaskDialogue | AwaitProof | AwaitReason


def _draft_state(draft: TaskDraft) -> dict[str, Any]:
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


def dialogue_row(state: Pending) -> tuple[str, dict[str, Any]]:
    """Return the (kind, JSON state) a dialogue is stored as."""
    if isinstance(state, TaskDialogue):
        return "task", {"step": state.step, "grid": state.grid, "draft": _draft_state(state.draft)}
    if isinstance(state, AwaitProof):
        return "proof", {"task_id": state.task_id, "chat_id": state.chat_id}
    return "reason", {
        "kind": state.kind,
        "ref": state.ref,
        "user_id": state.user_id,
        "chat_id": state.chat_id,
        "card_chat_id": state.card_chat_id,
        "card_message_id": state.card_message_id,
        "card_text": state.card_text,
        "card_is_photo": state.card_is_photo,
    }


def dialogue_state(kind: str, data: dict[str, Any]) -> Pending | None:
    """Return the dialogue stored as (kind, JSON state); None for a closed or unknown one."""
    if kind == "task":
        return TaskDialogue(str(data["step"]), _draft_from(data["draft"]), data.get("grid"))
    if kind == "proof":
        return AwaitProof(int(data["task_id"]), int(data["chat_id"]))
    if kind == "reason":
        return AwaitReason(
            kind=str(data["kind"]),
            ref=int(data["ref"]),
            user_id=int(data["user_id"]),
            chat_id=int(data["chat_id"]),
            card_chat_id=int(data["card_chat_id"]),
            card_message_id=int(data["card_message_id"]),
            card_text=str(data["card_text"]),
            card_is_photo=bool(data["card_is_photo"]),
        )
    return None


def services_of(context: GridContext) -> Services:
    """Return the services."""
    return context.bot_data.require_services()


def dialogues(context: GridContext) -> DialogueService:
    """Return the dialogue store of this application."""
    found = context.bot_data.extras.get(_DIALOGUES_KEY)
    if found is None:
        services = services_of(context)
        found = DialogueService(services.db, services.clock)
        context.bot_data.extras[_DIALOGUES_KEY] = found
    assert isinstance(found, DialogueService)
    return found


async def open_dialogue(
    context: GridContext, user_id: int, chat_id: int, state: Pending, message_id: int = 0
) -> None:
    """Start or advance a person's dialogue; message_id is the message it consumed."""
    kind, data = dialogue_row(state)
    await dialogues(context).save(user_id, kind, chat_id, data, message_id)


async def reply(update: Update, context: GridContext, text: str, **kwargs: Any) -> Message:
    """Answer in the chat the update came from."""
    chat = update.effective_chat
    assert chat is not None
    message = update.effective_message
    reply_to = message.message_id if message is not None and chat.type != "private" else None
    return await send(
        context.bot, services_of(context), chat.id, text, reply_to=reply_to, **kwargs
    )


# ── /register ─────────────────────────────────────────────────────────────────────────────────


async def register_command(update: Update, context: GridContext) -> None:
    """Register where one lives: /register 楼栋 单元 房号."""
    user, chat = update.effective_user, update.effective_chat
    if user is None or chat is None:
        return
    if chat.type != "private":
        # An address is personal: never taken (nor stored) from a group chat.
        username = context.bot_data.bot_username
        link = f"https://t.me/{username}?start=register" if username else ""
        await reply(update, context, texts.REGISTER_PRIVATE_ONLY.format(link=link).strip())
        return
    args = context.args or []
    if len(args) != 3:
        await reply(update, context, texts.REGISTER_USAGE)
        return
    services = services_of(context)
    resident = await services.residents.register(
        user.id, user.full_name or str(user.id), args[0], args[1], args[2]
    )
    household = texts.HOUSEHOLD_LABEL.format(
        building=resident.building, unit=resident.unit, room=resident.room
    )
    text = texts.REGISTER_DONE.format(
        name=resident.name, household=household, building=resident.building
    )
    await reply(update, context, text)


# ── /task ─────────────────────────────────────────────────────────────────────────────────────


def task_details(task: Task, tz: ZoneInfo) -> str:
    """Return the one-line summary of a task (points, places, deadline, audience)."""
    deadline = ""
    if task.deadline is not None:
        local = task.deadline.astimezone(tz)
        deadline = texts.TASK_DETAIL_DEADLINE.format(when=f"{month_day(local)} {local:%H:%M}")
    audience = (
        texts.TASK_DETAIL_TARGETED.format(targets="、".join(task.targets))
        if task.audience == "targeted"
        else texts.TASK_DETAIL_PUBLIC
    )
    if task.status != "open":
        left = texts.TASK_DETAIL_ENDED
    elif task.places_left > 0:
        left = texts.TASK_DETAIL_LEFT.format(left=task.places_left)
    else:
        left = texts.TASK_DETAIL_FULL
    return texts.TASK_DETAILS.format(
        points=task.points,
        capacity=task.capacity,
        left=left,
        deadline=deadline,
        audience=audience,
        location=texts.TASK_DETAIL_LOCATION.format(location=task.location)
        if task.location
        else "",
        hours=texts.TASK_DETAIL_HOURS.format(hours=f"{task.hours:g}") if task.hours else "",
    )


def claim_button(task: Task) -> Button:
    """Return the claim button of a task."""
    label = texts.DIGEST_CLAIM_BUTTON.format(task_id=task.id, title=task.title[:12])
    return Button(label, f"claim:{task.id}")


def claimable(task: Task, now: datetime) -> bool:
    """Return whether a task still takes claims (open, not expired, a place left)."""
    expired = task.deadline is not None and task.deadline <= now
    return task.status == "open" and not expired and task.places_left > 0


def announcement(task: Task, tz: ZoneInfo, now: datetime) -> tuple[str, list[list[Button]]]:
    """Return the text and button of a task's own post (after /task new)."""
    text = texts.TASK_PUBLISHED.format(
        task_id=task.id, title=task.title, details=task_details(task, tz)
    )
    return text, [[claim_button(task)]] if claimable(task, now) else []


def task_list(
    tasks: Sequence[Task], tz: ZoneInfo, now: datetime
) -> tuple[str, list[list[Button]]]:
    """Return the /tasks listing with a claim button for every task that still takes one."""
    takes = [t for t in tasks if claimable(t, now)]
    lines = [texts.TASKS_HEAD.format(count=len(takes))]
    buttons: list[list[Button]] = []
    for task in tasks:
        lines.append(f"#{task.id}「{task.title}」· {task_details(task, tz)}")
        if task.description:
            lines.append(texts.TASK_LINE_DESC.format(description=task.description))
        if task in takes:
            buttons.append([claim_button(task)])
    return "\n".join(lines), buttons


async def _publisher_grid(context: GridContext, chat_id: int, user_id: int) -> str | None:
    services = services_of(context)
    grids = await services.state.group_grids(chat_id) if chat_id < 0 else None
    if grids and len(grids) == 1:
        return grids[0]
    worker = await services.state.worker_for_user(user_id)
    if worker is not None and len(worker.grids) == 1:
        return worker.grids[0]
    return None


async def _announce(update: Update, context: GridContext, task: Task) -> None:
    services = services_of(context)
    text, buttons = announcement(task, services.tz, services.clock.now())
    await reply(update, context, text, buttons=buttons)


async def task_command(update: Update, context: GridContext) -> None:
    """Publish (/task new …, /task from 工单号), close (/task close 3), or show the usage."""
    user, chat, message = update.effective_user, update.effective_chat, update.effective_message
    if user is None or chat is None or message is None:
        return
    args = context.args or []
    sub = args[0].lower() if args else ""
    if sub not in ("new", "from", "close", "发布", "转", "结束"):
        await reply(update, context, texts.TASK_USAGE)
        return
    actor = await actor_for(context, user)
    if not (actor.is_worker or actor.is_admin):
        await reply(update, context, texts.TASK_NOT_ALLOWED)
        return
    services = services_of(context)
    rest = (message.text or "").split(maxsplit=2)[2:]  # the text after '/task new'
    line = rest[0] if rest else ""
    if sub in ("close", "结束"):
        match = _NUMBER.match(line.strip())
        if not match:
            await reply(update, context, texts.TASK_USAGE)
            return
        task = await services.tasks.close(actor, int(match.group(1)))
        await reply(
            update, context, texts.TASK_CLOSED_DONE.format(task_id=task.id, title=task.title)
        )
        return
    levels = list(services.points.config.difficulty)
    now = services.clock.now()
    if sub in ("from", "转"):
        head, _, extra = line.partition("|")
        match = _NUMBER.match(head.strip())
        if not match:
            await reply(update, context, texts.TASK_USAGE)
            return
        ticket = await services.tickets.by_number(services.community.name, int(match.group(1)))
        if ticket is None:
            raise DomainError("task_ticket_not_found", number=match.group(1))
        draft = TaskDraft()
        if extra.strip():
            draft = parse_task_line("-|" + extra, now, services.tz, levels, need_points=False)
        if draft.points is None and draft.difficulty is None:
            draft = replace(draft, difficulty="normal" if "normal" in levels else levels[0])
        task = await services.tasks.task_from_ticket(
            actor,
            ticket.id,
            points=draft.points,
            difficulty=draft.difficulty,
            description=draft.description,
            deadline=draft.deadline,
            capacity=draft.capacity,
            audience=draft.audience,
            targets=draft.targets,
            hours=draft.hours,
        )
        await _announce(update, context, task)
        return
    grid = await _publisher_grid(context, chat.id, user.id)
    if not line.strip():
        if chat.type != "private":
            await reply(
                update, context, texts.TASK_DIALOGUE_PRIVATE.format(usage=texts.TASK_USAGE)
            )
            return
        dialogue = TaskDialogue("title", TaskDraft(), grid)
        await open_dialogue(context, user.id, chat.id, dialogue, message.message_id)
        await reply(update, context, texts.TASK_ASK_TITLE)
        return
    draft = parse_task_line(line, now, services.tz, levels)
    await _announce(update, context, await _publish(services, actor, draft, grid))


async def _publish(services: Services, actor: Person, draft: TaskDraft, grid: str | None) -> Task:
    return await services.tasks.publish(
        actor,
        title=draft.title,
        points=draft.points,
        difficulty=draft.difficulty,
        description=draft.description,
        location=draft.location,
        deadline=draft.deadline,
        capacity=draft.capacity,
        audience=draft.audience,
        targets=draft.targets,
        hours=draft.hours,
        grid=grid,
    )


def parse_extras(text: str, draft: TaskDraft) -> TaskDraft | None:
    """Read the optional '地点 … | 说明 … | 时长 2' answer; plain words are the description."""
    if text.strip() in SKIP_WORDS:
        return draft
    described: list[str] = []
    for part in (p.strip() for p in re.split(r"[|｜\n；;]", text)):
        if not part:
            continue
        if part.startswith(("地点", "位置")):
            draft = replace(draft, location=part[2:].strip(" ：:")[:60])
        elif part.startswith(("说明", "描述", "内容")):
            described.append(part[2:].strip(" ：:"))
        elif part.startswith("时长") or re.fullmatch(r"\d+(?:\.\d+)?\s*(?:小时|h)", part):
            hours = re.fullmatch(r"(?:时长)?[\s：:]*(\d+(?:\.\d+)?)\s*(?:小时|h)?", part)
            if hours is None:
                return None
            draft = replace(draft, hours=float(hours.group(1)))
        else:
            described.append(part)
    if described:
        draft = replace(draft, description="；".join(d for d in described if d)[:300])
    return draft


async def _task_dialogue(
    update: Update, context: GridContext, state: TaskDialogue, text: str
) -> None:
    user, message = update.effective_user, update.effective_message
    assert user is not None and message is not None
    services = services_of(context)
    levels = list(services.points.config.difficulty)
    now = services.clock.now()
    draft = state.draft
    if state.step == "title":
        title = text.strip()
        if not title or len(title) > 60:
            await reply(update, context, texts.TASK_BAD_ANSWER.format(hint=texts.TASK_ASK_TITLE))
            return
        nxt, draft, ask = (
            "points",
            replace(draft, title=title),
            texts.TASK_ASK_POINTS.format(levels="、".join(levels)),
        )
    elif state.step == "points":
        points = parse_points(text, levels)
        if points is None:
            hint = texts.TASK_ASK_POINTS.format(levels="、".join(levels))
            await reply(update, context, texts.TASK_BAD_ANSWER.format(hint=hint))
            return
        nxt, ask = "deadline", texts.TASK_ASK_DEADLINE
        draft = replace(draft, points=points[0], difficulty=points[1])
    elif state.step == "deadline":
        raw = text.strip()
        deadline = (
            None if raw in ("无", "不限", "没有", "-") else parse_deadline(raw, now, services.tz)
        )
        if (deadline is None and raw not in ("无", "不限", "没有", "-")) or (
            deadline is not None and deadline <= now
        ):
            hint = texts.TASK_ASK_DEADLINE
            await reply(update, context, texts.TASK_BAD_ANSWER.format(hint=hint))
            return
        nxt, ask, draft = "capacity", texts.TASK_ASK_CAPACITY, replace(draft, deadline=deadline)
    elif state.step == "capacity":
        capacity = parse_capacity(text)
        if capacity is None:
            await reply(
                update, context, texts.TASK_BAD_ANSWER.format(hint=texts.TASK_ASK_CAPACITY)
            )
            return
        nxt, ask, draft = "audience", texts.TASK_ASK_AUDIENCE, replace(draft, capacity=capacity)
    elif state.step == "audience":
        audience = parse_audience(text)
        if audience is None:
            await reply(
                update, context, texts.TASK_BAD_ANSWER.format(hint=texts.TASK_ASK_AUDIENCE)
            )
            return
        nxt, ask = "extras", texts.TASK_ASK_EXTRAS
        draft = replace(draft, audience=audience[0], targets=audience[1])
    else:
        extras = parse_extras(text, draft)
        if extras is None:
            await reply(update, context, texts.TASK_BAD_ANSWER.format(hint=texts.TASK_ASK_EXTRAS))
            return
        actor = await actor_for(context, user)
        task = await dialogues(context).finish(
            user.id,
            user.id,
            message.message_id,
            lambda: _publish(services, actor, extras, state.grid),
        )
        await _announce(update, context, task)
        return
    next_state = replace(state, step=nxt, draft=draft)
    await open_dialogue(context, user.id, user.id, next_state, message.message_id)
    await reply(update, context, ask)


# ── /tasks and claiming ───────────────────────────────────────────────────────────────────────


async def tasks_command(update: Update, context: GridContext) -> None:
    """List the open tasks with claim buttons (in a group: the group's grids)."""
    chat = update.effective_chat
    if chat is None:
        return
    services = services_of(context)
    grids = await services.state.group_grids(chat.id) if chat.type != "private" else None
    tasks = await services.tasks.list_open(grids)
    if not tasks:
        await reply(update, context, texts.TASKS_EMPTY)
        return
    text, buttons = task_list(tasks[:20], services.tz, services.clock.now())
    await reply(update, context, text, buttons=buttons)


async def on_claim(update: Update, context: GridContext) -> None:
    """A claim button (接单): take a place on the task, or say clearly why not."""
    query, user = update.callback_query, update.effective_user
    if query is None or user is None:
        return
    match = _CLAIM.match(query.data or "")
    if not match:
        await query.answer(texts.BUTTON_STALE, show_alert=True)
        return
    services = services_of(context)
    task_id = int(match.group(1))
    actor = await actor_for(context, user)
    task = await services.tasks.get(task_id)
    registered = await services.residents.get(user.id) is not None
    if (
        task.audience == "public"
        and not registered
        and not (actor.is_worker or actor.is_admin)
        and task.status == "open"
    ):
        await query.answer(texts.CLAIM_NEEDS_REGISTER, show_alert=True)
        return
    await services.tasks.claim(actor, task_id)
    await query.answer(
        texts.CLAIM_OK.format(task_id=task.id, title=task.title)[:200], show_alert=True
    )
    if isinstance(query.message, Message):
        await refresh_task_post(context, query.message, await services.tasks.get(task_id))
    await tell(
        context,
        user.id,
        texts.CLAIM_PRIVATE_NOTE.format(task_id=task.id, title=task.title, points=task.points),
    )


_LISTED = re.compile(r"^#(\d{1,9})「", re.MULTILINE)


async def refresh_task_post(context: GridContext, post: Message, task: Task) -> None:
    """Redraw a post with claim buttons after a claim: places left, and no button when full.

    The post is the task's own announcement, a /tasks listing (both redrawn from the database)
    or a daily digest, where only the task's line and its button change: the rest of a digest
    is that morning's report and stays as it was.
    """
    services = services_of(context)
    now = services.clock.now()
    original = post.text or ""
    if original.startswith(
        texts.TASK_PUBLISHED.format(task_id=task.id, title=task.title, details="")
    ):
        text, buttons = announcement(task, services.tz, now)
    elif original.startswith(texts.TASKS_HEAD.split("{")[0]):
        listed = [await services.tasks.get(int(n)) for n in _LISTED.findall(original)]
        text, buttons = task_list(listed, services.tz, now)
    else:
        line = re.compile(rf"^#{task.id} .*· 余 \d+ 个名额.*$", re.MULTILINE)
        text = line.sub(lambda _: digest_task_line(task, services.tz), original, count=1)
        takes = claimable(task, now)
        buttons = [
            [
                Button(b.text, b.callback_data)
                for b in row
                if isinstance(b.callback_data, str)
                and (takes or b.callback_data != f"claim:{task.id}")
            ]
            for row in (post.reply_markup.inline_keyboard if post.reply_markup else ())
        ]
    try:
        await edit(context.bot, post.chat.id, post.message_id, text, buttons=buttons)
    except TelegramError as exc:  # the claim itself is recorded; a stale post is harmless
        log.info("could not redraw task post %s: %s", post.message_id, type(exc).__name__)


# ── /done and proof ───────────────────────────────────────────────────────────────────────────


def _media_of(message: Message) -> tuple[str, bool] | None:
    """Return (file_id, is_video) of a photo or video message."""
    if message.photo:
        return message.photo[-1].file_id, False
    if message.video:
        return message.video.file_id, True
    return None


async def done_command(update: Update, context: GridContext) -> None:
    """'/done 3' then a photo (or a photo captioned '/done 3'): submit proof."""
    user, chat, message = update.effective_user, update.effective_chat, update.effective_message
    if user is None or chat is None or message is None:
        return
    services = services_of(context)
    text = message.text or message.caption or ""
    args = text.split()[1:]
    match = _NUMBER.match(args[0]) if args else None
    if match is None:
        claims = [c for c in await services.tasks.claims_of(user.id) if c.status != "approved"]
        if not claims:
            await reply(update, context, texts.DONE_USAGE)
        else:
            lines = []
            for claim in claims[:10]:
                task = await services.tasks.get(claim.task_id)
                status = texts.CLAIM_STATUS_NAMES.get(claim.status, claim.status)
                lines.append(
                    texts.DONE_CLAIM_LINE.format(task_id=task.id, title=task.title, status=status)
                )
            await reply(
                update,
                context,
                texts.DONE_USAGE + "\n" + texts.DONE_YOUR_CLAIMS.format(lines="\n".join(lines)),
            )
        return
    task_id = int(match.group(1))
    media = _media_of(message)
    if media is None:
        claims = await services.tasks.claims(task_id)
        await services.tasks.get(task_id)
        if not any(c.user_id == user.id for c in claims):
            raise DomainError("task_not_claimed", task_id=task_id)
        waiting = AwaitProof(task_id, chat.id)
        await open_dialogue(context, user.id, chat.id, waiting, message.message_id)
        await reply(update, context, texts.DONE_ASK_PROOF.format(task_id=task_id))
        return
    note = " ".join(args[1:])
    await _submit(update, context, task_id, media, note, in_dialogue=False)


async def done_caption(update: Update, context: GridContext) -> None:
    """A photo or video captioned '/done 3': the same as /done, and intake never sees it."""
    try:
        await done_command(update, context)
    except DomainError as exc:
        await reply(update, context, domain_text(exc))
    raise ApplicationHandlerStop


async def _submit(
    update: Update,
    context: GridContext,
    task_id: int,
    media: tuple[str, bool],
    note: str,
    *,
    in_dialogue: bool,
) -> None:
    user, chat, message = update.effective_user, update.effective_chat, update.effective_message
    assert user is not None and chat is not None and message is not None
    services = services_of(context)
    actor = await actor_for(context, user)
    store = dialogues(context)

    async def submit() -> TaskClaim:
        return await services.tasks.submit_proof(actor, task_id, [media[0]], note)

    if in_dialogue:
        claim = await store.finish(user.id, chat.id, message.message_id, submit)
    else:
        claim = await submit()
        # A captioned photo also answers a '/done 3' still waiting for its photo.
        open_one = await store.current(user.id)
        if open_one is not None and open_one.kind == "proof":
            await store.close(user.id, open_one.chat_id)
    done = texts.DONE_SUBMITTED if chat.type == "private" else texts.DONE_SUBMITTED_GROUP
    await reply(update, context, done.format(task_id=task_id))
    task = await services.tasks.get(task_id)
    card = texts.VERIFY_CARD.format(
        task_id=task.id,
        title=task.title,
        name=claim.name,
        points=task.points,
        note=(texts.VERIFY_VIDEO_NOTE if media[1] else "")
        + (texts.VERIFY_NOTE.format(note=claim.note) if claim.note else ""),
    )
    buttons = [
        [
            Button(texts.VERIFY_BUTTON_OK, f"tok:{task.id}:{claim.user_id}"),
            Button(texts.VERIFY_BUTTON_RETURN, f"tno:{task.id}:{claim.user_id}"),
        ]
    ]
    recipients = [task.publisher_id] if task.publisher_id != claim.user_id else []
    delivered = False
    for verifier in recipients:
        delivered = await _send_card(context, verifier, card, buttons, media) or delivered
    if not delivered:
        # The publisher cannot be reached (or did the work): the admins verify instead.
        for verifier in await admin_ids(services):
            if verifier != claim.user_id:
                delivered = await _send_card(context, verifier, card, buttons, media) or delivered
    if not delivered:
        await reply(update, context, texts.VERIFY_NO_VERIFIER.format(task_id=task_id))


async def _send_card(
    context: GridContext,
    chat_id: int,
    card: str,
    buttons: list[list[Button]],
    media: tuple[str, bool],
) -> bool:
    services = services_of(context)
    file_id, is_video = media
    try:
        if is_video:
            await context.bot.send_video(chat_id, file_id)
            await send(context.bot, services, chat_id, card, buttons=buttons)
        else:
            await send(context.bot, services, chat_id, card, buttons=buttons, photo=file_id)
    except Unreachable:
        return False
    return True


# ── verification ──────────────────────────────────────────────────────────────────────────────


async def on_verify(update: Update, context: GridContext) -> None:
    """通过 awards the points at once; 退回 asks the verifier for the reason first."""
    query, user = update.callback_query, update.effective_user
    if query is None or user is None:
        return
    match = _VERIFY.match(query.data or "")
    if not match:
        await query.answer(texts.BUTTON_STALE, show_alert=True)
        return
    verb, task_id, user_id = match.group(1), int(match.group(2)), int(match.group(3))
    services = services_of(context)
    actor = await actor_for(context, user)
    card = query.message if isinstance(query.message, Message) else None
    if verb == "tno":
        claim = await services.tasks.check_verifier(actor, task_id, user_id)
        waiting = AwaitReason(
            kind="task",
            ref=task_id,
            user_id=user_id,
            chat_id=user.id,
            card_chat_id=card.chat.id if card is not None else 0,
            card_message_id=card.message_id if card is not None else 0,
            card_text=(card.caption or card.text or "") if card is not None else "",
            card_is_photo=bool(card is not None and card.photo),
        )
        await open_dialogue(context, user.id, user.id, waiting)
        await query.answer(texts.VERIFY_ANSWER_ASK)
        asked = await tell(
            context, user.id, texts.VERIFY_ASK_REASON.format(task_id=task_id, name=claim.name)
        )
        if asked is None:
            await dialogues(context).close(user.id, user.id)
        return
    verdict = await services.tasks.verify(actor, task_id, user_id, approve=True)
    await query.answer(texts.VERIFY_ANSWER_OK)
    if card is not None:
        outcome = texts.VERIFY_APPROVED.format(
            by=actor.name, name=verdict.claim.name, points=verdict.task.points
        )
        await finish_card(
            context,
            card.chat.id,
            card.message_id,
            card.caption or card.text or "",
            bool(card.photo),
            outcome,
        )
    balance = await services.points.balance(user_id)
    hours = verdict.entry.hours if verdict.entry is not None else 0.0
    await tell(
        context,
        user_id,
        texts.RESIDENT_APPROVED.format(
            task_id=verdict.task.id,
            title=verdict.task.title,
            points=verdict.task.points,
            hours=texts.RESIDENT_APPROVED_HOURS.format(hours=f"{hours:g}") if hours else "",
            balance=balance,
        ),
    )


async def finish_card(
    context: GridContext,
    chat_id: int,
    message_id: int,
    original: str,
    is_photo: bool,
    outcome: str,
    buttons: list[list[Button]] | None = None,
) -> None:
    """Write the outcome under a card and take its buttons away (or leave the given ones)."""
    if not message_id:
        return
    text = f"{original}\n\n{outcome}" if original else outcome
    try:
        if is_photo:
            await context.bot.edit_message_caption(
                chat_id=chat_id,
                message_id=message_id,
                caption=text[:1024],
                reply_markup=markup(buttons or []),
            )
        else:
            await edit(context.bot, chat_id, message_id, text, buttons=buttons or [])
    except TelegramError as exc:  # the card may be gone; the decision itself is recorded
        log.info("could not update card %s: %s", message_id, type(exc).__name__)


async def _reason_given(
    update: Update, context: GridContext, state: AwaitReason, reason: str
) -> None:
    user, message = update.effective_user, update.effective_message
    assert user is not None and message is not None
    services = services_of(context)
    actor = await actor_for(context, user)
    if state.kind == "redeem":
        from bot.handlers.points import reject_with_reason

        await reject_with_reason(update, context, actor, state, reason)
        return
    verdict = await dialogues(context).finish(
        user.id,
        state.chat_id,
        message.message_id,
        lambda: services.tasks.verify(
            actor, state.ref, state.user_id, approve=False, reason=reason
        ),
    )
    outcome = texts.VERIFY_RETURNED.format(by=actor.name, reason=verdict.claim.reason)
    await reply(update, context, outcome)
    await finish_card(
        context,
        state.card_chat_id,
        state.card_message_id,
        state.card_text,
        state.card_is_photo,
        outcome,
    )
    await tell(
        context,
        state.user_id,
        texts.RESIDENT_RETURNED.format(
            task_id=verdict.task.id, title=verdict.task.title, reason=verdict.claim.reason
        ),
    )


# ── the dialogue router (group 1, before the intake) ─────────────────────────────────────────


async def on_dialogue_message(update: Update, context: GridContext) -> None:
    """Feed a private answer to an open dialogue; leave every other message to the intake."""
    user, chat, message = update.effective_user, update.effective_chat, update.effective_message
    if user is None or chat is None or message is None:
        return
    store = dialogues(context)
    found = await store.current(user.id)
    if found is None:
        return
    if chat.id == found.chat_id and message.message_id <= found.last_message_id:
        # Delivered again after a restart: this answer was taken already.
        raise ApplicationHandlerStop
    state = dialogue_state(found.kind, found.state)
    if state is None or chat.id != found.chat_id:
        return
    text = (message.text or "").strip()
    if text.lower() in CANCEL_WORDS:
        await store.close(user.id, chat.id, message.message_id)
        await reply(update, context, texts.DIALOGUE_CANCELLED)
        raise ApplicationHandlerStop
    if isinstance(state, AwaitProof):
        media = _media_of(message)
        if media is None:
            # Text while the photo is awaited answers the bot, not a new complaint: say so.
            await reply(update, context, texts.PROOF_WAITING.format(task_id=state.task_id))
            raise ApplicationHandlerStop
        try:
            await _submit(
                update, context, state.task_id, media, message.caption or "", in_dialogue=True
            )
        except DomainError as exc:
            await reply(update, context, domain_text(exc))
        raise ApplicationHandlerStop
    if chat.type != "private" or chat.id != user.id:
        return
    if not text:
        hint = texts.TASK_BAD_ANSWER.format(hint="")
        await reply(update, context, hint)
        raise ApplicationHandlerStop
    try:
        if isinstance(state, TaskDialogue):
            await _task_dialogue(update, context, state, text)
        else:
            await _reason_given(update, context, state, text)
    except DomainError as exc:
        # Answer here: an error left to the error handler would let the intake see the text.
        await reply(update, context, domain_text(exc))
    raise ApplicationHandlerStop


# ── registration ──────────────────────────────────────────────────────────────────────────────


def command_handlers() -> list[BaseHandler[Any, Any, Any]]:
    """The task commands (group 0)."""
    caption_done = (filters.PHOTO | filters.VIDEO) & filters.CaptionRegex(r"^/done(@\w+)?(\s|$)")
    return [
        CommandHandler("register", register_command),
        CommandHandler("task", task_command),
        CommandHandler("tasks", tasks_command),
        CommandHandler("done", done_command),
        MessageHandler(caption_done, done_caption),
    ]


def callback_handlers() -> list[BaseHandler[Any, Any, Any]]:
    """Buttons and dialogue answers (group 1, before the intake in group 2)."""
    answers = filters.UpdateType.MESSAGE & (
        (filters.TEXT & ~filters.COMMAND) | filters.PHOTO | filters.VIDEO
    )
    return [
        CallbackQueryHandler(on_claim, pattern=r"^claim:"),
        CallbackQueryHandler(on_verify, pattern=r"^t(ok|no):"),
        MessageHandler(answers, on_dialogue_message),
    ]
