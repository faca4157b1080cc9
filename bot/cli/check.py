"""`gridbot check`: validate the settings and the community file offline; list every problem."""

from __future__ import annotations

import argparse
import os
import sys
from datetime import datetime
from typing import Any

from bot.settings import SettingsError, load_settings


def add_parser(sub: Any) -> None:
    """Register `gridbot check`."""
    parser: argparse.ArgumentParser = sub.add_parser(
        "check",
        help="检查社区配置文件（不连网，逐条列出问题）",
        description="Validate the settings and the community file (GRIDBOT_CONFIG) offline; "
        "print every problem with its file and key; exit 1 when there is any.",
    )
    parser.add_argument(
        "config",
        nargs="?",
        help="the community file, or a street office's folder of them (default: GRIDBOT_CONFIG)",
    )
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    """Print every problem, one per line, and exit 1; or say what the file holds and exit 0."""
    from bot.cli.run import config_problems, example_problem

    env = dict(os.environ)
    if args.config:
        env["GRIDBOT_CONFIG"] = args.config
    try:
        settings = load_settings(env, require_token=False)
    except SettingsError as exc:
        print(f"配置错误 (configuration error): {exc}", file=sys.stderr)
        return 1
    problems = config_problems(settings)
    refusal = example_problem(settings, env)
    if refusal is not None:
        problems.insert(0, refusal)
    if problems:
        for line in problems:
            print(line, file=sys.stderr)
        print(f"共 {len(problems)} 处问题 ({len(problems)} problem(s))", file=sys.stderr)
        return 1
    from bot.services.street import check_folder

    _, checked_files = check_folder(
        settings.config_path, settings.timezone, known=settings.community_file
    )
    for file, checked in checked_files:
        community = checked.community
        buildings = sum(len(g.buildings) for g in community.grids)
        print(
            f"{file.path}: 检查通过 (ok) — {community.name}，"
            f"{len(community.grids)} 个网格、{buildings} 栋楼、"
            f"{len(community.workers)} 名工作人员、"
            f"{len(community.admins)} 名管理员、{len(community.groups)} 个群"
        )
        for year in checked.holidays.missing_years(datetime.now(settings.timezone)):
            print(
                f"提醒 (warning): 没有 {year} 年的节假日数据 (no holiday data for {year}); "
                f"升级 GridBot 或在 [holidays.{year}] 写明 off / work"
            )
    return 0
