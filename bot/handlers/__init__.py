"""Telegram handlers, registered in one place with explicit group numbers."""

from __future__ import annotations

from typing import TYPE_CHECKING

from telegram.ext import CommandHandler

if TYPE_CHECKING:
    from bot.app import GridApp

# Handler groups: the gate runs first and may stop an update; features follow in order.
GROUP_GATE = -10
GROUP_COMMANDS = 0
GROUP_CALLBACKS = 1
GROUP_MESSAGES = 2
GROUP_FALLBACK = 9


def register_handlers(app: GridApp) -> None:
    """Add every feature's handlers and the one error handler."""
    from bot.handlers import basic, errors, gate

    app.add_handlers(gate.handlers(), group=GROUP_GATE)
    app.add_handlers(basic.handlers(), group=GROUP_COMMANDS)
    app.add_handlers(basic.fallback_handlers(), group=GROUP_FALLBACK)
    app.add_error_handler(errors.on_error)
    known: set[str] = set()
    for group in app.handlers.values():
        for handler in group:
            if isinstance(handler, CommandHandler):
                known.update(handler.commands)
    app.bot_data.known_commands = frozenset(known)


async def on_startup(app: GridApp) -> None:
    """Schedule the periodic jobs, once the services are built."""
    from bot.handlers import jobs

    jobs.schedule_jobs(app)


async def on_shutdown(app: GridApp) -> None:
    """Release what on_startup built."""
