"""A street office's folder of communities: reading it, and rows written before communities."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from bot.cli.check import run as check_run
from bot.services.bootstrap import StartupConfigError
from bot.services.clock import FakeClock
from bot.services.rates import compute_rates
from bot.services.street import Street, StreetConfigError, read_folder
from storage import street as street_store
from storage.outbox import OutboxRepository, OutgoingMessage
from storage.points import PointsRepository
from storage.privacy import AuditRepository
from storage.store import INTEGRITY_ERRORS, Store
from storage.tickets import QueuedText, TicketRepository
from tests.botkit import EXAMPLE_CONFIG

TZ = ZoneInfo("Asia/Shanghai")
AT = "2026-11-01T00:00:00+00:00"
A = "幸福里社区"
B = "和谐家园社区"


def second_community(text: str) -> str:
    return text.replace(A, B).replace("-10010000000", "-10020000000")


def write_folder(folder: Path, b_text: str | None = None) -> Path:
    folder.mkdir()
    example = EXAMPLE_CONFIG.read_text(encoding="utf-8")
    (folder / "a.toml").write_text(example, encoding="utf-8")
    (folder / "b.toml").write_text(b_text or second_community(example), encoding="utf-8")
    return folder


def test_a_folder_is_read_as_its_communities_and_its_street_office(tmp_path: Path) -> None:
    folder = write_folder(tmp_path / "street")
    (folder / "street.toml").write_text(
        '[street]\nname = "和平街道办事处"\n[[staff]]\nname = "孙主任"\ntelegram_id = 5001\n',
        encoding="utf-8",
    )
    street, files = read_folder(folder)
    assert street.name == "和平街道办事处" and street.is_staff(5001) and not street.is_staff(1)
    assert sorted(f.name for f in files) == [B, A]


def test_two_files_may_not_own_one_group_or_one_name(tmp_path: Path) -> None:
    example = EXAMPLE_CONFIG.read_text(encoding="utf-8")
    folder = write_folder(tmp_path / "street", example.replace(A, B))  # B keeps A's groups
    with pytest.raises(StreetConfigError) as err:
        read_folder(folder)
    lines = str(err.value).splitlines()
    assert lines and all("b.toml" in line and "a.toml" in line for line in lines)
    assert any("-1001000000001" in line for line in lines)

    other = write_folder(tmp_path / "same-name", second_community(example).replace(B, A))
    with pytest.raises(StreetConfigError, match="重复"):
        read_folder(other)


def test_a_bad_staff_entry_and_an_empty_folder_are_named(tmp_path: Path) -> None:
    folder = write_folder(tmp_path / "street")
    (folder / "street.toml").write_text("[[staff]]\nname = 3\n", encoding="utf-8")
    with pytest.raises(StreetConfigError) as err:
        read_folder(folder)
    assert "street.toml" in str(err.value) and "telegram_id" in str(err.value)
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(StreetConfigError, match="没有社区配置文件"):
        read_folder(empty)


def test_gridbot_check_checks_every_community_of_a_folder(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    folder = write_folder(tmp_path / "street")
    monkeypatch.setenv("GRIDBOT_ALLOW_EXAMPLE", "1")

    class Args:
        config = str(folder)

    assert check_run(Args()) == 0  # type: ignore[arg-type]
    out = capsys.readouterr().out
    assert f"检查通过 (ok) — {A}" in out and f"检查通过 (ok) — {B}" in out
    (folder / "b.toml").write_text(
        second_community(EXAMPLE_CONFIG.read_text(encoding="utf-8")).replace(
            'duty_worker = "duty"', 'duty_worker = "nobody"'
        ),
        encoding="utf-8",
    )
    assert check_run(Args()) == 1  # type: ignore[arg-type]
    assert "b.toml" in capsys.readouterr().err


async def _legacy_rows(db: Store) -> None:
    """Rows as a one-community deployment wrote them before migration 0019 (community '')."""
    for sql, params in (
        (
            "INSERT INTO group_bindings (chat_id, grids, title, bound_at)"
            " VALUES (-5, '[]', '', ?)",
            (AT,),
        ),
        (
            "INSERT INTO worker_links (worker_key, telegram_id, linked_at) VALUES ('li', 2001, ?)",
            (AT,),
        ),
        (
            "INSERT INTO catalogue_stock (code, name, points, stock, config_stock, updated_at)"
            " VALUES ('soap', '洗衣皂', 10, 3, 3, ?)",
            (AT,),
        ),
        (
            "INSERT INTO redemptions (user_id, name, item_code, item_name, quantity, points,"
            " status, requested_at) VALUES (7, '周', 'soap', '洗衣皂', 1, 10, 'requested', ?)",
            (AT,),
        ),
        (
            "INSERT INTO point_balances (user_id, name, balance, earned, updated_at)"
            " VALUES (7, '周', 10, 20, ?)",
            (AT,),
        ),
        (
            "INSERT INTO points_ledger (user_id, delta, kind, rule, reason, at)"
            " VALUES (7, 20, 'behaviour', 'help', '帮扶', ?)",
            (AT,),
        ),
    ):
        await db.execute(sql, params)


@pytest.mark.both_stores
async def test_rows_from_before_are_adopted_once_and_the_ledger_allows_nothing_more(
    db: Store,
) -> None:
    async with db.transaction():
        await _legacy_rows(db)
    assert await street_store.legacy_rows(db) == 6
    async with db.transaction():
        await street_store.adopt_legacy_rows(db, A, datetime(2026, 11, 30, tzinfo=UTC))
    assert await street_store.legacy_rows(db) == 0
    repo = PointsRepository(db, A)
    assert [e.delta for e in await repo.entries()] == [20]
    assert [i.code for i in await repo.items()] == ["soap"]
    assert [r.item_code for r in await repo.redemptions()] == ["soap"]
    assert await PointsRepository(db, B).entries() == []
    # The ledger's community, once filled, never changes; nor does anything else.
    for change in ("community = 'x'", "delta = 99"):
        with pytest.raises(INTEGRITY_ERRORS):
            async with db.transaction():
                await db.execute(f"UPDATE points_ledger SET {change}")
    assert [e.delta for e in await repo.entries()] == [20]


@pytest.mark.both_stores
async def test_a_street_office_cannot_start_on_rows_of_one_community_unclaimed(
    db: Store, tmp_path: Path, clock: FakeClock
) -> None:
    async with db.transaction():
        await _legacy_rows(db)
    folder = write_folder(tmp_path / "street")
    street = Street(db, clock, TZ, path=folder)
    with pytest.raises(StartupConfigError) as err:
        await street.load(*read_folder(folder))
    assert "升级前的单社区数据" in str(err.value) and len(str(err.value).splitlines()) == 1
    one = Street(db, clock, TZ, path=folder / "a.toml")
    await one.load(*read_folder(folder / "a.toml"))
    assert await street_store.legacy_rows(db) == 0
    binding = await one.any().state.bindings.get(-5)
    assert binding is not None and binding.community == A


@pytest.mark.both_stores
async def test_a_catalogue_item_of_the_file_goes_on_from_its_old_stock_when_adopted(
    db: Store, tmp_path: Path, clock: FakeClock
) -> None:
    """The one-community deployment's catalogue holds the file's items: building the services
    writes them under the community's name, so the old rows are adopted first (once: they had
    collided with the new ones and stopped every start), and the stock redeemed stays spent."""
    async with db.transaction():
        await _legacy_rows(db)
        await db.execute(
            "INSERT INTO catalogue_stock (code, name, points, stock, config_stock, updated_at)"
            " VALUES ('rice', '大米 5kg', 100, 12, 30, ?)",
            (AT,),
        )
    folder = write_folder(tmp_path / "street")
    street = Street(db, clock, TZ, path=folder / "a.toml")
    await street.load(*read_folder(folder / "a.toml"))
    assert await street_store.legacy_rows(db) == 0
    items = {i.code: i.stock for i in await PointsRepository(db, A).items()}
    assert items["rice"] == 12  # 18 of 30 redeemed before the upgrade: not restocked
    assert await db.fetchval("SELECT COUNT(*) FROM catalogue_stock WHERE code = 'rice'") == 1
    # Started again, nothing is adopted twice and the stock is what it was.
    again = Street(db, clock, TZ, path=folder / "a.toml")
    await again.load(*read_folder(folder / "a.toml"))
    assert {i.code: i.stock for i in await PointsRepository(db, A).items()}["rice"] == 12
    assert [e.delta for e in await PointsRepository(db, A).entries()] == [20]


@pytest.mark.both_stores
async def test_a_community_reads_only_its_own_audit_entries(db: Store) -> None:
    at = datetime(2026, 11, 30, tzinfo=UTC)
    async with db.transaction():
        await AuditRepository(db).add(at, 1, "旧书记", "bind", target="-5")  # before 0019
        await AuditRepository(db, A).add(at, 2, "刘书记", "award", target="#1")
        await AuditRepository(db, B).add(at, 3, "吴书记", "award", target="#1")
        await street_store.adopt_legacy_rows(db, A, at)
    assert [e.actor_name for e in await AuditRepository(db, A).recent()] == ["刘书记", "旧书记"]
    assert [e.actor_name for e in await AuditRepository(db, B).recent()] == ["吴书记"]
    assert len(await AuditRepository(db).recent()) == 3  # `gridbot audit`: the whole deployment


@pytest.mark.both_stores
async def test_rates_of_a_street_tell_communities_and_their_workers_apart(db: Store) -> None:
    since = datetime(2026, 11, 1, tzinfo=UTC)
    until = datetime(2026, 12, 1, tzinfo=UTC)
    at = datetime(2026, 11, 10, 1, 0, tzinfo=UTC)
    async with db.transaction():
        for community, number in ((A, 1), (A, 2), (B, 1)):
            await db.execute(
                "INSERT INTO tickets (community, number, source_key, text, category, confidence,"
                " urgency, reporter_id, reporter_name, status, assignee_key, grid, created_at)"
                " VALUES (?, ?, ?, '问题', 'facilities', 0.9, 'normal', 7, '周', 'new', 'li',"
                " 'g1', ?)",
                (community, number, f"t:{community}:{number}", at.isoformat()),
            )
    whole = await compute_rates(db, since, until, "street", as_of=until)
    assert [(r.key, r.tickets) for r in whole] == [("street", 3)]
    each = await compute_rates(db, since, until, "community", as_of=until)
    assert [(r.key, r.tickets) for r in each] == [(B, 1), (A, 2)]
    workers = await compute_rates(db, since, until, "worker", as_of=until)
    assert [(r.key, r.tickets) for r in workers] == [(f"{B}·li", 1), (f"{A}·li", 2)]
    own = await compute_rates(db, since, until, "worker", as_of=until, communities=(A,))
    assert [(r.key, r.tickets) for r in own] == [("li", 2)]


@pytest.mark.both_stores
async def test_a_button_leads_to_the_community_of_what_it_acts_on(
    db: Store, tmp_path: Path, clock: FakeClock
) -> None:
    folder = write_folder(tmp_path / "street")
    street = Street(db, clock, TZ, path=folder)
    await street.load(*read_folder(folder))
    ids: dict[str, int] = {}
    async with db.transaction():
        for community in (A, B):
            ids[community] = int(
                await db.fetchval(
                    "INSERT INTO tickets (community, number, source_key, text, category,"
                    " confidence, urgency, reporter_id, reporter_name, status, created_at)"
                    " VALUES (?, 1, ?, '问题', 'facilities', 0.9, 'normal', 7, '周', 'new', ?)"
                    " RETURNING id",
                    (community, f"t:{community}", AT),
                )
            )
        task = int(
            await db.fetchval(
                "INSERT INTO tasks (community, title, points, capacity, audience, publisher_id,"
                " publisher_name, created_at) VALUES (?, '换灯泡', 5, 1, 'public', 1, '李', ?)"
                " RETURNING id",
                (B, AT),
            )
        )
    for data, expected in (
        (f"acc:{ids[A]}", A),
        (f"res:{ids[B]}", B),
        (f"rate:{ids[B]}:satisfied", B),
        (f"claim:{task}", B),
        (f"tok:{task}:7", B),
    ):
        found = await street.community_of_button(data)
        assert found is not None and found.community.name == expected, data
    for data in ("acc:999999", "nonsense", "redeem:soap", "tri:open:x"):
        assert await street.community_of_button(data) is None, data


@pytest.mark.both_stores
async def test_what_a_ticket_or_a_sweep_queues_records_its_community(db: Store) -> None:
    """A reply to the bot's message (a typed answer to "请评价") leads back to the community that
    sent it, whoever queued it: the ticket service's and the sweep's rows name it too."""
    now = datetime(2026, 11, 30, tzinfo=UTC)
    ask = OutgoingMessage("请评价", purpose="rate", extra={"ticket_id": 7})
    await TicketRepository(db, community=A).queue_messages([("k:a", -100, ask)], now)
    await TicketRepository(db, community=B).queue_texts(
        [QueuedText("k:b", -100, "超时", "escalate", {"ticket_id": 8})], now
    )
    rows = await db.fetchall("SELECT dedup_key, community FROM outbox ORDER BY dedup_key", ())
    assert [(r["dedup_key"], r["community"]) for r in rows] == [("k:a", A), ("k:b", B)]
    for item in await OutboxRepository(db).due(now):
        await OutboxRepository(db).mark_sent(item.id, now, 40 + item.id)
    first = (await db.fetchval("SELECT id FROM outbox WHERE dedup_key = 'k:a'", ())) + 40
    found = await OutboxRepository(db, community=A).delivered_message(-100, first)
    assert found is not None and found.purpose == "rate" and found.extra == {"ticket_id": 7}
    assert await OutboxRepository(db, community=B).delivered_message(-100, first) is None
