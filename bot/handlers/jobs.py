"""Periodic jobs (python-telegram-bot's JobQueue): each a one-liner calling a service."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable

from bot.context import GridApp, GridContext
from bot.handlers.sending import crash_point, drain_outbox
from bot.handlers.tickets_out import refresh_card
from bot.services.bootstrap import Services
from bot.services.errors import DatabaseError
from bot.services.escalation import sweep_communities

log = logging.getLogger(__name__)

SWEEP_EVERY_S = 60.0
SCHEDULE_EVERY_S = 60.0
RETENTION_EVERY_S = 3600.0


DRAIN_WAIT_S = 20.0  # under the jobs' one-minute interval: a paced group never skips a run


async def drain(context: GridContext) -> int:
    """Have the outbox sender deliver what was just queued; wait a while for it to go out."""
    try:
        # asyncio.timeout, not wait_for: the same task, so inside an update's transaction the
        # drain sees it and returns at once instead of waiting for its own commit.
        async with asyncio.timeout(DRAIN_WAIT_S):
            return await drain_outbox(context.bot, context.bot_data.require_street().any())
    except TimeoutError:
        return 0  # the rest goes out as each chat's pace allows


async def _each_community(
    context: GridContext, work: Callable[[Services], Awaitable[None]]
) -> None:
    """Run a job's work for every community; one community's failure stops none of the others."""
    for services in context.bot_data.require_street().all():
        try:
            await work(services)
        except DatabaseError:
            raise  # the database itself: the job runs again at its next turn
        except Exception:
            log.exception(
                "job %s failed for one community", context.job.name if context.job else ""
            )


async def sweep_job(context: GridContext) -> None:
    """Run the deadline and escalation sweep of each community with work, then send."""
    street = context.bot_data.require_street()
    # One read says which communities have steps due: a street office's idle minute costs no
    # transaction at all; a busy one costs one for all its communities.
    busy = await street.any().escalation.communities_with_work()
    results = await sweep_communities(
        [s.escalation for s in street.all() if s.community.name in busy]
    )
    if any(result.steps for result in results.values()):
        crash_point("job")  # the steps committed, their messages not sent yet

    async def after(services: Services) -> None:
        result = results.get(services.community.name)
        for ticket_id in result.closed_ids if result else ():
            # Closed unrated: the worker's card says so.
            await refresh_card(context.bot, services, await services.tickets.get(ticket_id))
        await services.triage.digest_overdue()  # possible problems nobody handled: staff only

    await _each_community(context, after)
    await drain(context)


async def schedule_job(context: GridContext) -> None:
    """Queue each community's scheduled posts that are due, then send them."""

    async def post(services: Services) -> None:
        await services.schedule.run_due()
        crash_point("job")

    await _each_community(context, post)
    await drain(context)


async def reload_job(context: GridContext) -> None:
    """Read the community files again: add, change or stop communities without a restart."""
    await context.bot_data.require_street().reload()


async def retention_job(context: GridContext) -> None:
    """Delete old handled updates and sent messages; anonymise tickets closed long ago
    (each community after its own [retention])."""

    async def prune(services: Services) -> None:
        pruned = await services.retention.run()
        log.info(
            "retention: %d updates, %d messages, %d tickets",
            pruned.inbox,
            pruned.outbox,
            pruned.tickets,
        )

    await _each_community(context, prune)


def schedule_jobs(app: GridApp) -> None:
    """Register the periodic jobs under predictable names (they are rebuilt at every start)."""
    queue = app.job_queue
    assert queue is not None
    queue.run_repeating(sweep_job, SWEEP_EVERY_S, first=2.0, name="sweep")
    # One sweep at start-up: a deadline that passed while the bot was down is handled now, and
    # only once (each step is marked done in the transaction that takes it). A one-off job
    # with no misfire limit: an interval job whose start is already past when the scheduler
    # starts would wait a whole interval instead.
    queue.run_once(sweep_job, 0.0, name="sweep:startup", job_kwargs={"misfire_grace_time": None})
    queue.run_repeating(schedule_job, SCHEDULE_EVERY_S, first=3.0, name="schedule")
    queue.run_repeating(retention_job, RETENTION_EVERY_S, first=60.0, name="retention")


JOB_NAMES = ("sweep", "sweep:startup", "schedule", "retention")


def unschedule_jobs(app: GridApp) -> None:
    """Remove the periodic jobs (an instance that stopped leading its fleet: bot/fleet.py)."""
    queue = app.job_queue
    assert queue is not None
    for name in JOB_NAMES:
        for job in queue.get_jobs_by_name(name):
            job.schedule_removal()
