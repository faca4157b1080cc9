"""The send pacer: even spacing overall, 20 a minute per group, a busy group holds up no one."""

from __future__ import annotations

import itertools

from bot.handlers.ratelimit import PacedRateLimiter


class Ticker:
    """A monotonic clock the test moves by hand."""

    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_slots_are_evenly_spaced_with_no_initial_burst() -> None:
    tick = Ticker()
    limiter = PacedRateLimiter(30, 20, monotonic=tick)
    slots = [limiter.reserve(-1000 - i) for i in range(31)]
    gaps = [b - a for a, b in itertools.pairwise(slots)]
    assert slots[0] == 100.0
    assert all(abs(g - 1 / 30) < 1e-9 for g in gaps)
    # Any window just under a second (Telegram's, with a margin) holds at most 29 sends.
    assert sum(1 for s in slots if s < 100.0 + 0.95) <= 29


def test_a_group_waits_a_minute_after_twenty_sends_without_holding_up_others() -> None:
    tick = Ticker()
    limiter = PacedRateLimiter(30, 20, monotonic=tick)
    group = -1001
    for _ in range(20):
        assert limiter.group_ready(group, tick.now) <= tick.now
        limiter.reserve(group)
    first = 100.0
    assert limiter.group_ready(group, tick.now) == first + 60.0
    # Another chat is not delayed by the busy group.
    assert limiter.group_ready(-2002, tick.now) == tick.now
    assert limiter.group_ready(555, tick.now) == tick.now
    tick.now = first + 60.0
    assert limiter.group_ready(group, tick.now) <= tick.now
