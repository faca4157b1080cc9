"""Points in the chat: /points, admins' /award and /deduct, and /redeem with its buttons."""

from __future__ import annotations

import logging
import re
from typing import TYPE_CHECKING, Any

from telegram import Message, Update
from telegram.ext import BaseHandler, CallbackQueryHandler, CommandHandler

from bot import texts
from bot.context import GridContext
from bot.handlers.actors import actor_for, admin_ids, tell
from bot.handlers.replies import dialogues, finish_card, reply, services_of
from bot.handlers.sending import Unreachable, edit, send
from bot.services.errors import DomainError
from bot.services.flows import REASON, AwaitReason
from bot.services.posts import month_day
from bot.services.residents import Person
from bot.services.values import Button, Redemption

if TYPE_CHECKING:
    from bot.services.points import PointsSummary

log = logging.getLogger(__name__)

_USER_ID = re.compile(r"^\d{1,15}$")
_REDEEM = re.compile(r"^redeem:([a-z][a-z0-9_]{0,31})$")
_DECIDE = re.compile(r"^(rdok|rdgive|rdno):(\d{1,9})$")
_CANCEL = re.compile(r"^rdcancel:(\d{1,9})$")


def summary_text(summary: PointsSummary, context: GridContext) -> str:
    """Return what /points shows: balance, household and building totals, last movements."""
    tz = services_of(context).tz
    hours = texts.POINTS_SUMMARY_HOURS.format(hours=f"{summary.hours:g}") if summary.hours else ""
    lines = [
        texts.POINTS_SUMMARY.format(
            name=summary.name or str(summary.user_id),
            balance=summary.balance,
            earned=summary.earned,
            hours=hours,
        )
    ]
    if summary.household_key is not None and summary.building is not None:
        parts = summary.household_key.split("-")
        household = (
            texts.HOUSEHOLD_LABEL.format(building=parts[0], unit=parts[1], room=parts[2])
            if len(parts) == 3
            else summary.household_key
        )
        lines.append(
            texts.POINTS_HOUSEHOLD.format(household=household, total=summary.household_balance)
        )
        lines.append(
            texts.POINTS_BUILDING.format(building=summary.building, total=summary.building_earned)
        )
    else:
        lines.append(texts.POINTS_NOT_REGISTERED)
    if summary.recent:
        lines.append(texts.POINTS_RECENT_HEAD)
        lines.extend(
            texts.POINTS_RECENT_LINE.format(
                date=month_day(entry.at, tz), delta=entry.delta, reason=entry.reason
            )
            for entry in summary.recent
        )
    else:
        lines.append(texts.POINTS_RECENT_NONE)
    return "\n".join(lines)


async def points_command(update: Update, context: GridContext) -> None:
    """Show one's own points privately; admins may look anyone up by user id."""
    user, chat = update.effective_user, update.effective_chat
    if user is None or chat is None:
        return
    services = services_of(context)
    args = context.args or []
    target = user.id
    if args:
        actor = await actor_for(context, user)
        if not actor.is_admin:
            raise DomainError("not_allowed")
        if len(args) == 1 and _USER_ID.match(args[0]):
            target = int(args[0])
        else:
            found = await find_person(update, context, args, keep=0, command="/points")
            if found is None:
                return
            target, _, rest = found
            if rest:
                await reply(update, context, texts.POINTS_LOOKUP_USAGE)
                return
    text = summary_text(await services.points.summary(target), context)
    if chat.type == "private":
        await reply(update, context, text)
        return
    # In a group the details go privately: balances and movements are personal.
    if await tell(context, user.id, text) is not None:
        await reply(update, context, texts.POINTS_SENT_PRIVATELY)
    else:
        username = context.bot_data.bot_username
        link = f"https://t.me/{username}?start=points" if username else ""
        await reply(update, context, texts.POINTS_OPEN_BOT.format(link=link).strip())


async def find_person(
    update: Update, context: GridContext, args: list[str], *, keep: int, command: str
) -> tuple[int, str, list[str]] | None:
    """Read a person's name from the front of args (leaving `keep` words); answer if unclear.

    Return (user_id, name, the remaining args), or None after telling the admin that nobody,
    or more than one person, goes by that name.
    """
    services = services_of(context)
    # Longest name first: "Zhou Daye" is two words, 周大爷 one.
    for size in range(len(args) - keep, 0, -1):
        for name in {" ".join(args[:size]), "".join(args[:size])}:
            people = await services.residents.named(name)
            if len(people) == 1:
                user_id, known_name = people[0]
                return user_id, known_name, args[size:]
            if len(people) > 1:
                listed = "、".join(
                    texts.AWARD_NAME_CANDIDATE.format(name=n, user_id=u) for u, n in people[:10]
                )
                await reply(
                    update,
                    context,
                    texts.AWARD_NAME_AMBIGUOUS.format(
                        count=len(people), name=name, people=listed, command=command
                    ),
                )
                return None
    await reply(update, context, texts.AWARD_NAME_UNKNOWN.format(name=args[0], command=command))
    return None


async def award_command(update: Update, context: GridContext) -> None:
    """/award 用户ID 代码 原因 (or in reply to the resident's message)."""
    await _behaviour(update, context, positive=True)


async def deduct_command(update: Update, context: GridContext) -> None:
    """/deduct 用户ID 代码 原因 (or in reply to the resident's message)."""
    await _behaviour(update, context, positive=False)


async def _behaviour(update: Update, context: GridContext, *, positive: bool) -> None:
    user, message = update.effective_user, update.effective_message
    if user is None or message is None:
        return
    services = services_of(context)
    actor = await actor_for(context, user)
    if not actor.is_admin:
        raise DomainError("not_allowed")
    command = "/award" if positive else "/deduct"
    listed = [b for b in services.points.config.behaviours if (b.points > 0) == positive]
    known = "、".join(f"{b.name}（{b.points:+d}）" for b in listed) or "—"
    usage = texts.AWARD_USAGE.format(command=command, known=known)
    args = list(context.args or [])
    target_name: str | None = None
    replied = message.reply_to_message
    if args and _USER_ID.match(args[0]):
        target = int(args.pop(0))
    elif replied is not None and replied.from_user is not None and not replied.from_user.is_bot:
        target = replied.from_user.id
        target_name = replied.from_user.full_name
    elif len(args) >= 3:
        found = await find_person(update, context, args, keep=2, command=command)
        if found is None:
            return
        target, target_name, args = found
    else:
        await reply(update, context, usage)
        return
    if len(args) < 2:
        await reply(update, context, usage)
        return
    code, reason = args[0], " ".join(args[1:])
    behaviour = services.points.config.behaviour(code)
    if behaviour is not None and (behaviour.points > 0) != positive:
        wrong = texts.AWARD_WRONG_SIGN_AWARD if positive else texts.AWARD_WRONG_SIGN_DEDUCT
        await reply(update, context, wrong.format(name=behaviour.name))
        return
    entry = await services.points.apply_behaviour(actor, target, code, reason, name=target_name)
    summary = await services.points.summary(target, recent=0)
    balance = summary.balance
    await reply(
        update,
        context,
        texts.AWARD_DONE.format(
            name=summary.name or target, delta=entry.delta, reason=entry.reason, balance=balance
        )
        + (
            ""
            if await tell(
                context,
                target,
                texts.AWARD_NOTICE.format(delta=entry.delta, reason=entry.reason, balance=balance),
            )
            is not None
            else texts.AWARD_NOT_DELIVERED
        ),
    )


# ── redemption ────────────────────────────────────────────────────────────────────────────────


def redemption_card(item: Redemption, by: str = "") -> str:
    """Return the text of an admin's card for one redemption request."""
    status = texts.REDEEM_STATUS_NAMES.get(item.status, item.status)
    if by:
        status += texts.REDEEM_CARD_BY.format(by=by)
    text = texts.REDEEM_CARD.format(
        redemption_id=item.id,
        name=item.name,
        item=item.item_name,
        quantity=item.quantity,
        points=item.points,
        status=status,
    )
    if item.status == "rejected" and item.reason:
        text += texts.REDEEM_CARD_REASON.format(reason=item.reason)
    return text


def redemption_buttons(item: Redemption) -> list[list[Button]]:
    """Return the buttons an admin still has for a request."""
    if item.status == "requested":
        return [
            [
                Button(texts.REDEEM_BUTTON_APPROVE, f"rdok:{item.id}"),
                Button(texts.REDEEM_BUTTON_HAND_OVER, f"rdgive:{item.id}"),
                Button(texts.REDEEM_BUTTON_REJECT, f"rdno:{item.id}"),
            ]
        ]
    if item.status == "approved":
        return [
            [
                Button(texts.REDEEM_BUTTON_HAND_OVER, f"rdgive:{item.id}"),
                Button(texts.REDEEM_BUTTON_REJECT, f"rdno:{item.id}"),
            ]
        ]
    return []


async def redeem_command(update: Update, context: GridContext) -> None:
    """Show the catalogue with request buttons; admins also get the pending requests."""
    user = update.effective_user
    chat = update.effective_chat
    if user is None or chat is None:
        return
    services = services_of(context)
    items = [i for i in await services.redemption.catalogue() if i.active]
    balance = ""
    if chat.type == "private":
        balance = texts.REDEEM_BALANCE.format(balance=await services.points.balance(user.id))
    if not items:
        await reply(update, context, texts.REDEEM_EMPTY)
    else:
        lines = [texts.REDEEM_HEAD.format(balance=balance)]
        lines.extend(
            texts.REDEEM_LINE.format(name=i.name, points=i.points, stock=i.stock) for i in items
        )
        buttons = [
            [Button(texts.REDEEM_BUTTON.format(name=i.name, points=i.points), f"redeem:{i.code}")]
            for i in items
            if i.stock > 0
        ]
        await reply(update, context, "\n".join(lines), buttons=buttons)
    actor = await actor_for(context, user)
    if actor.is_admin and chat.type == "private":
        waiting = await services.redemption.pending()
        if waiting:
            await reply(update, context, texts.REDEEM_PENDING_HEAD.format(count=len(waiting)))
        for item in waiting[:20]:
            await reply(update, context, redemption_card(item), buttons=redemption_buttons(item))


async def on_redeem(update: Update, context: GridContext) -> None:
    """A resident's request button: reserve points and stock at once, then tell the admins."""
    query, user = update.callback_query, update.effective_user
    if query is None or user is None:
        return
    match = _REDEEM.match(query.data or "")
    if not match:
        await query.answer(texts.BUTTON_STALE, show_alert=True)
        return
    services = services_of(context)
    actor = await actor_for(context, user)
    item = await services.redemption.request(actor, match.group(1))
    await query.answer(
        texts.REDEEM_REQUESTED.format(item=item.item_name, points=item.points), show_alert=True
    )
    mine = texts.REDEEM_MINE.format(
        redemption_id=item.id, item=item.item_name, quantity=item.quantity, points=item.points
    )
    cancel = [[Button(texts.REDEEM_BUTTON_CANCEL, f"rdcancel:{item.id}")]]
    await tell(context, user.id, mine, buttons=cancel)
    for admin in await admin_ids(services):
        try:
            await send(
                context.bot,
                services,
                admin,
                redemption_card(item),
                buttons=redemption_buttons(item),
            )
        except Unreachable:
            log.info("admin %s could not be told about redemption %s", admin, item.id)


async def on_decide(update: Update, context: GridContext) -> None:
    """An admin's 核准 / 已发放 / 拒绝 on a request card (拒绝 asks for the reason first)."""
    query, user = update.callback_query, update.effective_user
    if query is None or user is None:
        return
    match = _DECIDE.match(query.data or "")
    if not match:
        await query.answer(texts.BUTTON_STALE, show_alert=True)
        return
    verb, redemption_id = match.group(1), int(match.group(2))
    services = services_of(context)
    actor = await actor_for(context, user)
    if not actor.is_admin:
        raise DomainError("not_allowed")
    card = query.message if isinstance(query.message, Message) else None
    if verb == "rdno":
        found = await services.redemption.get(redemption_id)
        if found.status not in ("requested", "approved"):
            raise DomainError("redeem_wrong_state", redemption_id=redemption_id)
        waiting = AwaitReason(
            kind="redeem",
            ref=redemption_id,
            user_id=found.user_id,
            chat_id=user.id,
            card_chat_id=card.chat.id if card is not None else 0,
            card_message_id=card.message_id if card is not None else 0,
            card_text="",
            card_is_photo=False,
        )
        await dialogues(context).start(REASON, user.id, user.id, waiting)
        await query.answer()
        asked = await tell(
            context, user.id, texts.REDEEM_ASK_REASON.format(redemption_id=redemption_id)
        )
        if asked is None:
            await dialogues(context).close(REASON.name, user.id, user.id)
        return
    if verb == "rdok":
        item = await services.redemption.approve(actor, redemption_id)
        notice = texts.REDEEM_NOTICE_APPROVED.format(redemption_id=item.id, item=item.item_name)
    else:
        item = await services.redemption.hand_over(actor, redemption_id)
        notice = texts.REDEEM_NOTICE_HANDED.format(item=item.item_name)
    await query.answer(texts.REDEEM_ANSWER_DONE)
    if card is not None:
        await finish_card(
            context,
            card.chat.id,
            card.message_id,
            "",
            False,
            redemption_card(item, by=actor.name),
            redemption_buttons(item),
        )
    await tell(context, item.user_id, notice)


async def reject_with_reason(
    update: Update, context: GridContext, actor: Person, state: AwaitReason, reason: str
) -> None:
    """Reject a request with the reason the admin typed; the points go back at once."""
    services = services_of(context)
    message = update.effective_message
    item = await dialogues(context).finish(
        REASON.name,
        actor.user_id,
        state.chat_id,
        message.message_id if message is not None else 0,
        lambda: services.redemption.reject(actor, state.ref, reason),
    )
    text = redemption_card(item, by=actor.name)
    await reply(update, context, text)
    await finish_card(context, state.card_chat_id, state.card_message_id, "", False, text)
    await tell(
        context,
        item.user_id,
        texts.REDEEM_NOTICE_REJECTED.format(
            redemption_id=item.id, item=item.item_name, reason=item.reason, points=item.points
        ),
    )


async def on_cancel(update: Update, context: GridContext) -> None:
    """A resident's 取消申请 under their own request: the points and the stock come back."""
    query, user = update.callback_query, update.effective_user
    if query is None or user is None:
        return
    match = _CANCEL.match(query.data or "")
    if not match:
        await query.answer(texts.BUTTON_STALE, show_alert=True)
        return
    services = services_of(context)
    redemption_id = int(match.group(1))
    found = await services.redemption.get(redemption_id)
    if found.user_id != user.id:
        raise DomainError("not_allowed")
    if found.status in ("approved", "handed_over"):
        raise DomainError("redeem_cancel_too_late", redemption_id=redemption_id)
    actor = await actor_for(context, user)
    # The service refunds with a new ledger row and puts the stock back, in one transaction.
    item = await services.redemption.reject(actor, redemption_id, "")
    await query.answer(texts.REDEEM_ANSWER_CANCELLED)
    if isinstance(query.message, Message):
        done = texts.REDEEM_CANCELLED.format(
            redemption_id=item.id, item=item.item_name, points=item.points
        )
        await edit(context.bot, query.message.chat.id, query.message.message_id, done)
    for admin in await admin_ids(services):
        if admin != user.id:
            await tell(
                context,
                admin,
                texts.REDEEM_CANCELLED_TO_ADMIN.format(
                    redemption_id=item.id, name=item.name, item=item.item_name
                ),
            )


def command_handlers() -> list[BaseHandler[Any, Any, Any]]:
    """The points commands (group 0)."""
    return [
        CommandHandler("points", points_command),
        CommandHandler("award", award_command),
        CommandHandler("deduct", deduct_command),
        CommandHandler("redeem", redeem_command),
    ]


def callback_handlers() -> list[BaseHandler[Any, Any, Any]]:
    """The redemption buttons (group 1)."""
    return [
        CallbackQueryHandler(on_redeem, pattern=r"^redeem:"),
        CallbackQueryHandler(on_decide, pattern=r"^rd(ok|give|no):"),
        CallbackQueryHandler(on_cancel, pattern=r"^rdcancel:"),
    ]
