"""The application's typed state and callback context, shared by the app and every handler.

Its own module so that handlers import it without importing `bot.app` (which registers them):
the import graph has no cycle (pyproject.toml's acyclic contract).
"""

from __future__ import annotations

import asyncio
import re
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from telegram.ext import Application, CallbackContext, ExtBot, JobQueue

from bot.outcome import UpdateOutcome
from bot.services.bootstrap import Services
from bot.services.clock import Clock, SystemClock
from bot.services.street import Street
from bot.settings import Settings
from storage.db import InstanceLock
from storage.inbox import InboxRepository
from storage.outbox import OutboxRepository
from storage.store import Store

if TYPE_CHECKING:  # built after the handlers are registered; handlers never import them here
    from bot.fleet import Fleet
    from bot.handlers.sending import OutboxSender
    from bot.poller import DurablePoller
    from bot.webhook import WebhookServer


@dataclass
class AppState:
    """Everything the handlers reach through context.bot_data, built once in post_init.

    Each field is named and typed; there is no free-form dict. Code outside the bot (tests, the
    demo) observes the bot through the Application itself, e.g. an error handler of its own added
    with `app.add_error_handler`, never through a hook that production code reads.
    """

    settings: Settings | None = None
    clock: Clock = field(default_factory=SystemClock)
    db: Store | None = None
    inbox: InboxRepository | None = None
    outbox: OutboxRepository | None = None
    outcome: UpdateOutcome = field(default_factory=UpdateOutcome)
    bot_username: str = ""
    privacy_mode: bool = True
    # Every community of the deployment (bot/services/street.py); each update acts in one.
    street: Street | None = None
    sender: OutboxSender | None = None
    instance: InstanceLock | None = None
    # Several instances in webhook mode on one PostgreSQL: claims and leadership (bot/fleet.py).
    fleet: Fleet | None = None
    # Reads the community files again every settings.reload_s (bot.app): no restart to change.
    reloader: asyncio.Task[None] | None = None
    known_commands: frozenset[str] = frozenset()
    known_buttons: tuple[re.Pattern[str], ...] = ()
    # How updates arrive, set while the bot serves: long polling (bot.app.serve) or webhooks
    # (bot.webhook.serve_webhook); at most one of them.
    poller: DurablePoller | None = None
    webhook: WebhookServer | None = None

    def require_street(self) -> Street:
        """Return the deployment's communities (post_init has run)."""
        if self.street is None:
            raise RuntimeError("GridBot is not started: services are not built")
        return self.street

    def require_services(self) -> Services:
        """Return the services of a deployment of one community (tests, tools, the demo).

        Handlers act in the community of their update instead (GridContext.services).
        """
        only = self.require_street().only()
        if only is None:
            raise RuntimeError("this deployment has several communities: name one")
        return only

    def require_db(self) -> Store:
        """Return the open database (post_init has run)."""
        if self.db is None:
            raise RuntimeError("GridBot is not started: the database is not open")
        return self.db


class GridContext(CallbackContext[ExtBot[None], dict[Any, Any], dict[Any, Any], AppState]):
    """The callback context with a typed bot_data."""

    @property
    def state(self) -> AppState:
        return self.bot_data

    @property
    def services(self) -> Services:
        """Return the services of the community this update acts in (bot.handlers.street)."""
        found: Services | None = getattr(self, "_gridbot_services", None)
        if found is None:
            raise RuntimeError("no community was resolved for this update")
        return found

    def act_in(self, services: Services | None) -> None:
        """Make the update act in a community (set once, before the features run)."""
        self._gridbot_services = services

    @property
    def has_community(self) -> bool:
        return getattr(self, "_gridbot_services", None) is not None


GridApp = Application[
    ExtBot[None], GridContext, dict[Any, Any], dict[Any, Any], AppState, JobQueue[GridContext]
]
