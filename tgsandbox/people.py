"""The people in the chats, played from Python: what tests and the demo use.

Create accounts and groups, then act as a person (``send_text``, ``send_photo``,
``press_button``, ``open_private``, ``join``, ``block``…) and read what they see
(``sent``, ``message``, ``wait_for``, ``wait_for_answer``). What a person does becomes an
update for the bot when Telegram would deliver it (group privacy mode, blocked bots…).
"""

from __future__ import annotations

import asyncio
import copy
from collections.abc import Awaitable, Callable, Iterable
from typing import Any

from tgsandbox.images import make_png
from tgsandbox.markup import auto_entities
from tgsandbox.model import JSON, BotMessage, CallbackAnswer, ChatState, Event, Person
from tgsandbox.state import (
    ANONYMOUS_ADMIN_BOT,
    SERVICE_USER,
    Query,
    QueuedUpdate,
    World,
    for_update,
)

CatchUp = Callable[[], Awaitable[None]]


class People:
    """The Python API that plays the people in the chats (mixed into ``Emulator``)."""

    world: World
    # With no bot polling (the offline request), the waits first let the test's driver
    # process what is queued: see tgsandbox.offline.
    catch_up: CatchUp | None = None

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
        world = self.world
        person = Person(user_id, first_name, last_name, username)
        world.people[user_id] = person
        world.chats.setdefault(
            user_id,
            ChatState(user_id, "private", person=person, next_message_id=world.first_message_id),
        )
        world.chats[user_id].person = person
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
            next_message_id=self.world.first_message_id,
        )
        self.world.chats[chat_id] = chat
        for user_id in members:
            self.add_member(chat_id, user_id)
        for user_id in admins:
            self.add_member(chat_id, user_id, "administrator")
        if creator is not None:
            self.add_member(chat_id, creator, "creator")
        return chat_id

    def add_member(self, chat_id: int, user_id: int, status: str = "member") -> None:
        """Put a known user into a group with a status (member, administrator, creator…)."""
        self.world.person(user_id)
        self.world.group(chat_id).members[user_id] = status

    def clear_history(self, chat_id: int) -> None:
        """A person clears their private chat with the bot: its messages are gone for good
        (an edit of one is refused "message to edit not found"; no update tells the bot)."""
        chat = self.world.known_chat(chat_id)
        if chat.is_group:
            raise ValueError("only a private chat's history is cleared by its person")
        chat.messages.clear()

    def set_bot_status(self, chat_id: int, status: str) -> None:
        """Set the bot's own status in a group: member, administrator, left or kicked."""
        self.world.group(chat_id).bot_status = status

    def set_privacy_mode(self, on: bool) -> None:
        """Switch group privacy mode (BotFather's /setprivacy) for this bot."""
        self.world.privacy_mode = on

    async def open_private(self, user: int | Person, payload: str | None = None) -> JSON:
        """Have the user press Start in the bot's private chat (with a deep-link payload)."""
        person = self.world.person(user if isinstance(user, int) else user.id)
        if person.blocked:
            person.blocked = False
            self.world.push_member_change(person, "kicked", "member")
        person.started = True
        text = "/start" if payload is None else f"/start {payload}"
        return await self.send_text(person.id, person.id, text)

    async def join(self, chat_id: int, user_id: int) -> JSON:
        """Have a user join a group (a new_chat_members service message)."""
        world = self.world
        chat = world.group(chat_id)
        person = world.person(user_id)
        chat.members[user_id] = "member"
        message = world.new_message(chat, person.as_user(), None)
        message["new_chat_members"] = [person.as_user()]
        world.person_posted(chat, message)
        return copy.deepcopy(message)

    async def leave(self, chat_id: int, user_id: int) -> JSON:
        """Have a user leave a group (a left_chat_member service message)."""
        world = self.world
        chat = world.group(chat_id)
        person = world.person(user_id)
        chat.members[user_id] = "left"
        message = world.new_message(chat, person.as_user(), None)
        message["left_chat_member"] = person.as_user()
        world.person_posted(chat, message)
        return copy.deepcopy(message)

    def block(self, user: int | Person) -> None:
        """Have the user block the bot; later sends to them answer 403."""
        person = self.world.person(user if isinstance(user, int) else user.id)
        if not person.blocked:
            person.blocked = True
            self.world.push_member_change(person, "member", "kicked")

    # ── acting as people ──────────────────────────────────────────────────────────────────────

    async def send_text(
        self,
        chat_id: int,
        user_id: int,
        text: str,
        reply_to: int | None = None,
    ) -> JSON:
        """Post a text message as a person; returns the Message (the bot may not see it)."""
        world = self.world
        chat, person = world.acting(chat_id, user_id)
        if not text.strip():
            raise ValueError("Telegram clients do not send empty messages")
        message = world.new_message(chat, person.as_user(), reply_to)
        message["text"] = text
        entities = auto_entities(text)
        if entities:
            message["entities"] = entities
        world.person_posted(chat, message)
        return copy.deepcopy(message)

    async def send_as_anonymous_admin(self, chat_id: int, text: str) -> JSON:
        """Post as an anonymous group admin: from GroupAnonymousBot, sender_chat the group."""
        world = self.world
        chat = world.group(chat_id)
        message = world.new_message(chat, dict(ANONYMOUS_ADMIN_BOT), None)
        message["sender_chat"] = chat.as_chat()
        message["text"] = text
        entities = auto_entities(text)
        if entities:
            message["entities"] = entities
        world.person_posted(chat, message)
        return copy.deepcopy(message)

    async def forward_from_linked_channel(
        self, chat_id: int, channel_id: int, channel_title: str, text: str
    ) -> JSON:
        """A linked channel's post copied into its discussion group, as Telegram does."""
        world = self.world
        chat = world.group(chat_id)
        message = world.new_message(chat, dict(SERVICE_USER), None)
        channel = {"id": channel_id, "type": "channel", "title": channel_title}
        message["sender_chat"] = channel
        message["is_automatic_forward"] = True
        message["forward_origin"] = {
            "type": "channel",
            "chat": channel,
            "message_id": 1,
            "date": world.now(),
        }
        message["text"] = text
        world.person_posted(chat, message)
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
        media = self.world.store_photo(image if image is not None else make_png())
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
        media = self.world.store_video(data, width, height, duration)
        return self._person_media(chat_id, user_id, "video", media, caption, reply_to)

    async def send_voice(
        self,
        chat_id: int,
        user_id: int,
        data: bytes = b"OggS\x00\x02",
        reply_to: int | None = None,
        *,
        duration: int = 7,
    ) -> JSON:
        """Post a voice note (what many residents send instead of typing); no caption."""
        media = self.world.store_voice(data, duration)
        return self._person_media(chat_id, user_id, "voice", media, None, reply_to)

    async def send_album(
        self, chat_id: int, user_id: int, count: int, caption: str | None = None
    ) -> list[JSON]:
        """Post several photos at once as Telegram does an album: one message each, sharing a
        media_group_id, the caption on the first only."""
        group = f"album{self.world.seq}"
        return [
            self._person_media(
                chat_id,
                user_id,
                "photo",
                self.world.store_photo(make_png()),
                caption if i == 0 else None,
                None,
                media_group_id=group,
            )
            for i in range(count)
        ]

    def _person_media(
        self,
        chat_id: int,
        user_id: int,
        field: str,
        media: Any,
        caption: str | None,
        reply_to: int | None,
        *,
        media_group_id: str | None = None,
    ) -> JSON:
        """Post a person's photo or video with an optional caption."""
        world = self.world
        chat, person = world.acting(chat_id, user_id)
        message = world.new_message(chat, person.as_user(), reply_to)
        message[field] = media
        if media_group_id is not None:
            message["media_group_id"] = media_group_id
        if caption:
            message["caption"] = caption
            entities = auto_entities(caption)
            if entities:
                message["caption_entities"] = entities
        world.person_posted(chat, message)
        return copy.deepcopy(message)

    async def edit_text(self, chat_id: int, user_id: int, message_id: int, text: str) -> JSON:
        """Have a person edit their own text message (an edited_message update)."""
        world = self.world
        chat, person = world.acting(chat_id, user_id)
        message = chat.messages.get(message_id)
        if message is None or message["from"]["id"] != person.id or "text" not in message:
            raise ValueError("a person can only edit their own text messages")
        message["text"] = text
        message["edit_date"] = world.now()
        message.pop("entities", None)
        entities = auto_entities(text)
        if entities:
            message["entities"] = entities
        world.action_mark = world.seq
        world.emit(Event("user_message", chat.id, copy.deepcopy(message)))
        if world.bot_sees(chat, message):
            world.push_update({"edited_message": for_update(message)})
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
        world = self.world
        chat, person = world.acting(chat_id, user_id)
        message = chat.messages.get(message_id)
        if message is None:
            raise ValueError(f"no message {message_id} in chat {chat_id}")
        if check:
            rows = (message.get("reply_markup") or {}).get("inline_keyboard", [])
            offered = {b.get("callback_data") for row in rows for b in row}
            if callback_data not in offered:
                raise ValueError(f"message {message_id} has no button with {callback_data!r}")
        query_id = str(4_000_000_000_000_000 + world.next_query)
        world.next_query += 1
        world.queries[query_id] = Query(chat.id, message_id)
        world.action_mark = world.seq
        world.push_update(
            {
                "callback_query": {
                    "id": query_id,
                    "from": person.as_user(),
                    "message": for_update(message),
                    "chat_instance": str((chat.id * 1_000_003) % (2**62)),
                    "data": callback_data,
                }
            }
        )
        return query_id

    async def upgrade_to_supergroup(self, chat_id: int, by_user: int | None = None) -> int:
        """Turn a group into a supergroup, as Telegram does; returns the new chat id."""
        world = self.world
        old = world.group(chat_id)
        if old.type != "group" or old.migrated_to is not None:
            raise ValueError("only a basic group can be upgraded")
        new_id = -(10**12) + chat_id  # -100… followed by the old id's digits, as on Telegram
        new = ChatState(
            new_id,
            "supergroup",
            title=old.title,
            members=dict(old.members),
            next_message_id=world.first_message_id,
        )
        new.bot_status = old.bot_status
        world.chats[new_id] = new
        actor_id = by_user or next(
            (u for u, s in old.members.items() if s == "creator"), next(iter(old.members), None)
        )
        actor = world.people[actor_id].as_user() if actor_id else dict(world.bot_user)
        to_old = world.new_message(old, actor, None)
        to_old["migrate_to_chat_id"] = new_id
        old.migrated_to = new_id
        world.person_posted(old, to_old)
        # Telegram sends the supergroup's first message from the anonymous "Group" bot.
        from_new = world.new_message(new, dict(ANONYMOUS_ADMIN_BOT), None)
        from_new["sender_chat"] = new.as_chat()
        from_new["migrate_from_chat_id"] = chat_id
        world.person_posted(new, from_new)
        return new_id

    # ── the updates queue, as a test may shape it ─────────────────────────────────────────────

    def enqueue_raw_update(self, update: JSON) -> int:
        """Queue an update as given (an update_id is assigned when missing); return its id."""
        world = self.world
        body = {k: v for k, v in copy.deepcopy(update).items() if k != "update_id"}
        if "update_id" in update:
            update_id = int(update["update_id"])
            world.next_update_id = max(world.next_update_id, update_id + 1)
            world.updates.append(QueuedUpdate(update_id, body))
            world.updates.sort(key=lambda u: u.update_id)
            world.new_updates.fire()
            return update_id
        return world.push_update(body)

    def continue_after(self, update_id: int, message_id: int = 0) -> None:
        """Number new updates after update_id and new messages after message_id in every chat.

        For a bot whose database saw an earlier emulator's chats: it asks for the updates after
        the last one it stored, and it remembers messages by chat and message id, so a fresh
        emulator starting again from 1 would have its updates skipped and its messages taken
        for ones already handled.
        """
        world = self.world
        world.next_update_id = max(world.next_update_id, update_id + 1)
        world.first_message_id = max(world.first_message_id, message_id + 1)
        for chat in world.chats.values():
            chat.next_message_id = max(chat.next_message_id, world.first_message_id)

    def redeliver(self, update_id: int) -> None:
        """Deliver an already delivered update once more (updates arrive at least once)."""
        world = self.world
        update = world.history.get(update_id)
        if update is None:
            raise KeyError(f"update {update_id} was never delivered")
        world.updates.insert(0, QueuedUpdate(update_id, copy.deepcopy(update.body), True))
        world.new_updates.fire()

    # ── reading what people see ───────────────────────────────────────────────────────────────

    def file_bytes(self, file_id: str) -> bytes:
        """Return the bytes of a file the bot uploaded (a document, a photo)."""
        return self.world.files[file_id].data

    def sent(self, chat_id: int) -> list[BotMessage]:
        """Return the bot's messages in a chat as they look now (after edits, minus deletions)."""
        chat = self.world.chats.get(chat_id)
        if chat is None:
            return []
        return [
            BotMessage.from_raw(m) for m in chat.messages.values() if self.world.is_bot_message(m)
        ]

    def rang(self, chat_id: int, message_id: int) -> bool:
        """Tell whether a bot message made a sound (it was not sent with disable_notification)."""
        return (chat_id, message_id) not in self.world.silenced

    def message(self, chat_id: int, message_id: int) -> BotMessage:
        """Return one message of a chat as it looks now (KeyError once deleted)."""
        return BotMessage.from_raw(self.world.chat(chat_id).messages[message_id])

    def messages(self, chat_id: int) -> list[JSON]:
        """Return every message in a chat (people's and the bot's), oldest first."""
        chat = self.world.chats.get(chat_id)
        return [] if chat is None else [copy.deepcopy(m) for m in chat.messages.values()]

    def callback_answer(self, query_id: str) -> CallbackAnswer | None:
        """Return the bot's answer to a button press, or None while it has not answered."""
        query = self.world.queries.get(query_id)
        return None if query is None else query.answer

    def calls_to(self, method: str) -> list[JSON]:
        """Return the parameters of every call to a method (name as in the Bot API docs)."""
        return [c.params for c in self.world.calls if c.method.lower() == method.lower()]

    @property
    def pending_updates(self) -> int:
        """Return how many updates wait for the bot to fetch or confirm them."""
        return len(self.world.updates)

    def person(self, user_id: int) -> Person:
        """Return a known person."""
        return self.world.person(user_id)

    def chat(self, chat_id: int) -> JSON:
        """Return the Chat object for a known chat."""
        return self.world.chat(chat_id).as_chat()

    def add_listener(self, listener: Callable[[Event], None]) -> None:
        """Call listener for every visible event (used by the demo to print the chats)."""
        self.world.listeners.append(listener)

    # ── waiting for the bot ───────────────────────────────────────────────────────────────────

    # The tests' API takes a timeout argument on purpose: one number per wait reads best there.
    async def wait_until(
        self,
        predicate: Callable[[], bool],
        timeout: float = 5.0,  # noqa: ASYNC109
    ) -> None:
        """Wait until predicate holds, re-checking after every request and visible change."""
        if self.catch_up is not None:
            await self.catch_up()  # outside the timeout: a handler is never cut off halfway
        try:
            async with asyncio.timeout(timeout):
                while True:
                    event = self.world.activity.event
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
        world = self.world
        mark = world.action_mark
        found: list[BotMessage] = []

        def ready() -> bool:
            chat = world.chats.get(chat_id)
            if chat is None:
                return False
            # Look at raw messages first: snapshots are deep copies, built only for candidates.
            mine = [m for m in chat.messages.values() if world.is_bot_message(m)]
            if after is not None:
                mine = mine[after:]
            else:
                mine = [
                    m for m in mine if world.message_seq.get((chat_id, m["message_id"]), 0) > mark
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
