"""Community state in the database: invitations, group bindings, chat upgrades, reachability."""

from __future__ import annotations

import copy
import re
import tomllib
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from bot.services.clock import FakeClock
from bot.services.community import Community, load_community
from bot.services.errors import DomainError
from bot.services.people import CommunityState
from bot.services.routing import route_ticket
from storage.db import Database

pytestmark = pytest.mark.both_stores

EXAMPLE = Path(__file__).resolve().parent.parent / "examples" / "community.toml"
RAW: dict[str, Any] = tomllib.loads(EXAMPLE.read_text(encoding="utf-8"))
ALL_GRIDS = ("g1", "g2", "g3")
MAIN_GROUP = -1001000000001
SECRETARY = 2020


def build(mutate: Any = None) -> Community:
    raw = copy.deepcopy(RAW)
    if mutate is not None:
        mutate(raw)
    return load_community(raw, "example")


@pytest.fixture
async def state(db: Database, clock: FakeClock) -> CommunityState:
    s = CommunityState(db, build(), clock)
    await s.start()
    return s


# ── invitations ─────────────────────────────────────────────────────────────────────────────
async def test_an_invited_worker_is_known_by_their_account(state: CommunityState) -> None:
    code = await state.create_invite("zhang")
    assert re.fullmatch(r"[A-Za-z0-9_-]{12}", code)
    worker = await state.redeem_invite(code, 7777)
    assert worker.key == "zhang"
    found = await state.worker_for_user(7777)
    assert found is not None and found.name == "张伟"
    assert await state.telegram_id_of("zhang") == 7777
    # the configured id no longer stands for zhang once he linked another account
    assert await state.worker_for_user(2002) is None


async def test_invitation_codes_differ(state: CommunityState) -> None:
    codes = {await state.create_invite("li") for _ in range(20)}
    assert len(codes) == 20


async def test_an_invitation_works_once(state: CommunityState) -> None:
    code = await state.create_invite("li")
    await state.redeem_invite(code, 5001)
    # the same person tapping the link again is welcomed, not refused
    assert (await state.redeem_invite(code, 5001)).key == "li"
    with pytest.raises(DomainError) as caught:
        await state.redeem_invite(code, 5002)
    assert caught.value.code == "invite_used"
    assert await state.worker_for_user(5002) is None


async def test_an_expired_invitation_is_refused(state: CommunityState, clock: FakeClock) -> None:
    code = await state.create_invite("wang", timedelta(hours=2))
    clock.advance(timedelta(hours=2))
    with pytest.raises(DomainError) as caught:
        await state.redeem_invite(code, 5003)
    assert caught.value.code == "invite_expired"
    assert await state.worker_for_user(5003) is None


@pytest.mark.parametrize("code", ["nope-nope-12", "", "有中文", "x" * 65, "a b"])
async def test_an_unknown_or_malformed_code_is_refused(state: CommunityState, code: str) -> None:
    with pytest.raises(DomainError) as caught:
        await state.redeem_invite(code, 5004)
    assert caught.value.code == "invite_unknown"


async def test_an_invitation_for_someone_not_in_the_config_cannot_be_made(
    state: CommunityState,
) -> None:
    with pytest.raises(DomainError) as caught:
        await state.create_invite("ghost")
    assert caught.value.code == "unknown_worker"
    with pytest.raises(DomainError) as caught:
        await state.create_invite("li", timedelta(0))
    assert caught.value.code == "invite_bad_ttl"


async def test_an_invitation_of_a_removed_worker_is_refused(
    db: Database, clock: FakeClock, state: CommunityState
) -> None:
    code = await state.create_invite("wang")

    def without_wang(raw: dict[str, Any]) -> None:
        raw["workers"] = [w for w in raw["workers"] if w["key"] != "wang"]
        raw["workers"][-1]["role"] = "grid_worker"  # the duty worker takes over grid g3

    later = CommunityState(db, build(without_wang), clock)
    with pytest.raises(DomainError) as caught:
        await later.redeem_invite(code, 5005)
    assert caught.value.code == "invite_unknown"


async def test_one_account_cannot_be_two_workers(state: CommunityState) -> None:
    code = await state.create_invite("li")
    with pytest.raises(DomainError) as caught:
        await state.redeem_invite(code, 2002)  # zhang's configured account
    assert caught.value.code == "invite_account_taken"
    assert caught.value.params == {"name": "张伟"}
    assert await state.telegram_id_of("li") == 2001
    # the refused invitation is still usable by the right person
    assert (await state.redeem_invite(code, 6001)).key == "li"


async def test_an_admin_links_by_invitation_too(db: Database, clock: FakeClock) -> None:
    state = CommunityState(db, build(lambda r: r["admins"][0].pop("telegram_id")), clock)
    assert not await state.is_admin(SECRETARY)
    code = await state.create_invite("secretary")
    admin = await state.redeem_invite(code, 9090)
    assert admin.name == "刘书记"
    assert await state.is_admin(9090)
    assert await state.telegram_id_of("secretary") == 9090
    assert await state.worker_for_user(9090) is None


async def test_configured_accounts_are_known_without_invitation(state: CommunityState) -> None:
    assert (await state.worker_for_user(2010)).key == "chen"  # type: ignore[union-attr]
    assert await state.worker_for_user(123) is None
    assert await state.is_admin(SECRETARY)
    assert not await state.is_admin(2001)
    assert await state.telegram_id_of("duty") == 2012
    assert await state.telegram_id_of("ghost") is None


# ── groups ──────────────────────────────────────────────────────────────────────────────────
async def test_config_groups_are_bound_at_start(state: CommunityState) -> None:
    assert await state.group_grids(MAIN_GROUP) == ALL_GRIDS
    assert await state.group_grids(-1001000000011) == ("g1",)
    assert await state.group_grids(-42) is None
    assert {b.chat_id for b in await state.bound_groups()} == {MAIN_GROUP, -1001000000011}


async def test_an_admin_binds_a_new_group_and_it_survives_a_restart(
    db: Database, clock: FakeClock, state: CommunityState
) -> None:
    binding = await state.bind_group(-500, ("g3",), "三网格楼长群", by_user=SECRETARY)
    assert binding.bound_by == SECRETARY
    assert await state.group_grids(-500) == ("g3",)
    restarted = CommunityState(db, build(), clock)
    await restarted.start()
    assert await restarted.group_grids(-500) == ("g3",)


async def test_only_an_admin_binds_and_only_known_grids(state: CommunityState) -> None:
    with pytest.raises(DomainError) as caught:
        await state.bind_group(-500, ("g1",), "群", by_user=2001)
    assert caught.value.code == "not_allowed"
    with pytest.raises(DomainError) as caught:
        await state.bind_group(-500, ("g9",), "群", by_user=SECRETARY)
    assert caught.value.code == "unknown_grid"
    assert "g1（第一网格）" in caught.value.params["known"]
    with pytest.raises(DomainError) as caught:
        await state.bind_group(-500, (), "群", by_user=SECRETARY)
    assert caught.value.code == "bind_needs_grid"
    assert await state.group_grids(-500) is None


async def test_an_admin_rebinding_a_config_group_wins_over_the_file(
    db: Database, clock: FakeClock, state: CommunityState
) -> None:
    await state.bind_group(MAIN_GROUP, ("g2",), "业主群", by_user=SECRETARY)
    restarted = CommunityState(db, build(), clock)
    await restarted.start()
    assert await restarted.group_grids(MAIN_GROUP) == ("g2",)


async def test_config_changes_reach_config_groups_on_restart(
    db: Database, clock: FakeClock, state: CommunityState
) -> None:
    changed = build(lambda r: r["groups"][1].update(grids=["g1", "g2"]))
    restarted = CommunityState(db, changed, clock)
    await restarted.start()
    assert await restarted.group_grids(-1001000000011) == ("g1", "g2")


async def test_an_unbound_group_is_no_longer_served(state: CommunityState) -> None:
    with pytest.raises(DomainError):
        await state.unbind_group(MAIN_GROUP, by_user=2003)
    assert await state.unbind_group(MAIN_GROUP, by_user=SECRETARY)
    assert await state.group_grids(MAIN_GROUP) is None
    assert MAIN_GROUP not in {b.chat_id for b in await state.bound_groups()}


async def test_a_group_upgraded_to_a_supergroup_keeps_its_binding(
    db: Database, clock: FakeClock, state: CommunityState
) -> None:
    await state.bind_group(-77, ("g2",), "小群", by_user=SECRETARY)
    assert await state.migrate_chat(-77, -1009999)
    assert await state.group_grids(-1009999) == ("g2",)
    assert await state.group_grids(-77) is None
    assert await state.resolve_chat(-77) == -1009999
    # the other half of the same upgrade arrives too: nothing changes
    assert not await state.migrate_chat(-77, -1009999)
    assert await state.group_grids(-1009999) == ("g2",)


async def test_a_config_group_upgrade_is_followed_after_restart(
    db: Database, clock: FakeClock, state: CommunityState
) -> None:
    await state.migrate_chat(-1001000000011, -1002000000011)
    restarted = CommunityState(db, build(), clock)
    await restarted.start()
    assert await restarted.group_grids(-1002000000011) == ("g1",)
    # the dead chat id from the file is not bound again
    assert await restarted.group_grids(-1001000000011) is None


async def test_state_used_before_start_still_knows_config_groups(
    db: Database, clock: FakeClock
) -> None:
    fresh = CommunityState(db, build(), clock)
    assert await fresh.group_grids(MAIN_GROUP) == ALL_GRIDS


# ── reachability ────────────────────────────────────────────────────────────────────────────
async def test_a_worker_who_blocked_the_bot_is_routed_around(state: CommunityState) -> None:
    assert await state.unavailable_workers() == frozenset()
    assert await state.is_reachable(2002)
    await state.mark_unreachable(2002)
    assert not await state.is_reachable(2002)
    away = await state.unavailable_workers()
    assert away == frozenset({"zhang"})
    route = route_ticket(state.community, "noise", "7号楼", None, None, away)
    assert (route.worker_key, route.fallback_from) == ("duty", "zhang")
    # opening the chat again makes him reachable
    await state.note_started(2002, "张伟")
    assert await state.is_reachable(2002)
    assert await state.unavailable_workers() == frozenset()


async def test_workers_without_an_account_or_on_leave_are_unavailable(
    db: Database, clock: FakeClock
) -> None:
    def change(raw: dict[str, Any]) -> None:
        raw["workers"][0].pop("telegram_id")  # li has not linked yet
        raw["workers"][2]["active"] = False  # wang on leave

    state = CommunityState(db, build(change), clock)
    assert await state.unavailable_workers() == frozenset({"li", "wang"})
    await state.redeem_invite(await state.create_invite("li"), 4242)
    assert await state.unavailable_workers() == frozenset({"wang"})


async def test_a_relinked_worker_is_judged_by_the_new_account(state: CommunityState) -> None:
    await state.mark_unreachable(2001)
    assert "li" in await state.unavailable_workers()
    await state.redeem_invite(await state.create_invite("li"), 3131)
    assert "li" not in await state.unavailable_workers()


async def test_bot_username_comes_from_the_kv_table(db: Database, state: CommunityState) -> None:
    assert await state.bot_username() is None
    await db.execute(
        "INSERT INTO kv (key, value, updated_at) VALUES ('bot_username', 'xfl_bot', 'now')"
    )
    assert await state.bot_username() == "xfl_bot"


async def test_an_account_linked_as_admin_cannot_also_link_as_worker(
    db: Database, clock: FakeClock
) -> None:
    state = CommunityState(db, build(lambda r: r["admins"][0].pop("telegram_id")), clock)
    await state.redeem_invite(await state.create_invite("secretary"), 9090)
    code = await state.create_invite("wang")
    with pytest.raises(DomainError) as caught:
        await state.redeem_invite(code, 9090)
    assert caught.value.code == "invite_account_taken"
    assert caught.value.params == {"name": "刘书记"}
    assert await state.telegram_id_of("wang") == 2003
