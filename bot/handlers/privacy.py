"""A person's own data: /mydata shows and sends it, /forget erases it; /audit for admins."""

from __future__ import annotations

import re
from typing import Any

from telegram import Update
from telegram.ext import BaseHandler, CallbackQueryHandler, CommandHandler

from bot import texts
from bot.context import GridContext
from bot.handlers.mapper import Incoming, incoming
from bot.handlers.sending import edit, send
from bot.services.bootstrap import Services
from bot.services.cards import local_time
from bot.services.errors import DomainError
from bot.services.retention import export_file
from bot.services.values import Button

FORGET_DATA = re.compile(r"^forget:(yes|no)$")
AUDIT_LIMIT = 30


def _services(context: GridContext) -> Services:
    return context.services


async def _private_message(
    update: Update, context: GridContext, elsewhere: str
) -> Incoming | None:
    """The person's message in their private chat; anywhere else, say where it works."""
    msg = incoming(update, context.bot.id)
    if msg is None:
        return None
    if not msg.is_private:
        await send(context.bot, _services(context), msg.chat_id, elsewhere)
        return None
    return msg


async def _is_staff(services: Services, user_id: int) -> bool:
    worker = await services.state.worker_for_user(user_id)
    admin = await services.state.admin_for_user(user_id)
    return worker is not None or admin is not None


async def on_mydata(update: Update, context: GridContext) -> None:
    """/mydata: a summary of what is stored about the person, and all of it as a file."""
    msg = await _private_message(update, context, texts.MYDATA_PRIVATE_ONLY)
    if msg is None:
        return
    services = _services(context)
    data = await services.retention.export(msg.sender.user_id)
    config = services.retention.config
    lines = [texts.MYDATA_HEAD]
    for key, template in texts.MYDATA_LINES.items():
        lines.append("· " + template.format(count=len(data.get(key, []))))
    stored = (data.get("messages") or [{}])[0].get("stored_updates", 0)
    lines.append("· " + texts.MYDATA_MESSAGES.format(count=stored, days=config.keep_updates.days))
    lines.append(texts.MYDATA_RETENTION.format(days=config.keep_closed_tickets.days))
    await send(context.bot, services, msg.chat_id, "\n".join(lines))
    body = export_file(data, when=services.clock.now())
    # Through the outbox like every message: sent once the update commits, after the summary.
    await send(context.bot, services, msg.chat_id, "", document=(body, texts.MYDATA_FILENAME))


async def on_forget(update: Update, context: GridContext) -> None:
    """/forget: ask for a confirmation before erasing the person's data."""
    msg = await _private_message(update, context, texts.FORGET_PRIVATE_ONLY)
    if msg is None:
        return
    services = _services(context)
    if await _is_staff(services, msg.sender.user_id):
        await send(context.bot, services, msg.chat_id, texts.FORGET_STAFF)
        return
    await send(
        context.bot,
        services,
        msg.chat_id,
        texts.FORGET_CONFIRM,
        buttons=[
            [
                Button(texts.FORGET_BUTTON_YES, "forget:yes"),
                Button(texts.FORGET_BUTTON_NO, "forget:no"),
            ]
        ],
    )


async def on_forget_button(update: Update, context: GridContext) -> None:
    """确定删除 / 取消: only ever about the person who pressed, in their own private chat."""
    query = update.callback_query
    assert query is not None
    match = FORGET_DATA.match(query.data or "")
    message = query.message
    user_id = query.from_user.id
    if match is None or message is None or message.chat.id != user_id:
        await query.answer(texts.STALE_BUTTON, show_alert=True)
        return
    services = _services(context)
    if match.group(1) == "no":
        await query.answer()
        await edit(context.bot, message.chat.id, message.message_id, texts.FORGET_CANCELLED)
        return
    if await _is_staff(services, user_id):
        await query.answer(texts.FORGET_STAFF, show_alert=True)
        return
    await services.retention.forget(user_id)
    await query.answer()
    await edit(context.bot, message.chat.id, message.message_id, texts.FORGET_DONE)


async def on_audit(update: Update, context: GridContext) -> None:
    """/audit: the newest staff actions, for admins, in a private chat."""
    msg = await _private_message(update, context, texts.AUDIT_PRIVATE_ONLY)
    if msg is None:
        return
    services = _services(context)
    if await services.state.admin_for_user(msg.sender.user_id) is None:
        raise DomainError("not_allowed")
    entries = await services.retention.audit.recent(AUDIT_LIMIT)
    if not entries:
        await send(context.bot, services, msg.chat_id, texts.AUDIT_EMPTY)
        return
    lines = [texts.AUDIT_HEAD.format(count=len(entries))]
    for entry in entries:
        lines.append(
            texts.AUDIT_LINE.format(
                at=local_time(entry.at, services.tz),
                actor=entry.actor_name or texts.AUDIT_SYSTEM,
                action=texts.AUDIT_ACTIONS.get(entry.action, entry.action),
                target=entry.target,
            ).strip()
        )
    await send(context.bot, services, msg.chat_id, "\n".join(lines))


def handlers() -> list[BaseHandler[Any, Any, Any]]:
    """Commands about a person's data and the audit log."""
    return [
        CommandHandler("mydata", on_mydata),
        CommandHandler("forget", on_forget),
        CommandHandler("audit", on_audit),
    ]


def callback_handlers() -> list[BaseHandler[Any, Any, Any]]:
    """The /forget confirmation."""
    return [CallbackQueryHandler(on_forget_button, pattern=r"^forget:")]
