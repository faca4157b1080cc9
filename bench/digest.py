"""The daily digest to 1,000 groups through the rate limiter, against the emulator's limits.

Figures: digest_s (median of REPEATS: from deciding the 08:30 digests to the last one accepted,
through ScheduleService.run_due, the outbox and drain_outbox with PacedRateLimiter, over HTTP),
digest_floor_s (1,000 / 30 messages per second), digest_vs_floor, digest_429s (429 answers the
emulator gave over all timed runs). For comparison, one run with python-telegram-bot's
AIORateLimiter is described on stderr (its bursts draw 429s against sliding windows).
"""

from __future__ import annotations

import asyncio
import statistics
import tempfile
import time
import tomllib
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

from telegram.ext import AIORateLimiter, BaseRateLimiter, ExtBot

from bench._common import figure, note
from bot.handlers.ratelimit import PacedRateLimiter
from bot.handlers.sending import drain_outbox
from bot.services.bootstrap import Services, build_services
from bot.services.clock import FakeClock
from bot.services.residents import Person
from bot.settings import DEFAULT_CONFIG_PATH
from storage.db import Database
from tgsandbox import Emulator

GROUPS = 1000
PER_SECOND = 30
REPEATS = 3
TZ = ZoneInfo("Asia/Shanghai")
EXAMPLE_GROUPS = (-1001000000001, -1001000000011)  # already in the example file
WORKER = Person(2001, "李娜", is_worker=True)


def _config_text() -> str:
    """The example community with 1,000 bound groups and only the daily digest switched on."""
    text = DEFAULT_CONFIG_PATH.read_text(encoding="utf-8")
    for old, new in (
        ('weekly = "sun 18:00"', 'weekly = "off"'),
        ('monthly = "25 09:00"', 'monthly = "off"'),
        ('reminders = "on"', 'reminders = "off"'),
    ):
        if old not in text:
            raise SystemExit(f"bench/digest: the example config no longer has {old!r}")
        text = text.replace(old, new)
    extra = [
        f'\n[[groups]]\nchat_id = {chat_id}\ntitle = "楼栋群{i}"\ngrids = ["g1"]\n'
        for i, chat_id in enumerate(_extra_groups())
    ]
    return text + "".join(extra)


def _extra_groups() -> list[int]:
    return [-1002000000000 - i for i in range(GROUPS - len(EXAMPLE_GROUPS))]


def _digest_time(day: int) -> datetime:
    """08:30 in Shanghai on 2026-11-(23 + day), as UTC."""
    return datetime(2026, 11, 23, 0, 30, tzinfo=UTC) + timedelta(days=day)


async def _run_once(bot: ExtBot[None], services: Services, clock: FakeClock, day: int) -> float:
    clock.set(_digest_time(day))
    start = time.perf_counter()
    decided = await services.schedule.run_due()
    queued = sum(1 for d in decided if d.outcome == "queued")
    if queued != GROUPS:
        raise SystemExit(f"bench/digest: expected {GROUPS} digests queued, got {queued}")
    while await services.outbox.count_pending():
        if not await drain_outbox(bot, services, limit=200):
            raise SystemExit("bench/digest: the outbox stopped draining")
    return time.perf_counter() - start


async def _bot(emu: Emulator, limiter: BaseRateLimiter[int]) -> ExtBot[None]:
    bot: ExtBot[None] = ExtBot(
        emu.token,
        base_url=emu.base_url,
        base_file_url=emu.base_file_url,
        rate_limiter=limiter,
    )
    await bot.initialize()
    return bot


async def _main() -> None:
    async with Emulator() as emu:
        emu.add_user(WORKER.user_id, WORKER.name)
        await emu.open_private(WORKER.user_id)  # so the warm-up may write to them
        for chat_id in (*EXAMPLE_GROUPS, *_extra_groups()):
            emu.add_group(chat_id, f"群{chat_id}", supergroup=True)
        with tempfile.TemporaryDirectory(prefix="gridbot-bench-digest-") as folder:
            config_path = Path(folder) / "community.toml"
            config_path.write_text(_config_text(), encoding="utf-8")
            config = tomllib.loads(config_path.read_text(encoding="utf-8"))
            db = Database(Path(folder) / "bench.sqlite3")
            await db.open()
            clock = FakeClock(_digest_time(0) - timedelta(hours=1))
            try:
                services = await build_services(config, str(config_path), db, clock, TZ)
                await services.tasks.publish(WORKER, title="清理楼道杂物", points=10)
                await services.schedule.run_due()  # decide yesterday's (missed) posts first
                emu.set_rate_limits(True, per_second=PER_SECOND, per_group_per_minute=20)

                paced = await _bot(emu, PacedRateLimiter(PER_SECOND, 20))
                try:
                    for _ in range(PER_SECOND):  # warm up the HTTP pool and the pacer
                        await paced.send_message(WORKER.user_id, "预热")
                    await asyncio.sleep(1.0)  # let the emulator's one-second window empty
                    before = emu.stats.too_many_requests
                    times = []
                    for day in range(1, REPEATS + 1):
                        took = await _run_once(paced, services, clock, day)
                        note(f"digest run {day}: {GROUPS} groups in {took:.2f} s")
                        times.append(took)
                        await asyncio.sleep(1.0)
                    paced_429s = emu.stats.too_many_requests - before
                finally:
                    await paced.shutdown()

                aio = await _bot(emu, AIORateLimiter(max_retries=5))
                try:
                    before = emu.stats.too_many_requests
                    took = await _run_once(aio, services, clock, REPEATS + 1)
                    note(
                        f"for comparison, AIORateLimiter: {took:.2f} s, "
                        f"{emu.stats.too_many_requests - before} answers 429"
                    )
                finally:
                    await aio.shutdown()
            finally:
                await db.close()

    digest_s = statistics.median(times)
    floor = GROUPS / PER_SECOND
    figure("digest_s", digest_s, "s")
    figure("digest_floor_s", floor, "s")
    figure("digest_vs_floor", digest_s / floor, "x")
    figure("digest_429s", paced_429s, "count")


def main() -> None:
    """Run the benchmark."""
    asyncio.run(_main())


if __name__ == "__main__":
    main()
