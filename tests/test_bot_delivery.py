"""Whole bot: every message arrives once through the outbox, whatever Telegram answers."""

from __future__ import annotations

import asyncio
import signal
from pathlib import Path
from typing import Any

import pytest

from bot import texts
from bot.handlers.sending import fit_html
from storage.db import DatabaseUnwritableError
from tests.botkit import (
    DUTY,
    GROUP,
    NEIGHBOUR,
    RESIDENT,
    SECRETARY,
    WORKER_LI,
    WORKER_ZHANG,
    bot_env,
    gridbot_command,
    open_privates,
    populate,
    running_bot,
    subprocess_env,
)
from tests.fastkit import offline_bot, offline_emulator
from tgsandbox import Emulator
from tgsandbox.model import BotMessage

LIFT = "4号楼电梯又坏了，关人了！快来人"


def cards(emu: Emulator, chat_id: int, number: int = 1) -> list[BotMessage]:
    return [m for m in emu.sent(chat_id) if f"工单 #{number}" in m.text]


def acks(emu: Emulator) -> list[BotMessage]:
    return [m for m in emu.sent(GROUP) if "已收到" in m.text]


def buttons(message: BotMessage) -> list[str]:
    return [b.callback_data or "" for row in message.buttons for b in row]


async def outbox_states(bot: object) -> dict[str, int]:
    db = bot.state.require_db()  # type: ignore[attr-defined]
    rows = await db.fetchall("SELECT status, COUNT(*) FROM outbox GROUP BY status")
    return {str(r[0]): int(r[1]) for r in rows}


async def test_a_storm_of_502s_delays_the_card_and_the_reply_but_loses_neither(
    tmp_path: Path,
) -> None:
    async with Emulator(privacy_mode=False) as emu:
        populate(emu)
        async with running_bot(emu, tmp_path) as bot:
            await open_privates(emu, WORKER_LI, DUTY, SECRETARY)
            emu.fail_next("sendMessage", 502, "Bad Gateway", times=3)
            emu.fail_next("sendMessage", 500, "Internal Server Error", times=2)
            await emu.send_text(GROUP, RESIDENT, LIFT)
            # Five failed tries back off 0.5, 1, 2, 4, 8 s (each ×0.5–1.5): up to 23 s.
            await emu.wait_for(WORKER_LI, lambda m: "工单 #1" in m.text, timeout=60)
            await emu.wait_for(GROUP, lambda m: "#1" in m.text, timeout=60)
            await bot.idle()
            assert len(cards(emu, WORKER_LI)) == 1
            assert len(acks(emu)) == 1
            assert await bot.state.inbox.status(await bot.state.inbox.max_update_id()) == "done"
            assert "failed" not in await outbox_states(bot)


async def test_the_data_export_is_a_file_from_the_outbox_that_survives_a_storm(
    tmp_path: Path,
) -> None:
    """/mydata's file goes out like every message: after the summary, retried, once."""
    async with Emulator(privacy_mode=False) as emu:
        populate(emu)
        async with running_bot(emu, tmp_path) as bot:
            await open_privates(emu, RESIDENT)
            emu.fail_next("sendDocument", 502, "Bad Gateway", times=2)
            await emu.send_text(RESIDENT, RESIDENT, "/mydata")
            file = await emu.wait_for(RESIDENT, lambda m: m.document is not None, timeout=30)
            await bot.idle()
            [summary] = [m for m in emu.sent(RESIDENT) if texts.MYDATA_HEAD in m.text]
            assert summary.message_id < file.message_id
            assert [m for m in emu.sent(RESIDENT) if m.document is not None] == [file]
            assert file.document is not None
            assert file.document["file_name"] == texts.MYDATA_FILENAME
            assert b'"exported_at"' in emu.file_bytes(file.document["file_id"])
            assert emu.stats.errors[502] == 2
            assert "failed" not in await outbox_states(bot)


async def test_four_429s_in_a_row_are_waited_out(tmp_path: Path) -> None:
    async with Emulator(privacy_mode=False) as emu:
        populate(emu)
        async with running_bot(emu, tmp_path) as bot:
            await open_privates(emu, WORKER_LI, DUTY, SECRETARY)
            retry = {"retry_after": 1}
            emu.fail_next("sendMessage", 429, "Too Many Requests: retry after 1", retry, times=4)
            await emu.send_text(GROUP, RESIDENT, LIFT)
            await emu.wait_for(GROUP, lambda m: "#1" in m.text, timeout=30)
            await bot.idle()
            assert len(cards(emu, WORKER_LI)) == 1
            assert len(acks(emu)) == 1
            assert emu.stats.errors[429] == 4


async def test_a_storm_in_the_group_does_not_hold_up_the_worker(tmp_path: Path) -> None:
    """The group answers 502 for a while; the worker's card and their 接单 go through at once."""
    async with Emulator(privacy_mode=False) as emu:
        populate(emu)
        async with running_bot(emu, tmp_path) as bot:
            await open_privates(emu, WORKER_LI, DUTY, SECRETARY)
            emu.fail_next("sendMessage", 502, "Bad Gateway", times=6, chat_id=GROUP)
            await emu.send_text(GROUP, RESIDENT, LIFT)
            card = await emu.wait_for(WORKER_LI, lambda m: "工单 #1" in m.text, timeout=20)
            # The reporter's reply still waits out the storm when the worker already has the card.
            assert acks(emu) == []
            await emu.press_button(WORKER_LI, WORKER_LI, card.message_id, "acc:1")
            await emu.wait_until(lambda: "处理中" in emu.message(WORKER_LI, card.message_id).text)
            await bot.idle()
            assert len(acks(emu)) == 1


async def test_a_slow_send_is_waited_for_and_the_card_is_redrawn(tmp_path: Path) -> None:
    """Telegram takes 7 s to answer: the card and the reply arrive once, and 接单 redraws it."""
    async with Emulator(privacy_mode=False) as emu:
        populate(emu)
        async with running_bot(emu, tmp_path) as bot:
            await open_privates(emu, WORKER_LI, DUTY, SECRETARY)
            emu.set_delay("sendMessage", 7)
            await emu.send_text(GROUP, RESIDENT, LIFT)
            card = await emu.wait_for(WORKER_LI, lambda m: "工单 #1" in m.text, timeout=30)
            emu.set_delay("sendMessage", 0)
            await bot.idle()
            await emu.press_button(WORKER_LI, WORKER_LI, card.message_id, "acc:1")
            await emu.wait_until(lambda: "处理中" in emu.message(WORKER_LI, card.message_id).text)
            await bot.idle()
            assert len(cards(emu, WORKER_LI)) == 1
            assert len(acks(emu)) == 1
            ticket = await bot.state.require_services().tickets.get(1)
            assert ticket.card_message_id == card.message_id


async def test_a_refused_message_is_recorded_and_the_admins_told_once(tmp_path: Path) -> None:
    async with Emulator(privacy_mode=False) as emu:
        populate(emu)
        async with running_bot(emu, tmp_path) as bot:
            await open_privates(emu, WORKER_LI, DUTY, SECRETARY)
            emu.fail_next(
                "sendMessage", 400, "Bad Request: can't parse entities", chat_id=WORKER_LI
            )
            await emu.send_text(GROUP, RESIDENT, LIFT)
            told = await emu.wait_for(SECRETARY, lambda m: "未能送达" in m.text, timeout=20)
            assert "can't parse entities" in told.text.lower() and "工单卡片" in told.text
            await bot.idle()
            assert cards(emu, WORKER_LI) == []
            assert len([m for m in emu.sent(SECRETARY) if "未能送达" in m.text]) == 1
            db = bot.state.require_db()
            reason = await db.fetchval("SELECT last_error FROM outbox WHERE status = 'failed'")
            assert "can't parse entities" in reason.lower()


async def test_a_long_complaint_full_of_ampersands_makes_a_valid_card(tmp_path: Path) -> None:
    words = "水管漏水&楼道积水&" * 500  # 5,000 characters; escaped, far more
    async with Emulator(privacy_mode=False) as emu:
        populate(emu)
        async with running_bot(emu, tmp_path) as bot:
            await open_privates(emu, WORKER_LI, DUTY, SECRETARY, RESIDENT)
            await emu.send_text(GROUP, RESIDENT, "4号楼" + words)
            card = await emu.wait_for(WORKER_LI, lambda m: "工单 #1" in m.text, timeout=20)
            await emu.press_button(WORKER_LI, WORKER_LI, card.message_id, "acc:1")
            await emu.wait_until(lambda: "处理中" in emu.message(WORKER_LI, card.message_id).text)
            await bot.idle()
            assert len(card.text) <= 4096
            assert "failed" not in await outbox_states(bot)


def test_fitting_html_never_cuts_a_tag_or_an_entity() -> None:
    text = "<b>标题</b>\n" + "&amp;" * 2000 + "<i>尾巴</i>"
    fitted = fit_html(text, 4096)
    assert len(fitted) <= 4096
    body = fitted.removeprefix("<b>标题</b>\n").removesuffix("…")
    assert body == "&amp;" * (len(body) // 5)
    open_tag = "<a href='tg://user?id=1'>" + "名" * 5000 + "</a>"
    fitted = fit_html(open_tag, 1024)
    assert len(fitted) <= 1024 and fitted.endswith("…</a>")
    assert fit_html("短", 4096) == "短"


async def test_a_group_burst_does_not_delay_a_private_chat(tmp_path: Path) -> None:
    """30 messages for one group (20 a minute): a private /help is answered meanwhile."""
    async with Emulator(privacy_mode=False) as emu:
        populate(emu)
        async with running_bot(emu, tmp_path) as bot:
            await open_privates(emu, WORKER_LI, DUTY, SECRETARY, NEIGHBOUR)
            emu.set_rate_limits(True, per_group_per_minute=20)
            for _ in range(30):
                await emu.send_text(GROUP, RESIDENT, "/help")
            await emu.send_text(NEIGHBOUR, NEIGHBOUR, "/help")
            await emu.wait_for(NEIGHBOUR, lambda m: m.text == texts.HELP, timeout=30)
            # Answered while the group's queue still waits for Telegram's per-group window.
            db = bot.state.require_db()
            waiting = await db.fetchval(
                "SELECT COUNT(*) FROM outbox WHERE chat_id = ? AND status = 'pending'", (GROUP,)
            )
            assert waiting >= 10
            assert len([m for m in emu.sent(GROUP) if m.text == texts.HELP]) <= 20
            await bot.state.sender.stop()  # the rest stays in the outbox for the next start


async def test_a_full_disk_confirms_nothing_and_loses_nothing(tmp_path: Path) -> None:
    """While the database cannot be written, updates stay with Telegram; the admins are told."""
    async with Emulator(privacy_mode=False) as emu:
        populate(emu)
        async with running_bot(emu, tmp_path) as bot:
            await open_privates(emu, WORKER_LI, DUTY, SECRETARY)
            inbox = bot.state.inbox
            real_store = inbox.store
            full = {"on": True}

            async def store(*args: Any, **kwargs: Any) -> Any:
                if full["on"]:
                    raise DatabaseUnwritableError("database or disk is full")
                return await real_store(*args, **kwargs)

            inbox.store = store
            await emu.send_text(GROUP, RESIDENT, LIFT)
            told = await emu.wait_for(SECRETARY, lambda m: m.text == texts.STORAGE_DOWN_ADMIN)
            assert told is not None
            assert emu.pending_updates == 1  # not confirmed: Telegram keeps it
            full["on"] = False
            await emu.wait_for(GROUP, lambda m: "#1" in m.text, timeout=90)
            await bot.idle()
            assert len(cards(emu, WORKER_LI)) == 1
            assert len([m for m in emu.sent(SECRETARY) if m.text == texts.STORAGE_DOWN_ADMIN]) == 1


async def test_a_second_instance_on_the_same_database_stops_with_one_line(tmp_path: Path) -> None:
    async with Emulator(privacy_mode=False) as emu:
        populate(emu)
        env = subprocess_env(bot_env(emu, tmp_path))
        first = await asyncio.create_subprocess_exec(
            *gridbot_command(),
            "run",
            env=env,
            stdout=asyncio.subprocess.DEVNULL,
            stderr=asyncio.subprocess.DEVNULL,
        )
        try:
            await emu.wait_until(lambda: emu.stats.by_method.get("setMyCommands", 0) > 0, 60)
            second = await asyncio.create_subprocess_exec(
                *gridbot_command(),
                "run",
                env=env,
                stdout=asyncio.subprocess.DEVNULL,
                stderr=asyncio.subprocess.PIPE,
            )
            _, err = await asyncio.wait_for(second.communicate(), timeout=60)
            assert second.returncode == 2
            lines = [line for line in err.decode().splitlines() if line.strip()]
            assert len(lines) == 1 and "another GridBot is already running" in lines[0]
            assert f"pid {first.pid}" in lines[0]
            assert first.returncode is None  # the first one is untouched and still serves
            await open_privates(emu, WORKER_LI, DUTY, SECRETARY)
            await emu.send_text(GROUP, RESIDENT, LIFT)
            await emu.wait_for(GROUP, lambda m: "#1" in m.text, timeout=30)
        finally:
            first.send_signal(signal.SIGTERM)
            await asyncio.wait_for(first.wait(), timeout=60)
        assert first.returncode == 0


def test_the_retry_time_is_a_setting_in_hours(tmp_path: Path) -> None:
    from bot.settings import SettingsError, load_settings
    from tests.test_settings import env

    assert load_settings(env(tmp_path)).send_retry_s == 6 * 3600
    settings = load_settings(env(tmp_path, GRIDBOT_SEND_RETRY_HOURS="0.5"))
    assert settings.send_retry_s == 1800
    with pytest.raises(SettingsError, match="GRIDBOT_SEND_RETRY_HOURS"):
        load_settings(env(tmp_path, GRIDBOT_SEND_RETRY_HOURS="0"))


async def test_a_card_the_worker_deleted_comes_back_fresh_at_its_next_change(
    tmp_path: Path,
) -> None:
    """A worker who cleared the chat lost the ticket's card: its next redraw (a photo the
    reporter added) sends it afresh, its buttons work, and no admin is told of a failure."""
    async with offline_emulator(privacy_mode=False) as emu:
        populate(emu)
        async with offline_bot(emu, tmp_path) as bot:
            await open_privates(emu, WORKER_LI, WORKER_ZHANG, DUTY, SECRETARY, RESIDENT)
            await emu.send_text(GROUP, RESIDENT, "4号楼电梯坏了")
            first = await emu.wait_for(WORKER_LI, lambda m: "工单 #1" in m.text)
            ack = await emu.wait_for(GROUP, lambda m: "登记为 #1" in m.text)
            emu.clear_history(WORKER_LI)
            await emu.send_photo(GROUP, RESIDENT, reply_to=ack.message_id)
            fresh = await emu.wait_for(
                WORKER_LI, lambda m: "工单 #1" in m.text and m.message_id != first.message_id
            )
            assert "📷 照片 1 张" in fresh.text and fresh.buttons
            await bot.idle()
            ticket = await bot.state.require_services().tickets.get(1)
            assert ticket.card_message_id == fresh.message_id
            await emu.press_button(WORKER_LI, WORKER_LI, fresh.message_id, "acc:1")
            await emu.wait_for(GROUP, lambda m: "已接单" in m.text)
            assert "处理中" in emu.message(WORKER_LI, fresh.message_id).text
            assert not [m for m in emu.sent(SECRETARY) if "#1" in m.text]
