"""Build every service once from the settings and the open database (no Telegram here)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from bot import texts
from bot.nlp import NONE, Classifier, LexiconError
from bot.services.clock import Clock
from bot.services.community import Community, ConfigError, load_community
from bot.services.dialogues import DialogueService
from bot.services.escalation import (
    EscalationConfigError,
    EscalationPolicy,
    EscalationSweep,
    QuietHours,
    contact_names,
)
from bot.services.holidays import HolidayCalendar, parse_holidays
from bot.services.intake import IntakeService
from bot.services.learning import Learner
from bot.services.people import CommunityState
from bot.services.points import PointsConfig, PointsService, parse_points_config
from bot.services.redemption import RedemptionService
from bot.services.residents import ResidentService, parse_organisations
from bot.services.retention import RetentionConfig, RetentionService, parse_retention_config
from bot.services.schedule import (
    ScheduleConfig,
    ScheduleService,
    parse_schedule_config,
    quiet_until,
)
from bot.services.sla import SlaConfigError, SlaPolicy, WorkCalendar
from bot.services.tasks import TaskService
from bot.services.tickets import TicketService
from bot.services.triage import TriageConfig, TriageService, parse_triage_config
from storage.outbox import OutboxRepository
from storage.store import Store


class StartupConfigError(Exception):
    """The community file has problems; one line per problem, naming the file and key."""


@dataclass(frozen=True, slots=True)
class Services:
    """The community's rules, built once per process."""

    db: Store
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
    triage: TriageService
    retention: RetentionService
    dialogues: DialogueService
    # Who belongs to which organisation ([[organisations]]): who may claim targeted tasks.
    organisations: Mapping[int, str] = field(default_factory=dict)

    def forget_cached(self) -> None:
        """Drop the state services keep in memory (another instance may have changed it)."""
        self.state.forget_cached()
        self.dialogues.forget_cached()

    def category_name(self, code: str) -> str:
        """Return a category's Chinese name."""
        if code == NONE:
            return texts.CLASSIFIER_NOT_COMPLAINT
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


@dataclass(frozen=True, slots=True)
class CheckedConfig:
    """The sections of the community file that build the services, all valid."""

    classifier: Classifier
    community: Community
    sla: SlaPolicy
    holidays: HolidayCalendar
    points: PointsConfig
    schedule: ScheduleConfig
    retention: RetentionConfig
    triage: TriageConfig = field(default_factory=TriageConfig)


def check_config(
    config: Mapping[str, Any],
    source: str,
    tz: ZoneInfo,
    *,
    classifier: Classifier | None = None,
    office_ids: Sequence[int] = (),
) -> CheckedConfig:
    """Validate the community file offline; raise StartupConfigError listing every problem."""
    problems: list[str] = []
    if classifier is None:
        try:
            classifier = load_classifier(config, source)
        except StartupConfigError as exc:
            problems.append(str(exc))
            classifier = Classifier.load()  # check the rest against the default categories
    community: Community | None = None
    try:
        community = load_community(config, source, categories=classifier.categories)
    except ConfigError as exc:
        problems.extend(str(exc).splitlines())
    sla = SlaPolicy(timezone=tz)
    try:
        sla = SlaPolicy.from_config(config.get("sla"), timezone=tz, source=source)
    except SlaConfigError as exc:
        problems.extend(str(exc).splitlines())
    holidays = HolidayCalendar()
    try:
        holidays = parse_holidays(config, source)
    except ConfigError as exc:
        problems.extend(str(exc).splitlines())
    points_config: PointsConfig | None = None
    try:
        points_config = parse_points_config(config, source)
    except ConfigError as exc:
        problems.extend(str(exc).splitlines())
    schedule_config: ScheduleConfig | None = None
    try:
        schedule_config = parse_schedule_config(config, source)
    except ConfigError as exc:
        problems.extend(str(exc).splitlines())
    retention = RetentionConfig()
    try:
        retention = parse_retention_config(config, source)
    except ConfigError as exc:
        problems.extend(str(exc).splitlines())
    try:
        _escalation_policy(config, source, classifier, community, office_ids)
    except EscalationConfigError as exc:
        problems.extend(str(exc).splitlines())
    triage = TriageConfig()
    try:
        quiet = schedule_config.defaults.quiet_hours if schedule_config is not None else None
        triage = parse_triage_config(config, source, sla.working_hours, quiet)
    except ConfigError as exc:
        problems.extend(str(exc).splitlines())
    if problems or community is None or points_config is None or schedule_config is None:
        raise StartupConfigError("\n".join(problems))
    # Years written in the file take precedence over the package's calendar.
    sla = replace(sla, calendar=WorkCalendar(holidays.is_workday))
    return CheckedConfig(
        classifier, community, sla, holidays, points_config, schedule_config, retention, triage
    )


def _escalation_policy(
    config: Mapping[str, Any],
    source: str,
    classifier: Classifier,
    community: Community | None,
    office_ids: Sequence[int],
) -> EscalationPolicy:
    return EscalationPolicy.from_config(
        config,
        office_ids=office_ids,
        community=community.name if community is not None else "",
        category_names={code: classifier.category_name(code) for code in classifier.categories},
        worker_names={w.key: w.name for w in community.workers} if community is not None else {},
        source=source,
        reserved_keys=frozenset(w.key for w in community.workers)
        | frozenset(a.key for a in community.admins)
        if community is not None
        else frozenset(),
    )


async def build_services(
    config: Mapping[str, Any],
    source: str,
    db: Store,
    clock: Clock,
    tz: ZoneInfo,
    *,
    classifier: Classifier | None = None,
) -> Services:
    """Validate the whole community file and build every service on the open database."""
    checked = check_config(config, source, tz, classifier=classifier)
    classifier, community, sla = checked.classifier, checked.community, checked.sla
    points_config, schedule_config = checked.points, checked.schedule
    state = CommunityState(db, community, clock)
    await state.start()
    office_ids = [
        tid
        for tid in [await state.telegram_id_of(a.key) for a in community.admins]
        if tid is not None
    ]
    names = {code: classifier.category_name(code) for code in classifier.categories}
    workers = {w.key: w.name for w in community.workers}
    try:
        policy = _escalation_policy(config, source, classifier, community, office_ids)
    except EscalationConfigError as exc:
        raise StartupConfigError(str(exc)) from None

    async def admin_ids() -> list[int]:
        found = [await state.telegram_id_of(a.key) for a in community.admins]
        return [tid for tid in found if tid is not None]

    state.set_contacts(contact_names(config, community.street_office))
    learner = Learner(db, clock)
    await learner.load(community.name, classifier)
    points = PointsService(db, clock, points_config, community.name)
    tickets = TicketService(
        db,
        clock,
        sla,
        community.name,
        office_ids=office_ids,
        category_names=names,
        worker_names=workers,
        points=points,
    )
    outbox = OutboxRepository(db, community=community.name)
    dialogues = DialogueService(db, clock, community=community.name)
    residents = ResidentService(db, clock, community)

    async def home_of(user_id: int) -> str | None:
        resident = await residents.get(user_id)
        return None if resident is None else resident.building

    intake = IntakeService(
        db, clock, classifier, community, state, tickets, dialogues=dialogues, home_of=home_of
    )
    triage = TriageService(
        db,
        clock,
        sla,
        classifier,
        community,
        state,
        learner,
        outbox,
        office_ids=office_ids,
        config=checked.triage,
    )
    intake.triage = triage.file
    redemption = RedemptionService(db, clock, points)
    await redemption.sync_catalogue()
    schedule = ScheduleService(
        db,
        clock,
        schedule_config,
        tz,
        category_names=names,
        grid_names={g.code: g.name for g in community.grids},
        holidays=checked.holidays,
        admin_ids=admin_ids,
        community=community.name,
    )

    async def group_release(chat_id: int, moment: datetime) -> datetime:
        """When a post decided at `moment` may reach a group: after its quiet hours."""
        return quiet_until(moment, (await schedule.schedule_for(chat_id)).quiet_hours, tz)

    tickets.group_release = group_release

    async def quiet_by_chat() -> dict[int, QuietHours]:
        """Each group's own quiet hours (a group's /schedule may change them)."""
        overrides = await schedule.repo.overrides()
        return {chat: schedule.effective(o).quiet_hours for chat, o in overrides.items()}

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
        escalation=EscalationSweep(
            db,
            clock,
            sla,
            policy,
            quiet_hours=schedule.config.defaults.quiet_hours,
            quiet_by_chat=quiet_by_chat,
            contacts=state.contact_ids,
        ),
        intake=intake,
        residents=residents,
        points=points,
        tasks=TaskService(db, clock, points),
        redemption=redemption,
        schedule=schedule,
        dialogues=dialogues,
        outbox=outbox,
        triage=triage,
        retention=RetentionService(db, clock, checked.retention, community.name),
        organisations=parse_organisations(config, source),
    )
