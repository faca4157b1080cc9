"""The ticket state machine: every legal move, and every other move refused."""

from __future__ import annotations

import pytest

from bot import texts
from bot.services import lifecycle as lc
from bot.services.errors import DomainError

# The rules of 接诉即办 as a resident and a grid worker know them, checked against the state
# machine by walking it; none of them is a copy of the transition table.
WAITING = ("new", "transferred", "returned")  # someone must still accept it
IN_HAND = ("accepted", "reopened")  # a worker is on it


def _moves(state: str) -> dict[str, str]:
    return {a: lc.check_transition(state, a) for a in lc.allowed_actions(state)}


def test_the_groups_of_states_are_the_ones_residents_meet() -> None:
    assert set(WAITING) == lc.AWAITING_ACCEPT and set(IN_HAND) == lc.IN_HAND
    assert {"closed", "rejected", "duplicate", "withdrawn"} == lc.TERMINAL
    assert lc.OPEN_STATES | lc.TERMINAL | {"resolved"} == lc.STATES


@pytest.mark.parametrize("state", WAITING)
def test_a_waiting_ticket_must_be_accepted_before_it_can_be_resolved(state: str) -> None:
    assert lc.check_transition(state, "accept") == "accepted"
    with pytest.raises(DomainError):
        lc.check_transition(state, "resolve")


@pytest.mark.parametrize("state", IN_HAND)
def test_only_the_worker_holding_a_ticket_can_resolve_it(state: str) -> None:
    assert lc.check_transition(state, "resolve") == "resolved"


@pytest.mark.parametrize("state", [*WAITING, *IN_HAND])
def test_handing_a_ticket_on_makes_it_wait_for_acceptance_again(state: str) -> None:
    for action in ("transfer", "reassign", "return"):
        assert lc.check_transition(state, action) in lc.AWAITING_ACCEPT


def test_only_a_resolved_ticket_is_rated_and_unsatisfied_sends_it_back_to_work() -> None:
    rating = {"rate", "rate_unsatisfied", "close_unrated"}
    for state in lc.STATES - {"resolved"}:
        assert not rating & lc.allowed_actions(state), state
    assert lc.check_transition("resolved", "rate") == "closed"
    assert lc.check_transition("resolved", "close_unrated") == "closed"
    assert lc.check_transition("resolved", "rate_unsatisfied") in lc.IN_HAND
    assert lc.allowed_actions("resolved") == rating  # nobody works on it while rated


def test_a_reporter_can_withdraw_only_before_any_result() -> None:
    for state in lc.STATES:
        if "withdraw" in lc.allowed_actions(state):
            assert state in lc.OPEN_STATES and state != "reopened", state
            assert lc.check_transition(state, "withdraw") == "withdrawn"
    assert "withdraw" in lc.allowed_actions("new")


def test_rejecting_or_merging_is_possible_until_the_work_is_done() -> None:
    for state in ("new", "transferred", "returned", "accepted"):
        assert lc.check_transition(state, "reject") == "rejected"
        assert lc.check_transition(state, "duplicate") == "duplicate"
    for state in ("resolved", *lc.TERMINAL):
        assert not {"reject", "duplicate"} & lc.allowed_actions(state)


def test_every_ticket_can_reach_an_end_and_ended_tickets_never_move() -> None:
    for state in lc.TERMINAL:
        assert lc.allowed_actions(state) == frozenset()
    # From every state some sequence of moves ends the ticket, and every state can be reached.
    reached, frontier = {"new"}, ["new"]
    while frontier:
        for target in _moves(frontier.pop()).values():
            if target not in reached:
                reached.add(target)
                frontier.append(target)
    assert reached == set(lc.STATES)
    for state in lc.STATES:
        seen, frontier = {state}, [state]
        while frontier and not seen & lc.TERMINAL:
            for target in _moves(frontier.pop()).values():
                if target not in seen:
                    seen.add(target)
                    frontier.append(target)
        assert seen & lc.TERMINAL, f"{state} can never end"


@pytest.mark.parametrize("state", sorted(lc.STATES))
def test_a_move_that_is_not_offered_is_refused_with_the_ticket_number(state: str) -> None:
    for action in sorted(lc.ACTIONS - lc.allowed_actions(state)):
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
