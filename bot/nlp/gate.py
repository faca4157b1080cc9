"""The complaint gate: is a message a complaint (or a request for the community to act)?

Evidence for and against, by kind, lives in `data/gate.toml`; every reading names the words that
decided it. Danger words also say how urgent a complaint is and which number to call first.
"""

from __future__ import annotations

import re
import tomllib
from collections.abc import Container, Iterable, Iterator, Mapping
from dataclasses import dataclass, field, replace
from importlib import resources
from typing import Any, Protocol

from bot.nlp.lexicon import LexiconError, parse_keyword

GATE_FILE = "bot/nlp/data/gate.toml"
CALL_NUMBERS = ("119", "110", "120")
URGENT_ONLY = "urgent"
# Groups of evidence that say a problem, not only a mood: with one, a topic word names the thing.
PROBLEM_GROUPS = frozenset({"problem", "request", "persistence", "distress", "irony", "danger"})
# Groups that say a problem in words of their own. A request about a topic (麻烦问下灭火器哪里买)
# or a heavy topic alone says none: such a message is at most worth the worker's look.
STATED_GROUPS = frozenset({"problem", "persistence", "distress", "irony"})
_NEGATION = frozenset("没不未冇唔别")
# Words that hold a negation character and deny nothing.
_NOT_NEGATING = frozenset(
    {
        "特别",
        "分别",
        "区别",
        "级别",
        "告别",
        "识别",
        "类别",
        "性别",
        "差别",
        "个别",
        "不少",
        "不错",
        "不久",
        "不过",
        "不仅",
        "不但",
        "不同",
        "不如",
        "不断",
    }
)
_SAID = frozenset({"problem", "irony"})
_THING = frozenset({"topic", "heavy_topic", "problem_term", "combo"})
_CLAUSE_END = frozenset(",.!?;:。！？，；\n ")
_GAP = r"[^.!?;。！？\n]{0,12}?"
# A contrast (但是, 可是, 结果): evidence against said before it is conceded, not meant
# (物业已经知道了，但是一个月了也没修).
# 但是 and 可是 anywhere; 结果, 不过, 谁知 only opening a clause (处理结果 is no contrast).
_CONTRAST = re.compile(
    r"但是|可是|然而|(?:^|(?<=[,.!?;:。！？，； ]))(?:结果|不过|谁知(?!道)|点知|没想到|but\b)"
)
_DIGIT = re.compile("[0129]")  # a digit of 110, 119, 120 or 12345
# 110/119/120 as numbers of their own: never inside 1202室, an ID number or a phone number.
_EMERGENCY = re.compile(
    r"(?<![\d.\-a-z])(110|119|120|12345)(?![\d.\-])"
    r"(?!\s?(?:室|号|房|栋|幢|座|楼|单元|元|块|米|平|户|天|分|斤|个|次|辆))"
)


@dataclass(frozen=True, slots=True)
class Group:
    """One kind of evidence: its name, whether it counts for a complaint, and its words."""

    name: str
    weight: float
    words: Mapping[str, float]
    patterns: tuple[str, ...] = ()  # "a|b … c|d"


@dataclass(frozen=True, slots=True)
class GateLexicon:
    bias: float
    ticket: float
    triage: float
    problem_term: float
    combo: float
    heavy_topic: float
    topic: float
    long_text: float
    groups: tuple[Group, ...]
    danger: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    # Danger counts only when it is live, here and now: not beside evidence of these groups
    # (news from elsewhere, a joke or game, a drill, a past event now over) unless someone asks
    # for help; and a fight (110) is no crime when animals or one's own children fight.
    not_live: frozenset[str] = frozenset()
    playful: tuple[str, ...] = ()
    danger_weight: float = 1.0  # a danger word (or 110/119/120) counts this much for a complaint
    long_weight: float = 0.0  # what a message longer than long_text adds on its own
    short_text: float = 0.0  # a message this short or shorter is a short one (0: none is)
    short_weight: float = 0.0  # what a short message adds on its own (电动车堵门, 狗屎遍地)
    said_weight: float = 0.0  # what a problem word adds beside a thing of some category
    # what a problem said of a thing adds when the message also says it is not here and now
    # (elsewhere, over, a game, a notice: the groups of [live] unless)
    unlive_weight: float = 0.0


@dataclass(frozen=True, slots=True)
class GateReading:
    """What the gate read: its score and the words for and against."""

    score: float
    kinds: frozenset[str]  # the groups that took part ("problem", "thanks", …)
    for_words: tuple[str, ...]
    against_words: tuple[str, ...]
    danger: bool
    call_first: str
    # danger words were found but the message says they are not here and now (news, a game, a
    # drill, an event over): the classifier does not ticket it without a place or a request
    not_live: bool = False
    # kind -> how much of its weight counted (1, or 0.5 for evidence against in a long message):
    # what `python -m bot.nlp.fit` fits the weights on.
    features: Mapping[str, float] = field(default_factory=dict)
    # group -> every word of it found (the group's own entries; a pattern only when no word was):
    # filled only when asked for, for the fit of per-word weights.
    found: Mapping[str, tuple[str, ...]] = field(default_factory=dict)


def _number(source: str, key: str, value: object) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise LexiconError(source, key, "must be a number")
    return float(value)


def parse_gate(data: Mapping[str, Any], source: str = GATE_FILE) -> GateLexicon:
    """Validate a parsed gate file."""
    head = data.get("gate")
    if not isinstance(head, Mapping):
        raise LexiconError(source, "gate", "missing [gate] table")
    nums = {
        k: _number(source, f"gate.{k}", head.get(k))
        for k in (
            "bias",
            "ticket",
            "triage",
            "problem_term",
            "combo",
            "heavy_topic",
            "topic",
            "long_text",
        )
    }
    optional = (
        ("danger", "danger_weight"),
        ("long", "long_weight"),
        ("short_text", "short_text"),
        ("short", "short_weight"),
        ("said", "said_weight"),
        ("unlive", "unlive_weight"),
    )
    for key, name in optional:
        if key in head:
            nums[name] = _number(source, f"gate.{key}", head[key])
    if not nums["triage"] < nums["ticket"]:
        raise LexiconError(source, "gate.triage", "must be below gate.ticket")
    groups: list[Group] = []
    for side, sign in (("for", 1.0), ("against", -1.0)):
        tables = data.get(side, {})
        if not isinstance(tables, Mapping):
            raise LexiconError(source, side, "must be a table of groups")
        for name, table in tables.items():
            key = f"{side}.{name}"
            if not isinstance(table, Mapping):
                raise LexiconError(source, key, "must be a table with weight and words")
            weight = _number(source, f"{key}.weight", table.get("weight"))
            if weight * sign <= 0:
                raise LexiconError(
                    source, f"{key}.weight", f"must be {'>' if sign > 0 else '<'} 0"
                )
            groups.append(_group(source, key, name, weight, table.get("words")))
    danger_table = data.get("danger", {})
    if not isinstance(danger_table, Mapping):
        raise LexiconError(source, "danger", "must be a table")
    danger: dict[str, tuple[str, ...]] = {}
    for number, words in danger_table.items():
        if number not in (*CALL_NUMBERS, URGENT_ONLY):
            raise LexiconError(source, f"danger.{number}", "use 119, 110, 120 or urgent")
        danger[number] = tuple(_word_list(source, f"danger.{number}", words))
    groups = _with_fitted(source, groups, data.get("fitted", {}))
    not_live, playful = _live(source, data.get("live", {}), {g.name for g in groups})
    return GateLexicon(
        groups=tuple(groups), danger=danger, not_live=not_live, playful=playful, **nums
    )


def _live(source: str, table: object, names: set[str]) -> tuple[frozenset[str], tuple[str, ...]]:
    """Read [live]: the groups that say a danger is not here and now, and playful subjects."""
    if not isinstance(table, Mapping):
        raise LexiconError(source, "live", "must be a table")
    groups = _word_list(source, "live.unless", table["unless"]) if "unless" in table else []
    for name in groups:
        if name not in names:
            raise LexiconError(source, "live.unless", f"{name!r} names no group")
    playful = _word_list(source, "live.playful", table["playful"]) if "playful" in table else []
    return frozenset(groups), tuple(playful)


def _with_fitted(source: str, groups: list[Group], fitted: object) -> list[Group]:
    """Give the words of [fitted.<group>] the weight the labelled sets gave them."""
    if not isinstance(fitted, Mapping):
        raise LexiconError(source, "fitted", "must be a table of groups")
    by_name = {g.name: g for g in groups}
    for name, table in fitted.items():
        key = f"fitted.{name}"
        group = by_name.get(name)
        if group is None:
            raise LexiconError(source, key, "names no group of [for] or [against]")
        if not isinstance(table, Mapping):
            raise LexiconError(source, key, "must be a table of word = weight")
        words = dict(group.words)
        for word, value in table.items():
            weight = _number(source, f"{key}.{word}", value)
            if word not in words:
                raise LexiconError(source, f"{key}.{word}", "is not a word of that group")
            if weight * group.weight <= 0:
                raise LexiconError(source, f"{key}.{word}", "must keep the group's sign")
            words[word] = weight
        by_name[name] = replace(group, words=words)
    return [by_name[g.name] for g in groups]


def _word_list(source: str, key: str, value: object) -> list[str]:
    if not isinstance(value, list) or not value:
        raise LexiconError(source, key, "must be a non-empty list of words")
    words = []
    for entry in value:
        if not isinstance(entry, str) or not entry.strip():
            raise LexiconError(source, key, f"word must be a non-empty string, got {entry!r}")
        words.append(entry.strip().lower())
    return words


def _group(source: str, key: str, name: str, weight: float, value: object) -> Group:
    words: dict[str, float] = {}
    patterns: list[str] = []
    for entry in _word_list(source, f"{key}.words", value):
        if "…" in entry:
            if any(not side.strip() for side in entry.split("…")):
                raise LexiconError(source, f"{key}.words", f"pattern {entry!r} has an empty side")
            patterns.append(entry)
            continue
        word, own = _entry(source, f"{key}.words", entry)
        words[word] = own * (1 if weight > 0 else -1) if own else weight
    return Group(name, weight, words, tuple(patterns))


def load_gate() -> GateLexicon:
    """Load and validate the packaged gate file."""
    raw = (resources.files("bot.nlp") / "data" / "gate.toml").read_text(encoding="utf-8")
    try:
        data = tomllib.loads(raw)
    except tomllib.TOMLDecodeError as exc:
        raise LexiconError(GATE_FILE, "(file)", f"not valid TOML: {exc}") from exc
    return parse_gate(data, GATE_FILE)


def with_local_words(lexicon: GateLexicon, notices: Iterable[str]) -> GateLexicon:
    """Return the lexicon with a community's own notice phrases added to the notice group."""
    extra = [w.strip().lower() for w in notices if w.strip()]
    if not extra:
        return lexicon
    groups = []
    for group in lexicon.groups:
        if group.name == "notice":
            words = dict(group.words)
            for word in extra:
                words.setdefault(word, group.weight)
            group = Group(group.name, group.weight, words, group.patterns)
        groups.append(group)
    return replace(lexicon, groups=tuple(groups))


class WordScan(Protocol):
    """What the gate asks of its word scan (a regex, or a community's words over the base's)."""

    def finditer(self, string: str, /) -> Iterator[re.Match[str]]: ...

    def match(self, string: str, pos: int, /) -> re.Match[str] | None: ...


def word_table(lexicon: GateLexicon) -> dict[str, list[tuple[str, float, str]]]:
    """Return word -> [(group, weight, the group's own entry)] for one scan of the text.

    A word carries the groups of every entry it starts with (吵死 holds 吵): one scan finds the
    longest word at each place.
    """
    table: dict[str, list[tuple[str, float, str]]] = {}
    for group in lexicon.groups:
        for word, weight in group.words.items():
            table.setdefault(word, []).append((group.name, weight, word))
    for number, words in lexicon.danger.items():
        for word in words:
            table.setdefault(word, []).append(("danger:" + number, 0.0, word))
    for word in list(table):
        for k in range(1, len(word)):
            prefix = word[:k]
            if prefix in table:
                own = {e[0] for e in table[word]}
                table[word] = table[word] + [e for e in table[prefix] if e[0] not in own]
    return table


def word_scan(words: Iterable[str]) -> re.Pattern[str]:
    """Return a regex that matches at every place a word starts, capturing the longest."""
    words = list(words)
    firsts = "".join(sorted({re.escape(w[0]) for w in words}))
    return re.compile(f"(?=[{firsts}])(?=({trie_pattern(words)}))")


class Gate:
    """Score the evidence for and against a complaint with one regex scan."""

    def __init__(self, lexicon: GateLexicon) -> None:
        self.lexicon = lexicon
        table = word_table(lexicon)
        self._table: Mapping[str, list[tuple[str, float, str]]] = table
        self._scan: WordScan = word_scan(table)
        self._patterns = tuple(
            (group.name, group.weight, _pattern_regex(p))
            for group in lexicon.groups
            for p in group.patterns
        )
        self._weights = {g.name: g.weight for g in lexicon.groups}
        self._fights = frozenset(lexicon.danger.get("110", ()))
        subjects = "|".join(map(re.escape, lexicon.playful))
        self._playful = (
            re.compile(f"(?:{subjects})[^,.!?;:。！？，；\n]{{0,12}}$") if subjects else None
        )
        # Words with evidence against, the only ones a negation before them can cancel.
        self._against: Container[str] = frozenset(
            w for w, entries in table.items() if any(e[1] < 0 for e in entries)
        )
        # A pattern can only match where a word of its first side is: one search rules most out.
        firsts_of_patterns = [
            w.strip()
            for g in lexicon.groups
            for p in g.patterns
            for w in p.split("…")[0].split("|")
        ]
        self._pattern_hint = (
            re.compile(trie_pattern(w for w in firsts_of_patterns if w))
            if firsts_of_patterns
            else None
        )

    def _negated_clause(self, text: str, start: int) -> bool:
        """Say whether a negation stands shortly before, in the same clause (也没看到通知).

        A negation that opens a problem word (暖气不热的可以先放气, 没水的话记得) says the problem,
        it does not deny what follows.
        """
        low = max(0, start - 5)
        for at in range(start - 1, low - 1, -1):
            ch = text[at]
            if ch in _CLAUSE_END:
                return False
            if ch in _NEGATION and not _asks(text, at):
                for p in (at, at - 1):
                    hit = self._scan.match(text, p) if p >= 0 else None
                    word = hit.group(1) if hit is not None else ""
                    if len(word) > at - p + 1 and any(e[1] > 0 for e in self._table[word]):
                        break
                else:
                    return True
        return False

    def read(
        self,
        text: str,
        extra: Mapping[str, tuple[float, str]] | None = None,
        skip: frozenset[str] = frozenset(),
        collect: bool = False,
    ) -> GateReading:
        """Read text (normalised); `extra` adds evidence found elsewhere: kind -> (weight, word).

        `skip` names groups that do not count here (a question about a service is no schedule
        question: it is the request itself). `collect` also lists every word found per group.
        """
        best: dict[str, tuple[float, str]] = {}
        found: dict[str, list[str]] = {}
        danger_numbers: list[str] = []
        danger = False
        table, against_words, fights = self._table, self._against, self._fights
        for match in self._scan.finditer(text):
            word = match.group(1)
            start = match.start()
            if start and text[start - 1] in _NEGATION and not _asks(text, start - 1):
                continue
            if word[0] in _LATIN_LETTERS and _inside_latin_word(text, start, start + len(word)):
                continue  # "jam" in "jammed", "pm" in "7pm": no word of ours
            against_negated = word in against_words and self._negated_clause(text, start)
            if word in fights and self._played(text, start):
                continue  # 两只猫打架, 俩娃打起来: neither a crime nor a problem
            for kind, weight, own in table[word]:
                if kind in skip or (weight < 0 and against_negated):
                    continue
                if collect:
                    found.setdefault(kind, []).append(own)
                if kind.startswith("danger:"):
                    number = kind[7:]
                    danger = True
                    if number != URGENT_ONLY and number not in danger_numbers:
                        danger_numbers.append(number)
                    kind, weight = "danger", self.lexicon.danger_weight
                if kind not in best or abs(weight) > abs(best[kind][0]):
                    best[kind] = (weight, word)
        hint = self._pattern_hint
        for kind, weight, regex in self._patterns if hint and hint.search(text) else ():
            if kind not in best:
                hit = regex.search(text)
                if hit is not None:
                    best[kind] = (weight, hit.group(0))
                    if collect:
                        found[kind] = [""]  # the group's own weight
        if _DIGIT.search(text) is not None:
            for match in _EMERGENCY.finditer(text):
                number = match.group(1)
                if number == "12345":
                    best.setdefault("request", (self._weights.get("request", 1.0), number))
                    continue
                danger = True
                best.setdefault("danger", (self.lexicon.danger_weight, number))
                if number not in danger_numbers:
                    danger_numbers.append(number)
        has_against = any(w < 0 for w, _ in best.values())
        if has_against and _CONTRAST.search(text) is not None:
            best = self._conceded(text, best)
        for kind, evidence in (extra or {}).items():
            if kind not in best or abs(evidence[0]) > abs(best[kind][0]):
                best[kind] = evidence
            if collect and kind in self._weights:
                found.setdefault(kind, []).append("")  # at the group's own weight
        has_against = has_against or any(w < 0 for w, _ in (extra or {}).values())
        not_live = danger and has_against and not self._live(best)
        if not_live:
            danger = False  # news from elsewhere, a joke, a drill, a past event: no emergency
            danger_numbers.clear()
            best.pop("danger", None)
            if collect:
                found = {k: v for k, v in found.items() if not k.startswith("danger:")}
        long_text = len(text) > self.lexicon.long_text
        features = {kind: 0.5 if long_text and w < 0 else 1.0 for kind, (w, _) in best.items()}
        score = self.lexicon.bias + sum(w * features[kind] for kind, (w, _) in best.items())
        if long_text:
            features["long"] = 1.0
            score += self.lexicon.long_weight
        if len(text) <= self.lexicon.short_text:
            # 3-8 characters: a thing and its problem is all a resident types (狗屎遍地)
            features["short"] = 1.0
            score += self.lexicon.short_weight
        if "combo" in best or (not _SAID.isdisjoint(best) and not _THING.isdisjoint(best)):
            # a problem said of a thing: 电梯 + 坏了, or a thing with its problem (垃圾桶 + 满)
            features["said"] = 1.0
            score += self.lexicon.said_weight
        # 电影里电梯困人: a problem, but not one here and now
        said_of_thing = not _THING.isdisjoint(best) and not PROBLEM_GROUPS.isdisjoint(best)
        if has_against and said_of_thing and not self._live(best):
            features["unlive"] = 1.0
            score += self.lexicon.unlive_weight
        words_for: set[str] = set()
        words_against: set[str] = set()
        for v, w in best.values():
            if v > 0:
                words_for.add(w)
            elif v < 0:
                words_against.add(w)
        return GateReading(
            score=round(score, 6),
            kinds=frozenset(best),
            for_words=tuple(sorted(words_for)),
            against_words=tuple(sorted(words_against)),
            danger=danger,
            call_first=_first_call(danger_numbers),
            not_live=not_live,
            features=features,
            found={k: tuple(sorted(set(v))) for k, v in found.items()} if found else {},
        )

    def _live(self, best: Mapping[str, tuple[float, str]]) -> bool:
        """Say whether danger is here and now: no evidence that it is not, or a call for help."""
        if "request" in best:
            return True
        return not any(k in self.lexicon.not_live and w < 0 for k, (w, _) in best.items())

    def _played(self, text: str, start: int) -> bool:
        """Say whether a fight word has animals or one's own children for its subject."""
        if self._playful is None:
            return False
        return self._playful.search(text, max(0, start - 16), start) is not None

    def _conceded(
        self, text: str, best: dict[str, tuple[float, str]]
    ) -> dict[str, tuple[float, str]]:
        """Drop evidence against that only stands before the last contrast (但是, 结果)."""
        cut = max(m.end() for m in _CONTRAST.finditer(text))
        rest = text[cut:]
        kept = {}
        for kind, (weight, word) in best.items():
            if weight < 0 and word not in rest:
                continue
            kept[kind] = (weight, word)
        return kept


_LATIN_LETTERS = frozenset("abcdefghijklmnopqrstuvwxyz")
_LATIN_OR_DIGIT = frozenset("abcdefghijklmnopqrstuvwxyz0123456789")
# What may follow a Latin word and still be it: "leaks", "blocked", "barking", "noisy".
_INFLECTIONS = frozenset({"s", "es", "ed", "d", "ing", "y"})


def _inside_latin_word(text: str, start: int, end: int) -> bool:
    """Say whether a Latin word found at text[start:end] is only part of a longer word."""
    if start and text[start - 1] in _LATIN_OR_DIGIT:
        return True
    rest = end
    while rest < len(text) and text[rest] in _LATIN_LETTERS:
        rest += 1
    return rest > end and text[end:rest] not in _INFLECTIONS


def _asks(text: str, at: int) -> bool:
    """Say whether the negation character at `at` denies nothing.

    A question (有没有人, 是不是, 要不要, 有冇) asks, and a word that only holds the character
    (特别好看, 不少人, 不错) is no negation.
    """
    if text[at - 1 : at + 1] in _NOT_NEGATING or text[at : at + 2] in _NOT_NEGATING:
        return True
    if at == 0:
        return False
    before = text[at - 1]
    if before == "有" and text[at] == "冇":
        return True
    return at + 1 < len(text) and text[at + 1] == before


def _first_call(numbers: list[str]) -> str:
    """Fire and gas first (119), then violence (110), then injury (120)."""
    for number in CALL_NUMBERS:
        if number in numbers:
            return number
    return ""


def _pattern_regex(pattern: str) -> re.Pattern[str]:
    sides = [
        "(?:" + "|".join(re.escape(w.strip()) for w in side.split("|") if w.strip()) + ")"
        for side in pattern.split("…")
    ]
    return re.compile(_GAP.join(sides))


def _entry(source: str, key: str, entry: str) -> tuple[str, float]:
    """Parse "词" (the group's weight) or "词:1.5" (its own); a bare "转:" stays a word."""
    word, sep, raw = entry.rpartition(":")
    if sep and word and raw and raw.replace(".", "", 1).isdigit():
        return parse_keyword(source, key, entry)
    return entry, 0.0


def trie_pattern(words: Iterable[str]) -> str:
    """Return a regex matching the longest of the words at a place, as a trie of prefixes.

    A flat alternation of a thousand words makes `re` try each in turn at every character; a
    trie shares the prefixes, so a place is ruled out after a character or two.
    """
    trie: dict[str, Any] = {}
    for word in words:
        node = trie
        for ch in word:
            node = node.setdefault(ch, {})
        node[""] = {}
    return _trie_regex(trie, root=True)


_BUCKET = 24  # first characters per bucket of the trie's root


def _trie_regex(node: Mapping[str, Any], root: bool = False) -> str:
    ends = "" in node
    branches = [re.escape(ch) + _trie_regex(child) for ch, child in sorted(node.items()) if ch]
    if not branches:
        return ""
    if root and len(branches) > _BUCKET:
        # `re` tries an alternation's branches one by one: hundreds of first characters would be
        # tried in turn at every place. Buckets behind a one-step character-set test cut that to
        # a few set tests and one short alternation; at most one bucket holds a place's character.
        firsts = [ch for ch in sorted(node) if ch]
        buckets = []
        for k in range(0, len(branches), _BUCKET):
            chars = "".join(re.escape(ch) for ch in firsts[k : k + _BUCKET])
            buckets.append(f"(?=[{chars}])(?:" + "|".join(branches[k : k + _BUCKET]) + ")")
        return "(?:" + "|".join(buckets) + ")"
    body = branches[0] if len(branches) == 1 else "(?:" + "|".join(branches) + ")"
    if ends:  # a word ends here, and longer ones go on: prefer the longer (greedy ?)
        return "(?:" + body + ")?"
    return body
