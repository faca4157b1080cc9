"""Values the emulator keeps and hands to tests: people, chats, messages, calls."""

from __future__ import annotations

import copy
from collections import Counter
from dataclasses import dataclass, field
from typing import Any, NamedTuple

JSON = dict[str, Any]


class ApiError(Exception):
    """A Bot API error answer: HTTP status, description and optional response parameters."""

    def __init__(self, error_code: int, description: str, parameters: JSON | None = None) -> None:
        super().__init__(description)
        self.error_code = error_code
        self.description = description
        self.parameters = parameters

    def payload(self) -> JSON:
        """Return the JSON body Telegram answers with."""
        body: JSON = {"ok": False, "error_code": self.error_code, "description": self.description}
        if self.parameters:
            body["parameters"] = self.parameters
        return body


def bad_request(reason: str, parameters: JSON | None = None) -> ApiError:
    """Build a 400 answer the way Telegram words it."""
    return ApiError(400, f"Bad Request: {reason}", parameters)


def forbidden(reason: str) -> ApiError:
    """Build a 403 answer the way Telegram words it."""
    return ApiError(403, f"Forbidden: {reason}")


@dataclass
class Person:
    """A Telegram account played by the test or the demo."""

    id: int
    first_name: str
    last_name: str | None = None
    username: str | None = None
    language_code: str | None = "zh-hans"
    started: bool = False
    blocked: bool = False

    def as_user(self) -> JSON:
        """Return the Bot API User object."""
        user: JSON = {"id": self.id, "is_bot": False, "first_name": self.first_name}
        if self.last_name:
            user["last_name"] = self.last_name
        if self.username:
            user["username"] = self.username
        if self.language_code:
            user["language_code"] = self.language_code
        return user


@dataclass
class ChatState:
    """A chat the bot can see: a private chat, a group or a supergroup."""

    id: int
    type: str
    title: str | None = None
    person: Person | None = None
    username: str | None = None
    members: dict[int, str] = field(default_factory=dict)  # user id -> status
    migrated_to: int | None = None
    next_message_id: int = 1
    messages: dict[int, JSON] = field(default_factory=dict)
    bot_status: str = "member"

    def as_chat(self) -> JSON:
        """Return the Bot API Chat object."""
        if self.person is not None:
            person = self.person.as_user()
            chat: JSON = {"id": self.id, "type": "private", "first_name": person["first_name"]}
            for key in ("last_name", "username"):
                if key in person:
                    chat[key] = person[key]
            return chat
        chat = {"id": self.id, "type": self.type, "title": self.title or ""}
        if self.username:
            chat["username"] = self.username
        if self.type == "group":
            chat["all_members_are_administrators"] = False
        return chat

    @property
    def is_group(self) -> bool:
        """Tell whether this is a group or supergroup (not a private chat)."""
        return self.type in ("group", "supergroup")


@dataclass(frozen=True)
class Button:
    """One inline keyboard button as the person sees it."""

    text: str
    callback_data: str | None = None
    url: str | None = None


@dataclass(frozen=True)
class BotMessage:
    """A message the bot sent, as it looks now (after edits)."""

    chat_id: int
    message_id: int
    date: int
    text: str
    entities: list[JSON]
    reply_markup: JSON | None
    reply_to_message_id: int | None
    photo: list[JSON] | None
    document: JSON | None
    edit_date: int | None
    raw: JSON
    video: JSON | None = None

    @classmethod
    def from_raw(cls, raw: JSON) -> BotMessage:
        """Build a snapshot from a stored Message object."""
        reply = raw.get("reply_to_message")
        return cls(
            chat_id=raw["chat"]["id"],
            message_id=raw["message_id"],
            date=raw["date"],
            text=str(raw.get("text", raw.get("caption", ""))),
            entities=list(raw.get("entities", raw.get("caption_entities", [])) or []),
            reply_markup=raw.get("reply_markup"),
            reply_to_message_id=reply["message_id"] if reply else None,
            photo=raw.get("photo"),
            document=raw.get("document"),
            edit_date=raw.get("edit_date"),
            raw=copy.deepcopy(raw),
            video=raw.get("video"),
        )

    @property
    def buttons(self) -> list[list[Button]]:
        """Return the inline keyboard rows (empty when there is none)."""
        markup = self.reply_markup or {}
        return [
            [Button(b.get("text", ""), b.get("callback_data"), b.get("url")) for b in row]
            for row in markup.get("inline_keyboard", [])
        ]

    def button(self, label: str) -> Button:
        """Return the first inline button whose text contains label."""
        for row in self.buttons:
            for button in row:
                if label in button.text:
                    return button
        raise LookupError(f"no button {label!r} on message {self.message_id}")


class ApiCall(NamedTuple):
    """One request the bot made: canonical method name and decoded parameters."""

    method: str
    params: JSON


@dataclass(frozen=True)
class CallbackAnswer:
    """What the bot answered to a button press."""

    text: str | None
    show_alert: bool
    url: str | None
    cache_time: int


@dataclass(frozen=True)
class Event:
    """Something visible happened in a chat; listeners (the demo) print these."""

    kind: str  # "user_message", "sent", "edited", "deleted", "callback_answer"
    chat_id: int
    message: JSON | None = None
    answer: CallbackAnswer | None = None


@dataclass
class Stats:
    """Request counters for tests and benchmarks."""

    requests: int = 0
    by_method: Counter[str] = field(default_factory=Counter)
    errors: Counter[int] = field(default_factory=Counter)

    @property
    def too_many_requests(self) -> int:
        """Return how many 429 answers were given."""
        return self.errors[429]


@dataclass
class StoredFile:
    """A file the emulator holds in memory for getFile and downloads."""

    file_id: str
    file_unique_id: str
    file_path: str
    data: bytes
