"""Several instances in webhook mode sharing one PostgreSQL (bot/fleet.py).

Two instances of the real bot serve webhooks on one database; the test plays Telegram behind a
load balancer, posting each update to one of them. Every update is processed once, each chat's
updates in their order, every message delivered once, by the one leader; when the leader goes
(its connection cut, or the process killed), the other delivers and runs the schedules.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import re
import signal
import socket
import subprocess
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import aiohttp
import asyncpg
import pytest

from bot.app import build_application
from bot.context import GridApp
from bot.poller import update_keys
from bot.services.clock import FakeClock
from bot.services.errors import DomainError
from bot.services.residents import Person
from bot.settings import load_settings
from bot.webhook import SECRET_HEADER, serve_webhook
from storage.db import AnotherInstanceError, InstanceLock
from storage.fleet import LEADER_LOCK_CLASS, FleetInbox
from storage.inbox import InboxRepository
from storage.pg import PgDatabase
from storage.store import Store
from tests.botkit import (
    DUTY,
    GROUP,
    GROUP_G1,
    NEIGHBOUR,
    RESIDENT,
    SECRETARY,
    WORKER_LI,
    WORKER_WANG,
    WORKER_ZHANG,
    bot_env,
    gridbot_command,
    observe_errors,
    populate,
    subprocess_env,
)
from tests.test_bot_street import GROUP_B, populate_street, street_folder
from tgsandbox import Emulator
from tgsandbox.model import BotMessage

SECRET = "fleet-secret-Token_0123456789abcdef"
PUBLIC_URL = "https://bot.example.org/telegram/hook"
STAFF = (WORKER_LI, WORKER_ZHANG, WORKER_WANG, DUTY, SECRETARY)
# Each (problem, building) once: no two complaints fold into one ticket or point at another.
PROBLEMS = (
    "{}号楼电梯又坏了，关人了！快来人",
    "{}号楼楼道灯坏了一个月了，晚上太黑",
    "{}号楼下水道堵了，污水都冒出来了",
    "{}号楼楼下每天晚上广场舞太吵了，能不能管管",
    "{}号楼门口的共享单车堆成山了，路都走不了",
    "{}号楼有人在消防通道里堆放杂物",
)
COMPLAINTS = tuple(p.format(4) for p in PROBLEMS)
MONDAY_8AM = datetime(2026, 11, 23, 0, 0, tzinfo=UTC)  # 08:00 in Shanghai
DIGEST = "📋 每日简报"


def fleet_env(emu: Emulator, tmp_path: Path, pg_url: str, **extra: str) -> dict[str, str]:
    env = bot_env(emu, tmp_path)
    env.update(
        GRIDBOT_DB=pg_url, GRIDBOT_WEBHOOK_URL=PUBLIC_URL, GRIDBOT_WEBHOOK_SECRET=SECRET, **extra
    )
    return env


class Telegram:
    """Posts updates as Telegram does, numbering them, to whichever instance it is told."""

    def __init__(self, session: aiohttp.ClientSession) -> None:
        self.session = session
        self.next_id = 700_000_001

    async def post(self, url: str, message: dict[str, Any]) -> int:
        update = {"update_id": self.next_id, "message": message}
        self.next_id += 1
        async with self.session.post(url, json=update, headers={SECRET_HEADER: SECRET}) as r:
            assert r.status == 200
        return int(update["update_id"])


@dataclass
class Instance:
    app: GridApp
    task: asyncio.Task[None]
    stop: asyncio.Event
    errors: list[tuple[int | None, BaseException]] = field(default_factory=list)

    @property
    def url(self) -> str:
        server = self.app.bot_data.webhook
        assert server is not None
        return f"http://127.0.0.1:{server.port}{server.path}"

    @property
    def leading(self) -> bool:
        fleet = self.app.bot_data.fleet
        return fleet is not None and fleet.leadership.leading


@contextlib.asynccontextmanager
async def instance(env: dict[str, str], clock: FakeClock | None = None) -> AsyncIterator[Instance]:
    """Run one instance of the real bot in webhook mode (a free port) until the block ends."""
    app = build_application(load_settings(env, webhook=True), clock=clock)
    stop = asyncio.Event()
    task = asyncio.create_task(serve_webhook(app, stop, port=0))
    running = Instance(app, task, stop)
    observe_errors(app, lambda uid, err: running.errors.append((uid, err)))
    try:
        for _ in range(300):
            if app.bot_data.webhook is not None or task.done():
                break
            await asyncio.sleep(0.1)
        if task.done():
            task.result()
        yield running
    finally:
        stop.set()
        await asyncio.wait_for(task, timeout=30)
    failures = [(u, e) for u, e in running.errors if not isinstance(e, DomainError)]
    assert not failures, f"handler error on update {failures[0][0]}: {failures[0][1]!r}"


async def until(predicate: Callable[[], bool], timeout: float = 30.0) -> None:  # noqa: ASYNC109
    """Wait for something other processes (the bot instances) make true."""
    async with asyncio.timeout(timeout):
        while not predicate():  # noqa: ASYNC110 - polled: no event to wait on across processes
            await asyncio.sleep(0.05)


async def sql(url: str, query: str, *args: Any) -> list[asyncpg.Record]:
    conn = await asyncpg.connect(url)
    try:
        return list(await conn.fetch(query, *args))
    finally:
        await conn.close()


async def start_privately(emu: Emulator, telegram: Telegram, url: str, *people: int) -> None:
    for person in people:
        before = len(emu.sent(person))
        await telegram.post(url, await emu.open_private(person))
        await emu.wait_for(person, after=before, timeout=30)


def all_answered(emu: Emulator, asked: dict[int, list[int]]) -> bool:
    """Whether the bot has replied to every message asked in each chat."""
    return all(
        len([m for m in emu.sent(chat) if m.reply_to_message_id in ids]) >= len(ids)
        for chat, ids in asked.items()
    )


def numbers_in_order(replies: list[BotMessage], asked: list[int]) -> list[int]:
    """The ticket numbers the bot told, in the order the complaints were sent."""
    by_question = {m.reply_to_message_id: m for m in replies if "#" in m.text}
    numbers = []
    for message_id in asked:
        found = re.search(r"#(\d+)", by_question[message_id].text)
        assert found is not None
        numbers.append(int(found.group(1)))
    return numbers


async def test_two_instances_process_every_update_once_in_each_chats_order(
    tmp_path: Path, pg_url: str
) -> None:
    async with Emulator(privacy_mode=False) as emu:
        populate(emu)
        env = fleet_env(emu, tmp_path, pg_url)
        async with (
            instance(env) as first,
            instance(env) as second,
            aiohttp.ClientSession() as session,
        ):
            await until(lambda: first.leading or second.leading)
            assert not (first.leading and second.leading)
            telegram = Telegram(session)
            urls = [first.url, second.url]
            await start_privately(emu, telegram, first.url, *STAFF)
            # Complaints in two groups from two people, round robin over the instances: the
            # chats' lanes and the people's cross.
            buildings = {GROUP: (6, 7, 8, 9), GROUP_G1: (1, 2, 3, 5)}
            asked: dict[int, list[int]] = {GROUP: [], GROUP_G1: []}
            posted = 0
            for round_, problem in enumerate(PROBLEMS):
                for chat in (GROUP, GROUP_G1):
                    person = (RESIDENT, NEIGHBOUR)[(round_ + (chat == GROUP)) % 2]
                    text = problem.format(buildings[chat][round_ % 4])
                    message = await emu.send_text(chat, person, text)
                    await telegram.post(urls[posted % 2], message)
                    asked[chat].append(int(message["message_id"]))
                    posted += 1
            await until(lambda: all_answered(emu, asked), timeout=90)
            done = await sql(pg_url, "SELECT status, claimed_by FROM inbox")
            assert {r["status"] for r in done} == {"done"}
            # Both instances ran updates; the tickets are one per complaint, no more.
            assert len({r["claimed_by"] for r in done}) == 2
            tickets = await sql(pg_url, "SELECT COUNT(*) AS n FROM tickets")
            assert tickets[0]["n"] == posted
            for chat, ids in asked.items():
                replies = [m for m in emu.sent(chat) if m.reply_to_message_id in ids]
                assert len(replies) == len(ids), chat  # each answered once
                numbers = numbers_in_order(replies, ids)
                assert numbers == sorted(numbers), f"chat {chat} out of order: {numbers}"
            sent = await sql(
                pg_url, "SELECT COUNT(*) AS n FROM outbox WHERE status != 'sent' OR resent = 1"
            )
            assert sent[0]["n"] == 0  # every message delivered, none twice


async def test_a_polling_instance_and_a_fleet_never_share_a_database(
    tmp_path: Path, pg_url: str
) -> None:
    async with Emulator() as emu:
        populate(emu)
        env = fleet_env(emu, tmp_path, pg_url)
        async with instance(env):
            polling = build_application(load_settings(env))
            with pytest.raises(AnotherInstanceError, match="webhook instances are already"):
                await polling.initialize()
                try:
                    assert polling.post_init is not None
                    await polling.post_init(polling)
                finally:
                    await polling.shutdown()


async def _publish_task(app: GridApp) -> None:
    li = Person(WORKER_LI, "李娜", is_worker=True)
    await app.bot_data.require_services().tasks.publish(li, title="清理楼道杂物", points=10)


async def test_when_the_leader_loses_its_connection_the_other_delivers_and_runs_schedules(
    tmp_path: Path, pg_url: str
) -> None:
    clock = FakeClock(MONDAY_8AM)
    async with Emulator(privacy_mode=False) as emu:
        populate(emu)
        env = fleet_env(emu, tmp_path, pg_url)
        async with instance(env, clock) as first, aiohttp.ClientSession() as session:
            await until(lambda: first.leading)
            async with instance(env, clock) as second:
                telegram = Telegram(session)
                await start_privately(emu, telegram, second.url, *STAFF)
                await _publish_task(second.app)
                assert not second.leading
                # The leader's lock connection is cut (a network fault, a killed backend).
                rows = await sql(
                    pg_url,
                    "SELECT pg_terminate_backend(pid) FROM pg_locks"
                    " WHERE locktype = 'advisory' AND classid = $1 AND granted",
                    LEADER_LOCK_CLASS,
                )
                assert len(rows) == 1
                await until(lambda: second.leading and not first.leading)
                # The digest is due at 08:30: the new leader's schedule job posts it, once.
                clock.set(MONDAY_8AM + timedelta(minutes=31))
                digest = await emu.wait_for(GROUP, lambda m: m.text.startswith(DIGEST), timeout=30)
                assert "清理楼道杂物" in digest.text
                # And it delivers what either instance queues.
                before = len(emu.sent(GROUP))
                await telegram.post(first.url, await emu.send_text(GROUP, RESIDENT, COMPLAINTS[0]))
                await emu.wait_for(GROUP, lambda m: "#1" in m.text, after=before, timeout=30)
                await asyncio.sleep(1.5)  # a second leader would have posted by now
                assert len([m for m in emu.sent(GROUP) if m.text.startswith(DIGEST)]) == 1


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class Process:
    proc: subprocess.Popen[bytes]
    port: int
    log: Path

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/telegram/hook"

    def said(self, words: str) -> bool:
        return words in self.log.read_text(encoding="utf-8", errors="replace")


def spawn(env: dict[str, str], tmp_path: Path, name: str) -> Process:
    port = _free_port()
    log = tmp_path / f"{name}.log"
    run_env = subprocess_env({**env, "GRIDBOT_WEBHOOK_PORT": str(port)})
    with log.open("wb") as out:
        proc = subprocess.Popen(
            [*gridbot_command(), "run", "--webhook"],
            env=run_env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    return Process(proc, port, log)


async def test_the_leader_killed_mid_run_loses_nothing_and_doubles_nothing(
    tmp_path: Path, pg_url: str
) -> None:
    async with Emulator(privacy_mode=False) as emu:
        populate(emu)
        env = fleet_env(emu, tmp_path, pg_url)
        first = spawn(env, tmp_path, "first")
        second: Process | None = None
        try:
            await until(lambda: first.said("this instance leads"), timeout=60)
            second = spawn(env, tmp_path, "second")
            await until(lambda: second is not None and second.said("takes webhooks"), timeout=60)
            async with aiohttp.ClientSession() as session:
                telegram = Telegram(session)
                await start_privately(emu, telegram, second.url, *STAFF)
                # Complaints in both groups, over both instances, from two people.
                posted = 0
                for index, problem in enumerate(PROBLEMS):
                    person = (RESIDENT, NEIGHBOUR)[index % 2]
                    chat, building = (GROUP, 7) if index % 2 else (GROUP_G1, 4)
                    message = await emu.send_text(chat, person, problem.format(building))
                    await telegram.post((first, second)[index % 2].url, message)
                    posted += 1
                # Killed mid-run: updates it claimed may be unfinished, messages undelivered.
                os.kill(first.proc.pid, signal.SIGKILL)
                first.proc.wait(timeout=10)
                for problem, building in zip(PROBLEMS[:2], (2, 3), strict=True):
                    message = await emu.send_text(GROUP_G1, NEIGHBOUR, problem.format(building))
                    await telegram.post(second.url, message)
                    posted += 1
                await until(lambda: second is not None and second.said("this instance leads"))

                def cards() -> list[int]:
                    found = []
                    for worker in (WORKER_LI, WORKER_ZHANG, WORKER_WANG):
                        for m in emu.sent(worker):
                            number = re.search(r"工单 #(\d+)", m.text)
                            if number is not None and m.reply_markup:
                                found.append(int(number.group(1)))
                    return found

                await until(lambda: len(set(cards())) >= posted, timeout=90)
            statuses = await sql(pg_url, "SELECT status FROM inbox")
            assert {r["status"] for r in statuses} == {"done"}  # nothing lost
            tickets = await sql(pg_url, "SELECT COUNT(*) AS n FROM tickets")
            assert tickets[0]["n"] == posted  # nothing processed twice
            for _ in range(300):  # the group's replies follow the cards; the leader sends all
                outbox = await sql(
                    pg_url,
                    "SELECT COUNT(*) FILTER (WHERE status = 'pending') AS pending,"
                    " COUNT(*) FILTER (WHERE resent = 1) AS resent FROM outbox",
                )
                if outbox[0]["pending"] == 0:
                    break
                await asyncio.sleep(0.1)
            assert outbox[0]["pending"] == 0
            # At least once: only a message the killed leader was sending may arrive twice.
            assert sorted(set(cards())) == list(range(1, posted + 1))
            assert len(cards()) - posted <= outbox[0]["resent"]
        finally:
            for process in (first, second):
                if process is not None and process.proc.poll() is None:
                    process.proc.send_signal(signal.SIGTERM)
                    try:
                        process.proc.wait(timeout=30)
                    except subprocess.TimeoutExpired:
                        process.proc.kill()


# ── claims and the instance lock, store level ──


def _update(update_id: int, chat: int, user: int) -> tuple[int, dict[str, Any], frozenset[str]]:
    payload = {
        "update_id": update_id,
        "message": {"message_id": update_id, "chat": {"id": chat}, "from": {"id": user}},
    }
    return update_id, payload, update_keys(payload)


async def test_claims_keep_each_lane_with_one_instance_and_take_over_a_dead_ones(
    pg_url: str,
) -> None:
    now = datetime(2026, 11, 23, 1, 0, tzinfo=UTC)
    async with PgDatabase(pg_url) as db:
        first = FleetInbox(db, "first")
        second = FleetInbox(db, "second")
        # Chat 1 from people 10 and 11; chat 2 from person 11: the person's lane joins them.
        stored = await first.store(
            [_update(1, -1, 10), _update(2, -1, 11), _update(3, -2, 11), _update(4, -3, 12)],
            now,
        )
        assert stored == [1, 2, 3, 4]
        assert await second.store([_update(1, -1, 10)], now) == []  # a redelivery: stored once
        # One claim takes a whole run of lanes (chat -1, then person 11 into chat -2).
        assert [u for u, _ in await first.claim(3)] == [1, 2, 3]
        assert [u for u, _ in await second.claim(10)] == [4]
        # Stored later in chat -1: it waits behind the first's claims, so it goes there.
        await second.store([_update(5, -1, 13)], now)
        assert await second.claim(10) == []
        assert [u for u, _ in await first.claim(10)] == [5]
        # The first settles 1; its lease on the rest runs out (its process died).
        inbox = InboxRepository(db, claimer="first")
        async with db.transaction(lanes=True):
            assert await inbox.finish(1, "done", now)
        late = FleetInbox(db, "second", lease_s=0.0)  # every lease has run out, its own too
        assert [u for u, _ in await late.claim(10)] == [2, 3, 4, 5]
        # The first, still running, cannot settle what was taken over: its run is undone.
        async with db.transaction(lanes=True):
            assert not await inbox.finish(2, "done", now)
        async with db.transaction(lanes=True):
            assert await InboxRepository(db, claimer="second").finish(2, "done", now)
        assert await InboxRepository(db).status(2) == "done"
        # A clean stop gives back what it holds.
        assert await late.release() == 3
        assert [u for u, _ in await first.claim(10)] == [3, 4, 5]


async def test_a_fleet_joins_a_fleet_and_never_a_lone_instance(db: Store) -> None:
    member = await InstanceLock.acquire(db, fleet=True)
    other = await InstanceLock.acquire(db, fleet=True)
    try:
        with pytest.raises(AnotherInstanceError, match="webhook instances are already running"):
            await InstanceLock.acquire(db)
    finally:
        await other.release()
        await member.release()
    lone = await InstanceLock.acquire(db)
    try:
        with pytest.raises(AnotherInstanceError, match="another GridBot is already running"):
            await InstanceLock.acquire(db, fleet=True)
    finally:
        await lone.release()


async def test_a_street_office_on_two_instances_keeps_each_communitys_order_and_numbers(
    tmp_path: Path, pg_url: str
) -> None:
    """Two communities of one folder, two webhook instances on one PostgreSQL: each
    community numbers its own tickets in its groups' order, every update runs once."""
    async with Emulator(privacy_mode=False) as emu:
        populate_street(emu)
        env = fleet_env(emu, tmp_path, pg_url, GRIDBOT_CONFIG=str(street_folder(tmp_path)))
        async with (
            instance(env) as first,
            instance(env) as second,
            aiohttp.ClientSession() as session,
        ):
            await until(lambda: first.leading or second.leading)
            telegram = Telegram(session)
            urls = [first.url, second.url]
            asked: dict[int, list[int]] = {GROUP: [], GROUP_B: []}
            posted = 0
            for round_, problem in enumerate(PROBLEMS):
                for chat in (GROUP, GROUP_B):
                    message = await emu.send_text(chat, RESIDENT, problem.format(round_ + 1))
                    await telegram.post(urls[posted % 2], message)
                    asked[chat].append(int(message["message_id"]))
                    posted += 1
            await until(lambda: all_answered(emu, asked), timeout=90)
            done = await sql(pg_url, "SELECT status FROM inbox")
            assert {r["status"] for r in done} == {"done"}
            rows = await sql(
                pg_url, "SELECT community, COUNT(*) AS n FROM tickets GROUP BY community"
            )
            assert {r["community"]: r["n"] for r in rows} == {
                "幸福里社区": len(PROBLEMS),
                "和谐家园社区": len(PROBLEMS),
            }
            for chat, ids in asked.items():
                replies = [m for m in emu.sent(chat) if m.reply_to_message_id in ids]
                assert len(replies) == len(ids), chat  # each answered once
                # Each community counts from #1, in its group's order.
                assert numbers_in_order(replies, ids) == list(range(1, len(PROBLEMS) + 1))
