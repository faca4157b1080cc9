"""The `gridbot` command: one sub-command per module in this package."""

from __future__ import annotations

import argparse
import importlib
import importlib.util
import os
import sys
from collections.abc import Sequence
from types import ModuleType

# Each module defines `add_parser(subparsers)` and `main(args) -> int`.
SUBCOMMANDS: tuple[str, ...] = (
    "run",
    "check",
    "health",
    "demo",
    "classify",
    "eval",
    "invite",
    "stats",
    "points",
    "audit",
    "migrate_store",
)


def _modules() -> list[ModuleType]:
    found = []
    for name in SUBCOMMANDS:
        if importlib.util.find_spec(f"bot.cli.{name}") is not None:
            found.append(importlib.import_module(f"bot.cli.{name}"))
    return found


def build_parser() -> argparse.ArgumentParser:
    """Build the argument parser with every sub-command."""
    parser = argparse.ArgumentParser(
        prog="gridbot", description="网格助手 GridBot — 社区群聊里的接诉即办机器人"
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for module in _modules():
        module.add_parser(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the gridbot command line."""
    # python-telegram-bot 22: report RetryAfter.retry_after as a timedelta (no deprecation noise).
    os.environ.setdefault("PTB_TIMEDELTA", "true")
    parser = build_parser()
    args = parser.parse_args(argv)
    handler = getattr(args, "handler", None)
    if handler is None:
        parser.print_help()
        return 2
    try:
        return int(handler(args))
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:
        sys.stderr.close()
        return 0
