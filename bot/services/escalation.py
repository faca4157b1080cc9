"""The deadline sweep: reminders, then worker -> office -> street -> department (吹哨)."""

from __future__ import annotations

import logging
from collections import defaultdict
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, time, timedelta
from functools import partial
from typing import Any, NamedTuple

from bot import texts
from bot.services import lifecycle as lc
from bot.services.clock import Clock
from bot.services.community import ConfigError
from bot.services.errors import DatabaseError, DomainError
from bot.services.schedule import quiet_until
from bot.services.sla import SlaPolicy
from storage.outbox import Button, OutgoingMessage
from storage.store import Store
from storage.tickets import (
    DueStep,
    NewEvent,
    QueuedText,
    SystemEvent,
    Ticket,
    TicketRepository,
    encode_detail,
    iso,
)

log = logging.getLogger(__name__)

LEVEL_OFFICE = 1
LEVEL_STREET = 2
LEVEL_DEPARTMENT = 3
# The key the street office's contact is invited and linked under (`gridbot invite street`).
STREET_KEY = "street"

QuietHours = tuple[time, time] | None
# Loaders the sweep calls once per run: each group's quiet hours, and the escalation contacts
# who linked their Telegram account by invitation (key -> Telegram id).
QuietLoader = Callable[[], Awaitable[Mapping[int, QuietHours]]]
ContactLoader = Callable[[], Awaitable[Mapping[str, int]]]


class EscalationConfigError(ConfigError):
    """The [escalation] or [[departments]] section is wrong; the message names file and key."""


@dataclass(frozen=True, slots=True)
class Department:
    """A department the street can call in (吹哨) for some categories."""

    key: str
    name: str
    categories: tuple[str, ...]
    # Telegram id of the department's contact; None until someone links by invitation.
    contact_id: int | None = None


@dataclass(frozen=True, slots=True)
class EscalationPolicy:
    """When each rung of the ladder is reached, and whom to tell there."""

    # Fractions of the deadline's own length past the deadline: a 30-minute accept window
    # reaches the street 15 minutes late, a 3-working-day resolve window 1.5 days late.
    street_after: float = 0.5
    department_after: float = 1.0
    ack_time: timedelta = timedelta(minutes=30)
    office_ids: tuple[int, ...] = ()  # the community office (admins' Telegram ids)
    street_office_id: int | None = None
    departments: tuple[Department, ...] = ()
    community: str = ""
    # Chinese category names for the messages (the classifier's category_name); codes otherwise.
    category_names: Mapping[str, str] = field(default_factory=dict)
    worker_names: Mapping[str, str] = field(default_factory=dict)  # worker key -> name

    def department_for(self, category: str) -> Department | None:
        """Return the department named for a category, if any."""
        return next((d for d in self.departments if category in d.categories), None)

    @classmethod
    def from_config(
        cls,
        raw: Mapping[str, Any],
        *,
        office_ids: Sequence[int] = (),
        community: str = "",
        category_names: Mapping[str, str] | None = None,
        worker_names: Mapping[str, str] | None = None,
        source: str = "community.toml",
        reserved_keys: frozenset[str] = frozenset(),
    ) -> EscalationPolicy:
        """Build the policy from [escalation] and [[departments]] of the community TOML."""
        problems: list[str] = []
        section = raw.get("escalation", {})
        if not isinstance(section, Mapping):
            raise EscalationConfigError(["escalation: must be a table"], source)
        street_after = _fraction(section, "street_after", 0.5, problems)
        department_after = _fraction(section, "department_after", 1.0, problems)
        if department_after < street_after:
            problems.append("escalation.department_after: must not be below street_after")
        ack = section.get("ack_minutes", 30)
        if isinstance(ack, bool) or not isinstance(ack, int) or ack <= 0:
            problems.append("escalation.ack_minutes: must be a positive whole number")
            ack = 30
        street = section.get("street_office_id")
        if street is not None and (isinstance(street, bool) or not isinstance(street, int)):
            problems.append("escalation.street_office_id: must be a Telegram id (a number)")
            street = None
        known = {"street_after", "department_after", "ack_minutes", "street_office_id"}
        problems.extend(f"escalation.{k}: unknown key" for k in sorted(set(section) - known))
        departments: list[Department] = []
        seen: dict[str, str] = {}
        tables = raw.get("departments", [])
        if not isinstance(tables, list):
            problems.append("departments: must be an array of tables ([[departments]])")
            tables = []
        for i, table in enumerate(tables):
            where = f"[[departments]][{i}]"
            if not isinstance(table, Mapping):
                problems.append(f"{where}: must be a table")
                continue
            key, name = table.get("key"), table.get("name")
            contact = table.get("contact_id")
            categories = table.get("categories", [])
            if not isinstance(key, str) or not key:
                problems.append(f"{where}.key: missing")
                continue
            where = f"[[departments]] {key}"
            if not isinstance(name, str) or not name:
                problems.append(f"{where}.name: missing")
            if contact is not None and (isinstance(contact, bool) or not isinstance(contact, int)):
                problems.append(
                    f"{where}.contact_id: must be the contact's Telegram id (or left out and"
                    f" linked with `gridbot invite {key}`)"
                )
            if key == STREET_KEY or key in reserved_keys:
                problems.append(f"{where}.key: {key!r} is already the key of someone else")
            if not isinstance(categories, list) or not all(isinstance(c, str) for c in categories):
                problems.append(f"{where}.categories: must be a list of category names")
                categories = []
            for category in categories:
                if category in seen:
                    problems.append(
                        f"{where}.categories: {category!r} is already handled by {seen[category]}"
                    )
                seen[category] = key
            if isinstance(name, str) and (contact is None or isinstance(contact, int)):
                departments.append(Department(key, name, tuple(categories), contact))
        if problems:
            raise EscalationConfigError(problems, source)
        return cls(
            street_after=street_after,
            department_after=department_after,
            ack_time=timedelta(minutes=ack),
            office_ids=tuple(office_ids),
            street_office_id=street,
            departments=tuple(departments),
            community=community,
            category_names=dict(category_names or {}),
            worker_names=dict(worker_names or {}),
        )


def contact_names(raw: Mapping[str, Any], street_office: str) -> dict[str, str]:
    """Key -> name of everyone escalations go to: the street office and each department."""
    names = {STREET_KEY: street_office or texts.STREET_OFFICE}
    tables = raw.get("departments", [])
    for table in tables if isinstance(tables, list) else []:
        if isinstance(table, Mapping):
            key, name = table.get("key"), table.get("name")
            if isinstance(key, str) and key and isinstance(name, str) and name:
                names[key] = name
    return names


def _fraction(section: Mapping[str, Any], key: str, default: float, problems: list[str]) -> float:
    value = section.get(key, default)
    if isinstance(value, bool) or not isinstance(value, int | float) or value < 0:
        problems.append(f"escalation.{key}: must be a number ≥ 0 (a fraction of the deadline)")
        return default
    return float(value)


@dataclass(frozen=True, slots=True)
class SweepResult:
    """What one sweep did (counts of steps taken)."""

    reminded: int = 0
    escalated: int = 0
    whistled: int = 0
    lapsed: int = 0
    closed_unrated: int = 0
    skipped: int = 0
    messages: int = 0
    closed_ids: tuple[int, ...] = ()  # tickets closed as unrated: their cards need redrawing

    @property
    def steps(self) -> int:
        return self.reminded + self.escalated + self.whistled + self.lapsed + self.closed_unrated


# More messages than this of one kind to one chat in one batch become one message: after a
# holiday or an outage dozens of tickets fall due at once, and Telegram lets a bot send about
# one message a second to a person and twenty a minute to a group, so each notice alone would
# keep that chat (and everything else for it) waiting for hours.
FLOOD_AT = 5
FLOOD_LINES = 40  # a summary lists this many and counts the rest
# The kinds a summary may stand for: the office rung, a worker's reminders and overdue notes,
# a group's "being worked on". The street's and departments' notices stay one per ticket (each
# is reported to the admins on its own when Telegram refuses it).
_FLOOD_PURPOSES = frozenset({"escalate", "overdue", "remind", "status"})


# A message of the office rung not written out yet: (chat_id, purpose, not_before, due step,
# how to write it). After an outage thousands of office steps fall due at once and nearly all
# their messages end in a flood's summary, which names only the first FLOOD_LINES: a draft
# carries what the grouping needs, and its text, key and extra are made only for the messages
# sent as they are (and a summary's first lines). A plain tuple: thousands are made at once.
_Draft = tuple[int, str, datetime | None, DueStep, Callable[[DueStep], QueuedText]]
Outgoing = QueuedText | _Draft


def consolidate(messages: Sequence[Outgoing]) -> list[QueuedText]:
    """Replace a flood of one kind of message to one chat by one summary (order kept)."""
    groups: dict[tuple[int, str, datetime | None], list[Outgoing]] = defaultdict(list)
    keys: list[tuple[int, str, datetime | None] | None] = []
    for m in messages:
        if not isinstance(m, QueuedText):
            key: tuple[int, str, datetime | None] | None = (m[0], m[1], m[2])
        elif _may_summarise(m):
            key = (m.chat_id, m.purpose, m.not_before)
        else:
            key = None
        keys.append(key)
        if key is not None:
            groups[key].append(m)
    done: set[tuple[int, str, datetime | None]] = set()
    out: list[QueuedText] = []
    for m, key in zip(messages, keys, strict=True):
        if key is None or len(same := groups[key]) <= FLOOD_AT:
            out.append(_made(m))
        elif key not in done:
            done.add(key)
            out.append(_summary(same))
    return out


def mark_urgent(messages: list[Outgoing], urgent: set[int]) -> list[Outgoing]:
    """Mark the messages about urgent tickets: they ring even in quiet hours (the sender)."""
    if not urgent:
        return messages
    return [
        m._replace(extra={**m.extra, "urgent": True})
        if isinstance(m, QueuedText) and m.extra.get("ticket_id") in urgent
        else m
        for m in messages
    ]


def _made(m: Outgoing) -> QueuedText:
    if isinstance(m, QueuedText):
        return m
    due = m[3]
    made = m[4](due)
    return made._replace(extra={**made.extra, "urgent": True}) if due.urgency == "urgent" else made


def _may_summarise(m: Outgoing) -> bool:
    if not isinstance(m, QueuedText):
        return True
    if m.purpose not in _FLOOD_PURPOSES or m.buttons:
        return False
    return m.purpose != "escalate" or m.extra.get("level") == LEVEL_OFFICE


def _summary(same: list[Outgoing]) -> QueuedText:
    first = _made(same[0])
    ids = [
        x.extra["ticket_id"] if isinstance(x, QueuedText) else x[3].ticket_id
        for x in same
        if not isinstance(x, QueuedText) or "ticket_id" in x.extra
    ]
    if first.purpose == "status":  # the group: numbers only, as each note would say
        numbers = "、".join(
            x.text.split(" ", 1)[0]
            if isinstance(x, QueuedText)
            else _STATUS_HEAD.format(number=x[3].number)
            for x in same
        )
        text = texts.FLOOD_GROUP_STATUS.format(numbers=numbers)
    else:
        lines = [f"• {_made(x).text}" for x in same[:FLOOD_LINES]]
        rest = len(same) - FLOOD_LINES
        if rest > 0:
            lines.append(texts.FLOOD_MORE.format(count=rest))
        text = texts.FLOOD_TITLE[first.purpose].format(count=len(same)) + "\n" + "\n".join(lines)
    extra: dict[str, Any] = {"ticket_ids": ids, "summary": len(same)}
    if "level" in first.extra:
        extra["level"] = first.extra["level"]
    if any(
        x.extra.get("urgent") if isinstance(x, QueuedText) else x[3].urgency == "urgent"
        for x in same
    ):
        extra["urgent"] = True
    return first._replace(
        dedup_key=f"{first.dedup_key}:flood",
        text=text,
        extra=extra,
        reply_to_message_id=None,
    )


# A group's "being worked on" note begins with the ticket's number: its summary lists those.
_STATUS_HEAD = texts.GROUP_CALM_STATUS.split(" ", 1)[0]


class _OfficeNotes(NamedTuple):
    """How a batch writes out the office rung's drafts (made once per batch)."""

    office: tuple[tuple[int, Callable[[DueStep], QueuedText]], ...]
    overdue: Callable[[DueStep], QueuedText]
    status: Callable[[DueStep], QueuedText]


@dataclass
class _Batch:
    """Everything one batch decides, as the rows its transaction writes."""

    now: datetime
    quiet: Mapping[int, QuietHours]  # per group chat
    contacts: Mapping[str, int]  # linked escalation contacts
    # A non-urgent escalation waits for the community's quiet hours to end (None: at once).
    escalation_hold: datetime | None
    events: list[SystemEvent] = field(default_factory=list)
    messages: list[Outgoing] = field(default_factory=list)
    held: list[Outgoing] = field(default_factory=list)  # queued after the others
    finished: list[tuple[int, str]] = field(default_factory=list)
    planned: list[tuple[int, str, str, datetime, datetime, datetime]] = field(default_factory=list)
    levels: dict[int, int] = field(default_factory=dict)  # every ticket touched: its new level
    urgent: set[int] = field(default_factory=set)  # their messages ring even in quiet hours
    whistles: list[tuple[int, str, int, datetime, datetime]] = field(default_factory=list)
    lapsed: list[int] = field(default_factory=list)
    closed: list[tuple[int, datetime]] = field(default_factory=list)  # and when resolved
    counts: dict[str, int] = field(default_factory=lambda: defaultdict(int))
    # Worked out once per batch: each is the same for thousands of steps.
    group_holds: dict[int, datetime | None] = field(default_factory=dict)
    late: dict[datetime, str] = field(default_factory=dict)  # deadline -> 多久
    epochs: dict[datetime, int] = field(default_factory=dict)  # deadline -> its seconds
    late_minutes: dict[datetime, int] = field(default_factory=dict)  # deadline -> minutes late
    details: dict[tuple[Any, ...], str] = field(default_factory=dict)  # encoded event details
    notes: _OfficeNotes | None = None


class EscalationSweep:
    """Walk due deadline steps from the database; each step happens once, even across restarts."""

    BATCH = 2000

    def __init__(
        self,
        db: Store,
        clock: Clock,
        sla: SlaPolicy,
        policy: EscalationPolicy,
        *,
        quiet_hours: QuietHours = None,
        quiet_by_chat: QuietLoader | None = None,
        contacts: ContactLoader | None = None,
    ) -> None:
        # quiet_hours: the community's quiet hours, holding non-urgent escalations and (unless
        # a group set its own) every group post until they end.
        self.db = db
        self.clock = clock
        self.sla = sla
        self.policy = policy
        self.repo = TicketRepository(db, community=policy.community)
        self.quiet_hours = quiet_hours
        self._quiet_by_chat = quiet_by_chat
        self._contacts = contacts
        self._handlers = self._handler_table()

    async def communities_with_work(self) -> set[str]:
        """Return every community (of the database, not only this one) a sweep has work in."""
        return await self.repo.communities_with_work(self.clock.now())

    async def run(self) -> SweepResult:
        """Take every step that is due now; return what was done."""
        now = self.clock.now()
        total: dict[str, int] = defaultdict(int)
        closed: list[int] = []
        quiet: dict[int, QuietHours] | None = None
        contacts: dict[str, int] = {}
        # A step may plan the next rung already due (the bot was down): loop until none is.
        for _ in range(10):
            async with self.db.transaction():
                due = await self.repo.due_steps(self.policy.community, now, self.BATCH)
                if not due:
                    break
                if quiet is None:  # read only when there is something to decide
                    quiet = dict(await self._quiet_by_chat()) if self._quiet_by_chat else {}
                    contacts = dict(await self._contacts()) if self._contacts else {}
                batch = _Batch(
                    now=now,
                    quiet=quiet,
                    contacts=contacts,
                    escalation_hold=self._quiet_end(now, self.quiet_hours),
                )
                for step in due:
                    self._take(step, batch)
                await self._write(batch)
            for key, value in batch.counts.items():
                total[key] += value
            closed.extend(ticket_id for ticket_id, _ in batch.closed)
            if len(due) < self.BATCH and not any(p[5] <= now for p in batch.planned):
                break
        total["messages"] += await self._report_refused(now)
        result = SweepResult(**total, closed_ids=tuple(closed))
        if result.steps:
            log.info(
                "deadline sweep: %d reminders, %d escalations, %d whistles, %d lapsed,"
                " %d closed unrated",
                result.reminded,
                result.escalated,
                result.whistled,
                result.lapsed,
                result.closed_unrated,
            )
        return result

    async def acknowledge_whistle(self, ticket_id: int, user_id: int) -> Ticket:
        """Record the department's 收到 on a whistle; the street office is not bothered then."""
        now = self.clock.now()
        async with self.db.transaction():
            ticket = await self.repo.get(ticket_id)
            if ticket is None:
                raise DomainError("ticket_not_found", ref=f"#{ticket_id}")
            whistle = await self.repo.open_whistle(ticket_id)
            if whistle is None:
                raise DomainError("no_open_whistle", number=ticket.number)
            if whistle.contact_id != user_id:
                raise DomainError("not_department_contact", number=ticket.number)
            await self.repo.ack_whistle(whistle.id, user_id, now)
            lapse = await self.repo.pending_step(ticket_id, "whistle", "whistle_lapse")
            if lapse is not None:
                await self.repo.finish_steps([(lapse.id, "acked")], now)
            await self.repo.add_event(
                NewEvent(
                    ticket_id,
                    now,
                    user_id,
                    "department",
                    "whistle_acked",
                    None,
                    None,
                    {"department": whistle.department, "late": now > whistle.ack_due_at},
                )
            )
            await self.repo.refresh_next_check([ticket_id])
            return ticket

    # ── deciding ──
    def _take(self, due: DueStep, batch: _Batch) -> None:
        batch.levels.setdefault(due.ticket_id, 0)
        if due.urgency == "urgent":
            batch.urgent.add(due.ticket_id)
        if not self._still_relevant(due):
            # The ticket moved on without cancelling this step (should not happen): drop it.
            batch.finished.append((due.step_id, "skipped"))
            batch.counts["skipped"] += 1
            return
        handler = self._handlers[due.step]
        batch.finished.append((due.step_id, handler(due, batch)))

    def _handler_table(self) -> dict[str, Callable[[DueStep, _Batch], str]]:
        return {
            "remind": self._remind,
            "office": self._office,
            "street": self._street,
            "department": self._department,
            "whistle_lapse": self._whistle_lapse,
            "close_unrated": self._close_unrated,
        }

    @staticmethod
    def _still_relevant(due: DueStep) -> bool:
        if due.phase == "accept":
            return due.status in lc.AWAITING_ACCEPT
        if due.phase == "resolve":
            return due.status in lc.IN_HAND
        if due.phase == "rating":
            return due.status == lc.RESOLVED
        return due.status in lc.OPEN_STATES  # whistle

    @staticmethod
    def _key(due: DueStep, batch: _Batch, who: str | int = "") -> str:
        # The deadline's epoch seconds name it: a new deadline is a new decision.
        epoch = batch.epochs.get(due.deadline_at)
        if epoch is None:
            epoch = batch.epochs[due.deadline_at] = int(due.deadline_at.timestamp())
        return f"t{due.ticket_id}:{due.phase}:{due.step}:{epoch}:{who}"

    @staticmethod
    def _event(due: DueStep, kind: str, detail: dict[str, Any], batch: _Batch) -> None:
        batch.events.append((due.ticket_id, kind, due.status, due.status, detail))

    @staticmethod
    def _send(batch: _Batch, message: QueuedText) -> None:
        if message.not_before is not None:
            batch.held.append(message)
        else:
            batch.messages.append(message)

    def _quiet_end(self, now: datetime, quiet: QuietHours) -> datetime | None:
        """Return when quiet hours end if `now` is inside them, else None."""
        end = quiet_until(now, quiet, self.sla.timezone)
        return end if end > now else None

    @staticmethod
    def _escalation_hold(due: DueStep, batch: _Batch) -> datetime | None:
        """A non-urgent escalation waits for the community's quiet hours to end."""
        return None if due.urgency == "urgent" else batch.escalation_hold

    def _group_hold(self, chat_id: int, batch: _Batch) -> datetime | None:
        """Every post in a group waits for that group's quiet hours to end."""
        if chat_id not in batch.group_holds:
            quiet = batch.quiet.get(chat_id, self.quiet_hours)
            batch.group_holds[chat_id] = self._quiet_end(batch.now, quiet)
        return batch.group_holds[chat_id]

    def _street_contact(self, batch: _Batch) -> int | None:
        return batch.contacts.get(STREET_KEY) or self.policy.street_office_id

    def _department_contact(self, department: Department, batch: _Batch) -> int | None:
        return batch.contacts.get(department.key) or department.contact_id

    def _category(self, due: DueStep) -> str:
        return self.policy.category_names.get(due.category, due.category)

    def _undeliverable(self, due: DueStep, batch: _Batch, target: str) -> None:
        """Nobody to send an escalation to: tell the admins, once per ticket and rung."""
        text = texts.ESCALATION_NOT_SET.format(
            number=due.number, category=self._category(due), target=target
        )
        hold = self._escalation_hold(due, batch)
        for office_id in self.policy.office_ids:
            self._send(
                batch,
                QueuedText(
                    f"t{due.ticket_id}:undeliverable:{due.step}:{office_id}",
                    office_id,
                    text,
                    "undeliverable",
                    {"ticket_id": due.ticket_id},
                    not_before=hold,
                ),
            )
        self._event(due, "escalation_undeliverable", {"target": target}, batch)

    def _local(self, when: datetime) -> str:
        return when.astimezone(self.sla.timezone).strftime("%m-%d %H:%M")

    def _remind(self, due: DueStep, batch: _Batch) -> str:
        if batch.now >= due.deadline_at or due.reject_pending:
            # The deadline passed while the bot was down: the office step speaks for it. Or
            # the worker asked for 不予受理 and waits for the admins: nothing to remind them of.
            batch.counts["skipped"] += 1
            return "skipped"
        template = texts.REMINDER_ACCEPT if due.phase == "accept" else texts.REMINDER_RESOLVE
        text = template.format(
            number=due.number, category=self._category(due), due=self._local(due.deadline_at)
        )
        if due.assignee_id is not None:
            self._send(
                batch,
                QueuedText(
                    self._key(due, batch),
                    due.assignee_id,
                    text,
                    "remind",
                    {"ticket_id": due.ticket_id},
                ),
            )
        self._event(
            due,
            "reminded",
            {"phase": due.phase, "to": due.assignee_key, "due": iso(due.deadline_at)},
            batch,
        )
        batch.counts["reminded"] += 1
        return "done"

    def _facts(self, due: DueStep, batch: _Batch) -> dict[str, Any]:
        where = "、".join(
            x for x in ((f"{due.building}号楼" if due.building else None), due.place) if x
        )
        late = batch.late.get(due.deadline_at)
        if late is None:
            late = batch.late[due.deadline_at] = late_text(batch.now - due.deadline_at)
        return {
            "number": due.number,
            "category": self._category(due),
            "place": where or texts.PLACE_UNKNOWN,
            "phase": texts.DEADLINE_PHASE_LABELS[due.phase],
            "late": late,
            "worker": self.policy.worker_names.get(due.assignee_key or "", "")
            or due.assignee_key
            or "-",
            "community": self.policy.community,
        }

    def _climb(self, due: DueStep, batch: _Batch, level: int) -> None:
        self._raise(due, batch, level)
        late = batch.late_minutes.get(due.deadline_at)
        if late is None:
            late = batch.late_minutes[due.deadline_at] = int(
                (batch.now - due.deadline_at).total_seconds() // 60
            )
        # The same detail for every ticket as late on the same rung: encoded once.
        key = (due.phase, level, due.step, late)
        detail = batch.details.get(key)
        if detail is None:
            detail = batch.details[key] = encode_detail(
                {"phase": due.phase, "level": level, "to": due.step, "late_minutes": late}
            )
        batch.events.append((due.ticket_id, "escalated", due.status, due.status, detail))
        batch.counts["escalated"] += 1

    @staticmethod
    def _raise(due: DueStep, batch: _Batch, level: int) -> None:
        batch.levels[due.ticket_id] = max(batch.levels[due.ticket_id], level)

    @staticmethod
    def _plan_next(due: DueStep, name: str, after: float, batch: _Batch) -> None:
        window = due.deadline_at - due.started_at
        batch.planned.append(
            (
                due.ticket_id,
                due.phase,
                name,
                due.started_at,
                due.deadline_at,
                due.deadline_at + window * after,
            )
        )

    def _office(self, due: DueStep, batch: _Batch) -> str:
        # The hot path after an outage: drafts, written out only when sent as they are.
        notes = batch.notes
        if notes is None:
            notes = batch.notes = self._office_notes(batch)
        hold = None if due.urgency == "urgent" else batch.escalation_hold
        queue = batch.messages if hold is None else batch.held
        for office_id, make in notes.office:
            queue.append((office_id, "escalate", hold, due, make))
        if due.assignee_id is not None and not due.reject_pending:
            batch.messages.append((due.assignee_id, "overdue", None, due, notes.overdue))
        if not due.is_private and due.chat_id is not None:
            # The group only sees that it is being worked on: no names, no lateness.
            group_hold = self._group_hold(due.chat_id, batch)
            (batch.messages if group_hold is None else batch.held).append(
                (due.chat_id, "status", group_hold, due, notes.status)
            )
        self._climb(due, batch, LEVEL_OFFICE)
        self._plan_next(due, "street", self.policy.street_after, batch)
        return "done"

    def _office_notes(self, batch: _Batch) -> _OfficeNotes:
        return _OfficeNotes(
            tuple(
                (office_id, partial(self._office_note, batch, office_id))
                for office_id in self.policy.office_ids
            ),
            partial(self._overdue_note, batch),
            partial(self._status_note, batch),
        )

    def _office_note(self, batch: _Batch, office_id: int, due: DueStep) -> QueuedText:
        # A 不予受理 waiting for approval: the deadline still runs for the resident, but the
        # next move is the admins' (approve or refuse), not the worker's.
        template = (
            texts.ESCALATE_REJECT_PENDING if due.reject_pending else texts.ESCALATE_TO_OFFICE
        )
        return QueuedText(
            self._key(due, batch, office_id),
            office_id,
            template.format(**self._facts(due, batch)),
            "escalate",
            {"ticket_id": due.ticket_id, "level": LEVEL_OFFICE},
            not_before=self._escalation_hold(due, batch),
        )

    def _overdue_note(self, batch: _Batch, due: DueStep) -> QueuedText:
        assert due.assignee_id is not None
        return QueuedText(
            self._key(due, batch, "worker"),
            due.assignee_id,
            texts.OVERDUE_TO_WORKER.format(**self._facts(due, batch)),
            "overdue",
            {"ticket_id": due.ticket_id},
        )

    def _status_note(self, batch: _Batch, due: DueStep) -> QueuedText:
        assert due.chat_id is not None
        return QueuedText(
            self._key(due, batch, "group"),
            due.chat_id,
            texts.GROUP_CALM_STATUS.format(number=due.number),
            "status",
            {"ticket_id": due.ticket_id},
            private=False,
            reply_to_message_id=due.message_id,
            not_before=self._group_hold(due.chat_id, batch),
        )

    def _street(self, due: DueStep, batch: _Batch) -> str:
        facts = self._facts(due, batch)
        street = self._street_contact(batch)
        if street is None:
            self._undeliverable(due, batch, texts.STREET_OFFICE)
        else:
            self._send(
                batch,
                QueuedText(
                    self._key(due, batch),
                    street,
                    texts.ESCALATE_TO_STREET.format(**facts),
                    "escalate",
                    {"ticket_id": due.ticket_id, "level": LEVEL_STREET},
                    not_before=self._escalation_hold(due, batch),
                ),
            )
        self._climb(due, batch, LEVEL_STREET)
        if self.policy.department_for(due.category) is not None:
            self._plan_next(due, "department", self.policy.department_after, batch)
        return "done"

    def _department(self, due: DueStep, batch: _Batch) -> str:
        department = self.policy.department_for(due.category)
        if department is None:  # the configuration changed since the step was planned
            batch.counts["skipped"] += 1
            return "skipped"
        facts = self._facts(due, batch)
        ack_minutes = int(self.policy.ack_time.total_seconds() // 60)
        hold = self._escalation_hold(due, batch)
        # A whistle held through the night gives the department its full time to answer.
        ack_due = (hold or batch.now) + self.policy.ack_time
        contact = self._department_contact(department, batch)
        self._raise(due, batch, LEVEL_DEPARTMENT)
        if contact is None:
            self._undeliverable(due, batch, department.name)
            batch.counts["skipped"] += 1
            return "skipped"
        self._send(
            batch,
            QueuedText(
                self._key(due, batch),
                contact,
                texts.WHISTLE_TO_DEPARTMENT.format(
                    **facts,
                    department=department.name,
                    ack_minutes=ack_minutes,
                    text=due.text[:300],
                ),
                "whistle",
                {"ticket_id": due.ticket_id, "department": department.key},
                buttons=((Button(texts.WHISTLE_ACK_BUTTON, f"ack:{due.ticket_id}"),),),
                not_before=hold,
            ),
        )
        batch.whistles.append((due.ticket_id, department.key, contact, batch.now, ack_due))
        self._event(
            due,
            "whistled",
            {
                "phase": due.phase,
                "level": LEVEL_DEPARTMENT,
                "department": department.key,
                "ack_due": iso(ack_due),
            },
            batch,
        )
        batch.planned.append(
            (due.ticket_id, "whistle", "whistle_lapse", batch.now, ack_due, ack_due)
        )
        batch.counts["whistled"] += 1
        return "done"

    def _whistle_lapse(self, due: DueStep, batch: _Batch) -> str:
        department = self.policy.department_for(due.category)
        name = department.name if department else "-"
        ack_minutes = int(self.policy.ack_time.total_seconds() // 60)
        street = self._street_contact(batch)
        if street is None:
            self._undeliverable(due, batch, texts.STREET_OFFICE)
        else:
            self._send(
                batch,
                QueuedText(
                    self._key(due, batch),
                    street,
                    texts.WHISTLE_LAPSED_TO_STREET.format(
                        number=due.number, department=name, ack_minutes=ack_minutes
                    ),
                    "escalate",
                    {"ticket_id": due.ticket_id},
                    not_before=self._escalation_hold(due, batch),
                ),
            )
        batch.lapsed.append(due.ticket_id)
        self._event(due, "whistle_lapsed", {"department": name}, batch)
        batch.counts["lapsed"] += 1
        return "done"

    def _close_unrated(self, due: DueStep, batch: _Batch) -> str:
        to = lc.check_transition(due.status, "close_unrated", number=due.number)
        assert due.resolved_at is not None
        batch.closed.append((due.ticket_id, due.resolved_at))
        batch.events.append(
            (due.ticket_id, "closed_unrated", due.status, to, {"rating": "unrated"})
        )
        batch.counts["closed_unrated"] += 1
        return "done"

    # ── writing ──
    async def _write(self, batch: _Batch) -> None:
        repo, now = self.repo, batch.now
        await repo.finish_steps(batch.finished, now)
        await repo.add_system_events(batch.events, now)
        messages = consolidate(mark_urgent(batch.messages, batch.urgent))
        held = consolidate(mark_urgent(batch.held, batch.urgent))
        await repo.queue_texts(messages + held, now)
        if batch.planned:
            await repo.plan_step_rows(batch.planned)
        if batch.whistles:
            await repo.add_whistles(batch.whistles)
        if batch.lapsed:
            await repo.lapse_whistles(batch.lapsed, now)
        if batch.closed:
            await repo.close_unrated(batch.closed, lc.CLOSED, now)
        await repo.raise_level_and_refresh(batch.levels.items())
        batch.counts["messages"] += len(messages) + len(held)

    async def _report_refused(self, now: datetime) -> int:
        """Tell the admins, once each, of escalations Telegram refused (chat not found, 403)."""
        if not self.policy.office_ids:
            return 0
        refused_sends = await self.repo.refused_escalations(
            self.policy.community
        )  # a read: no write lock taken
        if not refused_sends:
            return 0
        departments = {d.key: d.name for d in self.policy.departments}
        messages: list[tuple[str, int, OutgoingMessage]] = []
        async with self.db.transaction():
            for refused in refused_sends:
                if refused.purpose == "whistle":
                    target = departments.get(refused.department or "", texts.DEPARTMENT_WORD)
                else:
                    target = texts.STREET_OFFICE
                text = texts.ESCALATION_REFUSED.format(number=refused.number, target=target)
                for office_id in self.policy.office_ids:
                    messages.append(
                        (
                            refused_key(refused.outbox_id, office_id, self.policy.office_ids),
                            office_id,
                            OutgoingMessage(
                                text,
                                private=True,
                                purpose="undeliverable",
                                extra={"ticket_id": refused.ticket_id},
                            ),
                        )
                    )
            await self.repo.queue_messages(messages, now)
        return len(messages)


async def sweep_communities(sweeps: Sequence[EscalationSweep]) -> dict[str, SweepResult]:
    """Run several communities' sweeps (over one database) as one transaction; by community.

    One commit for the street office instead of one per community: after an outage thousands
    of steps fall due in every community at once, and tickets of different communities share
    pages, so a commit per community wrote the same pages to the log again and again (a
    10,000-step sweep over 20 communities spent about half its time committing). Each batch of
    a community is a savepoint: a community whose sweep fails is rolled back and logged, and the
    others go on. The database itself failing (locked, full) undoes the whole sweep, which runs
    again at the job's next turn.
    """
    results: dict[str, SweepResult] = {}
    if not sweeps:
        return results
    db = sweeps[0].db
    async with db.transaction():
        for sweep in sweeps:
            if sweep.db is not db:
                raise ValueError("the sweeps of one street share its database")
            try:
                results[sweep.policy.community] = await sweep.run()
            except DatabaseError:
                raise
            except Exception:
                log.exception("deadline sweep failed for one community")
    return results


def refused_key(outbox_id: int, office_id: int, office_ids: Sequence[int]) -> str:
    """The report's dedup key; the first admin's is what the next sweep looks for."""
    if office_id == office_ids[0]:
        return f"refused:{outbox_id}"
    return f"refused:{outbox_id}:{office_id}"


def late_text(late: timedelta) -> str:
    """Say how late something is in plain words (分钟 / 小时 / 天)."""
    minutes = max(0, int(late.total_seconds() // 60))
    if minutes < 1:
        return texts.LATE_UNDER_A_MINUTE
    if minutes < 120:
        return texts.LATE_MINUTES.format(minutes=minutes)
    hours = minutes // 60
    if hours < 48:
        return texts.LATE_HOURS.format(hours=hours)
    return texts.LATE_DAYS.format(days=hours // 24)
