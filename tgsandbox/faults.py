"""Telegram misbehaving on purpose: errors, slow answers and send limits a test switches on.

A fault takes effect before the method does, so a failed call changes nothing (as on
Telegram). A delay holds the call before it takes effect, or (``answer_only``) after: the message
is sent and only Telegram's answer is late, the moment a bot killed mid-send cannot know about.
``Emulator.fail_next``, ``set_delay`` and ``set_rate_limits`` are the tests' handles.
"""

from __future__ import annotations

import math
import time
from collections import deque
from dataclasses import dataclass

from tgsandbox.model import ApiError
from tgsandbox.params import Params


@dataclass
class Fault:
    """The next `times` calls of a method answer `error` (only those for `chat_id`, if set)."""

    error: ApiError
    times: int
    chat_id: int | None = None  # only calls for this chat fail


class Faults:
    """The faults, delays and send limits in force, by canonical method name."""

    def __init__(self) -> None:
        self._faults: dict[str, list[Fault]] = {}
        self._delays: dict[str, float] = {}
        self._late_answers: dict[str, float] = {}
        self.answers_held = 0  # calls that took effect and whose answer was then held
        self._rate_limits = False
        self._per_second = 30
        self._per_group_minute = 20
        self._global_sends: deque[float] = deque()
        self._group_sends: dict[int, deque[float]] = {}

    # ── what tests switch on ──────────────────────────────────────────────────────────────────

    def fail_next(self, method: str, fault: Fault) -> None:
        """Queue a fault for a method (canonical name)."""
        self._faults.setdefault(method, []).append(fault)

    def set_delay(self, method: str, seconds: float, *, answer_only: bool = False) -> None:
        """Answer a method slowly (0 clears): before it takes effect, or only its answer."""
        delays = self._late_answers if answer_only else self._delays
        if seconds > 0:
            delays[method] = seconds
        else:
            delays.pop(method, None)

    def set_rate_limits(self, on: bool, per_second: int, per_group_per_minute: int) -> None:
        """Enforce Telegram's send limits or switch them off."""
        self._rate_limits = on
        self._per_second = per_second
        self._per_group_minute = per_group_per_minute
        self._global_sends.clear()
        self._group_sends.clear()

    # ── what the methods ask ──────────────────────────────────────────────────────────────────

    def delay(self, method: str) -> float:
        """Return how long a call of this method waits before it takes effect."""
        return self._delays.get(method, 0.0)

    def late_answer(self, method: str) -> float:
        """Return how long the answer of a call that took effect is held back."""
        return self._late_answers.get(method, 0.0)

    def raise_fault(self, method: str, params: Params) -> None:
        """Raise the first queued fault that applies to this call, using it up."""
        faults = self._faults.get(method)
        if not faults:
            return
        chat = params.get("chat_id")
        for fault in faults:
            if fault.chat_id is None or str(fault.chat_id) == str(chat):
                break
        else:
            return
        fault.times -= 1
        if fault.times <= 0:
            faults.remove(fault)
        raise ApiError(fault.error.error_code, fault.error.description, fault.error.parameters)

    def check_rate(self, chat_id: int) -> None:
        """Refuse a send over Telegram's limits (sliding windows with a 5% grace)."""
        if not self._rate_limits:
            return
        now = time.monotonic()
        windows: list[tuple[deque[float], int, float]] = [
            (self._global_sends, self._per_second, 0.95)
        ]
        if chat_id < 0:
            group = self._group_sends.setdefault(chat_id, deque())
            windows.append((group, self._per_group_minute, 57.0))
        for sends, limit, span in windows:
            while sends and sends[0] <= now - span:
                sends.popleft()
            if len(sends) >= limit:
                retry = max(1, math.ceil(sends[0] + span - now))
                raise ApiError(
                    429, f"Too Many Requests: retry after {retry}", {"retry_after": retry}
                )
        for sends, _limit, _span in windows:
            sends.append(now)
