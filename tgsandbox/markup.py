"""Text handling as Telegram does it: UTF-16 offsets, HTML parse mode and automatic entities."""

from __future__ import annotations

import html
import re
from dataclasses import dataclass
from typing import Any

Entity = dict[str, Any]

# Tags the Bot API accepts in parse_mode=HTML, mapped to the entity type they produce.
_SIMPLE_TAGS = {
    "b": "bold",
    "strong": "bold",
    "i": "italic",
    "em": "italic",
    "u": "underline",
    "ins": "underline",
    "s": "strikethrough",
    "strike": "strikethrough",
    "del": "strikethrough",
    "code": "code",
    "pre": "pre",
    "tg-spoiler": "spoiler",
    "blockquote": "blockquote",
}
_OTHER_TAGS = {"a", "span", "tg-emoji"}

_TAG = re.compile(r"<(/?)([a-zA-Z][a-zA-Z0-9-]*)((?:\s+[^<>]*?)?)\s*(/?)>")
_ATTR = re.compile(r"""([a-zA-Z_:-]+)\s*=\s*(?:"([^"]*)"|'([^']*)'|([^\s"'>]+))""")
_COMMAND = re.compile(r"(?<![\w/@])/([a-zA-Z0-9_]{1,32})(?:@([a-zA-Z0-9_]{3,32}))?(?![\w/])")
_MENTION = re.compile(r"(?<![\w@])@([a-zA-Z][a-zA-Z0-9_]{3,31})(?!\w)")
_URL = re.compile(r"(?<![\w@])(?:https?://|t\.me/)[^\s<>\"]+")


class ParseError(ValueError):
    """Markup the Bot API would refuse with "can't parse entities"."""


def utf16_len(text: str) -> int:
    """Return the length of text in UTF-16 code units, the unit of entity offsets."""
    return len(text.encode("utf-16-le")) // 2


@dataclass(frozen=True)
class Formatted:
    """Plain text after markup parsing, with its entities."""

    text: str
    entities: list[Entity]


def parse_html(source: str) -> Formatted:
    """Parse Telegram-flavoured HTML into plain text and entities, refusing bad markup."""
    out: list[str] = []
    length = 0  # UTF-16 length of the text produced so far
    stack: list[tuple[str, int, Entity]] = []
    entities: list[Entity] = []
    pos = 0
    while pos < len(source):
        lt = source.find("<", pos)
        chunk = source[pos:] if lt < 0 else source[pos:lt]
        if chunk:
            plain = html.unescape(chunk)
            out.append(plain)
            length += utf16_len(plain)
        if lt < 0:
            break
        byte_offset = len(source[:lt].encode("utf-8"))
        match = _TAG.match(source, lt)
        if match is None:
            raise ParseError(f'Unsupported start tag "" at byte offset {byte_offset}')
        closing, name, attrs, _self_closing = match.groups()
        name = name.lower()
        if closing:
            if not stack:
                raise ParseError(f"Unexpected end tag at byte offset {byte_offset}")
            open_name, start, entity = stack.pop()
            if open_name != name:
                raise ParseError(
                    f'Unmatched end tag at byte offset {byte_offset}, expected "</{open_name}>", '
                    f'found "</{name}>"'
                )
            if entity and length > start:
                entity["offset"] = start
                entity["length"] = length - start
                entities.append(entity)
        else:
            entity = _entity_for(name, attrs, byte_offset, stack)
            stack.append((name, length, entity))
        pos = match.end()
    if stack:
        raise ParseError(f'Can\'t find end tag corresponding to start tag "{stack[-1][0]}"')
    # A <code class="language-x"> inside <pre> gives the pre entity its language, not a code one.
    merged: list[Entity] = []
    for entity in entities:
        if entity.get("_language_of_pre"):
            continue
        merged.append(entity)
    merged.sort(key=lambda e: (e["offset"], -e["length"]))
    return Formatted("".join(out), [{k: v for k, v in e.items() if k[0] != "_"} for e in merged])


def _entity_for(
    name: str, attrs: str, byte_offset: int, stack: list[tuple[str, int, Entity]]
) -> Entity:
    values = {
        m.group(1).lower(): m.group(2) or m.group(3) or m.group(4) or ""
        for m in _ATTR.finditer(attrs)
    }
    if name in _SIMPLE_TAGS:
        kind = _SIMPLE_TAGS[name]
        if name == "blockquote" and "expandable" in attrs:
            kind = "expandable_blockquote"
        if name == "code" and stack and stack[-1][0] == "pre":
            language = values.get("class", "")
            if language.startswith("language-"):
                stack[-1][2]["language"] = language.removeprefix("language-")
                return {"type": "code", "_language_of_pre": True}
        return {"type": kind}
    if name not in _OTHER_TAGS:
        raise ParseError(f'Unsupported start tag "{name}" at byte offset {byte_offset}')
    if name == "a":
        href = html.unescape(values.get("href", ""))
        if not href:
            return {}
        if href.startswith("tg://user?id="):
            return {"type": "text_mention", "user": {"id": int(href.split("=", 1)[1])}}
        return {"type": "text_link", "url": href}
    if name == "span":
        if values.get("class") != "tg-spoiler":
            raise ParseError(f'Unsupported start tag "span" at byte offset {byte_offset}')
        return {"type": "spoiler"}
    return {"type": "custom_emoji", "custom_emoji_id": values.get("emoji-id", "")}


def auto_entities(text: str) -> list[Entity]:
    """Find the entities Telegram adds by itself: bot commands, @mentions and URLs."""
    found: list[Entity] = []
    for pattern, kind in ((_COMMAND, "bot_command"), (_MENTION, "mention"), (_URL, "url")):
        for match in pattern.finditer(text):
            found.append(
                {
                    "type": kind,
                    "offset": utf16_len(text[: match.start()]),
                    "length": utf16_len(match.group(0)),
                }
            )
    found.sort(key=lambda e: e["offset"])
    return found


def entity_text(text: str, entity: Entity) -> str:
    """Return the part of text an entity covers (offsets are in UTF-16 code units)."""
    encoded = text.encode("utf-16-le")
    start = entity["offset"] * 2
    return encoded[start : start + entity["length"] * 2].decode("utf-16-le")


def first_command(text: str) -> tuple[str, str | None] | None:
    """Return (command, bot username or None) when text starts with a bot command."""
    match = _COMMAND.match(text)
    if match is None:
        return None
    return match.group(1).lower(), match.group(2)


_MD2_RESERVED = frozenset("_*[]()~`>#+-=|{}.!")
_MD_TOGGLES = {
    "*": "bold",
    "_": "italic",
    "__": "underline",
    "~": "strikethrough",
    "||": "spoiler",
}


def parse_markdown(source: str, version: int = 2) -> Formatted:
    """Parse MarkdownV2 (or legacy Markdown with version=1) into plain text and entities."""
    out: list[str] = []
    length = 0
    entities: list[Entity] = []
    stack: list[tuple[str, int, int]] = []  # entity type, start (UTF-16), source index
    link_start: int | None = None
    pos = 0

    def byte_at(index: int) -> int:
        return len(source[:index].encode("utf-8"))

    def emit(text: str) -> None:
        nonlocal length
        out.append(text)
        length += utf16_len(text)

    def until(closing: str, start: int, kind: str) -> tuple[str, int]:
        """Read an escaped run up to closing; return its text and the index after closing."""
        chars: list[str] = []
        index = start
        while index < len(source):
            if source.startswith(closing, index):
                return "".join(chars), index + len(closing)
            if source[index] == "\\" and version == 2 and index + 1 < len(source):
                index += 1
            chars.append(source[index])
            index += 1
        raise ParseError(f"Can't find end of {kind} entity at byte offset {byte_at(start)}")

    while pos < len(source):
        char = source[pos]
        if char == "\\" and version == 2:
            if pos + 1 >= len(source):
                raise ParseError(f"Can't parse entities at byte offset {byte_at(pos)}")
            emit(source[pos + 1])
            pos += 2
            continue
        if source.startswith("```", pos):
            body, pos = until("```", pos + 3, "Pre")
            language, _, code = body.partition("\n") if "\n" in body else ("", "", body)
            entity: Entity = {"type": "pre", "offset": length, "length": utf16_len(code)}
            if language.strip():
                entity["language"] = language.strip()
            emit(code)
            entities.append(entity)
            continue
        if char == "`":
            body, pos = until("`", pos + 1, "Code")
            entities.append({"type": "code", "offset": length, "length": utf16_len(body)})
            emit(body)
            continue
        if char == "[" and link_start is None:
            link_start = length
            pos += 1
            continue
        if char == "]" and link_start is not None:
            if not source.startswith("(", pos + 1):
                raise ParseError(f"Can't find end of TextUrl entity at byte offset {byte_at(pos)}")
            url, pos = until(")", pos + 2, "TextUrl")
            if length > link_start:
                link: Entity = {"type": "text_link", "url": url}
                if url.startswith("tg://user?id=") and url[13:].isdigit():
                    link = {"type": "text_mention", "user": {"id": int(url[13:])}}
                entities.append({**link, "offset": link_start, "length": length - link_start})
            link_start = None
            continue
        marker = "__" if source.startswith("__", pos) and version == 2 else char
        marker = "||" if source.startswith("||", pos) and version == 2 else marker
        kind = _MD_TOGGLES.get(marker)
        if kind is not None and (version == 2 or marker in ("*", "_")):
            if stack and stack[-1][0] == kind:
                _kind, start, _index = stack.pop()
                if length > start:
                    entities.append({"type": kind, "offset": start, "length": length - start})
            else:
                stack.append((kind, length, pos))
            pos += len(marker)
            continue
        if version == 2 and char in _MD2_RESERVED:
            raise ParseError(
                f"Character '{char}' is reserved and must be escaped with the preceding '\\'"
            )
        emit(char)
        pos += 1
    if stack:
        kind, _start, index = stack[-1]
        name = kind.capitalize()
        raise ParseError(f"Can't find end of {name} entity at byte offset {byte_at(index)}")
    if link_start is not None:
        raise ParseError("Can't find end of TextUrl entity")
    entities.sort(key=lambda e: (e["offset"], -e["length"]))
    return Formatted("".join(out), entities)
