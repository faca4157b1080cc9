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
import json
import math
import re
import sys
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
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
    "unlive": "unlive",
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
    "elsewhere": -3.0, "play": -2.5, "personal": -2.5, "unlive": -1.0,
}  # fmt: skip
L2_WORD = 8.0  # on a word's distance from its group's weight: only a word seen often moves
WORD_MIN_COUNT = 5  # a word needs this many labelled messages to earn a weight of its own
WORD_MIN_SHIFT = 0.1  # a word's own weight is written only when it differs this much
STEPS = 4000
RATE = 0.5
MIN_SIZE = 0.05  # a kind keeps its sign with at least this much weight
FALSE_ALARMS = 0.004  # the share of non-complaints (scored unseen) allowed at or above `ticket`
FOLDS = 3  # the thresholds are read off scores of rows each fit did not see
TRIAGE_LOAD = 0.06  # the share of training non-complaints allowed between `triage` and `ticket`


@dataclass(frozen=True, slots=True)
class GateFit:
    bias: float
    weights: dict[str, float]  # kind -> weight (groups by name, extras by kind)
    ticket: float
    triage: float
    # group -> word -> its own weight, where the labelled sets say it differs from the group's
    words: dict[str, dict[str, float]] = field(default_factory=dict)


# One message as the fit sees it: (kind, how much of its weight counts, the group's words found).
Row = tuple[tuple[tuple[str, float, tuple[str, ...]], ...], int]


def _signs() -> dict[str, float]:
    """Return every fitted kind with the sign it must keep (0: either)."""
    lexicon = load_gate()
    signs = {g.name: (1.0 if g.weight > 0 else -1.0) for g in lexicon.groups}
    signs.update({k: 1.0 for k in EXTRA_KINDS})
    signs["long"] = 0.0
    signs["unlive"] = -1.0  # a problem in a message that says it is not here and now
    return signs


def gate_rows(classifier: Classifier, examples: Iterable[Example]) -> list[Row]:
    """Return (the gate's evidence, 1 for a complaint) for every message with a clear label."""
    groups = {g.name for g in classifier._gate_lexicon.groups}
    rows: list[Row] = []
    for ex in examples:
        if NONE in ex.labels and len(ex.labels) > 1:
            continue  # "none|other": either is right, so it teaches nothing
        parts = classifier.evidence(ex.text, collect=True)
        features = []
        if parts is not None:
            for kind, v in sorted(parts.gate.features.items()):
                if kind == "learned":
                    continue
                words = parts.gate.found.get(kind, ("",)) if kind in groups else ()
                features.append((kind, v, tuple(words)))
        rows.append((tuple(features), 0 if ex.labels == {NONE} else 1))
    return rows


def _fit_weights(rows: Sequence[Row]) -> GateFit:
    """Fit the bias, one weight per kind and one per frequent word (thresholds left at 0).

    A group counts with the heaviest of its words found, so the fit is a logistic regression
    whose group term is a maximum: projected (sub)gradient descent, the gradient going to the
    word that decided. A word's own weight is its group's plus a deviation pulled towards 0, so a
    word the sets say little about keeps its group's weight.
    """
    signs = _signs()
    kinds = sorted(signs)
    folded: Counter[Row] = Counter(
        (tuple(f for f in features if f[0] in signs), y) for features, y in rows
    )
    patterns = list(folded.items())
    n = sum(folded.values())
    seen: Counter[tuple[str, str]] = Counter()
    for (features, _), count in patterns:
        for kind, _, found in features:
            for word in found:
                if word:
                    seen[(kind, word)] += count
    own = sorted(key for key, count in seen.items() if count >= WORD_MIN_COUNT)
    prior = {k: PRIOR.get(k, 0.0) for k in kinds}
    weights = dict(prior)
    dev = dict.fromkeys(own, 0.0)
    bias = PRIOR["bias"]

    def weight(kind: str, word: str) -> float:
        return weights[kind] + dev.get((kind, word), 0.0)

    def term(kind: str, words: tuple[str, ...]) -> tuple[float, str]:
        if not words:
            return weights[kind], ""
        pick = max if signs[kind] > 0 else min
        word = pick(words, key=lambda w: weight(kind, w))
        return weight(kind, word), word

    for _ in range(STEPS):
        grad = {k: 2 * L2 * (weights[k] - prior[k]) for k in kinds}
        grad_dev = {key: 2 * L2_WORD * d for key, d in dev.items()}
        grad_bias = 0.0
        for (features, y), count in patterns:
            picked = [(kind, v, *term(kind, words)) for kind, v, words in features]
            z = bias + sum(w * v for _, v, w, _ in picked)
            p = 1.0 / (1.0 + math.exp(-z)) if z > -30 else 0.0
            err = (p - y) * count
            grad_bias += err
            for kind, v, _, word in picked:
                grad[kind] += err * v
                if (kind, word) in grad_dev:
                    grad_dev[(kind, word)] += err * v
        bias -= RATE * grad_bias / n
        for k in kinds:
            w = weights[k] - RATE * grad[k] / n
            if signs[k] > 0:
                w = max(w, MIN_SIZE)
            elif signs[k] < 0:
                w = min(w, -MIN_SIZE)
            weights[k] = w
        for key in own:
            d = dev[key] - RATE * grad_dev[key] / n
            base = weights[key[0]]  # the word keeps its group's sign
            dev[key] = max(d, MIN_SIZE - base) if signs[key[0]] > 0 else min(d, -MIN_SIZE - base)
    weights = {k: round(w, 2) for k, w in weights.items()}
    bias = round(bias, 2)
    words: dict[str, dict[str, float]] = {}
    for (kind, word), d in dev.items():
        value = round(weights[kind] + d, 2)
        if abs(value - weights[kind]) >= WORD_MIN_SHIFT:
            words.setdefault(kind, {})[word] = value

    return GateFit(bias, weights, 0.0, 0.0, words)


def _score(result: GateFit, features: Iterable[tuple[str, float, tuple[str, ...]]]) -> float:
    """Return the gate's score of one message under fitted weights, as Gate.read adds it."""
    total = result.bias
    for kind, v, found in features:
        if kind not in result.weights:
            continue
        table = result.words.get(kind, {})
        base = result.weights[kind]
        values = [table.get(w, base) for w in found] or [base]
        total += v * (max(values) if base > 0 else min(values))
    return total


def fit_gate(rows: Sequence[Row]) -> GateFit:
    """Fit the weights on every row; place the thresholds on scores of rows a fit did not see.

    A fit scores the non-complaints it was fitted on lower than new ones, so thresholds read
    off its own rows let too many new ones through. Each row is scored by a fit on the other
    folds instead, and the thresholds are read off those scores.
    """
    result = _fit_weights(rows)
    unseen: list[float] = []
    for fold in range(FOLDS):
        rest = [row for i, row in enumerate(rows) if i % FOLDS != fold]
        part = _fit_weights(rest)
        for i, (features, y) in enumerate(rows):
            # Danger is ticketed whatever the score: no threshold can spare those messages.
            if i % FOLDS == fold and y == 0 and all(k != "danger" for k, _, _ in features):
                unseen.append(_score(part, features))
    none = sorted(unseen)
    allowed = int(FALSE_ALARMS * len(none))
    # The lowest round number that leaves at most `allowed` non-complaints at or above it.
    ticket = math.floor(none[-1 - allowed] * 100 + 1) / 100 if none else 0.0
    below = [s for s in none if s < ticket]
    spare = int(TRIAGE_LOAD * len(none))
    # The lowest round number above all but `spare` of the non-complaints below `ticket`.
    triage = math.floor(below[-1 - spare] * 100 + 1) / 100 if len(below) > spare else ticket
    triage = min(triage, ticket - 0.01)
    return replace(result, ticket=round(ticket, 2), triage=round(triage, 2))


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
    text = "\n".join(lines)
    kept, _, _ = text.partition(FITTED_MARK)
    return kept.rstrip("\n") + "\n\n" + _render_words(result.words)


FITTED_MARK = "# ── fitted: words that count with a weight of their own"


def _render_words(words: Mapping[str, Mapping[str, float]]) -> str:
    lines = [
        FITTED_MARK + " " + "─" * 20,
        "# Written by `python -m bot.nlp.fit`: where the labelled sets say a word is stronger or",
        "# weaker evidence than its group, it counts with this weight instead of the group's.",
    ]
    for group in sorted(words):
        lines += ["", f"[fitted.{group}]"]
        for word, value in sorted(words[group].items(), key=lambda e: (-abs(e[1]), e[0])):
            lines.append(f"{json.dumps(word, ensure_ascii=False)} = {_number(value)}")
    return "\n".join(lines) + "\n"


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
