"""Fit the gate's weights to labelled messages instead of setting them by hand.

The gate (data/gate.toml) adds one weight per kind of evidence found in a message (problem,
request, thanks, notice …, and the category lexicon's problem term, combo and topic word). That is
a logistic regression over those kinds, so this module fits it: on the messages of the sets we
may tune on (eval/dev.tsv and eval/train.tsv), with a little L2 and the sign each kind must keep
(evidence for a complaint stays positive, evidence against negative). The two thresholds are then
read off the fitted scores: `ticket` where few non-complaints reach it, `triage` as low as it can
go while few non-complaints fall between the two. Words stay where a person put them; only the
numbers are fitted, and they are written back into gate.toml as plain numbers beside the comments.

    python -m bot.nlp.fit          # rewrite bot/nlp/data/gate.toml from eval/dev + eval/train
    python -m bot.nlp.fit --check  # exit 1 if the shipped numbers differ from a fresh fit

Pure Python and deterministic: the same data gives the same numbers.
"""

from __future__ import annotations

import argparse
import math
import re
import sys
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from bot.nlp.classifier import NONE, Classifier
from bot.nlp.evaluation import Example, read_examples
from bot.nlp.gate import load_gate

REPO = Path(__file__).resolve().parent.parent.parent
TRAINING = (REPO / "eval" / "dev.tsv", REPO / "eval" / "train.tsv")
GATE_PATH = Path(__file__).resolve().parent / "data" / "gate.toml"
# Kinds the category lexicon adds, and their keys in [gate].
EXTRA_KINDS = {
    "problem_term": "problem_term",
    "combo": "combo",
    "heavy_topic": "heavy_topic",
    "topic": "topic",
    "danger": "danger",
    "long": "long",
    "said": "said",
}
L2 = 2.0  # on the squared distance from PRIOR; the log-loss is summed over messages
# The hand-set weights the gate shipped with before it was fitted: the fit starts from them and
# is pulled back towards them, so a kind the labelled sets say little about keeps a sane weight.
PRIOR = {
    "bias": -0.5, "problem_term": 2.0, "combo": 1.5, "heavy_topic": 1.0, "topic": 0.5,
    "danger": 1.0, "said": 0.0, "long": 0.0, "problem": 1.5, "request": 1.0, "persistence": 1.0,
    "distress": 1.0, "irony": 1.5, "thanks": -2.5, "trade": -3.0, "vote": -3.0, "notice": -2.5,
    "schedule": -2.0, "handled": -3.0, "over": -2.5, "past": -1.0, "advice": -3.0, "rules": -2.5,
    "forwarded": -3.0, "greeting": -3.0, "event": -2.5, "lost_found": -3.0, "chat": -2.0,
}  # fmt: skip
STEPS = 4000
RATE = 0.5
MIN_SIZE = 0.05  # a kind keeps its sign with at least this much weight
FALSE_ALARMS = 0.015  # the share of training non-complaints allowed at or above `ticket`
TRIAGE_LOAD = 0.06  # the share of training non-complaints allowed between `triage` and `ticket`


@dataclass(frozen=True, slots=True)
class GateFit:
    bias: float
    weights: dict[str, float]  # kind -> weight (groups by name, extras by kind)
    ticket: float
    triage: float


def _signs() -> dict[str, float]:
    """Return every fitted kind with the sign it must keep (0: either)."""
    lexicon = load_gate()
    signs = {g.name: (1.0 if g.weight > 0 else -1.0) for g in lexicon.groups}
    signs.update({k: 1.0 for k in EXTRA_KINDS})
    signs["long"] = 0.0
    return signs


def gate_rows(
    classifier: Classifier, examples: Iterable[Example]
) -> list[tuple[dict[str, float], int]]:
    """Return (the gate's features, 1 for a complaint) for every message with a clear label."""
    rows = []
    for ex in examples:
        if NONE in ex.labels and len(ex.labels) > 1:
            continue  # "none|other": either is right, so it teaches nothing
        parts = classifier.evidence(ex.text)
        features = dict(parts.gate.features) if parts is not None else {}
        features.pop("learned", None)
        rows.append((features, 0 if ex.labels == {NONE} else 1))
    return rows


def fit_gate(rows: Sequence[tuple[Mapping[str, float], int]]) -> GateFit:
    """Fit the bias and one weight per kind by projected gradient descent; place thresholds."""
    signs = _signs()
    kinds = sorted(signs)
    # Identical feature vectors fold into one row with counts: far fewer rows to visit.
    folded: Counter[tuple[tuple[tuple[str, float], ...], int]] = Counter(
        (tuple(sorted((k, v) for k, v in f.items() if k in signs)), y) for f, y in rows
    )
    patterns = list(folded.items())
    n = sum(folded.values())
    prior = {k: PRIOR.get(k, 0.0) for k in kinds}
    weights = dict(prior)
    bias = PRIOR["bias"]
    for _ in range(STEPS):
        grad = {k: 2 * L2 * (weights[k] - prior[k]) for k in kinds}
        grad_bias = 0.0
        for (features, y), count in patterns:
            z = bias + sum(weights[k] * v for k, v in features)
            p = 1.0 / (1.0 + math.exp(-z)) if z > -30 else 0.0
            err = (p - y) * count
            grad_bias += err
            for k, v in features:
                grad[k] += err * v
        bias -= RATE * grad_bias / n
        for k in kinds:
            w = weights[k] - RATE * grad[k] / n
            if signs[k] > 0:
                w = max(w, MIN_SIZE)
            elif signs[k] < 0:
                w = min(w, -MIN_SIZE)
            weights[k] = w
    weights = {k: round(w, 2) for k, w in weights.items()}
    bias = round(bias, 2)

    def score(features: Iterable[tuple[str, float]]) -> float:
        return bias + sum(weights[k] * v for k, v in features)

    none = sorted(score(f) for (f, y), c in patterns if y == 0 for _ in range(c))
    allowed = int(FALSE_ALARMS * len(none))
    # The lowest round number that leaves at most `allowed` non-complaints at or above it.
    ticket = math.floor(none[-1 - allowed] * 100 + 1) / 100 if none else 0.0
    below = [s for s in none if s < ticket]
    spare = int(TRIAGE_LOAD * len(none))
    # The lowest round number above all but `spare` of the non-complaints below `ticket`.
    triage = math.floor(below[-1 - spare] * 100 + 1) / 100 if len(below) > spare else ticket
    triage = min(triage, ticket - 0.01)
    return GateFit(bias, weights, round(ticket, 2), round(triage, 2))


def fit(paths: Sequence[Path] = TRAINING) -> GateFit:
    """Fit the gate on the labelled sets we may tune on."""
    examples = [ex for path in paths for ex in read_examples(path)]
    return fit_gate(gate_rows(Classifier.load(), examples))


def _number(value: float) -> str:
    return f"{value:.2f}".rstrip("0").rstrip(".") if value != int(value) else f"{value:.1f}"


def render(source: str, result: GateFit) -> str:
    """Return gate.toml with its numbers replaced by the fitted ones (comments and words kept)."""
    head = {"bias": result.bias, "ticket": result.ticket, "triage": result.triage}
    head.update({key: result.weights[kind] for kind, key in EXTRA_KINDS.items()})
    lines = source.split("\n")
    table = ""
    for i, line in enumerate(lines):
        header = re.match(r"^\[([^\]]+)\]", line)
        if header:
            table = header.group(1)
            continue
        found = re.match(r"^(\w+)(\s*=\s*)(-?[\d.]+)(.*)$", line)
        if not found:
            continue
        key, eq, _, rest = found.groups()
        if table == "gate" and key in head:
            value = head[key]
        elif key == "weight" and table.split(".", 1)[0] in ("for", "against"):
            value = result.weights[table.split(".", 1)[1]]
        else:
            continue
        lines[i] = f"{key}{eq}{_number(value)}{rest}"
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bot.nlp.fit", description=__doc__)
    parser.add_argument("--check", action="store_true", help="only compare with the shipped file")
    args = parser.parse_args(argv)
    source = GATE_PATH.read_text(encoding="utf-8")
    fitted = render(source, fit())
    if args.check:
        if fitted != source:
            print("gate.toml differs from a fresh fit: run python -m bot.nlp.fit", file=sys.stderr)
            return 1
        print("gate.toml matches a fresh fit")
        return 0
    GATE_PATH.write_text(fitted, encoding="utf-8")
    print(f"wrote {GATE_PATH}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
