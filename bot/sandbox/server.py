"""A Telegram Bot API emulator on 127.0.0.1, with a Python API to play the people in the chats.

The HTTP side follows https://core.telegram.org/bots/api: POST or GET to ``/bot<token>/<method>``
with a JSON body, form fields or multipart data; answers ``{"ok": true, "result": ...}`` or
``{"ok": false, "error_code": ..., "description": ..., "parameters": ...}``; files are downloaded
from ``/file/bot<token>/<file_path>``. Dates are Unix seconds, offsets are UTF-16 code units.
"""

from __future__ import annotations

import asyncio
import contextlib
import copy
import json
import logging
import math
import re
import struct
import time
import zlib
from collections import deque
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass, field
from types import TracebackType
from typing import Any, Self

from aiohttp import web

from bot.sandbox.markup import (
    Formatted,
    ParseError,
    auto_entities,
    first_command,
    parse_html,
    parse_markdown,
    utf16_len,
)
from bot.sandbox.model import (
    JSON,
    ApiCall,
    ApiError,
    BotMessage,
    CallbackAnswer,
    ChatState,
    Event,
    Person,
    Stats,
    StoredFile,
    bad_request,
    forbidden,
)

log = logging.getLogger(__name__)


def _names(text: str) -> frozenset[str]:
    return frozenset(text.split())


DEFAULT_TOKEN = "7000000001:AAGridBotSandboxTokenNotForTelegram00"
MAX_TEXT = 4096
MAX_CAPTION = 1024
MAX_CALLBACK_TEXT = 200
# Updates a bot gets when it does not ask for specific ones (Bot API: allowed_updates).
_DEFAULT_UPDATES = _names(
    "message edited_message channel_post edited_channel_post business_connection "
    "business_message edited_business_message deleted_business_messages inline_query "
    "chosen_inline_result callback_query shipping_query pre_checkout_query "
    "purchased_paid_media poll poll_answer my_chat_member chat_join_request "
    "chat_boost removed_chat_boost"
)
_CHAT_ACTIONS = _names(
    "typing upload_photo record_video upload_video record_voice upload_voice "
    "upload_document choose_sticker find_location record_video_note upload_video_note"
)
# Form fields that carry JSON, numbers or booleans (python-telegram-bot sends every value as text).
_JSON_FIELDS = _names(
    "reply_markup reply_parameters entities caption_entities allowed_updates commands "
    "scope link_preview_options menu_button"
)
_INT_FIELDS = _names(
    "chat_id from_chat_id offset limit timeout message_id user_id reply_to_message_id "
    "cache_time message_thread_id"
)
_BOOL_FIELDS = _names(
    "show_alert disable_notification protect_content allow_sending_without_reply "
    "drop_pending_updates disable_web_page_preview has_spoiler "
    "show_caption_above_media"
)
_COMMAND_NAME = re.compile(r"^[a-z0-9_]{1,32}$")
_BOT_ADMIN_RIGHTS = {
    "can_be_edited": False,
    "is_anonymous": False,
    "can_manage_chat": True,
    "can_delete_messages": True,
    "can_manage_video_chats": True,
    "can_restrict_members": True,
    "can_promote_members": False,
    "can_change_info": True,
    "can_invite_users": True,
    "can_post_stories": False,
    "can_edit_stories": False,
    "can_delete_stories": False,
    "can_pin_messages": True,
}


# The accounts Telegram itself posts as in groups.
ANONYMOUS_ADMIN_BOT: JSON = {
    "id": 1087968824,
    "is_bot": True,
    "first_name": "Group",
    "username": "GroupAnonymousBot",
}
SERVICE_USER: JSON = {"id": 777000, "is_bot": False, "first_name": "Telegram"}


@dataclass
class _Upload:
    filename: str
    data: bytes


@dataclass
class _Fault:
    error: ApiError
    times: int


@dataclass
class _Query:
    chat_id: int
    message_id: int
    answer: CallbackAnswer | None = None


@dataclass
class _Update:
    update_id: int
    body: JSON
    redelivery: bool = False


class _Signal:
    """Wakes every waiter at once; usable from plain (non-async) code."""

    def __init__(self) -> None:
        self._event = asyncio.Event()

    def fire(self) -> None:
        self._event.set()
        self._event = asyncio.Event()

    @property
    def event(self) -> asyncio.Event:
        return self._event


@dataclass
class _Params:
    """Decoded request parameters, whatever encoding the client used."""

    values: dict[str, Any]
    uploads: dict[str, _Upload] = field(default_factory=dict)

    def get(self, name: str) -> Any:
        return self.values.get(name)

    def text(self, name: str) -> str | None:
        value = self.values.get(name)
        return None if value is None else str(value)

    def integer(self, name: str, default: int | None = None) -> int | None:
        value = self.values.get(name)
        if value is None or value == "":
            return default
        if isinstance(value, bool):
            return int(value)
        if isinstance(value, int):
            return value
        try:
            return int(str(value))
        except ValueError:
            raise bad_request(f"invalid {name} specified") from None

    def flag(self, name: str) -> bool:
        value = self.values.get(name)
        if isinstance(value, str):
            return value.lower() in ("true", "1")
        return bool(value)

    def chat_ref(self, name: str = "chat_id") -> int | str:
        value = self.values.get(name)
        if value is None or value == "":
            raise bad_request(f"{name} is empty")
        if isinstance(value, int) and not isinstance(value, bool):
            return value
        text = str(value)
        if text.startswith("@"):
            return text
        try:
            return int(text)
        except ValueError:
            raise bad_request("chat not found") from None


def _decode(name: str, value: Any) -> Any:
    if not isinstance(value, str):
        return value
    if name in _JSON_FIELDS:
        try:
            return json.loads(value)
        except ValueError:
            if name == "reply_markup":
                raise bad_request("can't parse reply keyboard markup JSON object") from None
            raise bad_request(f"can't parse {name} JSON object") from None
    if name in _INT_FIELDS and re.fullmatch(r"-?\d+", value):
        return int(value)
    if name in _BOOL_FIELDS and value.lower() in ("true", "false"):
        return value.lower() == "true"
    return value


def _image_size(data: bytes) -> tuple[int, int]:
    """Read width and height from a PNG or JPEG header; a default for anything else."""
    if data[:8] == b"\x89PNG\r\n\x1a\n" and len(data) >= 24:
        width, height = struct.unpack(">II", data[16:24])
        return int(width), int(height)
    if data[:2] == b"\xff\xd8":
        pos = 2
        while pos + 9 < len(data):
            if data[pos] != 0xFF:
                break
            marker = data[pos + 1]
            size = int.from_bytes(data[pos + 2 : pos + 4], "big")
            if 0xC0 <= marker <= 0xCF and marker not in (0xC4, 0xC8, 0xCC):
                height, width = struct.unpack(">HH", data[pos + 5 : pos + 9])
                return int(width), int(height)
            pos += 2 + size
    return 1280, 960


def make_png(
    width: int = 64, height: int = 48, rgb: tuple[int, int, int] = (200, 80, 40)
) -> bytes:
    """Build a small solid-colour PNG, the photo an emulated person sends by default."""
    row = b"\x00" + bytes(rgb) * width
    raw = zlib.compress(row * height)

    def chunk(kind: bytes, body: bytes) -> bytes:
        return (
            struct.pack(">I", len(body))
            + kind
            + body
            + struct.pack(">I", zlib.crc32(kind + body) & 0xFFFFFFFF)
        )

    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", raw) + chunk(b"IEND", b"")
    )


class Emulator:
    """Telegram Bot API emulator: an HTTP server for the bot and a Python API for the people."""

    def __init__(
        self,
        token: str = DEFAULT_TOKEN,
        bot_username: str = "gridbot_demo_bot",
        privacy_mode: bool = True,
        *,
        bot_name: str = "网格助手",
        host: str = "127.0.0.1",
        port: int = 0,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.token = token
        self.bot_username = bot_username
        self.privacy_mode = privacy_mode
        self.host = host
        self.port = port
        self.calls: list[ApiCall] = []
        self.stats = Stats()
        self.internal_errors: list[str] = []
        self._clock = clock
        head = token.split(":", 1)[0]
        self.bot_id = int(head) if head.isdigit() else 7000000001
        self._bot_user: JSON = {"id": self.bot_id, "is_bot": True, "first_name": bot_name}
        self._bot_user["username"] = bot_username
        self._people: dict[int, Person] = {}
        self._chats: dict[int, ChatState] = {}
        self._updates: list[_Update] = []
        self._history: dict[int, _Update] = {}
        self._next_update_id = 100_000_001
        self._first_message_id = 1
        self._allowed: frozenset[str] = _DEFAULT_UPDATES
        self._poll_generation = 0
        self._webhook_url = ""
        self._queries: dict[str, _Query] = {}
        self._next_query = 1
        self._files: dict[str, StoredFile] = {}
        self._photo_sets: dict[str, list[JSON]] = {}
        self._videos: dict[str, JSON] = {}
        self._next_file = 1
        self._commands: dict[tuple[str, str], list[JSON]] = {}
        self._faults: dict[str, list[_Fault]] = {}
        self._delays: dict[str, float] = {}
        self._rate_limits = False
        self._per_second = 30
        self._per_group_minute = 20
        self._global_sends: deque[float] = deque()
        self._group_sends: dict[int, deque[float]] = {}
        self._listeners: list[Callable[[Event], None]] = []
        self._seq = 0
        self._message_seq: dict[tuple[int, int], int] = {}
        self._action_mark = 0
        self._activity = _Signal()
        self._new_updates = _Signal()
        self._stopping = asyncio.Event()
        self._runner: web.AppRunner | None = None
        self._methods: dict[str, tuple[str, Callable[[_Params], Awaitable[Any]]]] = {}
        for name, handler in self._method_table().items():
            self._methods[name.lower()] = (name, handler)

    # ── lifecycle ─────────────────────────────────────────────────────────────────────────────

    async def start(self) -> None:
        """Start serving on host:port (port 0 picks a free one)."""
        app = web.Application(client_max_size=50 * 1024 * 1024)
        app.router.add_route("*", "/bot{token}/{method}", self._handle_api)
        app.router.add_get("/file/bot{token}/{path:.+}", self._handle_file)
        self._stopping.clear()
        self._runner = web.AppRunner(app, access_log=None, shutdown_timeout=1.0)
        await self._runner.setup()
        site = web.TCPSite(self._runner, self.host, self.port)
        await site.start()
        address = self._runner.addresses[0]
        self.port = int(address[1])

    async def stop(self) -> None:
        """Wake long polls and slow answers, then shut the server down."""
        self._stopping.set()
        self._new_updates.fire()
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def __aenter__(self) -> Self:
        await self.start()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.stop()

    @property
    def url(self) -> str:
        """Return the server's root URL."""
        return f"http://{self.host}:{self.port}"

    @property
    def base_url(self) -> str:
        """Return the value for python-telegram-bot's ``base_url`` (the token is appended)."""
        return f"{self.url}/bot"

    @property
    def base_file_url(self) -> str:
        """Return the value for python-telegram-bot's ``base_file_url``."""
        return f"{self.url}/file/bot"

    @property
    def bot_user(self) -> JSON:
        """Return the bot's own User object."""
        return dict(self._bot_user)

    # ── people and chats ──────────────────────────────────────────────────────────────────────

    def add_user(
        self,
        user_id: int,
        first_name: str,
        last_name: str | None = None,
        username: str | None = None,
    ) -> Person:
        """Create a Telegram account (not yet reachable privately until it opens the bot)."""
        if user_id <= 0:
            raise ValueError("user ids are positive")
        person = Person(user_id, first_name, last_name, username)
        self._people[user_id] = person
        self._chats.setdefault(
            user_id,
            ChatState(user_id, "private", person=person, next_message_id=self._first_message_id),
        )
        self._chats[user_id].person = person
        return person

    def add_group(
        self,
        chat_id: int,
        title: str,
        supergroup: bool = False,
        *,
        members: Iterable[int] = (),
        admins: Iterable[int] = (),
        creator: int | None = None,
        username: str | None = None,
    ) -> int:
        """Create a group (negative id) with the bot in it; supergroup ids look like -100…."""
        if chat_id >= 0:
            raise ValueError("group chat ids are negative")
        chat = ChatState(
            chat_id,
            "supergroup" if supergroup else "group",
            title=title,
            username=username,
            next_message_id=self._first_message_id,
        )
        self._chats[chat_id] = chat
        for user_id in members:
            self.add_member(chat_id, user_id)
        for user_id in admins:
            self.add_member(chat_id, user_id, "administrator")
        if creator is not None:
            self.add_member(chat_id, creator, "creator")
        return chat_id

    def add_member(self, chat_id: int, user_id: int, status: str = "member") -> None:
        """Put a known user into a group with a status (member, administrator, creator…)."""
        self._person(user_id)
        self._group(chat_id).members[user_id] = status

    def set_bot_status(self, chat_id: int, status: str) -> None:
        """Set the bot's own status in a group: member, administrator, left or kicked."""
        self._group(chat_id).bot_status = status

    def set_privacy_mode(self, on: bool) -> None:
        """Switch group privacy mode (BotFather's /setprivacy) for this bot."""
        self.privacy_mode = on

    async def open_private(self, user: int | Person, payload: str | None = None) -> JSON:
        """Have the user press Start in the bot's private chat (with a deep-link payload)."""
        person = self._person(user if isinstance(user, int) else user.id)
        if person.blocked:
            person.blocked = False
            self._push_member_change(person, "kicked", "member")
        person.started = True
        text = "/start" if payload is None else f"/start {payload}"
        return await self.send_text(person.id, person.id, text)

    async def join(self, chat_id: int, user_id: int) -> JSON:
        """Have a user join a group (a new_chat_members service message)."""
        chat = self._group(chat_id)
        person = self._person(user_id)
        chat.members[user_id] = "member"
        message = self._new_message(chat, person.as_user(), None)
        message["new_chat_members"] = [person.as_user()]
        self._person_posted(chat, message)
        return copy.deepcopy(message)

    async def leave(self, chat_id: int, user_id: int) -> JSON:
        """Have a user leave a group (a left_chat_member service message)."""
        chat = self._group(chat_id)
        person = self._person(user_id)
        chat.members[user_id] = "left"
        message = self._new_message(chat, person.as_user(), None)
        message["left_chat_member"] = person.as_user()
        self._person_posted(chat, message)
        return copy.deepcopy(message)

    def block(self, user: int | Person) -> None:
        """Have the user block the bot; later sends to them answer 403."""
        person = self._person(user if isinstance(user, int) else user.id)
        if not person.blocked:
            person.blocked = True
            self._push_member_change(person, "member", "kicked")

    # ── acting as people ──────────────────────────────────────────────────────────────────────

    async def send_text(
        self,
        chat_id: int,
        user_id: int,
        text: str,
        reply_to: int | None = None,
    ) -> JSON:
        """Post a text message as a person; returns the Message (the bot may not see it)."""
        chat, person = self._acting(chat_id, user_id)
        if not text.strip():
            raise ValueError("Telegram clients do not send empty messages")
        message = self._new_message(chat, person.as_user(), reply_to)
        message["text"] = text
        entities = auto_entities(text)
        if entities:
            message["entities"] = entities
        self._person_posted(chat, message)
        return copy.deepcopy(message)

    async def send_as_anonymous_admin(self, chat_id: int, text: str) -> JSON:
        """Post as an anonymous group admin: from GroupAnonymousBot, sender_chat the group."""
        chat = self._group(chat_id)
        message = self._new_message(chat, dict(ANONYMOUS_ADMIN_BOT), None)
        message["sender_chat"] = chat.as_chat()
        message["text"] = text
        entities = auto_entities(text)
        if entities:
            message["entities"] = entities
        self._person_posted(chat, message)
        return copy.deepcopy(message)

    async def forward_from_linked_channel(
        self, chat_id: int, channel_id: int, channel_title: str, text: str
    ) -> JSON:
        """A linked channel's post copied into its discussion group, as Telegram does."""
        chat = self._group(chat_id)
        message = self._new_message(chat, dict(SERVICE_USER), None)
        channel = {"id": channel_id, "type": "channel", "title": channel_title}
        message["sender_chat"] = channel
        message["is_automatic_forward"] = True
        message["forward_origin"] = {
            "type": "channel",
            "chat": channel,
            "message_id": 1,
            "date": self._now(),
        }
        message["text"] = text
        self._person_posted(chat, message)
        return copy.deepcopy(message)

    async def send_photo(
        self,
        chat_id: int,
        user_id: int,
        image: bytes | None = None,
        caption: str | None = None,
        reply_to: int | None = None,
    ) -> JSON:
        """Post a photo (a generated PNG when image is None) with an optional caption."""
        media = self._store_photo(image if image is not None else make_png())
        return self._person_media(chat_id, user_id, "photo", media, caption, reply_to)

    async def send_video(
        self,
        chat_id: int,
        user_id: int,
        data: bytes = b"\x00\x00\x00\x18ftypmp42",
        caption: str | None = None,
        reply_to: int | None = None,
        *,
        width: int = 640,
        height: int = 360,
        duration: int = 5,
    ) -> JSON:
        """Post a video (any bytes, with the given size and length) and an optional caption."""
        media = self._store_video(data, width, height, duration)
        return self._person_media(chat_id, user_id, "video", media, caption, reply_to)

    def _person_media(
        self,
        chat_id: int,
        user_id: int,
        field: str,
        media: Any,
        caption: str | None,
        reply_to: int | None,
    ) -> JSON:
        """Post a person's photo or video with an optional caption."""
        chat, person = self._acting(chat_id, user_id)
        message = self._new_message(chat, person.as_user(), reply_to)
        message[field] = media
        if caption:
            message["caption"] = caption
            entities = auto_entities(caption)
            if entities:
                message["caption_entities"] = entities
        self._person_posted(chat, message)
        return copy.deepcopy(message)

    async def edit_text(self, chat_id: int, user_id: int, message_id: int, text: str) -> JSON:
        """Have a person edit their own text message (an edited_message update)."""
        chat, person = self._acting(chat_id, user_id)
        message = chat.messages.get(message_id)
        if message is None or message["from"]["id"] != person.id or "text" not in message:
            raise ValueError("a person can only edit their own text messages")
        message["text"] = text
        message["edit_date"] = self._now()
        message.pop("entities", None)
        entities = auto_entities(text)
        if entities:
            message["entities"] = entities
        self._action_mark = self._seq
        self._emit(Event("user_message", chat.id, copy.deepcopy(message)))
        if self._bot_sees(chat, message):
            self._push_update({"edited_message": self._for_update(message)})
        return copy.deepcopy(message)

    async def press_button(
        self,
        chat_id: int,
        user_id: int,
        message_id: int,
        callback_data: str,
        *,
        check: bool = True,
    ) -> str:
        """Press an inline button on a bot message; returns the callback query id.

        With check=False any data can be sent, as a modified client could (forged buttons).
        """
        chat, person = self._acting(chat_id, user_id)
        message = chat.messages.get(message_id)
        if message is None:
            raise ValueError(f"no message {message_id} in chat {chat_id}")
        if check:
            rows = (message.get("reply_markup") or {}).get("inline_keyboard", [])
            offered = {b.get("callback_data") for row in rows for b in row}
            if callback_data not in offered:
                raise ValueError(f"message {message_id} has no button with {callback_data!r}")
        query_id = str(4_000_000_000_000_000 + self._next_query)
        self._next_query += 1
        self._queries[query_id] = _Query(chat.id, message_id)
        self._action_mark = self._seq
        self._push_update(
            {
                "callback_query": {
                    "id": query_id,
                    "from": person.as_user(),
                    "message": self._for_update(message),
                    "chat_instance": str((chat.id * 1_000_003) % (2**62)),
                    "data": callback_data,
                }
            }
        )
        return query_id

    async def upgrade_to_supergroup(self, chat_id: int, by_user: int | None = None) -> int:
        """Turn a group into a supergroup, as Telegram does; returns the new chat id."""
        old = self._group(chat_id)
        if old.type != "group" or old.migrated_to is not None:
            raise ValueError("only a basic group can be upgraded")
        new_id = -(10**12) + chat_id  # -100… followed by the old id's digits, as on Telegram
        new = ChatState(
            new_id,
            "supergroup",
            title=old.title,
            members=dict(old.members),
            next_message_id=self._first_message_id,
        )
        new.bot_status = old.bot_status
        self._chats[new_id] = new
        actor_id = by_user or next(
            (u for u, s in old.members.items() if s == "creator"), next(iter(old.members), None)
        )
        actor = self._people[actor_id].as_user() if actor_id else dict(self._bot_user)
        to_old = self._new_message(old, actor, None)
        to_old["migrate_to_chat_id"] = new_id
        old.migrated_to = new_id
        self._person_posted(old, to_old)
        # Telegram sends the supergroup's first message from the anonymous "Group" bot.
        anonymous = {
            "id": 1087968824,
            "is_bot": True,
            "first_name": "Group",
            "username": "GroupAnonymousBot",
        }
        from_new = self._new_message(new, anonymous, None)
        from_new["sender_chat"] = new.as_chat()
        from_new["migrate_from_chat_id"] = chat_id
        self._person_posted(new, from_new)
        return new_id

    def enqueue_raw_update(self, update: JSON) -> int:
        """Queue an update as given (an update_id is assigned when missing); return its id."""
        body = {k: v for k, v in copy.deepcopy(update).items() if k != "update_id"}
        if "update_id" in update:
            update_id = int(update["update_id"])
            self._next_update_id = max(self._next_update_id, update_id + 1)
            self._updates.append(_Update(update_id, body))
            self._updates.sort(key=lambda u: u.update_id)
            self._new_updates.fire()
            return update_id
        return self._push_update(body)

    def continue_after(self, update_id: int, message_id: int = 0) -> None:
        """Number new updates after update_id and new messages after message_id in every chat.

        For a bot whose database saw an earlier emulator's chats: it asks for the updates after
        the last one it stored, and it remembers messages by chat and message id, so a fresh
        emulator starting again from 1 would have its updates skipped and its messages taken
        for ones already handled.
        """
        self._next_update_id = max(self._next_update_id, update_id + 1)
        self._first_message_id = max(self._first_message_id, message_id + 1)
        for chat in self._chats.values():
            chat.next_message_id = max(chat.next_message_id, self._first_message_id)

    def redeliver(self, update_id: int) -> None:
        """Deliver an already delivered update once more (updates arrive at least once)."""
        update = self._history.get(update_id)
        if update is None:
            raise KeyError(f"update {update_id} was never delivered")
        self._updates.insert(0, _Update(update_id, copy.deepcopy(update.body), True))
        self._new_updates.fire()

    # ── reading what the bot did ──────────────────────────────────────────────────────────────

    def file_bytes(self, file_id: str) -> bytes:
        """Return the bytes of a file the bot uploaded (a document, a photo)."""
        return self._files[file_id].data

    def sent(self, chat_id: int) -> list[BotMessage]:
        """Return the bot's messages in a chat as they look now (after edits, minus deletions)."""
        chat = self._chats.get(chat_id)
        if chat is None:
            return []
        return [BotMessage.from_raw(m) for m in chat.messages.values() if self._is_bot_message(m)]

    def _is_bot_message(self, message: JSON) -> bool:
        return bool(message["from"]["id"] == self.bot_id and "migrate_to_chat_id" not in message)

    def message(self, chat_id: int, message_id: int) -> BotMessage:
        """Return one message of a chat as it looks now (KeyError once deleted)."""
        return BotMessage.from_raw(self._chat(chat_id).messages[message_id])

    def messages(self, chat_id: int) -> list[JSON]:
        """Return every message in a chat (people's and the bot's), oldest first."""
        chat = self._chats.get(chat_id)
        return [] if chat is None else [copy.deepcopy(m) for m in chat.messages.values()]

    def callback_answer(self, query_id: str) -> CallbackAnswer | None:
        """Return the bot's answer to a button press, or None while it has not answered."""
        query = self._queries.get(query_id)
        return None if query is None else query.answer

    def calls_to(self, method: str) -> list[JSON]:
        """Return the parameters of every call to a method (name as in the Bot API docs)."""
        return [call.params for call in self.calls if call.method.lower() == method.lower()]

    @property
    def pending_updates(self) -> int:
        """Return how many updates wait for the bot to fetch or confirm them."""
        return len(self._updates)

    def person(self, user_id: int) -> Person:
        """Return a known person."""
        return self._person(user_id)

    def chat(self, chat_id: int) -> JSON:
        """Return the Chat object for a known chat."""
        return self._chat(chat_id).as_chat()

    def add_listener(self, listener: Callable[[Event], None]) -> None:
        """Call listener for every visible event (used by the demo to print the chats)."""
        self._listeners.append(listener)

    # The tests' API takes a timeout argument on purpose: one number per wait reads best there.
    async def wait_until(
        self,
        predicate: Callable[[], bool],
        timeout: float = 5.0,  # noqa: ASYNC109
    ) -> None:
        """Wait until predicate holds, re-checking after every request and visible change."""
        try:
            async with asyncio.timeout(timeout):
                while True:
                    event = self._activity.event
                    if predicate():
                        return
                    await event.wait()
        except TimeoutError:
            raise TimeoutError(f"condition not met within {timeout}s") from None

    async def wait_for(
        self,
        chat_id: int,
        predicate: Callable[[BotMessage], bool] | None = None,
        timeout: float = 5.0,  # noqa: ASYNC109
        after: int | None = None,
    ) -> BotMessage:
        """Wait for the bot's next message in a chat that matches predicate.

        ``after=N`` looks at the chat's bot messages from index N on (``len(emu.sent(chat))``
        taken earlier); by default only messages sent after the last person action count.
        """
        mark = self._action_mark
        found: list[BotMessage] = []

        def ready() -> bool:
            chat = self._chats.get(chat_id)
            if chat is None:
                return False
            # Look at raw messages first: snapshots are deep copies, built only for candidates.
            mine = [m for m in chat.messages.values() if self._is_bot_message(m)]
            if after is not None:
                mine = mine[after:]
            else:
                mine = [
                    m for m in mine if self._message_seq.get((chat_id, m["message_id"]), 0) > mark
                ]
            for raw in mine:
                message = BotMessage.from_raw(raw)
                if predicate is None or predicate(message):
                    found.append(message)
                    return True
            return False

        try:
            await self.wait_until(ready, timeout)
        except TimeoutError:
            seen = [m.text[:80] for m in self.sent(chat_id)[-5:]]
            raise TimeoutError(
                f"no matching bot message in chat {chat_id} within {timeout}s; last: {seen}"
            ) from None
        return found[0]

    async def wait_for_answer(
        self,
        query_id: str,
        timeout: float = 5.0,  # noqa: ASYNC109
    ) -> CallbackAnswer:
        """Wait until the bot answers a callback query."""
        await self.wait_until(lambda: self.callback_answer(query_id) is not None, timeout)
        answer = self.callback_answer(query_id)
        assert answer is not None
        return answer

    # ── faults ────────────────────────────────────────────────────────────────────────────────

    def fail_next(
        self,
        method: str,
        error_code: int,
        description: str,
        parameters: JSON | None = None,
        times: int = 1,
    ) -> None:
        """Make the next `times` calls of a method fail with this error, taking no effect."""
        canonical = self._canonical(method)
        fault = _Fault(ApiError(error_code, description, parameters), times)
        self._faults.setdefault(canonical, []).append(fault)

    def set_delay(self, method: str, seconds: float) -> None:
        """Answer a method slowly: wait `seconds` before the call takes effect (0 clears)."""
        canonical = self._canonical(method)
        if seconds > 0:
            self._delays[canonical] = seconds
        else:
            self._delays.pop(canonical, None)

    def set_rate_limits(
        self, on: bool = True, *, per_second: int = 30, per_group_per_minute: int = 20
    ) -> None:
        """Enforce Telegram's send limits (429 with retry_after) or switch them off."""
        self._rate_limits = on
        self._per_second = per_second
        self._per_group_minute = per_group_per_minute
        self._global_sends.clear()
        self._group_sends.clear()

    # ── HTTP ──────────────────────────────────────────────────────────────────────────────────

    async def _handle_api(self, request: web.Request) -> web.Response:
        if request.match_info["token"] != self.token:
            return self._json(ApiError(401, "Unauthorized").payload(), 401)
        entry = self._methods.get(request.match_info["method"].lower())
        if entry is None:
            return self._json(ApiError(404, "Not Found").payload(), 404)
        name, handler = entry
        self.stats.requests += 1
        self.stats.by_method[name] += 1
        try:
            params = await self._read_params(request)
            self.calls.append(ApiCall(name, self._loggable(params)))
            self._activity.fire()  # wait_until() may be waiting for this very call
            delay = self._delays.get(name)
            if delay:
                # The call takes effect only after the delay: a bot killed meanwhile sent nothing.
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._stopping.wait(), delay)
                if self._stopping.is_set():
                    raise ApiError(502, "Bad Gateway")
            self._raise_fault(name)
            result = await handler(params)
        except ApiError as error:
            self.stats.errors[error.error_code] += 1
            return self._json(error.payload(), error.error_code)
        except Exception as exc:  # a bug in the emulator must not look like a Telegram answer
            log.exception("emulator failed on %s", name)
            self.internal_errors.append(f"{name}: {exc!r}")
            self.stats.errors[500] += 1
            body = {"ok": False, "error_code": 500, "description": "Internal Server Error"}
            return self._json(body, 500)
        return self._json({"ok": True, "result": result}, 200)

    async def _handle_file(self, request: web.Request) -> web.Response:
        if request.match_info["token"] != self.token:
            return self._json(ApiError(401, "Unauthorized").payload(), 401)
        path = request.match_info["path"]
        for stored in self._files.values():
            if stored.file_path == path:
                return web.Response(body=stored.data, content_type="application/octet-stream")
        return self._json(ApiError(404, "Not Found").payload(), 404)

    @staticmethod
    def _json(body: JSON, status: int) -> web.Response:
        return web.Response(
            text=json.dumps(body, ensure_ascii=False),
            status=status,
            content_type="application/json",
        )

    async def _read_params(self, request: web.Request) -> _Params:
        values: dict[str, Any] = dict(request.query)
        uploads: dict[str, _Upload] = {}
        if request.method == "POST" and request.can_read_body:
            if request.content_type == "application/json":
                try:
                    body = await request.json()
                except ValueError:
                    raise bad_request("can't parse JSON") from None
                if isinstance(body, dict):
                    values.update(body)
            else:
                form = await request.post()
                for key, value in form.items():
                    if isinstance(value, web.FileField):
                        uploads[key] = _Upload(value.filename, value.file.read())
                    elif isinstance(value, bytes):
                        uploads[key] = _Upload(key, value)
                    else:
                        values[key] = value
        decoded = {key: _decode(key, value) for key, value in values.items()}
        return _Params(decoded, uploads)

    @staticmethod
    def _loggable(params: _Params) -> JSON:
        shown = dict(params.values)
        for key, upload in params.uploads.items():
            shown[key] = f"<upload {upload.filename} {len(upload.data)} bytes>"
        return shown

    def _raise_fault(self, name: str) -> None:
        faults = self._faults.get(name)
        if not faults:
            return
        fault = faults[0]
        fault.times -= 1
        if fault.times <= 0:
            faults.pop(0)
        raise ApiError(fault.error.error_code, fault.error.description, fault.error.parameters)

    def _canonical(self, method: str) -> str:
        entry = self._methods.get(method.lower())
        if entry is None:
            raise ValueError(f"unknown Bot API method {method!r}")
        return entry[0]

    def _method_table(self) -> dict[str, Callable[[_Params], Awaitable[Any]]]:
        return {
            "getMe": self._get_me,
            "logOut": self._true,
            "close": self._true,
            "getUpdates": self._get_updates,
            "setWebhook": self._set_webhook,
            "deleteWebhook": self._delete_webhook,
            "getWebhookInfo": self._get_webhook_info,
            "sendMessage": self._send_message,
            "sendPhoto": self._send_photo,
            "sendVideo": self._send_video,
            "sendDocument": self._send_document,
            "sendChatAction": self._send_chat_action,
            "editMessageText": self._edit_message_text,
            "editMessageCaption": self._edit_message_caption,
            "editMessageReplyMarkup": self._edit_message_reply_markup,
            "deleteMessage": self._delete_message,
            "answerCallbackQuery": self._answer_callback_query,
            "getFile": self._get_file,
            "setMyCommands": self._set_my_commands,
            "getMyCommands": self._get_my_commands,
            "deleteMyCommands": self._delete_my_commands,
            "setMyDescription": self._true,
            "setMyShortDescription": self._true,
            "setChatMenuButton": self._true,
            "getChat": self._get_chat,
            "getChatMember": self._get_chat_member,
            "getChatAdministrators": self._get_chat_administrators,
            "getChatMemberCount": self._get_chat_member_count,
            "pinChatMessage": self._pin_chat_message,
            "unpinChatMessage": self._true,
            "leaveChat": self._leave_chat,
        }

    # ── Bot API methods ───────────────────────────────────────────────────────────────────────

    async def _true(self, params: _Params) -> bool:
        return True

    async def _get_me(self, params: _Params) -> JSON:
        me = dict(self._bot_user)
        me.update(
            can_join_groups=True,
            can_read_all_group_messages=not self.privacy_mode,
            supports_inline_queries=False,
            can_connect_to_business=False,
            has_main_web_app=False,
        )
        return me

    async def _get_updates(self, params: _Params) -> list[JSON]:
        if self._webhook_url:
            raise ApiError(
                409,
                "Conflict: can't use getUpdates method while webhook is active; "
                "use deleteWebhook to delete the webhook first",
            )
        offset = params.integer("offset", 0) or 0
        limit = min(max(params.integer("limit", 100) or 100, 1), 100)
        timeout = max(params.integer("timeout", 0) or 0, 0)
        allowed = params.get("allowed_updates")
        if isinstance(allowed, list):
            self._allowed = frozenset(allowed) if allowed else _DEFAULT_UPDATES
        self._confirm(offset)
        self._poll_generation += 1
        generation = self._poll_generation
        self._new_updates.fire()  # an older long poll ends with 409, as on Telegram
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while True:
            if generation != self._poll_generation:
                raise ApiError(
                    409,
                    "Conflict: terminated by other getUpdates request; "
                    "make sure that only one bot instance is running",
                )
            batch = self._batch(limit)
            remaining = deadline - loop.time()
            if batch or remaining <= 0 or self._stopping.is_set():
                return batch
            event = self._new_updates.event
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(event.wait(), remaining)

    def _confirm(self, offset: int) -> None:
        if offset < 0:
            ordinary = [u for u in self._updates if not u.redelivery]
            keep = {u.update_id for u in ordinary[offset:]}
            self._updates = [u for u in self._updates if u.update_id in keep]
        elif offset > 0:
            self._updates = [u for u in self._updates if u.update_id >= offset or u.redelivery]

    def _batch(self, limit: int) -> list[JSON]:
        # Updates the bot did not ask for are dropped, never delivered later.
        self._updates = [u for u in self._updates if self._kind(u.body) in self._allowed]
        chosen = self._updates[:limit]
        # A redelivered update goes out once; the next confirmation would skip its old id.
        once = {id(u) for u in chosen if u.redelivery}
        self._updates = [u for u in self._updates if id(u) not in once]
        for update in chosen:
            self._history.setdefault(update.update_id, update)
        return [{"update_id": u.update_id, **copy.deepcopy(u.body)} for u in chosen]

    @staticmethod
    def _kind(body: JSON) -> str:
        return next(iter(body), "")

    async def _set_webhook(self, params: _Params) -> bool:
        self._webhook_url = params.text("url") or ""
        return True

    async def _delete_webhook(self, params: _Params) -> bool:
        self._webhook_url = ""
        if params.flag("drop_pending_updates"):
            self._updates.clear()
        return True

    async def _get_webhook_info(self, params: _Params) -> JSON:
        return {
            "url": self._webhook_url,
            "has_custom_certificate": False,
            "pending_update_count": len(self._updates),
        }

    async def _send_message(self, params: _Params) -> JSON:
        chat = self._target_chat(params)
        text, entities = self._formatted(params, "text", "entities", MAX_TEXT)
        markup = self._reply_markup(params)
        reply_to = self._reply_target(chat, params)
        self._check_rate(chat.id)
        message = self._new_message(chat, dict(self._bot_user), reply_to)
        message["text"] = text
        if entities:
            message["entities"] = entities
        if markup is not None:
            message["reply_markup"] = markup
        return self._bot_posted(chat, message)

    def _post_media(self, chat: ChatState, params: _Params, field: str, media: Any) -> JSON:
        """Post a photo, video or document the bot sent, with its caption and buttons."""
        caption, entities = self._caption(params)
        markup = self._reply_markup(params)
        reply_to = self._reply_target(chat, params)
        self._check_rate(chat.id)
        message = self._new_message(chat, dict(self._bot_user), reply_to)
        message[field] = media
        if caption:
            message["caption"] = caption
        if entities:
            message["caption_entities"] = entities
        if markup is not None:
            message["reply_markup"] = markup
        return self._bot_posted(chat, message)

    async def _send_photo(self, params: _Params) -> JSON:
        chat = self._target_chat(params)
        photo = self._photo_input(params)
        return self._post_media(chat, params, "photo", photo)

    async def _send_video(self, params: _Params) -> JSON:
        chat = self._target_chat(params)
        upload = params.uploads.get("video")
        reference = params.text("video")
        if upload is None and reference and reference.startswith("attach://"):
            upload = params.uploads.get(reference.removeprefix("attach://"))
        if upload is not None:
            video = self._store_video(
                upload.data,
                params.integer("width", 0) or 0,
                params.integer("height", 0) or 0,
                params.integer("duration", 0) or 0,
            )
        elif reference and reference in self._videos:
            video = copy.deepcopy(self._videos[reference])
        else:
            raise bad_request("wrong file identifier/HTTP URL specified")
        return self._post_media(chat, params, "video", video)

    async def _send_document(self, params: _Params) -> JSON:
        chat = self._target_chat(params)
        upload = params.uploads.get("document")
        reference = params.text("document")
        if upload is None and reference and reference.startswith("attach://"):
            upload = params.uploads.get(reference.removeprefix("attach://"))
        if upload is not None:
            stored = self._store_file(upload.data, "documents", upload.filename, "BQACAgIAAxkBAAI")
            document: JSON = {
                "file_id": stored.file_id,
                "file_unique_id": stored.file_unique_id,
                "file_name": upload.filename,
                "mime_type": "application/octet-stream",
                "file_size": len(upload.data),
            }
        elif reference and reference in self._files:
            stored = self._files[reference]
            document = {
                "file_id": stored.file_id,
                "file_unique_id": stored.file_unique_id,
                "file_size": len(stored.data),
            }
        else:
            raise bad_request("wrong file identifier/HTTP URL specified")
        return self._post_media(chat, params, "document", document)

    async def _send_chat_action(self, params: _Params) -> bool:
        self._target_chat(params)
        if params.text("action") not in _CHAT_ACTIONS:
            raise bad_request("wrong parameter action in request")
        return True

    async def _edit_message_text(self, params: _Params) -> JSON:
        chat, message = self._editable(params)
        if "text" not in message:
            raise bad_request("there is no text in the message to edit")
        text, entities = self._formatted(params, "text", "entities", MAX_TEXT)
        markup = self._reply_markup(params)
        if (
            text == message["text"]
            and entities == message.get("entities", [])
            and markup == message.get("reply_markup")
        ):
            raise self._not_modified()
        message["text"] = text
        self._set_optional(message, "entities", entities)
        self._set_optional(message, "reply_markup", markup)
        return self._bot_edited(chat, message)

    async def _edit_message_caption(self, params: _Params) -> JSON:
        chat, message = self._editable(params)
        if "text" in message:
            raise bad_request("there is no caption in the message to edit")
        caption, entities = self._caption(params)
        markup = self._reply_markup(params)
        if (
            caption == message.get("caption", "")
            and entities == message.get("caption_entities", [])
            and markup == message.get("reply_markup")
        ):
            raise self._not_modified()
        self._set_optional(message, "caption", caption)
        self._set_optional(message, "caption_entities", entities)
        self._set_optional(message, "reply_markup", markup)
        return self._bot_edited(chat, message)

    async def _edit_message_reply_markup(self, params: _Params) -> JSON:
        chat, message = self._editable(params)
        markup = self._reply_markup(params)
        if markup == message.get("reply_markup"):
            raise self._not_modified()
        self._set_optional(message, "reply_markup", markup)
        return self._bot_edited(chat, message)

    async def _delete_message(self, params: _Params) -> bool:
        chat = self._known_chat(params.chat_ref())
        message_id = params.integer("message_id")
        message = chat.messages.get(message_id or 0)
        if message is None:
            raise bad_request("message to delete not found")
        own = message["from"]["id"] == self.bot_id
        if not own and chat.is_group and chat.bot_status not in ("administrator", "creator"):
            raise bad_request("message can't be deleted")
        del chat.messages[message["message_id"]]
        self._emit(Event("deleted", chat.id, copy.deepcopy(message)))
        self._activity.fire()
        return True

    async def _answer_callback_query(self, params: _Params) -> bool:
        query = self._queries.get(params.text("callback_query_id") or "")
        if query is None or query.answer is not None:
            raise bad_request(
                "query is too old and response timeout expired or query ID is invalid"
            )
        text = params.text("text")
        if text is not None and len(text) > MAX_CALLBACK_TEXT:
            raise bad_request("MESSAGE_TOO_LONG")
        query.answer = CallbackAnswer(
            text=text or None,
            show_alert=params.flag("show_alert"),
            url=params.text("url"),
            cache_time=params.integer("cache_time", 0) or 0,
        )
        self._emit(Event("callback_answer", query.chat_id, answer=query.answer))
        self._activity.fire()
        return True

    async def _get_file(self, params: _Params) -> JSON:
        stored = self._files.get(params.text("file_id") or "")
        if stored is None:
            raise bad_request("invalid file_id")
        return {
            "file_id": stored.file_id,
            "file_unique_id": stored.file_unique_id,
            "file_size": len(stored.data),
            "file_path": stored.file_path,
        }

    def _commands_key(self, params: _Params) -> tuple[str, str]:
        scope = params.get("scope") or {"type": "default"}
        if not isinstance(scope, dict) or "type" not in scope:
            raise bad_request("can't parse BotCommandScope JSON object")
        return json.dumps(scope, sort_keys=True), params.text("language_code") or ""

    async def _set_my_commands(self, params: _Params) -> bool:
        commands = params.get("commands")
        if not isinstance(commands, list) or len(commands) > 100:
            raise bad_request("can't parse commands JSON object")
        for command in commands:
            name = command.get("command", "") if isinstance(command, dict) else ""
            description = command.get("description", "") if isinstance(command, dict) else ""
            if not _COMMAND_NAME.match(name) or not 1 <= len(description) <= 256:
                raise bad_request("BOT_COMMAND_INVALID")
        self._commands[self._commands_key(params)] = [
            {"command": c["command"], "description": c["description"]} for c in commands
        ]
        return True

    async def _get_my_commands(self, params: _Params) -> list[JSON]:
        return list(self._commands.get(self._commands_key(params), []))

    async def _delete_my_commands(self, params: _Params) -> bool:
        self._commands.pop(self._commands_key(params), None)
        return True

    async def _get_chat(self, params: _Params) -> JSON:
        chat = self._known_chat(params.chat_ref())
        info = chat.as_chat()
        info.pop("all_members_are_administrators", None)
        info.update(
            accent_color_id=0,
            max_reaction_count=11,
            accepted_gift_types={
                "unlimited_gifts": False,
                "limited_gifts": False,
                "unique_gifts": False,
                "premium_subscription": False,
                "gifts_from_channels": False,
            },
        )
        return info

    async def _get_chat_member(self, params: _Params) -> JSON:
        chat = self._known_chat(params.chat_ref())
        user_id = params.integer("user_id")
        if user_id == self.bot_id:
            return self._member_json(dict(self._bot_user), chat.bot_status)
        person = self._people.get(user_id or 0)
        if person is None:
            raise bad_request("user not found")
        if not chat.is_group:
            status = "member" if person.id == chat.id else "left"
            return self._member_json(person.as_user(), status)
        return self._member_json(person.as_user(), chat.members.get(person.id, "left"))

    async def _get_chat_administrators(self, params: _Params) -> list[JSON]:
        chat = self._known_chat(params.chat_ref())
        if not chat.is_group:
            raise bad_request("there are no administrators in the private chat")
        admins = [
            self._member_json(self._people[uid].as_user(), status)
            for uid, status in chat.members.items()
            if status in ("creator", "administrator")
        ]
        if chat.bot_status == "administrator":
            admins.append(self._member_json(dict(self._bot_user), "administrator"))
        return admins

    async def _get_chat_member_count(self, params: _Params) -> int:
        chat = self._known_chat(params.chat_ref())
        if not chat.is_group:
            return 2
        present = [s for s in chat.members.values() if s not in ("left", "kicked")]
        return len(present) + (1 if chat.bot_status not in ("left", "kicked") else 0)

    async def _pin_chat_message(self, params: _Params) -> bool:
        chat = self._target_chat(params)
        if (params.integer("message_id") or 0) not in chat.messages:
            raise bad_request("message to pin not found")
        return True

    async def _leave_chat(self, params: _Params) -> bool:
        chat = self._known_chat(params.chat_ref())
        if chat.is_group:
            chat.bot_status = "left"
        return True

    # ── helpers for the methods ───────────────────────────────────────────────────────────────

    def _now(self) -> int:
        return int(self._clock())

    def _person(self, user_id: int) -> Person:
        person = self._people.get(user_id)
        if person is None:
            raise ValueError(f"unknown user {user_id}; call add_user first")
        return person

    def _chat(self, chat_id: int) -> ChatState:
        chat = self._chats.get(chat_id)
        if chat is None:
            raise ValueError(f"unknown chat {chat_id}")
        return chat

    def _group(self, chat_id: int) -> ChatState:
        chat = self._chat(chat_id)
        if not chat.is_group:
            raise ValueError(f"chat {chat_id} is not a group")
        return chat

    def _acting(self, chat_id: int, user_id: int) -> tuple[ChatState, Person]:
        chat = self._chat(chat_id)
        person = self._person(user_id)
        if chat.migrated_to is not None:
            raise ValueError(f"chat {chat_id} was upgraded to {chat.migrated_to}")
        if chat.is_group:
            if chat.members.get(user_id) in ("left", "kicked"):
                raise ValueError(f"user {user_id} is not in chat {chat_id}")
            chat.members.setdefault(user_id, "member")
        elif chat_id != user_id:
            raise ValueError("a person can only write in their own private chat with the bot")
        elif not person.started:
            raise ValueError(f"user {user_id} has not opened the bot; call open_private first")
        return chat, person

    def _known_chat(self, ref: int | str) -> ChatState:
        chat: ChatState | None
        if isinstance(ref, str):
            name = ref.removeprefix("@").lower()
            chat = next(
                (c for c in self._chats.values() if (c.username or "").lower() == name), None
            )
        else:
            chat = self._chats.get(ref)
        if chat is None:
            raise bad_request("chat not found")
        if chat.migrated_to is not None:
            raise bad_request(
                "group chat was upgraded to a supergroup chat",
                {"migrate_to_chat_id": chat.migrated_to},
            )
        return chat

    def _target_chat(self, params: _Params) -> ChatState:
        """Resolve chat_id for a send, with the errors Telegram gives for unreachable chats."""
        chat = self._known_chat(params.chat_ref())
        if chat.person is not None:
            if chat.person.blocked:
                raise forbidden("bot was blocked by the user")
            if not chat.person.started:
                raise forbidden("bot can't initiate conversation with a user")
        elif chat.bot_status == "kicked":
            raise forbidden(f"bot was kicked from the {chat.type} chat")
        elif chat.bot_status == "left":
            raise forbidden(f"bot is not a member of the {chat.type} chat")
        return chat

    def _formatted(
        self, params: _Params, text_key: str, entities_key: str, limit: int
    ) -> tuple[str, list[JSON]]:
        source = params.text(text_key) or ""
        parse_mode = (params.text("parse_mode") or "").strip()
        entities: list[JSON]
        parsers: dict[str, Callable[[str], Formatted]] = {
            "html": parse_html,
            "markdownv2": parse_markdown,
            "markdown": lambda text: parse_markdown(text, version=1),
        }
        if parse_mode.lower() in parsers:
            try:
                formatted = parsers[parse_mode.lower()](source)
            except ParseError as error:
                raise bad_request(f"can't parse entities: {error}") from None
            text = formatted.text
            entities = [e for e in formatted.entities if self._resolve_mention(e)]
            entities += auto_entities(text)
            entities.sort(key=lambda e: (e["offset"], -e["length"]))
        elif parse_mode:
            raise bad_request("unsupported parse_mode")
        else:
            given = params.get(entities_key)
            text = source
            entities = list(given) if isinstance(given, list) else auto_entities(source)
        if text_key == "text" and not text.strip():
            raise bad_request("message text is empty")
        if utf16_len(text) > limit:
            raise bad_request(
                "message is too long" if text_key == "text" else "message caption is too long"
            )
        return text, entities

    def _resolve_mention(self, entity: JSON) -> bool:
        """Fill a tg://user?id= mention with the full User; drop it for an unknown user."""
        if entity["type"] != "text_mention":
            return True
        person = self._people.get(entity["user"]["id"])
        if person is None:
            return False
        entity["user"] = person.as_user()
        return True

    def _caption(self, params: _Params) -> tuple[str, list[JSON]]:
        if params.get("caption") is None:
            return "", []
        return self._formatted(params, "caption", "caption_entities", MAX_CAPTION)

    def _reply_markup(self, params: _Params) -> JSON | None:
        markup = params.get("reply_markup")
        if markup is None:
            return None
        if not isinstance(markup, dict):
            raise bad_request("can't parse reply keyboard markup JSON object")
        if "inline_keyboard" not in markup:
            return None  # reply keyboards are shown to the user, never echoed in Message
        rows = markup["inline_keyboard"]
        if not isinstance(rows, list) or not all(isinstance(row, list) for row in rows):
            raise bad_request('can\'t parse inline keyboard button: field "inline_keyboard"')
        actions = ("callback_data", "url", "switch_inline_query", "login_url", "web_app", "pay")
        for row in rows:
            for button in row:
                if not isinstance(button, dict) or not button.get("text"):
                    raise bad_request("can't parse inline keyboard button: Text is empty")
                if not any(key in button for key in actions):
                    raise bad_request(
                        "can't parse inline keyboard button: "
                        "Text buttons are unallowed in the inline keyboard"
                    )
                data = button.get("callback_data")
                if data is not None and not 1 <= len(str(data).encode("utf-8")) <= 64:
                    raise bad_request("BUTTON_DATA_INVALID")
                url = button.get("url")
                if url is not None and not re.match(r"^(https?://|tg://)\S+$", str(url)):
                    raise bad_request(f"inline keyboard button URL '{url}' is invalid")
        return {"inline_keyboard": rows} if rows else None

    def _reply_target(self, chat: ChatState, params: _Params) -> int | None:
        reply = params.get("reply_parameters")
        if reply is not None and not isinstance(reply, dict):
            raise bad_request("can't parse reply parameters JSON object")
        message_id = (reply or {}).get("message_id", params.integer("reply_to_message_id"))
        if message_id is None:
            return None
        allow = bool((reply or {}).get("allow_sending_without_reply")) or params.flag(
            "allow_sending_without_reply"
        )
        if int(message_id) in chat.messages:
            return int(message_id)
        if allow:
            return None
        raise bad_request("message to be replied not found")

    def _editable(self, params: _Params) -> tuple[ChatState, JSON]:
        if params.get("inline_message_id") is not None:
            raise bad_request("MESSAGE_ID_INVALID")
        chat = self._known_chat(params.chat_ref())
        message = chat.messages.get(params.integer("message_id") or 0)
        if message is None:
            raise bad_request("message to edit not found")
        if message["from"]["id"] != self.bot_id:
            raise bad_request("message can't be edited")
        return chat, message

    @staticmethod
    def _not_modified() -> ApiError:
        return bad_request(
            "message is not modified: specified new message content and reply markup are "
            "exactly the same as a current content and reply markup of the message"
        )

    @staticmethod
    def _set_optional(message: JSON, key: str, value: Any) -> None:
        if value:
            message[key] = value
        else:
            message.pop(key, None)

    def _photo_input(self, params: _Params) -> list[JSON]:
        upload = params.uploads.get("photo")
        reference = params.text("photo")
        if upload is None and reference and reference.startswith("attach://"):
            upload = params.uploads.get(reference.removeprefix("attach://"))
        if upload is not None:
            return self._store_photo(upload.data)
        if reference and reference in self._photo_sets:
            return copy.deepcopy(self._photo_sets[reference])
        if reference and reference.startswith(("http://", "https://")):
            raise bad_request("failed to get HTTP URL content")
        raise bad_request("wrong file identifier/HTTP URL specified")

    def _store_file(self, data: bytes, folder: str, name: str, prefix: str) -> StoredFile:
        number = self._next_file
        self._next_file += 1
        suffix = name.rsplit(".", 1)[-1] if "." in name else "bin"
        stored = StoredFile(
            file_id=f"{prefix}{number:06d}",
            file_unique_id=f"AQAD{number:06d}",
            file_path=f"{folder}/file_{number}.{suffix}",
            data=data,
        )
        self._files[stored.file_id] = stored
        return stored

    def _store_video(self, data: bytes, width: int, height: int, duration: int) -> JSON:
        """Keep a video and describe it as Telegram does (one Video object)."""
        stored = self._store_file(data, "videos", "video.mp4", "BAACAgIAAxkBAAI")
        video: JSON = {
            "file_id": stored.file_id,
            "file_unique_id": stored.file_unique_id,
            "width": width,
            "height": height,
            "duration": duration,
            "mime_type": "video/mp4",
            "file_size": len(data),
        }
        self._videos[stored.file_id] = video
        return copy.deepcopy(video)

    def _store_photo(self, data: bytes) -> list[JSON]:
        """Keep a photo and describe it as Telegram does: a list of sizes, largest last."""
        width, height = _image_size(data)
        sizes: list[tuple[int, int]] = []
        scale = min(1.0, 90 / max(width, height, 1))
        if scale < 1.0:
            sizes.append((max(1, round(width * scale)), max(1, round(height * scale))))
        sizes.append((width, height))
        photo: list[JSON] = []
        for w, h in sizes:
            stored = self._store_file(data, "photos", "photo.jpg", "AgACAgUAAxkBAAI")
            photo.append(
                {
                    "file_id": stored.file_id,
                    "file_unique_id": stored.file_unique_id,
                    "file_size": len(data),
                    "width": w,
                    "height": h,
                }
            )
        for size in photo:
            self._photo_sets[size["file_id"]] = photo
        return copy.deepcopy(photo)

    def _member_json(self, user: JSON, status: str) -> JSON:
        member: JSON = {"status": status, "user": user}
        if status == "creator":
            member["is_anonymous"] = False
        elif status == "administrator":
            member.update(_BOT_ADMIN_RIGHTS)
        elif status == "kicked":
            member["until_date"] = 0
        return member

    def _check_rate(self, chat_id: int) -> None:
        """Refuse a send over Telegram's limits (sliding windows with a 5% grace)."""
        if not self._rate_limits:
            return
        now = time.monotonic()
        windows: list[tuple[deque[float], int, float]] = [
            (self._global_sends, self._per_second, 0.95)
        ]
        if chat_id < 0:
            group = self._group_sends.setdefault(chat_id, deque())
            windows.append((group, self._per_group_minute, 57.0))
        for sends, limit, span in windows:
            while sends and sends[0] <= now - span:
                sends.popleft()
            if len(sends) >= limit:
                retry = max(1, math.ceil(sends[0] + span - now))
                raise ApiError(
                    429, f"Too Many Requests: retry after {retry}", {"retry_after": retry}
                )
        for sends, _limit, _span in windows:
            sends.append(now)

    def _new_message(self, chat: ChatState, sender: JSON, reply_to: int | None) -> JSON:
        message: JSON = {
            "message_id": chat.next_message_id,
            "from": sender,
            "chat": chat.as_chat(),
            "date": self._now(),
        }
        chat.next_message_id += 1
        if reply_to is not None:
            target = chat.messages.get(reply_to)
            if target is None:
                raise ValueError(f"no message {reply_to} in chat {chat.id}")
            message["reply_to_message"] = self._for_update(target, nested=False)
        return message

    @staticmethod
    def _for_update(message: JSON, nested: bool = True) -> JSON:
        body = copy.deepcopy(message)
        if not nested:
            body.pop("reply_to_message", None)
        return body

    def _bot_posted(self, chat: ChatState, message: JSON) -> JSON:
        chat.messages[message["message_id"]] = message
        self._seq += 1
        self._message_seq[(chat.id, message["message_id"])] = self._seq
        self._emit(Event("sent", chat.id, copy.deepcopy(message)))
        self._activity.fire()
        return copy.deepcopy(message)

    def _bot_edited(self, chat: ChatState, message: JSON) -> JSON:
        message["edit_date"] = self._now()
        self._emit(Event("edited", chat.id, copy.deepcopy(message)))
        self._activity.fire()
        return copy.deepcopy(message)

    def _person_posted(self, chat: ChatState, message: JSON) -> None:
        chat.messages[message["message_id"]] = message
        self._action_mark = self._seq
        self._emit(Event("user_message", chat.id, copy.deepcopy(message)))
        if self._bot_sees(chat, message):
            self._push_update({"message": self._for_update(message)})

    def _bot_sees(self, chat: ChatState, message: JSON) -> bool:
        """Apply group privacy mode: what a bot receives from groups when it is on."""
        if not chat.is_group or not self.privacy_mode:
            return True
        if chat.bot_status in ("left", "kicked"):
            return False
        if chat.bot_status in ("administrator", "creator"):
            return True  # admin bots receive every message, privacy mode or not
        if "text" not in message and "caption" not in message:
            return "photo" not in message and "document" not in message  # service messages
        text = str(message.get("text", message.get("caption", "")))
        command = first_command(text)
        if command is not None:
            return command[1] is None or command[1].lower() == self.bot_username.lower()
        reply = message.get("reply_to_message")
        if reply and reply["from"]["id"] == self.bot_id:
            return True
        return f"@{self.bot_username.lower()}" in text.lower()

    def _push_update(self, body: JSON) -> int:
        update_id = self._next_update_id
        self._next_update_id += 1
        self._updates.append(_Update(update_id, body))
        self._new_updates.fire()
        return update_id

    def _push_member_change(self, person: Person, old: str, new: str) -> None:
        self._push_update(
            {
                "my_chat_member": {
                    "chat": self._chats[person.id].as_chat(),
                    "from": person.as_user(),
                    "date": self._now(),
                    "old_chat_member": self._member_json(dict(self._bot_user), old),
                    "new_chat_member": self._member_json(dict(self._bot_user), new),
                }
            }
        )

    def _emit(self, event: Event) -> None:
        for listener in self._listeners:
            listener(event)
