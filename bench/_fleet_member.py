"""One instance of a fleet for bench/fleet.py: the real bot in webhook mode on PostgreSQL.

Run as `python -m bench._fleet_member URL CONFIG`; it takes commands on standard input and
answers with JSON lines on standard output (its events, with time.time()):

    accept FIRST COUNT STRIDE OFFSET CHATS   store the updates FIRST+i (i % STRIDE == OFFSET),
                                             as its webhook would, then say "accepted"
    wait FIRST LAST                          say "done" once every update in FIRST..LAST is
                                             settled and the outbox is empty (any instance's)

and tells on its own: "ready" (started and warmed up), "lead" (it took the lead), "sent" (its
first delivery after taking the lead), "job" (the schedule job ran here). The Bot API is the
intake benchmark's recording layer (no network), so only the bot and the database are timed.
"""

from __future__ import annotations

import asyncio
import json
import sys
import time
from datetime import UTC, datetime
from typing import Any

from telegram import Update
from telegram.request import RequestData

from bench.intake import TOKEN, RecordingRequest, complaints
from bot.app import build_application, start_app, stop_app
from bot.handlers import jobs
from bot.settings import load_settings
from storage.fleet import FleetInbox

SECRET = "bench-fleet-secret-0123456789abcdef"


def emit(event: str, **fields: Any) -> None:
    print(json.dumps({"event": event, "t": time.time(), **fields}), flush=True)


class TellingRequest(RecordingRequest):
    """The recording layer, telling the first delivery made after this instance took the lead."""

    def __init__(self) -> None:
        super().__init__()
        self.watch = False

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
        if self.watch and url.endswith("/sendMessage"):
            self.watch = False
            emit("sent")
        return await super().do_request(url, method, request_data)


def group_chat(index: int) -> int:
    return -1002000000000 - index


def complaint(texts: list[str], update_id: int, chats: int) -> dict[str, Any]:
    """A group complaint from one of many residents, in one of `chats` groups."""
    return {
        "update_id": update_id,
        "message": {
            "message_id": update_id,
            "date": int(time.time()),
            "chat": {"id": group_chat(update_id % chats), "type": "supergroup", "title": "业主群"},
            "from": {"id": 500_000 + update_id, "is_bot": False, "first_name": "居民"},
            "text": texts[update_id % len(texts)],
        },
    }


async def main(url: str, config: str) -> None:
    observed = jobs.schedule_job

    async def schedule_job(context: Any) -> None:
        await observed(context)
        emit("job", name="schedule")

    jobs.schedule_job = schedule_job  # what schedule_jobs registers when this instance leads
    env = {
        "GRIDBOT_TOKEN": TOKEN,
        "GRIDBOT_DB": url,
        "GRIDBOT_CONFIG": config,
        "GRIDBOT_ALLOW_EXAMPLE": "1",
        "GRIDBOT_WEBHOOK_URL": "https://bench.example.org/hook",
        "GRIDBOT_WEBHOOK_SECRET": SECRET,
    }
    request = TellingRequest()
    app = build_application(
        load_settings(env, webhook=True), request=request, get_updates_request=request,
        rate_limiter=False,
    )  # fmt: skip
    texts = complaints()
    await start_app(app)
    try:
        state = app.bot_data
        fleet = state.fleet
        assert fleet is not None and state.inbox is not None
        claims: FleetInbox = fleet.claims
        worker = fleet.worker(app, state.inbox, state.clock, state.outcome)
        leadership = fleet.leadership

        async def tell_lead() -> None:
            leading = False
            while True:
                changed = leadership.changed
                if leadership.leading and not leading:  # it may have led before this started
                    request.watch = True
                    emit("lead")
                leading = leadership.leading
                await changed.wait()

        teller = asyncio.create_task(tell_lead())
        async with worker.running():
            loop = asyncio.get_running_loop()
            reader = asyncio.StreamReader()
            await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader), sys.stdin)
            emit("ready")
            while line := (await reader.readline()).decode().split():
                if line[0] == "accept":
                    first, count, stride, offset, chats = map(int, line[1:])
                    ids = [first + i for i in range(count) if i % stride == offset]
                    for update_id in ids:  # one webhook request each
                        payload = complaint(texts, update_id, chats)
                        await worker.accept([Update.de_json(payload, app.bot)])
                    emit("accepted", count=len(ids))
                elif line[0] == "wait":
                    first, last = int(line[1]), int(line[2])
                    # Polled: the other instances' work shows only in the database.
                    while not await _settled(claims, first, last):  # noqa: ASYNC110
                        await asyncio.sleep(0.02)
                    emit("done")
        teller.cancel()
    finally:
        await stop_app(app)


async def _settled(claims: FleetInbox, first: int, last: int) -> bool:
    async with claims.db.pool.acquire() as conn:
        left = await conn.fetchval(
            "SELECT (SELECT COUNT(*) FROM inbox WHERE status = 'pending'"
            " AND update_id BETWEEN $1 AND $2)"
            " + (SELECT COUNT(*) FROM outbox WHERE status = 'pending' AND not_before <= $3)",
            first,
            last,
            datetime.now(UTC).isoformat(),
        )
    return int(left) == 0


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1], sys.argv[2]))
