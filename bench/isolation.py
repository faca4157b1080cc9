"""Isolation: a private button press answered while one group takes a burst of complaints.

100 complaints arrive in one group at once: their replies queue behind Telegram's 20 a minute
for that group (the bot's own pacer, as in production). Meanwhile a person presses buttons in a
private chat; each press goes through the whole path (inbox, one transaction, the answer). The
figure is the time from the press being fetched to its answer. Figures: isolation_p50_ms,
isolation_p99_ms, and group_sent_during (how few of the group's replies had gone out).
"""

from __future__ import annotations

import asyncio
import tempfile
import time
from pathlib import Path
from typing import Any

from telegram.request import RequestData

from bench._common import figure, note
from bench.intake import GROUP, REPO, TOKEN, RecordingRequest, complaints, updates
from bot.app import build_application, start_app, stop_app
from bot.poller import DurablePoller
from bot.settings import load_settings

BURST = 100
PRESSES = 60
PRIVATE = 7001


class AnsweringRequest(RecordingRequest):
    """The recording layer, noting when each press was answered and each group send made."""

    def __init__(self) -> None:
        super().__init__()
        self.answered: dict[str, float] = {}
        self.group_sends = 0

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
        name = url.rsplit("/", 1)[-1]
        params = request_data.parameters if request_data else {}
        if name == "answerCallbackQuery":
            self.answered[str(params.get("callback_query_id"))] = time.perf_counter()
        elif name == "sendMessage" and int(params.get("chat_id", 0)) == GROUP:
            self.group_sends += 1
        return await super().do_request(url, method, request_data)


def press(update_id: int) -> dict[str, Any]:
    """A private button press (a card's 接单 by someone who may not act: refused at once)."""
    return {
        "update_id": update_id,
        "callback_query": {
            "id": f"q{update_id}",
            "from": {"id": PRIVATE, "is_bot": False, "first_name": "居民"},
            "chat_instance": "bench",
            "data": "acc:999999",
            "message": {
                "message_id": 1,
                "date": int(time.time()),
                "chat": {"id": PRIVATE, "type": "private", "first_name": "居民"},
                "from": {"id": 123456789, "is_bot": True, "first_name": "网格助手"},
                "text": "工单",
            },
        },
    }


async def run(folder: Path) -> tuple[list[float], int]:
    env = {
        "GRIDBOT_TOKEN": TOKEN,
        "GRIDBOT_DB": str(folder / "isolation.sqlite3"),
        "GRIDBOT_CONFIG": str(REPO / "examples" / "community.toml"),
    }
    request = AnsweringRequest()
    app = build_application(load_settings(env), request=request, get_updates_request=request)
    await start_app(app)
    try:
        state = app.bot_data
        assert state.inbox is not None
        poller = DurablePoller(app, state.inbox, state.clock, state.outcome, poll_timeout=0)
        async with poller.running():
            request.queue = updates(complaints(), 1000, BURST)
            offset = await poller.fetch_once(None)
            fetched: dict[str, float] = {}
            for n in range(PRESSES):
                uid = 10_000 + n
                request.queue = [press(uid)]
                offset = await poller.fetch_once(offset)
                fetched[f"q{uid}"] = time.perf_counter()
                await asyncio.sleep(0.05)
            for _ in range(3000):  # every press answered (or 30 s)
                if len(request.answered) >= PRESSES:
                    break
                await asyncio.sleep(0.01)
            latencies = [(request.answered[q] - t) * 1000 for q, t in fetched.items()]
            group_sent = request.group_sends
        return sorted(latencies), group_sent
    finally:
        await stop_app(app)  # the group's paced replies stay in the outbox


def main() -> None:
    with tempfile.TemporaryDirectory(prefix="gridbot-bench-") as tmp:
        latencies, group_sent = asyncio.run(run(Path(tmp)))
    note(f"{len(latencies)} presses answered; the group got {group_sent} of its replies meanwhile")
    figure("isolation_p50_ms", latencies[len(latencies) // 2], "ms")
    figure(
        "isolation_p99_ms", latencies[min(len(latencies) - 1, int(len(latencies) * 0.99))], "ms"
    )
    figure("group_sent_during", group_sent, "messages")


if __name__ == "__main__":
    main()
