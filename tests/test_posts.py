"""Post texts: Telegram's length limits, masking, rates, empty posts."""

from __future__ import annotations

from datetime import UTC, datetime

from bot.services import posts
from storage.points import Balance
from storage.schedule import OpenTicket, TicketFacts
from storage.tasks import Task
from tests.points_support import DAY, HOUR, TZ

NOW = datetime(2026, 11, 23, 1, 0, tzinfo=UTC)


def ticket(number: int, *, age_days: int = 1, overdue: bool = False) -> OpenTicket:
    created = NOW - age_days * DAY
    return OpenTicket(
        number=number,
        category="facilities",
        building="3",
        grid="g1",
        status="new",
        created_at=created,
        accept_due_at=created + (HOUR if overdue else 30 * DAY),
        resolve_due_at=None,
        accepted_at=None,
    )


def task(task_id: int, title: str = "更换楼道灯泡") -> Task:
    return Task(
        id=task_id,
        title=title,
        description="",
        location="",
        grid=None,
        points=5,
        hours=0,
        difficulty=None,
        capacity=1,
        deadline=None,
        audience="public",
        targets=(),
        status="open",
        publisher_id=2,
        publisher_name="网格员",
        ticket_id=None,
        created_at=NOW,
        claimed=0,
    )


def test_split_text_keeps_every_line_under_the_limit() -> None:
    text = "\n".join(f"第{i}行" + "字" * 50 for i in range(300))
    parts = posts.split_text(text, 4096)
    assert len(parts) > 1 and all(len(p) <= 4096 for p in parts)
    assert "\n".join(parts) == text
    giant = "长" * 10_000
    assert [len(p) for p in posts.split_text(giant, 4096)] == [4096, 4096, 1808]
    assert posts.split_text("", 4096) == [""]


def test_names_and_households_are_masked() -> None:
    # One rule for every name shown to neighbours (bot.services.privacy.mask_name).
    assert posts.mask_name("张三") == "张*"
    assert posts.mask_name("李小明") == "李**"
    assert posts.mask_name("欧阳娜娜") == "欧阳**"
    assert posts.mask_name("王") == "王*"
    assert posts.mask_household("3-2-301") == "3号楼2单元3**"


def test_digest_with_hundreds_of_tickets_stays_one_short_message() -> None:
    tickets = [ticket(n, overdue=n % 50 == 0, age_days=n % 9 + 1) for n in range(1, 501)]
    tasks = [task(i, "很长的任务标题" * 5) for i in range(1, 21)]
    messages = posts.build_digest(now=NOW, tz=TZ, tickets=tickets, tasks=tasks)
    assert len(messages) == 1 and len(messages[0].text) <= posts.MESSAGE_LIMIT
    text = messages[0].text
    assert "未办结工单 500 件，其中已超时 10 件" in text
    assert "……另有 470 件" in text
    assert text.index("⏰ 已超时") < text.index("【待接单】")
    buttons = [row[0] for row in messages[-1].buttons]
    assert len(buttons) == posts.MAX_DIGEST_TASKS
    assert all(len(b.data.encode()) <= 64 for b in buttons)


def test_digest_is_empty_when_nothing_is_open() -> None:
    assert posts.build_digest(now=NOW, tz=TZ, tickets=[], tasks=[]) == []
    only_tasks = posts.build_digest(now=NOW, tz=TZ, tickets=[], tasks=[task(1)])
    assert "目前没有未办结的工单" in only_tasks[0].text


def test_weekly_post_for_a_thousand_residents_is_split_under_the_limit() -> None:
    moved = [Balance(i, f"居民{i:04d}", i % 50, i % 50, 0.0) for i in range(1000)]
    messages = posts.build_weekly(
        start=NOW - 7 * DAY,
        end=NOW,
        tz=TZ,
        awarded=1234,
        buildings=[("3", 500)],
        households=[],
        residents=[],
        moved=moved,
        totals_only=False,
    )
    assert len(messages) > 1
    assert all(len(m.text) <= posts.MESSAGE_LIMIT for m in messages)
    assert messages[1].text.startswith("（续）")
    assert sum(m.text.count("居*") for m in messages) == 1000


def test_three_rates_from_a_known_history() -> None:
    t0 = NOW - 10 * DAY

    def facts(**kw: object) -> TicketFacts:
        base: dict[str, object] = {
            "category": "noise",
            "grid": "g1",
            "created_at": t0,
            "accepted_at": None,
            "accept_due_at": t0 + 4 * HOUR,
            "resolved_at": None,
            "rating": None,
        }
        base.update(kw)
        return TicketFacts(**base)  # type: ignore[arg-type]

    history = [
        facts(accepted_at=t0 + HOUR, resolved_at=t0 + DAY, rating="satisfied"),
        facts(accepted_at=t0 + HOUR, resolved_at=t0 + DAY, rating="basic"),
        facts(accepted_at=t0 + 5 * HOUR, resolved_at=t0 + DAY, rating="unsatisfied"),
        facts(accepted_at=t0 + 2 * HOUR, resolved_at=t0 + DAY, rating="unrated"),
        facts(),  # never accepted, overdue
        facts(created_at=NOW, accept_due_at=NOW + HOUR),  # not yet due: not counted
    ]
    rates = posts.ticket_rates(history, NOW)
    assert rates.response == (3, 5)
    assert rates.resolution == (4, 6)
    assert rates.satisfaction == (2, 3)
    assert posts.percent(rates.satisfaction) == "67%"
    assert posts.percent((0, 0)) == "—"
