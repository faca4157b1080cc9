"""``Emulator``: the emulated Telegram in one object — its world, the Bot API, the people,
the faults a test switches on, and (inside ``async with``) the HTTP server the bot talks to."""

from __future__ import annotations

import time
from collections.abc import Callable
from types import TracebackType
from typing import Self

from tgsandbox.api import BotApi, canonical
from tgsandbox.faults import Fault
from tgsandbox.http import HttpServer
from tgsandbox.model import JSON, ApiCall, ApiError, Stats
from tgsandbox.people import People
from tgsandbox.state import DEFAULT_TOKEN, World


class Emulator(People):
    """Telegram Bot API emulator: an HTTP server for the bot and a Python API for the people.

    ``async with Emulator() as emu`` serves HTTP on 127.0.0.1 (a free port by default); without
    it, ``tgsandbox.offline.OfflineRequest(emu)`` answers the bot in-process instead.
    """

    def __init__(
        self,
        token: str = DEFAULT_TOKEN,
        bot_username: str = "gridbot_demo_bot",
        privacy_mode: bool = True,
        *,
        bot_name: str = "网格助手",
        host: str = "127.0.0.1",
        port: int = 0,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.world = World(token, bot_username, privacy_mode, bot_name, clock)
        self.api = BotApi(self.world)
        self.http = HttpServer(self.api, host, port)

    # ── lifecycle ─────────────────────────────────────────────────────────────────────────────

    async def start(self) -> None:
        """Start serving on host:port (port 0 picks a free one)."""
        self.world.stopping.clear()
        await self.http.start()

    async def stop(self) -> None:
        """Wake long polls and slow answers, then shut the server down."""
        self.world.stopping.set()
        self.world.new_updates.fire()
        await self.http.stop()

    async def __aenter__(self) -> Self:
        await self.start()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.stop()

    # ── who the bot is, and where it is served ────────────────────────────────────────────────

    @property
    def token(self) -> str:
        return self.world.token

    @property
    def bot_id(self) -> int:
        return self.world.bot_id

    @property
    def bot_username(self) -> str:
        return self.world.bot_username

    @property
    def privacy_mode(self) -> bool:
        return self.world.privacy_mode

    @property
    def bot_user(self) -> JSON:
        """Return the bot's own User object."""
        return dict(self.world.bot_user)

    @property
    def host(self) -> str:
        return self.http.host

    @property
    def port(self) -> int:
        return self.http.port

    @property
    def url(self) -> str:
        """Return the server's root URL."""
        return self.http.url

    @property
    def base_url(self) -> str:
        """Return the value for python-telegram-bot's ``base_url`` (the token is appended)."""
        return f"{self.url}/bot"

    @property
    def base_file_url(self) -> str:
        """Return the value for python-telegram-bot's ``base_file_url``."""
        return f"{self.url}/file/bot"

    # ── what the bot asked ────────────────────────────────────────────────────────────────────

    @property
    def calls(self) -> list[ApiCall]:
        """Every request the bot made, in order."""
        return self.world.calls

    @property
    def stats(self) -> Stats:
        """Request counters."""
        return self.world.stats

    @property
    def internal_errors(self) -> list[str]:
        """Bugs of the emulator itself (answered 500); a test expects none."""
        return self.world.internal_errors

    # ── faults ────────────────────────────────────────────────────────────────────────────────

    def fail_next(
        self,
        method: str,
        error_code: int,
        description: str,
        parameters: JSON | None = None,
        times: int = 1,
        *,
        chat_id: int | None = None,
    ) -> None:
        """Make the next `times` calls of a method fail with this error, taking no effect.

        With `chat_id`, only calls for that chat fail (a storm in one chat, the others fine).
        """
        fault = Fault(ApiError(error_code, description, parameters), times, chat_id)
        self.world.faults.fail_next(_canonical(method), fault)

    def set_delay(self, method: str, seconds: float, *, answer_only: bool = False) -> None:
        """Answer a method slowly: wait `seconds` before the call takes effect (0 clears).

        With `answer_only` the call takes effect at once and only its answer waits: a bot
        killed meanwhile did send the message but never heard so (`answers_held` counts them).
        """
        self.world.faults.set_delay(_canonical(method), seconds, answer_only=answer_only)

    @property
    def answers_held(self) -> int:
        """How many calls took effect and then had their answer held (set_delay answer_only)."""
        return self.world.faults.answers_held

    def set_rate_limits(
        self, on: bool = True, *, per_second: int = 30, per_group_per_minute: int = 20
    ) -> None:
        """Enforce Telegram's send limits (429 with retry_after) or switch them off."""
        self.world.faults.set_rate_limits(on, per_second, per_group_per_minute)


def _canonical(method: str) -> str:
    name = canonical(method)
    if name is None:
        raise ValueError(f"unknown Bot API method {method!r}")
    return name
