"""Print what happens in the emulator's chats as a readable Chinese transcript."""

from __future__ import annotations

import sys
import unicodedata
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, TextIO

from tgsandbox import Event

JSON = dict[str, Any]
LABEL_WIDTH = 16  # display columns for the chat label, so the speakers line up

_RESET = "\033[0m"
_DIM = "\033[2m"
_BOLD = "\033[1m"
_CYAN = "\033[36m"
_YELLOW = "\033[33m"
_GREEN = "\033[32m"


def display_width(text: str) -> int:
    """Return how many terminal columns text takes (CJK characters take two)."""
    return sum(2 if unicodedata.east_asian_width(c) in "WF" else 1 for c in text)


def pad(text: str, width: int) -> str:
    """Pad text with spaces to `width` terminal columns."""
    return text + " " * max(0, width - display_width(text))


def button_rows(message: Mapping[str, Any]) -> list[list[JSON]]:
    """Return the inline keyboard rows of a Message object."""
    markup = message.get("reply_markup") or {}
    rows = markup.get("inline_keyboard", []) if isinstance(markup, Mapping) else []
    return [list(row) for row in rows]


def format_buttons(message: Mapping[str, Any]) -> str:
    """Show the buttons as one line: [接单] [转派] [不属于我]; rows are three spaces apart."""
    rows = button_rows(message)
    return "   ".join(" ".join(f"[{b.get('text', '')}]" for b in row) for row in rows)


def button_lines(message: Mapping[str, Any], width: int = 72) -> list[str]:
    """Show the buttons on one line, or one line per row when that would be too wide."""
    line = format_buttons(message)
    if not line or display_width(line) <= width:
        return [line] if line else []
    return [" ".join(f"[{b.get('text', '')}]" for b in row) for row in button_rows(message)]


def message_body(message: Mapping[str, Any]) -> str:
    """Return the visible content of a message: its text, or a photo/file marker and caption."""
    text = str(message.get("text", message.get("caption", "")) or "")
    if message.get("photo"):
        return f"[照片] {text}".rstrip()
    document = message.get("document")
    if isinstance(document, Mapping):
        return f"[文件 {document.get('file_name', '')}] {text}".rstrip()
    if message.get("new_chat_members"):
        names = "、".join(u.get("first_name", "") for u in message["new_chat_members"])
        return f"（{names} 加入了群聊）"
    if message.get("left_chat_member"):
        return f"（{message['left_chat_member'].get('first_name', '')} 离开了群聊）"
    if "migrate_to_chat_id" in message:
        return "（群升级为超级群）"
    return text


@dataclass
class Transcript:
    """An emulator listener that prints every visible event, one speaker per line."""

    chat_names: Callable[[int], str]
    out: TextIO = field(default_factory=lambda: sys.stdout)
    color: bool = False
    quiet: bool = False
    bot_name: str = "网格助手"
    seq: int = 0
    latest: dict[tuple[int, int], int] = field(default_factory=dict)  # message -> last change
    answers: list[tuple[int, int, str]] = field(default_factory=list)  # (seq, chat, text)
    _texts: dict[tuple[int, int], str] = field(default_factory=dict)

    def __call__(self, event: Event) -> None:
        """Record and print one emulator event."""
        message = event.message or {}
        key = (event.chat_id, int(message.get("message_id", 0)))
        if event.kind in ("sent", "edited"):
            self.seq += 1
            self.latest[key] = self.seq
        elif event.kind == "callback_answer" and event.answer and event.answer.text:
            self.seq += 1
            self.answers.append((self.seq, event.chat_id, event.answer.text))
        if self.quiet:
            if event.kind in ("sent", "edited"):
                self._texts[key] = message_body(message)
            return
        if event.kind == "user_message":
            self._user_message(event.chat_id, message)
        elif event.kind == "sent":
            self._bot_message(event.chat_id, message, edited=False)
        elif event.kind == "edited":
            self._bot_message(event.chat_id, message, edited=True)
        elif event.kind == "deleted":
            self.line(event.chat_id, self._bot(" 删除了一条消息"))
        elif event.kind == "callback_answer" and event.answer and event.answer.text:
            how = "弹窗" if event.answer.show_alert else "提示"
            self.line(event.chat_id, self._bot(f"（{how}）：{event.answer.text}"))

    def _paint(self, text: str, code: str) -> str:
        return f"{code}{text}{_RESET}" if self.color else text

    def _bot(self, rest: str) -> str:
        return self._paint("🤖 " + self.bot_name, _CYAN) + rest

    def line(self, chat_id: int | None, text: str, extra: list[str] | None = None) -> None:
        """Print one transcript entry: the chat label, then text (continuation lines indented)."""
        label = "" if chat_id is None else f"[{self.chat_names(chat_id)}]"
        head = pad(label, LABEL_WIDTH)
        indent = " " * LABEL_WIDTH + "  "
        lines = text.split("\n") + (extra or [])
        print(self._paint(head, _DIM) + lines[0], file=self.out)
        for more in lines[1:]:
            print(indent + more, file=self.out)
        self.out.flush()

    def note(self, text: str) -> None:
        """Print a stage direction."""
        print(self._paint(f"—— {text} ——", _YELLOW), file=self.out, flush=True)

    def action(self, chat_id: int, text: str) -> None:
        """Print something a person did that is not a message (pressing a button)."""
        self.line(chat_id, self._paint(text, _GREEN))

    def _user_message(self, chat_id: int, message: JSON) -> None:
        sender = message.get("from") or {}
        name = str(sender.get("first_name", "?"))
        self.line(
            chat_id, f"{self._paint(name, _BOLD)}{_reply_mark(message)}：{message_body(message)}"
        )

    def _bot_message(self, chat_id: int, message: JSON, *, edited: bool) -> None:
        key = (chat_id, int(message.get("message_id", 0)))
        body = message_body(message)
        buttons = format_buttons(message)
        extra = button_lines(message)
        if edited and self._texts.get(key) == body:
            self.line(chat_id, self._bot(" 更新了按钮：" + (buttons or "（按钮已移除）")))
            return
        self._texts[key] = body
        if edited:
            self.line(chat_id, self._bot(" ✎ 修改了消息：\n" + body), extra)
        else:
            self.line(chat_id, self._bot(f"{_reply_mark(message)}：{body}"), extra)

    def show_chat(self, chat_id: int, messages: list[JSON]) -> None:
        """Print a whole chat as it looks now."""
        self.note(f"{self.chat_names(chat_id)}（共 {len(messages)} 条消息）")
        for message in messages:
            sender = message.get("from") or {}
            body = message_body(message)
            name = str(sender.get("first_name", "?"))
            if sender.get("is_bot"):
                name = "🤖 " + name
            edited = "（已修改）" if message.get("edit_date") else ""
            mark = _reply_mark(message)
            self.line(chat_id, f"{name}{edited}{mark}：{body}", button_lines(message))


def _reply_mark(message: Mapping[str, Any]) -> str:
    """Return ' ↩周大爷' for a reply to 周大爷's message, else ''."""
    reply = message.get("reply_to_message")
    if not isinstance(reply, Mapping):
        return ""
    return f" ↩{(reply.get('from') or {}).get('first_name', '')}"
