"""The complaint classifier: one jieba search-mode cut, dictionary lookups, precompiled regexes."""

from __future__ import annotations

import logging
import math
import re
import threading
import unicodedata
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from importlib import resources
from typing import Any

import jieba
import opencc

from bot import texts
from bot.nlp.lexicon import Taxonomy, apply_overrides, load_default
from bot.nlp.location import NOWHERE, Location, PlaceFinder, find_location

log = logging.getLogger(__name__)

NONE = "none"
OTHER = "other"
# Pastes longer than this are cut: the problem is stated early, and speed must stay bounded.
MAX_CHARS = 600
# The first clause (a title in portal posts, the opening line in chats) states the problem.
HEAD_CHARS = 40
HEAD_BOOST = 1.5
MIN_SCORE = 1.0  # a category needs this much keyword weight
STRONG = 2.0  # a keyword this heavy is a complaint by itself
OTHER_MIN = 1.5  # complaint words needed for `other`
NOTICE_RATIO = 0.8  # not-complaint words beat complaint evidence above this ratio
TICKET_CONFIDENCE = 0.5
# Confidence = trust in the complaint-ness x topic strength x margin x notice share. Weak
# complaint evidence (a question, one vague word) stays below TICKET_CONFIDENCE whatever the topic.
CLEAR_TRUST = 0.95
WEAK_TRUST = 0.5
TOPIC_SCALE = 1.0  # a 1.0-weight topic word with a clear cue is just enough for a ticket
SELF_EVIDENT = 3.0  # a keyword this heavy names a problem by itself (飞线充电, 高空抛物)
EVIDENT_UNLESS_ASKED = 2.5  # this heavy names a problem unless the message is a question
CLOSE = 0.8  # a runner-up this close to the best may win on its core vocabulary
LONG_TEXT = 80
# A request (请物业来修) or a broken promise (说好…又推到) counts as this much complaint weight:
# enough to make `other` on its own (the bot then asks), never a clear complaint without a topic.
REQUEST = OTHER_MIN
NEW_WORD_FREQ = 800  # jieba frequency for lexicon words missing from its dictionary

_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f\u200b-\u200f\u2028-\u202f\u2060-\u206f\ufeff]+")
_HEAD_END = re.compile(r"[ 。！？!?\n；;]")
_NEGATED_BEFORE = re.compile(r"[没未不冇唔]")  # 还没修好 is no thanks
_QUESTION_WORDS = (
    "请问|是不是|有没有|什么时候|啥时候|几时|何时|多久|怎么|咋|能不能|可不可以"
    "|可以吗|能否|哪里|在哪|去哪|多少|要不要|需不需要|咨询|想问|问一下"
)
# The look-ahead on first characters lets the scan skip ahead (re finds none itself here).
_QUESTION = re.compile(
    f"(?=[?？吗嘛{''.join(sorted({w[0] for w in _QUESTION_WORDS.split('|')}))}])"
    f"(?:[?？吗嘛]|{_QUESTION_WORDS})"
)
# WeChat-style codes ([捂脸], [强]): the words inside are no keywords ([裂开] is no crack).
_WECHAT_CODE = re.compile(r"\[[\u4e00-\u9fff]{1,4}\]")
_LATIN = re.compile(r"[a-z]")
# A calendar date (12月5日) announces a day as much as 明天 does.
_DATE = re.compile(r"\d{1,2}月\d{1,2}[日号]")
_CONTENT = re.compile(r"^[\u4e00-\u9fffa-z][\u4e00-\u9fffa-z0-9]*$")
_ASCII_WORD = re.compile(r"^[a-z0-9 .+#&_%-]+$")
# The sides of a request stand within one sentence, a few characters apart (请物业明天来修).
_REQUEST_GAP = r"[^.!?;。！？\n]{0,12}?"
_CLAUSE_BREAKS = frozenset(",.!?;:。！？，\n")

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

_jieba_lock = threading.Lock()
_tokenizer: Any = None
_converter: Any = None


@dataclass(frozen=True, slots=True)
class Reading:
    """What the classifier read in one message."""

    category: str
    confidence: float
    keywords: tuple[str, ...]
    urgency: str
    location: Location
    candidates: tuple[tuple[str, float], ...]
    decision: str
    learned_from: int = 0  # corrections behind the learned weights that took part
    call_first: str = (
        ""  # '119' | '110' | '120': the number a resident in danger should call first
    )

    def to_dict(self) -> dict[str, Any]:
        """Return a JSON-ready dict (the shape `gridbot classify` prints)."""
        return {
            "category": self.category,
            "confidence": self.confidence,
            "keywords": list(self.keywords),
            "urgency": self.urgency,
            "location": self.location.to_dict(),
            "candidates": [[code, score] for code, score in self.candidates],
            "decision": self.decision,
            "learned_from": self.learned_from,
        }


NOT_A_COMPLAINT = Reading(NONE, 1.0, (), "normal", NOWHERE, (), "ignore")


def _literal_regex(words: Iterable[str]) -> re.Pattern[str]:
    """Compile words into one alternation, longest first so 没人管 wins over 没人."""
    ordered = sorted(set(words), key=lambda w: (-len(w), w))
    return re.compile("|".join(re.escape(w) for w in ordered))


def _first_chars(words: Iterable[str]) -> str:
    """Return a character class of the words' first characters."""
    return "[" + "".join(sorted({re.escape(w[0]) for w in words})) + "]"


def shared_tokenizer() -> Any:
    """Return the process's jieba tokenizer with the domain dictionary, initialising it once."""
    global _tokenizer, _converter
    with _jieba_lock:
        if _tokenizer is None:
            jieba.setLogLevel(logging.WARNING)
            tokenizer = jieba.Tokenizer()
            tokenizer.initialize()
            userdict = resources.files("bot.nlp") / "data" / "userdict.txt"
            # A file object, not a path: jieba leaves the files it opens itself unclosed.
            with userdict.open("rb") as handle:
                tokenizer.load_userdict(handle)
            _tokenizer = tokenizer
            _converter = opencc.OpenCC("t2s")
        return _tokenizer


@dataclass(slots=True)
class _Index:
    """Lookup tables built from a taxonomy (plus learned weights)."""

    words: dict[str, tuple[tuple[int, float], ...]] = field(default_factory=dict)
    keys: frozenset[str] = frozenset()
    singles: dict[str, tuple[tuple[int, float], ...]] = field(default_factory=dict)
    single_keys: frozenset[str] = frozenset()
    phrases: re.Pattern[str] | None = None  # ascii keywords with spaces, e.g. "town council"


class Classifier:
    """Read a resident's message: category, confidence, keywords, urgency, location, decision."""

    def __init__(self, taxonomy: Taxonomy, tokenizer: Any, converter: Any) -> None:
        self.taxonomy = taxonomy
        self._tok = tokenizer
        self._t2s = converter
        self._codes = taxonomy.codes()
        self._names = {c.code: c.name for c in taxonomy.categories}
        self._urgent_codes = frozenset(
            i for i, c in enumerate(taxonomy.categories) if c.urgency == "urgent"
        )
        self._other = self._codes.index(OTHER) if OTHER in self._codes else -1
        self._asked_for = frozenset(i for i, c in enumerate(taxonomy.categories) if c.asks)
        cues = taxonomy.cues
        self._problem = _literal_regex(cues.problem)
        self._clear = _literal_regex(cues.clear) if cues.clear else None
        self._complaint_w = dict(cues.complaint)
        self._complaint = _literal_regex(cues.complaint)
        self._notice_w = dict(cues.not_complaint)
        self._notice = _literal_regex(cues.not_complaint)
        self._urgent = _literal_regex(cues.urgent)
        self._negated = re.compile(
            "(?:"
            + "|".join(sorted(map(re.escape, cues.negations), key=len, reverse=True))
            + ")(?:再|有|在)?("
            + "|".join(sorted(map(re.escape, cues.negatable), key=len, reverse=True))
            + ")"
        )
        self._places = PlaceFinder(cues.places)
        self._slip_fix = dict(cues.slips)
        latin = [w for w in cues.slips if _ASCII_WORD.match(w)]
        cjk = [w for w in cues.slips if w not in latin and not w.startswith("[")]
        self._slips = _literal_regex(cjk) if cjk else None
        self._latin_slips = (
            re.compile(r"(?<![a-z])(?:" + _literal_regex(latin).pattern + r")(?![a-z])")
            if latin
            else None
        )
        self._announce_when = _literal_regex(cues.announce_when) if cues.announce_when else None
        to_or_works = [*cues.announce_to, *cues.announce_works]
        self._announce_to = _literal_regex(to_or_works) if to_or_works else None
        # The heading opens the message, perhaps after the sender's name (物业温馨提示).
        sender = ""
        if cues.announce_from:
            sender = f"(?:{_literal_regex(cues.announce_from).pattern})?[:,]?"
        self._announce_head = (
            re.compile(f"{sender}({_literal_regex(cues.announce_head).pattern})")
            if cues.announce_head
            else None
        )
        self._announce_veto = _literal_regex(cues.announce_veto) if cues.announce_veto else None
        self._request = _request_regex(cues.requests) if cues.requests else None
        self._request_not = _literal_regex(cues.request_not) if cues.request_not else None
        # The urging words that open a request (尽快, 务必); addressed to everyone they veto no
        # notice (请各位业主务必于周五前缴费).
        self._urges = frozenset(w for sides in cues.requests if len(sides) > 1 for w in sides[0])
        # Whom a request is addressed to is no topic (请物业来处理一下 names no problem).
        self._addressees = frozenset(cues.announce_from)
        # Notice words a complaint quotes (通知了三次还没人来修) count half beside a veto word.
        self._quoted = frozenset([*cues.announce_to, *cues.announce_works])
        self._cue_words = (
            frozenset([*cues.problem, *cues.complaint, *cues.not_complaint, *cues.negations])
            | _FILLERS
        )
        self._combos = tuple(
            (i, combo) for i, c in enumerate(taxonomy.categories) for combo in c.combos
        )
        self._learned: dict[tuple[str, str], float] = {}
        self._learned_count: dict[tuple[str, str], int] = {}
        self._index = self._build_index()
        self._add_words()

    # ── construction ──────────────────────────────────────────────────────────────────────────

    @classmethod
    def load(cls, overrides: Mapping[str, Any] | None = None) -> Classifier:
        """Initialise jieba, the user dictionary and the lexicons (once, at start-up)."""
        taxonomy = apply_overrides(load_default(), overrides)
        tokenizer = shared_tokenizer()
        return cls(taxonomy, tokenizer, _converter)

    def _build_index(self) -> _Index:
        merged: dict[str, dict[int, float]] = {}
        for i, category in enumerate(self.taxonomy.categories):
            for word, weight in category.keywords.items():
                merged.setdefault(word, {})[i] = weight
        for (word, code), delta in self._learned.items():
            if code not in self._codes:
                continue
            slot = merged.setdefault(word, {})
            i = self._codes.index(code)
            slot[i] = slot.get(i, 0.0) + delta
        index = _Index()
        phrases = []
        for word, per_cat in merged.items():
            entry = tuple((i, w) for i, w in per_cat.items() if w != 0)
            if not entry:
                continue
            if " " in word:
                phrases.append(word)
                index.words[word] = entry
            elif len(word) == 1:
                index.singles[word] = entry
            else:
                index.words[word] = entry
        index.keys = frozenset(index.words)
        index.single_keys = frozenset(index.singles)
        index.phrases = _literal_regex(phrases) if phrases else None
        return index

    def _add_words(self) -> None:
        """Teach jieba every lexicon word so it comes out as one token."""
        freq = self._tok.FREQ
        words: set[str] = set(self._index.keys)
        for _, combo in self._combos:
            for side in combo.sides:
                words.update(side)
        for word in words:
            if len(word) > 1 and not _ASCII_WORD.match(word) and not freq.get(word):
                self._tok.add_word(word, NEW_WORD_FREQ)

    # ── public API ────────────────────────────────────────────────────────────────────────────

    @property
    def categories(self) -> tuple[str, ...]:
        """Return the category codes this classifier knows (never 'none')."""
        return self._codes

    def category_name(self, code: str) -> str:
        """Return the Chinese name of a category, honouring the community's renames."""
        if code == NONE:
            return texts.CLASSIFIER_NOT_COMPLAINT
        return self._names.get(code, code)

    def apply_learned(
        self, weights: Mapping[tuple[str, str], float], counts: Mapping[tuple[str, str], int]
    ) -> None:
        """Install learned weight adjustments: (word, code) -> delta, with corrections behind."""
        self._learned = dict(weights)
        self._learned_count = dict(counts)
        self._index = self._build_index()
        self._add_words()

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
        """Return jieba's search-mode cut of normalised text (compound words and their parts)."""
        return list(self._tok.cut_for_search(text, HMM=False))

    def salient_words(self, text: str, limit: int = 6) -> tuple[str, ...]:
        """Return the content words of a message (no cue words, digits or single characters)."""
        normal = self.normalise(text)
        cue_words = self._cue_words
        found: dict[str, None] = {}
        for token in self.tokens(normal):
            if len(token) < 2 or token in cue_words or not _CONTENT.match(token):
                continue
            found[token] = None
        words = sorted(found, key=lambda w: (w not in self._index.keys, -len(w)))
        return tuple(words[:limit])

    def classify(self, text: str) -> Reading:
        """Read one message; never raises."""
        try:
            return self._classify(text)
        except Exception:  # a classifier bug must not stop the bot reading the group
            log.exception("classifier failed on a message of %d chars", len(text or ""))
            return NOT_A_COMPLAINT

    # ── the reading ───────────────────────────────────────────────────────────────────────────

    def _classify(self, raw: str) -> Reading:
        text = self.normalise(raw)
        if not text:
            return NOT_A_COMPLAINT
        index = self._index
        words_table = index.words
        cut = self._tok.cut_for_search
        if len(text) > HEAD_CHARS:
            match = _HEAD_END.search(text, 6, HEAD_CHARS + 20)
            head_end = match.start() if match else HEAD_CHARS
            head = set(cut(text[:head_end], HMM=False))
            tail = set(cut(text[head_end:], HMM=False)) - head
            head_boost = HEAD_BOOST
        else:
            head = set(cut(text, HMM=False))
            tail = set()
            head_boost = 1.0
        chars = set(text)

        negated: set[str] = set()
        if self._negated.search(text):
            negated = {m.group(1) for m in self._negated.finditer(text)}

        # Sparse per-category evidence: category index -> [(weight, word)].
        hits: dict[int, list[tuple[float, str]]] = {}
        for found, table, boost in (
            (head & index.keys, words_table, head_boost),
            (tail & index.keys, words_table, 1.0),
            (chars & index.single_keys, index.singles, 1.0),
        ):
            for word in found:
                if word in negated:
                    continue
                for i, weight in table[word]:
                    if i in hits:
                        hits[i].append((weight * boost, word))
                    else:
                        hits[i] = [(weight * boost, word)]
        if index.phrases is not None:
            for word in {m.group(0) for m in index.phrases.finditer(text)}:
                for i, weight in words_table[word]:
                    hits.setdefault(i, []).append((weight, word))

        scores: dict[int, float] = {}
        strong: set[int] = set()
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
                if weight >= STRONG:
                    strong.add(i)
                if learned_keys:
                    learned_from = max(learned_from, learned_keys.get((word, self._codes[i]), 0))
            scores[i] = round(total, 6)  # sums in set order must tie exactly

        present = head | tail | chars
        if negated:
            present -= negated
        combined: set[int] = set()
        for i, combo in self._combos:
            # Combos stand in for a missing problem word; they never stack on one.
            sides = combo.sides
            if i in strong or sides[0].isdisjoint(present) or sides[1].isdisjoint(present):
                continue
            if len(sides) > 2 and any(side.isdisjoint(present) for side in sides[2:]):
                continue
            if _one_word_makes(sides, hits.get(i, ()), text):
                continue
            scores[i] = scores.get(i, 0.0) + combo.weight
            strong.add(i)
            combined.add(i)
            label = "+".join(min(side & present) for side in sides)
            hits.setdefault(i, []).append((combo.weight, label))

        complaint_words = {m.group(0) for m in self._complaint.finditer(text)}
        complaint = sum(self._complaint_w[w] for w in complaint_words)
        # The request is looked for only where it can change the reading (a notice word, no
        # category yet, no clear cue): most complaints never need it, and speed must stay flat.
        looked = self._request is None
        request: tuple[int, int] | None = None
        notices = [
            m
            for m in self._notice.finditer(text)
            if not _NEGATED_BEFORE.search(text, max(0, m.start() - 2), m.start())
        ]
        if notices and not looked:
            request, looked = self._request_span(text), True
        # 请物业修好电梯 asks for a repair and thanks for none.
        notice_words = {m.group(0) for m in notices if not _overlaps(m, request)}
        notice = sum(self._notice_w[w] for w in notice_words)
        quoted = notice_words & self._quoted
        if quoted and self._vetoed(text):
            notice -= 0.5 * sum(self._notice_w[w] for w in quoted)
        if len(text) > LONG_TEXT:
            # Long posts that close with 谢谢/感谢 are complaints written politely, not thanks.
            notice *= 0.5

        # Ties go to the taxonomy order (or the core word, below): the same text always reads
        # the same way, whatever order the sets were walked in.
        order = sorted(scores, key=lambda i: (-scores[i], i))
        if len(order) > 1 and scores[order[1]] >= CLOSE * scores[order[0]]:
            # Shared evidence (消防通道 + 车 + 堵): the category whose own core word matched wins
            # (on long posts, which have words enough for the sums to decide, only a tie).
            runner_up = self._core(order[1], hits[order[1]])
            may_swap = scores[order[1]] == scores[order[0]] or (
                runner_up >= STRONG and len(text) <= LONG_TEXT
            )
            if may_swap and runner_up > self._core(order[0], hits[order[0]]):
                order[0], order[1] = order[1], order[0]
        best = order[0] if order else -1
        best_score = scores[best] if order else 0.0
        second = scores[order[1]] if len(order) > 1 else 0.0

        category = NONE
        support = best_score
        topical = False
        if best_score >= STRONG or (
            best_score >= MIN_SCORE
            and (best in strong or complaint > 0 or self._problem.search(text) is not None)
        ):
            category = self._codes[best]
            topical = True
        else:
            if not looked:
                request, looked = self._request_span(text), True
            if request is not None and best_score >= MIN_SCORE:
                category = self._codes[best]
                topical = True
            elif complaint + (REQUEST if request else 0.0) >= OTHER_MIN and self._other >= 0:
                category = OTHER
                best = self._other
                support = complaint + (REQUEST if request else 0.0)
        confidence = 0.0
        if category != NONE:
            announced = self._announcement(text, request)
            if announced and not looked:
                request, looked = self._request_span(text), True
                if request is not None:
                    announced = self._announcement(text, request)
            if announced and not self._vetoed(text):
                category = NONE
                notice_words.update(announced)
                notice = max(notice, best_score)
        if category != NONE:
            # Read only beside a notice word, where the request has been looked for.
            weight_for = support + 0.5 * (complaint + (REQUEST if request else 0.0))
            if notice > 0 and notice >= weight_for * NOTICE_RATIO:
                category = NONE
            else:
                clear = best in combined or complaint >= OTHER_MIN or "!!" in text
                if not clear:
                    heaviest = self._core(best, hits.get(best, ()))
                    clear = heaviest >= SELF_EVIDENT or (
                        heaviest >= EVIDENT_UNLESS_ASKED
                        and (best in self._asked_for or _QUESTION.search(text) is None)
                    )
                if not clear and topical and self._clear is not None:
                    # Without a topic only complaint words are clear: 说好…又推到 asks which.
                    clear = self._has_clear_cue(text)
                if not clear and topical:
                    if not looked:
                        request, looked = self._request_span(text), True
                    # A request to repair a named thing says it is broken (请物业明天修好电梯).
                    clear = request is not None and (
                        self._topic_weight(hits.get(best, ())) >= MIN_SCORE
                    )
                topic = 1.0 - math.exp(-support / TOPIC_SCALE)
                margin = abs(support - second) / support if support > 0 else 0.0
                if category == OTHER and best_score < MIN_SCORE:
                    margin = 0.5
                confidence = (CLEAR_TRUST if clear else WEAK_TRUST) * topic
                confidence *= 0.85 + 0.15 * min(1.0, margin)
                confidence *= weight_for / (weight_for + notice)

        if category == NONE:
            certainty = notice / (notice + best_score) if notice else 1.0 - best_score / 4.0
            return Reading(
                NONE,
                round(min(1.0, max(0.3, certainty)), 3),
                tuple(sorted(notice_words))[:5],
                "normal",
                NOWHERE,
                self._candidates(order, scores),
                "ignore",
            )

        ranked = sorted(hits.get(best, ()), key=_heaviest_first)
        words = [w for _, w in ranked]
        # Ties by the word itself: set order changes with the hash seed.
        words += sorted(complaint_words, key=lambda w: (-self._complaint_w[w], w))
        keywords = tuple(dict.fromkeys(words))[:6]
        urgent = best in self._urgent_codes or self._urgent.search(text) is not None
        confidence = round(min(1.0, max(0.0, confidence)), 3)
        decision = "ticket" if confidence >= TICKET_CONFIDENCE else "confirm"
        return Reading(
            category,
            confidence,
            keywords,
            "urgent" if urgent else "normal",
            find_location(text, self._places),
            self._candidates(order, scores, first=category),
            decision,
            learned_from,
        )

    def _core(self, i: int, found: Iterable[tuple[float, str]]) -> float:
        """Return the weight of category i's heaviest keyword among its hits (not combos)."""
        index = self._index
        heaviest = 0.0
        for _, word in found:
            entry = index.words.get(word) or index.singles.get(word) or ()
            for j, weight in entry:
                if j == i and weight > heaviest:
                    heaviest = weight
        return heaviest

    def _topic_weight(self, found: Iterable[tuple[float, str]]) -> float:
        """Return the weight of a category's hits other than whom a request addresses (物业)."""
        return sum(weight for weight, word in found if word not in self._addressees)

    def _request_span(self, text: str) -> tuple[int, int] | None:
        """Return where a request or broken promise stands, unless its clause asks everyone."""
        assert self._request is not None
        pos = 0
        while (match := self._request.search(text, pos)) is not None:
            start = match.start()
            if not self._to_everyone(text, start, match.end()):
                return (start, match.end())
            pos = start + 1  # 请各位业主尽快清理: the 尽快清理 in it asks everyone as well
        return None

    def _to_everyone(self, text: str, start: int, end: int) -> bool:
        """Say whether the clause up to text[start:end] speaks to everyone (请大家, 各位业主)."""
        if self._request_not is None:
            return False
        clause = start
        while clause > 0 and text[clause - 1] not in _CLAUSE_BREAKS:
            clause -= 1
        return self._request_not.search(text, clause, end) is not None

    def _vetoed(self, text: str) -> bool:
        """Say whether a complaint word stands beside the notice words (还没, 又, 坏了)."""
        if self._announce_veto is None:
            return False
        for match in self._announce_veto.finditer(text):
            word = match.group(0)
            if word not in self._urges or not self._to_everyone(text, match.start(), match.end()):
                return True
        return False

    def _announcement(self, text: str, request: tuple[int, int] | None) -> tuple[str, ...]:
        """Return the words that make the text a notice of planned work (or nothing)."""
        if self._announce_head is not None:
            head = self._announce_head.match(text)
            if head is not None:
                return (head.group(1),)
        if self._announce_when is None or self._announce_to is None or "?" in text:
            return ()
        when = self._announce_when.search(text) or _DATE.search(text)
        if when is None:
            return ()
        to = self._announce_to.search(text)
        if to is not None and _overlaps(to, request):
            # 请物业明天来维修: the works are what the resident asks for, not what is planned.
            to = next(
                (m for m in self._announce_to.finditer(text) if not _overlaps(m, request)), None
            )
        return (when.group(0), to.group(0)) if to is not None else ()

    def _has_clear_cue(self, text: str) -> bool:
        """Say whether a plain problem word (坏, 不亮, 堵, 太) stands un-negated in the text."""
        assert self._clear is not None
        for match in self._clear.finditer(text):
            start = match.start()
            if not _NEGATED_BEFORE.search(text, max(0, start - 2), start):
                return True
        return False

    def _candidates(
        self, order: list[int], scores: dict[int, float], first: str | None = None
    ) -> tuple[tuple[str, float], ...]:
        total = sum(scores.values())
        ranked = (
            [(self._codes[i], round(scores[i] / total, 3)) for i in order[:4]] if total else []
        )
        if first is not None and first not in {c for c, _ in ranked}:
            ranked.insert(0, (first, ranked[0][1] if ranked else 1.0))
        ranked.sort(key=lambda c: (c[0] != first, -c[1]))
        return tuple(ranked[:3])


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


def _request_regex(patterns: Iterable[tuple[tuple[str, ...], ...]]) -> re.Pattern[str]:
    """Compile request patterns into one regex: every side in order, a short gap between."""
    patterns = list(patterns)
    alternation = "|".join(
        _REQUEST_GAP.join(f"(?:{_literal_regex(side).pattern})" for side in sides)
        for sides in patterns
    )
    # A look-ahead on the first characters lets the scan skip where no request starts (re
    # finds no such prefix itself in an alternation of gapped groups): 3x faster.
    return re.compile(f"(?={_first_chars(w for s in patterns for w in s[0])})(?:{alternation})")


def _overlaps(match: re.Match[str], span: tuple[int, int] | None) -> bool:
    """Say whether a match lies (partly) inside a span."""
    return span is not None and match.start() < span[1] and match.end() > span[0]


def _longest_first(hit: tuple[float, str]) -> tuple[int, float]:
    return (-len(hit[1]), -hit[0])


def _heaviest_first(hit: tuple[float, str]) -> tuple[float, str]:
    return (-hit[0], hit[1])
