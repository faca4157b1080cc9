"""A community's words over the shared base: only what differs is its own.

One process reads many communities. The default lexicons, and every table and regex derived from
them, are built once (`bot.nlp.classifier`); a community's classifier keeps only the words its
[classifier] table and its learned weights add or change, and looks everything else up in the
base. The lookups here give exactly what a table built from scratch over all the words would.
"""

from __future__ import annotations

import copy
import re
from collections.abc import Container, Iterator, Mapping

from bot.nlp.gate import Gate, GateLexicon, word_scan, word_table

Entries = list[tuple[str, float, str]]


class LayeredTable(Mapping[str, Entries]):
    """A word table: the community's own entries first, then the base's."""

    __slots__ = ("_base", "_own")

    def __init__(self, own: Mapping[str, Entries], base: Mapping[str, Entries]) -> None:
        self._own = own
        self._base = base

    def __getitem__(self, word: str) -> Entries:
        entries = self._own.get(word)
        return self._base[word] if entries is None else entries

    def __contains__(self, word: object) -> bool:
        return word in self._own or word in self._base

    def __iter__(self) -> Iterator[str]:
        yield from self._own
        yield from (w for w in self._base if w not in self._own)

    def __len__(self) -> int:
        return len(self._base) + sum(1 for w in self._own if w not in self._base)


class LayeredSet(Container[str]):
    """A set of words: the community's answer for its own words, the base's for the rest."""

    __slots__ = ("_base", "_members", "_own")

    def __init__(self, members: frozenset[str], own: Container[str], base: Container[str]) -> None:
        self._members = members
        self._own = own
        self._base = base

    def __contains__(self, word: object) -> bool:
        if word in self._own:
            return word in self._members
        return word in self._base


class UnionScan:
    """The longest word starting at each place, over the base's words and a few more.

    Two words that start at the same place and are as long are the same word, so the longer of
    the two scans' matches is the one a single scan over all the words would find.
    """

    __slots__ = ("_base", "_extra")

    def __init__(self, base: re.Pattern[str], extra: re.Pattern[str]) -> None:
        self._base = base
        self._extra = extra

    def finditer(self, string: str, /) -> Iterator[re.Match[str]]:
        extra = {m.start(): m for m in self._extra.finditer(string)}
        if not extra:
            return self._base.finditer(string)
        merged = {m.start(): m for m in self._base.finditer(string)}
        for start, match in extra.items():
            old = merged.get(start)
            if old is None or len(match.group(1)) > len(old.group(1)):
                merged[start] = match
        return iter([merged[start] for start in sorted(merged)])

    def match(self, string: str, pos: int, /) -> re.Match[str] | None:
        base = self._base.match(string, pos)
        extra = self._extra.match(string, pos)
        if base is None or (extra is not None and len(extra.group(1)) > len(base.group(1))):
            return extra
        return base


def gate_over(base: Gate, lexicon: GateLexicon) -> Gate:
    """Return the gate of `lexicon` (the base's with a community's words added) over `base`.

    Only the words whose entries differ are the new gate's own (a small table and a small scan);
    the base's table, scan and patterns are shared. A lexicon that drops a word of the base is
    no overlay: it gets a gate of its own.
    """
    base_table = base._table
    table = word_table(lexicon)
    if not base_table.keys() <= table.keys() or not isinstance(base._scan, re.Pattern):
        return Gate(lexicon)
    own = {word: entries for word, entries in table.items() if base_table.get(word) != entries}
    gate = copy.copy(base)
    gate.lexicon = lexicon
    if not own:
        return gate
    new_words = [word for word in own if word not in base_table]
    gate._table = LayeredTable(own, base_table)
    if new_words:
        gate._scan = UnionScan(base._scan, word_scan(new_words))
    against = frozenset(w for w, entries in own.items() if any(e[1] < 0 for e in entries))
    gate._against = LayeredSet(against, frozenset(own), base._against)
    return gate
