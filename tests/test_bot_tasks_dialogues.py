"""Whole bot: dialogues that survive a restart, posts redrawn after a claim, video
proof, and a resident cancelling their own redemption request."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from bot import texts
from bot.services.clock import FakeClock
from bot.services.dialogues import DIALOGUE_TTL, DONE, Answer, DialogueService
from bot.services.errors import DomainError
from bot.services.flows import (
    PROOF,
    REASON,
    TASK,
    AwaitProof,
    AwaitReason,
    TaskForm,
    TaskRules,
)
from bot.services.residents import Person
from bot.services.task_forms import TaskDraft
from storage.db import Database
from tests.botkit import (
    GROUP,
    NEIGHBOUR,
    RESIDENT,
    SECRETARY,
    WORKER_LI,
    open_privates,
    populate,
    running_bot,
)
from tests.community_kit import (
    MONDAY_8AM,
    SECRETARY_ACTOR,
    button_data,
    community_config,
    only_domain_errors,
    open_ticket,
    press,
    run_schedule_job,
    say,
)
from tests.fastkit import offline_bot, offline_emulator
from tgsandbox import Emulator

LI = Person(WORKER_LI, "李娜", is_worker=True)

TZ = ZoneInfo("Asia/Shanghai")


async def _mark_last_update_unfinished(tmp_path: Path) -> None:
    """Make the inbox look as if the bot died after handling its last update, before marking it."""
    db = Database(tmp_path / "gridbot.sqlite3")
    await db.open()
    try:
        await db.execute(
            "UPDATE inbox SET status = 'pending', done_at = NULL"
            " WHERE update_id = (SELECT MAX(update_id) FROM inbox)"
        )
    finally:
        await db.close()


async def test_a_restart_mid_dialogue_continues_and_a_replayed_answer_counts_once(
    tmp_path: Path,
) -> None:
    clock = FakeClock(MONDAY_8AM)
    async with Emulator() as emu:
        populate(emu)
        async with running_bot(emu, tmp_path, clock=clock):
            await open_privates(emu, WORKER_LI)
            assert "第 1 步" in (await say(emu, WORKER_LI, WORKER_LI, "/task new")).text
            assert "第 2 步" in (await say(emu, WORKER_LI, WORKER_LI, "修剪小区绿篱")).text
            assert "第 3 步" in (await say(emu, WORKER_LI, WORKER_LI, "15")).text
        # The bot went down right after taking '15' and will see that update once more.
        await _mark_last_update_unfinished(tmp_path)
        seen = len(emu.sent(WORKER_LI))
        async with running_bot(emu, tmp_path, clock=clock) as bot:
            await bot.idle()
            assert len(emu.sent(WORKER_LI)) == seen, "the replayed answer is not taken again"
            assert "第 4 步" in (await say(emu, WORKER_LI, WORKER_LI, "11-30")).text
            assert "第 5 步" in (await say(emu, WORKER_LI, WORKER_LI, "3人")).text
            assert "第 6 步" in (await say(emu, WORKER_LI, WORKER_LI, "公开")).text
            published = await say(emu, WORKER_LI, WORKER_LI, "跳过")
            assert "已发布任务 #1「修剪小区绿篱」" in published.text
            assert "15 分" in published.text and "名额：3 人（余 3 个）" in published.text
            assert "11月30日 23:59" in published.text
            services = bot.state.require_services()
            assert await services.db.fetchval("SELECT COUNT(*) FROM tickets") == 0
            # The dialogue is over: the next private text is a complaint again, not an answer.
            assert await services.db.fetchval("SELECT step FROM conversations") == DONE


async def test_a_proof_and_a_return_reason_asked_before_a_restart_are_taken_after_it(
    tmp_path: Path,
) -> None:
    clock = FakeClock(MONDAY_8AM)
    async with Emulator() as emu:
        populate(emu)
        async with running_bot(emu, tmp_path, clock=clock) as bot:
            await open_privates(emu, WORKER_LI, RESIDENT)
            await say(emu, RESIDENT, RESIDENT, "/register 3 2 301")
            card = await say(emu, GROUP, WORKER_LI, "/task new 擦洗单元门 | 5")
            await press(emu, GROUP, RESIDENT, card, "claim:1")
            await emu.wait_for(RESIDENT, lambda m: "您已接下任务 #1" in m.text)
            ask = await say(emu, RESIDENT, RESIDENT, "/done 1")
            assert ask.text == texts.DONE_ASK_PROOF.format(task_id=1)
        async with running_bot(emu, tmp_path, clock=clock) as bot:
            await emu.send_photo(RESIDENT, RESIDENT)
            done = await emu.wait_for(RESIDENT, lambda m: "已提交" in m.text)
            assert done.text == texts.DONE_SUBMITTED.format(task_id=1)
            verify = await emu.wait_for(WORKER_LI, lambda m: "任务验收 #1" in m.text)
            await press(emu, WORKER_LI, WORKER_LI, verify, f"tno:1:{RESIDENT}")
            await emu.wait_for(WORKER_LI, lambda m: "退回任务 #1" in m.text)
        async with running_bot(emu, tmp_path, clock=clock) as bot:
            await emu.send_text(WORKER_LI, WORKER_LI, "门把手还没擦")
            told = await emu.wait_for(RESIDENT, lambda m: "被退回" in m.text)
            assert "门把手还没擦" in told.text
            await bot.idle()
            assert "已退回" in emu.message(WORKER_LI, verify.message_id).text
            services = bot.state.require_services()
            assert (await services.tasks.claims(1))[0].status == "returned"
            assert await services.db.fetchval("SELECT COUNT(*) FROM tickets") == 0


async def test_a_claim_redraws_the_pressed_post_and_takes_the_button_away_when_full(
    tmp_path: Path,
) -> None:
    async with offline_emulator() as emu:
        populate(emu)
        async with offline_bot(emu, tmp_path, clock=FakeClock(MONDAY_8AM)) as bot:
            await open_privates(emu, RESIDENT, NEIGHBOUR)
            await say(emu, RESIDENT, RESIDENT, "/register 3 2 301")
            await say(emu, NEIGHBOUR, NEIGHBOUR, "/register 3 2 302")
            card = await say(emu, GROUP, WORKER_LI, "/task new 搬运爱心物资 | 10 | 名额 2")
            await say(emu, GROUP, WORKER_LI, "/task new 清理信报箱 | 5")
            assert "名额：2 人（余 2 个）" in card.text

            assert "接单成功" in await press(emu, GROUP, RESIDENT, card, "claim:1")
            await bot.idle()
            card = emu.message(GROUP, card.message_id)
            assert "名额：2 人（余 1 个）" in card.text and button_data(card) == ["claim:1"]

            listing = await say(emu, GROUP, NEIGHBOUR, "/tasks")
            assert "2 个可接" in listing.text
            assert button_data(listing) == ["claim:1", "claim:2"]
            assert "接单成功" in await press(emu, GROUP, NEIGHBOUR, listing, "claim:1")
            await bot.idle()
            listing = emu.message(GROUP, listing.message_id)
            assert "1 个可接" in listing.text
            assert "#1「搬运爱心物资」· 积分：10 分 · 名额：2 人（已满）" in listing.text
            assert button_data(listing) == ["claim:2"]


async def test_a_claim_from_the_digest_updates_its_line_and_buttons(tmp_path: Path) -> None:
    clock = FakeClock(MONDAY_8AM)
    async with offline_emulator() as emu:
        populate(emu)
        async with offline_bot(emu, tmp_path, clock=clock) as bot:
            await open_privates(emu, RESIDENT)
            await say(emu, RESIDENT, RESIDENT, "/register 3 2 301")
            services = bot.state.require_services()
            await services.tasks.publish(LI, title="清理楼道杂物", points=10)
            await services.tasks.publish(LI, title="给花坛浇水", points=5, capacity=2)
            await open_ticket(bot, "facilities", "digest")
            clock.advance(timedelta(minutes=31))  # 08:31, past the 08:30 digest
            await run_schedule_job(bot)
            digest = await emu.wait_for(GROUP, lambda m: m.text.startswith("📋 每日简报"))
            assert "#1 清理楼道杂物 · 10分 · 余 1 个名额" in digest.text
            assert button_data(digest) == ["claim:1", "claim:2"]

            assert "接单成功" in await press(emu, GROUP, RESIDENT, digest, "claim:1")
            await bot.idle()
            after = emu.message(GROUP, digest.message_id)
            assert "#1 清理楼道杂物 · 10分 · 余 0 个名额" in after.text
            assert "#2 给花坛浇水 · 5分 · 余 2 个名额" in after.text
            assert "#1 公共设施" in after.text  # the morning's ticket report stays as it was
            assert button_data(after) == ["claim:2"]


async def test_a_video_is_accepted_as_proof_and_shown_to_the_verifier(tmp_path: Path) -> None:
    async with offline_emulator() as emu:
        populate(emu)
        async with offline_bot(emu, tmp_path, clock=FakeClock(MONDAY_8AM)) as bot:
            await open_privates(emu, WORKER_LI, RESIDENT)
            await say(emu, RESIDENT, RESIDENT, "/register 3 2 301")
            card = await say(emu, GROUP, WORKER_LI, "/task new 陪老人散步 | 10")
            await press(emu, GROUP, RESIDENT, card, "claim:1")
            await emu.wait_for(RESIDENT, lambda m: "您已接下任务 #1" in m.text)

            await say(emu, RESIDENT, RESIDENT, "/done 1")
            sent = await emu.send_video(RESIDENT, RESIDENT, duration=12)
            done = await emu.wait_for(RESIDENT, lambda m: "已提交" in m.text)
            assert done.text == texts.DONE_SUBMITTED.format(task_id=1)

            shown = await emu.wait_for(WORKER_LI, lambda m: m.video is not None)
            assert shown.video is not None
            assert shown.video["file_id"] == sent["video"]["file_id"]
            assert shown.video["duration"] == 12
            verify = await emu.wait_for(WORKER_LI, lambda m: "任务验收 #1" in m.text)
            assert texts.VERIFY_VIDEO_NOTE.strip() in verify.text
            await press(emu, WORKER_LI, WORKER_LI, verify, f"tok:1:{RESIDENT}")
            await emu.wait_for(RESIDENT, lambda m: "验收通过" in m.text)
            services = bot.state.require_services()
            [claim] = await services.tasks.claims(1)
            assert claim.proof == (sent["video"]["file_id"],)
            assert await services.points.balance(RESIDENT) == 10
            assert await services.db.fetchval("SELECT COUNT(*) FROM tickets") == 0


async def test_a_resident_cancels_their_pending_redemption(tmp_path: Path) -> None:
    async with offline_emulator() as emu:
        populate(emu)
        async with offline_bot(
            emu,
            tmp_path,
            clock=FakeClock(MONDAY_8AM),
            config=community_config(tmp_path),
            expect_errors=True,
        ) as bot:
            await open_privates(emu, RESIDENT, NEIGHBOUR, SECRETARY)
            services = bot.state.require_services()
            await services.points.correct(SECRETARY_ACTOR, RESIDENT, 30, "测试", name="周大爷")
            catalogue = await say(emu, RESIDENT, RESIDENT, "/redeem")
            await press(emu, RESIDENT, RESIDENT, catalogue, "redeem:soap")
            mine = await emu.wait_for(RESIDENT, lambda m: "兑换申请 #1" in m.text)
            assert "洗衣皂" in mine.text and button_data(mine) == ["rdcancel:1"]
            assert await services.points.balance(RESIDENT) == 20
            stock = {i.code: i.stock for i in await services.redemption.catalogue()}
            assert stock["soap"] == 0

            # Nobody else can cancel it.
            theirs = await say(emu, NEIGHBOUR, NEIGHBOUR, "/redeem")
            forged = await press(emu, NEIGHBOUR, NEIGHBOUR, theirs, "rdcancel:1", check=False)
            assert forged == texts.ERRORS["not_allowed"]

            answer = await press(emu, RESIDENT, RESIDENT, mine, "rdcancel:1")
            assert answer == texts.REDEEM_ANSWER_CANCELLED
            await bot.idle()
            mine = emu.message(RESIDENT, mine.message_id)
            assert "已取消" in mine.text and "10 分已退回" in mine.text and mine.buttons == []
            told = await emu.wait_for(SECRETARY, lambda m: "已由本人取消" in m.text)
            assert "#1" in told.text
            assert await services.points.balance(RESIDENT) == 30
            stock = {i.code: i.stock for i in await services.redemption.catalogue()}
            assert stock["soap"] == 1
            rows = await services.db.fetchall(
                "SELECT delta, kind FROM points_ledger WHERE user_id = ? ORDER BY id", (RESIDENT,)
            )
            assert [(r["delta"], r["kind"]) for r in rows] == [
                (30, "correction"),
                (-10, "redemption"),
                (10, "refund"),
            ]
            assert await services.points.check_balances() == []

            # Once an admin approved a request, the resident's button no longer cancels it.
            await press(emu, RESIDENT, RESIDENT, catalogue, "redeem:tissue")
            second = await emu.wait_for(RESIDENT, lambda m: "兑换申请 #2" in m.text)
            await services.redemption.approve(SECRETARY_ACTOR, 2)
            late = await press(emu, RESIDENT, RESIDENT, second, "rdcancel:2")
            assert late == texts.ERRORS["redeem_cancel_too_late"].format(redemption_id=2)
            assert await services.points.balance(RESIDENT) == 0
        assert only_domain_errors(bot) == ["not_allowed", "redeem_cancel_too_late"]


async def test_dialogues_expire_and_a_refused_last_step_ends_the_dialogue(
    db: Database, clock: FakeClock
) -> None:
    store = DialogueService(db, clock)
    form = TaskForm(TaskDraft(), None)
    await store.move(TASK, WORKER_LI, WORKER_LI, "points", form, message_id=7)
    # A button press (no message) in the same chat keeps the answer already taken.
    waiting = AwaitReason("task", 1, RESIDENT, WORKER_LI, 0, 0, "", False)
    await store.start(REASON, WORKER_LI, WORKER_LI, waiting, message_id=0)
    found = await store.current(WORKER_LI, WORKER_LI)
    assert found is not None and (found.flow, found.last_message_id) == ("reason", 7)
    assert REASON.data_of(found) == waiting

    async def refused() -> None:
        await db.execute("INSERT INTO kv (key, value, updated_at) VALUES ('x', 'y', 'z')")
        raise DomainError("task_full", task_id=1)

    with pytest.raises(DomainError):
        await store.finish(REASON.name, WORKER_LI, WORKER_LI, 8, refused)
    assert await db.fetchval("SELECT COUNT(*) FROM kv WHERE key = 'x'") == 0  # rolled back
    closed = await store.current(WORKER_LI, WORKER_LI)
    assert closed is not None and not closed.is_open and closed.last_message_id == 8

    # One dialogue per person and chat: a proof awaited in the group leaves the private one be.
    await store.start(PROOF, WORKER_LI, GROUP, AwaitProof(1, GROUP), message_id=3)
    assert (await store.current(WORKER_LI, WORKER_LI)) is not None
    await store.close_open(PROOF.name, WORKER_LI)
    in_group = await store.current(WORKER_LI, GROUP)
    assert in_group is not None and not in_group.is_open and in_group.last_message_id == 3

    await store.start(PROOF, RESIDENT, GROUP, AwaitProof(1, GROUP), message_id=3)
    clock.advance(DIALOGUE_TTL + timedelta(seconds=1))
    assert await store.current(RESIDENT, GROUP) is None
    await store.start(PROOF, NEIGHBOUR, GROUP, AwaitProof(2, GROUP))
    assert await db.fetchval("SELECT COUNT(*) FROM conversations") == 1  # the old ones are gone


def test_the_task_dialogue_reads_as_its_table_of_states() -> None:
    rules = TaskRules(("easy", "normal"), datetime(2026, 11, 20, 2, tzinfo=UTC), TZ)
    form = TaskForm(TaskDraft(), "g1")
    step, seen = TASK.first, [TASK.first]
    answers = [
        ("清理楼道", "长" * 61),
        ("10", "很多"),
        ("11-30", "11-19"),  # a deadline already past is refused
        ("2", "几个"),
        ("公开", "面向"),
        ("地点 3号楼 | 时长 2", "时长 半天"),
    ]
    for answer, wrong in answers:
        refused = TASK.advance(step, Answer(wrong), form, rules)
        assert not refused.understood and refused.step == step
        assert refused.ask == TASK.steps[step].ask(rules)
        moved = TASK.advance(step, Answer(answer), form, rules)
        assert moved.understood
        step, form = moved.step, moved.data
        seen.append(step)
    assert seen == ["title", "points", "deadline", "capacity", "audience", "extras", DONE]
    draft = form.draft
    assert (draft.title, draft.points, draft.capacity, draft.location, draft.hours) == (
        "清理楼道",
        10,
        2,
        "3号楼",
        2.0,
    )
    assert draft.deadline is not None and draft.deadline.astimezone(TZ).day == 30
    assert TASK.load(TASK.dump(form)) == form
