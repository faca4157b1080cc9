"""Whole bot: a message that might be a complaint goes to the worker, not the group."""

from __future__ import annotations

import tomllib
from datetime import time, timedelta
from pathlib import Path

import pytest

from bot import texts
from bot.nlp import NONE
from bot.services.clock import FakeClock
from bot.services.community import ConfigError
from bot.services.sla import DEFAULT_WORKING_HOURS
from bot.services.triage import parse_triage_config
from tests.botkit import (
    DUTY,
    EXAMPLE_CONFIG,
    GROUP,
    NEIGHBOUR,
    RESIDENT,
    SECRETARY,
    WORKER_LI,
    WORKER_ZHANG,
    open_privates,
    populate,
)
from tests.fastkit import offline_bot, offline_emulator
from tests.test_bot_lifecycle import drained

pytestmark = pytest.mark.both_stores

STAFF = (WORKER_LI, WORKER_ZHANG, DUTY, SECRETARY)
MAYBE = "3号楼楼下有老鼠"  # a heavy topic, no problem said: worth a look, not a ticket


async def test_the_worker_opens_a_possible_problem_and_the_group_hears_as_usual(
    tmp_path: Path, clock: FakeClock
) -> None:
    async with offline_emulator(privacy_mode=False) as emu:
        populate(emu)
        async with offline_bot(emu, tmp_path, clock=clock) as bot:
            await open_privates(emu, *STAFF)
            msg = await emu.send_text(GROUP, RESIDENT, MAYBE)
            note = await emu.wait_for(WORKER_LI, lambda m: "可能的问题" in m.text)
            assert MAYBE in note.text
            assert f"https://t.me/c/1000000001/{msg['message_id']}" in note.text
            assert [b.text for row in note.buttons for b in row] == ["立案", "不是问题"]
            await bot.idle()
            assert emu.sent(GROUP) == []  # the group hears nothing

            await emu.press_button(WORKER_LI, WORKER_LI, note.message_id, "tri:open:1")
            ack = await emu.wait_for(GROUP)
            assert ack.reply_to_message_id == msg["message_id"]
            assert "#1" in ack.text and "环境卫生" in ack.text
            card = await emu.wait_for(WORKER_LI, lambda m: "工单 #1" in m.text)
            assert "3号楼" in card.text
            opened = texts.TRIAGE_OPENED.split("（")[0]
            await emu.wait_until(lambda: opened in emu.message(WORKER_LI, note.message_id).text)


async def test_a_dismissal_teaches_the_gate_and_the_group_never_hears(
    tmp_path: Path, clock: FakeClock
) -> None:
    async with offline_emulator(privacy_mode=False) as emu:
        populate(emu)
        async with offline_bot(emu, tmp_path, clock=clock) as bot:
            await open_privates(emu, *STAFF)
            services = bot.state.require_services()
            before = services.classifier.classify(MAYBE).gate
            await emu.send_text(GROUP, RESIDENT, MAYBE)
            note = await emu.wait_for(WORKER_LI, lambda m: "可能的问题" in m.text)
            await emu.press_button(WORKER_LI, WORKER_LI, note.message_id, "tri:no:1")
            await emu.wait_until(
                lambda: texts.TRIAGE_DISMISSED in emu.message(WORKER_LI, note.message_id).text
            )
            learned = services.classifier.learned_weights()
            assert learned and all(code == NONE and d < 0 for (_, code), d in learned.items())
            assert services.classifier.classify(MAYBE).gate < before
            await bot.idle()
            assert emu.sent(GROUP) == []


async def test_an_unhandled_item_reaches_the_staff_digest_once_a_day_never_the_group(
    tmp_path: Path, clock: FakeClock
) -> None:
    config = tmp_path / "community.toml"
    text = EXAMPLE_CONFIG.read_text(encoding="utf-8").replace(
        'digest_at = "08:30"', 'digest_at = "09:15"'
    )
    config.write_text(text, encoding="utf-8")
    async with offline_emulator(privacy_mode=False) as emu:
        populate(emu)
        async with offline_bot(emu, tmp_path, clock=clock, config=config) as bot:
            await open_privates(emu, *STAFF)
            services = bot.state.require_services()
            # Monday 09:00 in Shanghai: a possible problem, due four working hours later.
            await emu.send_text(GROUP, RESIDENT, MAYBE)
            await emu.wait_for(WORKER_LI, lambda m: "可能的问题" in m.text)
            assert await services.triage.digest_overdue() == 0  # not due yet
            clock.advance(timedelta(hours=6))  # 15:00: overdue, but today's 09:15 has passed
            assert await services.triage.digest_overdue() == 0
            clock.advance(timedelta(hours=18))  # Tuesday 09:00: not yet the digest time
            assert await services.triage.digest_overdue() == 0
            clock.advance(timedelta(minutes=15))  # 09:15
            assert await services.triage.digest_overdue() == 1
            await drained(bot)
            digests = [m for m in emu.sent(SECRETARY) if "无人处理" in m.text]
            assert len(digests) == 1 and "老鼠" in digests[0].text

            # Another one, overdue the same afternoon: it waits for the next day's digest.
            await emu.send_text(GROUP, NEIGHBOUR, "2号楼地下室有老鼠")
            await emu.wait_for(WORKER_LI, lambda m: "2号楼" in m.text and "可能的问题" in m.text)
            clock.advance(timedelta(hours=6))
            assert await services.triage.digest_overdue() == 0  # one digest a day
            clock.advance(timedelta(days=1))
            assert await services.triage.digest_overdue() == 1
            await drained(bot)
            digests = [m for m in emu.sent(SECRETARY) if "无人处理" in m.text]
            assert len(digests) == 2 and "2号楼" in digests[1].text
            assert "3号楼" not in digests[1].text  # listed once
            await bot.idle()
            assert emu.sent(GROUP) == []


async def test_no_digest_on_a_day_off(tmp_path: Path, clock: FakeClock) -> None:
    async with offline_emulator(privacy_mode=False) as emu:
        populate(emu)
        async with offline_bot(emu, tmp_path, clock=clock) as bot:
            await open_privates(emu, *STAFF)
            services = bot.state.require_services()
            clock.advance(timedelta(days=3, hours=2))  # Thursday 11:00
            await emu.send_text(GROUP, RESIDENT, MAYBE)
            await emu.wait_for(WORKER_LI, lambda m: "可能的问题" in m.text)
            clock.advance(timedelta(days=1, hours=22))  # Saturday 09:00: overdue, a day off
            assert await services.triage.digest_overdue() == 0
            clock.advance(timedelta(days=1))  # Sunday
            assert await services.triage.digest_overdue() == 0
            clock.advance(timedelta(days=1))  # Monday 09:00
            assert await services.triage.digest_overdue() == 1


@pytest.mark.parametrize(
    ("value", "problem"),
    [
        ('"7:00"', "working hours"),
        ('"18:00"', "working hours"),
        ('"8:61"', "HH:MM"),
        ("830", "HH:MM"),
    ],
)
def test_the_digest_time_is_validated(value: str, problem: str) -> None:
    text = EXAMPLE_CONFIG.read_text(encoding="utf-8").replace('"08:30"\n', f"{value}\n")
    raw = tomllib.loads(text)
    assert raw["triage"]["digest_at"] != "08:30"
    with pytest.raises(ConfigError, match=problem):
        parse_triage_config(raw, "community.toml", DEFAULT_WORKING_HOURS, (time(22), time(7)))


def test_the_digest_time_must_be_outside_quiet_hours() -> None:
    raw = {"triage": {"digest_at": "12:30"}}
    with pytest.raises(ConfigError, match="quiet hours"):
        parse_triage_config(raw, "c.toml", DEFAULT_WORKING_HOURS, (time(12), time(14)))
    assert parse_triage_config(raw, "c.toml", DEFAULT_WORKING_HOURS, None).digest_at == time(
        12, 30
    )
    with pytest.raises(ConfigError, match="unknown"):
        parse_triage_config({"triage": {"digest": "09:00"}}, "c.toml", None, None)


async def test_a_message_addressed_to_the_bot_is_never_triaged(
    tmp_path: Path, clock: FakeClock
) -> None:
    async with offline_emulator(privacy_mode=False) as emu:
        populate(emu)
        async with offline_bot(emu, tmp_path, clock=clock) as bot:
            await open_privates(emu, *STAFF)
            msg = await emu.send_text(GROUP, RESIDENT, f"/report {MAYBE}")
            # Meant for the bot and the words do not say the kind: the resident is asked.
            question = await emu.wait_for(GROUP)
            assert question.reply_to_message_id == msg["message_id"]
            assert question.text == texts.CONFIRM_QUESTION.format(name="周大爷")
            await bot.idle()
            assert not [m for m in emu.sent(WORKER_LI) if "可能的问题" in m.text]
