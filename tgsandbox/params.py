"""Decode a Bot API request's parameters, whatever encoding the client used.

python-telegram-bot sends every value as text (form fields or multipart); other clients send
JSON. Both end up as one ``Params``: typed values and the uploaded files.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from typing import Any

from tgsandbox.model import JSON, bad_request


def _names(text: str) -> frozenset[str]:
    return frozenset(text.split())


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


@dataclass
class Upload:
    """A file sent with the request (multipart)."""

    filename: str
    data: bytes


@dataclass
class Params:
    """Decoded request parameters, whatever encoding the client used."""

    values: dict[str, Any]
    uploads: dict[str, Upload] = field(default_factory=dict)

    @classmethod
    def decoded(cls, values: dict[str, Any], uploads: dict[str, Upload] | None = None) -> Params:
        """Build from raw values: JSON, numbers and booleans sent as text become values."""
        return cls({key: decode(key, value) for key, value in values.items()}, uploads or {})

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

    def upload(self, name: str) -> Upload | None:
        """Return the file sent as `name`, directly or as ``attach://<field>``."""
        upload = self.uploads.get(name)
        reference = self.text(name)
        if upload is None and reference and reference.startswith("attach://"):
            upload = self.uploads.get(reference.removeprefix("attach://"))
        return upload

    def loggable(self) -> JSON:
        """Return the values with uploads described, not copied (for ``Emulator.calls``)."""
        shown = dict(self.values)
        for key, upload in self.uploads.items():
            shown[key] = f"<upload {upload.filename} {len(upload.data)} bytes>"
        return shown


def decode(name: str, value: Any) -> Any:
    """Turn a text value into the JSON, number or boolean the field carries."""
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
