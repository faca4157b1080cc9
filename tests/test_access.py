"""The access policy, question by question (pure: plain values in, decisions out)."""

from __future__ import annotations

from dataclasses import replace

import pytest

from bot.services import access
from bot.services.access import Place, TicketFacts, View, Viewer

REPORTER, FOLLOWER, WORKER, ADMIN, NEIGHBOUR, STRANGER = 1, 2, 3, 4, 5, 6
ORIGIN = -100

PUBLIC = TicketFacts(
    community="幸福里",
    is_private=False,
    is_open=True,
    reporter_id=REPORTER,
    origin_chat_id=ORIGIN,
    staff_ids=frozenset({WORKER}),
    follower_ids=frozenset({FOLLOWER}),
)
PRIVATE = replace(PUBLIC, is_private=True, origin_chat_id=None)
ADMIN_VIEWER = Viewer(ADMIN, frozenset({"幸福里"}))
IN_PRIVATE = Place(is_private=True)
BOUND_GROUP = Place(is_private=False, community="幸福里")
OTHER_COMMUNITY = Place(is_private=False, community="别的小区")
UNBOUND_GROUP = Place(is_private=False, community=None)


@pytest.mark.parametrize(
    ("who", "ticket", "expected"),
    [
        (Viewer(REPORTER), PUBLIC, True),
        (Viewer(FOLLOWER), PUBLIC, True),
        (Viewer(WORKER), PUBLIC, True),
        (ADMIN_VIEWER, PUBLIC, True),
        (Viewer(ADMIN, frozenset({"别的小区"})), PUBLIC, False),
        (Viewer(NEIGHBOUR), PUBLIC, False),
        (Viewer(REPORTER), PRIVATE, True),
        (Viewer(WORKER), PRIVATE, True),
        (ADMIN_VIEWER, PRIVATE, True),
        (Viewer(FOLLOWER), PRIVATE, False),  # a follower row on a private ticket gives nothing
        (Viewer(STRANGER), PRIVATE, False),
    ],
)
def test_who_sees_the_full_card(who: Viewer, ticket: TicketFacts, expected: bool) -> None:
    assert access.sees_card(who, ticket) is expected


def test_the_card_is_shown_only_in_a_private_chat() -> None:
    assert access.view(Viewer(REPORTER), PUBLIC, IN_PRIVATE) is View.CARD
    assert access.view(Viewer(REPORTER), PUBLIC, BOUND_GROUP) is View.STATUS
    assert access.view(Viewer(REPORTER), PRIVATE, BOUND_GROUP) is View.NOTHING


@pytest.mark.parametrize(
    ("place", "member", "expected"),
    [
        (BOUND_GROUP, False, View.STATUS),
        (OTHER_COMMUNITY, False, View.NOTHING),
        (UNBOUND_GROUP, False, View.NOTHING),
        (IN_PRIVATE, True, View.STATUS),  # a member of the community's group, asking privately
        (IN_PRIVATE, False, View.NOTHING),
    ],
)
def test_a_status_line_for_the_communitys_groups(
    place: Place, member: bool, expected: View
) -> None:
    shown = access.view(Viewer(NEIGHBOUR), PUBLIC, place, member_of_community_group=member)
    assert shown is expected
    hidden = access.view(Viewer(NEIGHBOUR), PRIVATE, place, member_of_community_group=member)
    assert hidden is View.NOTHING


def test_a_private_ticket_does_not_exist_for_others() -> None:
    assert not access.knows_of(Viewer(STRANGER), PRIVATE)
    assert not access.knows_of(Viewer(FOLLOWER), PRIVATE)
    assert access.knows_of(Viewer(STRANGER), PUBLIC)
    error = access.invisible("#7")
    assert (error.code, error.params) == ("ticket_not_found", {"ref": "#7"})


@pytest.mark.parametrize(
    ("who", "ticket", "member", "expected"),
    [
        (NEIGHBOUR, PUBLIC, True, True),
        (NEIGHBOUR, PUBLIC, False, False),
        (REPORTER, PUBLIC, True, False),
        (NEIGHBOUR, PRIVATE, True, False),
        (NEIGHBOUR, replace(PUBLIC, is_open=False), True, False),
    ],
)
def test_who_may_follow(who: int, ticket: TicketFacts, member: bool, expected: bool) -> None:
    assert access.may_follow(Viewer(who), ticket, member_of_origin=member) is expected


@pytest.mark.parametrize(
    ("who", "ticket", "role"),
    [
        (REPORTER, PUBLIC, "reporter"),
        (FOLLOWER, PUBLIC, "follower"),
        (FOLLOWER, PRIVATE, None),
        (WORKER, PUBLIC, None),
        (STRANGER, PUBLIC, None),
        (REPORTER, replace(PUBLIC, reporter_id=None), None),  # anonymised: nobody is its reporter
    ],
)
def test_who_may_rate(who: int, ticket: TicketFacts, role: str | None) -> None:
    assert access.rater_role(Viewer(who), ticket) == role
    assert access.may_add_photo(Viewer(who), ticket) == role
