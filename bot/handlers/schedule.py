"""/schedule: an admin shows and changes a bound group's posting schedule.

The command is typed in the group it is about, but the schedule itself goes to the admin
privately: the residents' group sees one short line when something changed, nothing else.
"""

from __future__ import annotations

from datetime import time
from typing import Any

from telegram import Update
from telegram.ext import BaseHandler, CommandHandler

from bot import texts
from bot.context import GridContext
from bot.handlers.actors import actor_for, tell
from bot.handlers.replies import reply, services_of
from bot.services.errors import DomainError
from bot.services.schedule import SETTABLE, GroupSchedule

# What people type -> the setting's key in the schedule service.
KEY_ALIASES = {
    "digest": "digest",
    "daily": "digest",
    "简报": "digest",
    "每日简报": "digest",
    "weekly": "weekly",
    "周报": "weekly",
    "公示": "weekly",
    "积分公示": "weekly",
    "monthly": "monthly",
    "月报": "monthly",
    "points": "points_detail",
    "points_detail": "points_detail",
    "积分": "points_detail",
    "quiet": "quiet_hours",
    "quiet_hours": "quiet_hours",
    "免打扰": "quiet_hours",
    "reminders": "reminders",
    "提醒": "reminders",
    "活动提醒": "reminders",
    "公示明细": "points_detail",
    "明细": "points_detail",
    "月度报告": "monthly",
}
VALUE_ALIASES = {"points_detail": {"总数": "totals", "余额": "balances", "明细": "balances"}}
RESET_WORDS = ("reset", "重置", "恢复默认")


def _hhmm(at: time) -> str:
    return f"{at:%H:%M}"


def setting_text(schedule: GroupSchedule, key: str) -> str:
    """Return one setting's value in words (每天 08:30, 不发, 22:00—07:00 …)."""
    return _parts(schedule)[key]


def _parts(schedule: GroupSchedule) -> dict[str, str]:
    off = texts.SCHEDULE_OFF
    weekly = off
    if schedule.weekly is not None:
        day, at = schedule.weekly
        weekly = texts.SCHEDULE_WEEKLY.format(day=texts.SCHEDULE_WEEKDAYS[day], at=_hhmm(at))
    monthly = off
    if schedule.monthly is not None:
        mday, at = schedule.monthly
        monthly = texts.SCHEDULE_MONTHLY.format(day=mday, at=_hhmm(at))
    quiet = off
    if schedule.quiet_hours is not None:
        begin, end = schedule.quiet_hours
        quiet = texts.SCHEDULE_QUIET.format(begin=_hhmm(begin), end=_hhmm(end))
    return {
        "digest": off
        if schedule.digest is None
        else texts.SCHEDULE_DAILY.format(at=_hhmm(schedule.digest)),
        "weekly": weekly,
        "points_detail": texts.SCHEDULE_DETAIL_TOTALS
        if schedule.totals_only
        else texts.SCHEDULE_DETAIL_BALANCES,
        "monthly": monthly,
        "quiet_hours": quiet,
        "reminders": texts.SCHEDULE_ON if schedule.reminders else off,
    }


def describe(schedule: GroupSchedule, tz_name: str, title: str = "") -> str:
    """Return a group's schedule in words."""
    parts = _parts(schedule)
    return texts.SCHEDULE_SHOW.format(
        group=texts.SCHEDULE_NAMED_GROUP.format(title=title)
        if title
        else texts.SCHEDULE_THIS_GROUP,
        tz=tz_name,
        digest=parts["digest"],
        weekly=parts["weekly"],
        detail=parts["points_detail"],
        monthly=parts["monthly"],
        quiet=parts["quiet_hours"],
        reminders=parts["reminders"],
    )


async def _tell_admin(
    update: Update, context: GridContext, user_id: int, text: str, group_line: str | None
) -> None:
    """Send the schedule to the admin privately; the group hears group_line at most."""
    delivered = await tell(context, user_id, text) is not None
    if delivered:
        await reply(update, context, group_line or texts.SCHEDULE_SENT_PRIVATELY)
        return
    username = context.bot_data.bot_username
    link = f"https://t.me/{username}?start=schedule" if username else ""
    opening = texts.SCHEDULE_OPEN_BOT.format(link=link).strip()
    await reply(update, context, f"{group_line}\n{opening}" if group_line else opening)


async def schedule_command(update: Update, context: GridContext) -> None:
    """Show the group's schedule, or change one setting: /schedule digest 08:30."""
    user, chat = update.effective_user, update.effective_chat
    if user is None or chat is None:
        return
    if chat.type == "private":
        await reply(update, context, texts.SCHEDULE_ONLY_GROUP)
        return
    services = services_of(context)
    actor = await actor_for(context, user)
    if not actor.is_admin:
        raise DomainError("not_allowed")
    if await services.state.group_grids(chat.id) is None:
        await reply(update, context, texts.SCHEDULE_NOT_BOUND)
        return
    tz_name = str(services.tz.key)
    args = context.args or []
    if not args:
        shown = describe(await services.schedule.schedule_for(chat.id), tz_name, chat.title or "")
        await _tell_admin(update, context, user.id, shown, None)
        return
    if args[0].lower() in RESET_WORDS:
        schedule = await services.schedule.reset_schedule(actor, chat.id)
        changed = texts.SCHEDULE_CHANGED.format(show=describe(schedule, tz_name, chat.title or ""))
        await _tell_admin(update, context, user.id, changed, texts.SCHEDULE_RESET_GROUP)
        return
    key = KEY_ALIASES.get(args[0].lower())
    if key is None or len(args) < 2:
        known = "、".join(texts.SCHEDULE_LABELS[k] for k in SETTABLE)
        await reply(update, context, texts.SCHEDULE_USAGE.format(known=known))
        return
    value = " ".join(args[1:])
    value = VALUE_ALIASES.get(key, {}).get(value, value)
    schedule = await services.schedule.set_schedule(actor, chat.id, {key: value})
    changed = texts.SCHEDULE_CHANGED.format(show=describe(schedule, tz_name, chat.title or ""))
    group_line = texts.SCHEDULE_CHANGED_GROUP.format(
        label=texts.SCHEDULE_LABELS[key], value=setting_text(schedule, key)
    )
    await _tell_admin(update, context, user.id, changed, group_line)


def command_handlers() -> list[BaseHandler[Any, Any, Any]]:
    """The /schedule command (group 0)."""
    return [CommandHandler("schedule", schedule_command)]
