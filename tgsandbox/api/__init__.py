"""The Bot API methods the emulator answers, and the one path every call takes.

Each method is a function ``(world, params) -> result`` in the module of its kind:
``updates`` (getUpdates, webhook), ``messages`` (send*), ``edits`` (edit*, delete, button
answers), ``chats`` (chats and members), ``files`` (getFile), ``profile`` (getMe, commands).
``BotApi.call`` is what the HTTP layer and the offline request both use: it records the call,
applies a delay or fault a test asked for, runs the method and returns Telegram's answer
(held back, when a test asked for a late answer).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable
from typing import Any

from tgsandbox.api import chats, edits, files, messages, profile, updates
from tgsandbox.model import JSON, ApiCall, ApiError
from tgsandbox.params import Params
from tgsandbox.state import World

log = logging.getLogger(__name__)

Method = Callable[[World, Params], Awaitable[Any]]

METHODS: dict[str, Method] = {
    # the bot itself
    "getMe": profile.get_me,
    "logOut": profile.accept,
    "close": profile.accept,
    "setMyCommands": profile.set_my_commands,
    "getMyCommands": profile.get_my_commands,
    "deleteMyCommands": profile.delete_my_commands,
    "setMyDescription": profile.accept,
    "setMyShortDescription": profile.accept,
    "setChatMenuButton": profile.accept,
    # getting updates
    "getUpdates": updates.get_updates,
    "setWebhook": updates.set_webhook,
    "deleteWebhook": updates.delete_webhook,
    "getWebhookInfo": updates.get_webhook_info,
    # sending
    "sendMessage": messages.send_message,
    "sendPhoto": messages.send_photo,
    "sendVideo": messages.send_video,
    "sendDocument": messages.send_document,
    "sendChatAction": messages.send_chat_action,
    # changing what was sent, answering buttons
    "editMessageText": edits.edit_message_text,
    "editMessageCaption": edits.edit_message_caption,
    "editMessageReplyMarkup": edits.edit_message_reply_markup,
    "deleteMessage": edits.delete_message,
    "answerCallbackQuery": edits.answer_callback_query,
    # files
    "getFile": files.get_file,
    # chats and members
    "getChat": chats.get_chat,
    "getChatMember": chats.get_chat_member,
    "getChatAdministrators": chats.get_chat_administrators,
    "getChatMemberCount": chats.get_chat_member_count,
    "pinChatMessage": chats.pin_chat_message,
    "unpinChatMessage": profile.accept,
    "leaveChat": chats.leave_chat,
}
_BY_LOWER = {name.lower(): name for name in METHODS}


def canonical(method: str) -> str | None:
    """Return a method's name as the Bot API docs spell it (names are case-insensitive)."""
    return _BY_LOWER.get(method.lower())


class BotApi:
    """Answer Bot API calls against a world, as Telegram would."""

    def __init__(self, world: World) -> None:
        self.world = world

    async def call(
        self, method: str, read_params: Callable[[], Awaitable[Params]]
    ) -> tuple[int, JSON]:
        """Run one call; return the HTTP status and Telegram's JSON answer.

        The parameters are read inside the call, so a request that cannot be decoded is
        counted and answered like any other refusal.
        """
        name = canonical(method)
        if name is None:
            return 404, ApiError(404, "Not Found").payload()
        world = self.world
        world.stats.requests += 1
        world.stats.by_method[name] += 1
        try:
            params = await read_params()
            world.calls.append(ApiCall(name, params.loggable()))
            world.activity.fire()  # wait_until() may be waiting for this very call
            delay = world.faults.delay(name)
            if delay:
                # The call takes effect only after the delay: a bot killed meanwhile sent nothing.
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(world.stopping.wait(), delay)
                if world.stopping.is_set():
                    raise ApiError(502, "Bad Gateway")
            world.faults.raise_fault(name, params)
            result = await METHODS[name](world, params)
            late = world.faults.late_answer(name)
            if late:
                # Done, but the answer is held: a bot killed meanwhile never learns it was sent.
                world.faults.answers_held += 1
                world.activity.fire()
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(world.stopping.wait(), late)
        except ApiError as error:
            world.stats.errors[error.error_code] += 1
            return error.error_code, error.payload()
        except Exception as exc:  # a bug in the emulator must not look like a Telegram answer
            log.exception("emulator failed on %s", name)
            world.internal_errors.append(f"{name}: {exc!r}")
            world.stats.errors[500] += 1
            return 500, {"ok": False, "error_code": 500, "description": "Internal Server Error"}
        return 200, {"ok": True, "result": result}
