"""Questions put to staff from a ticket's card live in the one dialogue store."""

from __future__ import annotations

import tomllib
from datetime import timedelta
from zoneinfo import ZoneInfo

import pytest

from bot.nlp import Classifier
from bot.services.bootstrap import Services, build_services
from bot.services.clock import FakeClock
from bot.services.desk import Desk
from bot.services.dialogues import Answer
from bot.services.flows import DUPLICATE, STAFF_QUESTIONS, AwaitStaff, Prompt
from storage.db import Database
from tests.botkit import EXAMPLE_CONFIG, WORKER_LI

pytestmark = pytest.mark.both_stores

_CLASSIFIER: list[Classifier] = []


@pytest.fixture
async def desk(db: Database, clock: FakeClock) -> Desk:
    if not _CLASSIFIER:
        _CLASSIFIER.append(Classifier.load())
    config = tomllib.loads(EXAMPLE_CONFIG.read_text(encoding="utf-8"))
    services: Services = await build_services(
        config,
        str(EXAMPLE_CONFIG),
        db,
        clock,
        ZoneInfo("Asia/Shanghai"),
        classifier=_CLASSIFIER[0],
    )
    return Desk(services)


async def test_a_question_is_answered_once(desk: Desk) -> None:
    await desk.ask(WORKER_LI, WORKER_LI, "transfer", 7, {"worker": "zhang"})
    prompt = await desk.open_prompt(WORKER_LI, WORKER_LI)
    assert prompt == Prompt(WORKER_LI, WORKER_LI, "transfer", 7, {"worker": "zhang"})
    assert await desk.open_prompt(WORKER_LI, -100) is None  # asked in the private chat only
    assert await desk.close_prompt(prompt)
    assert not await desk.close_prompt(prompt)
    assert await desk.open_prompt(WORKER_LI, WORKER_LI) is None


async def test_a_question_waits_twelve_hours(desk: Desk, clock: FakeClock) -> None:
    await desk.ask(WORKER_LI, WORKER_LI, "resolve", 7, {})
    clock.advance(timedelta(hours=11))
    assert await desk.open_prompt(WORKER_LI, WORKER_LI) is not None
    clock.advance(timedelta(hours=2))
    assert await desk.open_prompt(WORKER_LI, WORKER_LI) is None


async def test_a_newer_question_in_the_chat_replaces_the_older(desk: Desk) -> None:
    await desk.ask(WORKER_LI, WORKER_LI, "resolve", 7, {})
    older = await desk.open_prompt(WORKER_LI, WORKER_LI)
    assert older is not None
    await desk.ask(WORKER_LI, WORKER_LI, "reject", 8, {})
    assert not await desk.close_prompt(older)
    newer = await desk.open_prompt(WORKER_LI, WORKER_LI)
    assert newer is not None and (newer.action, newer.ticket_id) == ("reject", 8)


def test_each_question_reads_its_answer() -> None:
    waiting = AwaitStaff(7, {})
    assert DUPLICATE.advance("number", Answer("#12"), waiting, None).understood
    assert not DUPLICATE.advance("number", Answer("十二"), waiting, None).understood
    assert not STAFF_QUESTIONS["reject"].advance("reason", Answer("  "), waiting, None).understood
    photo = Answer("", ("AgAD", False))
    assert STAFF_QUESTIONS["resolve"].advance("note", photo, waiting, None).understood
