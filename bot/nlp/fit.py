"""Fit the gate's weights to labelled messages instead of setting them by hand.

The gate (data/gate.toml) adds one weight per kind of evidence found in a message (problem,
request, thanks, notice …, and the category lexicon's problem term, combo and topic word). That is
a logistic regression over those kinds, so this module fits it: on the messages of the sets we
may tune on (eval/dev.tsv and eval/train.tsv), with a little L2 and the sign each kind must keep
(evidence for a complaint stays positive, evidence against negative). Words stay where a person
put them; only the numbers are fitted, and they are written back into gate.toml as plain numbers
beside the comments.

The two thresholds are read off scores of non-complaints a fit did not see, by a rule chosen so
that they barely move when training messages are added or dropped:

- Each training message falls in one of FOLDS folds, drawn from its own content (a hash), so a
  new message moves no other; each non-complaint is scored by a fit on the other folds. This is
  done REPEATS times with differently drawn folds (runs).
- In each run, `ticket` is the quantile with FALSE_ALARMS (0.4 %) of those scores above it and
  `triage` the one with FALSE_ALARMS + TRIAGE_LOAD (6.4 %) above it. Quantiles are
  Harrell-Davis estimates: every sorted score counts, weighted by the chance that a bootstrap
  resample makes it the quantile, so a score added or dropped moves them a little, not from one
  score to the next (the old rule read the third-highest score off one set of folds, and a few
  new training messages once moved `ticket` by 0.8).
- The thresholds are the medians over the runs, rounded up to a cent.

On dev + train, dropping a tenth of the training messages (every tenth row, four ways) moves
`ticket` by 0.05-0.19 (the old rule: 0.03-0.58) and `triage` by at most 0.13 (old: 0.29);
tests/test_nlp_eval.py checks one such tenth.

    python -m bot.nlp.fit          # rewrite bot/nlp/data/gate.toml from eval/dev + eval/train
    python -m bot.nlp.fit --check  # exit 1 if the shipped numbers differ from a fresh fit

Pure Python and deterministic: the same data gives the same numbers.
"""

from __future__ import annotations

import argparse
import json
import math
import re
import statistics
import sys
import zlib
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
    "short": "short",
    "said": "said",
    "unlive": "unlive",
}
L2 = 2.0  # on the squared distance from PRIOR; the log-loss is summed over messages
# The hand-set weights the gate shipped with before it was fitted: the fit starts from them and
# is pulled back towards them, so a kind the labelled sets say little about keeps a sane weight.
PRIOR = {
    "bias": -0.5, "problem_term": 2.0, "combo": 1.5, "heavy_topic": 1.0, "topic": 0.5,
    "danger": 1.0, "said": 0.0, "long": 0.0, "short": 0.0, "problem": 1.5, "request": 1.0,
    "persistence": 1.0,
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
REPEATS = 5  # ... in this many runs, each with its own folds; the median of the runs is kept
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
    signs["short"] = 0.0
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
    n = sum(folded.values())
    seen: Counter[tuple[str, str]] = Counter()
    for (features, _), count in folded.items():
        for kind, _, found in features:
            for word in found:
                if word:
                    seen[(kind, word)] += count
    own = sorted(key for key, count in seen.items() if count >= WORD_MIN_COUNT)
    index = {kind: i for i, kind in enumerate(kinds)}
    slot_of = {key: i for i, key in enumerate(own)}
    nowhere = len(own)  # the deviation of a word without a weight of its own: always 0
    # Each message as lists of indices: (kind, how much counts, its sign, the words' deviations).
    patterns = [
        (
            [
                (index[kind], v, signs[kind] > 0, [slot_of.get((kind, w), nowhere) for w in found])
                for kind, v, found in features
            ],
            y,
            count,
        )
        for (features, y), count in folded.items()
    ]
    sign = [signs[k] for k in kinds]
    prior = [PRIOR.get(k, 0.0) for k in kinds]
    weights = list(prior)
    dev = [0.0] * (nowhere + 1)
    bias = PRIOR["bias"]
    owner = [index[kind] for kind, _ in own]
    for _ in range(STEPS):
        grad = [2 * L2 * (w - p) for w, p in zip(weights, prior, strict=True)]
        grad_dev = [2 * L2_WORD * d for d in dev]
        grad_bias = 0.0
        for compiled, y, count in patterns:
            z = bias
            picked = []
            for k, v, heavy, slots in compiled:
                if not slots:
                    z += weights[k] * v
                    picked.append((k, v, nowhere))
                    continue
                best, top = slots[0], weights[k] + dev[slots[0]]
                for s in slots[1:]:
                    here = weights[k] + dev[s]
                    if (here > top) if heavy else (here < top):
                        best, top = s, here
                z += top * v
                picked.append((k, v, best))
            p = 1.0 / (1.0 + math.exp(-z)) if z > -30 else 0.0
            err = (p - y) * count
            grad_bias += err
            for k, v, s in picked:
                grad[k] += err * v
                grad_dev[s] += err * v
        bias -= RATE * grad_bias / n
        for i in range(len(kinds)):
            w = weights[i] - RATE * grad[i] / n
            if sign[i] > 0:
                w = max(w, MIN_SIZE)
            elif sign[i] < 0:
                w = min(w, -MIN_SIZE)
            weights[i] = w
        for s, k in enumerate(owner):
            d = dev[s] - RATE * grad_dev[s] / n
            base = weights[k]  # the word keeps its group's sign
            dev[s] = max(d, MIN_SIZE - base) if sign[k] > 0 else min(d, -MIN_SIZE - base)
    fitted = {k: round(w, 2) for k, w in zip(kinds, weights, strict=True)}
    words: dict[str, dict[str, float]] = {}
    for (kind, word), d in zip(own, dev, strict=False):
        value = round(fitted[kind] + d, 2)
        if abs(value - fitted[kind]) >= WORD_MIN_SHIFT:
            words.setdefault(kind, {})[word] = value
    return GateFit(round(bias, 2), fitted, 0.0, 0.0, words)


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


def _fold(row: Row, run: int) -> int:
    """Return a row's fold in one run, drawn from its content: adding a row moves no other."""
    return zlib.crc32(f"{run}:{row!r}".encode()) % FOLDS


def unseen_scores(rows: Sequence[Row], run: int) -> list[float]:
    """Return the scores of the non-complaints, each by a fit on the folds it is not in."""
    scores: list[float] = []
    folds = [_fold(row, run) for row in rows]
    for fold in range(FOLDS):
        part = _fit_weights([row for row, f in zip(rows, folds, strict=True) if f != fold])
        for (features, y), f in zip(rows, folds, strict=True):
            # Danger is ticketed whatever the score: no threshold can spare those messages.
            if f == fold and y == 0 and all(k != "danger" for k, _, _ in features):
                scores.append(_score(part, features))
    return sorted(scores)


def _beta_fraction(a: float, b: float, x: float) -> float:
    """Return the continued fraction of the incomplete beta function (modified Lentz)."""
    tiny = 1e-300
    c, d = 1.0, 1.0 - (a + b) * x / (a + 1.0)
    d = 1.0 / (d if abs(d) > tiny else tiny)
    total = d
    for m in range(1, 1000):
        for step in (m * (b - m) * x / ((a + 2 * m - 1) * (a + 2 * m)),
                     -(a + m) * (a + b + m) * x / ((a + 2 * m) * (a + 2 * m + 1))):  # fmt: skip
            d = 1.0 + step * d
            d = 1.0 / (d if abs(d) > tiny else tiny)
            c = 1.0 + step / c
            c = c if abs(c) > tiny else tiny
            total *= d * c
        if abs(d * c - 1.0) < 1e-14:
            break
    return total


def _beta_cdf(a: float, b: float, x: float) -> float:
    """Return the regularised incomplete beta function I_x(a, b)."""
    if x <= 0.0:
        return 0.0
    if x >= 1.0:
        return 1.0
    log_front = math.lgamma(a + b) - math.lgamma(a) - math.lgamma(b)
    front = math.exp(log_front + a * math.log(x) + b * math.log1p(-x))
    if x < (a + 1.0) / (a + b + 2.0):
        return front * _beta_fraction(a, b, x) / a
    return 1.0 - front * _beta_fraction(b, a, 1.0 - x) / b


def quantile(scores: Sequence[float], q: float) -> float:
    """Return the Harrell-Davis estimate of the q-quantile: every order statistic, weighted.

    The weights are close to the chance a bootstrap resample makes each sorted score its
    q-quantile, so the estimate moves smoothly when a score is added or dropped.
    """
    ordered = sorted(scores)
    n = len(ordered)
    a, b = (n + 1) * q, (n + 1) * (1 - q)
    total, before = 0.0, 0.0
    for i, score in enumerate(ordered, 1):
        upto = _beta_cdf(a, b, i / n)
        total += (upto - before) * score
        before = upto
    return total


def _cents_up(value: float) -> float:
    """Return the lowest round number (two decimals) at or above value."""
    return math.ceil(round(value * 100, 6)) / 100


def thresholds(rows: Sequence[Row]) -> tuple[float, float]:
    """Return (ticket, triage): the medians over REPEATS differently drawn sets of folds."""
    tickets: list[float] = []
    triages: list[float] = []
    for run in range(REPEATS):
        none = unseen_scores(rows, run)
        tickets.append(quantile(none, 1 - FALSE_ALARMS))
        triages.append(quantile(none, 1 - FALSE_ALARMS - TRIAGE_LOAD))
    ticket = _cents_up(statistics.median(tickets))
    triage = min(_cents_up(statistics.median(triages)), round(ticket - 0.01, 2))
    return ticket, triage


def fit_gate(rows: Sequence[Row]) -> GateFit:
    """Fit the weights on every row; place the thresholds on scores of rows a fit did not see.

    A fit scores the non-complaints it was fitted on lower than new ones, so thresholds read
    off its own rows let too many new ones through. Each row is scored by a fit on the other
    folds instead (see `thresholds` and the module's docstring for the rule).
    """
    ticket, triage = thresholds(rows)
    return replace(_fit_weights(rows), ticket=ticket, triage=triage)


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
