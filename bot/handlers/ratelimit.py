"""A strict send pacer: evenly spaced sends, never a burst, so Telegram never answers 429.

python-telegram-bot's AIORateLimiter uses leaky buckets that allow a burst of 30 at once; against
Telegram's (and the emulator's) sliding windows that burst followed by the steady rate draws
429s. This limiter hands out one send slot every 1/30 s overall and at most 20 a minute per
group, reserving the slot before it waits, so concurrent senders queue fairly. A 429 that still
comes back (another process shares the token) is waited out and retried.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections import deque
from collections.abc import Callable, Coroutine
from typing import Any

from telegram.error import RetryAfter
from telegram.ext import BaseRateLimiter

log = logging.getLogger(__name__)

JSONDict = dict[str, Any]
# Methods that post something into a chat; everything else (getUpdates, answerCallbackQuery,
# editMessageText, getMe …) is not counted by Telegram's broadcast limits and is not paced.
PACED_ENDPOINTS = frozenset(
    {
        "sendMessage",
        "sendPhoto",
        "sendVideo",
        "sendDocument",
        "sendAudio",
        "sendVoice",
        "sendAnimation",
        "sendMediaGroup",
        "sendSticker",
        "sendLocation",
        "sendPoll",
        "copyMessage",
        "forwardMessage",
    }
)


class PacedRateLimiter(BaseRateLimiter[int]):
    """Pace sends at <= per_second overall and <= per_group_minute per group; retry on 429."""

    def __init__(
        self,
        per_second: float = 30.0,
        per_group_minute: int = 20,
        *,
        private_burst: int = 5,
        max_retries: int = 3,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        if per_second <= 0 or per_group_minute <= 0:
            raise ValueError("rates must be positive")
        self.interval = 1.0 / per_second
        self.per_group_minute = per_group_minute
        self.max_retries = max_retries
        self._monotonic = monotonic
        self._next_slot = 0.0
        self._groups: dict[int, deque[float]] = {}
        # A private chat: about one a second, a short burst allowed (a card and its photos).
        self.private_burst = private_burst
        self._paused_until = 0.0

    async def initialize(self) -> None:
        """Nothing to set up."""

    async def shutdown(self) -> None:
        """Nothing to release."""

    def group_ready(self, chat_id: int | None, now: float) -> float:
        """Return when a chat may receive its next message (groups: 20 a minute; private: ~1/s)."""
        if chat_id is None:
            return now
        limit, window = (
            (self.per_group_minute, 60.0)
            if chat_id < 0
            else (self.private_burst, 1.0 * self.private_burst)
        )
        sends = self._groups.get(chat_id)
        if not sends:
            return now
        while sends and sends[0] <= now - window:
            sends.popleft()
        if len(sends) < limit:
            return now
        # The chat's oldest send in the window must be a full window old first.
        return sends[-limit] + window

    def reserve(self, chat_id: int | None) -> float:
        """Reserve the next overall send slot for a chat and return when it starts."""
        # No await in here: the reservation is atomic with respect to other tasks.
        now = self._monotonic()
        slot = max(now, self._next_slot, self._paused_until)
        self._next_slot = slot + self.interval
        if chat_id is not None:
            self._groups.setdefault(chat_id, deque()).append(slot)
        return slot

    async def wait_turn(self, chat_id: int | None) -> None:
        """Wait until the group may receive again, then for an overall slot."""
        while True:
            now = self._monotonic()
            ready = self.group_ready(chat_id, now)
            if ready <= now:
                break
            # A busy group waits alone: it does not hold up the other chats' slots.
            await asyncio.sleep(ready - now)
        delay = self.reserve(chat_id) - self._monotonic()
        if delay > 0:
            await asyncio.sleep(delay)

    async def process_request(
        self,
        callback: Callable[..., Coroutine[Any, Any, bool | JSONDict | list[JSONDict]]],
        args: Any,
        kwargs: dict[str, Any],
        endpoint: str,
        data: dict[str, Any],
        rate_limit_args: int | None,
    ) -> bool | JSONDict | list[JSONDict]:
        """Wait for a send slot, then call; wait out a 429 and try again."""
        retries = rate_limit_args if rate_limit_args is not None else self.max_retries
        paced = endpoint in PACED_ENDPOINTS
        chat_id: int | None = None
        with contextlib.suppress(TypeError, ValueError):
            chat_id = int(data.get("chat_id"))  # type: ignore[arg-type]
        for attempt in range(retries + 1):
            if paced:
                await self.wait_turn(chat_id)
            try:
                return await callback(*args, **kwargs)
            except RetryAfter as exc:
                if attempt == retries:
                    raise
                wait = exc.retry_after
                seconds = wait if isinstance(wait, int | float) else wait.total_seconds()
                log.warning("Telegram asked to wait %.1f s (429); retrying", seconds)
                self._paused_until = max(self._paused_until, self._monotonic() + seconds)
                if not paced:
                    await asyncio.sleep(seconds)
        raise AssertionError("unreachable")
