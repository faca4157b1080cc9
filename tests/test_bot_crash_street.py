"""The street office's paths in the real bot process, killed (SIGKILL) and restarted.

The crash matrix's machinery (tests/test_bot_crash_matrix.py) on a folder of two communities:
intake in each community's group, a person of both choosing with /community and reporting
privately, a community file added and another changed while the process runs, and the rows of
a one-community deployment adopted at the first start of its file alone.

Kill points, chosen so that each commit of these paths is killed once, and each send where a
path sends: intake, /community and the private report are killed at every point of the matrix
(`commit`, `taken`, `during`, `send`); a reload sends nothing, so it is killed right after it
committed (at its `commit` point, and with a SIGKILL once the database shows the reload for the
send points: the process dies anywhere in the rebuild); the adoption is killed inside its
transaction (`adopt`) and right after it committed (`commit`). The first three steps (intake in
each community around a reload) are a scene the PostgreSQL subset runs too (test_bot_crash_pg).
"""

from __future__ import annotations

from pathlib import Path

import pytest

from bot import texts
from storage import open_database
from storage.store import INTEGRITY_ERRORS
from storage.street import LEGACY_TABLES
from tests.botkit import (
    DUTY,
    GROUP,
    RESIDENT,
    SECRETARY,
    WORKER_LI,
    open_privates,
    populate,
)
from tests.test_bot_crash_matrix import (
    CARD,
    CHATS,
    CRASHES,
    LIFT,
    BotProcess,
    data_of,
    intake,
    write_config,
)
from tests.test_bot_street import (
    B_LI,
    B_SECRETARY,
    GROUP_B,
    A,
    B,
    community_b,
    populate_street,
)
from tgsandbox import Emulator

STREET_CHATS = (*CHATS, GROUP_B, B_LI, B_SECRETARY)
NOISE = "3号楼楼下每天晚上广场舞太吵了，能不能管管"  # building 3: grid g1, 钱芳 in B
BOUND = "SELECT COUNT(*) FROM group_bindings WHERE chat_id = ? AND community = ? AND active = 1"
STOCK = "SELECT stock FROM catalogue_stock WHERE community = ? AND code = 'soap'"


def tickets(bot: BotProcess) -> list[tuple[str, int, list[str]]]:
    """Every ticket: its community, its number, and its history rows in order."""
    rows = bot.rows(
        "SELECT t.community, t.number, e.kind FROM tickets t"
        " LEFT JOIN ticket_events e ON e.ticket_id = t.id ORDER BY t.community, t.number, e.id"
    )
    found: dict[tuple[str, int], list[str]] = {}
    for community, number, kind in rows:
        found.setdefault((str(community), int(number)), []).extend([kind] if kind else [])
    return [(community, number, kinds) for (community, number), kinds in found.items()]


def street_office(tmp_path: Path) -> tuple[Path, Path, str]:
    """A folder holding A's file (the matrix's community); its A file, and B's text to add."""
    folder = tmp_path / "communities"
    folder.mkdir()
    a_file = write_config(folder)  # no schedules, no quiet hours
    return folder, a_file, community_b(a_file.read_text(encoding="utf-8"))


def street_process(emu: Emulator, tmp_path: Path, crash: str, folder: Path) -> BotProcess:
    bot = BotProcess(emu, tmp_path, crash, folder, chats=STREET_CHATS)
    bot.env["GRIDBOT_RELOAD_S"] = "0.2"
    return bot


async def intake_in_two_communities(
    bot: BotProcess, emu: Emulator, folder: Path, b_text: str
) -> None:
    """Intake in A's group, B's file added while running, intake in B's group: each killed."""
    # 1. intake in A's group: #1 of A, the card to A's 李娜.
    await intake(bot, emu)

    # 2. B's file added while the process runs; killed right after the reload.
    await bot.dies_after(
        lambda: (folder / "hexie.toml").write_text(b_text, encoding="utf-8"),
        lambda: bot.count(BOUND, (GROUP_B, B)) == 1,
    )
    assert bot.count(BOUND, (GROUP_B, B)) == 1
    assert bot.count(STOCK, (B,)) == 1

    # 3. intake in B's group: B numbers from #1, the card to B's 钱芳, not to 李娜.
    assert "工单 #1" in (await intake(bot, emu, GROUP_B, B_LI)).text
    b1 = bot.count("SELECT id FROM tickets WHERE community = ? AND number = 1", (B,))
    assert not [m for m in emu.sent(WORKER_LI) if f"acc:{b1}" in data_of(m)]


@pytest.mark.parametrize("crash", CRASHES)
async def test_a_street_office_survives_a_kill_at_every_step(tmp_path: Path, crash: str) -> None:
    """Intake in two communities' groups, a community added and one changed while running, a
    person of both choosing with /community and reporting privately."""
    folder, a_file, b_text = street_office(tmp_path)
    async with Emulator(privacy_mode=False) as emu:
        populate_street(emu)
        bot = street_process(emu, tmp_path, crash, folder)
        await bot.start()
        try:
            await open_privates(emu, WORKER_LI, B_LI, DUTY, SECRETARY, B_SECRETARY, RESIDENT)

            # 1-3. intake in A, B's file added (killed after the reload), intake in B.
            await intake_in_two_communities(bot, emu, folder, b_text)

            # 4. A's file changed while running (its soap restocked from 1 to 3): the restock
            # is applied once, whether the reload or the start after the kill applies it.
            await bot.dies_after(
                lambda: a_file.write_text(
                    a_file.read_text(encoding="utf-8").replace("stock = 1", "stock = 3"),
                    encoding="utf-8",
                ),
                lambda: bot.count(STOCK, (A,)) == 3,
            )
            assert bot.count(STOCK, (A,)) == 3 and bot.count(STOCK, (B,)) == 1

            # 5. the resident, a reporter in both, chooses B for what they say privately.
            await bot.dies_during(lambda: emu.send_text(RESIDENT, RESIDENT, "/community 和谐"))
            bot.seen(RESIDENT, texts.STREET_CHOSEN.format(name=B))

            # 6. ... and reports privately: B's #2, to B's grid worker, never to A's.
            await bot.dies_during(lambda: emu.send_text(RESIDENT, RESIDENT, NOISE))
            assert "钱芳" in bot.seen(RESIDENT, "已收到您的反映，登记为 #2").text
            assert "私下反映" in bot.seen(B_LI, "广场舞").text
            assert not [m for m in emu.sent(WORKER_LI) if "广场舞" in m.text]

            assert tickets(bot) == [(B, 1, ["opened"]), (B, 2, ["opened"]), (A, 1, ["opened"])]
            assert bot.count("SELECT COUNT(*) FROM points_ledger") == 0
            assert bot.count("SELECT COUNT(*) FROM inbox WHERE status != 'done'") == 0
            assert bot.kills == 6
        finally:
            await bot.stop()


LEGACY = "SELECT COUNT(*) FROM {table} WHERE community = ''"
AT = "2026-11-01T00:00:00+00:00"


async def legacy_database(target: str) -> None:
    """A database as a one-community deployment left it before communities were kept apart
    (migration 0019 gives its rows community ''): a config group, a linked worker, a
    registered resident with an award and a redemption that took the one soap in stock."""
    db = open_database(target)
    await db.open()
    try:
        async with db.transaction():
            for sql, params in (
                (
                    "INSERT INTO group_bindings (chat_id, grids, title, bound_at)"
                    ' VALUES (?, \'["g1", "g2", "g3"]\', \'幸福里业主群\', ?)',
                    (GROUP, AT),
                ),
                (
                    "INSERT INTO worker_links (worker_key, telegram_id, linked_at)"
                    " VALUES ('li', ?, ?)",
                    (WORKER_LI, AT),
                ),
                (
                    "INSERT INTO residents (user_id, name, building, unit, room, household_key,"
                    " registered_at, updated_at) VALUES (?, '周大爷', '3', '2', '301', '3-2-301',"
                    " ?, ?)",
                    (RESIDENT, AT, AT),
                ),
                (
                    "INSERT INTO catalogue_stock (code, name, points, stock, config_stock,"
                    " updated_at) VALUES ('soap', '洗衣皂', 10, 0, 1, ?)",
                    (AT,),
                ),
                (
                    "INSERT INTO redemptions (user_id, name, item_code, item_name, quantity,"
                    " points, status, requested_at) VALUES (?, '周大爷', 'soap', '洗衣皂', 1, 10,"
                    " 'requested', ?)",
                    (RESIDENT, AT),
                ),
                (
                    "INSERT INTO point_balances (user_id, name, balance, earned, updated_at)"
                    " VALUES (?, '周大爷', 10, 20, ?)",
                    (RESIDENT, AT),
                ),
                (
                    "INSERT INTO points_ledger (user_id, delta, kind, rule, reason, at)"
                    " VALUES (?, 20, 'behaviour', 'help_elderly', '陪独居老人看病', ?)",
                    (RESIDENT, AT),
                ),
                (
                    "INSERT INTO points_ledger (user_id, delta, kind, rule, reason,"
                    " redemption_id, at) VALUES (?, -10, 'redemption', 'redemption',"
                    " '兑换 洗衣皂 ×1', 1, ?)",
                    (RESIDENT, AT),
                ),
            ):
                await db.execute(sql, params)
    finally:
        await db.close()


def legacy_rows(bot: BotProcess) -> int:
    return sum(bot.count(LEGACY.format(table=table)) for table in LEGACY_TABLES)


@pytest.mark.parametrize("point", ["adopt", "commit"])
async def test_old_rows_are_adopted_once_when_the_first_start_is_killed(
    tmp_path: Path, point: str
) -> None:
    """The first start of the community's file alone, killed inside the adoption's transaction
    (nothing of it kept) or right after it committed: the restart completes it exactly once,
    the ledger's trigger still refuses any change, the soap stays redeemed."""
    async with Emulator(privacy_mode=False) as emu:
        populate(emu)
        bot = BotProcess(emu, tmp_path, "commit", write_config(tmp_path))
        await legacy_database(bot.target)
        assert legacy_rows(bot) == 8
        try:
            await bot.dies_starting(point)
            assert legacy_rows(bot) == (8 if point == "adopt" else 0)

            await bot.start()
            await bot.settled()
            assert legacy_rows(bot) == 0
            ledger = bot.rows(
                "SELECT community, user_id, delta, kind FROM points_ledger ORDER BY id"
            )
            assert ledger == [(A, RESIDENT, 20, "behaviour"), (A, RESIDENT, -10, "redemption")]
            for change in ("community = 'x'", "delta = 99", "community = ''"):
                with pytest.raises(INTEGRITY_ERRORS):
                    bot.store.execute(f"UPDATE points_ledger SET {change}")
            assert bot.count("SELECT balance FROM point_balances WHERE community = ?", (A,)) == 10
            assert bot.count(STOCK, (A,)) == 0  # redeemed before the upgrade: not restocked
            assert bot.count("SELECT COUNT(*) FROM catalogue_stock WHERE code = 'soap'") == 1
            assert bot.count("SELECT COUNT(*) FROM redemptions WHERE community = ?", (A,)) == 1

            # What the resident sees: the balance they had; the group served by its community.
            await open_privates(emu, WORKER_LI, RESIDENT)
            await emu.send_text(RESIDENT, RESIDENT, "/points")
            shown = await emu.wait_for(RESIDENT, lambda m: "积分" in m.text and "余额" in m.text)
            assert "当前余额：10 分（累计获得 20 分" in shown.text
            await bot.dies_during(lambda: emu.send_text(GROUP, RESIDENT, LIFT))
            bot.seen(WORKER_LI, CARD)
            bot.seen(GROUP, "已收到，登记为 #1")
            assert tickets(bot) == [(A, 1, ["opened"])]
            assert bot.kills == 2
        finally:
            await bot.stop()
