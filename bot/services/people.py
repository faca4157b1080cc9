"""Who is who in the chat: linked workers, admins, bound groups and who can be reached.

The configuration says who the workers, admins and groups are; the database adds what the chat
itself changes: a worker linking their Telegram account by invitation, an admin binding a new
group with /bind, a group upgraded to a supergroup, a user who blocked the bot.

Reachability is optimistic: a worker is reachable until Telegram answers 403 (never started the
bot, or blocked it) and `mark_unreachable` is called; opening the private chat again
(`note_started`) clears the mark. A worker with no known Telegram id at all is unreachable.
"""

from __future__ import annotations

import re
import secrets
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import timedelta

from bot.services import audit
from bot.services.clock import Clock
from bot.services.community import Admin, Community, Worker
from bot.services.errors import DomainError
from storage.community import (
    ChatMigrationRepository,
    GroupBinding,
    GroupBindingRepository,
    InviteRepository,
    UserRepository,
    WorkerLinkRepository,
)
from storage.kv import read_kv
from storage.store import Store

DEFAULT_INVITE_TTL = timedelta(hours=72)
MAX_INVITE_TTL = timedelta(days=30)
# Telegram deep-link payloads allow A-Z a-z 0-9 _ - and up to 64 characters.
_CODE_SHAPE = re.compile(r"^[A-Za-z0-9_-]{1,64}$")


@dataclass(frozen=True, slots=True)
class Contact:
    """Someone an escalation goes to (the street office, a department), invited like a worker."""

    key: str
    name: str


class CommunityState:
    """Read and change the community state kept in the database."""

    def __init__(self, db: Store, community: Community, clock: Clock) -> None:
        self.db = db
        self.community = community
        self.clock = clock
        self.links = WorkerLinkRepository(db, community.name)
        self.invites = InviteRepository(db, community.name)
        self.bindings = GroupBindingRepository(db, community.name)
        self.migrations = ChatMigrationRepository(db)
        self.users = UserRepository(db)
        # Every group message asks for its grids, so the bindings live in memory too; this
        # process is the only writer.
        self._groups: dict[int, GroupBinding] | None = None
        # Every message sent asks where a chat moved, and every complaint whom routing must
        # skip: both are kept in memory and refreshed when this process changes them.
        self._moves: dict[int, int] | None = None
        self._unavailable: frozenset[str] | None = None
        self._links: dict[str, int] | None = None  # worker/admin key -> linked Telegram id
        # Escalation contacts (street office, departments) by key, set from the escalation
        # policy: they link their Telegram account by invitation like workers do.
        self.contacts: dict[str, Contact] = {}
        # Told when a group's binding changes here (the street office's map of groups).
        self.on_bindings_changed: Callable[[], None] = lambda: None

    def set_contacts(self, names: Mapping[str, str]) -> None:
        """Name the escalation contacts that may be invited (key -> name)."""
        self.contacts = {key: Contact(key, name) for key, name in names.items()}

    async def contact_ids(self) -> dict[str, int]:
        """Return the Telegram ids escalation contacts linked by invitation (key -> id)."""
        return {k: tid for k, tid in (await self._linked()).items() if k in self.contacts}

    def forget_cached(self) -> None:
        """Drop what is kept in memory; it is read again when next needed.

        Other instances sharing the database (bot/fleet.py) may have changed it.
        """
        self._groups = None
        self._moves = None
        self._unavailable = None
        self._links = None

    # ── start-up ──────────────────────────────────────────────────────────────────────────
    async def start(self) -> None:
        """Write the config's groups as bindings (following chat migrations) and load them."""
        now = self.clock.now()
        async with self.db.transaction():
            for group in self.community.groups:
                chat_id = await self.resolve_chat(group.chat_id)
                await self.bindings.bind_from_config(chat_id, group.grids, group.title, now)
        await self._reload()

    async def _reload(self) -> dict[int, GroupBinding]:
        self._groups = {b.chat_id: b for b in await self.bindings.all()}
        return self._groups

    async def _loaded(self) -> dict[int, GroupBinding]:
        if self._groups is None:
            await self.start()
        assert self._groups is not None
        return self._groups

    # ── people ────────────────────────────────────────────────────────────────────────────
    def _person(self, key: str) -> Worker | Admin | None:
        return self.community.worker(key) or self.community.admin(key)

    def _invitee(self, key: str) -> Worker | Admin | Contact | None:
        return self._person(key) or self.contacts.get(key)

    async def create_invite(self, worker_key: str, ttl: timedelta = DEFAULT_INVITE_TTL) -> str:
        """Create a single-use invitation code for a worker, admin or escalation contact."""
        if self._invitee(worker_key) is None:
            raise DomainError("unknown_worker", key=worker_key)
        if ttl <= timedelta(0) or ttl > MAX_INVITE_TTL:
            raise DomainError("invite_bad_ttl", max_days=MAX_INVITE_TTL.days)
        now = self.clock.now()
        async with self.db.transaction():
            while True:
                code = secrets.token_urlsafe(9)  # 12 characters, 72 random bits
                if await self.invites.get(code) is None:
                    break
            await self.invites.add(code, worker_key, now, now + ttl)
        return code

    async def redeem_invite(self, code: str, telegram_id: int) -> Worker | Admin | Contact:
        """Link the Telegram account that opened an invitation to its worker, admin or contact."""
        code = code.strip()
        if not _CODE_SHAPE.match(code):
            raise DomainError("invite_unknown")
        now = self.clock.now()
        async with self.db.transaction():
            invite = await self.invites.get(code)
            person = None if invite is None else self._invitee(invite.worker_key)
            if invite is None or person is None:
                raise DomainError("invite_unknown")
            if invite.used_at is not None:
                if invite.used_by == telegram_id:
                    return person  # the same person tapped the link twice
                raise DomainError("invite_used")
            if now >= invite.expires_at:
                raise DomainError("invite_expired")
            if isinstance(person, Contact):
                links = await self._linked()
                other = next((k for k, tid in links.items() if tid == telegram_id), None)
            else:
                other = await self._key_of(telegram_id, like=person)
            if other is not None and other != person.key:
                raise DomainError("invite_account_taken", name=self._name_of(other))
            taken = await self.links.by_telegram_id(telegram_id)
            if taken is not None and taken.worker_key != person.key:
                # The account is linked to someone of the other kind (a worker vs an admin).
                # Checked first, not caught: PostgreSQL aborts a transaction after an error.
                raise DomainError("invite_account_taken", name=self._name_of(taken.worker_key))
            await self.invites.use(code, telegram_id, now)
            await self.links.link(person.key, telegram_id, now)
        self._unavailable = None  # a newly linked worker can take tickets now
        self._links = None
        return person

    async def _linked(self) -> dict[str, int]:
        if self._links is None:
            self._links = {link.worker_key: link.telegram_id for link in await self.links.all()}
        return self._links

    def _name_of(self, key: str) -> str:
        person = self._invitee(key)
        return key if person is None else person.name

    async def _key_of(self, telegram_id: int, like: Worker | Admin) -> str | None:
        """Return the key of the person of the same kind this account already belongs to."""
        people: Iterable[Worker | Admin] = (
            self.community.workers if isinstance(like, Worker) else self.community.admins
        )
        links = await self._linked()
        linked_key = next((k for k, tid in links.items() if tid == telegram_id), None)
        if linked_key is not None and any(p.key == linked_key for p in people):
            return linked_key
        for person in people:
            if person.telegram_id == telegram_id:
                own = await self.links.get(person.key)
                if own is None or own.telegram_id == telegram_id:
                    return person.key
        return None

    async def worker_for_user(self, telegram_id: int) -> Worker | None:
        """Return the worker this Telegram account belongs to (config id or linked), or None."""
        probe = self.community.workers[0] if self.community.workers else None
        if probe is None:
            return None
        key = await self._key_of(telegram_id, like=probe)
        return None if key is None else self.community.worker(key)

    async def admin_for_user(self, telegram_id: int) -> Admin | None:
        """Return the admin this Telegram account belongs to, or None."""
        if not self.community.admins:
            return None
        key = await self._key_of(telegram_id, like=self.community.admins[0])
        return None if key is None else self.community.admin(key)

    async def is_admin(self, telegram_id: int) -> bool:
        """Tell whether this account is one of the community's admins."""
        return await self.admin_for_user(telegram_id) is not None

    async def telegram_id_of(self, worker_key: str) -> int | None:
        """Return the Telegram id to message a worker (or admin) at; a link beats the config."""
        linked = (await self._linked()).get(worker_key)
        if linked is not None:
            return linked
        person = self._person(worker_key)
        return None if person is None else person.telegram_id

    # ── groups ────────────────────────────────────────────────────────────────────────────
    async def bind_group(
        self, chat_id: int, grids: tuple[str, ...], title: str, by_user: int
    ) -> GroupBinding:
        """Bind a group chat to grids; only an admin may (checked here)."""
        if not await self.is_admin(by_user):
            raise DomainError("not_allowed")
        if not grids:
            raise DomainError("bind_needs_grid", known=self._grid_list())
        for code in grids:
            if self.community.grid(code) is None:
                raise DomainError("unknown_grid", grid=code, known=self._grid_list())
        unique = tuple(dict.fromkeys(grids))
        async with self.db.transaction():
            other = await self.bindings.get(chat_id)
            if other is not None and other.active and other.community != self.community.name:
                raise DomainError("group_in_other_community", community=other.community)
            await self.bindings.bind(chat_id, unique, title, by_user, self.clock.now())
            await audit.record(
                self.db,
                self.clock.now(),
                by_user,
                await self._admin_name(by_user),
                "bind",
                target=f"{title or chat_id}",
                detail={"grids": list(unique)},
                community=self.community.name,
            )
            binding = await self.bindings.get(chat_id)
        assert binding is not None
        (await self._loaded())[chat_id] = binding
        self.on_bindings_changed()
        return binding

    async def unbind_group(self, chat_id: int, by_user: int) -> bool:
        """Stop treating a group as a community group; only an admin may."""
        if not await self.is_admin(by_user):
            raise DomainError("not_allowed")
        async with self.db.transaction():
            changed = await self.bindings.deactivate(chat_id)
            if changed:
                name = await self._admin_name(by_user)
                await audit.record(
                    self.db,
                    self.clock.now(),
                    by_user,
                    name,
                    "unbind",
                    target=str(chat_id),
                    community=self.community.name,
                )
        await self._reload()
        self.on_bindings_changed()
        return changed

    async def _admin_name(self, user_id: int) -> str:
        admin = await self.admin_for_user(user_id)
        return admin.name if admin is not None else ""

    def _grid_list(self) -> str:
        return "、".join(f"{g.code}（{g.name}）" for g in self.community.grids)

    async def group_grids(self, chat_id: int) -> tuple[str, ...] | None:
        """Return the grids a group covers, or None when the group is not bound."""
        binding = (await self._loaded()).get(chat_id)
        return binding.grids if binding is not None and binding.active else None

    async def bound_groups(self) -> list[GroupBinding]:
        """Return every active group binding, from the config and from /bind."""
        return [b for b in (await self._loaded()).values() if b.active]

    async def resolve_chat(self, chat_id: int) -> int:
        """Follow recorded supergroup upgrades to a chat's current id."""
        if self._moves is None:
            self._moves = await self.migrations.all()
        seen = {chat_id}
        while (new_id := self._moves.get(chat_id)) is not None:
            if new_id in seen:
                break
            seen.add(new_id)
            chat_id = new_id
        return chat_id

    async def migrate_chat(self, old_chat_id: int, new_chat_id: int) -> bool:
        """Move a group's binding to its new supergroup id and record the move."""
        await self._loaded()
        async with self.db.transaction():
            await self.migrations.record(old_chat_id, new_chat_id, self.clock.now())
            moved = await self.bindings.move(old_chat_id, new_chat_id)
        self._moves = None
        await self._reload()
        self.on_bindings_changed()
        return moved

    # ── reachability ──────────────────────────────────────────────────────────────────────
    async def note_started(self, user_id: int, name: str) -> None:
        """Record that a user opened the private chat: the bot can message them again."""
        async with self.db.transaction():
            await self.users.started(user_id, name, self.clock.now())
        self._unavailable = None

    async def mark_unreachable(self, user_id: int) -> None:
        """Record that Telegram refused a message to this user (403)."""
        async with self.db.transaction():
            await self.users.unreachable(user_id, self.clock.now())
        self._unavailable = None

    async def is_reachable(self, user_id: int) -> bool:
        """Tell whether the bot may message this user (no 403 since they last opened the chat)."""
        return not await self.users.unreachable_ids([user_id])

    async def unavailable_workers(self) -> frozenset[str]:
        """Return the keys of workers routing must skip: inactive, unknown or unreachable."""
        if self._unavailable is None:
            self._unavailable = await self._compute_unavailable()
        return self._unavailable

    async def _compute_unavailable(self) -> frozenset[str]:
        links = {link.worker_key: link.telegram_id for link in await self.links.all()}
        ids: dict[str, int] = {}
        skip: set[str] = set()
        for worker in self.community.workers:
            telegram_id = links.get(worker.key, worker.telegram_id)
            if not worker.active or telegram_id is None:
                skip.add(worker.key)
            else:
                ids[worker.key] = telegram_id
        blocked = await self.users.unreachable_ids(list(ids.values()))
        skip.update(key for key, telegram_id in ids.items() if telegram_id in blocked)
        return frozenset(skip)

    async def bot_username(self) -> str | None:
        """Return the bot's @username the running bot stored, for invitation links."""
        return await read_kv(self.db, "bot_username")


async def has_started(state: CommunityState, user_id: int) -> bool:
    """Tell whether a person opened a private chat with the bot and has not blocked it since."""
    user = await state.users.get(user_id)
    return bool(user and user.started_at and not user.unreachable_at)
