"""Every message goes through the outbox; one sender per chat delivers it the way Telegram behaves.

`send` and `edit` write an outbox row in whatever transaction is open (during an update: the
update's own, so the messages commit with the state that caused them, or not at all) and return
at once. `OutboxSender` delivers: one ordered queue per chat, chats independent, retries with
backoff and jitter on 429/5xx/timeouts/network errors, permanent errors handled by kind, and the
message id Telegram gives back stored with the row (placeholders replaced, see storage.outbox).
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import logging
import os
import random
import re
import signal
import time
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any

from telegram import (
    ForceReply,
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    InputFile,
    ReplyParameters,
)
from telegram.constants import ParseMode
from telegram.error import (
    BadRequest,
    ChatMigrated,
    Forbidden,
    InvalidToken,
    NetworkError,
    RetryAfter,
    TelegramError,
    TimedOut,
)
from telegram.ext import ExtBot

from bot.services.errors import DatabaseError
from bot.services.posts import split_text
from bot.services.schedule import quiet_until
from bot.services.values import Button, OutboxItem, OutgoingMessage

if TYPE_CHECKING:
    from bot.services.bootstrap import Services

log = logging.getLogger(__name__)

MESSAGE_LIMIT = 4096
CAPTION_LIMIT = 1024
# Wait long for Telegram's answer to a send: a slow answer taken for a failure would send the
# message twice (a timed-out send may well have arrived).
SEND_TIMEOUT_S = 30.0


def markup(
    rows: tuple[tuple[Button, ...], ...] | list[list[Button]],
) -> InlineKeyboardMarkup | None:
    """Turn plain buttons into an inline keyboard."""
    keyboard = [
        [InlineKeyboardButton(b.text, callback_data=b.data) for b in row] for row in rows if row
    ]
    return InlineKeyboardMarkup(keyboard) if keyboard else None


def keyboard_kwargs(
    rows: tuple[tuple[Button, ...], ...] | list[list[Button]],
) -> dict[str, Any] | None:
    """The inline keyboard as the Bot API's JSON, to pass as `api_kwargs`.

    The same JSON `markup` gives once python-telegram-bot has serialised it, without building
    (and freezing) a button object per button first: a question with a dozen buttons cost more
    there than the rest of its delivery.
    """
    keyboard = [[{"text": b.text, "callback_data": b.data} for b in row] for row in rows if row]
    return {"reply_markup": {"inline_keyboard": keyboard}} if keyboard else None


class Unreachable(Exception):
    """The person cannot be messaged: Telegram said 403 (never opened the bot, or blocked it)."""


@dataclass(frozen=True, slots=True)
class Sent:
    """A queued message: its chat and its id (negative: a placeholder until it is delivered)."""

    chat_id: int
    message_id: int


# ── the bot's outbox, reached from a bot object ─────────────────────────────────────────────────

_BOUND: dict[int, OutboxSender] = {}


def bind(sender: OutboxSender) -> None:
    """Let `edit` and `drain_outbox` find the outbox of this bot (done once in post_init)."""
    _BOUND[id(sender.bot)] = sender


def unbind(sender: OutboxSender) -> None:
    """Forget a stopped bot's sender."""
    _BOUND.pop(id(sender.bot), None)


def sender_of(bot: ExtBot[None]) -> OutboxSender:
    """Return the sender bound to a bot."""
    sender = _BOUND.get(id(bot))
    if sender is None:
        raise RuntimeError("GridBot is not started: no outbox sender for this bot")
    return sender


# ── effect keys: what caused a message, so a replay cannot queue it twice ──────────────────────


@dataclass
class _Scope:
    prefix: str
    count: int = 0


_scope: contextvars.ContextVar[_Scope | None] = contextvars.ContextVar(
    "effect_scope", default=None
)


@contextlib.contextmanager
def effect_scope(prefix: str) -> Iterator[None]:
    """Key every message queued in the block by its cause (`upd:<update_id>:<n>`)."""
    token = _scope.set(_Scope(prefix))
    try:
        yield
    finally:
        _scope.reset(token)


def _next_key() -> str | None:
    scope = _scope.get()
    if scope is None:
        return None
    scope.count += 1
    return f"{scope.prefix}:{scope.count}"


# ── crash points (tests kill the real process at named points) ────────────────────────────────

_crash_counts: dict[str, int] = {}


def crash_point(name: str) -> None:
    """Kill this process (SIGKILL) when GRIDBOT_CRASH_AT names this point ("send:2": 2nd time).

    With GRIDBOT_CRASH_ARM (a file path), points count only while that file exists, so a test
    can choose the very step at which the process dies.
    """
    wanted = os.environ.get("GRIDBOT_CRASH_AT")
    if not wanted:
        return
    arm = os.environ.get("GRIDBOT_CRASH_ARM")
    if arm and not os.path.exists(arm):
        return
    point, _, nth = wanted.partition(":")
    if point != name:
        return
    _crash_counts[name] = _crash_counts.get(name, 0) + 1
    if _crash_counts[name] >= int(nth or 1):
        os.kill(os.getpid(), signal.SIGKILL)


# ── fitting texts to Telegram's limits ────────────────────────────────────────────────────────

_TAG = re.compile(r"<(/?)([a-zA-Z][a-zA-Z0-9-]*)[^>]*>")


def fit_html(text: str, limit: int) -> str:
    """Shorten HTML to `limit` characters without cutting a tag or an entity; close open tags."""
    if len(text) <= limit:
        return text
    budget = limit - 1
    while budget > 0:
        cut = text[:budget]
        lt, gt = cut.rfind("<"), cut.rfind(">")
        if lt > gt:  # inside a tag
            cut = cut[:lt]
        amp, semi = cut.rfind("&"), cut.rfind(";")
        if amp > semi:  # inside an entity such as &amp;
            cut = cut[:amp]
        stack: list[str] = []
        for match in _TAG.finditer(cut):
            name = match.group(2).lower()
            if match.group(1):
                if name in stack:
                    del stack[len(stack) - 1 - stack[::-1].index(name)]
            elif not match.group(0).endswith("/>"):
                stack.append(name)
        closing = "".join(f"</{name}>" for name in reversed(stack))
        result = f"{cut}…{closing}"
        if len(result) <= limit:
            return result
        budget -= len(result) - limit
    return "…"


def fit_plain(text: str, limit: int) -> str:
    """Shorten plain text to `limit` characters."""
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _fitted(text: str, *, html: bool, caption: bool) -> str:
    limit = CAPTION_LIMIT if caption else MESSAGE_LIMIT
    if html:
        return fit_html(text, limit)
    return fit_plain(text, limit) if caption else text  # long plain texts are split when sent


# ── queueing ────────────────────────────────────────────────────────────────────────────────


async def send(
    bot: ExtBot[None],
    services: Services,
    chat_id: int,
    text: str,
    *,
    buttons: tuple[tuple[Button, ...], ...] | list[list[Button]] = (),
    reply_to: int | None = None,
    html: bool = False,
    photo: str | bytes | None = None,
    video: str | None = None,
    document: tuple[bytes, str] | None = None,
    force_reply: bool = False,
    after: int | None = None,
    key: str | None = None,
    purpose: str = "",
    extra: dict[str, Any] | None = None,
) -> Sent:
    """Queue a message (split at 4096 when sent), a photo or a file (its bytes and name).

    Raise Unreachable after a 403.

    `after` is the placeholder of a message in another chat that must be settled first (the
    reporter's reply waits for the worker's card, so it names who really has the ticket).
    """
    chat_id = await services.state.resolve_chat(chat_id)
    if chat_id > 0 and not await services.state.is_reachable(chat_id):
        raise Unreachable(chat_id)
    has_caption = photo is not None or document is not None
    details = dict(extra or {})
    if video is not None:
        details["video_id"] = video
    if force_reply:
        details["force_reply"] = True
    if after is not None and after < 0:
        details["after"] = -after
    message = OutgoingMessage(
        text=_fitted(text, html=html, caption=has_caption),
        buttons=tuple(tuple(row) for row in buttons if row),
        reply_to_message_id=reply_to,
        photo_png=photo if isinstance(photo, bytes) else None,
        private=chat_id > 0,
        purpose=purpose,
        extra=details,
        html=html,
        photo_id=photo if isinstance(photo, str) else None,
        document=document[0] if document is not None else None,
        filename=document[1] if document is not None else None,
    )
    return Sent(chat_id, -await _queue(services, chat_id, message, key))


async def edit(
    bot: ExtBot[None],
    chat_id: int,
    message_id: int,
    text: str,
    *,
    buttons: tuple[tuple[Button, ...], ...] | list[list[Button]] = (),
    html: bool = False,
    caption: bool = False,
    purpose: str = "",
) -> None:
    """Queue a new text (or caption) and buttons for a message the bot sent."""
    sender = sender_of(bot)
    message = OutgoingMessage(
        text=_fitted(text, html=html, caption=caption),
        buttons=tuple(tuple(row) for row in buttons if row),
        kind="edit",
        message_id=message_id,
        html=html,
        caption=caption,
        private=chat_id > 0,
        purpose=purpose,
    )
    await _queue(sender.services, chat_id, message, None)


async def _queue(
    services: Services, chat_id: int, message: OutgoingMessage, key: str | None
) -> int:
    key = key or _next_key()
    row_id = await services.outbox.enqueue(chat_id, message, services.clock.now(), dedup_key=key)
    if row_id is None:  # queued before under the same effect key
        assert key is not None
        existing = await services.outbox.id_of_key(key)
        assert existing is not None
        row_id = existing
    return row_id


async def drain_outbox(bot: ExtBot[None], services: Services, limit: int = 200) -> int:
    """Deliver what is due now and wait until the sender is idle; return how many were sent."""
    sender = sender_of(bot)
    before = sender.delivered
    sender.wake()
    if services.db.in_transaction:
        return 0  # inside an update: its messages go out once it commits
    await sender.idle()
    return sender.delivered - before


# ── delivery ────────────────────────────────────────────────────────────────────────────────

UnreachableHook = Callable[[ExtBot[None], "Services", OutboxItem], Awaitable[None]]
# (effect key, purpose, reason, the community that queued the message or None)
AdminNotice = Callable[[str, str, str, str | None], Awaitable[None]]

# What to do when Telegram says 403 to a message of a given purpose (e.g. a worker's card: the
# fallback worker takes the ticket). Registered by the feature that sends such messages.
UNREACHABLE_HOOKS: dict[str, UnreachableHook] = {}


class _TargetLost(Exception):
    """An edit or reply points at a message that was never delivered."""


@dataclass(frozen=True, slots=True)
class SenderSettings:
    retry_for_s: float = 6 * 3600.0  # keep trying a transient failure this long
    backoff_base_s: float = 0.5
    backoff_cap_s: float = 300.0
    poll_every_s: float = 1.0  # look for messages that became due (quiet hours, other writers)


class OutboxSender:
    """Deliver the outbox: one ordered queue per chat, chats independent."""

    def __init__(
        self,
        bot: ExtBot[None],
        services: Services,
        settings: SenderSettings | None = None,
        *,
        tell_admins: AdminNotice | None = None,
        rng: Callable[[], float] = random.random,
        owner: Callable[[OutboxItem], Services] | None = None,
    ) -> None:
        self.bot = bot
        self.services = services
        # The community whose rules follow from a message's fate (a card refused: its fallback
        # worker); `services` when the deployment has one community.
        self.owner = owner or (lambda _item: services)
        self.settings = settings or SenderSettings()
        self.tell_admins = tell_admins
        self._rng = rng
        self._wake = asyncio.Event()
        self._look_all = True
        self._hints: set[int] = set()
        self._again: set[int] = set()
        self._progress = asyncio.Event()
        self._chats: dict[int, asyncio.Task[None]] = {}
        self._dispatcher: asyncio.Task[None] | None = None
        self.delivered = 0
        self.failed = 0

    def start(self) -> None:
        """Start delivering."""
        bind(self)
        self.services.outbox.queued = self.wake
        if self._dispatcher is None:
            self._dispatcher = asyncio.create_task(self._dispatch(), name="gridbot-sender")
        self.wake()

    async def stop(self) -> None:
        """Stop delivering; what is not sent stays in the outbox for the next start."""
        tasks = [t for t in (self._dispatcher, *self._chats.values()) if t is not None]
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        self._dispatcher = None
        self._chats.clear()
        unbind(self)
        if self.services.outbox.queued == self.wake:
            self.services.outbox.queued = None

    def wake(self, chat_id: int | None = None) -> None:
        """Look for due messages now: in one chat (a message was queued there), or in all."""
        if chat_id is None:
            self._look_all = True
        else:
            self._hints.add(chat_id)
        self._wake.set()

    @property
    def busy_chats(self) -> frozenset[int]:
        """The chats whose queue is being delivered."""
        return frozenset(self._chats)

    async def idle(self) -> None:
        """Wait until nothing due is left to deliver (at once when the sender is stopped)."""
        while self._dispatcher is not None:
            changed = self._progress
            if not self._chats:
                try:
                    due = await self.services.outbox.chats_due(self.services.clock.now())
                except DatabaseError:
                    due = [0]
                if not due:
                    return
                self.wake()
            await _wait(changed, 0.05)

    async def _dispatch(self) -> None:
        while True:
            woken = await _wait(self._wake, self.settings.poll_every_s)
            self._wake.clear()
            chats, self._hints = self._hints, set()
            if self._look_all or not woken:  # asked to, or the periodic look (quiet hours …)
                self._look_all = False
                try:
                    chats.update(await self.services.outbox.chats_due(self.services.clock.now()))
                except DatabaseError as exc:
                    log.warning("outbox unreadable (%s); retrying", type(exc).__name__)
                    await asyncio.sleep(self.settings.poll_every_s)
                    continue
            for chat_id in chats:
                if chat_id in self._chats:
                    self._again.add(chat_id)  # it may be just finishing: look once more
                else:
                    self._spawn(chat_id)

    def _spawn(self, chat_id: int) -> None:
        self._chats[chat_id] = asyncio.create_task(
            self._chat_loop(chat_id), name=f"gridbot-send:{chat_id}"
        )

    async def _chat_loop(self, chat_id: int) -> None:
        pause = self.settings.backoff_base_s
        try:
            while True:
                try:
                    item = await self.services.outbox.next_for_chat(
                        chat_id, self.services.clock.now()
                    )
                    if item is None:
                        return
                    crash_point("taken")  # marked in flight, Telegram not called yet
                    self._again.discard(chat_id)
                    await self.deliver(item)
                    self._settle()
                    pause = self.settings.backoff_base_s
                except DatabaseError as exc:
                    # The outbox could not be read or settled (locked, full disk): try again.
                    log.warning("chat %s: outbox not writable (%s); retrying", chat_id, exc)
                    await asyncio.sleep(pause)
                    pause = min(pause * 2, 60.0)
        finally:
            if self._chats.get(chat_id) is asyncio.current_task():
                del self._chats[chat_id]
                if chat_id in self._again:
                    self._again.discard(chat_id)
                    self.wake(chat_id)
            self._settle()

    def _backoff(self, attempt: int) -> float:
        base = min(self.settings.backoff_cap_s, self.settings.backoff_base_s * 2.0**attempt)
        return float(base * (0.5 + self._rng()))

    async def deliver(self, item: OutboxItem) -> None:
        """Deliver one row, retrying transient failures; settle it as sent or failed."""
        outbox = self.services.outbox
        after = item.message.extra.get("after")
        if isinstance(after, int) and await self._settled(after):
            mine = await outbox.delivered_id(item.id)
            if mine is None or mine[0] != "pending":
                return  # superseded while it waited
        chat_id = item.chat_id
        resent = item.in_flight  # a crash interrupted an earlier attempt: it may have arrived
        replaced: int | None = None  # a card sent afresh: the id of the one it replaces
        deadline = time.monotonic() + self.settings.retry_for_s
        attempt = 0
        while True:
            wait: float
            try:
                if attempt or chat_id != item.chat_id:  # the first was marked when taken
                    await outbox.start_attempt(item.id, self.services.clock.now(), resent=resent)
                message_id = await self._call(chat_id, item)
                crash_point("send")
                await outbox.mark_sent(
                    item.id,
                    self.services.clock.now(),
                    message_id,
                    replaces_card=None if replaced is None else (chat_id, replaced),
                )
                self.delivered += 1
                return
            except RetryAfter as exc:
                wait, reason = _seconds(exc.retry_after), "429 retry after"
            except ChatMigrated as exc:
                new_id = int(exc.new_chat_id)
                await self.owner(item).state.migrate_chat(chat_id, new_id)
                await outbox.retarget(chat_id, new_id)
                log.info("chat %s became %s; following it", chat_id, new_id)
                chat_id = new_id
                continue
            except Forbidden as exc:
                await self._unreachable(chat_id, item, str(exc))
                return
            except BadRequest as exc:
                if "not modified" in str(exc).lower():
                    await outbox.mark_sent(item.id, self.services.clock.now(), None)
                    return
                if _gone(exc) and item.message.purpose == CARD and item.message.kind == "edit":
                    # The worker deleted the card (or cleared the chat): a fresh one, and the
                    # ticket's card is that one from now on.
                    replaced = await self._resolve(item.message.message_id)
                    fresh = replace(item.message, kind="send", message_id=None, caption=False)
                    item = replace(item, message=fresh)
                    continue
                await self._refused(item, f"400 {exc}")
                return
            except _TargetLost:
                await outbox.give_up(item.id, "the message to change was never delivered")
                self.failed += 1
                return
            except TimedOut:
                # Telegram may have taken it: a repeat is possible, and a repeated card is
                # made harmless when its old copy is pressed (see duplicate_press).
                resent = True
                wait, reason = self._backoff(attempt), "timed out"
            except InvalidToken:
                raise
            except NetworkError as exc:  # 5xx, connection errors (after BadRequest/TimedOut)
                wait, reason = self._backoff(attempt), f"network: {exc}"
            except TelegramError as exc:
                await self._refused(item, f"{type(exc).__name__}: {exc}")
                return
            attempt += 1
            if time.monotonic() + wait > deadline:
                await outbox.give_up(item.id, f"gave up after {attempt} tries: {reason}")
                self.failed += 1
                log.error("outbox %s to chat %s: gave up (%s)", item.id, chat_id, reason)
                return
            await outbox.note_retry(item.id, reason)
            log.info("outbox %s: %s; retrying in %.1f s", item.id, reason, wait)
            await asyncio.sleep(wait)

    async def _settled(self, item_id: int) -> bool:
        """Wait until another chat's message is sent or given up; tell whether it waited."""
        waited = False
        while True:
            progress = self._progress
            found = await self.services.outbox.delivered_id(item_id)
            if found is None or found[0] != "pending":
                return waited
            waited = True
            await _wait(progress, self.settings.poll_every_s)  # settled by another chat's task

    def _settle(self) -> None:
        """Tell whoever waits for a message of another chat that one was settled."""
        self._progress.set()
        self._progress = asyncio.Event()

    async def _resolve(self, message_id: int | None) -> int | None:
        if message_id is None or message_id > 0:
            return message_id
        found = await self.services.outbox.delivered_id(-message_id)
        if found is None or found[1] is None:
            return None
        return found[1]

    async def _call(self, chat_id: int, item: OutboxItem) -> int | None:
        m = item.message
        keyboard = keyboard_kwargs(m.buttons)
        parse_mode = ParseMode.HTML if m.html else None
        if m.kind in ("edit", "markup"):
            target = await self._resolve(m.message_id)
            if target is None:
                raise _TargetLost
            if m.kind == "markup":
                await self.bot.edit_message_reply_markup(
                    chat_id=chat_id, message_id=target, api_kwargs=keyboard
                )
            elif m.caption:
                await self.bot.edit_message_caption(
                    chat_id=chat_id,
                    message_id=target,
                    caption=m.text,
                    parse_mode=parse_mode,
                    api_kwargs=keyboard,
                )
            else:
                await self.bot.edit_message_text(
                    m.text,
                    chat_id=chat_id,
                    message_id=target,
                    parse_mode=parse_mode,
                    api_kwargs=keyboard,
                )
            return target
        reply = _reply(await self._resolve(m.reply_to_message_id))
        silent = self._silent(item)
        video = m.extra.get("video_id")
        if video:
            # Short plain words without buttons go as the video's caption; a card with buttons
            # follows it as a message of its own (its text is edited later, never a caption).
            own_caption = not m.buttons and not m.html and len(m.text) <= CAPTION_LIMIT
            sent = await self.bot.send_video(
                chat_id,
                str(video),
                caption=(m.text or None) if own_caption else None,
                reply_parameters=reply,
                disable_notification=silent,
                read_timeout=SEND_TIMEOUT_S,
                write_timeout=SEND_TIMEOUT_S,
            )
            if own_caption:
                return int(sent.message_id)
        photo = m.photo_id or m.photo_png
        if photo is not None:
            sent = await self.bot.send_photo(
                chat_id,
                photo,
                caption=m.text or None,
                parse_mode=parse_mode,
                reply_parameters=reply,
                disable_notification=silent,
                read_timeout=SEND_TIMEOUT_S,
                write_timeout=SEND_TIMEOUT_S,
                api_kwargs=keyboard,
            )
            return int(sent.message_id)
        if m.document is not None:
            sent = await self.bot.send_document(
                chat_id,
                InputFile(m.document, filename=m.filename or "file"),
                caption=m.text or None,
                parse_mode=parse_mode,
                reply_parameters=reply,
                disable_notification=silent,
                read_timeout=SEND_TIMEOUT_S,
                write_timeout=SEND_TIMEOUT_S,
                api_kwargs=keyboard,
            )
            return int(sent.message_id)
        force_reply = ForceReply(selective=True) if m.extra.get("force_reply") else None
        if force_reply is not None:
            keyboard = None
        parts = [m.text] if m.html else split_text(m.text if m.text.strip() else "…")
        message_id: int | None = None
        for index, part in enumerate(parts):
            last = index == len(parts) - 1
            sent = await self.bot.send_message(
                chat_id,
                part,
                parse_mode=parse_mode,
                reply_markup=force_reply if last else None,
                reply_parameters=reply if index == 0 else None,
                disable_notification=silent,
                read_timeout=SEND_TIMEOUT_S,
                write_timeout=SEND_TIMEOUT_S,
                api_kwargs=keyboard if last else None,
            )
            message_id = int(sent.message_id)
        return message_id

    def _silent(self, item: OutboxItem) -> bool:
        """Deliver without a sound during the community's quiet hours (夜间免打扰), unless it
        is about an urgent matter: a broken light's card waits silently for the morning, a
        fire's rings."""
        if item.message.extra.get("urgent"):
            return False
        services = self.owner(item)
        now = services.clock.now()
        quiet = services.schedule.config.defaults.quiet_hours
        return quiet_until(now, quiet, services.tz) > now

    async def _unreachable(self, chat_id: int, item: OutboxItem, reason: str) -> None:
        log.warning(
            "outbox %s: chat %s cannot be reached (%s)", item.id, chat_id, item.message.purpose
        )
        if chat_id > 0:
            await self.services.state.mark_unreachable(chat_id)
        hook = UNREACHABLE_HOOKS.get(item.message.purpose)
        if hook is not None:  # before the row is settled: what waits for it sees the new plan
            await hook(self.bot, self.owner(item), item)
        await self.services.outbox.give_up(item.id, f"403 {reason}")
        self.failed += 1
        self.wake()

    async def _refused(self, item: OutboxItem, reason: str) -> None:
        await self.services.outbox.give_up(item.id, reason)
        self.failed += 1
        log.warning("outbox %s refused by Telegram: %s", item.id, reason[:200])
        if self.tell_admins is not None and item.message.purpose != "delivery_failed":
            await self.tell_admins(
                f"refused:{item.id}", item.message.purpose, reason, item.community
            )
            self.wake()


CARD = "card"  # the purpose of a ticket card's redraw: sent afresh when the card is gone


def _gone(error: BadRequest) -> bool:
    """Whether Telegram refused an edit because the message is no longer there."""
    return "message to edit not found" in error.message.lower()


async def _wait(event: asyncio.Event, seconds: float) -> bool:
    """Wait for an event at most `seconds`; tell whether it was set.

    asyncio.timeout, not wait_for: on Python 3.11 wait_for can swallow a cancellation that
    arrives as the event is set, and the sender's stop() would then wait forever.
    """
    with contextlib.suppress(TimeoutError):
        async with asyncio.timeout(seconds):
            await event.wait()
    return event.is_set()


def _reply(message_id: int | None) -> ReplyParameters | None:
    if not message_id:
        return None
    return ReplyParameters(message_id, allow_sending_without_reply=True)


def _seconds(value: object) -> float:
    total = getattr(value, "total_seconds", None)
    seconds: float = float(total()) if callable(total) else float(value)  # type: ignore[arg-type]
    return seconds


async def duplicate_press(bot: ExtBot[None], chat_id: int, message_id: int, data: str) -> bool:
    """Tell whether a pressed button sits on an older copy of a message sent again after a crash.

    Such a copy is made harmless at the press: its buttons are taken away and it points to the
    live message. A message the outbox recorded is live, even when its buttons are the same as
    a resent one's (a second rating request for a reopened ticket).
    """
    sender = _BOUND.get(id(bot))
    if sender is None:
        return False
    outbox = sender.services.outbox
    for live_id, message in await outbox.resent_with_buttons(chat_id):
        if live_id == message_id:
            continue
        if any(b.data == data for row in message.buttons for b in row):
            if await outbox.knows_message(chat_id, message_id):
                return False
            with contextlib.suppress(TelegramError):
                await bot.edit_message_reply_markup(
                    chat_id=chat_id, message_id=message_id, reply_markup=None
                )
            return True
    return False
