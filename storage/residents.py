"""Residents and their households (户): who lives where, for points and rankings."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from storage.store import Row, Store


@dataclass(frozen=True, slots=True)
class Resident:
    user_id: int
    name: str
    building: str
    unit: str
    room: str
    household_key: str
    registered_at: str

    @classmethod
    def _from_row(cls, row: Row) -> Resident:
        return cls(
            user_id=int(row["user_id"]),
            name=row["name"],
            building=row["building"],
            unit=row["unit"],
            room=row["room"],
            household_key=row["household_key"],
            registered_at=row["registered_at"],
        )


_COLUMNS = "user_id, name, building, unit, room, household_key, registered_at"


class ResidentRepository:
    """Store and look up residents."""

    def __init__(self, db: Store, community: str) -> None:
        self.db = db
        self.community = community

    async def upsert(
        self,
        user_id: int,
        name: str,
        building: str,
        unit: str,
        room: str,
        household_key: str,
        now: datetime,
    ) -> None:
        """Insert a resident or move them to a new household."""
        at = now.isoformat()
        await self.db.execute(
            "INSERT INTO residents (community, user_id, name, building, unit, room,"
            " household_key, registered_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)"
            " ON CONFLICT (community, user_id) DO UPDATE SET name = excluded.name,"
            " building = excluded.building, unit = excluded.unit, room = excluded.room,"
            " household_key = excluded.household_key, updated_at = excluded.updated_at",
            (self.community, user_id, name, building, unit, room, household_key, at, at),
        )

    async def get(self, user_id: int) -> Resident | None:
        """Return one resident, or None when they never registered."""
        row = await self.db.fetchone(
            f"SELECT {_COLUMNS} FROM residents WHERE community = ? AND user_id = ?",
            (self.community, user_id),
        )
        return Resident._from_row(row) if row else None

    async def household(self, household_key: str) -> list[Resident]:
        """Return the members of one household."""
        rows = await self.db.fetchall(
            f"SELECT {_COLUMNS} FROM residents WHERE community = ? AND household_key = ?"
            " ORDER BY user_id",
            (self.community, household_key),
        )
        return [Resident._from_row(r) for r in rows]

    async def in_building(self, building: str) -> list[Resident]:
        """Return the residents registered in one building."""
        rows = await self.db.fetchall(
            f"SELECT {_COLUMNS} FROM residents WHERE community = ? AND building = ?"
            " ORDER BY household_key, user_id",
            (self.community, building),
        )
        return [Resident._from_row(r) for r in rows]

    async def named(self, name: str) -> list[tuple[int, str]]:
        """Return (user_id, name) of everyone the bot knows by this name, registered first."""
        rows = await self.db.fetchall(
            # lower() folds ASCII letters only on both stores, as SQLite's NOCASE does; each
            # person once, under the name of their first-ranked row.
            "SELECT user_id, name FROM ("
            " SELECT user_id, name, tier,"
            " ROW_NUMBER() OVER (PARTITION BY user_id ORDER BY tier) AS nth FROM ("
            " SELECT user_id, name, 0 AS tier FROM residents"
            " WHERE community = ? AND lower(name) = lower(?)"
            " UNION ALL SELECT user_id, name, 1 FROM point_balances"
            " WHERE community = ? AND lower(name) = lower(?)"
            " UNION ALL SELECT user_id, name, 2 FROM users WHERE lower(name) = lower(?)"
            ") AS known) AS ranked WHERE nth = 1 ORDER BY tier, user_id",
            (self.community, name, self.community, name, name),
        )
        return [(int(r["user_id"]), str(r["name"])) for r in rows]
