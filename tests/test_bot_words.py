"""Words people see: no code, key or role name; each ending of a ticket looks like itself."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from bot import texts
from bot.services import lifecycle as lc
from bot.services.cards import timeline, worker_card
from bot.services.clock import FakeClock
from bot.services.escalation import late_text
from bot.services.rates import UNKNOWN_KEY, RateRow, format_rates
from storage.schedule import OPEN_TICKET_STATUSES
from storage.tickets import TicketEvent
from tests.botkit import (
    GROUP,
    RESIDENT,
    SECRETARY,
    WORKER_LI,
    open_privates,
    populate,
)
from tests.community_kit import MONDAY_8AM, open_ticket, run_schedule_job
from tests.fastkit import offline_bot, offline_emulator

pytestmark = pytest.mark.both_stores

SHANGHAI = ZoneInfo("Asia/Shanghai")
DIGEST = "📋 每日简报"


def test_every_state_and_code_has_its_words() -> None:
    assert set(texts.TICKET_STATE_LABELS) >= lc.STATES
    assert set(OPEN_TICKET_STATUSES) == lc.OPEN_STATES
    assert set(texts.POSTS_TICKET_STATUS_NAMES) >= lc.OPEN_STATES
    assert set(texts.CARD_FINAL_ICONS) >= lc.TERMINAL


async def test_the_digest_leaves_out_withdrawn_tickets(tmp_path: Path) -> None:
    clock = FakeClock(MONDAY_8AM)
    async with offline_emulator() as emu:
        populate(emu)
        async with offline_bot(emu, tmp_path, clock=clock) as bot:
            services = bot.state.require_services()
            kept = await open_ticket(bot, "facilities", "lift")
            gone = await open_ticket(bot, "pets", "dog", building="6", grid="g2", reporter_id=3002)
            await services.tickets.withdraw(gone, 3002, within=timedelta(minutes=5))
            clock.set(datetime(2026, 11, 23, 0, 31, tzinfo=UTC))  # 08:31 in Shanghai
            await run_schedule_job(bot)
            digest = await emu.wait_for(GROUP, lambda m: m.text.startswith(DIGEST))
            number = (await services.tickets.get(kept)).number
    assert f"#{number} 公共设施" in digest.text
    assert "withdrawn" not in digest.text and "文明养宠" not in digest.text
    assert texts.DIGEST_TICKETS_HEAD.format(count=1, overdue=0) in digest.text


def _event(kind: str, **detail: str) -> TicketEvent:
    at = datetime(2026, 11, 23, 2, 0, tzinfo=UTC)
    return TicketEvent(1, 1, at, 3001, "reporter", kind, None, "new", dict(detail))


def test_the_timeline_names_categories_and_workers() -> None:
    events = [
        _event("opened", category="fire_safety"),
        _event("transferred", to_worker="zhang", reason="不归本网格"),
        _event("transferred", to_worker="zhang"),
    ]
    names = {"zhang": "张伟"}
    text = timeline(
        events,
        tz=SHANGHAI,
        who=lambda e: texts.TIMELINE_REPORTER,
        category_name=lambda code: {"fire_safety": "消防安全"}.get(code, code),
        worker_name=lambda key: names.get(key, key),
    )
    assert "反映人反映问题（消防安全）" in text
    assert "（张伟）" in text
    assert "fire_safety" not in text and "zhang" not in text
    # Without the community's names, the default Chinese names still show.
    plain = timeline(events[:1], tz=SHANGHAI, who=lambda e: "")
    assert "fire_safety" not in plain and texts.POSTS_CATEGORY_NAMES["fire_safety"] in plain


def test_stats_names_the_row_of_tickets_without_a_grid() -> None:
    row = RateRow(UNKNOWN_KEY, 2, 1, 1, 1.0, 1, 0.5, 1, 1, 0, 1.0, None, None, 0)
    text = format_rates([row], date(2026, 11, 1), date(2026, 11, 30), "grid", {"g1": "第一网格"})
    assert "\n未分网格：" in text and "\n-：" not in text
    worker = format_rates([row], date(2026, 11, 1), date(2026, 11, 30), "worker")
    assert "\n未派单：" in worker


def test_late_is_never_zero_minutes() -> None:
    assert late_text(timedelta(seconds=0)) == "不到 1 分钟"
    assert late_text(timedelta(seconds=20)) == "不到 1 分钟"
    assert late_text(timedelta(minutes=5, seconds=1)) == "5 分钟"
    assert late_text(timedelta(hours=3)) == "3 小时"


async def test_finished_cards_differ_and_presses_say_what_happened(tmp_path: Path) -> None:
    async with offline_emulator(privacy_mode=False) as emu:
        populate(emu)
        async with offline_bot(emu, tmp_path, clock=FakeClock(MONDAY_8AM)) as bot:
            await open_privates(emu, WORKER_LI, RESIDENT)
            await emu.send_text(GROUP, RESIDENT, "4号楼电梯又坏了，关人了！快来人")
            card = await emu.wait_for(WORKER_LI, lambda m: "工单 #1" in m.text)
            qid = await emu.press_button(WORKER_LI, WORKER_LI, card.message_id, "acc:1")
            answer = await emu.wait_for_answer(qid)
            assert answer.text == texts.DONE_ACCEPTED.format(number=1)
            base = await bot.state.require_services().tickets.get(1)
    icons = set()
    for status in sorted(lc.TERMINAL):
        text, _ = worker_card(
            replace(base, status=status), category="公共设施", worker="李娜", tz=SHANGHAI
        )
        icons.add(text.split()[0])
    assert len(icons) == len(lc.TERMINAL)  # 关闭, 不予受理, 重复, 撤回: no two alike


async def test_the_timeline_names_people_never_their_role_code(tmp_path: Path) -> None:
    from bot.handlers.worker import _who

    async with offline_emulator() as emu:
        populate(emu)
        async with offline_bot(emu, tmp_path, clock=FakeClock(MONDAY_8AM)) as bot:
            services = bot.state.require_services()
            ticket = await services.tickets.get(await open_ticket(bot, "facilities", "lift"))
    who = _who(services, ticket)
    by_secretary = replace(_event("accepted"), actor_id=SECRETARY, actor_role="admin")
    assert who(by_secretary) == "刘书记"
    stranger = replace(_event("accepted"), actor_id=999, actor_role="admin")
    assert who(stranger) == texts.TIMELINE_ROLE_NAMES["admin"]
