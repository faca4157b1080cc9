"""Periodic jobs (python-telegram-bot's JobQueue): each a one-liner calling a service."""

from __future__ import annotations

import logging

from bot.context import GridApp, GridContext
from bot.handlers.sending import drain_outbox
from bot.handlers.tickets_out import refresh_card

log = logging.getLogger(__name__)

OUTBOX_EVERY_S = 2.0
SWEEP_EVERY_S = 60.0
SCHEDULE_EVERY_S = 60.0
RETENTION_EVERY_S = 3600.0


async def drain(context: GridContext) -> int:
    """Send queued messages now (drain_outbox lets one sender run at a time)."""
    return await drain_outbox(context.bot, context.bot_data.require_services())


async def outbox_job(context: GridContext) -> None:
    """Send queued messages."""
    await drain(context)


async def sweep_job(context: GridContext) -> None:
    """Run the deadline and escalation sweep, then send what it queued."""
    services = context.bot_data.require_services()
    result = await services.escalation.run()
    await services.triage.digest_overdue()  # possible problems nobody handled: staff only
    await drain(context)
    for ticket_id in result.closed_ids:  # closed unrated: the worker's card says so
        await refresh_card(context.bot, services, await services.tickets.get(ticket_id))


async def schedule_job(context: GridContext) -> None:
    """Queue the scheduled posts that are due, then send them."""
    services = context.bot_data.require_services()
    await services.schedule.run_due()
    await drain(context)


async def retention_job(context: GridContext) -> None:
    """Delete old handled updates and sent messages; anonymise tickets closed long ago."""
    pruned = await context.bot_data.require_services().retention.run()
    log.info(
        "retention: %d updates, %d messages, %d tickets",
        pruned.inbox,
        pruned.outbox,
        pruned.tickets,
    )


def schedule_jobs(app: GridApp) -> None:
    """Register the periodic jobs under predictable names (they are rebuilt at every start)."""
    queue = app.job_queue
    assert queue is not None
    queue.run_repeating(outbox_job, OUTBOX_EVERY_S, first=1.0, name="outbox")
    queue.run_repeating(sweep_job, SWEEP_EVERY_S, first=2.0, name="sweep")
    # One sweep at start-up: a deadline that passed while the bot was down is handled now, and
    # only once (each step is marked done in the transaction that takes it). A one-off job
    # with no misfire limit: an interval job whose start is already past when the scheduler
    # starts would wait a whole interval instead.
    queue.run_once(sweep_job, 0.0, name="sweep:startup", job_kwargs={"misfire_grace_time": None})
    queue.run_repeating(schedule_job, SCHEDULE_EVERY_S, first=3.0, name="schedule")
    queue.run_repeating(retention_job, RETENTION_EVERY_S, first=60.0, name="retention")
