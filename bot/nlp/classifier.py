"""The complaint classifier: a gate (is it a complaint?) and a category (which kind?), apart.

Both are keyword matching over data files a community can read: `data/gate.toml` holds the
evidence for and against a complaint, `data/taxonomy.toml` the things and problems of each
category. Every reading names the words that decided it.
"""

from __future__ import annotations

import dataclasses
import logging
import math
import re
import threading
import unicodedata
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

from bot.nlp import tokens as tok
from bot.nlp.gate import (
    PROBLEM_GROUPS,
    STATED_GROUPS,
    Gate,
    GateLexicon,
    GateReading,
    load_gate,
    with_local_words,
)
from bot.nlp.lexicon import Category, Combo, Cues, Taxonomy, apply_overrides, load_default
from bot.nlp.location import NOWHERE, Location, PlaceFinder, find_location
from bot.nlp.overlay import gate_over

log = logging.getLogger(__name__)

NONE = "none"
OTHER = "other"
TICKET = "ticket"
TRIAGE = "triage"
IGNORE = "ignore"
# Pastes longer than this are cut: the problem is stated early, and speed must stay bounded.
MAX_CHARS = 600
MIN_SCORE = 1.0  # a category needs this much keyword weight
PROBLEM_TERM = 3.0  # a keyword this heavy is a problem by itself (飞线充电, 高空抛物, 狗屎)
HEAVY_TOPIC = 2.5  # a keyword this heavy is worth a look (灭火器, 低保, 停水)
CLOSE = 0.8  # a runner-up this close to the best may win on its own heaviest word
LEARNED_CAP = 3.0  # no learned adjustment moves a word's weight further than this

_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f\u200b-\u200f\u2028-\u202f\u2060-\u206f\ufeff]+")
_QUESTION = re.compile(r"[?？吗]|怎么|如何|哪里|在哪|去哪|能不能|可以.{0,4}吗|要不要|需要什么")
# WeChat-style codes ([捂脸], [强]): the words inside are no keywords ([裂开] is no crack).
_WECHAT_CODE = re.compile(r"\[[\u4e00-\u9fff]{1,4}\]")
_LATIN = re.compile(r"[a-z]")
# Someone's own case (我妈的养老金, my father's claim): a question about a service is then the
# request itself; a general how-to question (低保怎么申请) waits on the staff's private list.
_OWN_CASE = re.compile(r"我|俺|咱|家里|家老人|\bmy\b|\bour\b|\bi\b")
_SERVICE_QUESTION = frozenset({"schedule", "event"})
_CONTENT = re.compile(r"^[\u4e00-\u9fffa-z][\u4e00-\u9fffa-z0-9]*$")
_ASCII_WORD = re.compile(r"^[a-z0-9 .+#&_%-]+$")

# Filler and function words that say nothing about the category (voice input is full of them).
_FILLERS = frozenset(
    [
        "那个",
        "就是",
        "然后",
        "这个",
        "我们",
        "你们",
        "他们",
        "大家",
        "一下",
        "一个",
        "已经",
        "现在",
        "今天",
        "昨天",
        "明天",
        "还是",
        "什么",
        "时候",
        "有人",
        "没有",
        "可以",
        "因为",
        "所以",
        "但是",
        "而且",
        "真的",
        "一直",
        "这样",
        "那样",
        "怎么",
        "这里",
        "那里",
        "里面",
        "外面",
        "上面",
        "下面",
        "自己",
        "我家",
        "他家",
        "你家",
        "还有",
        "一点",
        "有点",
        "好多",
        "很多",
        "非常",
        "特别",
        "小区",
        "社区",
        "业主",
        "居民",
        "住户",
    ]
)


@dataclass(frozen=True, slots=True)
class Reading:
    """What the classifier read in one message.

    decision: 'ticket' (a clear complaint of a clear category), 'triage' (it might be one, or it
    is one whose category the words do not say) or 'ignore'. category_clear is False when the
    words do not say which category: intake asks the reporter only when they addressed the bot.
    """

    category: str
    confidence: float
    keywords: tuple[str, ...]
    urgency: str
    location: Location
    candidates: tuple[tuple[str, float], ...]
    decision: str
    category_clear: bool = True
    gate: float = 0.0  # the complaint gate's score (see data/gate.toml)
    evidence: tuple[str, ...] = ()  # the gate's deciding words: for first, then "-word" against
    learned_from: int = 0  # corrections behind the learned weights that took part
    call_first: str = (
        ""  # '119' | '110' | '120': the number a resident in danger should call first
    )

    def to_dict(self) -> dict[str, Any]:
        """Return a JSON-ready dict (the shape `gridbot classify` prints)."""
        return {
            "decision": self.decision,
            "category": self.category,
            "category_clear": self.category_clear,
            "confidence": self.confidence,
            "gate": self.gate,
            "evidence": list(self.evidence),
            "keywords": list(self.keywords),
            "urgency": self.urgency,
            "call_first": self.call_first,
            "location": self.location.to_dict(),
            "candidates": [[code, score] for code, score in self.candidates],
            "learned_from": self.learned_from,
        }


NOT_A_COMPLAINT = Reading(NONE, 1.0, (), "normal", NOWHERE, (), IGNORE)


@dataclass(slots=True)
class _Parts:
    """The evidence one reading rests on, before the decision."""

    text: str
    order: list[int]  # category indexes, best first
    scores: dict[int, float]
    hits: dict[int, list[tuple[float, str]]]  # category index -> [(weight, word or combo)]
    combined: set[int]  # categories whose combo (a thing with its problem) was met
    terms: set[int]  # categories with a problem term
    learned_from: int
    gate: GateReading


# (category slot, weight) for each category a word counts for
Entry = tuple[tuple[int, float], ...]


@dataclass(frozen=True, slots=True)
class _Index:
    """The keywords: the base's table, and the words a community reads its own way."""

    base: Mapping[str, Entry]
    matcher: tok.Matcher
    # word -> its entry where it differs from the base's (() where a base word counts for nothing)
    own: Mapping[str, Entry] = field(default_factory=dict)
    extra: tok.Matcher | None = None  # the community's words the base matcher does not find
    # any of those words in the text: a word found is always a piece of the text, so the extra
    # matcher has nothing to find where this finds nothing (most messages)
    extra_hint: re.Pattern[str] | None = None

    def get(self, word: str) -> Entry | None:
        """Return what a word counts for, by category slot (None when it is no keyword)."""
        entry = self.own.get(word)
        if entry is None:
            return self.base.get(word)
        return entry or None

    def find(self, cut: list[str], text: str) -> set[str]:
        """Return the words of the index (and of the base's, which the lookups sort out)."""
        found = self.matcher.find(cut, text)
        if self.extra is not None and self.extra_hint is not None and self.extra_hint.search(text):
            found |= self.extra.find(cut, text)
        return found


@dataclass(frozen=True, slots=True)
class _Slips:
    """Slips and local slang, rewritten before reading."""

    fix: Mapping[str, str]
    cjk: re.Pattern[str] | None
    latin: re.Pattern[str] | None


@dataclass(frozen=True, slots=True)
class _Combos:
    """Each category's combos (by slot), their words, and which combos each first word opens."""

    combos: tuple[tuple[int, Combo], ...]
    words: frozenset[str]
    first: Mapping[str, tuple[int, ...]]


@dataclass(frozen=True, slots=True)
class _Tables:
    """Everything read from one taxonomy and gate lexicon: what community classifiers share."""

    taxonomy: Taxonomy
    gate_lexicon: GateLexicon  # with the taxonomy's notice phrases
    gate: Gate
    negated: re.Pattern[str]
    places: PlaceFinder
    slips: _Slips
    combos: _Combos
    index: _Index


@dataclass(frozen=True, slots=True)
class _Overlay:
    """What a community's [classifier] table changes of the shared tables (learning aside)."""

    base: _Tables
    categories: tuple[tuple[int, Category], ...]  # the community's, with their slots
    slots: Mapping[str, int]  # category code -> slot
    touched: frozenset[str]  # words whose entry may differ from the base's
    context: frozenset[str]  # the base's context words, never keywords


def _read_slips(slips: Mapping[str, str]) -> _Slips:
    latin = [w for w in slips if _ASCII_WORD.match(w)]
    cjk = [w for w in slips if w not in latin and not w.startswith("[")]
    return _Slips(
        dict(slips),
        _literal_regex(cjk) if cjk else None,
        re.compile(r"(?<![a-z])(?:" + _literal_regex(latin).pattern + r")(?![a-z])")
        if latin
        else None,
    )


def _read_combos(categories: Iterable[tuple[int, Category]]) -> _Combos:
    combos = tuple((i, combo) for i, c in categories for combo in c.combos)
    words = frozenset(w for _, combo in combos for side in combo.sides for w in side)
    # first-side word -> the combos it opens, in order: only those can be met.
    first: dict[str, list[int]] = {}
    for k, (_, combo) in enumerate(combos):
        for word in combo.sides[0]:
            first.setdefault(word, []).append(k)
    return _Combos(combos, words, {w: tuple(ks) for w, ks in first.items()})


def _read_negated(cues: Cues) -> re.Pattern[str]:
    return re.compile(
        "(?:"
        + "|".join(sorted(map(re.escape, cues.negations), key=len, reverse=True))
        + ")(?:再|有|在)?("
        + "|".join(sorted(map(re.escape, cues.negatable), key=len, reverse=True))
        + ")"
    )


def _learned_by_word(
    learned: Mapping[tuple[str, str], float], slots: Mapping[str, int]
) -> dict[str, list[tuple[int, float]]]:
    """Return word -> [(slot, capped delta)] in the order learned, for the categories known."""
    found: dict[str, list[tuple[int, float]]] = {}
    for (word, code), delta in learned.items():
        slot = slots.get(code)
        if slot is not None:
            found.setdefault(word, []).append((slot, max(-LEARNED_CAP, min(LEARNED_CAP, delta))))
    return found


def _entry(
    word: str,
    categories: Iterable[tuple[int, Category]],
    context: frozenset[str],
    learned: Iterable[tuple[int, float]],
) -> Entry:
    """Return what a word counts for: its keyword weights, then its learned deltas, if > 0."""
    per: dict[int, float] = {}
    if word not in context:
        for slot, category in categories:
            weight = category.keywords.get(word)
            if weight is not None:
                per[slot] = weight
    for slot, delta in learned:
        per[slot] = per.get(slot, 0.0) + delta
    return tuple((i, w) for i, w in per.items() if w > 0)


def _full_index(
    categories: tuple[tuple[int, Category], ...],
    context: frozenset[str],
    combo_words: frozenset[str],
    learned: Mapping[tuple[str, str], float],
) -> _Index:
    """Build the whole index of one taxonomy and its learned weights (a base, or no overlay)."""
    merged: dict[str, dict[int, float]] = {}
    for i, category in categories:
        for word, weight in category.keywords.items():
            if word not in context:
                merged.setdefault(word, {})[i] = weight
    for word, deltas in _learned_by_word(learned, {c.code: i for i, c in categories}).items():
        slot = merged.setdefault(word, {})
        for i, delta in deltas:
            slot[i] = slot.get(i, 0.0) + delta
    words: dict[str, Entry] = {}
    for word, per_cat in merged.items():
        entry = tuple((i, w) for i, w in per_cat.items() if w > 0)
        if entry:
            words[word] = entry
    gate_learned = [w for (w, code) in learned if code == NONE]
    return _Index(words, tok.Matcher([*words, *combo_words, *gate_learned]))


def _read_tables(
    taxonomy: Taxonomy, gate: GateLexicon, learned: Mapping[tuple[str, str], float]
) -> _Tables:
    """Read every table of a taxonomy and gate lexicon (and learned weights) from scratch."""
    cues = taxonomy.cues
    categories = tuple(enumerate(taxonomy.categories))
    combos = _read_combos(categories)
    gate_lexicon = with_local_words(gate, cues.notices)
    return _Tables(
        taxonomy=taxonomy,
        gate_lexicon=gate_lexicon,
        gate=Gate(gate_lexicon),
        negated=_read_negated(cues),
        places=PlaceFinder(cues.places),
        slips=_read_slips(cues.slips),
        combos=combos,
        index=_full_index(categories, frozenset(cues.context), combos.words, learned),
    )


_shared_lock = threading.Lock()
_shared: _Tables | None = None


def shared_tables() -> _Tables:
    """Return the tables of the default lexicons, read once per process and never changed."""
    global _shared
    with _shared_lock:
        if _shared is None:
            _shared = _read_tables(_read_only(load_default()), _read_only_gate(load_gate()), {})
        return _shared


def _read_only(taxonomy: Taxonomy) -> Taxonomy:
    """Return the taxonomy with read-only word tables: every community shares them."""
    categories = tuple(
        dataclasses.replace(c, keywords=MappingProxyType(dict(c.keywords)))
        for c in taxonomy.categories
    )
    cues = dataclasses.replace(taxonomy.cues, slips=MappingProxyType(dict(taxonomy.cues.slips)))
    return dataclasses.replace(taxonomy, categories=categories, cues=cues)


def _read_only_gate(lexicon: GateLexicon) -> GateLexicon:
    """Return the gate lexicon with read-only word tables: every community shares them."""
    groups = tuple(
        dataclasses.replace(g, words=MappingProxyType(dict(g.words))) for g in lexicon.groups
    )
    return dataclasses.replace(
        lexicon, groups=groups, danger=MappingProxyType(dict(lexicon.danger))
    )


def _overlay(base: _Tables, taxonomy: Taxonomy) -> _Overlay | None:
    """Say how a community's taxonomy differs from the base's; None when no overlay can say it.

    Categories keep the base's slots (a disabled one leaves its slot empty) and new ones follow,
    so the order of categories, which breaks ties, is the one a table of its own would have.
    """
    if taxonomy.cues.context != base.taxonomy.cues.context:
        return None
    base_categories = {c.code: c for c in base.taxonomy.categories}
    base_slots = {c.code: i for i, c in enumerate(base.taxonomy.categories)}
    slots: dict[str, int] = {}
    following = len(base_slots)
    for category in taxonomy.categories:
        slot = base_slots.get(category.code)
        if slot is None:
            slot, following = following, following + 1
        if slots and slot <= max(slots.values()):
            return None  # categories in another order than the base's
        slots[category.code] = slot
    touched: set[str] = set()
    for category in taxonomy.categories:
        old = base_categories.get(category.code)
        if old is None:
            touched.update(category.keywords)
        elif old.keywords is not category.keywords:
            new, before = category.keywords, old.keywords
            touched.update(w for w, weight in new.items() if before.get(w) != weight)
            touched.update(w for w in before if w not in new)
    for code, old in base_categories.items():
        if code not in slots:
            touched.update(old.keywords)
    categories = tuple((slots[c.code], c) for c in taxonomy.categories)
    context = frozenset(base.taxonomy.cues.context)
    return _Overlay(base, categories, slots, frozenset(touched), context)


def _layered_index(
    over: _Overlay, combos: _Combos, learned: Mapping[tuple[str, str], float]
) -> _Index:
    """Build a community's index over the base's: only the words that differ are its own."""
    base = over.base.index
    by_word = _learned_by_word(learned, over.slots)
    own: dict[str, Entry] = {}
    for word in over.touched | by_word.keys():
        entry = _entry(word, over.categories, over.context, by_word.get(word, ()))
        if entry != base.base.get(word, ()):
            own[word] = entry
    if not own and combos is over.base.combos and not learned:
        return base
    knows = base.matcher.knows
    extra = {w for w, entry in own.items() if entry and not knows(w)}
    extra.update(w for w in combos.words if not knows(w))
    extra.update(w for (w, code) in learned if code == NONE and not knows(w))
    if not extra:
        return _Index(base.base, base.matcher, own)
    words = sorted(extra)
    # no memo: a hundred communities would each keep one, for a scan of a few words
    matcher = tok.Matcher(words, memo_size=0)
    return _Index(base.base, base.matcher, own, matcher, _literal_regex(words))


def _tables_over(over: _Overlay, taxonomy: Taxonomy) -> _Tables:
    """Return a community's tables: the base's, but for what its words change."""
    base = over.base
    cues, base_cues = taxonomy.cues, base.taxonomy.cues
    base_combos = {c.code: c.combos for c in base.taxonomy.categories}
    same_combos = all(c.combos == base_combos.get(c.code, ()) for _, c in over.categories) and all(
        not combos for code, combos in base_combos.items() if code not in over.slots
    )
    combos = base.combos if same_combos else _read_combos(over.categories)
    gate_lexicon = with_local_words(base.gate_lexicon, cues.notices)
    same_negations = (cues.negations, cues.negatable) == (base_cues.negations, base_cues.negatable)
    return _Tables(
        taxonomy=taxonomy,
        gate_lexicon=gate_lexicon,
        gate=(
            base.gate if gate_lexicon is base.gate_lexicon else gate_over(base.gate, gate_lexicon)
        ),
        negated=base.negated if same_negations else _read_negated(cues),
        places=base.places if cues.places == base_cues.places else PlaceFinder(cues.places),
        slips=base.slips if cues.slips == base_cues.slips else _read_slips(cues.slips),
        combos=combos,
        index=_layered_index(over, combos, {}),
    )


class Classifier:
    """Read a resident's message: decision, category, keywords, urgency, location.

    `Classifier.load` reads a community's classifier over the tables of the default lexicons,
    read once per process: its [classifier] table and learned weights keep only what differs.
    A classifier built from a taxonomy directly reads every table of its own.
    """

    def __init__(self, taxonomy: Taxonomy, gate: GateLexicon) -> None:
        """Read a classifier of this taxonomy and gate lexicon, every table its own."""
        self._setup(_read_tables(taxonomy, gate, {}), tuple(enumerate(taxonomy.categories)), None)

    def _setup(
        self,
        tables: _Tables,
        categories: tuple[tuple[int, Category], ...],
        overlay: _Overlay | None,
    ) -> None:
        taxonomy = tables.taxonomy
        self.taxonomy = taxonomy
        self._overlay = overlay
        self._categories = categories  # (slot, category): see _overlay
        self._t2s = tok.converter()
        self._codes = taxonomy.codes()
        slot_codes = [""] * (max((i for i, _ in categories), default=-1) + 1)
        for i, category in categories:
            slot_codes[i] = category.code
        self._slot_codes = tuple(slot_codes)
        self._names = {c.code: c.name for c in taxonomy.categories}
        self._urgent_codes = frozenset(i for i, c in categories if c.urgency == "urgent")
        self._other = next((i for i, c in categories if c.code == OTHER), -1)
        self._asked_for = frozenset(i for i, c in categories if c.asks)
        self._gate_lexicon = tables.gate_lexicon
        self._gate = tables.gate
        self._request_weight = next(
            (g.weight for g in self._gate_lexicon.groups if g.name == "request"), 1.0
        )
        self._negated = tables.negated
        self._places = tables.places
        self._slip_fix = tables.slips.fix
        self._slips = tables.slips.cjk
        self._latin_slips = tables.slips.latin
        self._combo_set = tables.combos
        self._combos = tables.combos.combos
        self._combo_first = tables.combos.first
        self._learned: dict[tuple[str, str], float] = {}
        self._learned_count: dict[tuple[str, str], int] = {}
        self._gate_deltas: tuple[tuple[str, float], ...] = ()  # learned (word, capped delta)
        self._index = tables.index

    # ── construction ──────────────────────────────────────────────────────────────────────────

    @classmethod
    def load(cls, overrides: Mapping[str, Any] | None = None) -> Classifier:
        """Load a community's classifier: the default lexicons (read once) and its overrides."""
        tok.base_tokenizer()
        base = shared_tables()
        taxonomy = apply_overrides(base.taxonomy, overrides)
        overlay = _overlay(base, taxonomy)
        if overlay is None:
            return cls(taxonomy, base.gate_lexicon)
        clf = cls.__new__(cls)
        clf._setup(_tables_over(overlay, taxonomy), overlay.categories, overlay)
        return clf

    def _build_index(self) -> _Index:
        """Build the index with the learned weights: over the base's, or all of its own."""
        if self._overlay is not None:
            return _layered_index(self._overlay, self._combo_set, self._learned)
        context = frozenset(self.taxonomy.cues.context)
        return _full_index(self._categories, context, self._combo_set.words, self._learned)

    # ── public API ────────────────────────────────────────────────────────────────────────────

    @property
    def categories(self) -> tuple[str, ...]:
        """Return the category codes this classifier knows (never 'none')."""
        return self._codes

    def category_name(self, code: str) -> str:
        """Return the Chinese name of a category, honouring the community's renames."""
        return self._names.get(code, code)

    def apply_learned(
        self, weights: Mapping[tuple[str, str], float], counts: Mapping[tuple[str, str], int]
    ) -> None:
        """Install learned adjustments: (word, code) -> delta; code 'none' adjusts the gate."""
        self._learned = dict(weights)
        self._learned_count = dict(counts)
        self._gate_deltas = tuple(
            (word, max(-LEARNED_CAP, min(LEARNED_CAP, delta)))
            for (word, code), delta in self._learned.items()
            if code == NONE
        )
        self._index = self._build_index()  # a community's: only its own words rebuilt

    def learned_weights(self) -> dict[tuple[str, str], float]:
        """Return the learned (word, code) -> delta adjustments in force."""
        return dict(self._learned)

    def learned_counts(self) -> dict[tuple[str, str], int]:
        """Return how many corrections stand behind each learned (word, code)."""
        return dict(self._learned_count)

    def normalise(self, text: str) -> str:
        """Return the text as the lexicons see it: clean, simplified, lower-case, bounded."""
        if not isinstance(text, str):
            return ""
        text = text[: MAX_CHARS * 2]
        text = _CONTROL.sub(" ", text)
        text = _nfkc(text)
        text = self._t2s.convert(text).lower().strip()
        if "[" in text:
            text = _WECHAT_CODE.sub(self._fix_code, text)
        if self._slips is not None:
            text = self._slips.sub(self._fix_slip, text)
        if self._latin_slips is not None and _LATIN.search(text):
            text = self._latin_slips.sub(self._fix_slip, text)
        return text[:MAX_CHARS].strip()

    def _fix_slip(self, match: re.Match[str]) -> str:
        return self._slip_fix[match.group(0)]

    def _fix_code(self, match: re.Match[str]) -> str:
        return self._slip_fix.get(match.group(0), " ")

    def tokens(self, text: str) -> list[str]:
        """Return the base cut of normalised text."""
        return tok.cut(text)

    def salient_words(self, text: str, limit: int = 6) -> tuple[str, ...]:
        """Return the content words of a message (no filler, digits or single characters)."""
        normal = self.normalise(text)
        get = self._index.get
        found: dict[str, None] = {}
        for token in self.tokens(normal):
            if len(token) < 2 or token in _FILLERS or not _CONTENT.match(token):
                continue
            found[token] = None
        words = sorted(found, key=lambda w: (get(w) is None, -len(w)))
        return tuple(words[:limit])

    def classify(self, text: str) -> Reading:
        """Read one message; never raises."""
        try:
            return self._classify(text)
        except Exception:  # a classifier bug must not stop the bot reading the group
            log.exception("classifier failed on a message of %d chars", len(text or ""))
            return NOT_A_COMPLAINT

    # ── the reading ───────────────────────────────────────────────────────────────────────────

    def evidence(self, raw: str, collect: bool = False) -> _Parts | None:
        """Return what one reading rests on (the fit reads it, `collect`ing every gate word)."""
        text = self.normalise(raw)
        if not text:
            return None
        index = self._index
        cut = tok.cut(text)
        found = index.find(cut, text)
        negated: set[str] = set()
        if self._negated.search(text):
            negated = {m.group(1) for m in self._negated.finditer(text)}

        # Which category: per-category evidence, category index -> [(weight, word)].
        hits: dict[int, list[tuple[float, str]]] = {}
        get = index.get if index.own else index.base.get
        for word in sorted(found):  # the same hits in the same order, whichever tables found them
            entry = get(word)
            if entry is None or word in negated:
                continue
            for i, weight in entry:
                hits.setdefault(i, []).append((weight, word))
        scores: dict[int, float] = {}
        terms: set[int] = set()
        learned_keys = self._learned_count
        learned_from = 0
        for i, found_hits in hits.items():
            if len(found_hits) > 1:
                # 下水道 and its part 下水 are one piece of evidence, not two.
                found_hits.sort(key=_longest_first)
                kept: list[tuple[float, str]] = []
                for hit in found_hits:
                    if not any(hit[1] in k[1] for k in kept):
                        kept.append(hit)
                hits[i] = found_hits = kept
            total = 0.0
            for weight, word in found_hits:
                total += weight
                if weight >= PROBLEM_TERM and i not in self._asked_for:
                    terms.add(i)
                if learned_keys:
                    behind = learned_keys.get((word, self._slot_codes[i]), 0)
                    learned_from = max(learned_from, behind)
            scores[i] = round(total, 6)  # sums in set order must tie exactly

        present = found | set(cut)
        if negated:
            present -= negated
        combined: set[int] = set()
        first = self._combo_first
        opened = sorted({k for w in present & first.keys() for k in first[w]})
        for k in opened:
            i, combo = self._combos[k]
            if i in combined:
                continue
            sides = combo.sides
            missing = False
            for side in sides[1:]:
                if side.isdisjoint(present):
                    missing = True  # a side none of whose words is here
                    break
            if missing:
                continue
            if _one_word_makes(sides, hits.get(i, ()), text):
                continue
            scores[i] = scores.get(i, 0.0) + combo.weight
            combined.add(i)
            label = "+".join(min(side & present) for side in sides)
            hits.setdefault(i, []).append((combo.weight, label))

        order = sorted(scores, key=lambda i: (-scores[i], i))
        # Shared evidence (消防通道 + 车 + 堵): the one with the heavier own word or combo wins.
        if (
            len(order) > 1
            and scores[order[1]] >= CLOSE * scores[order[0]]
            and self._core(order[1], hits[order[1]]) > self._core(order[0], hits[order[0]])
        ):
            order[0], order[1] = order[1], order[0]
        best = order[0] if order else -1

        # Is it a complaint: the gate, with the category lexicon's own evidence beside it.
        lex = self._gate_lexicon
        extra: dict[str, tuple[float, str]] = {}
        if best in combined:
            extra["combo"] = (lex.combo, hits[best][-1][1])
        term = next((w for wt, w in hits.get(best, ()) if wt >= PROBLEM_TERM), None)
        if best in terms and term is not None:
            extra["problem_term"] = (lex.problem_term, term)
        elif order:
            extra["topic"] = (lex.topic, max(hits[best], key=_heaviest)[1])
        if order and best not in terms:
            heaviest = max(hits[best], key=_heaviest)
            if heaviest[0] >= HEAVY_TOPIC:
                del extra["topic"]
                extra["heavy_topic"] = (lex.heavy_topic, heaviest[1])
        skip: frozenset[str] = frozenset()
        if best in self._asked_for and _QUESTION.search(text):
            # 低保在哪办？ asks for the service: the question is the request, not a schedule.
            extra.setdefault("request", (self._request_weight, "?"))
            skip = _SERVICE_QUESTION
        if self._gate_deltas and (learned := self._gate_learned(found)) is not None:
            extra["learned"] = learned
        gate = self._gate.read(text, extra, skip, collect)
        return _Parts(text, order, scores, hits, combined, terms, learned_from, gate)

    def _classify(self, raw: str) -> Reading:
        parts = self.evidence(raw)
        if parts is None:
            return NOT_A_COMPLAINT
        text, order, scores, hits = parts.text, parts.order, parts.scores, parts.hits
        combined, terms, gate = parts.combined, parts.terms, parts.gate
        best = order[0] if order else -1
        best_score = scores[best] if order else 0.0
        lex = self._gate_lexicon
        learned_from = parts.learned_from

        if gate.score < lex.triage:
            return self._ignored(gate, order, scores)

        said = bool(gate.kinds & PROBLEM_GROUPS) or best in combined or best in terms
        clear = best_score >= MIN_SCORE and said
        # A heavy topic alone (老鼠, 液化气罐) is the worker's best guess on the triage list.
        guess = not clear and order and max(hits[best], key=_heaviest)[0] >= HEAVY_TOPIC
        if clear or guess:
            category, winner = self._slot_codes[best], best
        elif self._other >= 0:
            category, winner = OTHER, self._other
        else:
            category, winner = self._slot_codes[best] if order else self._codes[0], best
        # The group hears only of a problem said: in a problem word, persistence, distress or
        # irony, a thing with its problem (combo) or a term that is a problem by itself, or a
        # question asking for a service in one's own case (我妈的高龄补贴怎么申请). A request or
        # a heavy topic without one (麻烦问下灭火器在哪买, 低保怎么申请) goes to the worker's
        # list however high it scores.
        stated = (
            not gate.kinds.isdisjoint(STATED_GROUPS)
            or best in combined
            or best in terms
            or (best in self._asked_for and _OWN_CASE.search(text) is not None)
        )
        # Danger (fire, gas, someone trapped or hurt) never waits on a worker's list.
        sure = (gate.score >= lex.ticket and stated) or gate.danger
        decision = TICKET if sure and clear else TRIAGE
        location = find_location(text, self._places)
        if gate.not_live and "request" not in gate.kinds and location == NOWHERE:
            # Danger words in news, a film, a game or an event over, with no place of ours and
            # no one asking: the worker may look, the group hears nothing.
            decision = TRIAGE
        urgent = gate.danger or winner in self._urgent_codes
        ranked = sorted(hits.get(best, ()), key=_heaviest_first) if clear or guess else []
        keywords = tuple(dict.fromkeys([w for _, w in ranked] + list(gate.for_words)))[:6]
        confidence = 1.0 / (1.0 + math.exp(-(gate.score - lex.triage) * 2.0))
        if not clear:
            confidence *= 0.5
        return Reading(
            category=category,
            confidence=round(confidence, 3),
            keywords=keywords,
            urgency="urgent" if urgent else "normal",
            location=location,
            candidates=self._candidates(order, scores, first=category),
            decision=decision,
            category_clear=clear,
            gate=round(gate.score, 3),
            evidence=_evidence(gate),
            learned_from=learned_from,
            call_first=gate.call_first if gate.danger else "",
        )

    def _ignored(self, gate: GateReading, order: list[int], scores: dict[int, float]) -> Reading:
        certainty = 1.0 / (1.0 + math.exp((gate.score - self._gate_lexicon.triage) * 2.0))
        return Reading(
            category=NONE,
            confidence=round(certainty, 3),
            keywords=gate.against_words[:5],
            urgency="normal",
            location=NOWHERE,
            candidates=self._candidates(order, scores),
            decision=IGNORE,
            category_clear=False,
            gate=round(gate.score, 3),
            evidence=_evidence(gate),
        )

    def _gate_learned(self, found: set[str]) -> tuple[float, str] | None:
        """Return the strongest learned gate adjustment among the words found (不是问题 …)."""
        best: tuple[float, str] | None = None
        for word, delta in self._gate_deltas:
            if word in found and (best is None or abs(delta) > abs(best[0])):
                best = (delta, word)
        return best

    def _core(self, i: int, found: Iterable[tuple[float, str]]) -> float:
        """Return the weight of category i's heaviest hit (a keyword or a combo)."""
        return max((w for w, _ in found), default=0.0)

    def _candidates(
        self, order: list[int], scores: dict[int, float], first: str | None = None
    ) -> tuple[tuple[str, float], ...]:
        total = sum(scores.values())
        ranked = (
            [(self._slot_codes[i], round(scores[i] / total, 3)) for i in order[:4]]
            if total
            else []
        )
        if first is not None and first not in {c for c, _ in ranked}:
            ranked.insert(0, (first, ranked[0][1] if ranked else 1.0))
        ranked.sort(key=lambda c: (c[0] != first, -c[1]))
        return tuple(ranked[:3])


def _evidence(gate: GateReading) -> tuple[str, ...]:
    return gate.for_words + tuple("-" + w for w in gate.against_words)


def _literal_regex(words: Iterable[str]) -> re.Pattern[str]:
    """Compile words into one alternation, longest first so 没人管 wins over 没人."""
    ordered = sorted(set(words), key=lambda w: (-len(w), w))
    return re.compile("|".join(re.escape(w) for w in ordered))


def _nfkc(text: str) -> str:
    """NFKC-normalise text; the common full-width punctuation first, as NFKC is slow."""
    if unicodedata.is_normalized("NFKC", text):
        return text
    text = (
        text.replace("，", ",")
        .replace("！", "!")
        .replace("？", "?")
        .replace("：", ":")
        .replace("；", ";")
    )
    if unicodedata.is_normalized("NFKC", text):
        return text
    return unicodedata.normalize("NFKC", text)


def _one_word_makes(
    sides: tuple[frozenset[str], ...], hits: Iterable[tuple[float, str]], text: str
) -> bool:
    """Say whether a combo is met only inside one keyword (停车 holds both 车 and 停)."""
    covering = [w for _, w in hits if sum(not side.isdisjoint(w) for side in sides) >= 2]
    if not covering:
        return False
    rest = text
    for word in covering:
        rest = rest.replace(word, " ")
    return not all(any(part in rest for part in side) for side in sides)


def _longest_first(hit: tuple[float, str]) -> tuple[int, float]:
    return (-len(hit[1]), -hit[0])


def _heaviest(hit: tuple[float, str]) -> float:
    return hit[0]


def _heaviest_first(hit: tuple[float, str]) -> tuple[float, str]:
    return (-hit[0], hit[1])
