"""Whole bot: one deployment for a street office, several communities kept apart."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from bot import texts
from bot.cli.run import config_problems, example_problem
from bot.services.clock import FakeClock
from tests.botkit import (
    DUTY,
    EXAMPLE_CONFIG,
    GROUP,
    NEIGHBOUR,
    RESIDENT,
    SECRETARY,
    WORKER_LI,
    open_privates,
    populate,
    settings_for,
)
from tests.fastkit import offline_bot, offline_emulator
from tgsandbox import Emulator

pytestmark = pytest.mark.both_stores

A = "幸福里社区"
B = "和谐家园社区"
GROUP_B = -1002000000001
B_LI = 4001  # B's grid worker of g1: the same key "li" as A's, another person
B_SECRETARY = 4020
STAFF = 5001  # the street office: sees every community
NEWCOMER = 3009  # belongs to no community yet
LIFT = "4号楼电梯又坏了，关人了！快来人"


def community_b(example: str | None = None) -> str:
    """The example community renamed, its own groups and people; 赵强 (duty) works in both."""
    example = EXAMPLE_CONFIG.read_text(encoding="utf-8") if example is None else example
    text = example.replace(A, B).replace("李娜", "钱芳")
    text = text.replace("-10010000000", "-10020000000")
    return re.sub(
        r"telegram_id = 20(\d\d)",
        lambda m: m.group(0) if m.group(1) == "12" else f"telegram_id = 40{m.group(1)}",
        text,
    )


def street_folder(tmp_path: Path) -> Path:
    folder = tmp_path / "communities"
    folder.mkdir()
    (folder / "xingfuli.toml").write_text(
        EXAMPLE_CONFIG.read_text(encoding="utf-8"), encoding="utf-8"
    )
    (folder / "hexie.toml").write_text(community_b(), encoding="utf-8")
    (folder / "street.toml").write_text(
        '[street]\nname = "和平街道办事处"\n\n[[staff]]\nname = "街道孙主任"\n'
        f"telegram_id = {STAFF}\n",
        encoding="utf-8",
    )
    return folder


def populate_street(emu: Emulator) -> None:
    populate(emu)
    for user_id, name in ((B_LI, "钱芳"), (B_SECRETARY, "吴书记"), (STAFF, "孙主任")):
        emu.add_user(user_id, name)
    emu.add_user(NEWCOMER, "新来的")
    members = (B_LI, B_SECRETARY, DUTY, RESIDENT, NEIGHBOUR)
    emu.add_group(GROUP_B, "和谐家园业主群", supergroup=True, members=members)
    emu.add_group(-1003000000001, "没绑定的群", supergroup=True, members=(RESIDENT, NEWCOMER))


async def test_each_community_numbers_routes_and_keeps_its_own_tickets(
    tmp_path: Path, clock: FakeClock
) -> None:
    async with offline_emulator(privacy_mode=False) as emu:
        populate_street(emu)
        async with offline_bot(emu, tmp_path, clock=clock, config=street_folder(tmp_path)) as bot:
            street = bot.state.require_street()
            assert street.names() == [B, A]
            await open_privates(emu, WORKER_LI, B_LI, DUTY, SECRETARY, B_SECRETARY)

            await emu.send_text(GROUP, RESIDENT, LIFT)
            card_a = await emu.wait_for(WORKER_LI)
            await emu.send_text(GROUP_B, RESIDENT, LIFT)
            card_b = await emu.wait_for(B_LI)
            # Each community numbers its own tickets and routes to its own worker "li".
            assert "工单 #1" in card_a.text and "工单 #1" in card_b.text
            ack_b = await emu.wait_for(GROUP_B)
            assert "#1" in ack_b.text and "钱芳" in ack_b.text
            assert [m for m in emu.sent(B_LI) if "工单 #" in m.text] == [card_b]
            a, b = street.get(A), street.get(B)
            assert a is not None and b is not None
            ticket_a = await a.tickets.by_number(A, 1)
            ticket_b = await b.tickets.by_number(B, 1)
            assert ticket_a is not None and ticket_b is not None
            assert ticket_a.id != ticket_b.id
            # A community never sees the other's ticket, even by its id.
            with pytest.raises(Exception, match="ticket_not_found"):
                await a.tickets.get(ticket_b.id)

            # B's worker accepts B's ticket from B's card: it acts in B.
            await emu.press_button(B_LI, B_LI, card_b.message_id, f"acc:{ticket_b.id}")
            accepted = await emu.wait_for(GROUP_B)
            assert accepted.text == texts.ACCEPTED_GROUP.format(number=1, worker="钱芳")
            assert (await b.tickets.get(ticket_b.id)).status == "accepted"
            assert (await a.tickets.get(ticket_a.id)).status != "accepted"

            # A forged press on B's card naming A's ticket finds nothing in B.
            await emu.press_button(
                B_LI, B_LI, card_b.message_id, f"acc:{ticket_a.id}", check=False
            )
            await bot.idle()
            assert (await a.tickets.get(ticket_a.id)).status != "accepted"


async def test_a_person_of_two_communities_chooses_where_to_act_privately(
    tmp_path: Path, clock: FakeClock
) -> None:
    async with offline_emulator(privacy_mode=False) as emu:
        populate_street(emu)
        async with offline_bot(emu, tmp_path, clock=clock, config=street_folder(tmp_path)) as bot:
            await open_privates(emu, DUTY, NEWCOMER)
            before = len(emu.sent(DUTY))
            await emu.send_text(DUTY, DUTY, "/stats")
            asked = await emu.wait_for(DUTY, after=before)
            assert asked.text == texts.STREET_CHOOSE.format(names=f"{B}、{A}")

            before = len(emu.sent(DUTY))
            await emu.send_text(DUTY, DUTY, "/community 和谐")
            chosen = await emu.wait_for(DUTY, after=before)
            assert chosen.text == texts.STREET_CHOSEN.format(name=B)
            before = len(emu.sent(DUTY))
            await emu.send_text(DUTY, DUTY, "/community")
            shown = await emu.wait_for(DUTY, after=before)
            assert f"当前办理的是：{B}" in shown.text

            # Someone no community knows is told how to reach theirs, in no community's name.
            before = len(emu.sent(NEWCOMER))
            hello = await emu.send_text(NEWCOMER, NEWCOMER, "你好")
            told = await emu.wait_for(NEWCOMER, after=before)
            assert told.text == texts.STREET_WHO_ARE_YOU.format(street="和平街道办事处")
            # Their edit of that message is not answered a second time.
            await emu.edit_text(NEWCOMER, NEWCOMER, hello["message_id"], "你好啊")
            await bot.idle()
            assert len(emu.sent(NEWCOMER)) == before + 1
            # A resident says where they live; their private report is then that community's.
            before = len(emu.sent(NEWCOMER))
            await emu.send_text(NEWCOMER, NEWCOMER, f"/community {B}")
            assert (await emu.wait_for(NEWCOMER, after=before)).text == texts.STREET_CHOSEN.format(
                name=B
            )
            before = len(emu.sent(NEWCOMER))
            await emu.send_text(NEWCOMER, NEWCOMER, "/community")
            shown = await emu.wait_for(NEWCOMER, after=before)
            assert f"当前办理的是：{B}" in shown.text and A in shown.text


async def test_a_group_no_community_owns_stays_quiet_unless_spoken_to(
    tmp_path: Path, clock: FakeClock
) -> None:
    unbound = -1003000000001
    async with offline_emulator(privacy_mode=False) as emu:
        populate_street(emu)
        async with offline_bot(emu, tmp_path, clock=clock, config=street_folder(tmp_path)) as bot:
            await emu.send_text(unbound, NEWCOMER, LIFT)
            await bot.idle()
            assert emu.sent(unbound) == []
            await emu.send_text(unbound, NEWCOMER, "/report 楼道灯坏了")
            answer = await emu.wait_for(unbound)
            assert answer.text == texts.STREET_GROUP_UNBOUND


async def test_street_staff_see_every_community_side_by_side(
    tmp_path: Path, clock: FakeClock
) -> None:
    async with offline_emulator(privacy_mode=False) as emu:
        populate_street(emu)
        async with offline_bot(emu, tmp_path, clock=clock, config=street_folder(tmp_path)):
            await open_privates(emu, WORKER_LI, B_LI, STAFF, SECRETARY)
            await emu.send_text(GROUP, RESIDENT, LIFT)
            await emu.wait_for(WORKER_LI)
            await emu.send_text(GROUP, NEIGHBOUR, "8号楼门口的路灯坏了好几天了，晚上看不见")
            await emu.send_text(GROUP_B, RESIDENT, LIFT)
            await emu.wait_for(B_LI)

            before = len(emu.sent(STAFF))
            await emu.send_text(STAFF, STAFF, "/stats")
            stats = await emu.wait_for(STAFF, after=before)
            assert "和平街道办事处：工单 3 件" in stats.text
            assert f"{A}：工单 2 件" in stats.text and f"{B}：工单 1 件" in stats.text
            assert texts.STATS_BY_COMMUNITIES in stats.text

            # A community's secretary sees only their own community.
            before = len(emu.sent(SECRETARY))
            await emu.send_text(SECRETARY, SECRETARY, "/stats")
            own = await emu.wait_for(SECRETARY, after=before)
            assert "工单 2 件" in own.text and B not in own.text and "工单 3 件" not in own.text


async def test_a_community_added_or_changed_without_a_restart_of_the_others(
    tmp_path: Path, clock: FakeClock
) -> None:
    folder = street_folder(tmp_path)
    (folder / "hexie.toml").rename(tmp_path / "hexie.toml.later")
    async with offline_emulator(privacy_mode=False) as emu:
        populate_street(emu)
        async with offline_bot(emu, tmp_path, clock=clock, config=folder) as bot:
            street = bot.state.require_street()
            await open_privates(emu, B_LI)
            a_before = street.get(A)
            assert street.names() == [A]
            await emu.send_text(GROUP_B, RESIDENT, LIFT)
            await bot.idle()
            assert emu.sent(GROUP_B) == []  # nobody's group yet

            (tmp_path / "hexie.toml.later").rename(folder / "hexie.toml")
            result = await street.reload()
            assert result.added == (B,) and not result.changed and not result.removed
            assert street.get(A) is a_before  # A was not rebuilt
            await emu.send_text(GROUP_B, RESIDENT, LIFT)
            card = await emu.wait_for(B_LI)
            assert "工单 #1" in card.text

            # B's file changes (a new grid worker name): only B is rebuilt.
            path = folder / "hexie.toml"
            path.write_text(
                path.read_text(encoding="utf-8").replace("钱芳", "钱小芳"), encoding="utf-8"
            )
            result = await street.reload()
            assert result.changed == (B,) and street.get(A) is a_before
            b = street.get(B)
            assert b is not None and b.worker_name("li") == "钱小芳"

            # A broken file leaves its community as it was and says why.
            path.write_text("[community\nname =", encoding="utf-8")
            result = await street.reload()
            assert result.failed and "hexie.toml" in result.failed[0]
            assert street.get(B) is b


async def test_a_refused_message_is_told_to_the_admins_of_the_community_that_sent_it(
    tmp_path: Path, clock: FakeClock
) -> None:
    async with offline_emulator(privacy_mode=False) as emu:
        populate_street(emu)
        async with offline_bot(emu, tmp_path, clock=clock, config=street_folder(tmp_path)) as bot:
            await open_privates(emu, WORKER_LI, B_LI, SECRETARY, B_SECRETARY)
            emu.fail_next("sendMessage", 400, "Bad Request: can't parse entities", chat_id=B_LI)
            await emu.send_text(GROUP_B, RESIDENT, LIFT)
            told = await emu.wait_for(B_SECRETARY, lambda m: "未能送达" in m.text)
            assert "工单卡片" in told.text
            await bot.idle()
            assert not [m for m in emu.sent(SECRETARY) if "未能送达" in m.text]  # not A's


async def test_a_single_community_file_is_read_once_at_start_up(
    tmp_path: Path, clock: FakeClock
) -> None:
    """The settings read the file; the checks of `gridbot run` and the bot's start use that
    reading. Read again, the file (gone bad right after) would stop the start."""
    config = tmp_path / "community.toml"
    config.write_text(EXAMPLE_CONFIG.read_text(encoding="utf-8"), encoding="utf-8")
    async with offline_emulator(privacy_mode=False) as emu:
        populate(emu)
        settings = settings_for(emu, tmp_path, config)
        config.write_text("[community\nname =", encoding="utf-8")
        assert config_problems(settings) == []
        assert example_problem(settings, {}) is not None  # it still sees the example it read
        async with offline_bot(emu, tmp_path, clock=clock, settings=settings) as bot:
            assert bot.state.require_street().names() == [A]
            await open_privates(emu, WORKER_LI)
            await emu.send_text(GROUP, RESIDENT, LIFT)
            card = await emu.wait_for(WORKER_LI)
            assert "工单 #1" in card.text
