"""The emulator without HTTP: a python-telegram-bot request object answered in-process.

``OfflineRequest(emu)`` is a ``telegram.request.BaseRequest``: give it to the bot
(``ApplicationBuilder().request(...)``) and every Bot API call runs the emulator's own
methods against the same world, through the same faults — no server, no socket. Nothing
polls then: the test feeds the bot what ``take_updates`` hands out (``Application.
process_update``), and sets ``emu.catch_up`` so the people's waits let it do so first.
"""

from __future__ import annotations

import json
import re
from typing import Any
from urllib.parse import unquote

from telegram.request import BaseRequest, RequestData

from tgsandbox.emulator import Emulator
from tgsandbox.model import JSON, ApiError
from tgsandbox.params import Params, Upload

_METHOD_URL = re.compile(r"/bot([^/]+)/([A-Za-z]+)$")
_FILE_URL = re.compile(r"/file/bot([^/]+)/(.+)$")


class OfflineRequest(BaseRequest):
    """Answer the bot's Bot API calls from an Emulator in this process."""

    def __init__(self, emulator: Emulator) -> None:
        self.emulator = emulator

    async def initialize(self) -> None:
        return None

    async def shutdown(self) -> None:
        return None

    @property
    def read_timeout(self) -> float | None:
        return None

    async def do_request(
        self,
        url: str,
        method: str,
        request_data: RequestData | None = None,
        read_timeout: Any = None,
        write_timeout: Any = None,
        connect_timeout: Any = None,
        pool_timeout: Any = None,
    ) -> tuple[int, bytes]:
        """Run the call the URL names; answer as the HTTP server would."""
        world = self.emulator.world
        download = _FILE_URL.search(unquote(url))  # the file URL quotes the token's colon
        if download is not None:
            if download.group(1) != world.token:
                return _answer(401, ApiError(401, "Unauthorized").payload())
            stored = world.file_at(download.group(2))
            if stored is None:
                return _answer(404, ApiError(404, "Not Found").payload())
            return 200, stored.data
        call = _METHOD_URL.search(url)
        if call is None:
            return _answer(404, ApiError(404, "Not Found").payload())
        if call.group(1) != world.token:
            return _answer(401, ApiError(401, "Unauthorized").payload())

        async def read() -> Params:
            return _params(request_data)

        status, body = await self.emulator.api.call(call.group(2), read)
        return _answer(status, body)


def take_updates(emulator: Emulator, limit: int = 100) -> list[JSON]:
    """Hand out the waiting updates and confirm them, as one getUpdates round trip does."""
    world = emulator.world
    batch = world.batch(limit)
    if batch:
        world.confirm(max(u["update_id"] for u in batch) + 1)
    return batch


def _params(request_data: RequestData | None) -> Params:
    """The parameters as the HTTP server reads them: JSON-encoded text and uploaded files."""
    if request_data is None:
        return Params({})
    uploads: dict[str, Upload] = {}
    if request_data.contains_files:
        for name, part in request_data.multipart_data.items():
            filename, content = part[0], part[1]
            data = content if isinstance(content, bytes) else content.read()
            uploads[name] = Upload(filename or name, bytes(data))
    return Params.decoded(dict(request_data.json_parameters), uploads)


def _answer(status: int, body: JSON) -> tuple[int, bytes]:
    return status, json.dumps(body, ensure_ascii=False).encode("utf-8")
