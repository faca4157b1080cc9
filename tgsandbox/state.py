"""What the emulated Telegram holds: people, chats and their messages, files, the updates queue.

``World`` is the one place the emulator keeps state. The Bot API methods (``tgsandbox.api``)
and the people's API (``tgsandbox.people``) both change it through the small operations here:
a new message, a bot post, a person's post (which becomes an update when the bot may see it),
a stored file. Dates are Unix seconds from the world's clock.
"""

from __future__ import annotations

import asyncio
import copy
import time
from collections.abc import Callable
from dataclasses import dataclass

from tgsandbox.faults import Faults
from tgsandbox.images import image_size
from tgsandbox.markup import first_command
from tgsandbox.model import (
    JSON,
    ApiCall,
    CallbackAnswer,
    ChatState,
    Event,
    Person,
    Stats,
    StoredFile,
    bad_request,
    forbidden,
)

DEFAULT_TOKEN = "7000000001:AAGridBotSandboxTokenNotForTelegram00"
# Updates a bot gets when it does not ask for specific ones (Bot API: allowed_updates).
DEFAULT_UPDATES = frozenset(
    [
        "message",
        "edited_message",
        "channel_post",
        "edited_channel_post",
        "business_connection",
        "business_message",
        "edited_business_message",
        "deleted_business_messages",
        "inline_query",
        "chosen_inline_result",
        "callback_query",
        "shipping_query",
        "pre_checkout_query",
        "purchased_paid_media",
        "poll",
        "poll_answer",
        "my_chat_member",
        "chat_join_request",
        "chat_boost",
        "removed_chat_boost",
    ]
)
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
class Query:
    """A button press the bot may answer once."""

    chat_id: int
    message_id: int
    answer: CallbackAnswer | None = None


@dataclass
class QueuedUpdate:
    """An update waiting for the bot to fetch (or confirm) it."""

    update_id: int
    body: JSON
    redelivery: bool = False


class Signal:
    """Wakes every waiter at once; usable from plain (non-async) code."""

    def __init__(self) -> None:
        self._event = asyncio.Event()

    def fire(self) -> None:
        self._event.set()
        self._event = asyncio.Event()

    @property
    def event(self) -> asyncio.Event:
        return self._event


class World:
    """Everything the emulated Telegram knows, and the operations that change it."""

    def __init__(
        self,
        token: str,
        bot_username: str,
        privacy_mode: bool,
        bot_name: str,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.token = token
        self.bot_username = bot_username
        self.privacy_mode = privacy_mode
        self.clock = clock
        head = token.split(":", 1)[0]
        self.bot_id = int(head) if head.isdigit() else 7000000001
        self.bot_user: JSON = {"id": self.bot_id, "is_bot": True, "first_name": bot_name}
        self.bot_user["username"] = bot_username
        # What the bot asked, and how it went.
        self.calls: list[ApiCall] = []
        self.stats = Stats()
        self.internal_errors: list[str] = []
        self.faults = Faults()
        # People and chats.
        self.people: dict[int, Person] = {}
        self.chats: dict[int, ChatState] = {}
        self.first_message_id = 1
        self.queries: dict[str, Query] = {}
        self.next_query = 1
        self.commands: dict[tuple[str, str], list[JSON]] = {}
        # Files the bot or people sent.
        self.files: dict[str, StoredFile] = {}
        self.photo_sets: dict[str, list[JSON]] = {}
        self.videos: dict[str, JSON] = {}
        # (chat, message) the bot sent with disable_notification: no sound on the phone.
        self.silenced: set[tuple[int, int]] = set()
        self.next_file = 1
        # The updates queue (getUpdates) and the webhook that would replace it.
        self.updates: list[QueuedUpdate] = []
        self.history: dict[int, QueuedUpdate] = {}
        self.next_update_id = 100_000_001
        self.allowed: frozenset[str] = DEFAULT_UPDATES
        self.poll_generation = 0
        self.webhook_url = ""
        # Who waits for what: tests (activity), long polls (new_updates), the demo (listeners).
        self.listeners: list[Callable[[Event], None]] = []
        self.seq = 0
        self.message_seq: dict[tuple[int, int], int] = {}
        self.action_mark = 0
        self.activity = Signal()
        self.new_updates = Signal()
        self.stopping = asyncio.Event()

    def now(self) -> int:
        """Return the world's time in Unix seconds."""
        return int(self.clock())

    # ── finding people and chats ──────────────────────────────────────────────────────────────

    def person(self, user_id: int) -> Person:
        """Return a known person (ValueError for a test's typo)."""
        person = self.people.get(user_id)
        if person is None:
            raise ValueError(f"unknown user {user_id}; call add_user first")
        return person

    def chat(self, chat_id: int) -> ChatState:
        """Return a known chat (ValueError for a test's typo)."""
        chat = self.chats.get(chat_id)
        if chat is None:
            raise ValueError(f"unknown chat {chat_id}")
        return chat

    def group(self, chat_id: int) -> ChatState:
        """Return a known group or supergroup."""
        chat = self.chat(chat_id)
        if not chat.is_group:
            raise ValueError(f"chat {chat_id} is not a group")
        return chat

    def acting(self, chat_id: int, user_id: int) -> tuple[ChatState, Person]:
        """Return the chat and person for something a person does there, if they may."""
        chat = self.chat(chat_id)
        person = self.person(user_id)
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

    def known_chat(self, ref: int | str) -> ChatState:
        """Resolve a chat the bot names (id or @username), with Telegram's errors."""
        chat: ChatState | None
        if isinstance(ref, str):
            name = ref.removeprefix("@").lower()
            chat = next(
                (c for c in self.chats.values() if (c.username or "").lower() == name), None
            )
        else:
            chat = self.chats.get(ref)
        if chat is None:
            raise bad_request("chat not found")
        if chat.migrated_to is not None:
            raise bad_request(
                "group chat was upgraded to a supergroup chat",
                {"migrate_to_chat_id": chat.migrated_to},
            )
        return chat

    def target_chat(self, ref: int | str) -> ChatState:
        """Resolve chat_id for a send, with the errors Telegram gives for unreachable chats."""
        chat = self.known_chat(ref)
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

    def member_json(self, user: JSON, status: str) -> JSON:
        """Return a ChatMember object."""
        member: JSON = {"status": status, "user": user}
        if status == "creator":
            member["is_anonymous"] = False
        elif status == "administrator":
            member.update(_BOT_ADMIN_RIGHTS)
        elif status == "kicked":
            member["until_date"] = 0
        return member

    # ── messages ──────────────────────────────────────────────────────────────────────────────

    def new_message(self, chat: ChatState, sender: JSON, reply_to: int | None) -> JSON:
        """Number a new message in a chat (not yet posted)."""
        message: JSON = {
            "message_id": chat.next_message_id,
            "from": sender,
            "chat": chat.as_chat(),
            "date": self.now(),
        }
        chat.next_message_id += 1
        if reply_to is not None:
            target = chat.messages.get(reply_to)
            if target is None:
                raise ValueError(f"no message {reply_to} in chat {chat.id}")
            message["reply_to_message"] = for_update(target, nested=False)
        return message

    def is_bot_message(self, message: JSON) -> bool:
        """Tell whether the bot posted this message (not a group-upgrade notice)."""
        return bool(message["from"]["id"] == self.bot_id and "migrate_to_chat_id" not in message)

    def bot_posted(self, chat: ChatState, message: JSON) -> JSON:
        """Keep a message the bot sent and tell the waiters; return the Message to answer."""
        chat.messages[message["message_id"]] = message
        self.seq += 1
        self.message_seq[(chat.id, message["message_id"])] = self.seq
        self.emit(Event("sent", chat.id, copy.deepcopy(message)))
        self.activity.fire()
        return copy.deepcopy(message)

    def bot_edited(self, chat: ChatState, message: JSON) -> JSON:
        """Stamp an edit of the bot's message and tell the waiters."""
        message["edit_date"] = self.now()
        self.emit(Event("edited", chat.id, copy.deepcopy(message)))
        self.activity.fire()
        return copy.deepcopy(message)

    def person_posted(self, chat: ChatState, message: JSON) -> None:
        """Keep a person's message; queue it as an update when the bot may see it."""
        chat.messages[message["message_id"]] = message
        self.action_mark = self.seq
        self.emit(Event("user_message", chat.id, copy.deepcopy(message)))
        if self.bot_sees(chat, message):
            self.push_update({"message": for_update(message)})

    def bot_sees(self, chat: ChatState, message: JSON) -> bool:
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

    def resolve_mention(self, entity: JSON) -> bool:
        """Fill a tg://user?id= mention with the full User; drop it for an unknown user."""
        if entity["type"] != "text_mention":
            return True
        person = self.people.get(entity["user"]["id"])
        if person is None:
            return False
        entity["user"] = person.as_user()
        return True

    def emit(self, event: Event) -> None:
        """Tell the listeners (the demo's printer) what people would see."""
        for listener in self.listeners:
            listener(event)

    # ── the updates queue ─────────────────────────────────────────────────────────────────────

    def push_update(self, body: JSON) -> int:
        """Queue an update for the bot; return its id."""
        update_id = self.next_update_id
        self.next_update_id += 1
        self.updates.append(QueuedUpdate(update_id, body))
        self.new_updates.fire()
        return update_id

    def push_member_change(self, person: Person, old: str, new: str) -> None:
        """Queue a my_chat_member update: a person blocked or unblocked the bot."""
        self.push_update(
            {
                "my_chat_member": {
                    "chat": self.chats[person.id].as_chat(),
                    "from": person.as_user(),
                    "date": self.now(),
                    "old_chat_member": self.member_json(dict(self.bot_user), old),
                    "new_chat_member": self.member_json(dict(self.bot_user), new),
                }
            }
        )

    def confirm(self, offset: int) -> None:
        """Forget the updates a getUpdates offset confirms (a negative one keeps the last)."""
        if offset < 0:
            ordinary = [u for u in self.updates if not u.redelivery]
            keep = {u.update_id for u in ordinary[offset:]}
            self.updates = [u for u in self.updates if u.update_id in keep]
        elif offset > 0:
            self.updates = [u for u in self.updates if u.update_id >= offset or u.redelivery]

    def batch(self, limit: int) -> list[JSON]:
        """Hand out up to `limit` waiting updates (they stay until confirmed)."""
        # Updates the bot did not ask for are dropped, never delivered later.
        self.updates = [u for u in self.updates if _kind(u.body) in self.allowed]
        chosen = self.updates[:limit]
        # A redelivered update goes out once; the next confirmation would skip its old id.
        once = {id(u) for u in chosen if u.redelivery}
        self.updates = [u for u in self.updates if id(u) not in once]
        for update in chosen:
            self.history.setdefault(update.update_id, update)
        return [{"update_id": u.update_id, **copy.deepcopy(u.body)} for u in chosen]

    # ── files ─────────────────────────────────────────────────────────────────────────────────

    def store_file(self, data: bytes, folder: str, name: str, prefix: str) -> StoredFile:
        """Keep a file's bytes under a new file_id and file_path."""
        number = self.next_file
        self.next_file += 1
        suffix = name.rsplit(".", 1)[-1] if "." in name else "bin"
        stored = StoredFile(
            file_id=f"{prefix}{number:06d}",
            file_unique_id=f"AQAD{number:06d}",
            file_path=f"{folder}/file_{number}.{suffix}",
            data=data,
        )
        self.files[stored.file_id] = stored
        return stored

    def store_video(self, data: bytes, width: int, height: int, duration: int) -> JSON:
        """Keep a video and describe it as Telegram does (one Video object)."""
        stored = self.store_file(data, "videos", "video.mp4", "BAACAgIAAxkBAAI")
        video: JSON = {
            "file_id": stored.file_id,
            "file_unique_id": stored.file_unique_id,
            "width": width,
            "height": height,
            "duration": duration,
            "mime_type": "video/mp4",
            "file_size": len(data),
        }
        self.videos[stored.file_id] = video
        return copy.deepcopy(video)

    def store_voice(self, data: bytes, duration: int) -> JSON:
        """Keep a voice note and describe it as Telegram does (one Voice object)."""
        stored = self.store_file(data, "voice", "voice.ogg", "AwACAgIAAxkBAAI")
        return {
            "file_id": stored.file_id,
            "file_unique_id": stored.file_unique_id,
            "duration": duration,
            "mime_type": "audio/ogg",
            "file_size": len(data),
        }

    def store_photo(self, data: bytes) -> list[JSON]:
        """Keep a photo and describe it as Telegram does: a list of sizes, largest last."""
        width, height = image_size(data)
        sizes: list[tuple[int, int]] = []
        scale = min(1.0, 90 / max(width, height, 1))
        if scale < 1.0:
            sizes.append((max(1, round(width * scale)), max(1, round(height * scale))))
        sizes.append((width, height))
        photo: list[JSON] = []
        for w, h in sizes:
            stored = self.store_file(data, "photos", "photo.jpg", "AgACAgUAAxkBAAI")
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
            self.photo_sets[size["file_id"]] = photo
        return copy.deepcopy(photo)

    def file_at(self, path: str) -> StoredFile | None:
        """Return the file served at a download path."""
        return next((f for f in self.files.values() if f.file_path == path), None)


def for_update(message: JSON, nested: bool = True) -> JSON:
    """Copy a message for an update (a replied-to message carries no reply of its own)."""
    body = copy.deepcopy(message)
    if not nested:
        body.pop("reply_to_message", None)
    return body


def _kind(body: JSON) -> str:
    return next(iter(body), "")
