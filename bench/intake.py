"""Intake throughput: complaints through the whole path a polled update takes, beside an echo.

Both runs use the same path — getUpdates answered by a recording request layer (no network),
the inbox write, DurablePoller, the real Application — and differ only in the handlers: the
real ones (classifier, routing, tickets in a SQLite file database, replies, worker cards) or
one that only echoes. Figures: echo_per_s, intake_per_s, intake_vs_echo, intake_p50_ms,
intake_p99_ms.
"""

from __future__ import annotations

import asyncio
import csv
import json
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

from telegram import Update
from telegram.ext import ContextTypes, MessageHandler, filters
from telegram.request import BaseRequest, RequestData

from bench._common import figure, note
from bot.app import build_application, start_app, stop_app
from bot.poller import DurablePoller
from bot.settings import load_settings

REPO = Path(__file__).resolve().parent.parent
TOKEN = "123456789:BENCHbenchBENCHbenchBENCHbench12"
GROUP = -1001000000001
BATCH = 100
TOTAL = 2000
LATENCY_SAMPLES = 300


class RecordingRequest(BaseRequest):
    """Answers the Bot API methods the bot calls, from memory, and counts them."""

    def __init__(self) -> None:
        self.queue: list[dict[str, Any]] = []
        self.calls = 0
        self._message_id = 10_000

    async def initialize(self) -> None:
        return None

    async def shutdown(self) -> None:
        return None

    @property
    def read_timeout(self) -> float | None:
        return 1.0

    async def do_request(
        self,
        url: str,
        method: str,
        request_data: RequestData | None = None,
        read_timeout: Any = None,
        write_timeout: Any = None,
        connect_timeout: Any = None,
        pool_timeout: Any = None,
    ) -> tuple[int, bytes]:
        self.calls += 1
        name = url.rsplit("/", 1)[-1]
        params = request_data.parameters if request_data else {}
        result: Any = True
        if name == "getMe":
            result = {
                "id": 123456789,
                "is_bot": True,
                "first_name": "网格助手",
                "username": "gridbot_bench_bot",
                "can_join_groups": True,
                "can_read_all_group_messages": True,
                "supports_inline_queries": False,
            }
        elif name == "getUpdates":
            result, self.queue = self.queue[:BATCH], self.queue[BATCH:]
        elif name in ("sendMessage", "sendPhoto", "editMessageText"):
            self._message_id += 1
            chat_id = int(params.get("chat_id", 0))
            result = {
                "message_id": self._message_id,
                "date": int(time.time()),
                "chat": {"id": chat_id, "type": "private" if chat_id > 0 else "supergroup"},
                "from": {"id": 123456789, "is_bot": True, "first_name": "网格助手"},
                "text": str(params.get("text", "")),
            }
        return 200, json.dumps({"ok": True, "result": result}).encode()


def complaints() -> list[str]:
    """Complaint texts from dev.tsv (gold label not none), cycled."""
    rows = csv.DictReader(
        (REPO / "eval" / "dev.tsv").open(encoding="utf-8"), delimiter="\t", quoting=csv.QUOTE_NONE
    )
    return [r["text"] for r in rows if r["labels"] != "none"]


def updates(texts: list[str], first_id: int, count: int) -> list[dict[str, Any]]:
    """Group messages from many different residents."""
    now = int(time.time())
    out = []
    for i in range(count):
        uid = first_id + i
        out.append(
            {
                "update_id": uid,
                "message": {
                    "message_id": uid,
                    "date": now,
                    "chat": {"id": GROUP, "type": "supergroup", "title": "幸福里业主群"},
                    "from": {"id": 500_000 + uid, "is_bot": False, "first_name": f"居民{uid}"},
                    "text": texts[i % len(texts)],
                },
            }
        )
    return out


async def echo(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    message = update.effective_message
    if message is not None and message.text:
        await context.bot.send_message(message.chat_id, message.text)


async def run(kind: str, texts: list[str], folder: Path) -> tuple[float, list[float]]:
    """Push TOTAL updates through the path; return (per second, latencies in ms)."""
    env = {
        "GRIDBOT_TOKEN": TOKEN,
        "GRIDBOT_DB": str(folder / f"{kind}.sqlite3"),
        "GRIDBOT_CONFIG": str(REPO / "examples" / "community.toml"),
    }
    request = RecordingRequest()
    app = build_application(
        load_settings(env), request=request, get_updates_request=request, rate_limiter=False
    )
    if kind == "echo":
        app.handlers.clear()
        app.add_handler(MessageHandler(filters.TEXT, echo))
    await start_app(app)
    try:
        state = app.bot_data
        assert state.inbox is not None
        poller = DurablePoller(app, state.inbox, state.clock, state.outcome, poll_timeout=0)
        async with poller.running():
            # Warm up: the first messages pay for imports and caches.
            request.queue = updates(texts, 1, 50)
            offset = await poller.fetch_once(None)
            await poller.drain()
            # Throughput: batches as Telegram delivers them.
            request.queue = updates(texts, 1000, TOTAL)
            started = time.perf_counter()
            while request.queue:
                offset = await poller.fetch_once(offset)
            await poller.fetch_once(offset)  # confirms the last batch, as the real loop does
            await poller.drain()
            per_s = TOTAL / (time.perf_counter() - started)
            # Latency: one complaint at a time, from getUpdates to delivered.
            latencies: list[float] = []
            for uid in range(100_000, 100_000 + LATENCY_SAMPLES):
                request.queue = updates(texts, uid, 1)
                begin = time.perf_counter()
                offset = await poller.fetch_once(offset)
                await poller.drain()
                latencies.append((time.perf_counter() - begin) * 1000)
        return per_s, latencies
    finally:
        await stop_app(app)


def main() -> None:
    texts = complaints()
    with tempfile.TemporaryDirectory(prefix="gridbot-bench-") as tmp:
        folder = Path(tmp)
        rounds: dict[str, list[float]] = {"echo": [], "intake": []}
        latencies: list[float] = []
        for _ in range(3):  # side by side, alternating, median of three
            for kind in ("echo", "intake"):
                per_s, lat = asyncio.run(run(kind, texts, folder / f"{kind}-{len(rounds[kind])}"))
                rounds[kind].append(per_s)
                if kind == "intake":
                    latencies.extend(lat)
                note(f"{kind}: {per_s:.0f} updates/s")
        echo_per_s = statistics.median(rounds["echo"])
        intake_per_s = statistics.median(rounds["intake"])
        latencies.sort()
        figure("echo_per_s", echo_per_s, "updates/s")
        figure("intake_per_s", intake_per_s, "complaints/s")
        figure("intake_vs_echo", intake_per_s / echo_per_s, "x")
        figure("intake_p50_ms", latencies[len(latencies) // 2], "ms")
        figure("intake_p99_ms", latencies[int(len(latencies) * 0.99)], "ms")


if __name__ == "__main__":
    main()
