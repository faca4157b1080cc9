"""The ticket state machine: which action may move a ticket from which state to which."""

from __future__ import annotations

from typing import Final

from bot.services.errors import DomainError

NEW: Final = "new"
ACCEPTED: Final = "accepted"
RESOLVED: Final = "resolved"
CLOSED: Final = "closed"
REOPENED: Final = "reopened"
TRANSFERRED: Final = "transferred"
RETURNED: Final = "returned"
REJECTED: Final = "rejected"
DUPLICATE: Final = "duplicate"
WITHDRAWN: Final = "withdrawn"  # the reporter took back a false alarm within minutes

STATES: Final = frozenset(
    {
        NEW,
        ACCEPTED,
        RESOLVED,
        CLOSED,
        REOPENED,
        TRANSFERRED,
        RETURNED,
        REJECTED,
        DUPLICATE,
        WITHDRAWN,
    }
)
# Waiting for someone to press 接单: the accept deadline runs.
AWAITING_ACCEPT: Final = frozenset({NEW, TRANSFERRED, RETURNED})
# Someone has it in hand: the resolve deadline runs.
IN_HAND: Final = frozenset({ACCEPTED, REOPENED})
OPEN_STATES: Final = AWAITING_ACCEPT | IN_HAND
TERMINAL: Final = frozenset({CLOSED, REJECTED, DUPLICATE, WITHDRAWN})

ACTIONS: Final = frozenset(
    {
        "accept",
        "transfer",
        "return",
        "reassign",
        "resolve",
        "reject",
        "duplicate",
        "rate",  # 满意 / 基本满意: the reporter is content, the ticket closes
        "rate_unsatisfied",  # 不满意: back to the same worker
        "close_unrated",  # the rating window ran out
        "withdraw",  # the reporter: "not a complaint after all", within minutes
    }
)

_WAITING: dict[str, str] = {
    "accept": ACCEPTED,
    "transfer": TRANSFERRED,
    "return": RETURNED,
    "reassign": TRANSFERRED,
    "reject": REJECTED,
    "duplicate": DUPLICATE,
    "withdraw": WITHDRAWN,
}

# from state -> {action: to state}. Anything not listed is refused.
TRANSITIONS: Final[dict[str, dict[str, str]]] = {
    NEW: dict(_WAITING),
    TRANSFERRED: dict(_WAITING),
    RETURNED: dict(_WAITING),
    ACCEPTED: {
        "resolve": RESOLVED,
        "transfer": TRANSFERRED,
        "return": RETURNED,
        "reassign": TRANSFERRED,
        "reject": REJECTED,
        "duplicate": DUPLICATE,
        "withdraw": WITHDRAWN,
    },
    # A reopened ticket is back with the worker who had it: they may resolve it again at once.
    REOPENED: {
        "accept": ACCEPTED,
        "resolve": RESOLVED,
        "transfer": TRANSFERRED,
        "return": RETURNED,
        "reassign": TRANSFERRED,
    },
    RESOLVED: {"rate": CLOSED, "rate_unsatisfied": REOPENED, "close_unrated": CLOSED},
    CLOSED: {},
    REJECTED: {},
    DUPLICATE: {},
    WITHDRAWN: {},
}


def check_transition(from_state: str, action: str, *, number: int | None = None) -> str:
    """Return the state `action` leads to from `from_state`, or raise illegal_transition."""
    if from_state not in TRANSITIONS:
        raise ValueError(f"unknown ticket state {from_state!r}")
    if action not in ACTIONS:
        raise ValueError(f"unknown ticket action {action!r}")
    to_state = TRANSITIONS[from_state].get(action)
    if to_state is None:
        raise DomainError("illegal_transition", number=number, state=from_state, action=action)
    return to_state


def allowed_actions(state: str) -> frozenset[str]:
    """Return the actions a ticket in `state` accepts (for building buttons)."""
    return frozenset(TRANSITIONS.get(state, {}))
