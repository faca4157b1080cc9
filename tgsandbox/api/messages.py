"""Sending: sendMessage, sendPhoto, sendVideo, sendDocument, sendChatAction.

Text and captions go through the same checks Telegram makes: parse_mode (HTML, MarkdownV2,
Markdown) or explicit entities, length in UTF-16 code units, inline keyboards, reply targets,
and the send limits when a test switched them on.
"""

from __future__ import annotations

import copy
import re
from collections.abc import Callable
from typing import Any

from tgsandbox.markup import (
    Formatted,
    ParseError,
    auto_entities,
    parse_html,
    parse_markdown,
    utf16_len,
)
from tgsandbox.model import JSON, ChatState, bad_request
from tgsandbox.params import Params
from tgsandbox.state import World

MAX_TEXT = 4096
MAX_CAPTION = 1024
_CHAT_ACTIONS = frozenset(
    [
        "typing",
        "upload_photo",
        "record_video",
        "upload_video",
        "record_voice",
        "upload_voice",
        "upload_document",
        "choose_sticker",
        "find_location",
        "record_video_note",
        "upload_video_note",
    ]
)


async def send_message(world: World, params: Params) -> JSON:
    chat = world.target_chat(params.chat_ref())
    text, entities = formatted(world, params, "text", "entities", MAX_TEXT)
    markup = reply_markup(params)
    reply_to = _reply_target(chat, params)
    world.faults.check_rate(chat.id)
    message = world.new_message(chat, dict(world.bot_user), reply_to)
    message["text"] = text
    if entities:
        message["entities"] = entities
    if markup is not None:
        message["reply_markup"] = markup
    _note_sound(world, chat, params, message)
    return world.bot_posted(chat, message)


def _note_sound(world: World, chat: ChatState, params: Params, message: JSON) -> None:
    """Remember a message sent without a sound (disable_notification): the Message object
    does not say so, but the people on the other end notice (World.silenced)."""
    if params.flag("disable_notification"):
        world.silenced.add((chat.id, int(message["message_id"])))


async def send_photo(world: World, params: Params) -> JSON:
    chat = world.target_chat(params.chat_ref())
    upload = params.upload("photo")
    reference = params.text("photo")
    if upload is not None:
        photo = world.store_photo(upload.data)
    elif reference and reference in world.photo_sets:
        photo = copy.deepcopy(world.photo_sets[reference])
    elif reference and reference.startswith(("http://", "https://")):
        raise bad_request("failed to get HTTP URL content")
    else:
        raise bad_request("wrong file identifier/HTTP URL specified")
    return _post_media(world, chat, params, "photo", photo)


async def send_video(world: World, params: Params) -> JSON:
    chat = world.target_chat(params.chat_ref())
    upload = params.upload("video")
    reference = params.text("video")
    if upload is not None:
        video = world.store_video(
            upload.data,
            params.integer("width", 0) or 0,
            params.integer("height", 0) or 0,
            params.integer("duration", 0) or 0,
        )
    elif reference and reference in world.videos:
        video = copy.deepcopy(world.videos[reference])
    else:
        raise bad_request("wrong file identifier/HTTP URL specified")
    return _post_media(world, chat, params, "video", video)


async def send_document(world: World, params: Params) -> JSON:
    chat = world.target_chat(params.chat_ref())
    upload = params.upload("document")
    reference = params.text("document")
    if upload is not None:
        stored = world.store_file(upload.data, "documents", upload.filename, "BQACAgIAAxkBAAI")
        document: JSON = {
            "file_id": stored.file_id,
            "file_unique_id": stored.file_unique_id,
            "file_name": upload.filename,
            "mime_type": "application/octet-stream",
            "file_size": len(upload.data),
        }
    elif reference and reference in world.files:
        stored = world.files[reference]
        document = {
            "file_id": stored.file_id,
            "file_unique_id": stored.file_unique_id,
            "file_size": len(stored.data),
        }
    else:
        raise bad_request("wrong file identifier/HTTP URL specified")
    return _post_media(world, chat, params, "document", document)


async def send_chat_action(world: World, params: Params) -> bool:
    world.target_chat(params.chat_ref())
    if params.text("action") not in _CHAT_ACTIONS:
        raise bad_request("wrong parameter action in request")
    return True


def _post_media(world: World, chat: ChatState, params: Params, field: str, media: Any) -> JSON:
    """Post a photo, video or document the bot sent, with its caption and buttons."""
    text, entities = caption(world, params)
    markup = reply_markup(params)
    reply_to = _reply_target(chat, params)
    world.faults.check_rate(chat.id)
    message = world.new_message(chat, dict(world.bot_user), reply_to)
    message[field] = media
    if text:
        message["caption"] = text
    if entities:
        message["caption_entities"] = entities
    if markup is not None:
        message["reply_markup"] = markup
    _note_sound(world, chat, params, message)
    return world.bot_posted(chat, message)


# ── what sends and edits share ────────────────────────────────────────────────────────────────


def formatted(
    world: World, params: Params, text_key: str, entities_key: str, limit: int
) -> tuple[str, list[JSON]]:
    """Return a text or caption and its entities, parsed and checked as Telegram does."""
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
            parsed = parsers[parse_mode.lower()](source)
        except ParseError as error:
            raise bad_request(f"can't parse entities: {error}") from None
        text = parsed.text
        entities = [e for e in parsed.entities if world.resolve_mention(e)]
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


def caption(world: World, params: Params) -> tuple[str, list[JSON]]:
    """Return a media message's caption and its entities (empty when none was given)."""
    if params.get("caption") is None:
        return "", []
    return formatted(world, params, "caption", "caption_entities", MAX_CAPTION)


def reply_markup(params: Params) -> JSON | None:
    """Return the inline keyboard to show, checked as Telegram checks it."""
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


def _reply_target(chat: ChatState, params: Params) -> int | None:
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
