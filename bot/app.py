"""Build the python-telegram-bot Application: settings in, handlers registered in one place."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
from datetime import UTC, datetime, timedelta

from telegram import BotCommand
from telegram.ext import (
    ApplicationBuilder,
    ContextTypes,
    Defaults,
)
from telegram.request import BaseRequest, HTTPXRequest

from bot import texts
from bot.context import AppState, GridApp, GridContext
from bot.fleet import LEASE_S, Fleet, Leadership, is_fleet
from bot.handlers import on_startup, register_handlers
from bot.handlers.botapi import GridExtBot
from bot.handlers.ratelimit import PacedRateLimiter
from bot.handlers.sending import OutboxSender, SenderSettings, crash_point
from bot.handlers.tickets_out import tell_admins
from bot.poller import DurablePoller
from bot.services.bootstrap import StartupConfigError
from bot.services.clock import Clock, ShiftedClock
from bot.services.street import Street, StreetConfigError, read_folder
from bot.settings import Settings, quiet_libraries
from storage import open_database
from storage.db import DatabaseError, InstanceLock
from storage.fleet import FleetInbox, LeaderLock
from storage.inbox import InboxRepository
from storage.kv import write_kv
from storage.outbox import OutboxRepository
from storage.pg import PgDatabase

log = logging.getLogger(__name__)

COMMANDS: tuple[tuple[str, str], ...] = (
    ("start", "开始使用 / 绑定网格员账号"),
    ("help", "查看用法"),
    ("report", "反映一个问题：/report 问题描述"),
    ("ticket", "查看工单：/ticket 编号"),
    ("mygrid", "我的网格员是谁：/mygrid 或 /mygrid 楼号"),
    ("tasks", "社区任务清单，点按钮接单"),
    ("done", "提交任务完成凭证：/done 任务号 + 照片"),
    ("points", "我的积分"),
    ("redeem", "积分兑换"),
    ("register", "登记住址：/register 楼栋 单元 房号"),
    ("mydata", "查看机器人保存的我的数据（私聊）"),
    ("forget", "删除我的数据（私聊）"),
    ("mytickets", "网格员：我的待办工单"),
    ("task", "网格员：发布任务 /task new"),
    ("stats", "三率统计（响应率、解决率、满意率）"),
    ("community", "在多个社区有身份时：选择私聊里办理的社区"),
    ("schedule", "管理员：本群定时公示设置"),
    ("bind", "管理员：把本群绑定到网格 /bind g1"),
    ("audit", "管理员：最近的管理操作记录（私聊）"),
)


def build_application(
    settings: Settings,
    *,
    clock: Clock | None = None,
    request: BaseRequest | None = None,
    get_updates_request: BaseRequest | None = None,
    rate_limiter: bool = True,
) -> GridApp:
    """Build the Application with its handlers; the database opens in post_init."""
    quiet_libraries()
    proxy = settings.proxy.get() if settings.proxy is not None else None  # GRIDBOT_PROXY
    bot = GridExtBot(
        token=settings.token.get(),
        base_url=settings.api_base_url,
        base_file_url=settings.file_base_url,
        defaults=Defaults(tzinfo=settings.timezone),
        # python-telegram-bot's own defaults: a pool of 256 for calls, one for getUpdates.
        request=request or HTTPXRequest(connection_pool_size=256, proxy=proxy),
        get_updates_request=get_updates_request or HTTPXRequest(proxy=proxy),
        # Evenly paced sends (30/s overall, 20/min per group): no burst, so no 429s.
        # A 429 is not retried here: the outbox sender waits it out for that chat alone.
        rate_limiter=PacedRateLimiter(max_retries=0) if rate_limiter else None,  # type: ignore[arg-type]
    )
    builder = (
        ApplicationBuilder()
        .bot(bot)
        .context_types(ContextTypes(context=GridContext, bot_data=AppState))
        .updater(None)
        .post_init(_post_init)
        .post_shutdown(_post_shutdown)
    )
    app: GridApp = builder.build()  # type: ignore[assignment]
    app.bot_data.settings = settings
    if clock is None and settings.clock_shift_s:
        log.warning(
            "the clock runs %.0f minutes ahead (GRIDBOT_TEST_CLOCK_SHIFT_MINUTES): tests only",
            settings.clock_shift_s / 60.0,
        )
        clock = ShiftedClock(datetime.now(UTC) + timedelta(seconds=settings.clock_shift_s))
    if clock is not None:
        app.bot_data.clock = clock
    register_handlers(app)
    return app


async def _post_init(app: GridApp) -> None:
    """Open the database, read getMe, and make the bot ready to serve."""
    state = app.bot_data
    settings = state.settings
    assert settings is not None
    db = open_database(settings.db_path)
    await db.open()
    state.db = db
    fleet = is_fleet(db, webhook=settings.webhook is not None)
    try:
        state.instance = await InstanceLock.acquire(db, fleet=fleet)
    except BaseException:
        await db.close()
        state.db = None
        raise
    claimer = f"{state.instance.owner} #{state.instance.token[:8]}" if fleet else None
    state.inbox = InboxRepository(db, claimer=claimer)
    state.outbox = OutboxRepository(db)
    me = app.bot.bot
    state.bot_username = me.username or ""
    state.privacy_mode = not bool(me.can_read_all_group_messages)
    await write_kv(db, "bot_username", state.bot_username, state.clock.now())
    if state.privacy_mode:
        log.warning(
            "群隐私模式已开启 (can_read_all_group_messages=false): in groups the bot sees only "
            "commands, mentions and replies. Turn it off with @BotFather: /setprivacy -> Disable, "
            "then remove and re-add the bot to each group."
        )
    street = Street(
        db, state.clock, settings.timezone, path=settings.config_path, checkpoint=crash_point
    )
    try:
        # A single community file was read with the settings: not read again here.
        street_config, files = read_folder(settings.config_path, known=settings.community_file)
        await street.load(street_config, files)
    except (StreetConfigError, StartupConfigError) as exc:
        await db.close()
        state.db = None
        raise StartupConfigError(str(exc)) from None
    except BaseException:
        await db.close()
        state.db = None
        raise
    state.street = street
    services = street.any()

    async def refused(key: str, purpose: str, reason: str, community: str | None) -> None:
        label = texts.DELIVERY_PURPOSES.get(purpose, texts.DELIVERY_PURPOSES[""])
        text = texts.DELIVERY_FAILED_ADMIN.format(purpose=label, reason=reason[:200])
        # The admins of the community that sent the message (every community's when unknown).
        owner = street.get(community)
        for each in [owner] if owner is not None else street.all():
            await tell_admins(app.bot, each, text, key=key)

    delivery = SenderSettings(
        retry_for_s=settings.send_retry_s, backoff_base_s=settings.send_backoff_s
    )
    state.sender = OutboxSender(
        app.bot,
        services,
        delivery,
        tell_admins=refused,
        owner=lambda item: street.get(item.community) or street.any(),
    )
    sender = state.sender
    # Every community's outbox wakes the one sender, also a community added later.
    street.on_build(lambda each: setattr(each.outbox, "queued", sender.wake))
    state.reloader = asyncio.create_task(
        _reload_every(street, settings.reload_s), name="gridbot-reload"
    )
    if fleet:
        assert isinstance(db, PgDatabase) and claimer is not None
        db.shared_lanes = True
        leadership = Leadership(app, LeaderLock(db), state.sender)
        state.fleet = Fleet(FleetInbox(db, claimer, lease_s=LEASE_S), leadership)
        log.info("webhook on PostgreSQL: this instance shares the database with any others")
    else:
        state.sender.start()
    await on_startup(app)
    if state.fleet is not None:
        state.fleet.leadership.start()  # the leader delivers the outbox and runs the jobs
    await app.bot.set_my_commands([BotCommand(c, d) for c, d in COMMANDS])


async def _reload_every(street: Street, seconds: float) -> None:
    """Read the community files again now and then: changes apply without a restart."""
    while True:
        await asyncio.sleep(seconds)
        try:
            await street.reload()
        except DatabaseError as exc:
            log.warning("community files not reloaded: %s", type(exc).__name__)


async def _post_shutdown(app: GridApp) -> None:
    """Stop the sender and the instance lock, then close the database."""
    state = app.bot_data
    if state.reloader is not None:
        state.reloader.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await state.reloader
        state.reloader = None
    if state.fleet is not None:
        await state.fleet.leadership.stop()
        state.fleet = None
    if state.sender is not None:
        await state.sender.stop()
        state.sender = None
    if state.instance is not None:
        await state.instance.release()
        state.instance = None
    if state.db is not None:
        await state.db.close()
        state.db = None


async def start_app(app: GridApp) -> None:
    """Initialise the bot (getMe), run post_init and start the JobQueue."""
    await app.initialize()
    try:
        if app.post_init is not None:
            await app.post_init(app)
        await app.start()
    except BaseException:
        await stop_app(app, started=False)
        raise


async def stop_app(app: GridApp, *, started: bool = True) -> None:
    """Stop the JobQueue, run post_shutdown and close the HTTP clients."""
    try:
        if started and app.running:
            await app.stop()
    finally:
        try:
            if app.post_shutdown is not None:
                await app.post_shutdown(app)
        finally:
            await app.shutdown()


async def serve(app: GridApp, stop: asyncio.Event, *, poll_timeout: int = 30) -> None:
    """Run the bot until `stop` is set: durable polling through the inbox."""
    await start_app(app)
    try:
        state = app.bot_data
        assert state.inbox is not None
        poller = DurablePoller(
            app, state.inbox, state.clock, state.outcome, poll_timeout=poll_timeout
        )
        state.poller = poller
        log.info("GridBot @%s is polling", state.bot_username)
        await poller.run(stop)
    finally:
        app.bot_data.poller = None
        await stop_app(app)


def run_forever(settings: Settings) -> None:
    """Start long polling and stop cleanly on SIGINT/SIGTERM."""

    async def main() -> None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
        app = build_application(settings)
        await serve(app, stop)

    asyncio.run(main())
