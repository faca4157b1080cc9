"""What a worker types when publishing a task, read into a draft (no Telegram needed)."""

from __future__ import annotations

from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import pytest

from bot.services.errors import DomainError
from bot.services.task_forms import parse_deadline, parse_task_line

TZ = ZoneInfo("Asia/Shanghai")
NOW = datetime(2026, 11, 23, 1, 0, tzinfo=UTC)  # Monday 09:00 in Shanghai
LEVELS = ("easy", "normal", "hard")


def test_one_line_form_with_every_field() -> None:
    draft = parse_task_line(
        "更换楼道灯泡 | 10分 | 截止 11-30 | 名额 2 | 面向 物业公司、电力公司"
        " | 地点 3号楼 | 时长 1.5",
        NOW,
        TZ,
        LEVELS,
    )
    assert draft.title == "更换楼道灯泡" and draft.points == 10 and draft.difficulty is None
    assert draft.deadline == datetime(2026, 11, 30, 23, 59, tzinfo=TZ)
    assert draft.capacity == 2 and draft.audience == "targeted"
    assert draft.targets == ("物业公司", "电力公司")
    assert draft.location == "3号楼" and draft.hours == 1.5


def test_difficulty_words_and_public_audience() -> None:
    draft = parse_task_line("调解邻里纠纷｜较难｜公开｜3人", NOW, TZ, LEVELS)
    assert (draft.points, draft.difficulty, draft.audience, draft.capacity) == (
        None,
        "hard",
        "public",
        3,
    )


def test_bad_parts_are_refused_with_the_usage() -> None:
    with pytest.raises(DomainError) as bad:
        parse_task_line("修车棚 | 很多分", NOW, TZ, LEVELS)
    assert bad.value.code == "bad_argument" and "很多分" in bad.value.params["usage"]
    with pytest.raises(DomainError) as none:
        parse_task_line("修车棚", NOW, TZ, LEVELS)
    assert none.value.code == "task_bad_points"


def test_deadlines_roll_into_next_year_and_take_times() -> None:
    assert parse_deadline("1-15", NOW, TZ) == datetime(2027, 1, 15, 23, 59, tzinfo=TZ)
    assert parse_deadline("12月1日 18:00", NOW, TZ) == datetime(2026, 12, 1, 18, 0, tzinfo=TZ)
    assert parse_deadline("2026-11-23", NOW, TZ) == datetime(2026, 11, 23, 23, 59, tzinfo=TZ)
    assert parse_deadline("2-30", NOW, TZ) is None
    assert parse_deadline("明天", NOW, TZ) is None
