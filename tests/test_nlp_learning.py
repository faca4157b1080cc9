"""Learning from workers' corrections: the same kind of message goes right next time."""

from __future__ import annotations

import pytest

from bot.nlp import Classifier
from bot.services.clock import FakeClock
from bot.services.learning import Learner
from storage import corrections as repo
from storage.db import Database

pytestmark = pytest.mark.both_stores

TEXT = "小区门口的自助洗车机把我车漆刷花了"
SIMILAR = "自助洗车机又把车漆刷花了"


async def test_a_correction_makes_the_message_and_its_kind_read_right(
    db: Database, clock: FakeClock
) -> None:
    clf = Classifier.load()
    learner = Learner(db, clock)
    before = clf.classify(TEXT).category
    assert before != "facilities"
    lesson = await learner.learn("sunny", clf, TEXT, before, "facilities", actor_id=42)
    assert lesson.now_correct
    assert lesson.corrections == 1
    assert lesson.explanation == "已根据 1 次纠正学习"
    assert clf.classify(TEXT).category == "facilities"
    reading = clf.classify(SIMILAR)
    assert reading.category == "facilities"
    assert reading.learned_from >= 1


async def test_learned_weights_survive_a_restart_and_stay_per_community(
    db: Database, clock: FakeClock
) -> None:
    clf = Classifier.load()
    learner = Learner(db, clock)
    wrong = clf.classify(TEXT).category
    await learner.learn("sunny", clf, TEXT, wrong, "facilities", actor_id=42, ticket_id=7)

    restarted = Classifier.load()
    assert restarted.classify(TEXT).category == wrong
    assert await learner.load("sunny", restarted) == 1
    assert restarted.classify(TEXT).category == "facilities"

    other_community = Classifier.load()
    assert await learner.load("riverside", other_community) == 0
    assert other_community.classify(TEXT).category == wrong

    saved = await repo.corrections(db, "sunny")
    assert [(c.wrong, c.correct, c.actor_id, c.ticket_id) for c in saved] == [
        (wrong, "facilities", 42, 7)
    ]
    assert saved[0].created_at == clock.now()


async def test_a_false_alarm_correction_quiets_the_message(db: Database, clock: FakeClock) -> None:
    clf = Classifier.load()
    learner = Learner(db, clock)
    text = "3号楼楼下有老鼠"  # a worker's 不是问题: it was said in jest
    first = clf.classify(text)
    assert first.category == "sanitation" and first.decision == "triage"
    lesson = await learner.learn("sunny", clf, text, first.category, "none", actor_id=1)
    assert lesson.now_correct
    assert clf.classify(text).category == "none"
    assert clf.classify(text).decision == "ignore"


async def test_an_unknown_category_is_refused(db: Database, clock: FakeClock) -> None:
    clf = Classifier.load()
    with pytest.raises(ValueError, match="unknown category"):
        await Learner(db, clock).learn("sunny", clf, TEXT, "other", "potholes", actor_id=1)
    assert await repo.count_corrections(db, "sunny") == 0
