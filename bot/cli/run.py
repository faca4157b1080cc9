"""`gridbot run`: long polling, or with --webhook a webhook server, from the environment.

Before it connects to Telegram it checks everything it can offline (the settings, the whole
community file, the database), so a mistake is named at once and not hidden behind a network
error. Every failure to start is one line on stderr, in Chinese with the English key, never a
traceback and never the token.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import sqlite3
import sys
from collections.abc import Mapping
from typing import Any

from bot.settings import Settings, SettingsError, configure_logging, load_settings

ALLOW_EXAMPLE_ENV = "GRIDBOT_ALLOW_EXAMPLE"
_YES = {"1", "true", "yes", "on"}


class StartupError(Exception):
    """Start-up cannot go on; str() is the one line (or one line per problem) to print."""


def add_parser(sub: Any) -> None:
    """Register `gridbot run`."""
    parser: argparse.ArgumentParser = sub.add_parser(
        "run",
        help="运行机器人（长轮询，或 --webhook）",
        description="Start GridBot with long polling, or with --webhook behind a reverse proxy.",
    )
    parser.add_argument(
        "--webhook",
        action="store_true",
        help="receive updates by webhook (GRIDBOT_WEBHOOK_URL, GRIDBOT_WEBHOOK_SECRET, "
        "GRIDBOT_WEBHOOK_LISTEN, GRIDBOT_WEBHOOK_PORT) instead of long polling",
    )
    parser.add_argument(
        "--delete-webhook-on-exit",
        action="store_true",
        help="with --webhook: delete the webhook on a clean stop (by default it stays set, "
        "so Telegram keeps updates until the bot is back)",
    )
    parser.set_defaults(handler=run)


# ── the offline checks (also used by `gridbot check`) ───────────────────────────────────────


def is_example(config: Mapping[str, Any]) -> bool:
    """Say whether the community file is the made-up example (it says `example = true`)."""
    return config.get("example") is True


def example_problem(settings: Settings, env: Mapping[str, str]) -> str | None:
    """Return the refusal line for the example community, unless GRIDBOT_ALLOW_EXAMPLE is set."""
    if env.get(ALLOW_EXAMPLE_ENV, "").strip().lower() in _YES:
        return None
    from bot.services.street import StreetConfigError, read_folder

    try:
        _, files = read_folder(settings.config_path, known=settings.community_file)
    except StreetConfigError:
        return None  # config_problems names what is wrong with the files
    example = next((f.path for f in files if is_example(f.config)), None)
    if example is None:
        return None
    return (
        f"配置错误 (GRIDBOT_CONFIG): {example} 是虚构的示例社区，不能用于真实社区；"
        f"请挂载自己的社区文件（删去其中的 example = true），"
        f"或设置 {ALLOW_EXAMPLE_ENV}=1 仅作试用 (refusing to run on the example community)"
    )


def config_problems(settings: Settings) -> list[str]:
    """Validate every community file offline (one, or a folder's); one line per problem."""
    from bot.services.street import check_folder

    problems, _ = check_folder(
        settings.config_path, settings.timezone, known=settings.community_file
    )
    return [f"配置错误 (configuration error): {line}" for line in problems]


async def _check_postgres(url: str) -> None:
    from storage.db import DatabaseFromFutureError
    from storage.pg import PgDatabase, load_pg_migrations
    from storage.store import describe

    db = PgDatabase(url)
    await db.open(migrate=False)  # DatabaseError (with no password) when it cannot connect
    try:
        version = await db.schema_version()
        head = load_pg_migrations()[-1][0]
        if version > head:
            raise DatabaseFromFutureError(
                f"数据库比程序新，请升级 GridBot (database {describe(url)} is at schema version "
                f"{version}, this GridBot knows up to {head})"
            )
    finally:
        await db.close()


async def _check_database(path: str) -> None:
    from storage.checks import probe_write
    from storage.db import Database, DatabaseError, DatabaseFromFutureError, load_migrations
    from storage.store import is_postgres_url

    if is_postgres_url(path):
        await _check_postgres(path)
        return
    db = Database(path)
    try:
        await db.open(migrate=False)
        try:
            version = await db.schema_version()
            head = load_migrations()[-1][0]
            if version > head:
                raise DatabaseFromFutureError(
                    f"数据库比程序新，请升级 GridBot (database {path} is at schema version "
                    f"{version}, this GridBot knows up to {head})"
                )
            # A read-only file or folder opens fine and fails at the first write: try one.
            await probe_write(db)
        finally:
            await db.close()
    except sqlite3.Error as exc:
        raise DatabaseError(f"无法写入数据库 (cannot write database {path}: {exc})") from None
    except OSError as exc:
        raise DatabaseError(f"无法打开数据库 (cannot open database {path}: {exc})") from None


def database_problem(path: str) -> str | None:
    """Open the database once (creating it); return the one line that says why it cannot be."""
    from storage.db import DatabaseError

    try:
        asyncio.run(_check_database(path))
    except DatabaseError as exc:
        return f"数据库错误 (GRIDBOT_DB): {exc}"
    return None


# ── failures after the checks: one line, never the token ────────────────────────────────────


def redact(text: str, settings: Settings) -> str:
    """Remove the token (and a proxy password) from a message."""
    secrets = [settings.token.get()]
    if settings.proxy is not None:
        secrets.append(settings.proxy.get())
    for secret in secrets:
        if secret:
            text = text.replace(secret, "********")
    return " ".join(text.split())  # one line


def failure_line(exc: BaseException, settings: Settings) -> str | None:
    """Return the one line for a failure to start, or None when it is not a known one."""
    from telegram.error import InvalidToken, NetworkError

    from bot.services.bootstrap import StartupConfigError
    from storage.db import DatabaseError

    if isinstance(exc, InvalidToken):
        return (
            "令牌被拒绝 (GRIDBOT_TOKEN rejected by the server: InvalidToken/Unauthorized): "
            "请在 @BotFather 核对或重新生成令牌"
        )
    if isinstance(exc, NetworkError):  # TimedOut is one
        via = "GRIDBOT_PROXY" if settings.proxy is not None else "GRIDBOT_API_BASE_URL"
        hint = (
            "请检查代理是否可用"
            if settings.proxy is not None
            else "请检查网络；中国大陆的服务器需设置 GRIDBOT_PROXY"
        )
        return redact(
            f"无法连接 Telegram (network error via {via}: {type(exc).__name__}: {exc}): {hint}",
            settings,
        )
    if isinstance(exc, DatabaseError):
        return redact(f"数据库错误 (GRIDBOT_DB): {exc}", settings)
    if isinstance(exc, StartupConfigError):
        return redact(f"配置错误 (configuration error): {exc}", settings)
    return None


def run(args: argparse.Namespace) -> int:
    """Load settings, check everything offline, then serve until stopped."""
    webhook = bool(getattr(args, "webhook", False))
    if getattr(args, "delete_webhook_on_exit", False) and not webhook:
        print("参数错误 (usage): --delete-webhook-on-exit needs --webhook", file=sys.stderr)
        return 2
    try:
        settings = load_settings(webhook=webhook)
    except SettingsError as exc:
        print(f"配置错误 (configuration error): {exc}", file=sys.stderr)
        return 2
    refusal = example_problem(settings, os.environ)
    problems = [refusal] if refusal is not None else []
    problems += config_problems(settings)
    if not problems:
        db_problem = database_problem(settings.db_path)
        problems += [db_problem] if db_problem is not None else []
    if problems:
        for line in problems:
            print(line, file=sys.stderr)
        return 2
    configure_logging(settings.log_level)
    try:
        if webhook:
            from bot.webhook import WebhookSetupError, run_webhook_forever

            try:
                run_webhook_forever(settings, delete_on_exit=args.delete_webhook_on_exit)
            except WebhookSetupError as exc:
                print(redact(f"配置错误 (configuration error): {exc}", settings), file=sys.stderr)
                return 2
        else:
            from bot.app import run_forever

            run_forever(settings)
    except Exception as exc:
        known = failure_line(exc, settings)
        line = known if known is not None else ""
        if known is None:
            # A bug, not a setting: the traceback goes to the log at DEBUG, one line here.
            logging.getLogger("bot.cli.run").debug("start-up failed", exc_info=exc)
            line = redact(f"启动失败 (unexpected error: {type(exc).__name__}: {exc})", settings)
        print(line, file=sys.stderr)
        return 2
    return 0
