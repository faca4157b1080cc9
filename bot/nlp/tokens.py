"""One base cut for every classifier, and each classifier's own matcher over it.

jieba's dictionary (plus the packaged domain words) is loaded once per process into a private
`jieba.Tokenizer` that nothing changes afterwards: jieba's global dictionary is never touched, and
no classifier adds words to the shared one. A classifier finds its own lexicon (a community's
words, learned words) by joining neighbouring tokens of that base cut, so one community's
vocabulary can never change another's readings, whatever was loaded first.
"""

from __future__ import annotations

import logging
import math
import re
import string
import threading
from collections.abc import Iterable
from importlib import resources
from typing import Any

import jieba
import opencc

MAX_SPAN = 4  # a lexicon word spans at most this many base tokens
MAX_WORD = 8  # characters
MEMO_SIZE = 50_000  # tokens whose own words a matcher remembers

_lock = threading.Lock()
_base: Any = None
_t2s: Any = None


def base_tokenizer() -> Any:
    """Return the process's base tokenizer (jieba's dictionary + domain words), loaded once."""
    global _base, _cutter
    with _lock:
        if _base is None:
            jieba.setLogLevel(logging.WARNING)
            tokenizer = jieba.Tokenizer()
            tokenizer.initialize()
            userdict = resources.files("bot.nlp") / "data" / "userdict.txt"
            # A file object, not a path: jieba leaves the files it opens itself unclosed.
            with userdict.open("rb") as handle:
                tokenizer.load_userdict(handle)
            _base = tokenizer
            _cutter = _Cutter(tokenizer)
        return _base


def converter() -> Any:
    """Return the shared traditional-to-simplified converter."""
    global _t2s
    with _lock:
        if _t2s is None:
            _t2s = opencc.OpenCC("t2s")
        return _t2s


def cut(text: str) -> list[str]:
    """Return the base cut of normalised text (no HMM: unknown runs stay single characters).

    The same words as `base_tokenizer().cut(text, HMM=False)`, found faster: jieba's route is
    searched with each word's log-probability worked out once, not at every character.
    """
    cutter = _cutter
    if cutter is None:
        base_tokenizer()
        cutter = _cutter
        assert cutter is not None
    return cutter.cut(text)


_cutter: _Cutter | None = None
_HAN = re.compile("([\u4e00-\u9fd5a-zA-Z0-9+#&\\._%\\-]+)")  # jieba's re_han_default
_SKIP = re.compile("(\r\n|\\s)")  # jieba's re_skip_default
_ENG_CHARS = frozenset(string.ascii_letters + string.digits)  # what jieba's re_eng matches
_PREFIX = 1.0  # no log-probability is positive: marks a fragment that only starts words


class _Cutter:
    """jieba's accurate mode without HMM over a frozen dictionary."""

    def __init__(self, tokenizer: Any) -> None:
        freq: dict[str, int] = tokenizer.FREQ
        logtotal = math.log(tokenizer.total)
        # every word and every prefix of one -> its log-probability (_PREFIX for a bare prefix,
        # whose count is 0): one lookup per step of the scan instead of two
        self._logp: dict[str, float] = {
            w: math.log(f) - logtotal if f else _PREFIX for w, f in freq.items()
        }
        self._unknown = math.log(1) - logtotal

    def cut(self, text: str) -> list[str]:
        out: list[str] = []
        # split() on a pattern with one group alternates: text between matches, then a match
        for at, block in enumerate(_HAN.split(text)):
            if not block:
                continue
            if at % 2:
                self._cut_block(block, out)
                continue
            for part in _SKIP.split(block):
                if _SKIP.match(part):
                    out.append(part)
                else:
                    out.extend(part)
        return out

    def _cut_block(self, sentence: str, out: list[str]) -> None:
        logp, unknown = self._logp, self._unknown
        n = len(sentence)
        # route[i]: the best (log-probability, end) of sentence[i:], as jieba's calc keeps it (its
        # max over (probability, end) pairs: a tie goes to the later end, so `>=` as ends grow).
        probs = [0.0] * (n + 1)
        ends = [0] * (n + 1)
        for k in range(n - 1, -1, -1):
            best = 0.0
            end = -1
            i = k
            frag = sentence[k]
            while i < n:
                p = logp.get(frag)
                if p is None:  # neither a word nor the start of one
                    break
                if p < 0.0:  # a word (a bare prefix is _PREFIX)
                    candidate = p + probs[i + 1]
                    if end < 0 or candidate >= best:
                        best = candidate
                        end = i
                i += 1
                frag = sentence[k : i + 1]
            if end < 0:
                best = unknown + probs[k + 1]
                end = k
            probs[k] = best
            ends[k] = end
        x = 0
        buf = ""
        while x < n:
            y = ends[x] + 1
            word = sentence[x:y]
            if y - x == 1 and word in _ENG_CHARS:
                buf += word
            else:
                if buf:
                    out.append(buf)
                    buf = ""
                out.append(word)
            x = y
        if buf:
            out.append(buf)


class Matcher:
    """Find a fixed set of words in a base cut: whole tokens, joined neighbours, or token parts."""

    def __init__(self, words: Iterable[str], memo_size: int = MEMO_SIZE) -> None:
        """Index the words; remember up to `memo_size` tokens' own words (0: none)."""
        words = list(words)
        self._memo_size = memo_size
        self._words = frozenset(w for w in words if len(w) > 1)
        self._singles = frozenset(w for w in words if len(w) == 1)
        # Every proper prefix of a word: a join of tokens that is none of them can stop growing.
        self._prefixes = frozenset(w[:k] for w in self._words for k in range(1, len(w)))
        self._memo: dict[str, tuple[str, ...]] = {}  # token -> the words it is or holds

    @property
    def words(self) -> frozenset[str]:
        return self._words

    def knows(self, word: str) -> bool:
        """Say whether the word is one this matcher finds."""
        return word in self._words or word in self._singles

    def find(self, tokens: list[str], text: str) -> set[str]:
        """Return the words of this matcher present in the cut (single characters anywhere)."""
        words = self._words
        prefixes = self._prefixes
        memo = self._memo
        found: set[str] = set()
        n = len(tokens)
        for i, span in enumerate(tokens):
            own = memo.get(span)
            if own is None:
                own = self._own(span)
            if own:
                found.update(own)
            if span not in prefixes:
                continue
            for j in range(i + 1, min(n, i + MAX_SPAN)):
                span += tokens[j]
                if len(span) > MAX_WORD:
                    break
                if span in words:
                    found.add(span)
                if span not in prefixes:
                    break
        if self._singles:
            found.update(self._singles.intersection(text))
        return found

    def _own(self, token: str) -> tuple[str, ...]:
        """Return the words a token is or holds (电梯间 holds 电梯, as in jieba's search mode)."""
        words = self._words
        own = [token] if token in words else []
        size = len(token)
        # A Latin token is one word: "piled" holds no "led", "7pm" no "pm".
        if size > 2 and not token.isascii():
            for k in (2, 3):
                for j in range(size - k + 1):
                    part = token[j : j + k]
                    if part in words:
                        own.append(part)
        result = tuple(own)
        if self._memo_size:
            if len(self._memo) >= self._memo_size:
                self._memo.clear()  # tokens come from a bounded vocabulary; this rarely happens
            self._memo[token] = result
        return result
