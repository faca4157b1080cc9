"""The taxonomy as data: load and validate the packaged file, merge a community's overrides."""

from __future__ import annotations

import re
import tomllib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from importlib import resources
from typing import Any

DEFAULT_FILE = "bot/nlp/data/taxonomy.toml"
COMMUNITY = "community config [classifier]"
URGENCIES = ("urgent", "normal")
_CODE = re.compile(r"^[a-z][a-z0-9_]{1,31}$")
_MAX_WEIGHT = 10.0


class LexiconError(ValueError):
    """The taxonomy file or a community's [classifier] table is malformed."""

    def __init__(self, source: str, key: str, problem: str) -> None:
        super().__init__(f"{source}: {key}: {problem}")
        self.source = source
        self.key = key
        self.problem = problem


@dataclass(frozen=True, slots=True)
class Combo:
    """Words that count only together: one word from every side must be present."""

    sides: tuple[frozenset[str], ...]
    weight: float
    text: str


@dataclass(frozen=True, slots=True)
class Category:
    code: str
    name: str
    urgency: str
    keywords: Mapping[str, float]
    combos: tuple[Combo, ...] = ()
    # Residents ask for this service in questions (低保怎么申请？): asking is the request.
    asks: bool = False


@dataclass(frozen=True, slots=True)
class Cues:
    negations: tuple[str, ...]
    negatable: tuple[str, ...]
    places: tuple[str, ...]
    # Where or whose, never what (楼上, 门口, 管理处): never counted towards a category.
    context: tuple[str, ...] = ()
    # Typing and voice-input slips and local slang rewritten before reading (怀了 -> 坏了,
    # dianti -> 电梯); an entry mapped to itself protects a real word (怀了孕) from a shorter slip.
    slips: Mapping[str, str] = field(default_factory=dict)
    # A community's own notice phrases (本苑通告): evidence against a complaint in the gate.
    notices: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class Taxonomy:
    """Every category (in order) and the category-neutral cues."""

    categories: tuple[Category, ...]
    cues: Cues
    extra_words: tuple[str, ...] = field(default=())

    def codes(self) -> tuple[str, ...]:
        """Return the category codes in order."""
        return tuple(c.code for c in self.categories)


def parse_keyword(source: str, key: str, entry: object) -> tuple[str, float]:
    """Parse "词" or "词:2.5" into (word, weight)."""
    if not isinstance(entry, str) or not entry.strip():
        raise LexiconError(source, key, f"keyword must be a non-empty string, got {entry!r}")
    word, sep, raw = entry.strip().rpartition(":")
    if not sep:
        word, raw = entry.strip(), "1"
    word = word.strip().lower()
    if not word:
        raise LexiconError(source, key, f"keyword {entry!r} has no word before the weight")
    try:
        weight = float(raw)
    except ValueError:
        raise LexiconError(source, key, f"malformed weight in {entry!r}") from None
    if not 0 < weight <= _MAX_WEIGHT or weight != weight:
        raise LexiconError(source, key, f"weight in {entry!r} must be in (0, {_MAX_WEIGHT:g}]")
    return word, weight


def _keywords(source: str, key: str, value: object, *, allow_empty: bool) -> dict[str, float]:
    if not isinstance(value, list):
        raise LexiconError(source, key, "must be a list of keywords")
    if not value and not allow_empty:
        raise LexiconError(source, key, "lexicon is empty")
    found: dict[str, float] = {}
    for entry in value:
        word, weight = parse_keyword(source, key, entry)
        found[word] = weight
    return found


def _words(source: str, key: str, value: object) -> tuple[str, ...]:
    if not isinstance(value, list) or not value:
        raise LexiconError(source, key, "must be a non-empty list of words")
    words = []
    for entry in value:
        if not isinstance(entry, str) or not entry.strip():
            raise LexiconError(source, key, f"word must be a non-empty string, got {entry!r}")
        words.append(entry.strip().lower())
    return tuple(words)


def _optional_words(
    source: str, table: Mapping[str, Any], key: str, name: str | None = None
) -> tuple[str, ...]:
    return _words(source, name or f"cues.{key}", table[key]) if key in table else ()


def _slips(source: str, key: str, value: object) -> dict[str, str]:
    if not isinstance(value, Mapping):
        raise LexiconError(source, key, 'must be a table "错字" = "正字"')
    slips: dict[str, str] = {}
    for wrong, right in value.items():
        if not isinstance(right, str) or not wrong.strip() or not right.strip():
            raise LexiconError(source, f"{key}.{wrong}", "slip and its fix must be non-empty")
        slips[wrong.strip().lower()] = right.strip().lower()
    return slips


def _combos(source: str, key: str, value: object) -> tuple[Combo, ...]:
    if value is None:
        return ()
    if not isinstance(value, list):
        raise LexiconError(source, key, "must be a list of combos like 'a|b + c|d:2'")
    combos = []
    for entry in value:
        body, weight = parse_keyword(source, key, entry)
        sides = tuple(
            frozenset(w.strip() for w in side.split("|") if w.strip()) for side in body.split("+")
        )
        if len(sides) < 2 or any(not side for side in sides):
            raise LexiconError(source, key, f"combo {entry!r} needs two or more non-empty sides")
        combos.append(Combo(sides, weight, body))
    return tuple(combos)


def _category(source: str, code: str, table: object, prefix: str = "categories") -> Category:
    key = f"{prefix}.{code}"
    if not _CODE.match(code):
        raise LexiconError(source, key, "code must be lower-case letters, digits and _")
    if not isinstance(table, Mapping):
        raise LexiconError(source, key, "must be a table")
    name = table.get("name")
    if not isinstance(name, str) or not name.strip():
        raise LexiconError(source, f"{key}.name", "missing Chinese name")
    urgency = table.get("urgency", "normal")
    if urgency not in URGENCIES:
        raise LexiconError(source, f"{key}.urgency", f"must be one of {URGENCIES}")
    keywords = _keywords(source, f"{key}.keywords", table.get("keywords"), allow_empty=False)
    combos = _combos(source, f"{key}.combos", table.get("combos"))
    asks = table.get("asks", False)
    if not isinstance(asks, bool):
        raise LexiconError(source, f"{key}.asks", "must be true or false")
    return Category(code, name.strip(), str(urgency), keywords, combos, asks)


def parse_taxonomy(data: Mapping[str, Any], source: str = DEFAULT_FILE) -> Taxonomy:
    """Validate a parsed taxonomy file."""
    cues = data.get("cues")
    if not isinstance(cues, Mapping):
        raise LexiconError(source, "cues", "missing [cues] table")
    parsed_cues = Cues(
        negations=_words(source, "cues.negations", cues.get("negations")),
        negatable=_words(source, "cues.negatable", cues.get("negatable")),
        places=_words(source, "cues.places", cues.get("places")),
        context=_optional_words(source, cues, "context"),
        slips=_slips(source, "cues.slips", cues.get("slips", {})),
    )
    tables = data.get("categories")
    if not isinstance(tables, Mapping) or not tables:
        raise LexiconError(source, "categories", "no categories")
    if "none" in tables:
        raise LexiconError(source, "categories.none", "'none' is reserved for non-complaints")
    categories = tuple(_category(source, code, table) for code, table in tables.items())
    return Taxonomy(categories, parsed_cues)


def load_default() -> Taxonomy:
    """Load and validate the packaged taxonomy file."""
    raw = (resources.files("bot.nlp") / "data" / "taxonomy.toml").read_text(encoding="utf-8")
    try:
        data = tomllib.loads(raw)
    except tomllib.TOMLDecodeError as exc:
        raise LexiconError(DEFAULT_FILE, "(file)", f"not valid TOML: {exc}") from exc
    return parse_taxonomy(data, DEFAULT_FILE)


def apply_overrides(base: Taxonomy, overrides: Mapping[str, Any] | None) -> Taxonomy:
    """Merge a community's [classifier] table: extra keywords, renames, new and disabled codes.

    Shape::

        [classifier.keywords]          # more keywords for existing (or new) categories
        parking = ["电单车:2", "泊车"]
        [classifier.rename]
        property = "物业管理"
        [classifier.categories.elevator_ads]   # a category of the community's own
        name = "电梯广告"
        urgency = "normal"
        keywords = ["电梯广告:2.5"]
        [classifier]
        disable = ["services"]
        places = ["榕树头", "东苑会所"]   # named places of this community (routing reads them)
        notices = ["本苑通告"]           # its own notice phrases: never a complaint
        [classifier.slang]               # local slang, rewritten before reading
        "部梯死咗" = "电梯坏了"
    """
    if not overrides:
        return base
    src = COMMUNITY
    if not isinstance(overrides, Mapping):
        raise LexiconError(src, "classifier", "must be a table")
    known_keys = {"keywords", "rename", "categories", "disable", "places", "notices", "slang"}
    for key in overrides:
        if key not in known_keys:
            raise LexiconError(src, f"classifier.{key}", f"unknown key; use {sorted(known_keys)}")
    cats: dict[str, Category] = {c.code: c for c in base.categories}

    new_tables = overrides.get("categories", {})
    if not isinstance(new_tables, Mapping):
        raise LexiconError(src, "classifier.categories", "must be a table of categories")
    for code, table in new_tables.items():
        if code in cats or code == "none":
            raise LexiconError(src, f"classifier.categories.{code}", "code already exists")
        cats[code] = _category(src, code, table, "classifier.categories")

    extra = overrides.get("keywords", {})
    if not isinstance(extra, Mapping):
        raise LexiconError(src, "classifier.keywords", "must be a table code = [keywords]")
    for code, words in extra.items():
        key = f"classifier.keywords.{code}"
        if code not in cats:
            raise LexiconError(src, key, f"unknown category code {code!r}")
        added = _keywords(src, key, words, allow_empty=False)
        old = cats[code]
        cats[code] = replace(old, keywords={**old.keywords, **added})

    renames = overrides.get("rename", {})
    if not isinstance(renames, Mapping):
        raise LexiconError(src, "classifier.rename", 'must be a table code = "新名称"')
    for code, name in renames.items():
        key = f"classifier.rename.{code}"
        if code not in cats:
            raise LexiconError(src, key, f"unknown category code {code!r}")
        if not isinstance(name, str) or not name.strip():
            raise LexiconError(src, key, "new name must be a non-empty string")
        old = cats[code]
        cats[code] = replace(old, name=name.strip())

    disable = overrides.get("disable", [])
    if not isinstance(disable, Sequence) or isinstance(disable, str):
        raise LexiconError(src, "classifier.disable", "must be a list of codes")
    for code in disable:
        if code not in cats:
            raise LexiconError(src, "classifier.disable", f"unknown category code {code!r}")
        if code == "other":
            raise LexiconError(src, "classifier.disable", "'other' cannot be disabled")
        del cats[code]
    return Taxonomy(tuple(cats.values()), _local_words(src, base.cues, overrides))


def _local_words(src: str, cues: Cues, overrides: Mapping[str, Any]) -> Cues:
    """Add a community's places, notice phrases and local slang to the cues."""
    places = _optional_words(src, overrides, "places", "classifier.places")
    notices = _optional_words(src, overrides, "notices", "classifier.notices")
    slang = _slips(src, "classifier.slang", overrides.get("slang", {}))
    for wrong, right in slang.items():
        if wrong == right or len(wrong) < 2:
            raise LexiconError(
                src,
                f"classifier.slang.{wrong}",
                "needs two or more characters and a different meaning",
            )
    if not (places or notices or slang):
        return cues
    return replace(
        cues,
        places=cues.places + tuple(p for p in places if p not in cues.places),
        notices=cues.notices + notices,
        slips={**cues.slips, **slang},
    )
