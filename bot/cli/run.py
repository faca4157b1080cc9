"""`gridbot run`: start long polling with the settings from the environment."""

from __future__ import annotations

import argparse
import sys
from typing import Any

from bot.settings import SettingsError, configure_logging, load_settings


def add_parser(sub: Any) -> None:
    """Register `gridbot run`."""
    parser: argparse.ArgumentParser = sub.add_parser(
        "run", help="运行机器人（长轮询）", description="Start GridBot with long polling."
    )
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    """Load settings, fail with one clear line if wrong, then serve until stopped."""
    try:
        settings = load_settings()
    except SettingsError as exc:
        print(f"配置错误 (configuration error): {exc}", file=sys.stderr)
        return 2
    configure_logging(settings.log_level)
    from bot.app import run_forever
    from storage.db import DatabaseError

    try:
        run_forever(settings)
    except DatabaseError as exc:
        print(f"数据库错误 (database error): {exc}", file=sys.stderr)
        return 2
    return 0
