"""Changing what was sent: editMessageText/Caption/ReplyMarkup, deleteMessage, and the answer
to a button press (answerCallbackQuery)."""

from __future__ import annotations

import copy
from typing import Any

from tgsandbox.api.messages import MAX_TEXT, caption, formatted, reply_markup
from tgsandbox.model import JSON, ApiError, CallbackAnswer, ChatState, Event, bad_request
from tgsandbox.params import Params
from tgsandbox.state import World

MAX_CALLBACK_TEXT = 200


async def edit_message_text(world: World, params: Params) -> JSON:
    chat, message = _editable(world, params)
    if "text" not in message:
        raise bad_request("there is no text in the message to edit")
    text, entities = formatted(world, params, "text", "entities", MAX_TEXT)
    markup = reply_markup(params)
    if (
        text == message["text"]
        and entities == message.get("entities", [])
        and markup == message.get("reply_markup")
    ):
        raise _not_modified()
    message["text"] = text
    _set_optional(message, "entities", entities)
    _set_optional(message, "reply_markup", markup)
    return world.bot_edited(chat, message)


async def edit_message_caption(world: World, params: Params) -> JSON:
    chat, message = _editable(world, params)
    if "text" in message:
        raise bad_request("there is no caption in the message to edit")
    text, entities = caption(world, params)
    markup = reply_markup(params)
    if (
        text == message.get("caption", "")
        and entities == message.get("caption_entities", [])
        and markup == message.get("reply_markup")
    ):
        raise _not_modified()
    _set_optional(message, "caption", text)
    _set_optional(message, "caption_entities", entities)
    _set_optional(message, "reply_markup", markup)
    return world.bot_edited(chat, message)


async def edit_message_reply_markup(world: World, params: Params) -> JSON:
    chat, message = _editable(world, params)
    markup = reply_markup(params)
    if markup == message.get("reply_markup"):
        raise _not_modified()
    _set_optional(message, "reply_markup", markup)
    return world.bot_edited(chat, message)


async def delete_message(world: World, params: Params) -> bool:
    chat = world.known_chat(params.chat_ref())
    message_id = params.integer("message_id")
    message = chat.messages.get(message_id or 0)
    if message is None:
        raise bad_request("message to delete not found")
    own = message["from"]["id"] == world.bot_id
    if not own and chat.is_group and chat.bot_status not in ("administrator", "creator"):
        raise bad_request("message can't be deleted")
    del chat.messages[message["message_id"]]
    world.emit(Event("deleted", chat.id, copy.deepcopy(message)))
    world.activity.fire()
    return True


async def answer_callback_query(world: World, params: Params) -> bool:
    query = world.queries.get(params.text("callback_query_id") or "")
    if query is None or query.answer is not None:
        raise bad_request("query is too old and response timeout expired or query ID is invalid")
    text = params.text("text")
    if text is not None and len(text) > MAX_CALLBACK_TEXT:
        raise bad_request("MESSAGE_TOO_LONG")
    query.answer = CallbackAnswer(
        text=text or None,
        show_alert=params.flag("show_alert"),
        url=params.text("url"),
        cache_time=params.integer("cache_time", 0) or 0,
    )
    world.emit(Event("callback_answer", query.chat_id, answer=query.answer))
    world.activity.fire()
    return True


def _editable(world: World, params: Params) -> tuple[ChatState, JSON]:
    if params.get("inline_message_id") is not None:
        raise bad_request("MESSAGE_ID_INVALID")
    chat = world.known_chat(params.chat_ref())
    message = chat.messages.get(params.integer("message_id") or 0)
    if message is None:
        raise bad_request("message to edit not found")
    if message["from"]["id"] != world.bot_id:
        raise bad_request("message can't be edited")
    return chat, message


def _not_modified() -> ApiError:
    return bad_request(
        "message is not modified: specified new message content and reply markup are "
        "exactly the same as a current content and reply markup of the message"
    )


def _set_optional(message: JSON, key: str, value: Any) -> None:
    if value:
        message[key] = value
    else:
        message.pop(key, None)
