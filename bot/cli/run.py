"""`gridbot run`: long polling, or with --webhook a webhook server, from the environment."""

from __future__ import annotations

import argparse
import sys
from typing import Any

from bot.settings import SettingsError, configure_logging, load_settings


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


def run(args: argparse.Namespace) -> int:
    """Load settings, fail with one clear line if wrong, then serve until stopped."""
    webhook = bool(getattr(args, "webhook", False))
    if getattr(args, "delete_webhook_on_exit", False) and not webhook:
        print("参数错误 (usage): --delete-webhook-on-exit needs --webhook", file=sys.stderr)
        return 2
    try:
        settings = load_settings(webhook=webhook)
    except SettingsError as exc:
        print(f"配置错误 (configuration error): {exc}", file=sys.stderr)
        return 2
    configure_logging(settings.log_level)
    from storage.db import DatabaseError

    try:
        if webhook:
            from bot.webhook import WebhookSetupError, run_webhook_forever

            try:
                run_webhook_forever(settings, delete_on_exit=args.delete_webhook_on_exit)
            except WebhookSetupError as exc:
                print(f"配置错误 (configuration error): {exc}", file=sys.stderr)
                return 2
        else:
            from bot.app import run_forever

            run_forever(settings)
    except DatabaseError as exc:
        print(f"数据库错误 (database error): {exc}", file=sys.stderr)
        return 2
    return 0
