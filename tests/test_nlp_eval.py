"""The quality bars of the classifier on dev.tsv and the held-out set (real.tsv is never a gate).

Thresholds sit a little below what was measured (README, "How well it reads residents").
"""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.nlp import Classifier
from bot.nlp.evaluation import evaluate, read_examples

REPO = Path(__file__).resolve().parent.parent
DEV = REPO / "eval" / "dev.tsv"
HELDOUT = REPO / "eval" / "heldout.tsv"


@pytest.fixture(scope="module")
def clf() -> Classifier:
    return Classifier.load()


def test_dev_set_meets_the_bars(clf: Classifier) -> None:
    report = evaluate(clf, read_examples(DEV))
    assert report.total == 420
    assert report.accuracy >= 0.90, report.confusions[:10]
    assert report.false_alarm_rate <= 0.045  # a ticket on a non-complaint: the costliest
    assert report.triage_load <= 0.06
    assert report.complaint_recall >= 0.94
    assert report.auto_ticket_rate >= 0.87


def test_held_out_set_meets_the_bars(clf: Classifier) -> None:
    report = evaluate(clf, read_examples(HELDOUT))
    assert report.total == 398
    assert report.accuracy >= 0.87, report.confusions[:10]
    assert report.false_alarm_rate <= 0.03
    assert report.triage_load <= 0.07
    assert report.complaint_recall >= 0.94
    assert report.auto_ticket_rate >= 0.82


def test_the_held_out_set_shares_no_message_with_dev() -> None:
    dev = {e.text for e in read_examples(DEV)}
    assert not [e.text for e in read_examples(HELDOUT) if e.text in dev]
