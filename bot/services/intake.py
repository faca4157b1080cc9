"""Intake: from a resident's words to a ticket with a responsible worker (or a question back).

The handler maps a Telegram message to a `Report`; `IntakeService.receive` decides what happens:
ignore chit-chat, ask the reporter when the reading is unsure or the building is unknown, fold a
burst of messages into one ticket, point at an open ticket on the same problem ("我也遇到"), or
open a ticket routed to its worker. Every decision is stored, so a replay decides the same way.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from typing import Any

from bot.nlp import NONE, OTHER, Classifier, Location, Reading
from bot.services.clock import Clock
from bot.services.community import Community
from bot.services.errors import DomainError
from bot.services.people import CommunityState
from bot.services.routing import Route, route_ticket
from bot.services.tickets import NewTicket, Ticket, TicketService
from storage.db import Database

BURST_WINDOW = timedelta(minutes=1)  # five messages about one thing in a minute: one ticket
SIMILAR_WINDOW = timedelta(days=3)  # an open ticket on the same problem from the last days
PENDING_TTL = timedelta(hours=24)  # an unanswered question expires
UNDO_WINDOW = timedelta(minutes=10)  # a reporter may withdraw a false alarm this long
MAX_TEXT = 2000  # longer pastes are kept whole in the ticket text up to this length

# Outcome kinds
IGNORED = "ignored"
OPENED = "opened"
REPLAYED = "replayed"
MERGED = "merged"
SIMILAR = "similar"
CONFIRM = "confirm"
ASK_BUILDING = "ask_building"
NOT_COMPLAINT = "not_complaint"


@dataclass(frozen=True, slots=True)
class Report:
    """A message that may be a complaint, as plain values."""

    chat_id: int
    message_id: int
    is_private: bool
    reporter_id: int
    reporter_name: str
    text: str
    photo: tuple[str, str] | None = None  # (file_id, file_unique_id)
    explicit: bool = False  # /report or a private message: the person means to report
    group_grids: tuple[str, ...] | None = None  # grids of the bound group; None when private

    @property
    def source_key(self) -> str:
        return f"msg:{self.chat_id}:{self.message_id}"


@dataclass(frozen=True, slots=True)
class Outcome:
    """What intake decided; the handler turns it into replies."""

    kind: str
    reading: Reading | None = None
    ticket: Ticket | None = None
    route: Route | None = None
    pending_id: int | None = None
    similar: Ticket | None = None
    candidates: tuple[str, ...] = ()
    buildings: tuple[str, ...] = ()
    created: bool = False
    with_photo: bool = False  # the message that opened the ticket carried a photo


@dataclass(frozen=True, slots=True)
class PendingReport:
    id: int
    kind: str
    reporter_id: int
    reporter_name: str
    chat_id: int
    message_id: int
    is_private: bool
    text: str
    reading: dict[str, Any]
    photos: list[list[str]]
    prompt_message_id: int | None
    created_at: datetime
    expires_at: datetime
    resolved: str | None

    @classmethod
    def _from_row(cls, row: sqlite3.Row) -> PendingReport:
        return cls(
            id=int(row["id"]),
            kind=str(row["kind"]),
            reporter_id=int(row["reporter_id"]),
            reporter_name=str(row["reporter_name"]),
            chat_id=int(row["chat_id"]),
            message_id=int(row["message_id"]),
            is_private=bool(row["is_private"]),
            text=str(row["text"]),
            reading=json.loads(row["reading"]),
            photos=json.loads(row["photos"]),
            prompt_message_id=row["prompt_message_id"],
            created_at=datetime.fromisoformat(row["created_at"]),
            expires_at=datetime.fromisoformat(row["expires_at"]),
            resolved=row["resolved"],
        )


_PENDING_COLUMNS = (
    "id, kind, reporter_id, reporter_name, chat_id, message_id, is_private, text, reading,"
    " photos, prompt_message_id, created_at, expires_at, resolved"
)


class PendingRepository:
    """Reports waiting for the reporter's answer (which category, which building)."""

    def __init__(self, db: Database) -> None:
        self.db = db

    async def add(self, report: Report, kind: str, reading: Reading, now: datetime) -> int:
        """Store a waiting report (once per message); return its id."""
        row = await self.db.fetchone(
            "INSERT INTO pending_reports (kind, reporter_id, reporter_name, chat_id, message_id,"
            " is_private, text, reading, photos, created_at, expires_at)"
            " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
            " ON CONFLICT (chat_id, message_id) DO UPDATE SET kind = excluded.kind,"
            " reading = excluded.reading RETURNING id",
            (
                kind,
                report.reporter_id,
                report.reporter_name,
                report.chat_id,
                report.message_id,
                int(report.is_private),
                report.text,
                json.dumps(reading_to_json(reading), ensure_ascii=False),
                json.dumps([list(report.photo)] if report.photo else []),
                now.isoformat(),
                (now + PENDING_TTL).isoformat(),
            ),
        )
        assert row is not None
        return int(row["id"])

    async def get(self, pending_id: int) -> PendingReport | None:
        """Return one waiting report."""
        row = await self.db.fetchone(
            f"SELECT {_PENDING_COLUMNS} FROM pending_reports WHERE id = ?", (pending_id,)
        )
        return None if row is None else PendingReport._from_row(row)

    async def by_prompt(self, chat_id: int, prompt_message_id: int) -> PendingReport | None:
        """Return the waiting report whose question is this bot message."""
        row = await self.db.fetchone(
            f"SELECT {_PENDING_COLUMNS} FROM pending_reports"
            " WHERE chat_id = ? AND prompt_message_id = ?",
            (chat_id, prompt_message_id),
        )
        return None if row is None else PendingReport._from_row(row)

    async def set_prompt(self, pending_id: int, message_id: int) -> None:
        """Remember the bot's question message (to edit it when answered)."""
        await self.db.execute(
            "UPDATE pending_reports SET prompt_message_id = ? WHERE id = ?",
            (message_id, pending_id),
        )

    async def settle(self, pending_id: int, how: str) -> bool:
        """Mark a waiting report answered; False when it was already settled."""
        count = await self.db.execute_rowcount(
            "UPDATE pending_reports SET resolved = ? WHERE id = ? AND resolved IS NULL",
            (how, pending_id),
        )
        return count > 0


def reading_to_json(reading: Reading) -> dict[str, Any]:
    """Return a reading as JSON-ready data."""
    return reading.to_dict()


def reading_from_json(data: dict[str, Any]) -> Reading:
    """Rebuild a stored reading."""
    location = data.get("location") or {}
    return Reading(
        category=str(data["category"]),
        confidence=float(data["confidence"]),
        keywords=tuple(data.get("keywords", ())),
        urgency=str(data.get("urgency", "normal")),
        location=Location(
            building=location.get("building"),
            unit=location.get("unit"),
            room=location.get("room"),
            place=location.get("place"),
        ),
        candidates=tuple((str(c), float(s)) for c, s in data.get("candidates", ())),
        decision=str(data.get("decision", "ticket")),
    )


@dataclass
class IntakeService:
    """Decide what a resident's message becomes."""

    db: Database
    clock: Clock
    classifier: Classifier
    community: Community
    state: CommunityState
    tickets: TicketService
    worker_ids: Callable[[str], Any] | None = None
    pending: PendingRepository = field(init=False)

    def __post_init__(self) -> None:
        self.pending = PendingRepository(self.db)

    async def receive(self, report: Report) -> Outcome:
        """Classify a message and act on it."""
        # A replayed update needs no look-up here: open_ticket is idempotent on source_key and
        # delivery sends only what was not sent yet.
        text = report.text.strip()
        if not text:
            return Outcome(IGNORED)
        reading = self.classifier.classify(text[:MAX_TEXT])
        if reading.decision == "ignore" or reading.category == NONE:
            if not report.explicit:
                return Outcome(IGNORED, reading=reading)
            if report.is_private and not reading.candidates:
                # "你好", "谢谢" in a private chat: invite them to describe a problem instead.
                return Outcome(IGNORED, reading=reading)
            # /report with words that do not say what: ask which kind of problem it is.
            return await self._ask_category(report, reading)
        if reading.decision == "confirm":
            merged = await self._merge_burst(report, reading, reading.category)
            return merged or await self._ask_category(report, reading)
        return await self._place(report, reading, reading.category)

    async def _ask_category(self, report: Report, reading: Reading) -> Outcome:
        now = self.clock.now()
        candidates = tuple(code for code, _ in reading.candidates if code not in (NONE, OTHER))[:3]
        if not candidates and reading.category not in (NONE, OTHER):
            candidates = (reading.category,)
        # One upsert is atomic on its own: no transaction round trips around it.
        pending_id = await self.pending.add(report, "confirm_category", reading, now)
        return Outcome(CONFIRM, reading=reading, pending_id=pending_id, candidates=candidates)

    async def _merge_burst(
        self, report: Report, reading: Reading, category: str
    ) -> Outcome | None:
        """Fold a message into the reporter's ticket on the same thing from the last minute."""
        if category in (NONE, OTHER):
            return None
        burst = await self.tickets.recent_by_reporter(report.reporter_id, category, BURST_WINDOW)
        if burst is None or burst.source_key == report.source_key:
            return None
        if report.photo is not None:
            await self.tickets.add_photo(
                burst.id, report.reporter_id, report.photo[0], report.photo[1], "reporter"
            )
        return Outcome(MERGED, reading=reading, ticket=burst)

    async def _place(self, report: Report, reading: Reading, category: str) -> Outcome:
        """Fold bursts, point at similar open tickets, route, and open the ticket."""
        merged = await self._merge_burst(report, reading, category)
        if merged is not None:
            return merged
        location = reading.location
        similar = await self.tickets.find_similar_open(
            self.tickets.community, category, location.building, location.place, SIMILAR_WINDOW
        )
        if similar is not None and similar.is_private:
            similar = None  # a private complaint is never shown to anyone else, not even exists
        if similar is not None and similar.reporter_id != report.reporter_id:
            return Outcome(SIMILAR, reading=reading, similar=similar)
        unavailable = await self.state.unavailable_workers()
        route = route_ticket(
            self.community,
            category,
            location.building,
            location.place,
            report.group_grids if not report.is_private else None,
            unavailable,
        )
        if route.needs_building:
            pending_id = await self.pending.add(
                report, "ask_building", replace(reading, category=category), self.clock.now()
            )
            buildings = tuple(b for g in self.community.grids for b in g.buildings)
            return Outcome(
                ASK_BUILDING,
                reading=reading,
                route=route,
                pending_id=pending_id,
                buildings=buildings,
            )
        return await self._open(report, reading, category, route)

    async def _open(
        self,
        report: Report,
        reading: Reading,
        category: str,
        route: Route,
        building: str | None = None,
    ) -> Outcome:
        assignee_id = (
            await self.state.telegram_id_of(route.worker_key) if route.worker_key else None
        )
        location = reading.location
        ticket, created = await self.tickets.open_ticket(
            NewTicket(
                community=self.tickets.community,
                source_key=report.source_key,
                text=report.text.strip()[:MAX_TEXT],
                category=category,
                confidence=reading.confidence,
                keywords=reading.keywords,
                urgency=reading.urgency,
                location=location.to_dict(),
                building=building or location.building,
                grid=route.grid,
                reporter_id=report.reporter_id,
                reporter_name=report.reporter_name,
                is_private=report.is_private,
                chat_id=report.chat_id,
                message_id=report.message_id,
                assignee_key=route.worker_key,
                assignee_id=assignee_id,
                photos=(report.photo,) if report.photo else (),
            )
        )
        return Outcome(
            OPENED if created else REPLAYED,
            reading=reading,
            ticket=ticket,
            route=route,
            created=created,
            with_photo=report.photo is not None,
        )

    async def answer_category(self, pending_id: int, user_id: int, choice: str) -> Outcome:
        """The reporter chose a category (or 'none': not a complaint)."""
        waiting = await self._waiting(pending_id, user_id, "confirm_category")
        if choice != NONE and choice not in self.classifier.categories:
            raise DomainError("bad_choice")
        report = self._report_of(waiting)
        if choice == NONE:
            if not await self._settle(pending_id, "not_complaint"):
                raise DomainError("already_answered")
            return Outcome(NOT_COMPLAINT)
        reading = reading_from_json(waiting.reading)
        outcome = await self._place(report, replace(reading, category=choice), choice)
        if outcome.kind != ASK_BUILDING:
            await self._settle(pending_id, "ticket")
        return outcome

    async def answer_building(self, pending_id: int, user_id: int, building: str) -> Outcome:
        """The reporter said which building; open the ticket there."""
        waiting = await self._waiting(pending_id, user_id, "ask_building")
        grid = self.community.grid_for_building(building)
        if grid is None:
            raise DomainError("unknown_building", building=building)
        reading = reading_from_json(waiting.reading)
        location = replace(reading.location, building=building)
        reading = replace(reading, location=location)
        report = self._report_of(waiting)
        unavailable = await self.state.unavailable_workers()
        route = route_ticket(
            self.community, reading.category, building, location.place, None, unavailable
        )
        outcome = await self._open(report, reading, reading.category, route, building=building)
        await self._settle(pending_id, "ticket")
        return outcome

    async def _waiting(self, pending_id: int, user_id: int, kind: str) -> PendingReport:
        waiting = await self.pending.get(pending_id)
        if waiting is None or waiting.kind != kind:
            raise DomainError("stale_button")
        if waiting.reporter_id != user_id:
            raise DomainError("not_your_report")
        if waiting.resolved is not None:
            raise DomainError("already_answered")
        if self.clock.now() > waiting.expires_at:
            await self._settle(pending_id, "expired")
            raise DomainError("question_expired")
        return waiting

    async def _settle(self, pending_id: int, how: str) -> bool:
        return await self.pending.settle(pending_id, how)  # one conditional UPDATE

    @staticmethod
    def _report_of(waiting: PendingReport) -> Report:
        photo = tuple(waiting.photos[0]) if waiting.photos else None
        return Report(
            chat_id=waiting.chat_id,
            message_id=waiting.message_id,
            is_private=waiting.is_private,
            reporter_id=waiting.reporter_id,
            reporter_name=waiting.reporter_name,
            text=waiting.text,
            photo=(photo[0], photo[1]) if photo else None,
            explicit=True,
            group_grids=None,
        )
