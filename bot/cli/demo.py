"""`gridbot demo`: run the emulator and the bot here, play a scene, then let the user try it."""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
from pathlib import Path
from typing import Any

DEFAULT_DEMO_DB = "data/demo.sqlite3"
LOG_LEVELS = frozenset({"DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"})
READING_PACE_S = 0.8  # pause between scene lines when a person watches in a terminal


def add_parser(sub: Any) -> None:
    """Register `gridbot demo`."""
    parser: argparse.ArgumentParser = sub.add_parser(
        "demo",
        help="本机演示：模拟 Telegram，播放示例场景，然后亲自试用",
        description=(
            "Run GridBot against a local Telegram Bot API emulator with the example community: "
            "play a short scene (residents complain, workers accept and resolve, the resident "
            "rates), printing every chat, then act as any resident or worker. "
            "Scene format: see gridbot_demo/script.py."
        ),
    )
    parser.add_argument(
        "--script", metavar="FILE", help="play this scene file instead of the default, then exit"
    )
    parser.add_argument(
        "--no-interactive", action="store_true", help="exit after the scene (no typing)"
    )
    parser.add_argument(
        "--no-scene", action="store_true", help="skip the default scene, go straight to typing"
    )
    parser.add_argument(
        "--fresh",
        action="store_true",
        help="start with a new, empty database (the default scene on the default "
        "data/demo.sqlite3 always does)",
    )
    parser.add_argument(
        "--db", metavar="PATH", help=f"database file (default: $GRIDBOT_DB or {DEFAULT_DEMO_DB})"
    )
    parser.add_argument(
        "--pace",
        type=float,
        metavar="SECONDS",
        help=f"pause between scene lines (default {READING_PACE_S} in a terminal, else 0)",
    )
    parser.set_defaults(handler=run)


def _remove_database(path: str) -> None:
    for suffix in ("", "-wal", "-shm", "-journal"):
        Path(path + suffix).unlink(missing_ok=True)


def run(args: argparse.Namespace) -> int:
    """Start the demo; one clear line and exit code 2 when it cannot start."""
    from bot.services.bootstrap import StartupConfigError
    from bot.services.community import ConfigError
    from bot.settings import DEFAULT_CONFIG_PATH, SettingsError, configure_logging
    from gridbot_demo.script import ScriptError, parse_script
    from gridbot_demo.stage import DemoOptions, run_demo
    from storage.db import DatabaseError

    db_path = args.db or os.environ.get("GRIDBOT_DB", "").strip() or DEFAULT_DEMO_DB
    config_path = Path(os.environ.get("GRIDBOT_CONFIG", "") or DEFAULT_CONFIG_PATH)
    tty_in = sys.stdin is not None and sys.stdin.isatty()
    tty_out = sys.stdout.isatty()
    try:
        if args.script:
            name = args.script
            source = Path(args.script).read_text(encoding="utf-8")
        elif args.no_scene:
            name, source = "（无场景）", ""
        else:
            from gridbot_demo.stage import default_scene

            name, source = "默认场景", default_scene()
        scene = parse_script(source)
    except OSError as exc:
        print(f"读不了场景文件 (cannot read the scene): {exc}", file=sys.stderr)
        return 2
    except ScriptError as exc:
        print(f"场景文件有误 (bad scene) {name}: {exc}", file=sys.stderr)
        return 2
    # No keyboard (CI, a pipe): play the scene and exit rather than wait for input forever.
    interactive = not args.script and not args.no_interactive and tty_in
    # The default scene tells one story from the start, so it replays on a new demo database
    # (only the demo's own default file: a --db or GRIDBOT_DB you chose is never removed).
    default_scene_run = not args.script and not args.no_scene
    fresh = args.fresh or (default_scene_run and db_path == DEFAULT_DEMO_DB)
    pace = (
        args.pace if args.pace is not None else (READING_PACE_S if tty_out and interactive else 0)
    )
    options = DemoOptions(
        db_path=db_path,
        config_path=config_path,
        scene=scene,
        scene_name=name,
        interactive=interactive,
        pace=pace,
        color=tty_out and "NO_COLOR" not in os.environ,
        timezone=os.environ.get("GRIDBOT_TZ", "Asia/Shanghai"),
        reused_database=not fresh and Path(db_path).exists(),
    )
    level = os.environ.get("GRIDBOT_LOG_LEVEL", "WARNING").strip().upper()
    configure_logging(level if level in LOG_LEVELS else "WARNING")
    if fresh:
        _remove_database(db_path)
    try:
        return asyncio.run(run_demo(options))
    except (SettingsError, ConfigError, StartupConfigError) as exc:
        print(f"配置错误 (configuration error): {exc}", file=sys.stderr)
        return 2
    except DatabaseError as exc:
        print(f"数据库错误 (database error): {exc}", file=sys.stderr)
        return 2
