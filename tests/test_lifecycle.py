"""The ticket state machine: every legal move, and every other move refused."""

from __future__ import annotations

import pytest

from bot import texts
from bot.services import lifecycle as lc
from bot.services.errors import DomainError

pytestmark = pytest.mark.both_stores

LEGAL = {
    ("new", "accept"): "accepted",
    ("new", "transfer"): "transferred",
    ("new", "return"): "returned",
    ("new", "reassign"): "transferred",
    ("new", "reject"): "rejected",
    ("new", "duplicate"): "duplicate",
    ("transferred", "accept"): "accepted",
    ("transferred", "transfer"): "transferred",
    ("transferred", "return"): "returned",
    ("transferred", "reassign"): "transferred",
    ("transferred", "reject"): "rejected",
    ("transferred", "duplicate"): "duplicate",
    ("returned", "accept"): "accepted",
    ("returned", "transfer"): "transferred",
    ("returned", "return"): "returned",
    ("returned", "reassign"): "transferred",
    ("returned", "reject"): "rejected",
    ("returned", "duplicate"): "duplicate",
    ("accepted", "resolve"): "resolved",
    ("accepted", "transfer"): "transferred",
    ("accepted", "return"): "returned",
    ("accepted", "reassign"): "transferred",
    ("accepted", "reject"): "rejected",
    ("accepted", "duplicate"): "duplicate",
    ("reopened", "accept"): "accepted",
    ("reopened", "resolve"): "resolved",
    ("reopened", "transfer"): "transferred",
    ("reopened", "return"): "returned",
    ("reopened", "reassign"): "transferred",
    ("new", "withdraw"): "withdrawn",
    ("transferred", "withdraw"): "withdrawn",
    ("returned", "withdraw"): "withdrawn",
    ("accepted", "withdraw"): "withdrawn",
    ("resolved", "rate"): "closed",
    ("resolved", "rate_unsatisfied"): "reopened",
    ("resolved", "close_unrated"): "closed",
}


@pytest.mark.parametrize(("state", "action"), sorted(LEGAL))
def test_legal_moves(state: str, action: str) -> None:
    assert lc.check_transition(state, action) == LEGAL[(state, action)]


ILLEGAL = sorted((s, a) for s in lc.STATES for a in lc.ACTIONS if (s, a) not in LEGAL)


@pytest.mark.parametrize(("state", "action"), ILLEGAL)
def test_everything_else_is_refused(state: str, action: str) -> None:
    with pytest.raises(DomainError) as refused:
        lc.check_transition(state, action, number=12)
    assert refused.value.code == "illegal_transition"
    assert refused.value.params["number"] == 12


def test_the_examples_of_the_issue_are_refused() -> None:
    for state, action in (
        ("new", "resolve"),
        ("closed", "rate"),
        ("closed", "accept"),
        ("rejected", "accept"),
        ("duplicate", "resolve"),
    ):
        with pytest.raises(DomainError):
            lc.check_transition(state, action)


def test_terminal_states_have_no_way_out_and_every_state_is_reachable() -> None:
    for state in lc.TERMINAL:
        assert lc.allowed_actions(state) == frozenset()
    reachable = {"new"} | set(LEGAL.values())
    assert reachable == set(lc.STATES)


def test_unknown_state_or_action_is_a_programming_error() -> None:
    with pytest.raises(ValueError):
        lc.check_transition("lost", "accept")
    with pytest.raises(ValueError):
        lc.check_transition("new", "fly")


def test_every_state_and_action_has_a_chinese_label_and_the_refusal_reads() -> None:
    assert set(texts.TICKET_STATE_LABELS) == set(lc.STATES)
    assert set(texts.TICKET_ACTION_LABELS) == set(lc.ACTIONS)
    sentence = texts.ERRORS["illegal_transition"].format(
        number=7,
        state_label=texts.TICKET_STATE_LABELS["closed"],
        action_label=texts.TICKET_ACTION_LABELS["accept"],
    )
    assert sentence == "工单 #7 现在是“已关闭”，不能接单。"
