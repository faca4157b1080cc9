"""The append-only points ledger, its balance cache per resident, catalogue and redemptions."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from storage.store import Row, Store

# Spending and getting it back are not achievements; rankings count everything else.
SPENDING_KINDS = frozenset({"redemption", "refund"})


@dataclass(frozen=True, slots=True)
class LedgerEntry:
    id: int
    user_id: int
    delta: int
    hours: float
    kind: str
    rule: str
    reason: str
    actor_id: int | None
    actor_name: str
    task_id: int | None
    claim_id: int | None
    ticket_id: int | None
    redemption_id: int | None
    at: datetime

    @classmethod
    def _from_row(cls, row: Row) -> LedgerEntry:
        return cls(
            id=int(row["id"]),
            user_id=int(row["user_id"]),
            delta=int(row["delta"]),
            hours=float(row["hours"]),
            kind=row["kind"],
            rule=row["rule"],
            reason=row["reason"],
            actor_id=row["actor_id"],
            actor_name=row["actor_name"],
            task_id=row["task_id"],
            claim_id=row["claim_id"],
            ticket_id=row["ticket_id"],
            redemption_id=row["redemption_id"],
            at=datetime.fromisoformat(row["at"]),
        )


@dataclass(frozen=True, slots=True)
class Balance:
    user_id: int
    name: str
    balance: int
    earned: int
    hours: float

    @classmethod
    def _from_row(cls, row: Row) -> Balance:
        return cls(
            user_id=int(row["user_id"]),
            name=row["name"],
            balance=int(row["balance"]),
            earned=int(row["earned"]),
            hours=float(row["hours"]),
        )


@dataclass(frozen=True, slots=True)
class StockItem:
    code: str
    name: str
    points: int
    stock: int
    active: bool

    @classmethod
    def _from_row(cls, row: Row) -> StockItem:
        return cls(
            code=row["code"],
            name=row["name"],
            points=int(row["points"]),
            stock=int(row["stock"]),
            active=bool(row["active"]),
        )


@dataclass(frozen=True, slots=True)
class Redemption:
    id: int
    user_id: int
    name: str
    item_code: str
    item_name: str
    quantity: int
    points: int
    status: str  # requested | approved | handed_over | rejected
    reason: str
    requested_at: datetime
    decided_by: int | None
    handed_by: int | None

    @classmethod
    def _from_row(cls, row: Row) -> Redemption:
        return cls(
            id=int(row["id"]),
            user_id=int(row["user_id"]),
            name=row["name"],
            item_code=row["item_code"],
            item_name=row["item_name"],
            quantity=int(row["quantity"]),
            points=int(row["points"]),
            status=row["status"],
            reason=row["reason"],
            requested_at=datetime.fromisoformat(row["requested_at"]),
            decided_by=row["decided_by"],
            handed_by=row["handed_by"],
        )


_LEDGER_COLUMNS = (
    "id, user_id, delta, hours, kind, rule, reason, actor_id, actor_name, task_id, claim_id,"
    " ticket_id, redemption_id, at"
)
_REDEMPTION_COLUMNS = (
    "id, user_id, name, item_code, item_name, quantity, points, status, reason, requested_at,"
    " decided_by, handed_by"
)


@dataclass(frozen=True, slots=True)
class TicketReporter:
    """Who reported a ticket, as the ticket_confirmed rule needs it."""

    number: int
    reporter_id: int
    reporter_name: str


class PointsRepository:
    """A community's ledger rows with their cache update; its balances, rankings, catalogue."""

    def __init__(self, db: Store, community: str) -> None:
        self.db = db
        self.community = community

    async def _new_id(self, sql: str, params: Sequence[Any]) -> int:
        # INSERT … RETURNING id gives the new row's id on both stores.
        return int(await self.db.fetchval(sql, params))

    async def append(
        self,
        *,
        user_id: int,
        name: str,
        delta: int,
        kind: str,
        rule: str,
        reason: str,
        now: datetime,
        hours: float = 0.0,
        actor_id: int | None = None,
        actor_name: str = "",
        task_id: int | None = None,
        claim_id: int | None = None,
        ticket_id: int | None = None,
        redemption_id: int | None = None,
    ) -> int:
        """Append one ledger row and move the cached balance by the same amount (caller's tx)."""
        entry_id = await self.db.fetchval(
            "INSERT INTO points_ledger (community, user_id, delta, hours, kind, rule, reason,"
            " actor_id, actor_name, task_id, claim_id, ticket_id, redemption_id, at)"
            " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING id",
            (
                self.community,
                user_id,
                delta,
                hours,
                kind,
                rule,
                reason,
                actor_id,
                actor_name,
                task_id,
                claim_id,
                ticket_id,
                redemption_id,
                now.isoformat(),
            ),
        )
        earned = 0 if kind in SPENDING_KINDS else delta
        # The CHECK (balance >= 0) on the cache is the last guard against overspending. Not an
        # upsert: SQLite checks the would-be inserted row (a negative delta) before the conflict.
        moved = await self.db.execute_rowcount(
            "UPDATE point_balances SET name = ?, balance = balance + ?, earned = earned + ?,"
            " hours = hours + ?, updated_at = ? WHERE community = ? AND user_id = ?",
            (name, delta, earned, hours, now.isoformat(), self.community, user_id),
        )
        if not moved:
            await self.db.execute(
                "INSERT INTO point_balances"
                " (community, user_id, name, balance, earned, hours, updated_at)"
                " VALUES (?, ?, ?, ?, ?, ?, ?)",
                (self.community, user_id, name, delta, earned, hours, now.isoformat()),
            )
        return int(entry_id)

    async def entry(self, entry_id: int) -> LedgerEntry | None:
        """Return one ledger row."""
        row = await self.db.fetchone(
            f"SELECT {_LEDGER_COLUMNS} FROM points_ledger WHERE id = ? AND community = ?",
            (entry_id, self.community),
        )
        return LedgerEntry._from_row(row) if row else None

    async def balance(self, user_id: int) -> Balance | None:
        """Return a resident's cached balance, or None when they never had points."""
        row = await self.db.fetchone(
            "SELECT user_id, name, balance, earned, hours FROM point_balances"
            " WHERE community = ? AND user_id = ?",
            (self.community, user_id),
        )
        return Balance._from_row(row) if row else None

    async def entries(
        self,
        *,
        user_id: int | None = None,
        since: datetime | None = None,
        until: datetime | None = None,
        limit: int | None = None,
        newest_first: bool = False,
    ) -> list[LedgerEntry]:
        """Return ledger rows, filtered by resident and time."""
        clauses: list[str] = ["community = ?"]
        params: list[object] = [self.community]
        if user_id is not None:
            clauses.append("user_id = ?")
            params.append(user_id)
        if since is not None:
            clauses.append("at >= ?")
            params.append(since.isoformat())
        if until is not None:
            clauses.append("at < ?")
            params.append(until.isoformat())
        sql = f"SELECT {_LEDGER_COLUMNS} FROM points_ledger"
        if clauses:
            sql += " WHERE " + " AND ".join(clauses)
        sql += " ORDER BY id DESC" if newest_first else " ORDER BY id"
        if limit is not None:
            sql += " LIMIT ?"
            params.append(limit)
        rows = await self.db.fetchall(sql, params)
        return [LedgerEntry._from_row(r) for r in rows]

    async def ledger_sums(self) -> dict[int, tuple[int, int, float]]:
        """Return (balance, earned, hours) per resident computed from the ledger alone."""
        rows = await self.db.fetchall(
            "SELECT user_id, SUM(delta) AS balance,"
            " SUM(CASE WHEN kind IN ('redemption', 'refund') THEN 0 ELSE delta END) AS earned,"
            " SUM(hours) AS hours FROM points_ledger WHERE community = ? GROUP BY user_id",
            (self.community,),
        )
        return {
            int(r["user_id"]): (int(r["balance"]), int(r["earned"]), float(r["hours"]))
            for r in rows
        }

    async def all_balances(self) -> list[Balance]:
        """Return every cached balance."""
        rows = await self.db.fetchall(
            "SELECT user_id, name, balance, earned, hours FROM point_balances"
            " WHERE community = ? ORDER BY user_id",
            (self.community,),
        )
        return [Balance._from_row(r) for r in rows]

    async def top_residents(self, limit: int) -> list[tuple[Balance, str | None]]:
        """Return residents by points earned, with their household key when registered."""
        rows = await self.db.fetchall(
            "SELECT b.user_id, b.name, b.balance, b.earned, b.hours, r.household_key"
            " FROM point_balances b LEFT JOIN residents r"
            " ON r.community = b.community AND r.user_id = b.user_id"
            " WHERE b.community = ? AND b.earned > 0 ORDER BY b.earned DESC, b.user_id LIMIT ?",
            (self.community, limit),
        )
        return [(Balance._from_row(r), r["household_key"]) for r in rows]

    async def group_totals(self, column: str, limit: int | None = None) -> list[tuple[str, int]]:
        """Return earned points summed per household_key or building, highest first."""
        if column not in ("household_key", "building"):
            raise ValueError(f"cannot group points by {column!r}")
        sql = (
            f"SELECT r.{column} AS k, SUM(b.earned) AS total FROM residents r"
            " JOIN point_balances b ON b.community = r.community AND b.user_id = r.user_id"
            f" WHERE r.community = ? GROUP BY r.{column} HAVING SUM(b.earned) > 0"
            " ORDER BY total DESC, k"
        )
        params: list[object] = [self.community]
        if limit is not None:
            sql += " LIMIT ?"
            params.append(limit)
        rows = await self.db.fetchall(sql, params)
        return [(str(r["k"]), int(r["total"])) for r in rows]

    async def total_of(self, column: str, key: str) -> tuple[int, int]:
        """Return (balance, earned) summed over a household or building."""
        if column not in ("household_key", "building"):
            raise ValueError(f"cannot group points by {column!r}")
        row = await self.db.fetchone(
            "SELECT COALESCE(SUM(b.balance), 0) AS balance, COALESCE(SUM(b.earned), 0) AS earned"
            " FROM residents r JOIN point_balances b"
            " ON b.community = r.community AND b.user_id = r.user_id"
            f" WHERE r.community = ? AND r.{column} = ?",
            (self.community, key),
        )
        return (int(row["balance"]), int(row["earned"])) if row else (0, 0)

    async def moved_between(self, start: datetime, end: datetime) -> list[Balance]:
        """Return the balances of residents whose points moved in [start, end)."""
        rows = await self.db.fetchall(
            "SELECT b.user_id, b.name, b.balance, b.earned, b.hours FROM point_balances b"
            " WHERE b.community = ? AND b.user_id IN (SELECT user_id FROM points_ledger"
            " WHERE community = ? AND at >= ? AND at < ? AND delta <> 0)"
            " ORDER BY b.balance DESC, b.user_id",
            (self.community, self.community, start.isoformat(), end.isoformat()),
        )
        return [Balance._from_row(r) for r in rows]

    async def awarded_between(self, start: datetime, end: datetime) -> int:
        """Return the points awarded (positive, not refunds) in [start, end)."""
        return int(
            await self.db.fetchval(
                "SELECT COALESCE(SUM(delta), 0) FROM points_ledger WHERE community = ?"
                " AND delta > 0 AND kind NOT IN ('redemption', 'refund') AND at >= ? AND at < ?",
                (self.community, start.isoformat(), end.isoformat()),
            )
        )

    # ── catalogue and redemptions ──────────────────────────────────────────────────────────

    async def sync_item(
        self, code: str, name: str, points: int, config_stock: int, now: datetime
    ) -> None:
        """Add a catalogue item, or apply a change of the config's stock as a restock."""
        await self.db.execute(
            "INSERT INTO catalogue_stock (community, code, name, points, stock, config_stock,"
            " active, updated_at) VALUES (?, ?, ?, ?, ?, ?, 1, ?)"
            " ON CONFLICT (community, code) DO UPDATE SET"
            " name = excluded.name, points = excluded.points, active = 1,"
            " stock = MAX(0, catalogue_stock.stock + excluded.config_stock"
            " - catalogue_stock.config_stock),"
            " config_stock = excluded.config_stock, updated_at = excluded.updated_at",
            (self.community, code, name, points, config_stock, config_stock, now.isoformat()),
        )

    async def deactivate_items_except(self, codes: tuple[str, ...], now: datetime) -> None:
        """Hide catalogue items the config no longer lists."""
        marks = ", ".join("?" for _ in codes) or "''"
        await self.db.execute(
            "UPDATE catalogue_stock SET active = 0, updated_at = ?"
            f" WHERE community = ? AND code NOT IN ({marks})",
            (now.isoformat(), self.community, *codes),
        )

    async def items(self) -> list[StockItem]:
        """Return the active catalogue, cheapest first."""
        rows = await self.db.fetchall(
            "SELECT code, name, points, stock, active FROM catalogue_stock"
            " WHERE community = ? AND active = 1 ORDER BY points, code",
            (self.community,),
        )
        return [StockItem._from_row(r) for r in rows]

    async def item(self, code: str) -> StockItem | None:
        """Return one catalogue item."""
        row = await self.db.fetchone(
            "SELECT code, name, points, stock, active FROM catalogue_stock"
            " WHERE community = ? AND code = ?",
            (self.community, code),
        )
        return StockItem._from_row(row) if row else None

    async def move_stock(self, code: str, change: int, now: datetime) -> None:
        """Take items out of stock (negative) or put them back."""
        await self.db.execute(
            "UPDATE catalogue_stock SET stock = stock + ?, updated_at = ?"
            " WHERE community = ? AND code = ?",
            (change, now.isoformat(), self.community, code),
        )

    async def insert_redemption(
        self, user_id: int, name: str, item: StockItem, quantity: int, now: datetime
    ) -> int:
        """Insert a requested redemption and return its id."""
        return await self._new_id(
            "INSERT INTO redemptions (community, user_id, name, item_code, item_name, quantity,"
            " points, status, requested_at) VALUES (?, ?, ?, ?, ?, ?, ?, 'requested', ?)"
            " RETURNING id",
            (
                self.community,
                user_id,
                name,
                item.code,
                item.name,
                quantity,
                item.points * quantity,
                now.isoformat(),
            ),
        )

    async def redemption(self, redemption_id: int) -> Redemption | None:
        """Return one redemption."""
        row = await self.db.fetchone(
            f"SELECT {_REDEMPTION_COLUMNS} FROM redemptions WHERE id = ? AND community = ?",
            (redemption_id, self.community),
        )
        return Redemption._from_row(row) if row else None

    async def redemptions(
        self, *, status: str | None = None, user_id: int | None = None
    ) -> list[Redemption]:
        """Return redemptions, oldest first, filtered by status or resident."""
        clauses: list[str] = ["community = ?"]
        params: list[object] = [self.community]
        if status is not None:
            clauses.append("status = ?")
            params.append(status)
        if user_id is not None:
            clauses.append("user_id = ?")
            params.append(user_id)
        where = " WHERE " + " AND ".join(clauses)
        rows = await self.db.fetchall(
            f"SELECT {_REDEMPTION_COLUMNS} FROM redemptions{where} ORDER BY id", params
        )
        return [Redemption._from_row(r) for r in rows]

    async def set_redemption_status(
        self, redemption_id: int, status: str, by: int, reason: str, now: datetime
    ) -> None:
        """Record an admin's decision or hand-over."""
        at = now.isoformat()
        if status == "handed_over":
            await self.db.execute(
                "UPDATE redemptions SET status = ?, handed_at = ?, handed_by = ? WHERE id = ?",
                (status, at, by, redemption_id),
            )
        else:
            await self.db.execute(
                "UPDATE redemptions SET status = ?, decided_at = ?, decided_by = ?, reason = ?"
                " WHERE id = ?",
                (status, at, by, reason, redemption_id),
            )

    async def ticket_reporter(self, ticket_id: int) -> TicketReporter | None:
        """Return a ticket's number and reporter, or None for an unknown ticket."""
        row = await self.db.fetchone(
            "SELECT number, reporter_id, reporter_name FROM tickets"
            " WHERE id = ? AND community = ?",
            (ticket_id, self.community),
        )
        if row is None:
            return None
        return TicketReporter(
            int(row["number"]), int(row["reporter_id"]), str(row["reporter_name"])
        )

    async def ticket_awarded(self, ticket_id: int) -> bool:
        """Tell whether the ticket_confirmed award for a ticket is in the ledger."""
        found = await self.db.fetchval(
            "SELECT 1 FROM points_ledger WHERE kind = 'ticket' AND ticket_id = ?", (ticket_id,)
        )
        return bool(found)

    async def sizes(self) -> tuple[int, int]:
        """Return how many ledger rows and how many residents' balances there are."""
        rows = int(
            await self.db.fetchval(
                "SELECT COUNT(*) FROM points_ledger WHERE community = ?", (self.community,)
            )
        )
        residents = int(
            await self.db.fetchval(
                "SELECT COUNT(*) FROM point_balances WHERE community = ?", (self.community,)
            )
        )
        return rows, residents


async def points_communities(db: Store) -> list[str]:
    """Return every community that has a ledger or balances (for whole-deployment checks)."""
    rows = await db.fetchall(
        "SELECT community FROM point_balances UNION SELECT community FROM points_ledger"
    )
    return sorted({str(r["community"]) for r in rows})
