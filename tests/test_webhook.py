"""Webhook mode: Telegram posts updates; each is stored before the 200 and processed once.

The emulator records setWebhook but does not deliver webhooks, so these tests play Telegram:
they post the updates (built from the messages people sent in the emulator) to the bot's
webhook server with the secret token, and read the bot's replies in the emulator.
"""

from __future__ import annotations

import asyncio
import contextlib
import signal
import socket
import sqlite3
import subprocess
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from bot.app import build_application
from bot.context import GridApp
from bot.services.errors import DomainError
from bot.settings import SettingsError, load_settings
from bot.webhook import SECRET_HEADER, WebhookServer, serve_webhook
from tests.botkit import (
    DUTY,
    GROUP,
    RESIDENT,
    SECRETARY,
    WORKER_LI,
    bot_env,
    gridbot_command,
    observe_errors,
    populate,
    running_bot,
    subprocess_env,
)
from tgsandbox import Emulator

SECRET = "s3cret-Token_for-the-webhook-0123456789"
PUBLIC_URL = "https://bot.example.org/telegram/hook"
LIFT = "4号楼电梯又坏了，关人了！快来人"


def webhook_env(emu: Emulator, tmp_path: Path, **extra: str) -> dict[str, str]:
    env = bot_env(emu, tmp_path)
    env.update(GRIDBOT_WEBHOOK_URL=PUBLIC_URL, GRIDBOT_WEBHOOK_SECRET=SECRET)
    env.update(extra)
    return env


def db_rows(db: Path, sql: str) -> int:
    with contextlib.closing(sqlite3.connect(db)) as conn:
        return int(conn.execute(sql).fetchone()[0])


def ticket_count(db: Path) -> int:
    return db_rows(db, "SELECT COUNT(*) FROM tickets")


def inbox_status(db: Path, update_id: int) -> str | None:
    with contextlib.closing(sqlite3.connect(db)) as conn:
        row = conn.execute("SELECT status FROM inbox WHERE update_id = ?", (update_id,)).fetchone()
    return None if row is None else str(row[0])


async def webhook_url(emu: Emulator) -> str:
    """Ask the Bot API which webhook is set, as `curl .../getWebhookInfo` would."""
    async with (
        aiohttp.ClientSession() as session,
        session.get(f"{emu.base_url}{emu.token}/getWebhookInfo") as response,
    ):
        body = await response.json()
    return str(body["result"]["url"])


class Telegram:
    """Posts updates to the bot's webhook as Telegram does, numbering them itself."""

    def __init__(self, session: aiohttp.ClientSession, url: str) -> None:
        self.session = session
        self.url = url
        self.next_id = 500_000_001

    def update(self, message: dict[str, Any]) -> dict[str, Any]:
        update = {"update_id": self.next_id, "message": message}
        self.next_id += 1
        return update

    async def post(self, body: object, secret: str | None = SECRET) -> int:
        headers = {} if secret is None else {SECRET_HEADER: secret}
        async with self.session.post(self.url, json=body, headers=headers) as response:
            return response.status


@dataclass
class WebhookBot:
    emu: Emulator
    app: GridApp
    server: WebhookServer
    telegram: Telegram
    errors: list[tuple[int | None, BaseException]] = field(default_factory=list)

    async def deliver(self, message: dict[str, Any]) -> dict[str, Any]:
        """Post the update carrying a person's message and expect the 200."""
        update = self.telegram.update(message)
        assert await self.telegram.post(update) == 200
        return update

    async def start_privates(self, *user_ids: int) -> None:
        """Have people press Start and wait for the bot's greeting."""
        for user_id in user_ids:
            before = len(self.emu.sent(user_id))
            await self.deliver(await self.emu.open_private(user_id))
            await self.emu.wait_for(user_id, after=before)


@contextlib.asynccontextmanager
async def webhook_bot(
    emu: Emulator, tmp_path: Path, *, delete_on_exit: bool = False
) -> AsyncIterator[WebhookBot]:
    """Run the real bot in webhook mode on a free port until the block ends."""
    app = build_application(load_settings(webhook_env(emu, tmp_path), webhook=True))
    errors: list[tuple[int | None, BaseException]] = []
    observe_errors(app, lambda uid, err: errors.append((uid, err)))
    stop = asyncio.Event()
    task = asyncio.create_task(serve_webhook(app, stop, port=0, delete_on_exit=delete_on_exit))
    try:
        await emu.wait_until(lambda: bool(emu.calls_to("setWebhook")) or task.done(), timeout=30)
        if task.done():
            task.result()
        server = app.bot_data.webhook
        assert server is not None
        url = f"http://127.0.0.1:{server.port}{server.path}"
        async with aiohttp.ClientSession() as session:
            bot = WebhookBot(emu, app, server, Telegram(session, url), errors)
            yield bot
            await server.worker.drain()
    finally:
        stop.set()
        await asyncio.wait_for(task, timeout=30)
    failures = [(uid, err) for uid, err in errors if not isinstance(err, DomainError)]
    if failures:
        uid, err = failures[0]
        raise AssertionError(f"handler error on update {uid}: {err!r}") from err


async def test_start_posted_to_the_webhook_is_answered(tmp_path: Path) -> None:
    async with Emulator() as emu:
        populate(emu)
        async with webhook_bot(emu, tmp_path) as bot:
            await bot.deliver(await emu.open_private(RESIDENT))
            reply = await emu.wait_for(RESIDENT)
            assert "网格助手" in reply.text and "/help" in reply.text
        hook = emu.calls_to("setWebhook")[-1]
        assert hook["url"] == PUBLIC_URL and hook["secret_token"] == SECRET
        assert "message" in hook["allowed_updates"]
        assert "callback_query" in hook["allowed_updates"]
        # A clean stop leaves the webhook set: Telegram keeps updates until the bot is back.
        assert emu.calls_to("deleteWebhook") == []


async def test_wrong_or_missing_secret_is_refused_and_nothing_stored(tmp_path: Path) -> None:
    async with Emulator() as emu:
        populate(emu)
        async with webhook_bot(emu, tmp_path) as bot:
            update = bot.telegram.update(await emu.open_private(RESIDENT))
            assert await bot.telegram.post(update, secret="not-the-secret-at-all") == 403
            assert await bot.telegram.post(update, secret=None) == 401
            assert await bot.telegram.post({"no": "update"}) == 400
            assert await bot.telegram.post("[1, 2") == 400
        db = tmp_path / "gridbot.sqlite3"
        assert db_rows(db, "SELECT COUNT(*) FROM inbox") == 0
        assert emu.sent(RESIDENT) == []


async def test_the_same_update_posted_twice_is_processed_once(tmp_path: Path) -> None:
    async with Emulator(privacy_mode=False) as emu:
        populate(emu)
        async with webhook_bot(emu, tmp_path) as bot:
            await bot.start_privates(WORKER_LI, DUTY, SECRETARY)
            update = await bot.deliver(await emu.send_text(GROUP, RESIDENT, LIFT))
            # Telegram delivers at least once: the same update again, and at the same time.
            statuses = await asyncio.gather(*(bot.telegram.post(update) for _ in range(3)))
            assert statuses == [200, 200, 200]
            await emu.wait_for(GROUP, lambda m: "#1" in m.text, timeout=30)
            await emu.wait_for(WORKER_LI, lambda m: "工单 #1" in m.text, timeout=30)
            await bot.server.worker.drain()
        db = tmp_path / "gridbot.sqlite3"
        assert ticket_count(db) == 1
        assert len([m for m in emu.sent(WORKER_LI) if "工单 #1" in m.text]) == 1
        assert len([m for m in emu.sent(GROUP) if "#1" in m.text]) == 1


async def test_polling_after_webhook_mode_takes_the_updates_back(tmp_path: Path) -> None:
    async with Emulator() as emu:
        populate(emu)
        async with webhook_bot(emu, tmp_path):
            pass
        assert await webhook_url(emu) == PUBLIC_URL
        async with running_bot(emu, tmp_path):
            await emu.open_private(RESIDENT)
            assert "网格助手" in (await emu.wait_for(RESIDENT)).text
        assert await webhook_url(emu) == ""


async def test_delete_on_exit_removes_the_webhook_on_a_clean_stop(tmp_path: Path) -> None:
    async with Emulator() as emu:
        populate(emu)
        async with webhook_bot(emu, tmp_path, delete_on_exit=True):
            assert await webhook_url(emu) == PUBLIC_URL
        assert await webhook_url(emu) == ""


async def test_a_locked_database_answers_503_and_the_retry_is_processed(tmp_path: Path) -> None:
    async with Emulator() as emu:
        populate(emu)
        async with webhook_bot(emu, tmp_path) as bot:
            # Another process (a backup, `gridbot points`) holds the write lock past busy_timeout.
            await bot.app.bot_data.require_db().execute("PRAGMA busy_timeout = 50")
            update = bot.telegram.update(await emu.open_private(RESIDENT))
            with contextlib.closing(sqlite3.connect(tmp_path / "gridbot.sqlite3")) as other:
                other.execute("BEGIN IMMEDIATE")
                assert await bot.telegram.post(update) == 503
                other.rollback()
            assert inbox_status(tmp_path / "gridbot.sqlite3", update["update_id"]) is None
            # Telegram retries what was not answered 200.
            assert await bot.telegram.post(update) == 200
            reply = await emu.wait_for(RESIDENT)
            assert "网格助手" in reply.text


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


async def start_webhook_process(env: dict[str, str]) -> asyncio.subprocess.Process:
    return await asyncio.create_subprocess_exec(
        *gridbot_command(),
        "run",
        "--webhook",
        env=env,
        stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.PIPE,
    )


async def test_complaint_stored_then_sigkill_is_processed_once_after_restart(
    tmp_path: Path,
) -> None:
    async with Emulator(privacy_mode=False) as emu, aiohttp.ClientSession() as session:
        populate(emu)
        port = free_port()
        env = subprocess_env(webhook_env(emu, tmp_path, GRIDBOT_WEBHOOK_PORT=str(port)))
        db = tmp_path / "gridbot.sqlite3"
        telegram = Telegram(session, f"http://127.0.0.1:{port}/telegram/hook")

        first = await start_webhook_process(env)
        try:
            await emu.wait_until(lambda: len(emu.calls_to("setWebhook")) == 1, timeout=60)
            for user_id in (WORKER_LI, DUTY, SECRETARY):
                assert await telegram.post(telegram.update(await emu.open_private(user_id))) == 200
                await emu.wait_for(user_id)
            # Replies hang from now on: the complaint is stored and answered 200, not processed.
            emu.set_delay("sendMessage", 60)
            complaint = telegram.update(await emu.send_text(GROUP, RESIDENT, LIFT))
            assert await telegram.post(complaint) == 200
        finally:
            first.send_signal(signal.SIGKILL)
            await first.communicate()
        emu.set_delay("sendMessage", 0)
        assert [m for m in emu.sent(WORKER_LI) if "工单 #" in m.text] == []
        assert inbox_status(db, complaint["update_id"]) == "pending"

        second = await start_webhook_process(env)
        try:
            await emu.wait_for(WORKER_LI, lambda m: "工单 #1" in m.text, timeout=60)
            await emu.wait_for(GROUP, lambda m: "#1" in m.text, timeout=30)
            # Telegram may deliver it once more after the restart: still one ticket.
            assert await telegram.post(complaint) == 200
        finally:
            second.send_signal(signal.SIGTERM)
            _, stderr = await asyncio.wait_for(second.communicate(), timeout=60)
        assert second.returncode == 0, stderr.decode()
        assert SECRET not in stderr.decode()
        assert ticket_count(db) == 1
        assert len([m for m in emu.sent(WORKER_LI) if "工单 #1" in m.text]) == 1
        assert len([m for m in emu.sent(GROUP) if "#1" in m.text]) == 1
        assert inbox_status(db, complaint["update_id"]) == "done"


@pytest.mark.parametrize(
    ("key", "value", "named"),
    [
        ("GRIDBOT_WEBHOOK_URL", "", "GRIDBOT_WEBHOOK_URL"),
        ("GRIDBOT_WEBHOOK_URL", "http://bot.example.org/hook", "GRIDBOT_WEBHOOK_URL"),
        ("GRIDBOT_WEBHOOK_SECRET", "", "GRIDBOT_WEBHOOK_SECRET"),
        ("GRIDBOT_WEBHOOK_SECRET", "short", "GRIDBOT_WEBHOOK_SECRET"),
        ("GRIDBOT_WEBHOOK_SECRET", "has spaces and 中文 in it ok", "GRIDBOT_WEBHOOK_SECRET"),
        ("GRIDBOT_WEBHOOK_PORT", "http", "GRIDBOT_WEBHOOK_PORT"),
        ("GRIDBOT_WEBHOOK_PORT", "70000", "GRIDBOT_WEBHOOK_PORT"),
        ("GRIDBOT_WEBHOOK_LISTEN", " ", "GRIDBOT_WEBHOOK_LISTEN"),
    ],
)
def test_bad_webhook_settings_name_the_setting(
    tmp_path: Path, key: str, value: str, named: str
) -> None:
    env = {
        "GRIDBOT_TOKEN": "123456789:AAHdqTcvCH1vGWJxfSeofSAs0K5PALDsaw",
        "GRIDBOT_WEBHOOK_URL": PUBLIC_URL,
        "GRIDBOT_WEBHOOK_SECRET": SECRET,
        key: value,
    }
    with pytest.raises(SettingsError) as info:
        load_settings(env, webhook=True)
    message = str(info.value)
    assert message.startswith(named) and "\n" not in message
    if key == "GRIDBOT_WEBHOOK_SECRET" and value:
        assert value not in message  # even a wrong secret is never printed
    # Polling does not need any of them.
    assert load_settings(env).webhook is None


def test_webhook_defaults_listen_locally_behind_the_proxy(tmp_path: Path) -> None:
    env = {
        "GRIDBOT_TOKEN": "123456789:AAHdqTcvCH1vGWJxfSeofSAs0K5PALDsaw",
        "GRIDBOT_WEBHOOK_URL": PUBLIC_URL,
        "GRIDBOT_WEBHOOK_SECRET": SECRET,
    }
    settings = load_settings(env, webhook=True)
    assert settings.webhook is not None
    assert (settings.webhook.listen, settings.webhook.port) == ("127.0.0.1", 8443)
    assert settings.webhook.path == "/telegram/hook"
    assert SECRET not in repr(settings)


def test_run_webhook_without_a_secret_fails_with_one_line(tmp_path: Path) -> None:
    env = {
        "GRIDBOT_TOKEN": "123456789:AAHdqTcvCH1vGWJxfSeofSAs0K5PALDsaw",
        "GRIDBOT_WEBHOOK_URL": PUBLIC_URL,
        "GRIDBOT_DB": str(tmp_path / "gridbot.sqlite3"),
    }
    done = subprocess.run(
        [*gridbot_command(), "run", "--webhook"],
        env=subprocess_env(env),
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 2
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and "GRIDBOT_WEBHOOK_SECRET" in lines[0]
    assert not (tmp_path / "gridbot.sqlite3").exists()
