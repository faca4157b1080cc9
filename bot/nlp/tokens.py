"""One base cut for every classifier, and each classifier's own matcher over it.

jieba's dictionary (plus the packaged domain words) is loaded once per process into a private
`jieba.Tokenizer` that nothing changes afterwards: jieba's global dictionary is never touched, and
no classifier adds words to the shared one. A classifier finds its own lexicon (a community's
words, learned words) by joining neighbouring tokens of that base cut, so one community's
vocabulary can never change another's readings, whatever was loaded first.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterable
from importlib import resources
from typing import Any

import jieba
import opencc

MAX_SPAN = 4  # a lexicon word spans at most this many base tokens
MAX_WORD = 8  # characters

_lock = threading.Lock()
_base: Any = None
_t2s: Any = None


def base_tokenizer() -> Any:
    """Return the process's base tokenizer (jieba's dictionary + domain words), loaded once."""
    global _base
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
        return _base


def converter() -> Any:
    """Return the shared traditional-to-simplified converter."""
    global _t2s
    with _lock:
        if _t2s is None:
            _t2s = opencc.OpenCC("t2s")
        return _t2s


def cut(text: str) -> list[str]:
    """Return the base cut of normalised text (no HMM: unknown runs stay single characters)."""
    return list(base_tokenizer().cut(text, HMM=False))


class Matcher:
    """Find a fixed set of words in a base cut: whole tokens, joined neighbours, or token parts."""

    def __init__(self, words: Iterable[str]) -> None:
        self._words = frozenset(w for w in words if len(w) > 1)
        self._singles = frozenset(w for w in words if len(w) == 1)

    @property
    def words(self) -> frozenset[str]:
        return self._words

    def find(self, tokens: list[str], text: str) -> set[str]:
        """Return the words of this matcher present in the cut (single characters anywhere)."""
        words = self._words
        found: set[str] = set()
        n = len(tokens)
        for i in range(n):
            span = tokens[i]
            if span in words:
                found.add(span)
            size = len(span)
            if size > 2:  # 电梯间 holds 电梯, as jieba's search mode would say
                for k in (2, 3):
                    for j in range(size - k + 1):
                        part = span[j : j + k]
                        if part in words:
                            found.add(part)
            for j in range(i + 1, min(n, i + MAX_SPAN)):
                span += tokens[j]
                if len(span) > MAX_WORD:
                    break
                if span in words:
                    found.add(span)
        if self._singles:
            found.update(self._singles.intersection(text))
        return found
