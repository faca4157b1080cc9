"""The sweep's bulk statements write the very rows the general writers write, on both stores."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from bot.services.clock import FakeClock
from bot.services.sla import SlaPolicy
from bot.services.tickets import NewTicket, TicketService
from storage.outbox import Button, OutgoingMessage
from storage.store import Store
from storage.tickets import (
    DueStep,
    NewEvent,
    PlannedStep,
    QueuedText,
    Step,
    TicketRepository,
    iso,
)

pytestmark = pytest.mark.both_stores

GROUP = -100123

COMMUNITY = "幸福里"


def complaint(source: str, **changes: object) -> NewTicket:
    values: dict[str, object] = {
        "community": "幸福里",
        "source_key": source,
        "text": "3号楼电梯坏了",
        "category": "elevator",
        "confidence": 0.92,
        "keywords": ("电梯",),
        "urgency": "normal",
        "location": {"building": "3", "place": "东门"},
        "building": "3",
        "grid": "G1",
        "reporter_id": 1001,
        "reporter_name": "刘阿姨",
        "is_private": False,
        "chat_id": GROUP,
        "message_id": 77,
        "assignee_key": "wang",
        "assignee_id": 501,
    }
    values.update(changes)
    return NewTicket(**values)  # type: ignore[arg-type]


async def test_due_steps_read_what_the_sweep_needs_of_each_due_ticket(
    db: Store, clock: FakeClock
) -> None:
    service = TicketService(db, clock, SlaPolicy(), "幸福里")
    first, _ = await service.open_ticket(complaint("msg:1"))
    second, _ = await service.open_ticket(
        complaint("msg:2", location={}, building=None, is_private=True, assignee_id=None)
    )
    repo = TicketRepository(db)
    assert await repo.due_steps(COMMUNITY, clock.now(), 10) == []
    later = clock.now() + timedelta(days=2)  # both reminders and both office steps are due
    due = await repo.due_steps(COMMUNITY, later, 10)
    assert [(d.ticket_id, d.step) for d in due] == [
        (first.id, "remind"),
        (first.id, "office"),
        (second.id, "remind"),
        (second.id, "office"),
    ]
    steps = {s.id: s for s in await repo.steps(first.id)}
    office = due[1]
    assert isinstance(office, DueStep)
    assert office.started_at == steps[office.step_id].started_at
    assert office.deadline_at == steps[office.step_id].deadline_at == first.accept_due_at
    assert (office.number, office.status, office.category, office.urgency) == (
        first.number,
        "new",
        "elevator",
        "normal",
    )
    assert (office.building, office.place, office.text) == ("3", "东门", "3号楼电梯坏了")
    assert (office.assignee_key, office.assignee_id) == ("wang", 501)
    assert (office.is_private, office.chat_id, office.message_id) == (False, GROUP, 77)
    assert office.resolved_at is None
    other = due[3]
    assert (other.building, other.place, other.is_private, other.assignee_id) == (
        None,
        None,
        True,
        None,
    )
    assert [d.ticket_id for d in await repo.due_steps(COMMUNITY, later, 1)] == [first.id, first.id]


async def test_queued_texts_are_the_messages_queue_messages_writes(
    db: Store, clock: FakeClock
) -> None:
    repo = TicketRepository(db)
    now = clock.now()
    later = now + timedelta(hours=7)
    texts = [
        QueuedText("k:1", 501, '工单 #1 "超时"\n请处理', "overdue", {"ticket_id": 1}),
        QueuedText(
            "k:2",
            GROUP,
            "#1 正在处理",
            "status",
            {"ticket_id": 1},
            private=False,
            reply_to_message_id=77,
            not_before=later,
        ),
        QueuedText(
            "k:3",
            960,
            "吹哨",
            "whistle",
            {"ticket_id": 1, "department": "water", "late": True, "share": 0.5},
            buttons=((Button("收到", "ack:1"),),),
        ),
        QueuedText("k:1", 999, "the second of a key", "overdue", {}),  # the first one wins
    ]
    await repo.queue_texts(texts, now)
    await repo.queue_messages(
        [
            (
                f"same:{t.dedup_key}",
                t.chat_id,
                OutgoingMessage(
                    t.text,
                    buttons=t.buttons,
                    reply_to_message_id=t.reply_to_message_id,
                    private=t.private,
                    purpose=t.purpose,
                    extra=t.extra,
                ),
            )
            for t in texts[:3]
        ],
        now,
        not_before={"same:k:2": later},
    )
    rows = await db.fetchall(
        "SELECT dedup_key, chat_id, payload, created_at, not_before, status FROM outbox"
        " ORDER BY id"
    )
    ours = [tuple(r) for r in rows if not r["dedup_key"].startswith("same:")]
    theirs = [tuple(r) for r in rows if r["dedup_key"].startswith("same:")]
    assert [r[0] for r in ours] == ["k:1", "k:2", "k:3"]
    assert [r[1:] for r in ours] == [r[1:] for r in theirs]
    assert ours[1][4] == iso(later) and ours[0][4] == iso(now)


def test_every_kind_of_plain_message_reads_back_from_its_payload() -> None:
    messages = [
        OutgoingMessage("纯文本"),
        OutgoingMessage('引号 " 和 \\ 和 \n 换行', private=True, purpose="remind"),
        OutgoingMessage("回复", reply_to_message_id=-5, extra={"ticket_id": 3, "level": 1}),
        OutgoingMessage("空", extra={"note": None, "flag": False, "n": 1.5, "list": [1, "二"]}),
        OutgoingMessage(
            "按钮",
            buttons=((Button("是", "y:1"), Button("否", "n:1")), (Button("取消", "c"),)),
        ),
        OutgoingMessage("图", photo_png=b"\x89PNG", purpose="chart"),
    ]
    for message in messages:
        assert OutgoingMessage.from_json(message.to_json()) == message


async def test_system_events_and_step_rows_are_what_the_general_writers_write(
    db: Store, clock: FakeClock
) -> None:
    service = TicketService(db, clock, SlaPolicy(), "幸福里")
    ticket, _ = await service.open_ticket(complaint("msg:1"))
    other, _ = await service.open_ticket(complaint("msg:2"))
    repo = TicketRepository(db)
    now = clock.now()
    details: list[dict[str, Any]] = [
        {"phase": "accept", "level": 1, "to": "office", "late_minutes": 5},
        {"target": "街道办", "department": None, "late": True, "ack_due": iso(now)},
        {"b": 1, "a": {"nested": [1, 2]}},
    ]
    await repo.add_system_events([(ticket.id, "escalated", "new", "new", d) for d in details], now)
    await repo.add_events(
        NewEvent(other.id, now, None, "system", "escalated", "new", "new", d) for d in details
    )
    mine = [(e.kind, e.detail, e.at, e.actor_role) for e in await repo.events(ticket.id)]
    theirs = [(e.kind, e.detail, e.at, e.actor_role) for e in await repo.events(other.id)]
    assert mine[-3:] == theirs[-3:]
    stored = await db.fetchall(
        "SELECT ticket_id, detail FROM ticket_events WHERE kind = 'escalated' ORDER BY id"
    )
    assert [r["detail"] for r in stored[:3]] == [r["detail"] for r in stored[3:]]

    start = datetime(2026, 11, 23, 1, 0, tzinfo=UTC)
    deadline = start + timedelta(hours=4)
    rows = [
        (ticket.id, "accept", "street", start, deadline, deadline + timedelta(hours=2)),
        (ticket.id, "accept", "street", start, deadline, deadline + timedelta(hours=9)),
    ]
    await repo.plan_step_rows(rows)
    await repo.plan_steps(
        PlannedStep(other.id, phase, step, started, due_deadline, due)
        for _, phase, step, started, due_deadline, due in rows
    )

    def planned(steps: list[Step]) -> list[tuple[object, ...]]:
        return [
            (s.phase, s.step, s.started_at, s.deadline_at, s.due_at, s.done_at)
            for s in steps
            if s.step == "street"
        ]

    mine_steps = planned(list(await repo.steps(ticket.id)))
    assert mine_steps == planned(list(await repo.steps(other.id)))
    assert [s[4] for s in mine_steps] == [deadline + timedelta(hours=2)]  # the first one wins
