"""The real bot process killed (SIGKILL) at every step of a ticket's and a task's life, restarted.

Each life runs once per crash point, and every step of it is killed once there:
- `commit`: right after the update's transaction commits (for a job: right after its step or
  post committed, `job`);
- `taken`: before a send: the step's first message is marked in flight, Telegram not called;
- `during`: during a send: the message reached Telegram (the emulator) and its answer is held;
- `send`: after a send: Telegram answered and the bot had not recorded it yet.
A kill inside an update's open transaction (`open`: every row written, none committed) is
played once for a complaint, a button and an award: nothing of it may remain but the update.
After each restart we count what every person saw: every message at least once, a second copy
only where the outbox marks a resend, never a live duplicate card (an older copy, pressed, says
so and loses its buttons), the ledger and the stock exact, history rows not doubled, and every
update done.

The harness reads the process's database through one seam (tests/botkit.py's StoreReader, the
project's own store), so its scenes run unchanged on PostgreSQL too (tests/test_bot_crash_pg.py).
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import signal
import socket
from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import aiohttp
import pytest

from bot import texts
from bot.webhook import SECRET_HEADER
from tests.botkit import (
    DUTY,
    EXAMPLE_CONFIG,
    GROUP,
    GROUP_G1,
    RESIDENT,
    SECRETARY,
    WORKER_LI,
    WORKER_ZHANG,
    StoreReader,
    bot_env,
    gridbot_command,
    open_privates,
    populate,
    subprocess_env,
)
from tests.community_kit import EXTRA_CONFIG
from tgsandbox import Emulator
from tgsandbox.model import BotMessage

LIFT = "4号楼电梯又坏了，关人了！快来人"
DIGEST = "📋 每日简报"
NOTE = "电梯已修好，维保公司到场处理"
REASON = "请张伟先去看一下"
CARD = "👤 反映人"  # a line of the ticket's card, on every redraw
CRASHES = ["commit", "taken", "during", "send"]
SENDS = ("taken", "during", "send")  # the points that interrupt a send
CHATS = (GROUP, GROUP_G1, WORKER_LI, WORKER_ZHANG, DUTY, SECRETARY, RESIDENT)
# What the bot sends or changes with: held by the emulator to die during a send.
SENDING = (
    "sendMessage",
    "sendPhoto",
    "sendDocument",
    "editMessageText",
    "editMessageCaption",
    "editMessageReplyMarkup",
)
SHIFT = "GRIDBOT_TEST_CLOCK_SHIFT_MINUTES"


def write_config(tmp_path: Path, *, digest: str = "off") -> Path:
    """The example community with a soap item of stock 1, and only the given digest time."""
    text = EXAMPLE_CONFIG.read_text(encoding="utf-8") + EXTRA_CONFIG
    text = text.replace('digest = "08:30"', f'digest = "{digest}"')
    text = text.replace('weekly = "sun 18:00"', 'weekly = "off"')
    text = text.replace('monthly = "25 09:00"', 'monthly = "off"')
    text = text.replace('quiet_hours = "22:00-07:00"', 'quiet_hours = "off"')
    text = text.replace('reminders = "on"', 'reminders = "off"')
    path = tmp_path / "community.toml"
    path.write_text(text, encoding="utf-8")
    return path


def matching(emu: Emulator, chat_id: int, needle: str) -> list[BotMessage]:
    return [m for m in emu.sent(chat_id) if needle in m.text]


def data_of(message: BotMessage) -> list[str]:
    return [b.callback_data or "" for row in message.buttons for b in row]


class WebhookRelay:
    """Telegram's side of a webhook: each waiting update posted, in order, until answered 200.

    Telegram keeps an update and posts it again until the bot's webhook answers 200, so one a
    killed process took but never answered comes again to the restarted one.
    """

    SECRET = "crash-matrix-secret_0123456789"

    def __init__(self, emu: Emulator) -> None:
        self.emu = emu
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            self.port = int(s.getsockname()[1])
        self.url = f"http://127.0.0.1:{self.port}/telegram/hook"
        self._task: asyncio.Task[None] | None = None

    def env(self) -> dict[str, str]:
        """The process's webhook settings: the public URL's path served on this port."""
        return {
            "GRIDBOT_WEBHOOK_URL": "https://bot.example.org/telegram/hook",
            "GRIDBOT_WEBHOOK_PORT": str(self.port),
            "GRIDBOT_WEBHOOK_SECRET": self.SECRET,
        }

    def start(self) -> None:
        if self._task is None:
            self._task = asyncio.create_task(self._relay())

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None

    async def _relay(self) -> None:
        world = self.emu.world
        async with aiohttp.ClientSession() as session:
            while True:
                if not world.updates:
                    await asyncio.sleep(0.02)
                    continue
                [update] = world.batch(1)
                await self._deliver(session, update)
                world.confirm(int(update["update_id"]) + 1)

    async def _deliver(self, session: aiohttp.ClientSession, update: dict[str, Any]) -> None:
        for _ in itertools.count():
            with contextlib.suppress(aiohttp.ClientError):
                async with session.post(
                    self.url, json=update, headers={SECRET_HEADER: self.SECRET}
                ) as answer:
                    if answer.status == 200:
                        return
            await asyncio.sleep(0.05)  # the process is down or starting: again


class BotProcess:
    """`gridbot run` in a subprocess that a test kills at one crash point, step after step.

    `webhook`: the process serves a webhook (on PostgreSQL: a fleet of one, whose updates are
    claimed from the inbox and whose sender and jobs run while it leads) that a WebhookRelay
    posts the emulator's updates to, as Telegram does.
    """

    def __init__(
        self,
        emu: Emulator,
        tmp_path: Path,
        crash: str,
        config: Path,
        *,
        chats: tuple[int, ...] = CHATS,
        webhook: bool = False,
    ) -> None:
        self.emu = emu
        self.crash = crash
        self.chats = chats  # where no_live_duplicates looks
        self.arm = tmp_path / "crash.arm"
        self.env = subprocess_env(bot_env(emu, tmp_path, config))
        # The process's database: a SQLite file, or a fresh PostgreSQL schema (conftest.py).
        self.target = self.env["GRIDBOT_DB"]
        self.store = StoreReader(self.target)
        self.env["GRIDBOT_CRASH_AT"] = f"{crash}:1"
        self.env["GRIDBOT_CRASH_ARM"] = str(self.arm)
        self.env["GRIDBOT_SEND_BACKOFF_S"] = "0.1"
        self.relay = WebhookRelay(emu) if webhook else None
        if self.relay is not None:
            self.env.update(self.relay.env())
        self.proc: asyncio.subprocess.Process | None = None
        self.kills = 0
        self._held = 0

    async def start(self, *, ready: bool = True) -> None:
        """Start the process; with `ready`, wait until it serves (it set its commands)."""
        before = self.emu.stats.by_method.get("setMyCommands", 0)
        if self.relay is not None:
            self.relay.start()
        self.proc = await asyncio.create_subprocess_exec(
            *gridbot_command(),
            "run",
            *(["--webhook"] if self.relay is not None else []),
            env=self.env,
            stdout=asyncio.subprocess.DEVNULL,
            stderr=asyncio.subprocess.DEVNULL,
        )
        if ready:
            await self.emu.wait_until(
                lambda: self.emu.stats.by_method.get("setMyCommands", 0) > before, 60
            )

    async def stop(self) -> None:
        """Stop the process (if running) and close the test's own reading of its database."""
        self.store.close()
        if self.proc is not None and self.proc.returncode is None:
            self.proc.send_signal(signal.SIGTERM)
            await asyncio.wait_for(self.proc.wait(), timeout=60)
        if self.relay is not None:
            await self.relay.stop()

    async def dies_during(self, action: Callable[[], Awaitable[object]]) -> None:
        """Arm the crash point, act, wait for the process to die there; restart and settle."""
        await self.settled()
        resends = self.resends()
        self._arm()
        try:
            await action()
            await self._death()
        finally:
            self._disarm()
        await self.start()
        await self._recovered(resends, self.crash)

    async def dies_at_start(self, point: str | None = None) -> None:
        """Restart armed: the process dies in what its jobs do at start (a deadline, a post),
        or at the given point of its start (the street's adoption of old rows)."""
        await self.settled()
        await self.stop()
        resends = self.resends()
        point = point or ("job" if self.crash == "commit" else self.crash)
        await self.dies_starting(point)
        await self.start()
        await self._recovered(resends, point)

    async def dies_starting(self, point: str) -> None:
        """Start the stopped process armed at a point; wait until it dies there."""
        self.env["GRIDBOT_CRASH_AT"] = f"{point}:1"
        self._arm()
        try:
            await self.start(ready=False)  # it may die before it serves
            await self._death()
        finally:
            self._disarm()
            self.env["GRIDBOT_CRASH_AT"] = f"{self.crash}:1"

    async def dies_after(self, action: Callable[[], object], done: Callable[[], bool]) -> None:
        """Act on the running process (a community file added or changed) and kill it right
        after what it did committed: at its commit point, or, for a crash point of a send,
        with SIGKILL once the database shows it. Restart and settle."""
        if self.crash not in SENDS:
            await self.dies_during(self._async(action))
            return
        await self.settled()
        resends = self.resends()
        action()
        for _ in range(1200):
            if done():
                break
            await asyncio.sleep(0.05)
        else:
            raise AssertionError("the running process never did it")
        assert self.proc is not None
        self.proc.send_signal(signal.SIGKILL)
        await asyncio.wait_for(self.proc.wait(), timeout=60)
        self.kills += 1
        await self.start()
        await self._recovered(resends, "commit")

    @staticmethod
    def _async(action: Callable[[], object]) -> Callable[[], Awaitable[object]]:
        async def run() -> object:
            return action()

        return run

    def _arm(self) -> None:
        if self.crash == "during":
            self._held = self.emu.answers_held
            for method in SENDING:
                self.emu.set_delay(method, 60, answer_only=True)
        else:
            self.arm.touch()

    def _disarm(self) -> None:
        self.arm.unlink(missing_ok=True)
        for method in SENDING:
            self.emu.set_delay(method, 0, answer_only=True)

    async def _death(self) -> None:
        assert self.proc is not None
        if self.crash == "during":  # the message is in the chat; the bot never hears so
            await self.emu.wait_until(lambda: self.emu.answers_held > self._held, 60)
            self.proc.send_signal(signal.SIGKILL)
        await asyncio.wait_for(self.proc.wait(), timeout=60)
        assert self.proc.returncode == -signal.SIGKILL
        self.kills += 1

    async def _recovered(self, resends: int, point: str) -> None:
        await self.settled()
        if point in SENDS:  # the interrupted message was taken again and so marked
            assert self.resends() > resends, "the kill did not interrupt a send"
        await self.no_live_duplicates()

    async def settled(self) -> None:
        """Wait until every stored update is done and every queued message settled."""
        await self.emu.wait_until(lambda: self.emu.pending_updates == 0, 60)
        for _ in range(1200):  # the database is not the emulator: poll it
            if not self.count(
                "SELECT (SELECT COUNT(*) FROM inbox WHERE status = 'pending')"
                " + (SELECT COUNT(*) FROM outbox WHERE status = 'pending')"
            ):
                return
            await asyncio.sleep(0.05)
        raise AssertionError("the bot did not settle within 60 s")

    async def until(self, sql: str, expected: int, params: tuple[object, ...] = ()) -> None:
        """Wait until a count in the database reaches a value (a job runs on its own time)."""
        for _ in range(1200):
            if self.count(sql, params) == expected:
                return
            await asyncio.sleep(0.05)
        raise AssertionError(f"{sql} never reached {expected}")

    def rows(self, sql: str, params: tuple[object, ...] = ()) -> list[tuple[Any, ...]]:
        """Rows of the process's database, on either store (SQLite's dialect, ? parameters)."""
        return self.store.rows(sql, params)

    def count(self, sql: str, params: tuple[object, ...] = ()) -> int:
        found = self.rows(sql, params)
        return int(found[0][0] or 0) if found else 0

    def resends(self) -> int:
        return self.count("SELECT COUNT(*) FROM outbox WHERE resent = 1")

    def recorded(self, chat_id: int) -> set[int]:
        """The ids of the messages the outbox knows it sent (or changed) in a chat."""
        rows = self.rows(
            "SELECT message_id FROM outbox WHERE chat_id = ? AND message_id IS NOT NULL",
            (chat_id,),
        )
        return {int(r[0]) for r in rows}

    def seen(self, chat_id: int, needle: str) -> BotMessage:
        """A message reached a chat once, or twice where the outbox marks its send resent."""
        found = matching(self.emu, chat_id, needle)
        assert found, f"{needle!r} never reached {chat_id}"
        resent = self.count(
            "SELECT COUNT(*) FROM outbox WHERE chat_id = ? AND resent = 1 AND payload LIKE ?"
            " AND payload NOT LIKE '%\"kind\": %'",
            (chat_id, f"%{needle}%"),
        )
        assert len(found) <= 1 + resent, f"{needle!r} {len(found)} times in {chat_id}"
        return self.live(chat_id, needle)

    def newest(self, chat_id: int, needle: str) -> BotMessage:
        """The newest message the bot knows it sent with these words (older copies aside)."""
        recorded = self.recorded(chat_id)
        return [m for m in matching(self.emu, chat_id, needle) if m.message_id in recorded][-1]

    def live(self, chat_id: int, needle: str) -> BotMessage:
        """The copy of a message the bot knows it sent (edits and presses go there)."""
        recorded = self.recorded(chat_id)
        live = [m for m in matching(self.emu, chat_id, needle) if m.message_id in recorded]
        assert len(live) == 1, [m.text[:60] for m in matching(self.emu, chat_id, needle)]
        live = live[0]
        return self.emu.message(chat_id, live.message_id)

    async def no_live_duplicates(self) -> None:
        """Every message with buttons is one the bot recorded; an older copy, pressed, says so."""
        for chat_id in self.chats:
            recorded = self.recorded(chat_id)
            for sent in self.emu.sent(chat_id):
                message = self.emu.message(chat_id, sent.message_id)
                if message.message_id in recorded or not data_of(message):
                    continue
                who = chat_id if chat_id > 0 else RESIDENT
                qid = await self.emu.press_button(
                    chat_id, who, message.message_id, data_of(message)[0]
                )
                answer = await self.emu.wait_for_answer(qid)
                assert answer.text == texts.OLDER_COPY_PRESSED
                await self.emu.wait_until(
                    lambda c=chat_id, m=message: data_of(self.emu.message(c, m.message_id)) == []
                )
        await self.settled()

    def card(self, chat_id: int) -> BotMessage:
        """The ticket's live card: the copy it points at, in its worker's chat."""
        live_id = self.count("SELECT card_message_id FROM tickets WHERE id = 1")
        [card] = [m for m in matching(self.emu, chat_id, CARD) if m.message_id == live_id]
        return self.emu.message(chat_id, card.message_id)


async def offered(emu: Emulator, chat_id: int, message_id: int, data: str) -> None:
    """Wait until a message (a card being redrawn) offers a button."""
    await emu.wait_until(lambda: data in data_of(emu.message(chat_id, message_id)))


def digest_time(bot: BotProcess) -> str:
    """A digest time 5 minutes before the bot's now (its clock shifted past midnight if near)."""
    shift = 0
    while True:
        local = datetime.now(ZoneInfo("Asia/Shanghai")) + timedelta(minutes=shift - 5)
        if (local.hour, local.minute) >= (0, 5) and (local.hour, local.minute) < (23, 50):
            break
        shift += 20
    if shift:
        bot.env[SHIFT] = str(shift)
    return f"{local:%H:%M}"


# ── scenes: steps the matrix kills, shared with its PostgreSQL subset (test_bot_crash_pg) ──


async def intake(
    bot: BotProcess, emu: Emulator, group: int = GROUP, worker: int = WORKER_LI
) -> BotMessage:
    """A complaint in a group, killed: the worker's card, the reporter's reply; the card."""
    await bot.dies_during(lambda: emu.send_text(group, RESIDENT, LIFT))
    card = bot.seen(worker, CARD)
    bot.seen(group, "已收到，登记为 #1")
    return card


async def points_ready(bot: BotProcess, emu: Emulator) -> None:
    """The resident registered, and an open ticket for a digest to list (neither killed)."""
    await emu.send_text(RESIDENT, RESIDENT, "/register 3 2 301")
    await emu.wait_for(RESIDENT, lambda m: "3号楼2单元301" in m.text)
    if not bot.count("SELECT COUNT(*) FROM tickets"):
        await emu.send_text(GROUP, RESIDENT, LIFT)
        await emu.wait_for(GROUP, lambda m: "#1" in m.text, timeout=30)


LEDGER = "SELECT COUNT(*) FROM points_ledger WHERE user_id = ? AND kind = ?"
BALANCE = "SELECT balance FROM point_balances WHERE user_id = ?"


async def award(bot: BotProcess, emu: Emulator) -> None:
    """An award, killed: the ledger counts it once, both people told."""
    await bot.dies_during(
        lambda: emu.send_text(
            SECRETARY, SECRETARY, f"/award {RESIDENT} help_elderly 陪独居老人看病"
        )
    )
    assert bot.count(LEDGER, (RESIDENT, "behaviour")) == 1
    assert bot.count(BALANCE, (RESIDENT,)) == 10
    bot.seen(SECRETARY, "当前余额 10 分")
    bot.seen(RESIDENT, "积分变动")


async def digest(bot: BotProcess, config: Path) -> None:
    """A scheduled digest, due while the bot was down, killed: decided once (its run is
    recorded), in each group once, or twice where the outbox marks a resend."""
    write_config(config.parent, digest=digest_time(bot))
    await bot.dies_at_start()
    # Each group's digest is decided in its own transaction: killed between the two (its
    # sender already at work on the first), the second is decided by the next run of the
    # schedule job, a few seconds after the restart.
    await bot.until("SELECT COUNT(*) FROM schedule_runs WHERE kind = 'digest'", 2)
    await bot.settled()
    for group in (GROUP, GROUP_G1):
        bot.seen(group, DIGEST)


@pytest.mark.parametrize("crash", CRASHES)
async def test_a_tickets_life_survives_a_kill_at_every_step(tmp_path: Path, crash: str) -> None:
    """Intake, an escalation, return, transfer, accept, the resolve note, reopen, the rating."""
    async with Emulator(privacy_mode=False) as emu:
        populate(emu)
        bot = BotProcess(emu, tmp_path, crash, write_config(tmp_path))
        await bot.start()
        try:
            await open_privates(emu, WORKER_LI, WORKER_ZHANG, DUTY, SECRETARY, RESIDENT)
            ticket = "SELECT COUNT(*) FROM tickets WHERE status = ?"

            # 1. intake: the complaint, the worker's card, the reporter's reply.
            await intake(bot, emu)
            assert bot.count("SELECT COUNT(*) FROM tickets") == 1

            # 2. an escalation: the 30-minute accept deadline passes while the bot is down.
            bot.env[SHIFT] = "40"
            await bot.dies_at_start()
            bot.seen(SECRETARY, "【超时提醒】")
            bot.seen(WORKER_LI, "已报社区居委会")
            bot.seen(GROUP, "耐心等待")

            # 3. return (退回): not her grid; the duty officer gets the ticket.
            card = bot.card(WORKER_LI)
            await emu.press_button(WORKER_LI, WORKER_LI, card.message_id, "ret:1")
            await offered(emu, WORKER_LI, card.message_id, "rt:1:not_my_grid")
            await bot.dies_during(
                lambda: emu.press_button(WORKER_LI, WORKER_LI, card.message_id, "rt:1:not_my_grid")
            )
            bot.seen(DUTY, CARD)
            duty = bot.card(DUTY)
            assert data_of(emu.message(WORKER_LI, card.message_id)) == []

            # 4. transfer (转派) to 张伟, with a typed reason.
            await emu.press_button(DUTY, DUTY, duty.message_id, "xfer:1")
            await offered(emu, DUTY, duty.message_id, "xw:1:zhang")
            await emu.press_button(DUTY, DUTY, duty.message_id, "xw:1:zhang")
            await emu.wait_for(DUTY, lambda m: "转派原因" in m.text)
            await bot.dies_during(lambda: emu.send_text(DUTY, DUTY, REASON))
            bot.seen(WORKER_ZHANG, CARD)
            zhang = bot.card(WORKER_ZHANG)
            assert bot.count("SELECT COUNT(*) FROM tickets WHERE assignee_key = 'zhang'") == 1

            # 5. accept (接单).
            await bot.dies_during(
                lambda: emu.press_button(WORKER_ZHANG, WORKER_ZHANG, zhang.message_id, "acc:1")
            )
            bot.seen(GROUP, "张伟已接单")
            assert "处理中" in bot.card(WORKER_ZHANG).text
            assert bot.count(ticket, ("accepted",)) == 1

            # 6. the resolve note: never replayed into intake as a complaint.
            await emu.press_button(WORKER_ZHANG, WORKER_ZHANG, zhang.message_id, "res:1")
            await emu.wait_for(WORKER_ZHANG, lambda m: m.text == texts.RESOLVE_NOTE)
            await bot.dies_during(lambda: emu.send_text(WORKER_ZHANG, WORKER_ZHANG, NOTE))
            rating = bot.seen(GROUP, "请评价")
            assert bot.count("SELECT COUNT(*) FROM tickets") == 1
            assert bot.count(ticket, ("resolved",)) == 1
            assert not matching(emu, WORKER_ZHANG, "您是想反映问题吗")

            # 7. not satisfied: reopened to the same worker, the office told.
            await bot.dies_during(
                lambda: emu.press_button(GROUP, RESIDENT, rating.message_id, "rate:1:unsatisfied")
            )
            bot.seen(SECRETARY, "不满意")
            bot.seen(WORKER_ZHANG, "已退回给您重新办理")
            assert bot.count(ticket, ("reopened",)) == 1

            # Resolved again (not killed), then 8. the rating closes it.
            before = len(emu.sent(WORKER_ZHANG))
            await emu.press_button(WORKER_ZHANG, WORKER_ZHANG, zhang.message_id, "res:1")
            note = await emu.wait_for(
                WORKER_ZHANG, lambda m: m.text == texts.RESOLVE_NOTE, after=before
            )
            await emu.press_button(WORKER_ZHANG, WORKER_ZHANG, note.message_id, "rs:1")
            await bot.settled()
            again = bot.newest(GROUP, "请评价")
            assert again.message_id > rating.message_id
            await bot.dies_during(
                lambda: emu.press_button(GROUP, RESIDENT, again.message_id, "rate:1:satisfied")
            )
            assert bot.count(ticket, ("closed",)) == 1
            assert emu.message(GROUP, again.message_id).text.startswith("#1 已评价")

            kinds = [r[0] for r in bot.rows("SELECT kind FROM ticket_events ORDER BY id")]
            assert kinds == [
                "opened",
                "escalated",
                "returned",
                "transferred",
                "accepted",
                "resolved",
                "reopened",
                "resolved",
                "rated",
            ]
            assert bot.count("SELECT COUNT(*) FROM inbox WHERE status != 'done'") == 0
            assert bot.kills == 8
        finally:
            await bot.stop()


@pytest.mark.parametrize("crash", CRASHES)
async def test_points_tasks_and_a_digest_survive_a_kill_at_every_step(
    tmp_path: Path, crash: str
) -> None:
    """An award, a redemption and its approval, a task claim, its proof and its verification,
    and a scheduled digest: the ledger and the stock exact, each message once (or resent)."""
    async with Emulator(privacy_mode=False) as emu:
        populate(emu)
        config = write_config(tmp_path)
        bot = BotProcess(emu, tmp_path, crash, config)
        await bot.start()
        try:
            await open_privates(emu, WORKER_LI, DUTY, SECRETARY, RESIDENT)
            await points_ready(bot, emu)

            # 1. an award: the ledger counts it once.
            await award(bot, emu)

            # 2. a redemption: one request, stock down by one.
            await emu.send_text(RESIDENT, RESIDENT, "/redeem")
            listing = await emu.wait_for(RESIDENT, lambda m: "redeem:soap" in str(m.reply_markup))
            await bot.dies_during(
                lambda: emu.press_button(RESIDENT, RESIDENT, listing.message_id, "redeem:soap")
            )
            assert bot.count("SELECT COUNT(*) FROM redemptions") == 1
            assert bot.count("SELECT stock FROM catalogue_stock WHERE code = 'soap'") == 0
            assert bot.count(BALANCE, (RESIDENT,)) == 0
            request = bot.seen(SECRETARY, "兑换申请 #1")

            # 3. its approval.
            await bot.dies_during(
                lambda: emu.press_button(SECRETARY, SECRETARY, request.message_id, "rdok:1")
            )
            bot.seen(RESIDENT, "已核准")
            assert bot.count("SELECT COUNT(*) FROM redemptions WHERE status = 'approved'") == 1
            assert bot.count("SELECT stock FROM catalogue_stock WHERE code = 'soap'") == 0

            # 4. a task claim (接单).
            await emu.send_text(
                GROUP, WORKER_LI, "/task new 更换楼道灯泡 | 10 | 名额 1 | 地点 3号楼2单元"
            )
            await emu.wait_for(GROUP, lambda m: "已发布任务 #1" in m.text)
            await bot.settled()
            task = bot.live(GROUP, "已发布任务 #1")
            await bot.dies_during(
                lambda: emu.press_button(GROUP, RESIDENT, task.message_id, "claim:1")
            )
            bot.seen(RESIDENT, "您已接下任务 #1")
            assert bot.count("SELECT COUNT(*) FROM task_claims") == 1

            # 5. its proof: a photo; the publisher gets one live card to verify.
            await emu.send_text(RESIDENT, RESIDENT, "/done 1")
            await emu.wait_for(
                RESIDENT, lambda m: m.text == texts.DONE_ASK_PROOF.format(task_id=1)
            )
            await bot.dies_during(lambda: emu.send_photo(RESIDENT, RESIDENT, caption="换好了"))
            bot.seen(RESIDENT, texts.DONE_SUBMITTED.format(task_id=1))
            verify = bot.seen(WORKER_LI, "任务验收 #1")

            # 6. its verification: the points once.
            await bot.dies_during(
                lambda: emu.press_button(
                    WORKER_LI, WORKER_LI, verify.message_id, f"tok:1:{RESIDENT}"
                )
            )
            bot.seen(RESIDENT, "验收通过")
            assert bot.count(LEDGER, (RESIDENT, "task")) == 1
            assert bot.count(BALANCE, (RESIDENT,)) == 10
            assert bot.count("SELECT COUNT(*) FROM tasks WHERE status = 'done'") == 1

            # 7. a scheduled digest, due while the bot was down.
            await digest(bot, config)

            assert bot.count("SELECT COUNT(*) FROM inbox WHERE status != 'done'") == 0
            assert bot.kills == 7
        finally:
            await bot.stop()


@pytest.mark.parametrize("crash", CRASHES)
async def test_replies_in_words_survive_a_kill_at_every_step(tmp_path: Path, crash: str) -> None:
    """The conversations people have with the bot in their own words, each killed: a detail
    typed under "登记为 #1", the worker's note under the card and 告诉反映人, and "根本没修好"
    typed under the rating request."""
    async with Emulator(privacy_mode=False) as emu:
        populate(emu)
        bot = BotProcess(emu, tmp_path, crash, write_config(tmp_path))
        await bot.start()
        try:
            await open_privates(emu, WORKER_LI, DUTY, SECRETARY, RESIDENT)
            await intake(bot, emu)

            # 1. the reporter's detail under the acknowledgement reaches the worker.
            ack = bot.live(GROUP, "已收到，登记为 #1")
            await bot.dies_during(
                lambda: emu.send_text(GROUP, RESIDENT, "是2单元那部", reply_to=ack.message_id)
            )
            bot.seen(GROUP, "已补充到 #1")
            bot.seen(WORKER_LI, "反映人补充：是2单元那部")

            # 2. the worker's words under the card: a note, then told to the reporter.
            card = bot.card(WORKER_LI)
            await bot.dies_during(
                lambda: emu.send_text(WORKER_LI, WORKER_LI, "维保下午到", reply_to=card.message_id)
            )
            saved = bot.live(WORKER_LI, "已记入 #1")
            [share] = data_of(saved)
            await bot.dies_during(
                lambda: emu.press_button(WORKER_LI, WORKER_LI, saved.message_id, share)
            )
            bot.seen(GROUP, "#1 进展")

            # Accepted and resolved (not killed); 3. "根本没修好" typed under the rating request.
            card = bot.card(WORKER_LI)
            await emu.press_button(WORKER_LI, WORKER_LI, card.message_id, "acc:1")
            await offered(emu, WORKER_LI, card.message_id, "res:1")
            await emu.press_button(WORKER_LI, WORKER_LI, card.message_id, "res:1")
            ask = await emu.wait_for(WORKER_LI, lambda m: m.text == texts.RESOLVE_NOTE)
            await emu.press_button(WORKER_LI, WORKER_LI, ask.message_id, "rs:1")
            await bot.settled()
            rating = bot.newest(GROUP, "请评价")
            await bot.dies_during(
                lambda: emu.send_text(GROUP, RESIDENT, "根本没修好", reply_to=rating.message_id)
            )
            bot.seen(GROUP, "已转告")
            bot.seen(WORKER_LI, "不满意的原因")

            kinds = [r[0] for r in bot.rows("SELECT kind FROM ticket_events ORDER BY id")]
            assert kinds == [
                "opened",
                "added_words",
                "noted",
                "note_shared",
                "accepted",
                "resolved",
                "reopened",
                "unsatisfied_reason",
            ]
            assert bot.count("SELECT COUNT(*) FROM tickets") == 1
            assert bot.count("SELECT COUNT(*) FROM inbox WHERE status != 'done'") == 0
            assert bot.kills == 5
        finally:
            await bot.stop()


async def open_transaction(bot: BotProcess, emu: Emulator) -> None:
    """A complaint, the worker's 接单 and an award, each killed with its update's rows written
    and not committed: each runs again whole after the restart, and nothing was sent twice."""
    await open_privates(emu, WORKER_LI, DUTY, SECRETARY, RESIDENT)
    card = await intake(bot, emu)
    # On PostgreSQL the killed run took ticket id 1 from its sequence (never given back).
    [accept] = [data for data in data_of(card) if data.startswith("acc:")]
    await bot.dies_during(lambda: emu.press_button(WORKER_LI, WORKER_LI, card.message_id, accept))
    bot.seen(GROUP, "李娜已接单")
    assert "处理中" in bot.live(WORKER_LI, CARD).text
    await points_ready(bot, emu)
    await award(bot, emu)
    assert [r[0] for r in bot.rows("SELECT kind FROM ticket_events ORDER BY id")] == [
        "opened",
        "accepted",
    ]
    assert bot.count("SELECT COUNT(*) FROM inbox WHERE status != 'done'") == 0
    assert bot.resends() == 0  # nothing of a killed update had reached anyone
    assert bot.kills == 3


async def test_a_kill_inside_an_updates_open_transaction_leaves_none_of_it(
    tmp_path: Path,
) -> None:
    async with Emulator(privacy_mode=False) as emu:
        populate(emu)
        bot = BotProcess(emu, tmp_path, "open", write_config(tmp_path))
        await bot.start()
        try:
            await open_transaction(bot, emu)
        finally:
            await bot.stop()


@pytest.mark.parametrize("crash", SENDS)
async def test_a_deleted_card_sent_afresh_survives_a_kill_in_its_send(
    tmp_path: Path, crash: str
) -> None:
    """The worker cleared the chat; the card's next redraw goes out as a new message and is
    killed around that send: after the restart one live card, the ticket's, with its buttons."""
    async with Emulator(privacy_mode=False) as emu:
        populate(emu)
        bot = BotProcess(emu, tmp_path, crash, write_config(tmp_path))
        await bot.start()
        try:
            await open_privates(emu, WORKER_LI, DUTY, SECRETARY, RESIDENT)
            await intake(bot, emu)
            ack = bot.seen(GROUP, "已收到，登记为 #1")
            emu.clear_history(WORKER_LI)
            await bot.dies_during(lambda: emu.send_photo(GROUP, RESIDENT, reply_to=ack.message_id))
            card = bot.live(WORKER_LI, CARD)
            assert "📷 照片 1 张" in card.text and "acc:1" in data_of(card)
            assert bot.count("SELECT card_message_id FROM tickets WHERE id = 1") == card.message_id
            await emu.press_button(WORKER_LI, WORKER_LI, card.message_id, "acc:1")
            await emu.wait_for(GROUP, lambda m: "李娜已接单" in m.text, timeout=30)
            assert bot.kills == 2
        finally:
            await bot.stop()


@pytest.mark.parametrize("crash", CRASHES)
async def test_edits_albums_and_its_over_survive_a_kill_at_every_step(
    tmp_path: Path, crash: str
) -> None:
    """What new users did, each killed: the reporter edits the complaint (its worker hears the
    new words once), sends three photos at once with one caption (one ticket, every photo, one
    answer), and says under the acknowledgement that it is over (offered the withdrawal)."""
    async with Emulator(privacy_mode=False) as emu:
        populate(emu)
        bot = BotProcess(emu, tmp_path, crash, write_config(tmp_path))
        await bot.start()
        try:
            await new_users(bot, emu)
        finally:
            await bot.stop()


async def new_users(bot: BotProcess, emu: Emulator) -> None:
    """An edit, an album and "已经好了", each killed (shared with the PostgreSQL subset)."""
    await open_privates(emu, WORKER_LI, WORKER_ZHANG, DUTY, SECRETARY, RESIDENT)
    await intake(bot, emu)

    # 1. the complaint edited: the worker hears the new words, the ticket keeps the first.
    [(source,)] = bot.rows("SELECT message_id FROM tickets WHERE number = 1")
    edited = LIFT + "，2单元那部"
    await bot.dies_during(lambda: emu.edit_text(GROUP, RESIDENT, int(source), edited))
    bot.seen(WORKER_LI, "修改了原话")

    # 2. an album with one caption, privately: one ticket with all three photos.
    await bot.dies_during(lambda: emu.send_album(RESIDENT, RESIDENT, 3, "8号楼楼道灯坏了好几天了"))
    bot.seen(RESIDENT, "登记为 #2")
    assert not matching(emu, RESIDENT, "没太看明白")
    photos = "SELECT COUNT(*) FROM ticket_photos p JOIN tickets t ON t.id = p.ticket_id"
    assert bot.count(photos + " WHERE t.number = 2") == 3

    # 3. "不用了，已经好了" under #1's acknowledgement: the withdrawal is offered.
    ack = bot.live(GROUP, "已收到，登记为 #1")
    await bot.dies_during(
        lambda: emu.send_text(GROUP, RESIDENT, "不用了，已经好了", reply_to=ack.message_id)
    )
    bot.seen(GROUP, "撤回 #1")

    kinds = "SELECT e.kind FROM ticket_events e JOIN tickets t ON t.id = e.ticket_id"
    first = [r[0] for r in bot.rows(kinds + " WHERE t.number = 1 ORDER BY e.id")]
    assert first == ["opened", "source_edited", "added_words"]
    assert bot.count("SELECT COUNT(*) FROM tickets") == 2
    assert bot.count("SELECT COUNT(*) FROM inbox WHERE status != 'done'") == 0
    assert bot.kills == 4
