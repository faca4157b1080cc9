"""TicketService: opening, the worker's actions, ratings and followers on a real database."""

from __future__ import annotations

from datetime import timedelta

import pytest

from bot import texts
from bot.services.clock import FakeClock
from bot.services.errors import DomainError
from bot.services.sla import SlaPolicy
from bot.services.tickets import Actor, NewTicket, TicketService
from storage.db import Database
from storage.outbox import Button, OutboxRepository, OutgoingMessage
from storage.privacy import FollowerRatings
from storage.store import INTEGRITY_ERRORS

pytestmark = pytest.mark.both_stores

GROUP = -100123
WANG = Actor(user_id=501, name="王网格", worker_key="wang")
LI = Actor(user_id=502, name="李网格", worker_key="li")
SECRETARY = Actor(user_id=900, name="张书记", is_admin=True)
OFFICE = (900,)


def new_ticket(source: str = "msg:-100123:1", **changes: object) -> NewTicket:
    values: dict[str, object] = {
        "community": "幸福里",
        "source_key": source,
        "text": "3号楼电梯坏了",
        "category": "elevator",
        "confidence": 0.92,
        "keywords": ("电梯", "坏了"),
        "urgency": "normal",
        "location": {"building": "3", "place": None},
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


@pytest.fixture
def service(db: Database, clock: FakeClock) -> TicketService:
    return TicketService(db, clock, SlaPolicy(follower_threshold=3), "幸福里", office_ids=OFFICE)


def message_for(error: DomainError) -> str:
    return texts.ERRORS[error.code].format(**error.params)


async def outbox_texts(db: Database, clock: FakeClock) -> list[tuple[int, str]]:
    items = await OutboxRepository(db).due(clock.now() + timedelta(days=365))
    return [(i.chat_id, i.message.text) for i in items]


async def test_open_ticket_numbers_per_community_and_replays_once(
    service: TicketService, clock: FakeClock
) -> None:
    first, created = await service.open_ticket(new_ticket("msg:1"))
    again, created_again = await service.open_ticket(new_ticket("msg:1"))
    second, _ = await service.open_ticket(new_ticket("msg:2"))
    other, _ = await service.open_ticket(new_ticket("msg:3", community="和平里"))

    assert created and not created_again
    assert again.id == first.id
    assert (first.number, second.number, other.number) == (1, 2, 1)
    assert first.status == "new"
    assert first.keywords == ("电梯", "坏了")
    assert first.location == {"building": "3", "place": None}
    assert first.created_at == clock.now()
    # Normal ticket: accept within 4 hours, resolve within 3 working days (Mon -> Thu).
    assert first.accept_due_at == clock.now() + timedelta(hours=4)
    assert first.resolve_due_at == clock.now() + timedelta(days=3)
    assert first.next_check_at == clock.now() + timedelta(hours=3)  # reminder at 75 %
    assert [e.kind for e in await service.history(first.id)] == ["opened"]
    assert await service.by_number("幸福里", 2) == second
    assert await service.by_number("幸福里", 99) is None


async def test_open_ticket_keeps_photos(service: TicketService) -> None:
    ticket, _ = await service.open_ticket(new_ticket(photos=(("F1", "U1"), ("F2", "U2"))))
    photos = await service.photos(ticket.id)
    assert [(p.file_id, p.role, p.added_by) for p in photos] == [
        ("F1", "reporter", 1001),
        ("F2", "reporter", 1001),
    ]


async def test_accept_resolve_and_rate_satisfied_closes(
    service: TicketService, clock: FakeClock, db: Database
) -> None:
    ticket, _ = await service.open_ticket(new_ticket())
    clock.advance(timedelta(minutes=20))
    accepted = await service.accept(ticket.id, WANG)
    assert accepted.status == "accepted"
    assert accepted.accepted_at == clock.now()
    clock.advance(timedelta(hours=2))
    resolved = await service.resolve(ticket.id, WANG, note="已联系维保修好", photo=("P", "PU"))
    assert resolved.status == "resolved"

    # The reporter is asked in the group, as a reply to the complaint, with three buttons.
    items = await OutboxRepository(db).due(clock.now())
    request = next(i for i in items if i.message.purpose == "rate")
    assert request.chat_id == GROUP
    assert request.message.reply_to_message_id == 77
    assert "#1" in request.message.text and "已联系维保修好" in request.message.text
    data = [b.data for b in request.message.buttons[0]]
    assert data == [
        f"rate:{ticket.id}:satisfied",
        f"rate:{ticket.id}:basic",
        f"rate:{ticket.id}:unsatisfied",
    ]
    assert all(len(d.encode()) < 64 for d in data)

    closed = await service.rate(ticket.id, 1001, "basic")
    assert (closed.status, closed.rating) == ("closed", "basic")
    assert closed.next_check_at is None
    kinds = [e.kind for e in await service.history(ticket.id)]
    assert kinds == ["opened", "accepted", "resolved", "rated"]
    assert [p.role for p in await service.photos(ticket.id)] == ["worker"]

    with pytest.raises(DomainError) as twice:
        await service.rate(ticket.id, 1001, "satisfied")
    assert twice.value.code == "already_rated"
    assert message_for(twice.value) == "工单 #1 已经评价过了，谢谢！"


async def test_resolve_before_accept_is_refused_and_changes_nothing(
    service: TicketService,
) -> None:
    ticket, _ = await service.open_ticket(new_ticket())
    with pytest.raises(DomainError) as refused:
        await service.resolve(ticket.id, WANG, note="", photo=None)
    assert message_for(refused.value) == "工单 #1 还没接单，不能办结。"
    assert (await service.get(ticket.id)).status == "new"
    assert [e.kind for e in await service.history(ticket.id)] == ["opened"]


async def test_only_the_assignee_or_an_admin_may_act(service: TicketService) -> None:
    ticket, _ = await service.open_ticket(new_ticket())
    with pytest.raises(DomainError) as refused:
        await service.accept(ticket.id, LI)
    assert refused.value.code == "not_assignee"
    assert "不是派给您的" in message_for(refused.value)
    accepted = await service.accept(ticket.id, SECRETARY)
    assert accepted.status == "accepted"
    history = await service.history(ticket.id)
    assert history[-1].actor_role == "admin"
    with pytest.raises(DomainError) as again:
        await service.accept(ticket.id, WANG)
    assert again.value.code == "already_accepted"


async def test_unknown_ticket_is_a_domain_error(service: TicketService) -> None:
    with pytest.raises(DomainError) as missing:
        await service.get(4242)
    assert message_for(missing.value) == "找不到工单 #4242。"


async def test_transfer_to_another_worker_restarts_the_accept_deadline(
    service: TicketService, clock: FakeClock
) -> None:
    ticket, _ = await service.open_ticket(new_ticket())
    clock.advance(timedelta(hours=1))
    with pytest.raises(DomainError) as no_reason:
        await service.transfer(
            ticket.id, WANG, to_worker_key="li", to_worker_id=502, to_category=None, reason=" "
        )
    assert no_reason.value.code == "reason_required"
    moved = await service.transfer(
        ticket.id,
        WANG,
        to_worker_key="li",
        to_worker_id=502,
        to_category="property",
        reason="属于物业",
    )
    assert (moved.status, moved.assignee_key, moved.assignee_id, moved.category) == (
        "transferred",
        "li",
        502,
        "property",
    )
    assert moved.accept_due_at == clock.now() + timedelta(hours=4)
    event = (await service.history(ticket.id))[-1]
    assert event.kind == "transferred"
    assert event.detail["reason"] == "属于物业"
    assert event.detail["from_category"] == "elevator"
    # The old worker cannot act any more; the new one can.
    with pytest.raises(DomainError):
        await service.accept(ticket.id, WANG)
    assert (await service.accept(ticket.id, LI)).status == "accepted"
    assert [t.id for t in await service.open_for_worker("li")] == [ticket.id]
    assert await service.open_for_worker("wang") == []


async def test_return_to_duty_needs_a_known_reason_code(service: TicketService) -> None:
    ticket, _ = await service.open_ticket(new_ticket())
    with pytest.raises(DomainError) as bad:
        await service.return_to_duty(
            ticket.id, WANG, reason_code="lazy", reason="", duty_key="duty", duty_id=700
        )
    assert bad.value.code == "bad_reason_code"
    back = await service.return_to_duty(
        ticket.id,
        WANG,
        reason_code="not_my_grid",
        reason="5号楼不归我",
        duty_key="duty",
        duty_id=700,
    )
    assert (back.status, back.assignee_key, back.assignee_id) == ("returned", "duty", 700)
    event = (await service.history(ticket.id))[-1]
    assert (event.kind, event.detail["reason_code"]) == ("returned", "not_my_grid")
    duty = Actor(user_id=700, name="值班", worker_key="duty")
    with pytest.raises(DomainError) as again:
        await service.return_to_duty(
            ticket.id, duty, reason_code="other", reason="", duty_key="duty", duty_id=700
        )
    assert again.value.code == "already_with_duty"


SECRETARY = Actor(user_id=900, name="刘书记", worker_key="secretary", is_admin=True)


async def test_reject_records_the_reason_and_ends_the_ticket(service: TicketService) -> None:
    ticket, _ = await service.open_ticket(new_ticket())
    # A worker cannot refuse on their own: the secretary approves (see below) or refuses.
    with pytest.raises(DomainError) as alone:
        await service.reject(ticket.id, WANG, reason="属于私人纠纷，请走司法途径")
    assert alone.value.code == "reject_needs_approval"
    rejected = await service.reject(ticket.id, SECRETARY, reason="属于私人纠纷，请走司法途径")
    assert rejected.status == "rejected"
    assert rejected.next_check_at is None
    assert (await service.history(ticket.id))[-1].detail["reason"] == "属于私人纠纷，请走司法途径"
    with pytest.raises(DomainError) as finished:
        await service.accept(ticket.id, WANG)
    assert message_for(finished.value) == "工单 #1 已经结束（不予受理），不能再操作。"
    assert await service.open_for_worker("wang") == []


async def test_unsatisfied_reopens_to_the_same_worker_and_tells_the_office(
    service: TicketService, clock: FakeClock, db: Database
) -> None:
    ticket, _ = await service.open_ticket(new_ticket())
    await service.accept(ticket.id, WANG)
    await service.resolve(ticket.id, WANG, note="", photo=None)
    clock.advance(timedelta(hours=1))
    with pytest.raises(DomainError) as stranger:
        await service.rate(ticket.id, 4444, "satisfied")
    assert stranger.value.code == "not_rater"
    reopened = await service.rate(ticket.id, 1001, "unsatisfied")
    assert (reopened.status, reopened.assignee_key, reopened.rating) == (
        "reopened",
        "wang",
        "unsatisfied",
    )
    assert reopened.resolve_due_at == clock.now() + timedelta(days=3)
    sent = await outbox_texts(db, clock)
    assert any(chat == 900 and "不满意" in text and "#1" in text for chat, text in sent)
    assert any(chat == 501 and "重新办理" in text for chat, text in sent)
    with pytest.raises(DomainError) as twice:
        await service.rate(ticket.id, 1001, "unsatisfied")
    assert twice.value.code == "already_rated"
    # The worker resolves again without a new 接单, and the new resolution can be rated.
    again = await service.resolve(ticket.id, WANG, note="更换了配件", photo=None)
    assert again.status == "resolved" and again.rating is None
    assert (await service.rate(ticket.id, 1001, "satisfied")).status == "closed"


async def test_private_complaint_is_asked_privately(
    service: TicketService, db: Database, clock: FakeClock
) -> None:
    ticket, _ = await service.open_ticket(new_ticket(is_private=True, chat_id=1001, message_id=5))
    await service.accept(ticket.id, WANG)
    await service.resolve(ticket.id, WANG, note="", photo=None)
    items = await OutboxRepository(db).due(clock.now())
    assert [(i.chat_id, i.message.private, i.message.reply_to_message_id) for i in items] == [
        (1001, True, 5)
    ]


async def test_followers_raise_priority_are_told_and_may_rate(
    service: TicketService, db: Database, clock: FakeClock
) -> None:
    ticket, _ = await service.open_ticket(new_ticket())
    with pytest.raises(DomainError) as own:
        await service.follow(ticket.id, 1001, "刘阿姨", None)
    assert own.value.code == "own_ticket"
    await service.follow(ticket.id, 2001, "赵先生", 2001)
    with pytest.raises(DomainError) as twice:
        await service.follow(ticket.id, 2001, "赵先生", 2001)
    assert twice.value.code == "already_following"
    followed = await service.follow(ticket.id, 2002, "钱女士", None)
    assert (followed.follower_count, followed.priority) == (2, 0)
    raised = await service.follow(ticket.id, 2003, "孙大爷", 2003)
    assert (raised.follower_count, raised.priority) == (3, 1)
    assert "priority_raised" in [e.kind for e in await service.history(ticket.id)]

    await service.accept(ticket.id, WANG)
    await service.resolve(ticket.id, WANG, note="", photo=None)
    told = {i.chat_id for i in await OutboxRepository(db).due(clock.now())}
    assert told == {GROUP, 2001, 2003}  # 钱女士 left no private chat to reach her
    # A follower's rating is counted apart: it neither closes nor reopens the ticket.
    kept = await service.rate(ticket.id, 2003, "unsatisfied")
    assert kept.status == "resolved" and kept.rating is None
    with pytest.raises(DomainError) as again:
        await service.rate(ticket.id, 2003, "satisfied")
    assert again.value.code == "already_rated"
    closed = await service.rate(ticket.id, 1001, "satisfied")
    assert (closed.status, closed.rating) == ("closed", "satisfied")
    with pytest.raises(DomainError) as late:
        await service.rate(ticket.id, 1001, "unsatisfied")
    assert late.value.code == "already_rated"
    assert await FollowerRatings(db).of_ticket(ticket.id) == [(2003, "unsatisfied")]


async def test_higher_priority_tickets_come_first_for_the_worker(service: TicketService) -> None:
    quiet, _ = await service.open_ticket(new_ticket("msg:1"))
    loud, _ = await service.open_ticket(new_ticket("msg:2", building="5"))
    for user in (3001, 3002, 3003):
        await service.follow(loud.id, user, "居民", None)
    assert [t.id for t in await service.open_for_worker("wang")] == [loud.id, quiet.id]


async def test_find_similar_open_and_recent_by_reporter(
    service: TicketService, clock: FakeClock
) -> None:
    ticket, _ = await service.open_ticket(new_ticket())
    clock.advance(timedelta(seconds=40))
    same = await service.find_similar_open("幸福里", "elevator", "3", None, timedelta(days=3))
    assert [t.id for t in same] == [ticket.id]
    assert (
        await service.find_similar_open("幸福里", "elevator", "5", None, timedelta(days=3)) == []
    )
    assert await service.find_similar_open("幸福里", "noise", "3", None, timedelta(days=3)) == []
    assert (
        await service.find_similar_open("幸福里", "elevator", None, None, timedelta(days=3)) == []
    )
    burst = await service.recent_by_reporter(1001, "elevator", timedelta(minutes=1))
    assert [t.id for t in burst] == [ticket.id]
    clock.advance(timedelta(minutes=1))
    assert await service.recent_by_reporter(1001, "elevator", timedelta(minutes=1)) == []
    clock.advance(timedelta(days=4))
    assert (
        await service.find_similar_open("幸福里", "elevator", "3", None, timedelta(days=3)) == []
    )


async def test_mark_duplicate_makes_the_reporter_a_follower(service: TicketService) -> None:
    original, _ = await service.open_ticket(new_ticket("msg:1"))
    copy, _ = await service.open_ticket(
        new_ticket("msg:2", reporter_id=1002, reporter_name="周先生")
    )
    with pytest.raises(DomainError) as self_dup:
        await service.mark_duplicate(copy.id, WANG, of_ticket_id=copy.id)
    assert self_dup.value.code == "duplicate_of_self"
    dup = await service.mark_duplicate(copy.id, WANG, of_ticket_id=original.id)
    assert (dup.status, dup.duplicate_of) == ("duplicate", original.id)
    assert (await service.get(original.id)).follower_count == 1


async def test_reassign_keeps_the_promised_accept_time(
    service: TicketService, clock: FakeClock
) -> None:
    ticket, _ = await service.open_ticket(new_ticket())
    clock.advance(timedelta(minutes=5))
    moved = await service.reassign(ticket.id, "duty", 700, "worker unreachable")
    assert (moved.status, moved.assignee_key) == ("transferred", "duty")
    assert moved.accept_due_at == ticket.accept_due_at
    event = (await service.history(ticket.id))[-1]
    assert (event.kind, event.actor_role, event.actor_id) == ("reassigned", "system", None)


async def test_photos_card_and_reply(service: TicketService) -> None:
    ticket, _ = await service.open_ticket(new_ticket())
    await service.add_photo(ticket.id, 1001, "F9", "U9", "reporter")
    await service.add_photo(ticket.id, 1001, "F9", "U9", "reporter")  # a resend is kept once
    assert len(await service.photos(ticket.id)) == 1
    await service.set_card(ticket.id, 501, 3)
    await service.set_reply(ticket.id, 78)
    got = await service.get(ticket.id)
    assert (got.card_chat_id, got.card_message_id, got.reply_message_id) == (501, 3, 78)


async def test_history_cannot_be_rewritten(service: TicketService, db: Database) -> None:
    ticket, _ = await service.open_ticket(new_ticket())
    with pytest.raises(INTEGRITY_ERRORS):
        await db.execute("DELETE FROM ticket_events WHERE ticket_id = ?", (ticket.id,))


def test_bulk_outbox_rows_are_what_the_outbox_itself_writes() -> None:
    message = OutgoingMessage(
        text="【街乡吹哨】#3",
        buttons=((Button("收到，立即处理", "ack:3"),), (Button("a", "b"), Button("c", "d"))),
        reply_to_message_id=9,
        photo_png=b"\x89PNG",
        private=True,
        purpose="whistle",
        extra={"ticket_id": 3, "department": "water"},
    )
    assert OutgoingMessage.from_json(message.to_json()) == message


async def test_a_workers_reject_waits_for_an_admin_and_the_worker_hears_the_outcome(
    service: TicketService, db: Database, clock: FakeClock
) -> None:
    from storage.outbox import OutboxRepository

    ticket, _ = await service.open_ticket(new_ticket())
    request = await service.request_reject(ticket.id, WANG, reason="不属于社区", chat_id=501)
    assert (await service.get(ticket.id)).status == "new"
    with pytest.raises(DomainError) as twice:
        await service.request_reject(ticket.id, WANG, reason="再问一次", chat_id=501)
    assert twice.value.code == "reject_pending"
    with pytest.raises(DomainError):
        await service.decide_reject(request.id, WANG, approve=True)  # only an admin decides
    _, outcome = await service.decide_reject(request.id, SECRETARY, approve=False)
    assert outcome == "refused" and (await service.get(ticket.id)).status == "new"
    again = await service.request_reject(ticket.id, WANG, reason="确属私人纠纷", chat_id=501)
    done, outcome = await service.decide_reject(again.id, SECRETARY, approve=True)
    assert outcome == "approved" and done.status == "rejected"
    events = await service.history(ticket.id)
    assert [e.kind for e in events][-4:] == [
        "reject_requested",
        "reject_refused",
        "reject_requested",
        "rejected",
    ]
    assert events[-1].actor_id == 900 and events[-1].detail["requested_by"] == "wang"
    sent = await OutboxRepository(db).due(clock.now(), limit=50)
    to_admin = [i for i in sent if i.chat_id == 900]
    to_worker = [i.message.text for i in sent if i.chat_id == 501]
    assert len(to_admin) == 2 and "rja:" in to_admin[0].message.buttons[0][0].data
    assert any("没有同意" in t for t in to_worker) and any("批准" in t for t in to_worker)


async def test_a_note_on_a_private_complaint_is_told_privately_and_only_while_open(
    db: Database, clock: FakeClock, service: TicketService
) -> None:
    """A progress note of a complaint made privately reaches its reporter in private, never a
    group; only its holder (or an admin) notes or tells; a finished ticket takes no notes."""
    ticket, _ = await service.open_ticket(new_ticket(is_private=True, chat_id=None))
    with pytest.raises(DomainError) as refused:
        await service.add_note(ticket.id, LI, "我来看看")
    assert refused.value.code == "not_assignee"
    note_id = await service.add_note(ticket.id, WANG, "下午维修工上门，电话 13912345678")
    with pytest.raises(DomainError):
        await service.share_note(ticket.id, note_id, LI)
    await service.share_note(ticket.id, note_id, WANG)
    told = [(chat, text) for chat, text in await outbox_texts(db, clock) if "进展" in text]
    assert len(told) == 1 and told[0][0] == 1001
    assert "下午维修工上门" in told[0][1] and "13912345678" not in told[0][1]
    with pytest.raises(DomainError) as twice:
        await service.share_note(ticket.id, note_id, SECRETARY)
    assert twice.value.code == "note_shared"
    # Once the reporter has erased their data, nobody is left to tell privately.
    await db.execute("UPDATE tickets SET reporter_id = -7 WHERE id = ?", (ticket.id,))
    later = await service.add_note(ticket.id, WANG, "明天再来")
    with pytest.raises(DomainError) as gone:
        await service.share_note(ticket.id, later, WANG)
    assert gone.value.code == "reporter_forgotten" and message_for(gone.value)
    await service.accept(ticket.id, WANG)
    await service.resolve(ticket.id, WANG, note="修好了", photo=None)
    with pytest.raises(DomainError) as finished:
        await service.add_note(ticket.id, WANG, "再补一句")
    assert finished.value.code == "ticket_finished"
    assert message_for(finished.value)  # said in words
