"""Demo scene scripts: one action per line, the same words the interactive demo understands.

A scene file is UTF-8 text. Blank lines and lines starting with ``#`` are ignored. Each other
line is one action; the first word says which (English word or its Chinese alias)::

    say WHO CHAT TEXT…     说  WHO posts TEXT in CHAT; waits until the bot has handled it
    reply WHO CHAT TEXT…   回复 the same, as a reply to the bot's latest message in CHAT
    photo WHO CHAT [TEXT…] 照片 WHO posts a (generated) photo, TEXT is its caption
    start WHO [PAYLOAD]    开始 WHO opens the private chat with the bot (presses Start)
    press WHO LABEL        点  WHO presses the button LABEL on the latest message that has it
                               (waits up to 15 s for such a button to appear)
    expect WHERE TEXT…     期望 the previous action made the bot send or edit a message (or
                               answer a button) in WHERE containing TEXT; waits up to 15 s
    wait                   等待 wait until the bot has handled everything and sent its queue
    show WHERE             查看 print a whole chat as it looks now
    note TEXT…             旁白 print a stage direction
    as WHO                 切换 act as WHO from now on (a worker sees their private chat)
    chat WHERE             进入 switch the current chat
    buttons                按钮 list the buttons the current person can press, numbered
    help                   帮助 show this help        quit 退出 end the demo
    TEXT…                  any other line: the current person says TEXT in the current chat

WHO is a person's name (周大爷, 李娜), a worker key from the community file (li, duty) or a
Telegram user id (3001); a new name or id becomes a new resident of the groups. CHAT and
WHERE are ``group``/``群`` (the community's first group), ``private``/``私聊`` (WHO's private
chat with the bot), a group's title or chat id; WHERE may also be a person, meaning their
private chat. LABEL may be quoted (``press 李娜 "接单"``); in the interactive demo
``press 2`` presses button 2 of the last ``buttons`` list. Example::

    say 周大爷 group 4号楼电梯又坏了，关人了！
    press 李娜 接单
    expect group 已接单
"""

from __future__ import annotations

import shlex
from dataclasses import dataclass


class ScriptError(Exception):
    """A script line that cannot be understood, or an action that cannot be carried out."""


@dataclass(frozen=True, slots=True)
class Say:
    who: str | None  # None: the current person
    chat: str | None  # None: the current chat
    text: str
    reply: bool = False
    photo: bool = False


@dataclass(frozen=True, slots=True)
class Start:
    who: str
    payload: str | None = None


@dataclass(frozen=True, slots=True)
class Press:
    who: str | None
    label: str


@dataclass(frozen=True, slots=True)
class Expect:
    where: str
    text: str


@dataclass(frozen=True, slots=True)
class Wait:
    pass


@dataclass(frozen=True, slots=True)
class Show:
    where: str | None


@dataclass(frozen=True, slots=True)
class Note:
    text: str


@dataclass(frozen=True, slots=True)
class As:
    who: str


@dataclass(frozen=True, slots=True)
class Chat:
    where: str


@dataclass(frozen=True, slots=True)
class Buttons:
    pass


@dataclass(frozen=True, slots=True)
class Help:
    pass


@dataclass(frozen=True, slots=True)
class Quit:
    pass


Action = Say | Start | Press | Expect | Wait | Show | Note | As | Chat | Buttons | Help | Quit

_VERBS: dict[str, str] = {
    "say": "say",
    "说": "say",
    "reply": "reply",
    "回复": "reply",
    "photo": "photo",
    "照片": "photo",
    "start": "start",
    "开始": "start",
    "press": "press",
    "点": "press",
    "expect": "expect",
    "期望": "expect",
    "wait": "wait",
    "等待": "wait",
    "show": "show",
    "查看": "show",
    "note": "note",
    "旁白": "note",
    "as": "as",
    "切换": "as",
    "chat": "chat",
    "进入": "chat",
    "buttons": "buttons",
    "按钮": "buttons",
    "help": "help",
    "帮助": "help",
    "?": "help",
    "？": "help",
    "quit": "quit",
    "exit": "quit",
    "退出": "quit",
}


def _words(rest: str, count: int) -> tuple[list[str], str]:
    """Split off `count` leading words; return them and the untouched rest of the line."""
    words: list[str] = []
    for _ in range(count):
        rest = rest.lstrip()
        if not rest:
            break
        head, _, rest = rest.partition(" ")
        words.append(head)
    return words, rest.strip()


def _unquote(text: str) -> str:
    try:
        parts = shlex.split(text)
    except ValueError:
        return text.strip()
    return " ".join(parts)


def parse_line(line: str) -> Action | None:
    """Turn one script line into an action; None for a blank line or a comment."""
    stripped = line.strip().replace("\u3000", " ")
    if not stripped or stripped.startswith("#"):
        return None
    head, _, rest = stripped.partition(" ")
    verb = _VERBS.get(head.lstrip(":").lower())
    if verb is None:
        return Say(None, None, stripped)
    rest = rest.strip()
    if verb in ("say", "reply", "photo"):
        (who, chat), text = _split_who_chat(rest, verb)
        if not text and verb != "photo":
            raise ScriptError(f"{head}: 缺少要说的话 (usage: {verb} WHO CHAT TEXT)")
        return Say(who, chat, text, reply=verb == "reply", photo=verb == "photo")
    if verb == "start":
        words, payload = _words(rest, 1)
        if not words:
            raise ScriptError("start: 缺少人名 (usage: start WHO [PAYLOAD])")
        return Start(words[0], payload or None)
    if verb == "press":
        try:
            args = shlex.split(rest)
        except ValueError as exc:
            raise ScriptError(f"press: {exc}") from None
        if len(args) == 1:
            return Press(None, args[0])
        if len(args) >= 2:
            return Press(args[0], " ".join(args[1:]))
        raise ScriptError("press: 缺少按钮 (usage: press WHO LABEL, or press N)")
    if verb == "expect":
        words, text = _words(rest, 1)
        if not words or not text:
            raise ScriptError("expect: usage: expect WHERE TEXT")
        return Expect(words[0], _unquote(text))
    if verb == "wait":
        return Wait()
    if verb == "show":
        return Show(rest or None)
    if verb == "note":
        return Note(rest)
    if verb == "as":
        if not rest:
            raise ScriptError("as: 缺少人名 (usage: as WHO)")
        return As(rest)
    if verb == "chat":
        if not rest:
            raise ScriptError("chat: usage: chat group|private|<群名>")
        return Chat(rest)
    if verb == "buttons":
        return Buttons()
    if verb == "help":
        return Help()
    return Quit()


def _split_who_chat(rest: str, verb: str) -> tuple[tuple[str, str], str]:
    words, text = _words(rest, 2)
    if len(words) < 2:
        raise ScriptError(f"{verb}: 缺少人名或聊天 (usage: {verb} WHO CHAT TEXT)")
    return (words[0], words[1]), text


@dataclass(frozen=True, slots=True)
class ScriptLine:
    number: int
    source: str
    action: Action


def parse_script(text: str) -> list[ScriptLine]:
    """Parse a whole scene, naming the line of the first problem."""
    lines: list[ScriptLine] = []
    for number, source in enumerate(text.splitlines(), start=1):
        try:
            action = parse_line(source)
        except ScriptError as exc:
            raise ScriptError(f"第 {number} 行 (line {number}): {exc}") from None
        if action is not None:
            lines.append(ScriptLine(number, source.strip(), action))
    return lines
