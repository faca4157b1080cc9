"""Tasks as typed: the one-line '/task new 标题 | 积分 | 截止 …' and the guided dialogue's answers.

Pure: text in, a TaskDraft (or a refusal) out; no Telegram, no database.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from bot import texts
from bot.services.errors import DomainError
from bot.services.tasks import MAX_TASK_POINTS

SKIP_WORDS = frozenset({"跳过", "无", "没有", "不用", "-"})
NO_DEADLINE_WORDS = frozenset({"无", "不限", "没有", "-"})
NUMBER = re.compile(r"^#?(\d{1,9})$")
_DIFFICULTY_WORDS = {
    "简单": "easy",
    "容易": "easy",
    "一般": "normal",
    "普通": "normal",
    "中等": "normal",
    "较难": "hard",
    "困难": "hard",
    "难": "hard",
}
_DATE = re.compile(
    r"^(?:(\d{4})[-/.年])?(\d{1,2})[-/.月](\d{1,2})日?(?:\s*(\d{1,2})[:：](\d{2}))?$"
)


@dataclass(frozen=True, slots=True)
class TaskDraft:
    """A task as typed: everything publish() needs."""

    title: str = ""
    points: int | None = None
    difficulty: str | None = None
    deadline: datetime | None = None
    capacity: int = 1
    audience: str = "public"
    targets: tuple[str, ...] = ()
    location: str = ""
    description: str = ""
    hours: float = 0.0


def parse_deadline(text: str, now: datetime, tz: ZoneInfo) -> datetime | None:
    """Read '11-30', '11月30日', '2026-11-30 18:00'; a date without a time means its end."""
    match = _DATE.match(text.strip())
    if not match:
        return None
    year_text, month, day, hour, minute = match.groups()
    local_now = now.astimezone(tz)
    at = time(23, 59) if hour is None else None
    try:
        if hour is not None:
            at = time(int(hour), int(minute))
        assert at is not None
        year = int(year_text) if year_text else local_now.year
        when = datetime.combine(date(year, int(month), int(day)), at, tzinfo=tz)
        if not year_text and when < local_now - timedelta(days=1):
            # '1-15' typed in December means next January.
            when = datetime.combine(date(year + 1, int(month), int(day)), at, tzinfo=tz)
    except ValueError:
        return None
    return when


def parse_points(text: str, levels: Sequence[str]) -> tuple[int | None, str | None] | None:
    """Read '10', '10分', '积分 10', 'easy' or '简单'; None when it is neither."""
    raw = text.strip().removeprefix("积分").strip().removesuffix("分").strip()
    if raw.isdigit():
        return int(raw), None
    level = _DIFFICULTY_WORDS.get(raw, raw.lower())
    if level in levels:
        return None, level
    return None


def parse_capacity(text: str) -> int | None:
    """Read '2', '名额 2', '2人'."""
    raw = text.strip().removeprefix("名额").removeprefix("人数").strip()
    raw = raw.removesuffix("人").removesuffix("个").strip()
    return int(raw) if raw.isdigit() else None


def parse_audience(text: str) -> tuple[str, tuple[str, ...]] | None:
    """Read '公开' or '面向 物业公司、电力公司'."""
    raw = text.strip()
    if raw in ("公开", "所有人", "所有居民", "public"):
        return "public", ()
    for prefix in ("面向", "限", "指定"):
        if raw.startswith(prefix):
            names = re.split(r"[、,，;；\s]+", raw[len(prefix) :].strip())
            targets = tuple(n for n in names if n)
            return ("targeted", targets) if targets else None
    return None


def parse_task_line(
    text: str, now: datetime, tz: ZoneInfo, levels: Sequence[str], *, need_points: bool = True
) -> TaskDraft:
    """Parse '标题 | 积分 | 截止 11-30 | 名额 2 | 面向 物业公司'; raise bad_argument."""
    parts = [p.strip() for p in re.split(r"[|｜]", text)]
    if not parts or not parts[0]:
        raise DomainError("bad_argument", usage=texts.TASK_USAGE)
    draft = TaskDraft(title=parts[0])
    for part in parts[1:]:
        if not part:
            continue
        value = _parse_field(draft, part, now, tz, levels)
        if value is None:
            raise DomainError("bad_argument", usage=f"“{part}”？\n{texts.TASK_USAGE}")
        draft = value
    if need_points and draft.points is None and draft.difficulty is None:
        raise DomainError("task_bad_points", limit=MAX_TASK_POINTS)
    return draft


def _parse_field(
    draft: TaskDraft, part: str, now: datetime, tz: ZoneInfo, levels: Sequence[str]
) -> TaskDraft | None:
    for prefix in ("截止", "期限", "截至"):
        if part.startswith(prefix):
            deadline = parse_deadline(part[len(prefix) :].strip(), now, tz)
            return None if deadline is None else replace(draft, deadline=deadline)
    if part.startswith(("名额", "人数")) or re.fullmatch(r"\d+\s*人", part):
        capacity = parse_capacity(part)
        return None if capacity is None else replace(draft, capacity=capacity)
    for prefix in ("地点", "位置"):
        if part.startswith(prefix):
            return replace(draft, location=part[len(prefix) :].strip(" ：:"))
    for prefix in ("说明", "描述", "内容"):
        if part.startswith(prefix):
            return replace(draft, description=part[len(prefix) :].strip(" ：:"))
    hours = re.fullmatch(r"(?:时长|服务时长)?\s*(\d+(?:\.\d+)?)\s*(?:小时|h)?", part)
    if hours and (part.startswith(("时长", "服务时长")) or part.endswith(("小时", "h"))):
        return replace(draft, hours=float(hours.group(1)))
    audience = parse_audience(part)
    if audience is not None:
        return replace(draft, audience=audience[0], targets=audience[1])
    points = parse_points(part, levels)
    if points is not None:
        return replace(draft, points=points[0], difficulty=points[1])
    return None


def parse_extras(text: str, draft: TaskDraft) -> TaskDraft | None:
    """Read the optional '地点 … | 说明 … | 时长 2' answer; plain words are the description."""
    if text.strip() in SKIP_WORDS:
        return draft
    described: list[str] = []
    for part in (p.strip() for p in re.split(r"[|｜\n；;]", text)):
        if not part:
            continue
        if part.startswith(("地点", "位置")):
            draft = replace(draft, location=part[2:].strip(" ：:")[:60])
        elif part.startswith(("说明", "描述", "内容")):
            described.append(part[2:].strip(" ：:"))
        elif part.startswith("时长") or re.fullmatch(r"\d+(?:\.\d+)?\s*(?:小时|h)", part):
            hours = re.fullmatch(r"(?:时长)?[\s：:]*(\d+(?:\.\d+)?)\s*(?:小时|h)?", part)
            if hours is None:
                return None
            draft = replace(draft, hours=float(hours.group(1)))
        else:
            described.append(part)
    if described:
        draft = replace(draft, description="；".join(d for d in described if d)[:300])
    return draft
