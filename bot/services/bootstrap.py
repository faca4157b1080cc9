"""Build every service once from the settings and the open database (no Telegram here)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from zoneinfo import ZoneInfo

from bot.nlp import Classifier, LexiconError
from bot.nlp.learning import Learner
from bot.services.clock import Clock
from bot.services.community import Community, ConfigError, load_community
from bot.services.escalation import EscalationConfigError, EscalationPolicy, EscalationSweep
from bot.services.intake import IntakeService
from bot.services.people import CommunityState
from bot.services.points import PointsService, parse_points_config
from bot.services.redemption import RedemptionService
from bot.services.residents import ResidentService
from bot.services.retention import RetentionConfig, RetentionService, parse_retention_config
from bot.services.schedule import ScheduleService, parse_schedule_config
from bot.services.sla import SlaConfigError, SlaPolicy
from bot.services.tasks import TaskService
from bot.services.tickets import TicketService
from storage.db import Database
from storage.outbox import OutboxRepository


class StartupConfigError(Exception):
    """The community file has problems; one line per problem, naming the file and key."""


@dataclass(frozen=True, slots=True)
class Services:
    """The community's rules, built once per process."""

    db: Database
    clock: Clock
    tz: ZoneInfo
    classifier: Classifier
    learner: Learner
    community: Community
    state: CommunityState
    sla: SlaPolicy
    tickets: TicketService
    escalation: EscalationSweep
    intake: IntakeService
    residents: ResidentService
    points: PointsService
    tasks: TaskService
    redemption: RedemptionService
    schedule: ScheduleService
    outbox: OutboxRepository
    retention: RetentionService

    def category_name(self, code: str) -> str:
        """Return a category's Chinese name."""
        return self.classifier.category_name(code)

    def worker_name(self, key: str | None) -> str:
        """Return a worker's (or admin's) name from the community file."""
        if key is None:
            return ""
        worker = self.community.worker(key)
        if worker is not None:
            return worker.name
        admin = self.community.admin(key)
        return admin.name if admin is not None else key


def load_classifier(config: Mapping[str, Any], source: str) -> Classifier:
    """Load the classifier with the community's [classifier] overrides."""
    try:
        return Classifier.load(config.get("classifier"))
    except LexiconError as exc:
        raise StartupConfigError(f"{source}: {exc}") from None


def load_community_file(
    config: Mapping[str, Any], source: str, classifier: Classifier
) -> Community:
    """Parse and validate the community sections of the file."""
    try:
        return load_community(config, source, categories=classifier.categories)
    except ConfigError as exc:
        raise StartupConfigError(str(exc)) from None


async def build_services(
    config: Mapping[str, Any],
    source: str,
    db: Database,
    clock: Clock,
    tz: ZoneInfo,
    *,
    classifier: Classifier | None = None,
) -> Services:
    """Validate the whole community file and build every service on the open database."""
    classifier = classifier or load_classifier(config, source)
    community = load_community_file(config, source, classifier)
    problems: list[str] = []
    sla = SlaPolicy(timezone=tz)
    try:
        sla = SlaPolicy.from_config(config.get("sla"), timezone=tz)
    except SlaConfigError as exc:
        problems.append(f"{source}: {exc}")
    try:
        points_config = parse_points_config(config, source)
    except ConfigError as exc:
        problems.append(str(exc))
    try:
        schedule_config = parse_schedule_config(config, source)
    except ConfigError as exc:
        problems.append(str(exc))
    retention_config = RetentionConfig()
    try:
        retention_config = parse_retention_config(config, source)
    except ConfigError as exc:
        problems.append(str(exc))
    state = CommunityState(db, community, clock)
    await state.start()
    office_ids = [
        tid
        for tid in [await state.telegram_id_of(a.key) for a in community.admins]
        if tid is not None
    ]
    names = {code: classifier.category_name(code) for code in classifier.categories}
    workers = {w.key: w.name for w in community.workers}
    policy = EscalationPolicy()
    try:
        policy = EscalationPolicy.from_config(
            config,
            office_ids=office_ids,
            community=community.name,
            category_names=names,
            worker_names=workers,
        )
    except EscalationConfigError as exc:
        problems.append(f"{source}: {exc}")
    if problems:
        raise StartupConfigError("\n".join(problems))

    learner = Learner(db, clock)
    await learner.load(community.name, classifier)
    tickets = TicketService(
        db,
        clock,
        sla,
        community.name,
        office_ids=office_ids,
        category_names=names,
        worker_names=workers,
    )
    points = PointsService(db, clock, points_config)
    redemption = RedemptionService(db, clock, points)
    await redemption.sync_catalogue()
    return Services(
        db=db,
        clock=clock,
        tz=tz,
        classifier=classifier,
        learner=learner,
        community=community,
        state=state,
        sla=sla,
        tickets=tickets,
        escalation=EscalationSweep(db, clock, sla, policy),
        intake=IntakeService(db, clock, classifier, community, state, tickets),
        residents=ResidentService(db, clock),
        points=points,
        tasks=TaskService(db, clock, points),
        redemption=redemption,
        schedule=ScheduleService(
            db,
            clock,
            schedule_config,
            tz,
            category_names=names,
            grid_names={g.code: g.name for g in community.grids},
        ),
        outbox=OutboxRepository(db),
        retention=RetentionService(db, clock, retention_config),
    )
