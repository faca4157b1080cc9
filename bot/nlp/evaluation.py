"""Score the classifier on a labelled TSV (columns id, labels, text) the way eval/ defines it."""

from __future__ import annotations

import csv
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

from bot.nlp.classifier import NONE, Classifier

IGNORE = "ignore"
TICKET = "ticket"
TRIAGE = "triage"


@dataclass(frozen=True, slots=True)
class Example:
    id: str
    labels: frozenset[str]
    text: str


@dataclass(frozen=True, slots=True)
class Outcome:
    example: Example
    predicted: str
    decision: str = TICKET  # what the bot does: ticket, triage (the worker's list) or ignore

    @property
    def correct(self) -> bool:
        """Whether the prediction is one of the accepted labels."""
        return self.predicted in self.example.labels


@dataclass(frozen=True, slots=True)
class Report:
    """The figures `gridbot eval` prints."""

    total: int
    accuracy: float
    macro_f1: float
    false_alarm_rate: float  # public false alarms: gold none the bot would open a ticket on
    triage_load: float  # gold none sent to a worker's triage list
    complaint_recall: float  # gold complaints reaching a ticket or triage
    auto_ticket_rate: float  # gold complaints ticketed without a person looking
    confusions: tuple[tuple[str, str, int], ...]  # (gold, predicted, count), worst first
    outcomes: tuple[Outcome, ...]


def read_tsv(path: str | Path) -> list[dict[str, str]]:
    """Read a tab-separated file with a header into dicts."""
    with open(path, encoding="utf-8", newline="") as handle:
        reader = csv.DictReader(handle, delimiter="\t", quoting=csv.QUOTE_NONE)
        return [dict(row) for row in reader]


def read_examples(path: str | Path) -> list[Example]:
    """Read a labelled file (id, labels, text)."""
    rows = read_tsv(path)
    if rows and not {"id", "labels", "text"} <= set(rows[0]):
        raise ValueError(f"{path}: needs the columns id, labels and text")
    return [
        Example(row["id"], frozenset(row["labels"].split("|")), row["text"] or "") for row in rows
    ]


def evaluate(classifier: Classifier, examples: Sequence[Example]) -> Report:
    """Classify every example and compute the figures."""
    outcomes = []
    for ex in examples:
        reading = classifier.classify(ex.text)
        outcomes.append(Outcome(ex, reading.category, reading.decision))
    return report(outcomes)


def _gold(outcome: Outcome) -> str:
    # Per-class figures: a multi-label row counts for the label the prediction hit, or its first.
    if outcome.correct:
        return outcome.predicted
    return sorted(outcome.example.labels)[0]


def report(outcomes: Iterable[Outcome]) -> Report:
    """Compute accuracy, macro-F1, false alarms, triage load, recall, auto-tickets, confusions."""
    items = tuple(outcomes)
    total = len(items)
    correct = sum(o.correct for o in items)
    gold_none = [o for o in items if o.example.labels == {NONE}]
    gold_complaint = [o for o in items if NONE not in o.example.labels]
    false_alarms = sum(o.decision == TICKET for o in gold_none)
    triaged = sum(o.decision == TRIAGE for o in gold_none)
    found = sum(o.decision != IGNORE for o in gold_complaint)
    ticketed = sum(o.decision == TICKET for o in gold_complaint)
    classes = sorted({_gold(o) for o in items} | {o.predicted for o in items})
    f1s = []
    for code in classes:
        tp = sum(1 for o in items if o.correct and o.predicted == code)
        fp = sum(1 for o in items if o.predicted == code and not o.correct)
        fn = sum(1 for o in items if _gold(o) == code and not o.correct)
        if tp + fp + fn == 0:
            continue
        f1s.append(2 * tp / (2 * tp + fp + fn))
    confusions = Counter((_gold(o), o.predicted) for o in items if not o.correct)
    return Report(
        total=total,
        accuracy=correct / total if total else 0.0,
        macro_f1=sum(f1s) / len(f1s) if f1s else 0.0,
        false_alarm_rate=false_alarms / len(gold_none) if gold_none else 0.0,
        triage_load=triaged / len(gold_none) if gold_none else 0.0,
        complaint_recall=found / len(gold_complaint) if gold_complaint else 0.0,
        auto_ticket_rate=ticketed / len(gold_complaint) if gold_complaint else 0.0,
        confusions=tuple((g, p, n) for (g, p), n in confusions.most_common()),
        outcomes=items,
    )
