"""Shared builders for the task, points, redemption and schedule tests (no tests here)."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from bot.services.clock import FakeClock
from bot.services.points import Behaviour, CatalogueItem, PointsConfig, PointsService
from bot.services.redemption import RedemptionService
from bot.services.residents import Person, ResidentService
from bot.services.tasks import TaskService
from storage.db import Database

TZ = ZoneInfo("Asia/Shanghai")

ADMIN = Person(1, "书记王芳", is_admin=True)
WORKER = Person(2, "网格员李强", is_worker=True)
ALICE = Person(101, "张三丰")
BOB = Person(102, "李小明")
CAROL = Person(103, "王五")
DRAIN_CO = Person(201, "清掏公司老赵", org="绿城环卫")

CONFIG = PointsConfig(
    difficulty={"easy": 5, "normal": 10, "hard": 20},
    ticket_confirmed=3,
    behaviours=(
        Behaviour("help_elderly", "帮扶独居老人", 10),
        Behaviour("throw_from_height", "高空抛物", -20),
    ),
    catalogue=(
        CatalogueItem("rice", "大米 5kg", 60, 5),
        CatalogueItem("oil", "食用油 1桶", 80, 1),
    ),
)


COMMUNITY = "demo"  # add_ticket's community


@dataclass
class Services:
    residents: ResidentService
    points: PointsService
    tasks: TaskService
    redemption: RedemptionService


def services(db: Database, clock: FakeClock, config: PointsConfig = CONFIG) -> Services:
    """Build the services over one database."""
    points = PointsService(db, clock, config, COMMUNITY)
    return Services(
        residents=ResidentService(db, clock, scope=COMMUNITY),
        points=points,
        tasks=TaskService(db, clock, points),
        redemption=RedemptionService(db, clock, points),
    )


async def give_points(s: Services, who: Person, amount: int) -> None:
    """Give a resident points through a finished task, the way they really earn them."""
    task = await s.tasks.publish(WORKER, title=f"给{who.name}的任务", points=amount)
    await s.tasks.claim(who, task.id)
    await s.tasks.submit_proof(who, task.id, ["photo-1"])
    await s.tasks.verify(WORKER, task.id, who.user_id, approve=True)


_ticket_seq = iter(range(1, 1_000_000))


async def add_ticket(
    db: Database,
    *,
    created_at: datetime,
    category: str = "facilities",
    building: str | None = "3",
    grid: str | None = "g1",
    status: str = "new",
    accept_due_at: datetime | None = None,
    resolve_due_at: datetime | None = None,
    accepted_at: datetime | None = None,
    resolved_at: datetime | None = None,
    rating: str | None = None,
    reporter: Person = ALICE,
    text: str = "3号楼电梯坏了 张三丰 13800138000",
    is_private: bool = False,
) -> int:
    """Insert a ticket row as the intake service would; return its id."""
    seq = next(_ticket_seq)
    number = int(await db.fetchval("SELECT COUNT(*) FROM tickets")) + 100

    def iso(value: datetime | None) -> str | None:
        return value.astimezone(UTC).isoformat() if value else None

    return await db.fetchval(
        "INSERT INTO tickets (community, number, source_key, text, category, confidence, urgency,"
        " location, building, grid, reporter_id, reporter_name, is_private, chat_id, status,"
        " created_at, accept_due_at, resolve_due_at, accepted_at, resolved_at, rating)"
        " VALUES ('demo', ?, ?, ?, ?, 0.9, 'normal', ?, ?, ?, ?, ?, ?, -100, ?, ?, ?, ?, ?, ?, ?)"
        " RETURNING id",
        (
            number,
            f"test:{seq}",
            text,
            category,
            json.dumps({"building": building}),
            building,
            grid,
            reporter.user_id,
            reporter.name,
            int(is_private),
            status,
            iso(created_at),
            iso(accept_due_at),
            iso(resolve_due_at),
            iso(accepted_at),
            iso(resolved_at),
            rating,
        ),
    )


async def bind_group(db: Database, chat_id: int, grids: list[str], title: str = "") -> None:
    """Bind a group chat to some grids, as /bind or the config would."""
    await db.execute(
        "INSERT INTO group_bindings (community, chat_id, grids, title, bound_at)"
        " VALUES (?, ?, ?, ?, ?)",
        (COMMUNITY, chat_id, json.dumps(grids), title, "2026-01-01T00:00:00+00:00"),
    )


def local(year: int, month: int, day: int, hour: int = 0, minute: int = 0) -> datetime:
    """Return a Shanghai wall-clock moment."""
    return datetime(year, month, day, hour, minute, tzinfo=TZ)


HOUR = timedelta(hours=1)
DAY = timedelta(days=1)
