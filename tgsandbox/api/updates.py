"""Getting updates: getUpdates (long polling, one poller at a time) and the webhook methods."""

from __future__ import annotations

import asyncio
import contextlib

from tgsandbox.model import JSON, ApiError
from tgsandbox.params import Params
from tgsandbox.state import DEFAULT_UPDATES, World


async def get_updates(world: World, params: Params) -> list[JSON]:
    if world.webhook_url:
        raise ApiError(
            409,
            "Conflict: can't use getUpdates method while webhook is active; "
            "use deleteWebhook to delete the webhook first",
        )
    offset = params.integer("offset", 0) or 0
    limit = min(max(params.integer("limit", 100) or 100, 1), 100)
    timeout = max(params.integer("timeout", 0) or 0, 0)
    allowed = params.get("allowed_updates")
    if isinstance(allowed, list):
        world.allowed = frozenset(allowed) if allowed else DEFAULT_UPDATES
    world.confirm(offset)
    world.poll_generation += 1
    generation = world.poll_generation
    world.new_updates.fire()  # an older long poll ends with 409, as on Telegram
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while True:
        if generation != world.poll_generation:
            raise ApiError(
                409,
                "Conflict: terminated by other getUpdates request; "
                "make sure that only one bot instance is running",
            )
        batch = world.batch(limit)
        remaining = deadline - loop.time()
        if batch or remaining <= 0 or world.stopping.is_set():
            return batch
        event = world.new_updates.event
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(event.wait(), remaining)


async def set_webhook(world: World, params: Params) -> bool:
    world.webhook_url = params.text("url") or ""
    return True


async def delete_webhook(world: World, params: Params) -> bool:
    world.webhook_url = ""
    if params.flag("drop_pending_updates"):
        world.updates.clear()
    return True


async def get_webhook_info(world: World, params: Params) -> JSON:
    return {
        "url": world.webhook_url,
        "has_custom_certificate": False,
        "pending_update_count": len(world.updates),
    }
