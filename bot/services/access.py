"""Who may see or do what with a ticket: the one access policy every handler, button and page asks.

The rules (issue "Private means private"):
- the full card and timeline: the reporter; followers of a public ticket; the staff who have it
  or acted on it (assignee, anyone in its history, a department called in); the admins of its
  community — and only in a private chat, never in a group;
- a one-line status: members of a group bound to the ticket's community, public tickets only;
- 我也遇到 (follow): a member of the group where the public ticket was reported, not its
  reporter, while it is open;
- rating: the reporter (their rating decides); followers of a public ticket, whose ratings are
  kept apart and never reopen the ticket or stand in for the reporter's;
- a private complaint is invisible to everyone else: they get the very answer a number that
  does not exist gets (`invisible`), so sequential numbers reveal nothing.
Callback data is never trusted: a handler builds these facts from the database for the person
who pressed, whatever the button said.

The policy is pure (plain values in, a decision out); `load_facts` gathers the values.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from enum import Enum

from bot.services import lifecycle as lc
from bot.services.errors import DomainError
from storage.tickets import Ticket, TicketEvent, TicketRepository

STAFF_ROLES = frozenset({"worker", "admin", "department", "office", "street"})


class View(Enum):
    """How much of a ticket a person may read where they asked."""

    NOTHING = "nothing"  # answered exactly like a number that does not exist
    STATUS = "status"  # one calm line: category, place, state
    CARD = "card"  # the card, the timeline and the photos


@dataclass(frozen=True, slots=True)
class TicketFacts:
    """What the policy needs to know about one ticket."""

    community: str
    is_private: bool
    is_open: bool
    reporter_id: int | None  # None once the reporter is anonymised
    origin_chat_id: int | None  # the group it was reported in (None for a private report)
    staff_ids: frozenset[int]  # assignee, the card's holder, staff in its history
    follower_ids: frozenset[int]


@dataclass(frozen=True, slots=True)
class Viewer:
    """The person asking or pressing."""

    user_id: int
    admin_of: frozenset[str] = frozenset()  # the communities this person administers


@dataclass(frozen=True, slots=True)
class Place:
    """Where the question is asked."""

    is_private: bool
    community: str | None = None  # the community a group is bound to; None when unbound
    is_origin: bool = False  # the chat the ticket was reported in


def is_reporter(viewer: Viewer, ticket: TicketFacts) -> bool:
    """Tell whether the person reported the ticket."""
    return ticket.reporter_id is not None and viewer.user_id == ticket.reporter_id


def is_staff_of(viewer: Viewer, ticket: TicketFacts) -> bool:
    """Tell whether the person handles the ticket or administers its community."""
    return viewer.user_id in ticket.staff_ids or ticket.community in viewer.admin_of


def sees_card(viewer: Viewer, ticket: TicketFacts) -> bool:
    """The reporter, followers of a public ticket, its staff and its community's admins."""
    if is_reporter(viewer, ticket) or is_staff_of(viewer, ticket):
        return True
    return not ticket.is_private and viewer.user_id in ticket.follower_ids


def sees_status(ticket: TicketFacts, place: Place, *, member_of_community_group: bool) -> bool:
    """Members of a group bound to the ticket's community see a public ticket's status line."""
    if ticket.is_private:
        return False
    if not place.is_private:
        return place.community == ticket.community
    return member_of_community_group


def view(
    viewer: Viewer, ticket: TicketFacts, place: Place, *, member_of_community_group: bool = False
) -> View:
    """Decide what `/ticket N` shows this person here; the card only in a private chat."""
    if place.is_private and sees_card(viewer, ticket):
        return View.CARD
    if sees_status(ticket, place, member_of_community_group=member_of_community_group):
        return View.STATUS
    return View.NOTHING


def knows_of(viewer: Viewer, ticket: TicketFacts) -> bool:
    """Whether the person may learn that the ticket exists at all (private: only its people)."""
    return not ticket.is_private or sees_card(viewer, ticket)


def may_follow(viewer: Viewer, ticket: TicketFacts, *, member_of_origin: bool) -> bool:
    """A member of the group where the public, open ticket was reported; not its reporter."""
    if ticket.is_private or ticket.origin_chat_id is None or is_reporter(viewer, ticket):
        return False
    return ticket.is_open and member_of_origin


def rater_role(viewer: Viewer, ticket: TicketFacts) -> str | None:
    """'reporter' (decides), 'follower' (counted apart, public tickets only), or None."""
    if is_reporter(viewer, ticket):
        return "reporter"
    if not ticket.is_private and viewer.user_id in ticket.follower_ids:
        return "follower"
    return None


def may_add_photo(viewer: Viewer, ticket: TicketFacts) -> str | None:
    """The role a photo is filed under ('reporter' or 'follower'), or None when not allowed."""
    return rater_role(viewer, ticket)


def invisible(ref: str) -> DomainError:
    """The refusal for a ticket the person may not know of: the same as a missing number."""
    return DomainError("ticket_not_found", ref=ref)


def facts(
    ticket: Ticket,
    *,
    events: Sequence[TicketEvent],
    follower_ids: Iterable[int],
    extra_staff: Iterable[int] = (),
) -> TicketFacts:
    """Gather the policy's facts from a ticket, its history and its followers."""
    staff = {e.actor_id for e in events if e.actor_id is not None and e.actor_role in STAFF_ROLES}
    staff.update(i for i in (ticket.assignee_id, ticket.card_chat_id) if i is not None and i > 0)
    staff.update(extra_staff)
    return TicketFacts(
        community=ticket.community,
        is_private=ticket.is_private,
        is_open=ticket.status in lc.OPEN_STATES,
        reporter_id=ticket.reporter_id if ticket.reporter_id > 0 else None,
        origin_chat_id=None if ticket.is_private else ticket.chat_id,
        staff_ids=frozenset(staff),
        follower_ids=frozenset(follower_ids),
    )


async def load_facts(repo: TicketRepository, ticket: Ticket) -> TicketFacts:
    """Read what the policy needs about a ticket (history, followers, departments called in)."""
    return facts(
        ticket,
        events=await repo.events(ticket.id),
        follower_ids=[f.user_id for f in await repo.followers(ticket.id)],
        extra_staff=[w.contact_id for w in await repo.whistles(ticket.id)],
    )


def viewer(user_id: int, *, admin_of: Iterable[str] = ()) -> Viewer:
    """Describe the person asking."""
    return Viewer(user_id, frozenset(admin_of))
