"""`gridbot invite <key>`: a one-time deep link for a worker, admin, the street office or a
department to link their Telegram account."""

from __future__ import annotations

import argparse
import asyncio
import sys
from datetime import timedelta
from typing import Any

from bot import texts
from bot.services.clock import SystemClock
from bot.services.community import ConfigError, load_community
from bot.services.errors import DomainError
from bot.services.escalation import contact_names
from bot.services.people import CommunityState
from bot.services.street import StreetConfigError, read_folder
from bot.settings import SettingsError, load_settings
from storage import open_database
from storage.db import DatabaseError


def add_parser(sub: Any) -> None:
    """Register the `invite` sub-command."""
    parser: argparse.ArgumentParser = sub.add_parser(
        "invite",
        help="为网格员、管理员、街道办或职能部门生成绑定 Telegram 账号的邀请链接",
        description=(
            "为社区配置里的网格员、管理员、街道办（key 为 street）或职能部门（[[departments]] 的"
            " key）生成一次性邀请链接 t.me/<bot>?start=<code>。"
        ),
    )
    parser.add_argument(
        "worker",
        help="[[workers]]、[[admins]] 或 [[departments]] 的 key；街道办写 street",
    )
    parser.add_argument("--ttl-hours", type=int, default=72, help="有效期（小时），默认 72")
    parser.add_argument(
        "--community",
        default=None,
        help="GRIDBOT_CONFIG 是街道的文件夹时：哪个社区（名称）",
    )
    parser.add_argument("--bot-username", default=None, help="机器人用户名（不带 @）")
    parser.set_defaults(handler=main)


def main(args: argparse.Namespace) -> int:
    """Create the invitation and print the link."""
    try:
        settings = load_settings(require_token=False)
        _, files = read_folder(settings.config_path, known=settings.community_file)
        chosen = [f for f in files if args.community in (None, f.name)]
        if len(chosen) != 1:
            names = "、".join(f.name for f in files)
            print(texts.INVITE_WHICH_COMMUNITY.format(names=names), file=sys.stderr)
            return 2
        config = chosen[0].config
        community = load_community(config, str(chosen[0].path))
    except (SettingsError, ConfigError, StreetConfigError) as exc:
        print(exc, file=sys.stderr)
        return 2
    contacts = contact_names(config, community.street_office)
    person = community.worker(args.worker) or community.admin(args.worker)
    name = person.name if person is not None else contacts.get(args.worker)
    if name is None:
        keys = [w.key for w in community.workers] + [a.key for a in community.admins]
        known = "、".join(keys + [f"{key}（{label}）" for key, label in contacts.items()])
        print(texts.INVITE_UNKNOWN_KEY.format(key=args.worker, known=known), file=sys.stderr)
        return 2
    if args.ttl_hours <= 0:
        print(texts.ERRORS["invite_bad_ttl"].format(max_days=30), file=sys.stderr)
        return 2

    async def run() -> tuple[str, str | None]:
        db = open_database(settings.db_path)
        await db.open()
        try:
            state = CommunityState(db, community, SystemClock())
            state.set_contacts(contacts)
            code = await state.create_invite(args.worker, timedelta(hours=args.ttl_hours))
            return code, args.bot_username or await state.bot_username()
        finally:
            await db.close()

    try:
        code, username = asyncio.run(run())
    except DomainError as exc:
        print(texts.ERRORS[exc.code].format(**exc.params), file=sys.stderr)
        return 2
    except DatabaseError as exc:
        print(f"GRIDBOT_DB: {exc}", file=sys.stderr)
        return 1
    if username:
        link = f"https://t.me/{username.lstrip('@')}?start={code}"
        print(texts.INVITE_LINK.format(name=name, hours=args.ttl_hours, link=link))
    else:
        print(texts.INVITE_CODE_ONLY.format(name=name, hours=args.ttl_hours, code=code))
    return 0
