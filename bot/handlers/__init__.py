"""Telegram handlers, registered in one place with explicit group numbers."""

from __future__ import annotations

import re

from telegram.ext import CallbackQueryHandler, CommandHandler

from bot.context import GridApp
from bot.handlers import (
    admin,
    basic,
    community_tasks,
    dialogue_answers,
    errors,
    gate,
    intake,
    jobs,
    lifecycle,
    points,
    privacy,
    schedule,
    street,
    triage,
    worker,
)

# Handler groups: the gate runs first and may stop an update; features follow in order.
GROUP_RESOLVE = street.GROUP_RESOLVE  # which community the update acts in
GROUP_GATE = -10
GROUP_EDITS = -9  # a person's edit of a message: read there alone, never as a new message
GROUP_COMMANDS = 0
GROUP_CALLBACKS = 1
GROUP_PROMPTS = 2  # a worker's answer to the bot's question; stops the update when it is one
GROUP_PROOFS = 3  # a task's proof sent without /done; stops the update when it is one
GROUP_MESSAGES = 4  # free text: complaints
GROUP_FALLBACK = 9


def register_handlers(app: GridApp) -> None:
    """Add every feature's handlers and the one error handler; order within a group matters."""
    app.add_handlers(street.handlers(), group=GROUP_RESOLVE)
    app.add_handlers(gate.handlers(), group=GROUP_GATE)
    app.add_handlers(intake.edit_handlers(), group=GROUP_EDITS)
    app.add_handlers(street.command_handlers(), group=GROUP_COMMANDS)
    app.add_handlers(basic.handlers(), group=GROUP_COMMANDS)
    app.add_handlers(admin.handlers(), group=GROUP_COMMANDS)
    app.add_handlers(intake.handlers(), group=GROUP_COMMANDS)
    app.add_handlers(worker.handlers(), group=GROUP_COMMANDS)
    app.add_handlers(privacy.handlers(), group=GROUP_COMMANDS)
    app.add_handlers(privacy.callback_handlers(), group=GROUP_CALLBACKS)
    app.add_handlers(intake.callback_handlers(), group=GROUP_CALLBACKS)
    app.add_handlers(worker.callback_handlers(), group=GROUP_CALLBACKS)
    app.add_handlers(triage.callback_handlers(), group=GROUP_CALLBACKS)
    app.add_handlers(worker.prompt_handlers(), group=GROUP_PROMPTS)
    app.add_handlers(community_tasks.proof_handlers(), group=GROUP_PROOFS)
    app.add_handlers(intake.message_handlers(), group=GROUP_MESSAGES)
    # The task list, points, redemption and /schedule.
    app.add_handlers(community_tasks.command_handlers(), group=GROUP_COMMANDS)
    app.add_handlers(points.command_handlers(), group=GROUP_COMMANDS)
    app.add_handlers(schedule.command_handlers(), group=GROUP_COMMANDS)
    app.add_handlers(community_tasks.callback_handlers(), group=GROUP_CALLBACKS)
    app.add_handlers(dialogue_answers.handlers(), group=GROUP_CALLBACKS)
    app.add_handlers(points.callback_handlers(), group=GROUP_CALLBACKS)
    # Ratings, 不予受理/重复, the department's 收到, /stats.
    app.add_handlers(lifecycle.handlers(), group=GROUP_COMMANDS)
    app.add_handlers(lifecycle.callback_handlers(), group=GROUP_CALLBACKS)
    app.add_handlers(basic.fallback_handlers(), group=GROUP_FALLBACK)
    app.add_error_handler(errors.on_error)
    known: set[str] = set()
    buttons: list[re.Pattern[str]] = []
    for group, group_handlers in app.handlers.items():
        for handler in group_handlers:
            if isinstance(handler, CommandHandler):
                known.update(handler.commands)
            elif (
                isinstance(handler, CallbackQueryHandler)
                and group != GROUP_FALLBACK
                and isinstance(handler.pattern, re.Pattern)
            ):
                buttons.append(handler.pattern)
    app.bot_data.known_commands = frozenset(known)
    app.bot_data.known_buttons = tuple(buttons)


async def on_startup(app: GridApp) -> None:
    """Schedule the periodic jobs, once the services are built.

    Several instances sharing a database (bot/fleet.py): only the leader runs them, from the
    moment it leads.
    """
    if app.bot_data.fleet is None:
        jobs.schedule_jobs(app)
