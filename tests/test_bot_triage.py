"""Whole bot: a message that might be a complaint goes to the worker, not the group."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest

from bot import texts
from bot.nlp import NONE
from bot.services.clock import FakeClock
from tests.botkit import (
    DUTY,
    GROUP,
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
MAYBE = "3号楼楼下好多老鼠"  # a heavy topic, no problem said: worth a look, not a ticket


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


async def test_an_unhandled_item_reaches_the_staff_digest_never_the_group(
    tmp_path: Path, clock: FakeClock
) -> None:
    async with offline_emulator(privacy_mode=False) as emu:
        populate(emu)
        async with offline_bot(emu, tmp_path, clock=clock) as bot:
            await open_privates(emu, *STAFF)
            await emu.send_text(GROUP, RESIDENT, MAYBE)
            await emu.wait_for(WORKER_LI, lambda m: "可能的问题" in m.text)
            services = bot.state.require_services()
            assert await services.triage.digest_overdue() == 0  # not due yet
            clock.advance(timedelta(days=2))
            assert await services.triage.digest_overdue() == 1
            await drained(bot)
            digest = await emu.wait_for(SECRETARY, lambda m: "无人处理" in m.text)
            assert "老鼠" in digest.text
            assert await services.triage.digest_overdue() == 0  # listed once
            await bot.idle()
            assert emu.sent(GROUP) == []


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
