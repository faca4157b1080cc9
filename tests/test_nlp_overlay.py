"""A community's classifier over the shared tables reads exactly as one with tables of its own.

`Classifier.load` reads the default lexicons once per process; a community's words and learned
weights are an overlay. `Classifier(taxonomy, gate)` reads every table from scratch: the oracle.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from bot.nlp import NONE, Classifier
from bot.nlp.classifier import _overlay, shared_tables
from bot.nlp.evaluation import read_examples
from bot.nlp.gate import Gate, load_gate, with_local_words, word_table
from bot.nlp.lexicon import apply_overrides, load_default
from bot.nlp.overlay import gate_over

REPO = Path(__file__).resolve().parent.parent
TEXTS = [e.text for name in ("dev.tsv", "train.tsv") for e in read_examples(REPO / "eval" / name)]

LOCAL_WORDS: dict[str, Any] = {
    "places": ["篮球场", "快递柜", "东门"],
    # 通知 is a notice word of the gate already: 通知一下 starts with it, 温馨提示 is new
    "notices": ["温馨提示", "通知一下", "请各位业主"],
    "slang": {"部梯死咗": "电梯坏了", "物业佬": "物业"},
}
EVERYTHING: dict[str, Any] = {
    **LOCAL_WORDS,
    "keywords": {"parking": ["电动车:2", "地库车位:1.5"], "sanitation": ["快递柜:1.2"]},
    "rename": {"property": "物业管理"},
    "categories": {
        "elevator_ads": {
            "name": "电梯广告",
            "keywords": ["电梯广告:2.5", "电梯:0.5"],
            "combos": ["电梯 + 广告|海报:2"],
        }
    },
    "disable": ["greenery"],
}


def _learned(clf: Classifier) -> tuple[dict[tuple[str, str], float], dict[tuple[str, str], int]]:
    """Learned weights as corrections leave them: new words, heavier and lighter old ones."""
    weights: dict[tuple[str, str], float] = {}
    codes = [c for c in clf.categories if c != "other"]
    for k, text in enumerate(TEXTS[:60]):
        for j, word in enumerate(clf.salient_words(text, limit=3)):
            code = NONE if (k + j) % 4 == 0 else codes[(k * 3 + j) % len(codes)]
            weights[(word, code)] = (-1.0 if k % 3 == 0 else 1.0) * (0.5 + (k % 5))
    weights[("电梯", "facilities")] = -9.0  # no longer a keyword of facilities
    weights[("快递柜", "services")] = 2.0
    weights[("不是问题", NONE)] = -2.5
    return weights, {key: 1 + len(key[0]) for key in weights}


@pytest.mark.parametrize(
    "overrides", [None, LOCAL_WORDS, EVERYTHING], ids=["default", "local", "everything"]
)
def test_the_overlay_reads_every_message_as_tables_of_its_own(
    overrides: dict[str, Any] | None,
) -> None:
    shared = Classifier.load(overrides)
    own = Classifier(apply_overrides(load_default(), overrides), load_gate())
    for clf in (shared, own):
        assert [clf.classify(t) for t in TEXTS] == [own.classify(t) for t in TEXTS]
        clf.apply_learned(*_learned(own))
    assert shared.learned_weights() == own.learned_weights()
    assert shared.categories == own.categories
    for code in shared.categories:
        assert shared.category_name(code) == own.category_name(code)
    differ = [t for t in TEXTS if shared.classify(t) != own.classify(t)]
    assert differ == []
    assert [shared.salient_words(t) for t in TEXTS] == [own.salient_words(t) for t in TEXTS]
    assert [shared.normalise(t) for t in TEXTS] == [own.normalise(t) for t in TEXTS]


def test_the_overlay_words_are_read() -> None:
    clf = Classifier.load(EVERYTHING)
    clf.apply_learned({("快递柜", "services"): 2.0}, {("快递柜", "services"): 1})
    assert clf.classify("请各位业主注意：下周二电梯保养").decision == "ignore"
    assert clf.normalise("篮球场那边部梯死咗") == "篮球场那边电梯坏了"
    assert clf.classify("篮球场那边部梯死咗").category == "facilities"
    assert clf.classify("篮球场的路灯坏了").location.place == "篮球场"
    assert clf.classify("电梯广告太吵了，天天放").category == "elevator_ads"
    assert "greenery" not in clf.categories
    assert clf.category_name("property") == "物业管理"


def test_communities_share_the_base_and_never_change_each_other() -> None:
    base = shared_tables()
    words_before = dict(base.index.base)
    texts = TEXTS[:300]
    plain = Classifier.load()
    expected = [plain.classify(t) for t in texts]

    one = Classifier.load(EVERYTHING)
    one.apply_learned(*_learned(one))
    other = Classifier.load({"notices": ["本苑通告"], "slang": {"部梯死咗": "电梯坏了"}})
    before_other = [other.classify(t) for t in texts]
    other.apply_learned({("电梯", "facilities"): 3.0}, {("电梯", "facilities"): 2})

    assert [plain.classify(t) for t in texts] == expected
    assert [Classifier.load().classify(t) for t in texts] == expected
    assert dict(base.index.base) == words_before
    assert shared_tables() is base
    # one community's learning moved only its own readings
    assert [other.classify(t) for t in texts] != before_other
    other.apply_learned({}, {})
    assert [other.classify(t) for t in texts] == before_other
    # what the overlays keep of their own is small: the base's tables are shared, not copied
    for clf in (plain, one, other):
        assert clf._index.base is base.index.base
        assert clf._index.matcher is base.index.matcher
        assert len(clf._index.own) < 400
    assert plain._gate is base.gate
    with pytest.raises(TypeError):  # the shared word tables are read-only
        base.taxonomy.categories[0].keywords["电梯"] = 9.0  # type: ignore[index]
    assert one._gate is not base.gate and one._gate._patterns is base.gate._patterns


def test_a_gate_over_the_base_reads_as_a_gate_of_its_own() -> None:
    base = shared_tables().gate
    table = word_table(base.lexicon)
    # new words that start base words (吵 in 吵死), that extend them, and that stand alone
    prefixes = sorted({w[:2] for w in table if len(w) >= 3 and w[:2] not in table})[:15]
    longer = sorted(w + "一下" for w in table if len(w) >= 2)[:10]
    lexicon = with_local_words(base.lexicon, [*prefixes, *longer, "温馨提示", "本苑通告"])
    over, own = gate_over(base, lexicon), Gate(lexicon)
    assert over._scan is not base._scan and over._table is not base._table
    texts = TEXTS + [t + "，" + p for t, p in zip(TEXTS, prefixes * 100, strict=False)]
    # a negation before evidence against cancels it (也没看到通知): the new words too
    texts += [
        f"电梯又坏了，{neg}{w}"
        for neg in ("未见", "不是", "别发")
        for w in [*prefixes, *longer, "温馨提示", "本苑通告"]
    ]
    assert [over.read(t, collect=True) for t in texts] == [
        own.read(t, collect=True) for t in texts
    ]
    assert [base.read(t) for t in TEXTS] == [Gate(base.lexicon).read(t) for t in TEXTS]


def test_what_an_overlay_cannot_say_gets_tables_of_its_own() -> None:
    base = shared_tables()
    taxonomy = base.taxonomy
    other_context = replace(taxonomy, cues=replace(taxonomy.cues, context=()))
    assert _overlay(base, other_context) is None
    assert _overlay(base, replace(taxonomy, categories=taxonomy.categories[::-1])) is None
    assert _overlay(base, apply_overrides(taxonomy, EVERYTHING)) is not None
