"""The HTTP side: aiohttp on host:port, as https://core.telegram.org/bots/api describes it.

POST or GET to ``/bot<token>/<method>`` with a JSON body, form fields or multipart data;
answers ``{"ok": true, "result": ...}`` or ``{"ok": false, "error_code": ..., "description":
..., "parameters": ...}``; files are downloaded from ``/file/bot<token>/<file_path>``.
"""

from __future__ import annotations

import json
from typing import Any

from aiohttp import web

from tgsandbox.api import BotApi
from tgsandbox.model import JSON, ApiError, bad_request
from tgsandbox.params import Params, Upload


class HttpServer:
    """Serve a BotApi over HTTP on host:port (port 0 picks a free one)."""

    def __init__(self, api: BotApi, host: str, port: int) -> None:
        self.api = api
        self.host = host
        self.port = port
        self._runner: web.AppRunner | None = None

    async def start(self) -> None:
        """Start serving; `port` then holds the port in use."""
        app = web.Application(client_max_size=50 * 1024 * 1024)
        app.router.add_route("*", "/bot{token}/{method}", self._handle_api)
        app.router.add_get("/file/bot{token}/{path:.+}", self._handle_file)
        self._runner = web.AppRunner(app, access_log=None, shutdown_timeout=1.0)
        await self._runner.setup()
        site = web.TCPSite(self._runner, self.host, self.port)
        await site.start()
        address = self._runner.addresses[0]
        self.port = int(address[1])

    async def stop(self) -> None:
        """Shut the server down."""
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    @property
    def url(self) -> str:
        """Return the server's root URL."""
        return f"http://{self.host}:{self.port}"

    async def _handle_api(self, request: web.Request) -> web.Response:
        if request.match_info["token"] != self.api.world.token:
            return _json(ApiError(401, "Unauthorized").payload(), 401)
        status, body = await self.api.call(
            request.match_info["method"], lambda: _read_params(request)
        )
        return _json(body, status)

    async def _handle_file(self, request: web.Request) -> web.Response:
        if request.match_info["token"] != self.api.world.token:
            return _json(ApiError(401, "Unauthorized").payload(), 401)
        stored = self.api.world.file_at(request.match_info["path"])
        if stored is None:
            return _json(ApiError(404, "Not Found").payload(), 404)
        return web.Response(body=stored.data, content_type="application/octet-stream")


def _json(body: JSON, status: int) -> web.Response:
    return web.Response(
        text=json.dumps(body, ensure_ascii=False),
        status=status,
        content_type="application/json",
    )


async def _read_params(request: web.Request) -> Params:
    values: dict[str, Any] = dict(request.query)
    uploads: dict[str, Upload] = {}
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
                    uploads[key] = Upload(value.filename, value.file.read())
                elif isinstance(value, bytes):
                    uploads[key] = Upload(key, value)
                else:
                    values[key] = value
    return Params.decoded(values, uploads)
