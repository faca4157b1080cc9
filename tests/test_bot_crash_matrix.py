"""The real bot process killed (SIGKILL) at every step of a ticket's life, then restarted.

Each step is played once with the process dying right after the update's transaction commits,
and once with it dying right after Telegram accepted the first message the step sends (before
the bot could record that). After each restart we count what every person saw: every message
at least once, at most one repeat of the message in flight and never a live duplicate card,
and the ledger and the stock exact.
"""

from __future__ import annotations

import asyncio
import signal
import sqlite3
from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from bot import texts
from tests.botkit import (
    DUTY,
    EXAMPLE_CONFIG,
    GROUP,
    GROUP_G1,
    RESIDENT,
    SECRETARY,
    WORKER_LI,
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


class BotProcess:
    """`gridbot run` in a subprocess that a test can arm to die at a named point."""

    def __init__(self, emu: Emulator, tmp_path: Path, crash: str, config: Path) -> None:
        self.emu = emu
        self.db = tmp_path / "gridbot.sqlite3"
        self.arm = tmp_path / "crash.arm"
        self.env = subprocess_env(bot_env(emu, tmp_path, config))
        self.env["GRIDBOT_CRASH_AT"] = crash
        self.env["GRIDBOT_CRASH_ARM"] = str(self.arm)
        self.env["GRIDBOT_SEND_BACKOFF_S"] = "0.1"
        self.proc: asyncio.subprocess.Process | None = None
        self.kills = 0

    async def start(self) -> None:
        ready = self.emu.stats.by_method.get("setMyCommands", 0)
        self.proc = await asyncio.create_subprocess_exec(
            *gridbot_command(),
            "run",
            env=self.env,
            stdout=asyncio.subprocess.DEVNULL,
            stderr=asyncio.subprocess.DEVNULL,
        )
        await self.emu.wait_until(
            lambda: self.emu.stats.by_method.get("setMyCommands", 0) > ready, 60
        )

    async def dies_during(self, action: Callable[[], Awaitable[object]]) -> None:
        """Arm the crash point, act, and wait for the process to be killed there; restart."""
        assert self.proc is not None
        await self.settled()
        self.arm.touch()
        try:
            await action()
            await asyncio.wait_for(self.proc.wait(), timeout=60)
        finally:
            self.arm.unlink(missing_ok=True)
        assert self.proc.returncode == -signal.SIGKILL
        self.kills += 1
        await self.start()

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

    def count(self, sql: str, params: tuple[object, ...] = ()) -> int:
        with sqlite3.connect(self.db) as conn:
            return int(conn.execute(sql, params).fetchone()[0] or 0)

    async def stop(self) -> None:
        if self.proc is not None and self.proc.returncode is None:
            self.proc.send_signal(signal.SIGTERM)
            await asyncio.wait_for(self.proc.wait(), timeout=60)


def matching(emu: Emulator, chat_id: int, needle: str) -> list[BotMessage]:
    return [m for m in emu.sent(chat_id) if needle in m.text]


def data_of(message: BotMessage) -> list[str]:
    return [b.callback_data or "" for row in message.buttons for b in row]


def seen(emu: Emulator, chat_id: int, needle: str, crash: str) -> int:
    """How many times a message was seen: once, or twice only when a send was interrupted."""
    found = len(matching(emu, chat_id, needle))
    assert found >= 1, f"{needle!r} never reached {chat_id}"
    assert found <= (2 if crash.startswith("send") else 1), f"{needle!r} {found} times"
    return found


async def live_card(emu: Emulator, bot: BotProcess) -> BotMessage:
    """The card the ticket points at; any older copy is harmless when pressed."""
    copies = matching(emu, WORKER_LI, "工单 #1")
    live_id = bot.count("SELECT card_message_id FROM tickets WHERE id = 1")
    [live] = [c for c in copies if c.message_id == live_id]
    return emu.message(WORKER_LI, live.message_id)


async def older_copies_are_harmless(emu: Emulator, bot: BotProcess) -> None:
    live_id = bot.count("SELECT card_message_id FROM tickets WHERE id = 1")
    for copy in matching(emu, WORKER_LI, "工单 #1"):
        current = emu.message(WORKER_LI, copy.message_id)
        if copy.message_id == live_id or not data_of(current):
            continue
        qid = await emu.press_button(WORKER_LI, WORKER_LI, copy.message_id, data_of(current)[0])
        answer = await emu.wait_for_answer(qid)
        assert answer.text == texts.OLDER_COPY_PRESSED
        await emu.wait_until(lambda c=copy: data_of(emu.message(WORKER_LI, c.message_id)) == [])


@pytest.mark.parametrize("crash", ["commit:1", "send:1"])
async def test_a_tickets_life_and_points_survive_a_kill_at_every_step(
    tmp_path: Path, crash: str
) -> None:
    async with Emulator(privacy_mode=False) as emu:
        populate(emu)
        bot = BotProcess(emu, tmp_path, crash, write_config(tmp_path))
        await bot.start()
        try:
            await open_privates(emu, WORKER_LI, DUTY, SECRETARY, RESIDENT)
            await emu.send_text(RESIDENT, RESIDENT, "/register 4 1 101")
            await emu.wait_for(RESIDENT, lambda m: "4" in m.text)

            # 1. intake: the complaint (commit) / the worker's card (first send).
            await bot.dies_during(lambda: emu.send_text(GROUP, RESIDENT, LIFT))
            await bot.settled()
            assert bot.count("SELECT COUNT(*) FROM tickets") == 1
            seen(emu, WORKER_LI, "工单 #1", crash)
            assert len(matching(emu, GROUP, "已收到，登记为 #1")) == 1  # waits for the card
            await older_copies_are_harmless(emu, bot)

            # 2. accept.
            card = await live_card(emu, bot)
            await bot.dies_during(
                lambda: emu.press_button(WORKER_LI, WORKER_LI, card.message_id, "acc:1")
            )
            await bot.settled()
            seen(emu, GROUP, "李娜已接单", crash)
            assert "处理中" in (await live_card(emu, bot)).text
            assert bot.count("SELECT COUNT(*) FROM tickets WHERE status = 'accepted'") == 1

            # 3. the resolve note: never replayed into intake as a complaint.
            card = await live_card(emu, bot)
            await emu.press_button(WORKER_LI, WORKER_LI, card.message_id, "res:1")
            await emu.wait_for(WORKER_LI, lambda m: m.text == texts.RESOLVE_NOTE)
            await bot.dies_during(lambda: emu.send_text(WORKER_LI, WORKER_LI, NOTE))
            await bot.settled()
            rating = matching(emu, GROUP, "请评价")
            seen(emu, GROUP, "请评价", crash)
            assert bot.count("SELECT COUNT(*) FROM tickets") == 1
            assert bot.count("SELECT COUNT(*) FROM tickets WHERE status = 'resolved'") == 1
            assert not [m for m in emu.sent(WORKER_LI) if "您是想反映问题吗" in m.text]

            # 4. the rating.
            await bot.dies_during(
                lambda: emu.press_button(
                    GROUP, RESIDENT, rating[-1].message_id, "rate:1:satisfied"
                )
            )
            await bot.settled()
            assert bot.count("SELECT COUNT(*) FROM tickets WHERE status = 'closed'") == 1
            assert emu.message(GROUP, rating[-1].message_id).text.startswith("#1 已评价")

            # 5. an award: the ledger counts it once.
            await bot.dies_during(
                lambda: emu.send_text(
                    SECRETARY, SECRETARY, f"/award {RESIDENT} help_elderly 陪独居老人看病"
                )
            )
            await bot.settled()
            # The award once, and the 2 points of the confirmed complaint (3.) once.
            ledger = "SELECT COUNT(*) FROM points_ledger WHERE user_id = ? AND kind = ?"
            assert bot.count(ledger, (RESIDENT, "behaviour")) == 1
            assert bot.count(ledger, (RESIDENT, "ticket")) == 1
            assert (
                bot.count("SELECT balance FROM point_balances WHERE user_id = ?", (RESIDENT,))
                == 12
            )
            seen(emu, SECRETARY, "当前余额 12 分", crash)
            seen(emu, RESIDENT, "积分变动", crash)

            # 6. a redemption: one request, stock down by one.
            catalogue = await emu.send_text(RESIDENT, RESIDENT, "/redeem")
            assert catalogue is not None
            listing = await emu.wait_for(RESIDENT, lambda m: "redeem:soap" in str(m.reply_markup))
            await bot.dies_during(
                lambda: emu.press_button(RESIDENT, RESIDENT, listing.message_id, "redeem:soap")
            )
            await bot.settled()
            assert bot.count("SELECT COUNT(*) FROM redemptions") == 1
            assert bot.count("SELECT stock FROM catalogue_stock WHERE code = 'soap'") == 0
            assert (
                bot.count("SELECT balance FROM point_balances WHERE user_id = ?", (RESIDENT,)) == 2
            )
            seen(emu, SECRETARY, "兑换申请 #1", crash)

            # 7. its approval.
            [request] = matching(emu, SECRETARY, "兑换申请 #1")[-1:]
            await bot.dies_during(
                lambda: emu.press_button(SECRETARY, SECRETARY, request.message_id, "rdok:1")
            )
            await bot.settled()
            seen(emu, RESIDENT, "已核准", crash)
            assert bot.count("SELECT COUNT(*) FROM redemptions WHERE status = 'approved'") == 1
            assert bot.count("SELECT stock FROM catalogue_stock WHERE code = 'soap'") == 0
            assert bot.count("SELECT COUNT(*) FROM inbox WHERE status != 'done'") == 0
            assert bot.kills == 7
        finally:
            await bot.stop()


@pytest.mark.parametrize("crash", ["job:1", "send:1"])
async def test_a_scheduled_digest_survives_a_kill(tmp_path: Path, crash: str) -> None:
    """The digest is decided once (its run is recorded) and reaches each group once (or twice
    when the kill came between Telegram's answer and its record)."""
    now = datetime.now(ZoneInfo("Asia/Shanghai")) - timedelta(minutes=5)
    if (now.hour == 23 and now.minute >= 50) or (now.hour == 0 and now.minute < 5):
        pytest.skip("too close to midnight to place a missed digest in today")
    async with Emulator(privacy_mode=False) as emu:
        populate(emu)
        bot = BotProcess(emu, tmp_path, crash, write_config(tmp_path))
        try:
            await bot.start()  # digests off: an open ticket for the digest to list
            await open_privates(emu, WORKER_LI, DUTY, SECRETARY, RESIDENT)
            await emu.send_text(GROUP, RESIDENT, LIFT)
            await emu.wait_for(GROUP, lambda m: "#1" in m.text, timeout=30)
            await bot.settled()
            await bot.stop()
            write_config(tmp_path, digest=f"{now:%H:%M}")  # due 5 minutes ago: caught up
            bot.arm.touch()
            await bot.start()
            assert bot.proc is not None
            await asyncio.wait_for(bot.proc.wait(), timeout=60)
            assert bot.proc.returncode == -signal.SIGKILL
            bot.arm.unlink()
            await bot.start()
            await bot.settled()
            for group in (GROUP, GROUP_G1):
                # The sender runs beside the job: a group's digest may already be on its way
                # when the kill comes. A second copy only where the outbox says a send was
                # interrupted (its row marked resent: it may or may not have arrived).
                resent = bot.count(
                    "SELECT COUNT(*) FROM outbox WHERE chat_id = ? AND resent = 1"
                    " AND payload LIKE ?",
                    (group, f"%{DIGEST}%"),
                )
                found = len(matching(emu, group, DIGEST))
                assert 1 <= found <= 1 + resent
            runs = bot.count("SELECT COUNT(*) FROM schedule_runs WHERE kind = 'digest'")
            assert runs == 2
        finally:
            bot.arm.unlink(missing_ok=True)
            await bot.stop()
