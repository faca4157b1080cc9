"""The fast base cut, the gate's word scan and the fitted per-word weights."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

import pytest

from bot.nlp import Classifier, LexiconError
from bot.nlp import tokens as tok
from bot.nlp.evaluation import read_examples
from bot.nlp.gate import GATE_FILE, Gate, load_gate, parse_gate, trie_pattern

REPO = Path(__file__).resolve().parent.parent
ODD = [
    "",
    " ",
    "a b\r\nc",
    "abc123 好的.。",
    "\t\n x--y_z%",
    "电梯又坏了!!!",
    "1202室 110",
    "ok拉",
]


def test_the_base_cut_is_jiebas_accurate_mode_word_for_word() -> None:
    clf = Classifier.load()
    base = tok.base_tokenizer()
    texts = [e.text for e in read_examples(REPO / "eval" / "dev.tsv")] + ODD
    for text in texts:
        for form in (text, clf.normalise(text)):
            assert tok.cut(form) == list(base.cut(form, HMM=False)), form


def test_the_trie_scan_finds_the_longest_word_at_each_place() -> None:
    scan = re.compile(f"(?=({trie_pattern(['吵', '吵死', '吵死了', '电梯', '电'])}))")
    found = [m.group(1) for m in scan.finditer("电梯吵死了，吵") if m.group(1)]
    assert found == ["电梯", "吵死了", "吵"]


def test_a_latin_word_is_found_whole_or_inflected_never_inside_another() -> None:
    gate = Gate(load_gate())
    assert "jam" in gate.read("stuck in a jam again").against_words
    assert "jam" not in gate.read("the chute hopper jammed").against_words
    assert "leak" in gate.read("the pipe leaks").for_words  # an inflection is the word
    matcher = tok.Matcher(["led", "电梯"])
    assert matcher.find(["piled"], "piled") == set()  # no "led" inside "piled"
    assert matcher.find(["电梯间"], "电梯间") == {"电梯"}  # a Chinese token still holds words


def _gate_data() -> dict[str, object]:
    raw = (REPO / "bot" / "nlp" / "data" / "gate.toml").read_text(encoding="utf-8")
    data = tomllib.loads(raw)
    data.pop("fitted", None)
    return data


def test_a_fitted_word_counts_with_its_own_weight_and_is_named() -> None:
    data = _gate_data()
    plain = Gate(parse_gate(data)).read("电梯坏了")
    data["fitted"] = {"problem": {"坏了": 0.2}}
    fitted = Gate(parse_gate(data)).read("电梯坏了")
    assert "坏了" in plain.for_words and "坏了" in fitted.for_words
    assert fitted.score < plain.score


@pytest.mark.parametrize(
    "fitted",
    [
        {"nosuchgroup": {"坏了": 1.0}},
        {"problem": {"不在组里的词": 1.0}},
        {"problem": {"坏了": -1.0}},
        {"thanks": {"谢谢": 2.0}},
        {"problem": {"坏了": "heavy"}},
    ],
)
def test_fitted_weights_are_validated(fitted: dict[str, object]) -> None:
    data = _gate_data()
    data["fitted"] = fitted
    with pytest.raises(LexiconError):
        parse_gate(data, GATE_FILE)


def test_the_shipped_fitted_words_load() -> None:
    lexicon = load_gate()
    assert lexicon.ticket > lexicon.triage
