"""Community state the chat changes: worker links, invitations, group bindings, users."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime

from storage.store import Row, Store


def _ts(when: datetime) -> str:
    return when.astimezone(UTC).isoformat()


def _dt(text: str | None) -> datetime | None:
    return None if text is None else datetime.fromisoformat(text)


@dataclass(frozen=True, slots=True)
class WorkerLink:
    worker_key: str
    telegram_id: int
    linked_at: datetime

    @classmethod
    def _from_row(cls, row: Row) -> WorkerLink:
        return cls(
            row["worker_key"], int(row["telegram_id"]), datetime.fromisoformat(row["linked_at"])
        )


@dataclass(frozen=True, slots=True)
class Invite:
    code: str
    worker_key: str
    created_at: datetime
    expires_at: datetime
    used_at: datetime | None
    used_by: int | None

    @classmethod
    def _from_row(cls, row: Row) -> Invite:
        return cls(
            code=row["code"],
            worker_key=row["worker_key"],
            created_at=datetime.fromisoformat(row["created_at"]),
            expires_at=datetime.fromisoformat(row["expires_at"]),
            used_at=_dt(row["used_at"]),
            used_by=row["used_by"],
        )


@dataclass(frozen=True, slots=True)
class GroupBinding:
    chat_id: int
    grids: tuple[str, ...]
    title: str
    bound_by: int | None  # None when it comes from the config file
    bound_at: datetime
    active: bool
    community: str = ""

    @classmethod
    def _from_row(cls, row: Row) -> GroupBinding:
        return cls(
            community=row["community"],
            chat_id=int(row["chat_id"]),
            grids=tuple(json.loads(row["grids"])),
            title=row["title"],
            bound_by=row["bound_by"],
            bound_at=datetime.fromisoformat(row["bound_at"]),
            active=bool(row["active"]),
        )


@dataclass(frozen=True, slots=True)
class User:
    user_id: int
    name: str
    started_at: datetime | None
    unreachable_at: datetime | None

    @classmethod
    def _from_row(cls, row: Row) -> User:
        return cls(
            user_id=int(row["user_id"]),
            name=row["name"],
            started_at=_dt(row["started_at"]),
            unreachable_at=_dt(row["unreachable_at"]),
        )


class WorkerLinkRepository:
    """Which Telegram account each of a community's workers (or admins) linked by invitation."""

    _COLUMNS = "worker_key, telegram_id, linked_at"

    def __init__(self, db: Store, community: str) -> None:
        self.db = db
        self.community = community

    async def get(self, worker_key: str) -> WorkerLink | None:
        row = await self.db.fetchone(
            f"SELECT {self._COLUMNS} FROM worker_links WHERE community = ? AND worker_key = ?",
            (self.community, worker_key),
        )
        return None if row is None else WorkerLink._from_row(row)

    async def by_telegram_id(self, telegram_id: int) -> WorkerLink | None:
        row = await self.db.fetchone(
            f"SELECT {self._COLUMNS} FROM worker_links WHERE community = ? AND telegram_id = ?",
            (self.community, telegram_id),
        )
        return None if row is None else WorkerLink._from_row(row)

    async def all(self) -> list[WorkerLink]:
        rows = await self.db.fetchall(
            f"SELECT {self._COLUMNS} FROM worker_links WHERE community = ? ORDER BY worker_key",
            (self.community,),
        )
        return [WorkerLink._from_row(r) for r in rows]

    async def link(self, worker_key: str, telegram_id: int, now: datetime) -> None:
        await self.db.execute(
            "INSERT INTO worker_links (community, worker_key, telegram_id, linked_at)"
            " VALUES (?, ?, ?, ?)"
            " ON CONFLICT (community, worker_key) DO UPDATE SET"
            " telegram_id = excluded.telegram_id, linked_at = excluded.linked_at",
            (self.community, worker_key, telegram_id, _ts(now)),
        )


class InviteRepository:
    """A community's single-use invitation codes (a code is unique across the deployment)."""

    _COLUMNS = "code, worker_key, created_at, expires_at, used_at, used_by"

    def __init__(self, db: Store, community: str) -> None:
        self.db = db
        self.community = community

    async def add(self, code: str, worker_key: str, now: datetime, expires_at: datetime) -> None:
        await self.db.execute(
            "INSERT INTO invites (community, code, worker_key, created_at, expires_at)"
            " VALUES (?, ?, ?, ?, ?)",
            (self.community, code, worker_key, _ts(now), _ts(expires_at)),
        )

    async def get(self, code: str) -> Invite | None:
        row = await self.db.fetchone(
            f"SELECT {self._COLUMNS} FROM invites WHERE community = ? AND code = ?",
            (self.community, code),
        )
        return None if row is None else Invite._from_row(row)

    async def use(self, code: str, telegram_id: int, now: datetime) -> bool:
        """Mark an unused invitation used; False when it was already used."""
        changed = await self.db.execute_rowcount(
            "UPDATE invites SET used_at = ?, used_by = ? WHERE code = ? AND used_at IS NULL",
            (_ts(now), telegram_id, code),
        )
        return changed == 1


class GroupBindingRepository:
    """Which community and grids each group chat covers (a group belongs to one community)."""

    _COLUMNS = "community, chat_id, grids, title, bound_by, bound_at, active"

    def __init__(self, db: Store, community: str) -> None:
        self.db = db
        self.community = community

    async def get(self, chat_id: int) -> GroupBinding | None:
        """Return the chat's binding, whichever community it belongs to."""
        row = await self.db.fetchone(
            f"SELECT {self._COLUMNS} FROM group_bindings WHERE chat_id = ?", (chat_id,)
        )
        return None if row is None else GroupBinding._from_row(row)

    async def all(self) -> list[GroupBinding]:
        """Return this community's bindings."""
        rows = await self.db.fetchall(
            f"SELECT {self._COLUMNS} FROM group_bindings WHERE community = ? ORDER BY chat_id",
            (self.community,),
        )
        return [GroupBinding._from_row(r) for r in rows]

    async def bind(
        self,
        chat_id: int,
        grids: tuple[str, ...],
        title: str,
        bound_by: int | None,
        now: datetime,
    ) -> None:
        await self.db.execute(
            "INSERT INTO group_bindings"
            " (community, chat_id, grids, title, bound_by, bound_at, active)"
            " VALUES (?, ?, ?, ?, ?, ?, 1)"
            " ON CONFLICT (chat_id) DO UPDATE SET community = excluded.community,"
            " grids = excluded.grids, title = excluded.title, bound_by = excluded.bound_by,"
            " bound_at = excluded.bound_at, active = 1",
            (self.community, chat_id, json.dumps(list(grids)), title, bound_by, _ts(now)),
        )

    async def bind_from_config(
        self, chat_id: int, grids: tuple[str, ...], title: str, now: datetime
    ) -> None:
        """Write a config group; a binding an admin made in the chat is left alone."""
        await self.db.execute(
            "INSERT INTO group_bindings"
            " (community, chat_id, grids, title, bound_by, bound_at, active)"
            " VALUES (?, ?, ?, ?, NULL, ?, 1)"
            " ON CONFLICT (chat_id) DO UPDATE SET community = excluded.community,"
            " grids = excluded.grids, title = excluded.title"
            " WHERE group_bindings.bound_by IS NULL",
            (self.community, chat_id, json.dumps(list(grids)), title, _ts(now)),
        )

    async def deactivate(self, chat_id: int) -> bool:
        changed = await self.db.execute_rowcount(
            "UPDATE group_bindings SET active = 0"
            " WHERE chat_id = ? AND community = ? AND active = 1",
            (chat_id, self.community),
        )
        return changed == 1

    async def move(self, old_chat_id: int, new_chat_id: int) -> bool:
        """Move a binding to a chat's new id; an existing binding of the new id wins."""
        if await self.get(new_chat_id) is not None:
            await self.db.execute("DELETE FROM group_bindings WHERE chat_id = ?", (old_chat_id,))
            return False
        changed = await self.db.execute_rowcount(
            "UPDATE group_bindings SET chat_id = ? WHERE chat_id = ?", (new_chat_id, old_chat_id)
        )
        return changed == 1


class ChatMigrationRepository:
    """Groups upgraded to supergroups: the old id and the new."""

    def __init__(self, db: Store) -> None:
        self.db = db

    async def record(self, old_chat_id: int, new_chat_id: int, now: datetime) -> None:
        await self.db.execute(
            "INSERT INTO chat_migrations (old_chat_id, new_chat_id, at) VALUES (?, ?, ?)"
            " ON CONFLICT (old_chat_id) DO UPDATE SET new_chat_id = excluded.new_chat_id",
            (old_chat_id, new_chat_id, _ts(now)),
        )

    async def all(self) -> dict[int, int]:
        """Return every recorded move, old chat id -> new chat id."""
        rows = await self.db.fetchall("SELECT old_chat_id, new_chat_id FROM chat_migrations")
        return {int(r["old_chat_id"]): int(r["new_chat_id"]) for r in rows}

    async def new_id(self, old_chat_id: int) -> int | None:
        value = await self.db.fetchval(
            "SELECT new_chat_id FROM chat_migrations WHERE old_chat_id = ?", (old_chat_id,)
        )
        return None if value is None else int(value)


class UserRepository:
    """People who opened the bot, and whether Telegram still lets the bot reach them."""

    _COLUMNS = "user_id, name, started_at, unreachable_at"

    def __init__(self, db: Store) -> None:
        self.db = db

    async def get(self, user_id: int) -> User | None:
        row = await self.db.fetchone(
            f"SELECT {self._COLUMNS} FROM users WHERE user_id = ?", (user_id,)
        )
        return None if row is None else User._from_row(row)

    async def started(self, user_id: int, name: str, now: datetime) -> None:
        await self.db.execute(
            "INSERT INTO users (user_id, name, started_at, unreachable_at, updated_at)"
            " VALUES (?, ?, ?, NULL, ?)"
            " ON CONFLICT (user_id) DO UPDATE SET name = excluded.name,"
            " started_at = excluded.started_at, unreachable_at = NULL,"
            " updated_at = excluded.updated_at",
            (user_id, name, _ts(now), _ts(now)),
        )

    async def unreachable(self, user_id: int, now: datetime) -> None:
        await self.db.execute(
            "INSERT INTO users (user_id, name, started_at, unreachable_at, updated_at)"
            " VALUES (?, '', NULL, ?, ?)"
            " ON CONFLICT (user_id) DO UPDATE SET unreachable_at = excluded.unreachable_at,"
            " updated_at = excluded.updated_at",
            (user_id, _ts(now), _ts(now)),
        )

    async def unreachable_ids(self, user_ids: list[int]) -> set[int]:
        if not user_ids:
            return set()
        marks = ", ".join("?" for _ in user_ids)
        rows = await self.db.fetchall(
            f"SELECT user_id FROM users WHERE unreachable_at IS NOT NULL AND user_id IN ({marks})",
            user_ids,
        )
        return {int(r["user_id"]) for r in rows}
