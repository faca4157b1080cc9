"""The task list in the chat: /register, /task, /tasks, claim buttons, /done proof, verification.

Thin handlers: the typed forms are read in bot.services.task_forms, the dialogues (the guided
/task new, the proof after /done, a reason after 退回 or 拒绝) are the tables of states in
bot.services.flows kept by bot.services.dialogues, and the posts and cards are drawn by
bot.services.task_views. The answers in those dialogues arrive through
bot.handlers.dialogue_answers, which calls the answer handlers here.
"""

from __future__ import annotations

import logging
import re
from dataclasses import replace
from typing import TYPE_CHECKING, Any

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
from bot.handlers.replies import dialogues, finish_card, reply, services_of
from bot.handlers.sending import Unreachable, edit, send
from bot.services.dialogues import Answer
from bot.services.errors import DomainError
from bot.services.flows import (
    PROOF,
    REASON,
    TASK,
    AlbumStart,
    AwaitProof,
    AwaitReason,
    TaskForm,
    TaskRules,
)
from bot.services.residents import Person
from bot.services.task_forms import NUMBER, TaskDraft, parse_task_line
from bot.services.task_views import (
    announcement,
    claimable,
    listed_task_ids,
    post_kind,
    proof_card,
    redraw_digest_line,
    task_list,
)
from bot.services.values import Button, Task, TaskClaim

if TYPE_CHECKING:
    from bot.services.bootstrap import Services

log = logging.getLogger(__name__)

_CLAIM = re.compile(r"^claim:(\d{1,9})$")
_VERIFY = re.compile(r"^(tok|tno):(\d{1,9}):(\d{1,15})$")


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
        match = NUMBER.match(line.strip())
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
        match = NUMBER.match(head.strip())
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
        form = TaskForm(TaskDraft(), grid)
        await dialogues(context).start(TASK, user.id, chat.id, form, message.message_id)
        await reply(update, context, TASK.steps[TASK.first].ask(_task_rules(services)))
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


def _task_rules(services: Services) -> TaskRules:
    levels = tuple(services.points.config.difficulty)
    return TaskRules(levels, services.clock.now(), services.tz)


async def task_answer(
    update: Update, context: GridContext, step: str, form: TaskForm, text: str
) -> None:
    """Take one answer of the guided /task new; publish the task after the last."""
    user, message = update.effective_user, update.effective_message
    assert user is not None and message is not None
    services = services_of(context)
    moved = TASK.advance(step, Answer(text), form, _task_rules(services))
    if not moved.understood:
        await reply(update, context, texts.TASK_BAD_ANSWER.format(hint=moved.ask))
        return
    if moved.step != "done":
        await dialogues(context).move(
            TASK, user.id, user.id, moved.step, moved.data, message.message_id
        )
        await reply(update, context, moved.ask)
        return
    actor = await actor_for(context, user)
    task = await dialogues(context).finish(
        TASK.name,
        user.id,
        user.id,
        message.message_id,
        lambda: _publish(services, actor, moved.data.draft, form.grid),
    )
    await _announce(update, context, task)


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


async def refresh_task_post(context: GridContext, post: Message, task: Task) -> None:
    """Redraw a post with claim buttons after a claim: places left, and no button when full.

    The post is the task's own announcement, a /tasks listing (both redrawn from the database)
    or a daily digest, where only the task's line and its button change: the rest of a digest
    is that morning's report and stays as it was.
    """
    services = services_of(context)
    now = services.clock.now()
    original = post.text or ""
    kind = post_kind(original, task)
    if kind == "announcement":
        text, buttons = announcement(task, services.tz, now)
    elif kind == "listing":
        listed = [await services.tasks.get(n) for n in listed_task_ids(original)]
        text, buttons = task_list(listed, services.tz, now)
    else:
        text = redraw_digest_line(original, task, services.tz)
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


def media_of(message: Message) -> tuple[str, bool] | None:
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
    match = NUMBER.match(args[0]) if args else None
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
    media = media_of(message)
    if media is None:
        claims = await services.tasks.claims(task_id)
        await services.tasks.get(task_id)
        if not any(c.user_id == user.id for c in claims):
            raise DomainError("task_not_claimed", task_id=task_id)
        waiting = AwaitProof(task_id, chat.id)
        await dialogues(context).start(PROOF, user.id, chat.id, waiting, message.message_id)
        await reply(update, context, texts.DONE_ASK_PROOF.format(task_id=task_id))
        return
    note = " ".join(args[1:])
    await submit_proof(update, context, task_id, media, note, in_dialogue=False)


async def done_caption(update: Update, context: GridContext) -> None:
    """A photo or video captioned '/done 3': the same as /done, and intake never sees it."""
    try:
        await done_command(update, context)
    except DomainError as exc:
        await reply(update, context, domain_text(exc))
    raise ApplicationHandlerStop


# A resident's words saying a task is done (换好了, 打扫干净了, 搞定, done).
_DONE_WORDS = re.compile(
    r"做完|完成|好了|弄好|换好|修好|干净|搞定|清理完|清走|done|finished", re.I
)


async def proof_without_done(update: Update, context: GridContext) -> None:
    """A photo or video sent privately by someone with one task waiting for its proof, bare
    or captioned "换好了": that task's proof, as if captioned '/done N'. "任务做完了" in words:
    how to hand the proof in. Anything else goes on to the intake (a photo of a problem)."""
    user, message = update.effective_user, update.effective_message
    if user is None or message is None or message.reply_to_message is not None:
        return  # a reply belongs to what it answers (a ticket's photo, a question)
    services = services_of(context)
    words = (message.caption or message.text or "").strip()
    media = media_of(message)
    if media is None and not ("任务" in words and _DONE_WORDS.search(words)):
        return
    album = message.media_group_id
    if album and await services.intake.album_start(user.id, message.chat.id, album) is not None:
        return  # a later photo of an album whose first the bot took: it goes where that went
    if media is not None and words and not _DONE_WORDS.search(words):
        return  # "楼道灯坏了" with a photo: a report, not a proof
    waiting = [
        c for c in await services.tasks.claims_of(user.id) if c.status in ("claimed", "returned")
    ]
    if not waiting:
        return
    if media is None or len(waiting) > 1:
        await done_command(update, context)  # lists their tasks and how to hand proof in
        raise ApplicationHandlerStop
    try:
        await submit_proof(update, context, waiting[0].task_id, media, words, in_dialogue=False)
    except DomainError as exc:
        await reply(update, context, domain_text(exc))
    raise ApplicationHandlerStop


async def submit_proof(
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
        claim = await store.finish(PROOF.name, user.id, chat.id, message.message_id, submit)
    else:
        claim = await submit()
        # A captioned photo also answers a '/done 3' still waiting for its photo.
        await store.close_open(PROOF.name, user.id)
    if message.media_group_id:  # the album's other photos: no word each, no other task's proof
        start = AlbumStart(message.media_group_id, task_id=task_id)
        await services.intake.remember_album(user.id, chat.id, message.message_id, start)
    done = texts.DONE_SUBMITTED if chat.type == "private" else texts.DONE_SUBMITTED_GROUP
    await reply(update, context, done.format(task_id=task_id))
    task = await services.tasks.get(task_id)
    card, buttons = proof_card(task, claim, is_video=media[1])
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
            await send(context.bot, services, chat_id, card, buttons=buttons, video=file_id)
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
        await dialogues(context).start(REASON, user.id, user.id, waiting)
        await query.answer(texts.VERIFY_ANSWER_ASK)
        asked = await tell(
            context, user.id, texts.VERIFY_ASK_REASON.format(task_id=task_id, name=claim.name)
        )
        if asked is None:
            await dialogues(context).close(REASON.name, user.id, user.id)
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


async def return_with_reason(
    update: Update, context: GridContext, actor: Person, state: AwaitReason, reason: str
) -> None:
    """Return a claim with the reason the verifier typed; the resident hears why."""
    user, message = update.effective_user, update.effective_message
    assert user is not None and message is not None
    services = services_of(context)
    verdict = await dialogues(context).finish(
        REASON.name,
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


def proof_handlers() -> list[BaseHandler[Any, Any, Any]]:
    """A task's proof sent without /done (after every dialogue and question, before intake)."""
    return [
        MessageHandler(
            filters.ChatType.PRIVATE
            & (filters.PHOTO | filters.VIDEO | filters.TEXT)
            & ~filters.COMMAND
            & ~filters.CaptionRegex(r"^/"),
            proof_without_done,
        )
    ]


def callback_handlers() -> list[BaseHandler[Any, Any, Any]]:
    """The claim and verification buttons (group 1)."""
    return [
        CallbackQueryHandler(on_claim, pattern=r"^claim:"),
        CallbackQueryHandler(on_verify, pattern=r"^t(ok|no):"),
    ]
