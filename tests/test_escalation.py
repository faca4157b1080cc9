"""The deadline sweep: reminders, the ladder, 吹哨, unrated closing, once each across restarts."""

from __future__ import annotations

import tomllib
from dataclasses import replace
from datetime import timedelta

import pytest

from bot.services.clock import FakeClock
from bot.services.errors import DatabaseUnwritableError, DomainError
from bot.services.escalation import (
    Department,
    EscalationConfigError,
    EscalationPolicy,
    EscalationSweep,
    consolidate,
    mark_urgent,
    sweep_communities,
)
from bot.services.sla import SlaPolicy
from bot.services.tickets import Actor, NewTicket, TicketService
from storage.db import Database
from storage.outbox import OutboxItem, OutboxRepository
from storage.tickets import QueuedText
from tests.conftest import REPO

pytestmark = pytest.mark.both_stores

GROUP = -100123
WORKER = 501
OFFICE = 900
STREET = 950
DEPT = 960
WANG = Actor(user_id=WORKER, name="王网格", worker_key="wang")

POLICY = EscalationPolicy(
    office_ids=(OFFICE,),
    street_office_id=STREET,
    departments=(Department("housing", "区住建委", ("elevator",), DEPT),),
    community="幸福里",
)


def urgent(source: str = "msg:1", **changes: object) -> NewTicket:
    values: dict[str, object] = {
        "community": "幸福里",
        "source_key": source,
        "text": "3号楼电梯困人了",
        "category": "elevator",
        "confidence": 0.95,
        "keywords": ("电梯", "困人"),
        "urgency": "urgent",
        "location": {"building": "3"},
        "building": "3",
        "grid": "G1",
        "reporter_id": 1001,
        "reporter_name": "刘阿姨",
        "is_private": False,
        "chat_id": GROUP,
        "message_id": 77,
        "assignee_key": "wang",
        "assignee_id": WORKER,
    }
    values.update(changes)
    return NewTicket(**values)  # type: ignore[arg-type]


@pytest.fixture
def sla() -> SlaPolicy:
    return SlaPolicy()


@pytest.fixture
def service(db: Database, clock: FakeClock, sla: SlaPolicy) -> TicketService:
    return TicketService(db, clock, sla, "幸福里", office_ids=(OFFICE,))


def sweep_of(db: Database, clock: FakeClock, sla: SlaPolicy) -> EscalationSweep:
    return EscalationSweep(db, clock, sla, POLICY)


async def queued(db: Database, clock: FakeClock) -> list[OutboxItem]:
    return await OutboxRepository(db).due(clock.now() + timedelta(days=400), limit=1000)


async def kinds(service: TicketService, ticket_id: int) -> list[str]:
    return [e.kind for e in await service.history(ticket_id)]


async def test_reminder_before_the_accept_deadline_goes_to_the_worker_once(
    db: Database, clock: FakeClock, sla: SlaPolicy, service: TicketService
) -> None:
    ticket, _ = await service.open_ticket(urgent())
    sweep = sweep_of(db, clock, sla)
    clock.advance(timedelta(minutes=20))  # urgent: accept within 30 min, remind at 22.5
    assert (await sweep.run()).steps == 0
    clock.advance(timedelta(minutes=3))
    result = await sweep.run()
    assert result.reminded == 1
    assert (await sweep.run()).steps == 0
    items = await queued(db, clock)
    assert [(i.chat_id, i.message.purpose) for i in items] == [(WORKER, "remind")]
    assert "#1" in items[0].message.text and "接单" in items[0].message.text
    assert await kinds(service, ticket.id) == ["opened", "reminded"]


async def test_the_whole_ladder_to_a_department_and_its_acknowledgement(
    db: Database, clock: FakeClock, sla: SlaPolicy, service: TicketService
) -> None:
    ticket, _ = await service.open_ticket(urgent())
    sweep = sweep_of(db, clock, sla)
    clock.advance(timedelta(minutes=23))
    await sweep.run()  # reminder
    clock.advance(timedelta(minutes=8))  # 1 minute past the 30-minute accept deadline
    result = await sweep.run()
    assert result.escalated == 1
    got = await service.get(ticket.id)
    assert got.escalation_level == 1
    items = await queued(db, clock)
    office = [i for i in items if i.chat_id == OFFICE]
    assert len(office) == 1 and "#1" in office[0].message.text
    assert "1 分钟" in office[0].message.text
    group = [i for i in items if i.chat_id == GROUP]
    assert [g.message.text for g in group] == ["#1 正在加紧处理中，感谢大家耐心等待。"]
    assert group[0].message.reply_to_message_id == 77
    assert any(i.chat_id == WORKER and i.message.purpose == "overdue" for i in items)

    clock.advance(timedelta(minutes=15))  # 50 % of the 30-minute window past the deadline
    assert (await sweep.run()).escalated == 1
    assert (await service.get(ticket.id)).escalation_level == 2
    assert [i.chat_id for i in await queued(db, clock)].count(STREET) == 1

    clock.advance(timedelta(minutes=15))  # 100 % past: the department is called in
    assert (await sweep.run()).whistled == 1
    assert (await service.get(ticket.id)).escalation_level == 3
    whistle = [i for i in await queued(db, clock) if i.chat_id == DEPT]
    assert len(whistle) == 1
    button = whistle[0].message.buttons[0][0]
    assert (button.text, button.data) == ("收到，立即处理", f"ack:{ticket.id}")
    assert "区住建委" in whistle[0].message.text

    with pytest.raises(DomainError) as stranger:
        await sweep.acknowledge_whistle(ticket.id, 4242)
    assert stranger.value.code == "not_department_contact"
    clock.advance(timedelta(minutes=10))
    await sweep.acknowledge_whistle(ticket.id, DEPT)
    with pytest.raises(DomainError) as twice:
        await sweep.acknowledge_whistle(ticket.id, DEPT)
    assert twice.value.code == "no_open_whistle"
    clock.advance(timedelta(hours=1))
    assert (await sweep.run()).lapsed == 0  # acknowledged: the street is not told again
    assert [i.chat_id for i in await queued(db, clock)].count(STREET) == 1
    assert await kinds(service, ticket.id) == [
        "opened",
        "reminded",
        "escalated",
        "escalated",
        "whistled",
        "whistle_acked",
    ]


async def test_unacknowledged_whistle_tells_the_street_office(
    db: Database, clock: FakeClock, sla: SlaPolicy, service: TicketService
) -> None:
    ticket, _ = await service.open_ticket(urgent())
    sweep = sweep_of(db, clock, sla)
    for minutes in (31, 15, 15):
        clock.advance(timedelta(minutes=minutes))
        await sweep.run()
    clock.advance(timedelta(minutes=31))
    assert (await sweep.run()).lapsed == 1
    street = [i for i in await queued(db, clock) if i.chat_id == STREET]
    assert len(street) == 2
    assert "未确认" in street[1].message.text
    assert (await kinds(service, ticket.id))[-1] == "whistle_lapsed"


async def test_category_without_department_stops_at_the_street(
    db: Database, clock: FakeClock, sla: SlaPolicy, service: TicketService
) -> None:
    ticket, _ = await service.open_ticket(urgent(category="noise"))
    sweep = sweep_of(db, clock, sla)
    clock.advance(timedelta(hours=5))
    result = await sweep.run()
    assert (result.escalated, result.whistled) == (2, 0)
    assert (await service.get(ticket.id)).next_check_at is None


async def test_restart_after_the_deadline_handles_it_once(
    db: Database, clock: FakeClock, sla: SlaPolicy, service: TicketService
) -> None:
    ticket, _ = await service.open_ticket(urgent())
    # The bot is down from 09:00 until 09:40: the reminder and the deadline both passed.
    clock.advance(timedelta(minutes=40))
    first = sweep_of(db, clock, sla)
    result = await first.run()
    assert (result.reminded, result.escalated, result.skipped) == (0, 1, 1)
    # Crash and start again: a new sweep object over the same database does nothing more.
    second = sweep_of(db, clock, sla)
    assert (await second.run()).steps == 0
    office = [i for i in await queued(db, clock) if i.chat_id == OFFICE]
    assert len(office) == 1
    assert "10 分钟" in office[0].message.text
    assert (await kinds(service, ticket.id)).count("escalated") == 1


async def test_long_outage_climbs_each_rung_once(
    db: Database, clock: FakeClock, sla: SlaPolicy, service: TicketService
) -> None:
    ticket, _ = await service.open_ticket(urgent())
    clock.advance(timedelta(hours=3))
    result = await sweep_of(db, clock, sla).run()
    assert (result.escalated, result.whistled) == (2, 1)
    assert (await sweep_of(db, clock, sla).run()).steps == 0
    assert (await service.get(ticket.id)).escalation_level == 3


async def test_accepting_in_time_cancels_the_accept_ladder(
    db: Database, clock: FakeClock, sla: SlaPolicy, service: TicketService
) -> None:
    ticket, _ = await service.open_ticket(urgent())
    clock.advance(timedelta(minutes=10))
    await service.accept(ticket.id, WANG)
    clock.advance(timedelta(hours=1))
    assert (await sweep_of(db, clock, sla).run()).steps == 0
    # The resolve deadline (24 h for urgent) now runs: reminder at 18 h after accepting.
    clock.advance(timedelta(hours=17))
    result = await sweep_of(db, clock, sla).run()
    assert result.reminded == 1
    remind = [i for i in await queued(db, clock) if i.message.purpose == "remind"]
    assert "办结" in remind[0].message.text


async def test_resolved_ticket_left_unrated_closes_as_unrated(
    db: Database, clock: FakeClock, sla: SlaPolicy, service: TicketService
) -> None:
    ticket, _ = await service.open_ticket(urgent())
    await service.accept(ticket.id, WANG)
    await service.resolve(ticket.id, WANG, note="", photo=None)
    clock.advance(timedelta(hours=71))
    assert (await sweep_of(db, clock, sla).run()).closed_unrated == 0
    clock.advance(timedelta(hours=2))
    assert (await sweep_of(db, clock, sla).run()).closed_unrated == 1
    closed = await service.get(ticket.id)
    assert (closed.status, closed.rating, closed.next_check_at) == ("closed", "unrated", None)
    with pytest.raises(DomainError) as late:
        await service.rate(ticket.id, 1001, "satisfied")
    assert late.value.code == "already_rated"
    assert (await sweep_of(db, clock, sla).run()).steps == 0


def test_policy_from_config_names_every_problem() -> None:
    policy = EscalationPolicy.from_config(
        {
            "escalation": {
                "street_after": 0.5,
                "department_after": 1,
                "ack_minutes": 20,
                "street_office_id": 950,
            },
            "departments": [
                {
                    "key": "housing",
                    "name": "区住建委",
                    "categories": ["elevator"],
                    "contact_id": 960,
                },
            ],
        },
        office_ids=(900,),
    )
    assert policy.department_for("elevator") == Department(
        "housing", "区住建委", ("elevator",), 960
    )
    assert policy.ack_time == timedelta(minutes=20)
    assert policy.department_for("noise") is None
    with pytest.raises(EscalationConfigError) as bad:
        EscalationPolicy.from_config(
            {
                "escalation": {"ack_minutes": 0, "colour": "red"},
                "departments": [
                    {"key": "a", "name": "甲", "categories": ["water"], "contact_id": 1},
                    {"key": "b", "name": "乙", "categories": ["water"], "contact_id": "x"},
                ],
            }
        )
    message = str(bad.value)
    for part in (
        "escalation.ack_minutes",
        "escalation.colour",
        "[[departments]] b.contact_id",
        "'water' is already handled by a",
    ):
        assert part in message


async def test_transfer_starts_a_new_ladder_and_drops_the_old_one(
    db: Database, clock: FakeClock, sla: SlaPolicy, service: TicketService
) -> None:
    ticket, _ = await service.open_ticket(urgent())
    clock.advance(timedelta(minutes=25))
    await service.transfer(
        ticket.id,
        WANG,
        to_worker_key="li",
        to_worker_id=502,
        to_category=None,
        reason="不在我网格",
    )
    clock.advance(timedelta(minutes=10))  # past the first deadline, not the new one
    assert (await sweep_of(db, clock, sla).run()).steps == 0
    clock.advance(timedelta(minutes=21))  # 31 minutes after the transfer
    result = await sweep_of(db, clock, sla).run()
    assert result.escalated == 1
    office = [i for i in await queued(db, clock) if i.chat_id == OFFICE]
    assert len(office) == 1 and "li" in office[0].message.text


async def test_private_complaint_gets_no_group_status(
    db: Database, clock: FakeClock, sla: SlaPolicy, service: TicketService
) -> None:
    await service.open_ticket(urgent(is_private=True, chat_id=1001, message_id=4))
    clock.advance(timedelta(minutes=31))
    await sweep_of(db, clock, sla).run()
    chats = {i.chat_id for i in await queued(db, clock)}
    assert chats == {OFFICE, WORKER}


async def test_reopened_ticket_climbs_again_on_its_new_resolve_deadline(
    db: Database, clock: FakeClock, sla: SlaPolicy, service: TicketService
) -> None:
    ticket, _ = await service.open_ticket(urgent())
    await service.accept(ticket.id, WANG)
    await service.resolve(ticket.id, WANG, note="", photo=None)
    await service.rate(ticket.id, 1001, "unsatisfied")
    clock.advance(timedelta(hours=24, minutes=1))
    result = await sweep_of(db, clock, sla).run()
    assert result.escalated == 1 and result.skipped == 1  # the 18-hour reminder was missed
    office = [
        i
        for i in await queued(db, clock)
        if i.chat_id == OFFICE and i.message.purpose == "escalate"
    ]
    assert len(office) == 1 and "办结时限" in office[0].message.text


def test_the_example_community_configures_deadlines_and_departments() -> None:
    raw = tomllib.loads((REPO / "examples" / "community.toml").read_text(encoding="utf-8"))
    sla = SlaPolicy.from_config(raw.get("sla"))
    policy = EscalationPolicy.from_config(raw)
    assert sla.rating_window == timedelta(hours=72)
    assert policy.street_office_id is not None
    water = policy.department_for("drainage")
    assert water is not None and water.name == "区水务局"
    assert policy.ack_time == timedelta(minutes=30)


# ── quiet hours and escalations nobody can receive ──
async def test_quiet_hours_hold_group_posts_and_non_urgent_escalations(
    db: Database, clock: FakeClock, sla: SlaPolicy, service: TicketService
) -> None:
    from datetime import time

    # Quiet hours over the afternoon, so that the 13:00 deadline falls inside them.
    sweep = EscalationSweep(db, clock, sla, POLICY, quiet_hours=(time(12, 0), time(20, 0)))
    normal, _ = await service.open_ticket(urgent("msg:n", urgency="normal"))
    clock.advance(timedelta(hours=3))  # 12:00
    hot, _ = await service.open_ticket(urgent("msg:u", message_id=78))
    clock.advance(timedelta(hours=1, minutes=1))  # 13:01: both accept deadlines have passed
    await sweep.run()
    now = await OutboxRepository(db).due(clock.now(), limit=100)
    released = {(i.message.extra["ticket_id"], i.chat_id) for i in now}
    # The urgent ticket's office escalation goes at once, its group post waits; the normal
    # ticket's escalation and group post both wait for 20:00.
    assert (hot.id, OFFICE) in released
    assert (hot.id, GROUP) not in released
    assert not {(t, c) for t, c in released if t == normal.id and c in (OFFICE, GROUP)}
    clock.advance(timedelta(hours=7))  # 20:01
    later = await OutboxRepository(db).due(clock.now(), limit=100)
    assert {(normal.id, OFFICE), (normal.id, GROUP), (hot.id, GROUP)} <= {
        (i.message.extra["ticket_id"], i.chat_id) for i in later
    }


async def test_a_rung_with_nobody_to_receive_it_is_told_to_the_admins_once(
    db: Database, clock: FakeClock, sla: SlaPolicy, service: TicketService
) -> None:
    policy = EscalationPolicy(office_ids=(OFFICE,), community="幸福里")  # no street office
    sweep = EscalationSweep(db, clock, sla, policy)
    ticket, _ = await service.open_ticket(urgent())
    clock.advance(timedelta(minutes=46))  # past the deadline and half its length again
    await sweep.run()
    await sweep.run()
    told = [i for i in await queued(db, clock) if i.message.purpose == "undeliverable"]
    assert [i.chat_id for i in told] == [OFFICE]
    assert "#1" in told[0].message.text and "街道办" in told[0].message.text
    assert "escalation_undeliverable" in await kinds(service, ticket.id)


async def test_a_flood_of_overdue_tickets_reaches_each_chat_as_one_message(
    db: Database, clock: FakeClock, sla: SlaPolicy, service: TicketService
) -> None:
    """After an outage many tickets fall due at once: the office, the worker and the group get
    one message each for them (a person takes about one message a second), not one per ticket;
    every ticket's history still says it climbed."""
    tickets = [
        (await service.open_ticket(urgent(f"msg:{n}", message_id=100 + n)))[0] for n in range(8)
    ]
    clock.advance(timedelta(minutes=31))  # every accept deadline just past
    result = await EscalationSweep(db, clock, sla, POLICY).run()
    assert result.escalated == 8
    items = await queued(db, clock)
    by_chat = {(i.chat_id, i.message.purpose): i for i in items}
    assert sorted(by_chat) == sorted(
        [(OFFICE, "escalate"), (WORKER, "overdue"), (GROUP, "status")]
    )
    assert len(items) == 3
    office = by_chat[(OFFICE, "escalate")].message
    assert "共 8 件" in office.text and all(f"#{t.number}" in office.text for t in tickets)
    group = by_chat[(GROUP, "status")].message
    assert group.text.startswith("#1、#2") and "#8" in group.text
    assert "王网格" not in group.text  # the group still sees no names, no lateness
    for t in tickets:
        assert "escalated" in await kinds(service, t.id)
    # A few at once stay one message per ticket.
    for n in range(8, 11):
        await service.open_ticket(urgent(f"msg:{n}", message_id=100 + n))
    clock.advance(timedelta(minutes=31))
    await EscalationSweep(db, clock, sla, POLICY).run()
    office_notes = [i.message.text for i in await queued(db, clock) if i.chat_id == OFFICE]
    assert len(office_notes) == 4 and "共 8 件" in office_notes[0]
    assert all("共" not in text for text in office_notes[1:])


async def test_a_street_sweep_takes_every_community_in_one_commit_and_survives_one_failing(
    db: Database, clock: FakeClock, sla: SlaPolicy
) -> None:
    """The job sweeps a street office's communities together: each takes its own steps, and a
    community whose sweep breaks is rolled back alone while the others' steps are kept."""
    names = ("幸福里", "和平里", "光明里")
    services = {n: TicketService(db, clock, sla, n, office_ids=(OFFICE,)) for n in names}
    opened = {
        n: (await s.open_ticket(urgent(f"{n}:1", community=n)))[0] for n, s in services.items()
    }
    clock.advance(timedelta(minutes=31))
    sweeps = [EscalationSweep(db, clock, sla, replace(POLICY, community=n)) for n in names]

    def broken(*_: object) -> str:
        raise RuntimeError("a bug in one community's rung")

    sweeps[1]._handlers["office"] = broken
    results = await sweep_communities(sweeps)
    assert sorted(results) == ["光明里", "幸福里"]
    assert all(r.escalated == 1 for r in results.values())
    for n in ("幸福里", "光明里"):
        assert "escalated" in await kinds(services[n], opened[n].id)
    # The broken community wrote nothing: its step is still due and its ticket unchanged.
    assert "escalated" not in await kinds(services["和平里"], opened["和平里"].id)
    assert (await services["和平里"].get(opened["和平里"].id)).escalation_level == 0
    retry = await sweep_communities(
        [EscalationSweep(db, clock, sla, replace(POLICY, community="和平里"))]
    )
    assert retry["和平里"].escalated == 1
    assert await sweep_communities([]) == {}


async def test_a_street_sweep_undone_whole_when_the_database_fails(
    db: Database, clock: FakeClock, sla: SlaPolicy
) -> None:
    """A locked or full database is not one community's problem: nothing of the sweep stays,
    and the next turn takes every step."""
    names = ("幸福里", "和平里")
    services = {n: TicketService(db, clock, sla, n, office_ids=(OFFICE,)) for n in names}
    for n, s in services.items():
        await s.open_ticket(urgent(f"{n}:1", community=n))
    clock.advance(timedelta(minutes=31))
    sweeps = [EscalationSweep(db, clock, sla, replace(POLICY, community=n)) for n in names]

    def full(*_: object) -> str:
        raise DatabaseUnwritableError("disk full")

    sweeps[1]._handlers["office"] = full
    with pytest.raises(DatabaseUnwritableError):
        await sweep_communities(sweeps)
    assert await queued(db, clock) == []
    again = [EscalationSweep(db, clock, sla, replace(POLICY, community=n)) for n in names]
    results = await sweep_communities(again)
    assert [r.escalated for r in results.values()] == [1, 1]


async def test_a_refusal_waiting_for_the_admins_spares_the_worker_and_asks_the_office(
    db: Database, clock: FakeClock, sla: SlaPolicy, service: TicketService
) -> None:
    """The worker asked for 不予受理: they are not reminded or told they are late while the
    admins decide; the office's escalation says the next move is theirs; the resident's
    deadline still climbs the ladder, and goes on climbing once the admins refuse."""
    ticket, _ = await service.open_ticket(urgent())
    await service.request_reject(ticket.id, WANG, reason="属于邻里私事", chat_id=WORKER)
    sweep = sweep_of(db, clock, sla)
    before = {i.id for i in await queued(db, clock)}  # the admins' approval question

    def new() -> list[tuple[int, str, str]]:
        return [
            (i.chat_id, i.message.purpose, i.message.text) for i in items if i.id not in before
        ]

    clock.advance(timedelta(minutes=25))  # past the reminder: none
    assert (await sweep.run()).reminded == 0
    clock.advance(timedelta(minutes=10))  # past the accept deadline
    assert (await sweep.run()).escalated == 1
    items = await queued(db, clock)
    sent = new()
    assert [(chat, purpose) for chat, purpose, _ in sent] == [
        (OFFICE, "escalate"),
        (GROUP, "status"),
    ]
    assert "申请不予受理" in sent[0][2] and "#1" in sent[0][2]
    assert "reminded" not in await kinds(service, ticket.id)
    assert (await service.get(ticket.id)).escalation_level == 1
    # The admins refuse: the next rung's notice reaches the worker as usual.
    request = await service.open_reject_request(ticket.id)
    assert request is not None
    admin = Actor(user_id=OFFICE, name="书记", is_admin=True)
    await service.decide_reject(request.id, admin, approve=False)
    before |= {i.id for i in await queued(db, clock)}
    clock.advance(timedelta(hours=2))
    result = await sweep.run()
    assert result.escalated >= 1
    items = await queued(db, clock)
    assert any(chat == STREET for chat, _, _ in new())


async def test_messages_about_an_urgent_ticket_are_marked_to_ring_in_quiet_hours(
    db: Database, clock: FakeClock, sla: SlaPolicy, service: TicketService
) -> None:
    """The sender sends quietly at night unless a message is about an urgent ticket: the
    sweep marks those, one by one and in a flood's summary."""
    urgent_one, _ = await service.open_ticket(urgent())
    calm, _ = await service.open_ticket(urgent("msg:2", urgency="normal", message_id=78))
    clock.advance(timedelta(hours=30))
    await sweep_of(db, clock, sla).run()
    items = await queued(db, clock)
    about = {i.message.extra.get("ticket_id"): i.message.extra for i in items}
    assert about[urgent_one.id].get("urgent") is True
    assert "urgent" not in about.get(calm.id, {})
    summary = consolidate(
        mark_urgent(
            [
                QueuedText(f"k{n}", OFFICE, f"#{n}", "overdue", {"ticket_id": n})
                for n in range(1, 8)
            ],
            {3},
        )
    )
    assert len(summary) == 1 and summary[0].extra.get("urgent") is True
