"""Webhook mode: Telegram posts each update here; it is in the inbox before Telegram hears 200.

Telegram retries every delivery not answered 200, so the answer is given only after the update
is stored: a crash before the store loses nothing (Telegram sends it again), a crash after it
is healed by the start-up replay, and a redelivery is stored once (the inbox is keyed by
update_id). Processing happens after the 200, in the same InboxWorker as polling.

The server speaks plain HTTP on GRIDBOT_WEBHOOK_LISTEN:GRIDBOT_WEBHOOK_PORT; a reverse proxy
(nginx, Caddy) terminates TLS on the public GRIDBOT_WEBHOOK_URL and forwards its path unchanged.
"""

from __future__ import annotations

import asyncio
import hmac
import json
import logging
import signal

from aiohttp import web
from telegram import Update
from telegram.error import BadRequest

from bot.app import build_application, start_app, stop_app
from bot.context import GridApp
from bot.poller import InboxWorker
from bot.settings import Secret, Settings, WebhookSettings
from storage.db import DatabaseLockedError, DatabaseUnwritableError

log = logging.getLogger(__name__)

SECRET_HEADER = "X-Telegram-Bot-Api-Secret-Token"
# Telegram waits a while before retrying a 503; tell any other sender the same.
LOCKED_RETRY_AFTER_S = 5


class WebhookSetupError(Exception):
    """The webhook could not be served: the port is taken or Telegram refused the URL."""


class WebhookServer:
    """An aiohttp server that stores each posted update in the inbox, then answers 200."""

    def __init__(
        self,
        app: GridApp,
        worker: InboxWorker,
        *,
        path: str,
        secret: Secret,
        listen: str,
        port: int,
    ) -> None:
        self.app = app
        self.worker = worker
        self.path = path
        self.listen = listen
        self.port = port
        self._secret = secret
        self._runner: web.AppRunner | None = None

    async def start(self) -> None:
        """Listen on listen:port (port 0 picks a free one and sets self.port)."""
        webapp = web.Application()
        webapp.router.add_post(self.path, self._receive)
        # No access log: a line per update says nothing the inbox does not, and keeps addresses.
        self._runner = web.AppRunner(webapp, access_log=None, shutdown_timeout=5.0)
        await self._runner.setup()
        site = web.TCPSite(self._runner, self.listen, self.port)
        try:
            await site.start()
        except OSError as exc:
            await self.stop()
            raise WebhookSetupError(
                f"GRIDBOT_WEBHOOK_LISTEN/GRIDBOT_WEBHOOK_PORT: 无法监听 "
                f"{self.listen}:{self.port}: {exc.strerror or exc}"
            ) from None
        self.port = int(self._runner.addresses[0][1])

    async def stop(self) -> None:
        """Stop listening; a request being stored is allowed to finish."""
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    def _authorised(self, request: web.Request) -> web.Response | None:
        given = request.headers.get(SECRET_HEADER)
        if given is None:
            return web.Response(status=401, text="missing secret token")
        if not hmac.compare_digest(given.encode("utf-8", "replace"), self._secret.get().encode()):
            return web.Response(status=403, text="wrong secret token")
        return None

    async def _receive(self, request: web.Request) -> web.Response:
        refusal = self._authorised(request)
        if refusal is not None:
            log.warning("webhook: refused a request without the right secret token")
            return refusal
        try:
            body = json.loads(await request.text())
        except (ValueError, UnicodeDecodeError):
            return web.Response(status=400, text="body is not JSON")
        update_id = body.get("update_id") if isinstance(body, dict) else None
        if type(update_id) is not int:
            return web.Response(status=400, text="not a Telegram update")
        try:
            update = Update.de_json(body, self.app.bot)
        except (TypeError, ValueError, KeyError, AttributeError):
            log.warning("webhook: update %s does not parse as an Update", update_id)
            return web.Response(status=400, text="not a Telegram update")
        try:
            await self.worker.accept([update])
        except DatabaseUnwritableError as exc:
            # Not stored, so not confirmed: Telegram keeps it and posts it again later.
            await self.worker.storage_down.noticed(exc)
            return web.Response(
                status=503,
                text="storage unavailable",
                headers={"Retry-After": str(LOCKED_RETRY_AFTER_S)},
            )
        except DatabaseLockedError:
            # Not stored, so not confirmed: Telegram delivers it again later.
            log.warning("webhook: database locked; update %s refused with 503", update_id)
            return web.Response(
                status=503,
                text="database busy",
                headers={"Retry-After": str(LOCKED_RETRY_AFTER_S)},
            )
        return web.Response(status=200)


async def serve_webhook(
    app: GridApp,
    stop: asyncio.Event,
    *,
    port: int | None = None,
    delete_on_exit: bool = False,
) -> None:
    """Run the bot until `stop` is set: Telegram posts updates, the inbox worker handles them.

    `port` overrides the configured port (0 = a free one, for tests). On a clean stop the
    webhook stays set, so Telegram keeps updates while the bot is down, unless delete_on_exit.
    """
    settings = app.bot_data.settings
    if settings is None or settings.webhook is None:
        raise RuntimeError("webhook mode needs settings loaded with webhook=True")
    hook: WebhookSettings = settings.webhook
    await start_app(app)
    try:
        state = app.bot_data
        assert state.inbox is not None
        worker: InboxWorker
        if state.fleet is not None:  # several instances on one PostgreSQL: claim, then run
            worker = state.fleet.worker(app, state.inbox, state.clock, state.outcome)
        else:
            worker = InboxWorker(app, state.inbox, state.clock, state.outcome)
        server = WebhookServer(
            app,
            worker,
            path=hook.path,
            secret=hook.secret,
            listen=hook.listen,
            port=hook.port if port is None else port,
        )
        async with worker.running():
            await server.start()
            try:
                state.webhook = server
                try:
                    await app.bot.set_webhook(
                        hook.url,
                        secret_token=hook.secret.get(),
                        allowed_updates=Update.ALL_TYPES,
                        drop_pending_updates=False,
                    )
                except BadRequest as exc:
                    raise WebhookSetupError(
                        f"GRIDBOT_WEBHOOK_URL: Telegram 拒绝了 setWebhook: {exc.message}"
                    ) from None
                log.info(
                    "GridBot @%s takes webhooks on %s:%d%s",
                    state.bot_username,
                    server.listen,
                    server.port,
                    server.path,
                )
                await stop.wait()
            finally:
                state.webhook = None
                await server.stop()
            await worker.drain()
        if delete_on_exit:
            await app.bot.delete_webhook(drop_pending_updates=False)
            log.info("webhook deleted; Telegram now keeps updates for polling")
    finally:
        await stop_app(app)


def run_webhook_forever(settings: Settings, *, delete_on_exit: bool = False) -> None:
    """Serve webhooks and stop cleanly on SIGINT/SIGTERM."""

    async def main() -> None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
        app = build_application(settings)
        await serve_webhook(app, stop, delete_on_exit=delete_on_exit)

    asyncio.run(main())
