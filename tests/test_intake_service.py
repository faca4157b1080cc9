"""IntakeService on a real database: what a second message, an answer or a question becomes."""

from __future__ import annotations

import tomllib
from dataclasses import replace
from datetime import timedelta
from zoneinfo import ZoneInfo

import pytest

from bot.nlp import Classifier
from bot.services import intake as flow
from bot.services.bootstrap import Services, build_services
from bot.services.clock import FakeClock
from bot.services.dialogues import DialogueService
from bot.services.errors import DomainError
from bot.services.flows import INTAKE_TTL, UNSATISFIED, AwaitUnsatisfied
from bot.services.intake import Report, call_first, reading_from_json, reading_to_json
from storage.db import Database
from tests.botkit import EXAMPLE_CONFIG, GROUP, RESIDENT

pytestmark = pytest.mark.both_stores

_CLASSIFIER: list[Classifier] = []


def classifier() -> Classifier:
    if not _CLASSIFIER:
        _CLASSIFIER.append(Classifier.load())
    return _CLASSIFIER[0]


@pytest.fixture
async def services(db: Database, clock: FakeClock) -> Services:
    config = tomllib.loads(EXAMPLE_CONFIG.read_text(encoding="utf-8"))
    return await build_services(
        config,
        str(EXAMPLE_CONFIG),
        db,
        clock,
        ZoneInfo("Asia/Shanghai"),
        classifier=classifier(),
    )


def report(message_id: int, text: str, user: int = RESIDENT) -> Report:
    return Report(
        chat_id=GROUP,
        message_id=message_id,
        is_private=False,
        reporter_id=user,
        reporter_name="周大爷",
        text=text,
        group_grids=("g1", "g2", "g3"),
    )


async def test_typed_answers_are_only_a_place_alone(services: Services) -> None:
    typed = services.intake.typed_location
    assert typed("7号楼") == ("7", None, False)
    assert typed("七号楼吧") == ("7", None, False)
    assert typed("东门那边") == (None, "东门", False)
    assert typed("不清楚") == (None, None, True)
    assert typed("7号楼电梯坏了") is None
    assert typed("好的") is None
    assert typed("谢谢大家") is None


def test_the_number_to_call_first() -> None:
    urgent = classifier().classify("着火了！2号楼3单元楼道冒黑烟了")
    assert urgent.urgency == "urgent" and call_first(urgent) in ("119", "110", "120")
    assert call_first(replace(urgent, call_first="")) == "119"
    assert call_first(replace(urgent, call_first="120")) == "120"
    assert call_first(replace(urgent, urgency="normal", call_first="120")) == ""
    assert call_first(None) == ""
    kept = reading_from_json(reading_to_json(replace(urgent, call_first="110")))
    assert kept.call_first == "110" and kept.location == urgent.location


async def test_a_burst_folds_only_a_repeat_of_the_same_place_and_event(
    services: Services, clock: FakeClock
) -> None:
    intake = services.intake
    first = await intake.receive(report(1, "4号楼电梯坏了"))
    assert first.kind == flow.OPENED
    clock.advance(timedelta(seconds=5))
    repeat = await intake.receive(report(2, "电梯门关不上"))
    assert repeat.kind == flow.MERGED and repeat.created and repeat.ticket == first.ticket
    again = await intake.receive(report(2, "电梯门关不上"))  # delivered twice
    assert again.kind == flow.MERGED and not again.created
    other = await intake.receive(report(3, "另外一部电梯也坏了，4号楼"))
    assert other.kind == flow.OPENED
    elsewhere = await intake.receive(report(4, "5号楼电梯也坏了"))
    assert elsewhere.kind == flow.OPENED and elsewhere.ticket is not None
    assert elsewhere.ticket.building == "5"
    danger = await intake.receive(report(5, "5号楼电梯关人了！快来人"))
    assert danger.kind == flow.OPENED and danger.call_first == "119"
    assert first.ticket is not None
    added = [e for e in await services.tickets.history(first.ticket.id) if e.kind != "opened"]
    assert [e.detail["note"] for e in added] == ["电梯门关不上"]
    # After the burst window the same words are a ticket of their own again.
    clock.advance(timedelta(minutes=2))
    assert (await intake.receive(report(6, "4号楼电梯门关不上"))).kind != flow.MERGED


async def test_a_progress_question_is_answered_only_about_ones_own_open_ticket(
    services: Services, clock: FakeClock
) -> None:
    intake = services.intake
    opened = await intake.receive(report(1, "2号楼电梯坏了"))
    clock.advance(timedelta(hours=1))
    mine = await intake.receive(report(2, "2号楼电梯什么时候能修好啊？"))
    assert mine.kind == flow.STATUS and mine.ticket == opened.ticket
    other_building = await intake.receive(report(3, "3号楼电梯什么时候能修好啊？"))
    assert other_building.kind != flow.STATUS
    neighbour = await intake.receive(report(4, "2号楼电梯什么时候能修好啊？", user=3999))
    assert neighbour.kind != flow.STATUS


async def test_nobody_has_come_and_a_ticket_number_ask_about_ones_own_complaint(
    services: Services, clock: FakeClock
) -> None:
    """ "还没人来啊" from a reporter with an open complaint asks after it (the newest, when
    several) instead of opening a ticket about nobody coming; "#N 怎么样了" names one of their
    own, but never a neighbour's, nor in the group one they reported privately."""
    intake = services.intake
    first = await intake.receive(report(1, "2号楼电梯坏了"))
    clock.advance(timedelta(hours=1))
    newest = await intake.receive(report(2, "5号楼楼道灯不亮了"))
    clock.advance(timedelta(hours=1))
    for n, words in enumerate(("还没人来啊", "怎么一直没人管", "报了这么久了还没人来"), 3):
        asked = await intake.receive(report(n, words))
        assert asked.kind == flow.STATUS and asked.ticket == newest.ticket, words
    assert (await intake.receive(report(6, "还没人来啊", user=3999))).kind != flow.STATUS
    assert first.ticket is not None
    named = await intake.receive(report(7, f"#{first.ticket.number} 怎么样了"))
    assert named.kind == flow.STATUS and named.ticket == first.ticket
    by_words = await intake.receive(report(8, f"{first.ticket.number}号工单有进度吗"))
    assert by_words.kind == flow.STATUS and by_words.ticket == first.ticket
    neighbour = await intake.receive(report(9, f"#{first.ticket.number} 怎么样了", user=3999))
    assert neighbour.kind != flow.STATUS
    private = await intake.receive(replace(report(10, "3号楼门口垃圾没人清"), is_private=True))
    assert private.ticket is not None
    in_group = await intake.receive(report(11, f"#{private.ticket.number} 什么时候处理"))
    assert in_group.kind != flow.STATUS  # not that one, and not another one instead
    in_private = await intake.receive(
        replace(report(12, f"#{private.ticket.number} 什么时候处理"), is_private=True)
    )
    assert in_private.kind == flow.STATUS and in_private.ticket == private.ticket


async def test_a_privately_reported_complaint_is_never_asked_after_in_the_group(
    services: Services, clock: FakeClock
) -> None:
    """Its words and place stay out of every group, even for its own reporter's question."""
    intake = services.intake
    private = await intake.receive(replace(report(1, "2号楼电梯坏了"), is_private=True))
    clock.advance(timedelta(hours=1))
    for n, words in enumerate(("什么时候能修好啊？", "还没人来啊", "2号楼电梯什么时候修好"), 2):
        assert (await intake.receive(report(n, words))).kind != flow.STATUS, words
    asked = await intake.receive(replace(report(9, "什么时候能修好啊？"), is_private=True))
    assert asked.kind == flow.STATUS and asked.ticket == private.ticket


async def test_reason_questions_survive_a_restart_and_expire(
    db: Database, clock: FakeClock
) -> None:
    questions = DialogueService(db, clock)
    assert await questions.current(RESIDENT, GROUP) is None
    await questions.start(UNSATISFIED, RESIDENT, GROUP, AwaitUnsatisfied(7))
    after_restart = DialogueService(db, clock)
    asked = await after_restart.current(RESIDENT, GROUP)
    assert asked is not None and asked.is_open and UNSATISFIED.data_of(asked).ticket_id == 7
    assert await after_restart.current(RESIDENT, RESIDENT) is None  # asked in the group only
    await after_restart.close(UNSATISFIED.name, RESIDENT, GROUP, 42)
    answered = await questions.current(RESIDENT, GROUP)
    assert answered is not None and not answered.is_open and answered.last_message_id == 42
    clock.advance(timedelta(hours=1))
    assert await questions.current(RESIDENT, GROUP) is None


async def test_a_question_without_a_topic_is_no_status_request(
    services: Services, clock: FakeClock
) -> None:
    intake = services.intake
    opened = await intake.receive(report(1, "2号楼电梯坏了"))
    clock.advance(timedelta(hours=1))
    assert (await intake.receive(report(2, "明天什么时候开会啊？"))).kind == flow.IGNORED
    asked = await intake.receive(report(3, "什么时候能修好啊？"))
    assert asked.kind == flow.STATUS and asked.ticket == opened.ticket


async def test_a_reporter_waits_on_several_questions_in_a_chat_beside_their_dialogue(
    services: Services, clock: FakeClock
) -> None:
    intake, dialogues = services.intake, services.dialogues
    await dialogues.start(UNSATISFIED, RESIDENT, GROUP, AwaitUnsatisfied(7))
    first = await intake.receive(replace(report(1, "楼里有点情况"), explicit=True))
    second = await intake.receive(replace(report(2, "楼道里有点情况"), explicit=True))
    assert (first.kind, second.kind) == (flow.CONFIRM, flow.CONFIRM)
    assert first.pending_id is not None and second.pending_id is not None
    assert first.pending_id != second.pending_id
    # Which kind, then which building: the same question moves on, under the same id.
    asked = await intake.answer_category(first.pending_id, RESIDENT, "facilities")
    assert (asked.kind, asked.pending_id) == (flow.ASK_BUILDING, first.pending_id)
    waiting = await intake.open_building_question(GROUP, RESIDENT)
    assert waiting is not None and waiting.id == first.pending_id and waiting.message_id == 1
    opened = await intake.answer_location(first.pending_id, RESIDENT, building="3")
    assert opened.kind == flow.OPENED and opened.ticket is not None
    assert (opened.ticket.category, opened.ticket.building) == ("facilities", "3")
    assert await intake.open_building_question(GROUP, RESIDENT) is None
    with pytest.raises(DomainError) as twice:
        await intake.answer_location(first.pending_id, RESIDENT, building="3")
    assert twice.value.code == "already_answered"
    with pytest.raises(DomainError) as stranger:
        await intake.answer_category(second.pending_id, 3999, "facilities")
    assert stranger.value.code == "not_your_report"
    # The other question still waits, and the 不满意 question is untouched by both.
    still = await dialogues.current(RESIDENT, GROUP)
    assert still is not None and still.is_open and still.flow == UNSATISFIED.name
    clock.advance(INTAKE_TTL + timedelta(minutes=1))
    with pytest.raises(DomainError) as late:
        await intake.answer_category(second.pending_id, RESIDENT, "facilities")
    assert late.value.code == "question_expired"
