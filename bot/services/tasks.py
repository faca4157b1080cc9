"""The task list (任务清单): publish, claim (接单), submit proof, verify, and award points."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from bot import texts
from bot.services import audit
from bot.services.clock import Clock
from bot.services.errors import DomainError
from bot.services.points import PointsService
from bot.services.residents import Actor
from storage.points import LedgerEntry
from storage.store import Store
from storage.tasks import Task, TaskClaim, TaskRepository

log = logging.getLogger(__name__)

MAX_TITLE = 60
MAX_CAPACITY = 100
MAX_HOURS = 24.0
MAX_TASK_POINTS = 1000
RESOLVED_TICKET_STATUSES = ("resolved", "closed")


@dataclass(frozen=True, slots=True)
class Verdict:
    """The outcome of a verification: the claim as it is now and the ledger row, if any."""

    task: Task
    claim: TaskClaim
    entry: LedgerEntry | None


def _can_manage(actor: Actor, task: Task) -> bool:
    return actor.is_admin or actor.is_worker or actor.user_id == task.publisher_id


class TaskService:
    """Run the task list; points are awarded in the same transaction as the verdict."""

    def __init__(self, db: Store, clock: Clock, points: PointsService) -> None:
        self.db = db
        self.clock = clock
        self.points = points
        self.repo = TaskRepository(db, points.community)

    def _points_for(self, points: int | None, difficulty: str | None) -> int:
        if points is not None:
            if not 0 <= points <= MAX_TASK_POINTS:
                raise DomainError("task_bad_points", limit=MAX_TASK_POINTS)
            return points
        if difficulty is None:
            raise DomainError("task_bad_points", limit=MAX_TASK_POINTS)
        table = self.points.config.difficulty
        if difficulty not in table:
            raise DomainError("task_bad_difficulty", known="、".join(table))
        return table[difficulty]

    async def publish(
        self,
        actor: Actor,
        *,
        title: str,
        points: int | None = None,
        difficulty: str | None = None,
        description: str = "",
        location: str = "",
        deadline: datetime | None = None,
        capacity: int = 1,
        audience: str = "public",
        targets: Sequence[str] = (),
        hours: float = 0.0,
        grid: str | None = None,
        ticket_id: int | None = None,
    ) -> Task:
        """Publish a task (workers and admins only); points come from points or difficulty."""
        if not (actor.is_worker or actor.is_admin):
            raise DomainError("not_allowed")
        clean_title = title.strip()
        if not clean_title or len(clean_title) > MAX_TITLE:
            raise DomainError("task_bad_title", limit=MAX_TITLE)
        value = self._points_for(points, difficulty)
        if not 1 <= capacity <= MAX_CAPACITY:
            raise DomainError("task_bad_capacity", limit=MAX_CAPACITY)
        if not 0 <= hours <= MAX_HOURS:
            raise DomainError("task_bad_hours", limit=MAX_HOURS)
        now = self.clock.now()
        if deadline is not None:
            if deadline.tzinfo is None:
                raise ValueError("deadline must be timezone-aware")
            if deadline <= now:
                raise DomainError("task_bad_deadline")
        clean_targets = tuple(dict.fromkeys(t.strip() for t in targets if t.strip()))
        if audience not in ("public", "targeted"):
            raise DomainError("task_bad_audience")
        if audience == "targeted" and not clean_targets:
            raise DomainError("task_no_targets")
        if audience == "public":
            clean_targets = ()
        async with self.db.transaction():
            task_id = await self.repo.insert(
                title=clean_title,
                description=description.strip(),
                location=location.strip(),
                grid=grid,
                points=value,
                hours=hours,
                difficulty=difficulty,
                capacity=capacity,
                deadline=deadline,
                audience=audience,
                targets=clean_targets,
                publisher_id=actor.user_id,
                publisher_name=actor.name,
                ticket_id=ticket_id,
                now=now,
            )
            task = await self.repo.get(task_id)
        assert task is not None
        log.info("task %s published (%s, %s points)", task.id, audience, value)
        return task

    async def task_from_ticket(
        self,
        actor: Actor,
        ticket_id: int,
        *,
        title: str | None = None,
        points: int | None = None,
        difficulty: str | None = None,
        description: str = "",
        deadline: datetime | None = None,
        capacity: int = 1,
        audience: str = "public",
        targets: Sequence[str] = (),
        hours: float = 0.0,
    ) -> Task:
        """Turn a resolved ticket into a task; the resident's own words are not copied."""
        origin = await self.repo.ticket_origin(ticket_id)
        if origin is None:
            raise DomainError("task_ticket_not_found", number=ticket_id)
        if origin.status not in RESOLVED_TICKET_STATUSES:
            raise DomainError("task_ticket_not_resolved", number=origin.number)
        if await self.repo.by_ticket(ticket_id) is not None:
            raise DomainError("task_ticket_has_task", number=origin.number)
        category = texts.POSTS_CATEGORY_NAMES.get(origin.category, origin.category)
        building = origin.building
        return await self.publish(
            actor,
            title=title
            or texts.TASK_FROM_TICKET_TITLE.format(number=origin.number, category=category),
            points=points,
            difficulty=difficulty if points is None else None,
            description=description,
            location=texts.BUILDING_LABEL.format(building=building) if building else "",
            deadline=deadline,
            capacity=capacity,
            audience=audience,
            targets=targets,
            hours=hours,
            grid=origin.grid,
            ticket_id=ticket_id,
        )

    async def get(self, task_id: int) -> Task:
        """Return a task or raise task_not_found."""
        task = await self.repo.get(task_id)
        if task is None:
            raise DomainError("task_not_found", task_id=task_id)
        return task

    async def list_open(self, grids: Sequence[str] | None = None) -> list[Task]:
        """Return open, unexpired tasks (of some grids, or all), soonest deadline first."""
        return await self.repo.list_open(
            self.clock.now(), tuple(grids) if grids is not None else None
        )

    async def claims(self, task_id: int) -> list[TaskClaim]:
        """Return the claims on a task."""
        return await self.repo.claims(task_id)

    async def claim(self, actor: Actor, task_id: int) -> TaskClaim:
        """Claim a place on a task (接单); refuse full, expired, closed or repeated claims."""
        now = self.clock.now()
        async with self.db.transaction():
            task = await self.get(task_id)
            if task.status != "open":
                raise DomainError("task_closed", task_id=task_id)
            if task.deadline is not None and task.deadline <= now:
                raise DomainError("task_expired", task_id=task_id)
            if task.audience == "targeted" and actor.org not in task.targets:
                raise DomainError(
                    "task_not_for_you", task_id=task_id, targets="、".join(task.targets)
                )
            if await self.repo.claim(task_id, actor.user_id) is not None:
                raise DomainError("task_already_claimed", task_id=task_id)
            # Inside BEGIN IMMEDIATE the count cannot change under us, so capacity holds.
            if task.claimed >= task.capacity:
                raise DomainError("task_full", task_id=task_id)
            claim_id = await self.repo.insert_claim(task_id, actor.user_id, actor.name, now)
            claim = await self.repo.claim_by_id(claim_id)
        assert claim is not None
        return claim

    async def claims_of(self, user_id: int) -> list[TaskClaim]:
        """Return one person's claims, newest first."""
        return await self.repo.claims_of(user_id)

    async def check_verifier(self, actor: Actor, task_id: int, user_id: int) -> TaskClaim:
        """Raise what verify would refuse, without changing anything (before asking a reason)."""
        task = await self.get(task_id)
        if not _can_manage(actor, task):
            raise DomainError("not_allowed")
        claim = await self.repo.claim(task_id, user_id)
        if claim is None:
            raise DomainError("task_not_claimed", task_id=task_id)
        if claim.user_id == actor.user_id:
            raise DomainError("task_verify_own")
        if claim.status != "submitted":
            raise DomainError("task_not_submitted", task_id=task_id)
        return claim

    async def submit_proof(
        self, actor: Actor, task_id: int, file_ids: Sequence[str], note: str = ""
    ) -> TaskClaim:
        """Attach photo or video proof to one's claim (/done); it then waits for verification."""
        files = tuple(f for f in file_ids if f)
        if not files:
            raise DomainError("task_proof_missing")
        async with self.db.transaction():
            await self.get(task_id)
            claim = await self.repo.claim(task_id, actor.user_id)
            if claim is None:
                raise DomainError("task_not_claimed", task_id=task_id)
            if claim.status == "approved":
                raise DomainError("task_already_approved", task_id=task_id)
            await self.repo.submit(claim.id, files, note.strip()[:500], self.clock.now())
            updated = await self.repo.claim_by_id(claim.id)
        assert updated is not None
        return updated

    async def verify(
        self,
        actor: Actor,
        task_id: int,
        user_id: int,
        *,
        approve: bool,
        reason: str = "",
        hours: float | None = None,
    ) -> Verdict:
        """Approve (通过: award the points) or return (退回: with a reason) submitted proof."""
        now = self.clock.now()
        async with self.db.transaction():
            task = await self.get(task_id)
            if not _can_manage(actor, task):
                raise DomainError("not_allowed")
            claim = await self.repo.claim(task_id, user_id)
            if claim is None:
                raise DomainError("task_not_claimed", task_id=task_id)
            if claim.user_id == actor.user_id:
                raise DomainError("task_verify_own")
            if claim.status != "submitted":
                raise DomainError("task_not_submitted", task_id=task_id)
            entry: LedgerEntry | None = None
            if approve:
                credit = task.hours if hours is None else hours
                if not 0 <= credit <= MAX_HOURS:
                    raise DomainError("task_bad_hours", limit=MAX_HOURS)
                await self.repo.verify(claim.id, "approved", actor.user_id, "", now)
                await audit.record(
                    self.db,
                    now,
                    actor.user_id,
                    actor.name,
                    "approve",
                    subject_id=claim.user_id,
                    target=texts.AUDIT_TASK_TARGET.format(task_id=task.id),
                    detail={"points": task.points},
                    community=self.points.community,
                )
                if task.points or credit:
                    entry = await self.points.record(
                        user_id=claim.user_id,
                        name=claim.name,
                        delta=task.points,
                        hours=credit,
                        kind="task",
                        rule=f"task:{task.difficulty or 'custom'}",
                        reason=texts.POINTS_TASK_REASON.format(task_id=task.id, title=task.title),
                        actor=actor,
                        task_id=task.id,
                        claim_id=claim.id,
                    )
                if await self.repo.count_approved(task.id) >= task.capacity:
                    await self.repo.set_status(task.id, "done", now)
            else:
                why = reason.strip()
                if not why:
                    raise DomainError("task_reason_required")
                await self.repo.verify(claim.id, "returned", actor.user_id, why[:300], now)
            updated = await self.repo.claim_by_id(claim.id)
            fresh = await self.repo.get(task.id)
        assert updated is not None and fresh is not None
        return Verdict(fresh, updated, entry)

    async def close(self, actor: Actor, task_id: int) -> Task:
        """Close a task early (publisher or admin); claims already made stay verifiable."""
        async with self.db.transaction():
            task = await self.get(task_id)
            if not (actor.is_admin or actor.user_id == task.publisher_id):
                raise DomainError("not_allowed")
            if task.status != "open":
                raise DomainError("task_closed", task_id=task_id)
            await self.repo.set_status(task_id, "closed", self.clock.now())
            closed = await self.repo.get(task_id)
        assert closed is not None
        return closed

    async def awaiting_verification(self) -> list[TaskClaim]:
        """Return claims with proof waiting for a verdict, oldest first."""
        return await self.repo.submitted()
