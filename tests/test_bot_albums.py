"""Whole bot: several photos sent at once (an album: a message each, the words on the first)."""

from __future__ import annotations

from pathlib import Path

from bot import texts
from bot.services.clock import FakeClock
from tests.botkit import (
    DUTY,
    GROUP,
    RESIDENT,
    SECRETARY,
    WORKER_LI,
    WORKER_ZHANG,
    open_privates,
    populate,
)
from tests.community_kit import MONDAY_8AM, community_config, press, say
from tests.fastkit import offline_bot, offline_emulator

STAFF = (WORKER_LI, WORKER_ZHANG, DUTY, SECRETARY)
CLUTTER = "3号楼楼道里堆满了杂物，过不去人"


def photo_count(card_text: str) -> str:
    return next(line for line in card_text.splitlines() if line.startswith("📷"))


async def test_an_album_with_a_complaint_is_one_ticket_with_every_photo(
    tmp_path: Path, clock: FakeClock
) -> None:
    async with offline_emulator(privacy_mode=False) as emu:
        populate(emu)
        async with offline_bot(emu, tmp_path, clock=clock) as bot:
            await open_privates(emu, *STAFF, RESIDENT)
            before = len(emu.sent(RESIDENT))
            await emu.send_album(RESIDENT, RESIDENT, 3, CLUTTER)
            await emu.wait_for(WORKER_LI, lambda m: "工单 #1" in m.text)
            await bot.idle()
            said = [m.text for m in emu.sent(RESIDENT)[before:]]
            assert len(said) == 1 and "登记为 #1" in said[0]  # one answer, not one a photo
            card = [m for m in emu.sent(WORKER_LI) if "工单 #1" in m.text][-1]
            assert photo_count(emu.message(WORKER_LI, card.message_id).text) == "📷 照片 3 张"
            assert len([m for m in emu.sent(WORKER_LI) if m.photo]) == 3  # the worker sees all
            services = bot.state.require_services()
            assert len(await services.tickets.photos(1)) == 3


async def test_an_album_in_the_group_is_one_acknowledgement(
    tmp_path: Path, clock: FakeClock
) -> None:
    async with offline_emulator(privacy_mode=False) as emu:
        populate(emu)
        async with offline_bot(emu, tmp_path, clock=clock) as bot:
            await open_privates(emu, *STAFF)
            await emu.send_album(GROUP, RESIDENT, 4, CLUTTER)
            await emu.wait_for(WORKER_LI, lambda m: "工单 #1" in m.text)
            await bot.idle()
            assert len([m for m in emu.sent(GROUP) if "登记为 #1" in m.text]) == 1
            assert len(emu.sent(GROUP)) == 1
            assert len(await bot.state.require_services().tickets.photos(1)) == 4


async def test_an_album_of_a_nice_evening_says_nothing_in_the_group(
    tmp_path: Path, clock: FakeClock
) -> None:
    async with offline_emulator(privacy_mode=False) as emu:
        populate(emu)
        async with offline_bot(emu, tmp_path, clock=clock) as bot:
            await open_privates(emu, *STAFF)
            await emu.send_album(GROUP, RESIDENT, 3, "今天小区的晚霞真好看，大家看看")
            await emu.send_album(GROUP, RESIDENT, 2)  # no words at all
            await bot.idle()
            assert emu.sent(GROUP) == []
            assert await bot.state.require_services().tickets.by_number("幸福里社区", 1) is None


async def test_an_album_without_words_is_asked_about_once(
    tmp_path: Path, clock: FakeClock
) -> None:
    async with offline_emulator(privacy_mode=False) as emu:
        populate(emu)
        async with offline_bot(emu, tmp_path, clock=clock) as bot:
            await open_privates(emu, RESIDENT)
            before = len(emu.sent(RESIDENT))
            await emu.send_album(RESIDENT, RESIDENT, 3)
            await bot.idle()
            assert [m.text for m in emu.sent(RESIDENT)[before:]] == [texts.PRIVATE_NOT_UNDERSTOOD]
            await emu.send_photo(RESIDENT, RESIDENT)  # a photo on its own, later: asked again
            await bot.idle()
            assert [m.text for m in emu.sent(RESIDENT)[before:]] == [
                texts.PRIVATE_NOT_UNDERSTOOD
            ] * 2


async def test_an_albums_photos_wait_with_its_question_and_join_the_ticket(
    tmp_path: Path, clock: FakeClock
) -> None:
    async with offline_emulator(privacy_mode=False) as emu:
        populate(emu)
        async with offline_bot(emu, tmp_path, clock=clock) as bot:
            await open_privates(emu, *STAFF, RESIDENT)
            before = len(emu.sent(RESIDENT))
            await emu.send_album(RESIDENT, RESIDENT, 3, "你们看看8号楼这个")
            question = await emu.wait_for(RESIDENT, lambda m: bool(m.buttons), after=before)
            await bot.idle()
            assert len(emu.sent(RESIDENT)) == before + 1  # asked once
            services = bot.state.require_services()
            choice = question.button(services.category_name("facilities"))
            await emu.press_button(RESIDENT, RESIDENT, question.message_id, choice.callback_data)
            card = await emu.wait_for(WORKER_ZHANG, lambda m: "工单 #1" in m.text)
            await bot.idle()
            assert photo_count(emu.message(WORKER_ZHANG, card.message_id).text) == "📷 照片 3 张"
            assert len([m for m in emu.sent(WORKER_ZHANG) if m.photo]) == 3
            assert len(await services.tickets.photos(1)) == 3


async def test_a_workers_before_and_after_photos_at_once_all_join_the_resolved_ticket(
    tmp_path: Path, clock: FakeClock
) -> None:
    async with offline_emulator(privacy_mode=False) as emu:
        populate(emu)
        async with offline_bot(emu, tmp_path, clock=clock) as bot:
            await open_privates(emu, *STAFF, RESIDENT)
            await emu.send_text(GROUP, RESIDENT, "4号楼楼道灯坏了")
            card = await emu.wait_for(WORKER_LI, lambda m: "工单 #1" in m.text)
            await emu.press_button(WORKER_LI, WORKER_LI, card.message_id, "acc:1")
            await emu.wait_for(GROUP, lambda m: "已接单" in m.text)
            await emu.press_button(WORKER_LI, WORKER_LI, card.message_id, "res:1")
            await emu.wait_for(WORKER_LI, lambda m: m.text == texts.RESOLVE_NOTE)
            before = len(emu.sent(WORKER_LI))
            await emu.send_album(WORKER_LI, WORKER_LI, 3, "灯泡换好了，前后对比")
            await emu.wait_for(GROUP, lambda m: "请评价" in m.text)
            await bot.idle()
            said = [m.text for m in emu.sent(WORKER_LI)[before:] if m.text]
            assert texts.PRIVATE_NOT_UNDERSTOOD not in said
            assert texts.STAFF_NOT_UNDERSTOOD not in said
            services = bot.state.require_services()
            photos = await services.tickets.photos(1)
            assert [p.role for p in photos] == ["worker"] * 3
            live = emu.message(WORKER_LI, card.message_id)
            assert photo_count(live.text) == "📷 照片 3 张"


async def test_a_task_proof_sent_as_an_album_is_one_proof_and_no_stray_answer(
    tmp_path: Path,
) -> None:
    async with offline_emulator() as emu:
        populate(emu)
        clock = FakeClock(MONDAY_8AM)
        async with offline_bot(
            emu, tmp_path, clock=clock, config=community_config(tmp_path)
        ) as bot:
            await open_privates(emu, WORKER_LI, RESIDENT)
            await say(emu, RESIDENT, RESIDENT, "/register 3 2 301")
            card = await say(emu, GROUP, WORKER_LI, "/task new 更换楼道灯泡 | 10 | 名额 1")
            await press(emu, GROUP, RESIDENT, card, "claim:1")
            card2 = await say(emu, GROUP, WORKER_LI, "/task new 清理小广告 | 10 | 名额 1")
            await press(emu, GROUP, RESIDENT, card2, "claim:2")
            await say(emu, RESIDENT, RESIDENT, "/done 1")
            before = len(emu.sent(RESIDENT))
            await emu.send_album(RESIDENT, RESIDENT, 3, "换好了")
            await emu.wait_for(RESIDENT, lambda m: "已提交任务 #1" in m.text)
            await bot.idle()
            assert [m.text for m in emu.sent(RESIDENT)[before:]] == [
                texts.DONE_SUBMITTED.format(task_id=1)
            ]
            claims = {
                c.task_id: c.status
                for c in await bot.state.require_services().tasks.claims_of(RESIDENT)
            }
            assert claims == {1: "submitted", 2: "claimed"}  # the album proved task 1 only
