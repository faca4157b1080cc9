"""Routing: from a ticket's category and location to the grid and the worker who takes it.

The rules, in order:
1. Grid: the building the message names, else the place it names (by prefix), else the group's
   grid when the group covers exactly one; else the reporter is asked which building
   (`needs_building`), unless the category's handler needs no grid or asking is not allowed.
2. Worker: the category's handling rule. 'grid' means the grid's workers in config order (the
   first is the primary, a colleague on the same grid stands in); a worker key means that
   person wherever the problem is; `other` and anything that cannot be placed go to the duty
   worker.
3. Fallback: a worker who is inactive (off duty, on leave) or unreachable (Telegram said 403)
   is skipped for the duty worker. When the duty worker is unavailable too, the ticket goes to
   the first available worker with role 'duty', then 'office' (the community office always
   answers the phone); when nobody is left, `worker_key` is None (rule 'unassigned') and the
   caller tells the admins, who assign it by hand. `fallback_from` names who should have had it.
"""

from __future__ import annotations

from dataclasses import dataclass

from bot.services.community import RULE_GRID, Community, Worker

# Values of Route.rule
RULE_GRID_WORKER = "grid_worker"  # the grid's worker, from the category's 'grid' rule
RULE_HANDLER = "handler"  # a fixed person named in [handling]
RULE_DUTY_WORKER = "duty"  # the duty worker: `other`, unplaceable, or fallback
RULE_BACKUP = "backup"  # duty worker unavailable: another duty or office worker
RULE_ASK = "ask_building"  # nothing placed the ticket: ask the reporter
RULE_UNASSIGNED = "unassigned"  # nobody available: the admins assign by hand


@dataclass(frozen=True, slots=True)
class Route:
    grid: str | None
    worker_key: str | None
    rule: str
    needs_building: bool
    fallback_from: str | None
    grid_from: str | None = None  # 'building' | 'place' | 'group' | None


def _available(worker: Worker | None, unavailable: frozenset[str]) -> bool:
    return worker is not None and worker.active and worker.key not in unavailable


def _find_grid(
    community: Community,
    building: str | None,
    place: str | None,
    group_grids: tuple[str, ...] | None,
) -> tuple[str | None, str | None]:
    grid = community.grid_for_building(building)
    if grid is not None:
        return grid, "building"
    grid = community.grid_for_place(place)
    if grid is not None:
        return grid, "place"
    if group_grids is not None and len(group_grids) == 1 and community.grid(group_grids[0]):
        return group_grids[0], "group"
    return None, None


def _to_duty(
    community: Community,
    grid: str | None,
    grid_from: str | None,
    fallback_from: str | None,
    unavailable: frozenset[str],
) -> Route:
    duty = community.worker(community.duty_worker)
    if _available(duty, unavailable):
        return Route(
            grid, community.duty_worker, RULE_DUTY_WORKER, False, fallback_from, grid_from
        )
    missed = fallback_from or community.duty_worker
    for role in ("duty", "office"):
        for worker in community.workers:
            if (
                worker.role == role
                and worker.key != community.duty_worker
                and _available(worker, unavailable)
            ):
                return Route(grid, worker.key, RULE_BACKUP, False, missed, grid_from)
    return Route(grid, None, RULE_UNASSIGNED, False, missed, grid_from)


def route_ticket(
    community: Community,
    category: str,
    building: str | None,
    place: str | None,
    group_grids: tuple[str, ...] | None,
    unavailable_workers: frozenset[str] = frozenset(),
    *,
    may_ask: bool = True,
) -> Route:
    """Route a ticket to its grid and worker (see the module docstring for the rules)."""
    grid, grid_from = _find_grid(community, building, place, group_grids)
    rule = community.handler_for(category)

    if rule == community.duty_worker:
        return _to_duty(community, grid, grid_from, None, unavailable_workers)

    if rule != RULE_GRID:
        handler = community.worker(rule)
        if _available(handler, unavailable_workers):
            return Route(grid, rule, RULE_HANDLER, False, None, grid_from)
        return _to_duty(community, grid, grid_from, rule, unavailable_workers)

    if grid is None:
        if may_ask:
            return Route(None, None, RULE_ASK, True, None, None)
        return _to_duty(community, None, None, None, unavailable_workers)

    workers = community.grid_workers(grid)
    primary = workers[0].key if workers else None
    for worker in workers:
        if _available(worker, unavailable_workers):
            missed = None if worker.key == primary else primary
            return Route(grid, worker.key, RULE_GRID_WORKER, False, missed, grid_from)
    return _to_duty(community, grid, grid_from, primary, unavailable_workers)
