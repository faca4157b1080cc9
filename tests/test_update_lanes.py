"""Updates of different chats run side by side; those of one chat, person or ticket in order."""

from __future__ import annotations

import asyncio
from pathlib import Path
from types import SimpleNamespace
from typing import Any

from telegram import Update

from bot.outcome import UpdateOutcome
from bot.poller import InboxWorker, update_keys
from bot.services.clock import SystemClock
from storage.db import Database
from storage.inbox import InboxRepository

GROUP = -1001
WORKER = 42
RESIDENTS = range(500, 600)


def message(update_id: int, chat_id: int, user_id: int, text: str = "电梯坏了") -> dict[str, Any]:
    chat_type = "private" if chat_id > 0 else "supergroup"
    return {
        "update_id": update_id,
        "message": {
            "message_id": update_id,
            "date": 0,
            "chat": {"id": chat_id, "type": chat_type},
            "from": {"id": user_id, "is_bot": False, "first_name": "某"},
            "text": text,
        },
    }


def press(update_id: int, chat_id: int, user_id: int, data: str) -> dict[str, Any]:
    return {
        "update_id": update_id,
        "callback_query": {
            "id": str(update_id),
            "chat_instance": "1",
            "from": {"id": user_id, "is_bot": False, "first_name": "某"},
            "data": data,
            "message": {
                "message_id": 7,
                "date": 0,
                "chat": {"id": chat_id, "type": "private" if chat_id > 0 else "supergroup"},
                "from": {"id": 1, "is_bot": True, "first_name": "GridBot"},
                "text": "工单",
            },
        },
    }


def test_the_keys_name_the_chat_the_person_and_the_number_on_a_button() -> None:
    assert update_keys(message(1, GROUP, 501)) == {f"chat:{GROUP}", "user:501"}
    assert update_keys(press(2, WORKER, WORKER, "acc:17")) == {
        f"chat:{WORKER}",
        f"user:{WORKER}",
        "n:17",
    }
    member = {"update_id": 3, "my_chat_member": {"chat": {"id": GROUP}, "from": {"id": 9}}}
    assert update_keys(member) == {f"chat:{GROUP}", "user:9"}
    assert update_keys({"update_id": 4, "poll": {"id": "x"}}) == frozenset()
    assert "d:redeem:soap" in update_keys(press(5, 501, 501, "redeem:soap"))


class Recorder:
    """A stand-in for the Application: records the order handlers ran in."""

    def __init__(self) -> None:
        self.bot = None
        self.bot_data = SimpleNamespace()
        self.seen: list[int] = []

    async def process_update(self, update: Update) -> None:
        for _ in range(3):  # a handler awaits (the database, answerCallbackQuery) a few times
            await asyncio.sleep(0)
        self.seen.append(update.update_id)


async def test_a_private_press_overtakes_a_group_burst_and_each_chat_keeps_its_order(
    tmp_path: Path,
) -> None:
    async with Database(tmp_path / "db.sqlite3") as db:
        app = Recorder()
        worker = InboxWorker(app, InboxRepository(db), SystemClock(), UpdateOutcome())  # type: ignore[arg-type]
        burst = [message(100 + i, GROUP, user) for i, user in enumerate(RESIDENTS)]
        presses = [
            press(300, WORKER, WORKER, "acc:5"),
            message(301, GROUP, 501, "#5 怎么样了"),  # same person as the burst's second
            press(302, GROUP, 777, "rate:5:ok"),  # same ticket as the worker's press
        ]
        rows = [(u["update_id"], u) for u in burst + presses]
        await InboxRepository(db).store(rows, SystemClock().now())
        async with worker.running():
            await worker.drain()

        seen = app.seen
        assert sorted(seen) == sorted(u for u, _ in rows)
        group = [u for u in seen if 100 <= u < 200 or u in (301, 302)]
        # One chat in order of arrival, whatever ran beside it.
        assert group == sorted(group)
        # The worker's press waits for a few updates already under way, not for the burst.
        assert seen.index(300) <= worker.max_concurrent
        # The rating of ticket 5 waits for the worker's press on ticket 5.
        assert seen.index(302) > seen.index(300)
        pending = await InboxRepository(db).pending()
        assert pending == []


async def test_one_at_a_time_when_told_so(tmp_path: Path) -> None:
    """max_concurrent=1 is the old single queue: strictly in order of arrival."""
    async with Database(tmp_path / "db.sqlite3") as db:
        app = Recorder()
        worker = InboxWorker(  # type: ignore[arg-type]
            app, InboxRepository(db), SystemClock(), UpdateOutcome(), max_concurrent=1
        )
        rows = [(u, message(u, GROUP if u % 2 else WORKER, 500 + u)) for u in range(1, 21)]
        await InboxRepository(db).store(rows, SystemClock().now())
        async with worker.running():
            await worker.drain()
        assert app.seen == list(range(1, 21))
