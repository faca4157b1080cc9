"""`gridbot stats`: the three rates per worker, grid or community, as CSV or a table."""

from __future__ import annotations

import argparse
import asyncio
import csv
import os
import sys
import unicodedata
from collections.abc import Mapping
from dataclasses import astuple, fields
from datetime import date, datetime, time, timedelta
from typing import Any, TextIO
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from bot.services.clock import SystemClock
from bot.services.rates import GROUP_BY, GroupBy, RateRow, compute_rates, row_name
from bot.services.street import StreetConfigError, read_folder
from bot.settings import DEFAULT_DB_PATH, SettingsError, load_settings
from storage import open_database
from storage.db import DatabaseError
from storage.rates import KEY_JOIN
from storage.store import is_postgres_url

CSV_COLUMNS = tuple(f.name for f in fields(RateRow))
TABLE_HEADERS = (
    ("key", "对象"),
    ("tickets", "工单"),
    ("response_rate", "响应率"),
    ("resolution_rate", "解决率"),
    ("satisfaction_rate", "满意率"),
    ("rated", "已评价"),
    ("unrated", "未评价"),
    ("avg_accept_minutes", "平均接单(分)"),
    ("avg_resolve_hours", "平均办结(时)"),
    ("overdue", "超时"),
)


def add_parser(sub: Any) -> None:
    """Register the `stats` sub-command."""
    parser: argparse.ArgumentParser = sub.add_parser(
        "stats",
        help="三率统计：响应率、解决率、满意率",
        description="按网格员、网格或社区统计一段时间内新建工单的响应率、解决率、满意率。",
    )
    parser.add_argument("--since", required=True, help="起始日期 YYYY-MM-DD（含，社区时区）")
    parser.add_argument(
        "--until", default=None, help="截止日期 YYYY-MM-DD（不含），默认到今天为止"
    )
    parser.add_argument(
        "--by",
        choices=GROUP_BY,
        default="worker",
        help="统计维度，默认 worker；community 各社区并列，street 全街道一行",
    )
    parser.add_argument(
        "--community", default=None, help="只统计这个社区（名称）；默认数据库里的全部社区"
    )
    parser.add_argument("--format", choices=("csv", "table"), default="table")
    parser.add_argument("--db", default=None, help="数据库文件（默认 $GRIDBOT_DB 或 data/）")
    parser.add_argument(
        "--as-of", default=None, help="按此时刻判断未完成工单是否超时（ISO 时间，默认现在）"
    )
    parser.set_defaults(handler=main)


def _timezone() -> ZoneInfo:
    try:
        return ZoneInfo(os.environ.get("GRIDBOT_TZ", "Asia/Shanghai"))
    except (ZoneInfoNotFoundError, ValueError):
        return ZoneInfo("Asia/Shanghai")


def _moment(text: str, tz: ZoneInfo) -> datetime:
    try:
        return datetime.combine(date.fromisoformat(text), time(0), tzinfo=tz)
    except ValueError:
        moment = datetime.fromisoformat(text)
        return moment if moment.tzinfo else moment.replace(tzinfo=tz)


def _cell(value: object) -> str:
    if value is None:
        return ""
    if isinstance(value, float):
        return f"{value:.4f}"
    return str(value)


def write_csv(rows: list[RateRow], out: TextIO) -> None:
    """Write the rows as CSV with a header (rates as fractions, empty when undefined)."""
    writer = csv.writer(out)
    writer.writerow(CSV_COLUMNS)
    for row in rows:
        writer.writerow(_cell(v) for v in astuple(row))


def _percent(value: float | None) -> str:
    return "—" if value is None else f"{value * 100:.1f}%"


def _width(text: str) -> int:
    return sum(2 if unicodedata.east_asian_width(ch) in "WF" else 1 for ch in text)


def display_names() -> dict[str, str]:
    """Names of workers and grids from the community files, for the table (keys otherwise).

    Over a street office's folder a row's key is 社区·key, and so is its name.
    """
    try:
        settings = load_settings(require_token=False)
        street, files = read_folder(settings.config_path, known=settings.community_file)
    except (SettingsError, StreetConfigError):
        return {}
    names: dict[str, str] = {"street": street.name} if street.name else {}
    for file in files:
        for section in ("workers", "grids"):
            for table in file.config.get(section, []) or []:
                if isinstance(table, dict):
                    key = table.get("key", table.get("code"))
                    if isinstance(key, str) and isinstance(table.get("name"), str):
                        names[key] = table["name"]
                        names[f"{file.name}{KEY_JOIN}{key}"] = (
                            f"{file.name}{KEY_JOIN}{table['name']}"
                        )
    return names


def write_table(
    rows: list[RateRow],
    out: TextIO,
    names: Mapping[str, str] | None = None,
    by: GroupBy = "worker",
) -> None:
    """Write the rows as an aligned text table (workers and grids by name)."""
    names = names or {}
    lines: list[list[str]] = [[title for _, title in TABLE_HEADERS]]
    for row in rows:
        values = []
        for name, _ in TABLE_HEADERS:
            value = getattr(row, name)
            if name == "key":
                values.append(row_name(str(value), by, names))
            elif name.endswith("_rate"):
                values.append(_percent(value))
            elif isinstance(value, float):
                values.append(f"{value:.1f}")
            else:
                values.append("—" if value is None else str(value))
        lines.append(values)
    widths = [max(_width(line[i]) for line in lines) for i in range(len(TABLE_HEADERS))]
    for line in lines:
        cells = [
            cell + " " * (widths[i] - _width(cell))
            if i == 0
            else " " * (widths[i] - _width(cell)) + cell
            for i, cell in enumerate(line)
        ]
        print("  ".join(cells).rstrip(), file=out)
    if not rows:
        print("（这段时间没有工单）", file=out)


def main(args: argparse.Namespace) -> int:
    """Print the rates for the period."""
    tz = _timezone()
    try:
        since = _moment(args.since, tz)
        until = (
            _moment(args.until, tz)
            if args.until
            else datetime.combine(
                SystemClock().now().astimezone(tz).date() + timedelta(days=1), time(0), tzinfo=tz
            )
        )
        as_of = _moment(args.as_of, tz) if args.as_of else SystemClock().now()
    except ValueError as exc:
        print(f"日期格式应为 YYYY-MM-DD: {exc}", file=sys.stderr)
        return 2
    if until <= since:
        print("--until 必须晚于 --since", file=sys.stderr)
        return 2
    by: GroupBy = args.by
    path = args.db or os.environ.get("GRIDBOT_DB", DEFAULT_DB_PATH)
    if not is_postgres_url(path) and not os.path.exists(path):
        print(f"找不到数据库文件 {path}（用 --db 或 GRIDBOT_DB 指定）", file=sys.stderr)
        return 1

    async def run() -> list[RateRow]:
        db = open_database(path)
        await db.open()
        try:
            only = None if args.community is None else (args.community,)
            return await compute_rates(db, since, until, by, as_of=as_of, communities=only)
        finally:
            await db.close()

    try:
        rows = asyncio.run(run())
    except DatabaseError as exc:
        print(f"数据库错误: {exc}", file=sys.stderr)
        return 1
    if args.format == "csv":
        write_csv(rows, sys.stdout)
    else:
        write_table(rows, sys.stdout, display_names(), args.by)
    return 0
