"""Redeeming points for goods (积分兑换): reserve at request, hand over, or refund on reject."""

from __future__ import annotations

import logging

from bot import texts
from bot.services import audit
from bot.services.clock import Clock
from bot.services.errors import DomainError
from bot.services.points import PointsService
from bot.services.residents import Actor
from storage.points import PointsRepository, Redemption, StockItem
from storage.store import Store

log = logging.getLogger(__name__)

MAX_QUANTITY = 10


class RedemptionService:
    """A request takes the points and the stock at once, so neither can ever go negative."""

    def __init__(self, db: Store, clock: Clock, points: PointsService) -> None:
        self.db = db
        self.clock = clock
        self.points = points
        self.repo = PointsRepository(db, points.community)

    async def sync_catalogue(self) -> None:
        """Bring the catalogue from the config into the database (call at start-up)."""
        now = self.clock.now()
        items = self.points.config.catalogue
        async with self.db.transaction():
            for item in items:
                await self.repo.sync_item(item.code, item.name, item.points, item.stock, now)
            await self.repo.deactivate_items_except(tuple(i.code for i in items), now)

    async def catalogue(self) -> list[StockItem]:
        """Return what can be redeemed, with the stock left (/redeem)."""
        return await self.repo.items()

    async def request(self, actor: Actor, item_code: str, quantity: int = 1) -> Redemption:
        """Request an item: check and reserve balance and stock in one transaction."""
        if not 1 <= quantity <= MAX_QUANTITY:
            raise DomainError("redeem_bad_quantity", limit=MAX_QUANTITY)
        async with self.db.transaction():
            item = await self.repo.item(item_code)
            if item is None or not item.active:
                raise DomainError("redeem_unknown_item", item=item_code)
            if item.stock < quantity:
                raise DomainError("redeem_out_of_stock", item=item.name, stock=item.stock)
            cost = item.points * quantity
            balance = await self.points.balance(actor.user_id)
            if balance < cost:
                raise DomainError("points_insufficient", balance=balance, needed=cost)
            now = self.clock.now()
            redemption_id = await self.repo.insert_redemption(
                actor.user_id, actor.name, item, quantity, now
            )
            await self.repo.move_stock(item.code, -quantity, now)
            await self.points.record(
                user_id=actor.user_id,
                name=actor.name,
                delta=-cost,
                kind="redemption",
                rule=f"redeem:{item.code}",
                reason=texts.POINTS_REDEEM_REASON.format(item=item.name, quantity=quantity),
                actor=actor,
                redemption_id=redemption_id,
            )
            found = await self.repo.redemption(redemption_id)
        assert found is not None
        log.info("redemption %s requested", redemption_id)
        return found

    async def get(self, redemption_id: int) -> Redemption:
        """Return a redemption request or raise redeem_not_found."""
        return await self._get(redemption_id)

    async def _get(self, redemption_id: int) -> Redemption:
        found = await self.repo.redemption(redemption_id)
        if found is None:
            raise DomainError("redeem_not_found", redemption_id=redemption_id)
        return found

    async def approve(self, actor: Actor, redemption_id: int) -> Redemption:
        """Approve a request (admins)."""
        if not actor.is_admin:
            raise DomainError("not_allowed")
        async with self.db.transaction():
            found = await self._get(redemption_id)
            if found.status != "requested":
                raise DomainError("redeem_wrong_state", redemption_id=redemption_id)
            await self.repo.set_redemption_status(
                redemption_id, "approved", actor.user_id, "", self.clock.now()
            )
            await audit.record(
                self.db,
                self.clock.now(),
                actor.user_id,
                actor.name,
                "approve",
                subject_id=found.user_id,
                target=texts.AUDIT_REDEMPTION_TARGET.format(redemption_id=redemption_id),
                detail={"points": found.points},
                community=self.points.community,
            )
            return await self._get(redemption_id)

    async def hand_over(self, actor: Actor, redemption_id: int) -> Redemption:
        """Record that the goods were handed over (admins); approves on the way if needed."""
        if not actor.is_admin:
            raise DomainError("not_allowed")
        async with self.db.transaction():
            found = await self._get(redemption_id)
            if found.status not in ("requested", "approved"):
                raise DomainError("redeem_wrong_state", redemption_id=redemption_id)
            now = self.clock.now()
            if found.status == "requested":
                await self.repo.set_redemption_status(
                    redemption_id, "approved", actor.user_id, "", now
                )
            await self.repo.set_redemption_status(
                redemption_id, "handed_over", actor.user_id, "", now
            )
            return await self._get(redemption_id)

    async def reject(self, actor: Actor, redemption_id: int, reason: str) -> Redemption:
        """Reject a request (admin, or the resident cancelling): refund with a new ledger row."""
        async with self.db.transaction():
            found = await self._get(redemption_id)
            own = actor.user_id == found.user_id and found.status == "requested"
            if not (actor.is_admin or own):
                raise DomainError("not_allowed")
            if found.status not in ("requested", "approved"):
                raise DomainError("redeem_wrong_state", redemption_id=redemption_id)
            why = reason.strip() or (texts.REDEEM_CANCELLED_BY_RESIDENT if own else "")
            if not why:
                raise DomainError("points_reason_required")
            now = self.clock.now()
            await self.repo.set_redemption_status(
                redemption_id, "rejected", actor.user_id, why[:300], now
            )
            await self.repo.move_stock(found.item_code, found.quantity, now)
            await self.points.record(
                user_id=found.user_id,
                name=found.name,
                delta=found.points,
                kind="refund",
                rule=f"refund:{found.item_code}",
                reason=texts.POINTS_REFUND_REASON.format(item=found.item_name, reason=why),
                actor=actor,
                redemption_id=redemption_id,
            )
            return await self._get(redemption_id)

    async def pending(self) -> list[Redemption]:
        """Return requests still waiting for approval or hand-over, oldest first."""
        waiting = await self.repo.redemptions(status="requested")
        approved = await self.repo.redemptions(status="approved")
        return sorted(waiting + approved, key=lambda r: r.id)

    async def of_resident(self, user_id: int) -> list[Redemption]:
        """Return one resident's redemptions."""
        return await self.repo.redemptions(user_id=user_id)
