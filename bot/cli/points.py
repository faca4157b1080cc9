"""`gridbot points export|check`: the ledger as CSV, and proof that balances equal the ledger."""

from __future__ import annotations

import argparse
import asyncio
import csv
import os
import sys
from datetime import date, datetime, time
from typing import Any, TextIO
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from bot.services.clock import SystemClock
from bot.services.points import DEFAULT_POINTS_CONFIG, Mismatch, PointsService
from bot.settings import DEFAULT_DB_PATH
from storage import open_database
from storage.db import DatabaseError
from storage.points import PointsRepository, points_communities
from storage.store import Store

CSV_COLUMNS = (
    "id",
    "at",
    "user_id",
    "name",
    "delta",
    "hours",
    "kind",
    "rule",
    "reason",
    "actor_id",
    "actor_name",
    "task_id",
    "ticket_id",
    "redemption_id",
    "community",
)


def add_parser(sub: Any) -> None:
    """Register the `points` sub-command."""
    parser: argparse.ArgumentParser = sub.add_parser(
        "points",
        help="积分台账：导出与核对",
        description="导出积分台账，或核对余额与台账是否一致。",
    )
    parser.add_argument("--db", default=None, help="数据库文件（默认 $GRIDBOT_DB 或 data/）")
    actions = parser.add_subparsers(dest="points_command", metavar="ACTION", required=True)
    export = actions.add_parser("export", help="把台账导出为 CSV（写到标准输出）")
    export.add_argument("--format", choices=("csv",), default="csv")
    export.add_argument("--since", default=None, help="起始日期 YYYY-MM-DD（社区时区）")
    export.set_defaults(handler=main)
    check = actions.add_parser("check", help="核对每位居民的缓存余额是否等于台账合计")
    check.set_defaults(handler=main)


def _timezone() -> ZoneInfo:
    try:
        return ZoneInfo(os.environ.get("GRIDBOT_TZ", "Asia/Shanghai"))
    except (ZoneInfoNotFoundError, ValueError):
        return ZoneInfo("Asia/Shanghai")


def parse_since(text: str, tz: ZoneInfo) -> datetime:
    """Read YYYY-MM-DD (local midnight) or an ISO datetime; raise ValueError otherwise."""
    try:
        return datetime.combine(date.fromisoformat(text), time(0), tzinfo=tz)
    except ValueError:
        moment = datetime.fromisoformat(text)
        return moment if moment.tzinfo else moment.replace(tzinfo=tz)


async def export_csv(db: Store, out: TextIO, since: datetime | None, tz: ZoneInfo) -> int:
    """Write every community's ledger as CSV, oldest first; return the number of rows."""
    writer = csv.writer(out)
    writer.writerow(CSV_COLUMNS)
    total = 0
    for community in await points_communities(db):
        total += await _export_one(PointsRepository(db, community), writer, since, tz)
    return total


async def _export_one(
    repo: PointsRepository, writer: Any, since: datetime | None, tz: ZoneInfo
) -> int:
    names = {b.user_id: b.name for b in await repo.all_balances()}
    entries = await repo.entries(since=since)
    for e in entries:
        writer.writerow(
            (
                e.id,
                e.at.astimezone(tz).isoformat(),
                e.user_id,
                names.get(e.user_id, ""),
                e.delta,
                f"{e.hours:g}",
                e.kind,
                e.rule,
                e.reason,
                "" if e.actor_id is None else e.actor_id,
                e.actor_name,
                "" if e.task_id is None else e.task_id,
                "" if e.ticket_id is None else e.ticket_id,
                "" if e.redemption_id is None else e.redemption_id,
                repo.community,
            )
        )
    return len(entries)


async def check(db: Store, out: TextIO) -> int:
    """Print whether every cached balance equals the ledger; return the exit status."""
    problems: list[tuple[str, Mismatch]] = []
    rows = residents = 0
    for community in await points_communities(db):
        service = PointsService(db, SystemClock(), DEFAULT_POINTS_CONFIG, community)
        problems.extend((community, p) for p in await service.check_balances())
        more_rows, more_residents = await service.repo.sizes()
        rows, residents = rows + more_rows, residents + more_residents
    if not problems:
        print(f"ok: {residents} 位居民、{rows} 条台账记录，余额与台账一致", file=out)
        return 0
    for community, p in problems:
        print(
            f"MISMATCH user {p.user_id} ({community}): cached={p.cached} ledger={p.ledger}",
            file=out,
        )
    print(f"{len(problems)} 位居民的余额与台账不一致", file=out)
    return 1


def main(args: argparse.Namespace) -> int:
    """Run `points export` or `points check`."""
    tz = _timezone()
    since: datetime | None = None
    if getattr(args, "since", None):
        try:
            since = parse_since(args.since, tz)
        except ValueError:
            print(f"--since: 日期格式应为 YYYY-MM-DD，收到 {args.since!r}", file=sys.stderr)
            return 2
    path = args.db or os.environ.get("GRIDBOT_DB", DEFAULT_DB_PATH)

    async def run() -> int:
        db = open_database(path)
        await db.open()
        try:
            if args.points_command == "export":
                await export_csv(db, sys.stdout, since, tz)
                return 0
            return await check(db, sys.stdout)
        finally:
            await db.close()

    try:
        return asyncio.run(run())
    except DatabaseError as exc:
        print(exc, file=sys.stderr)
        return 2
