"""`gridbot audit`: the append-only log of staff actions, newest first."""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
from typing import Any, TextIO
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from bot import texts
from bot.settings import DEFAULT_DB_PATH
from storage import open_database
from storage.db import DatabaseError
from storage.privacy import AuditRepository
from storage.store import Store


def add_parser(sub: Any) -> None:
    """Register the `audit` sub-command."""
    parser: argparse.ArgumentParser = sub.add_parser(
        "audit",
        help="管理操作记录（绑定、加减分、转派、不予受理、审核、设置、删除数据）",
        description="列出最近的管理操作记录，最新的在前。记录只增不改。",
    )
    parser.add_argument("--db", default=None, help="数据库文件（默认 $GRIDBOT_DB 或 data/）")
    parser.add_argument("--limit", type=int, default=100, help="最多列出多少条（默认 100）")
    parser.add_argument("--format", choices=("text", "jsonl"), default="text")
    parser.set_defaults(handler=main)


def _timezone() -> ZoneInfo:
    try:
        return ZoneInfo(os.environ.get("GRIDBOT_TZ", "Asia/Shanghai"))
    except (ZoneInfoNotFoundError, ValueError):
        return ZoneInfo("Asia/Shanghai")


async def show(db: Store, out: TextIO, *, limit: int, fmt: str, tz: ZoneInfo) -> int:
    """Print the newest entries; return how many."""
    entries = await AuditRepository(db).recent(limit)
    for e in entries:
        at = e.at.astimezone(tz).isoformat(timespec="seconds")
        if fmt == "jsonl":
            row = {
                "at": at,
                "actor_id": e.actor_id,
                "actor": e.actor_name,
                "action": e.action,
                "subject_id": e.subject_id,
                "target": e.target,
                "detail": e.detail,
            }
            print(json.dumps(row, ensure_ascii=False), file=out)
        else:
            actor = e.actor_name or (str(e.actor_id) if e.actor_id else texts.AUDIT_SYSTEM)
            action = texts.AUDIT_ACTIONS.get(e.action, e.action)
            print(f"{at}\t{actor}\t{action}\t{e.target}", file=out)
    return len(entries)


def main(args: argparse.Namespace) -> int:
    """Run `gridbot audit`."""
    path = args.db or os.environ.get("GRIDBOT_DB", DEFAULT_DB_PATH)

    async def run() -> int:
        db = open_database(path)
        await db.open()
        try:
            await show(db, sys.stdout, limit=max(1, args.limit), fmt=args.format, tz=_timezone())
            return 0
        finally:
            await db.close()

    try:
        return asyncio.run(run())
    except DatabaseError as exc:
        print(exc, file=sys.stderr)
        return 2
