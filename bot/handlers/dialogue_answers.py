"""Answers to the bot's questions in an open dialogue (group 1, before the intake).

One router for the flows of bot.services.flows that the task and points handlers hold: the
guided /task new, the proof after /done, the reason after 退回 (a task's claim) or 拒绝 (a
redemption). Messages a dialogue consumes never reach the intake.
"""

from __future__ import annotations

from typing import Any

from telegram import Update
from telegram.ext import ApplicationHandlerStop, BaseHandler, MessageHandler, filters

from bot import texts
from bot.context import GridContext
from bot.handlers.actors import actor_for
from bot.handlers.community_tasks import media_of, return_with_reason, submit_proof, task_answer
from bot.handlers.errors import domain_text
from bot.handlers.points import reject_with_reason
from bot.handlers.replies import dialogues, reply
from bot.services.dialogues import Answer
from bot.services.errors import DomainError
from bot.services.flows import CANCEL_WORDS, PROOF, REASON, TASK, AwaitReason


async def on_dialogue_message(update: Update, context: GridContext) -> None:
    """Feed an answer to an open dialogue; leave every other message to the intake."""
    user, chat, message = update.effective_user, update.effective_chat, update.effective_message
    if user is None or chat is None or message is None:
        return
    store = dialogues(context)
    found = await store.current(user.id, chat.id)
    if found is None or found.flow not in _ROUTED:
        return  # no dialogue here, or one the intake answers (不满意)
    if message.message_id <= found.last_message_id:
        # Delivered again after a restart: this answer was taken already.
        raise ApplicationHandlerStop
    if not found.is_open:
        return
    text = (message.text or "").strip()
    if text.lower() in CANCEL_WORDS:
        await store.close(found.flow, user.id, chat.id, message.message_id)
        await reply(update, context, texts.DIALOGUE_CANCELLED)
        raise ApplicationHandlerStop
    if found.flow == PROOF.name:
        waiting = PROOF.data_of(found)
        media = media_of(message)
        if not PROOF.advance(found.step, Answer(text, media), waiting, None).understood:
            # Text while the photo is awaited answers the bot, not a new complaint: say so.
            await reply(update, context, texts.PROOF_WAITING.format(task_id=waiting.task_id))
            raise ApplicationHandlerStop
        assert media is not None
        try:
            await submit_proof(
                update, context, waiting.task_id, media, message.caption or "", in_dialogue=True
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
        if found.flow == TASK.name:
            await task_answer(update, context, found.step, TASK.data_of(found), text)
        else:
            await _reason_given(update, context, REASON.data_of(found), text)
    except DomainError as exc:
        # Answer here: an error left to the error handler would let the intake see the text.
        await reply(update, context, domain_text(exc))
    raise ApplicationHandlerStop


_ROUTED = frozenset({TASK.name, PROOF.name, REASON.name})


async def _reason_given(
    update: Update, context: GridContext, state: AwaitReason, reason: str
) -> None:
    user = update.effective_user
    assert user is not None
    actor = await actor_for(context, user)
    if state.kind == "redeem":
        await reject_with_reason(update, context, actor, state, reason)
    else:
        await return_with_reason(update, context, actor, state, reason)


def handlers() -> list[BaseHandler[Any, Any, Any]]:
    """The dialogue router (group 1, before the intake)."""
    answers = filters.UpdateType.MESSAGE & (
        (filters.TEXT & ~filters.COMMAND) | filters.PHOTO | filters.VIDEO
    )
    return [MessageHandler(answers, on_dialogue_message)]
