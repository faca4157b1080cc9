"""A street office's deployment: every community it looks after, in one process.

`GRIDBOT_CONFIG` names one community file, or a folder of them (`*.toml`, one community each,
plus an optional `street.toml` naming the street office and its staff). Each community gets its
own services (bot/services/bootstrap.py) over the one database: its routing, ticket numbers,
deadlines, schedules, tasks, points, ledger and catalogue, all kept apart by the community's
name. A group belongs to exactly one community; a worker or admin may belong to several; the
street office's staff see every community of the folder.

`Street.reload()` reads the folder again: a new file adds a community, a changed file rebuilds
only that community's services, a removed file stops it; the others go on untouched, and a file
with problems leaves its community as it was and names each problem in the log.
"""

from __future__ import annotations

import hashlib
import logging
import tomllib
from collections.abc import Awaitable, Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from bot import texts
from bot.nlp import Classifier
from bot.services.bootstrap import (
    CheckedConfig,
    Services,
    StartupConfigError,
    build_services,
    check_config,
)
from bot.services.clock import Clock
from bot.services.rates import compute_rates, format_rates
from storage import street as street_store
from storage.store import Store

log = logging.getLogger(__name__)

STREET_FILE = "street.toml"


class StreetConfigError(Exception):
    """The folder or a file in it has problems; one line per problem, naming the file."""


@dataclass(frozen=True, slots=True)
class CommunityFile:
    """One community's file as read: where, what, and a digest to see it change."""

    path: Path
    config: Mapping[str, Any]
    digest: str

    @classmethod
    def parse(cls, path: Path, raw: bytes) -> CommunityFile:
        """Parse a file's bytes (UnicodeDecodeError, tomllib.TOMLDecodeError on a bad file)."""
        return cls(path, tomllib.loads(raw.decode("utf-8")), hashlib.sha256(raw).hexdigest())

    @property
    def name(self) -> str:
        head = self.config.get("community")
        value = head.get("name") if isinstance(head, Mapping) else None
        return str(value).strip() if isinstance(value, str) else ""


@dataclass(frozen=True, slots=True)
class StreetStaff:
    name: str
    telegram_id: int


@dataclass(frozen=True, slots=True)
class StreetConfig:
    """The street office (`street.toml`): its name and the staff who see every community."""

    name: str = ""
    staff: tuple[StreetStaff, ...] = ()

    def is_staff(self, user_id: int) -> bool:
        return any(s.telegram_id == user_id for s in self.staff)


def read_community_file(path: Path) -> CommunityFile:
    """Read one community file; raise StreetConfigError naming the file."""
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise StreetConfigError(f"{path}: 无法读取 (cannot read): {exc.strerror}") from None
    try:
        return CommunityFile.parse(path, raw)
    except (UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        raise StreetConfigError(f"{path}: 不是合法的 TOML: {exc}") from None


def parse_street(config: Mapping[str, Any], source: str) -> StreetConfig:
    """Read street.toml: [street] name, [[staff]] name + telegram_id."""
    problems: list[str] = []
    head = config.get("street", {})
    if not isinstance(head, Mapping):
        problems.append(f"{source}: [street] 须是一个表 (a table)")
        head = {}
    name = head.get("name", "")
    if not isinstance(name, str):
        problems.append(f"{source}: [street].name 须是文字")
        name = ""
    staff: list[StreetStaff] = []
    entries = config.get("staff", [])
    if not isinstance(entries, list):
        problems.append(f"{source}: [[staff]] 须是表的数组 (an array of tables)")
        entries = []
    for i, entry in enumerate(entries):
        where = f"{source}: [[staff]] #{i + 1}"
        if not isinstance(entry, Mapping):
            problems.append(f"{where}: 须是一个表")
            continue
        person = entry.get("name", "")
        tid = entry.get("telegram_id")
        if not isinstance(person, str) or not person.strip():
            problems.append(f"{where}: name 缺少或不是文字")
        if not isinstance(tid, int) or isinstance(tid, bool) or tid <= 0:
            problems.append(f"{where}: telegram_id 须是正整数")
            continue
        staff.append(StreetStaff(str(person).strip(), tid))
    unknown = sorted(set(config) - {"street", "staff"})
    if unknown:
        problems.append(f"{source}: 不认识的设置 (unknown keys): {', '.join(unknown)}")
    if problems:
        raise StreetConfigError("\n".join(problems))
    return StreetConfig(name.strip(), tuple(staff))


@dataclass(frozen=True, slots=True)
class FolderScan:
    """What a folder holds: the street office, the files read, and the files that failed."""

    street: StreetConfig
    files: tuple[CommunityFile, ...]
    problems: tuple[str, ...] = ()
    broken: frozenset[Path] = frozenset()  # files that could not be read: left as they were
    clashing: frozenset[Path] = frozenset()  # files that claim another file's group or name


def scan_folder(path: Path, *, known: CommunityFile | None = None) -> FolderScan:
    """Read a folder of community files (and street.toml), or one community file.

    `known` is the one community file as the settings already read it at start-up: it is
    not read again.
    """
    if not path.is_dir():
        if known is not None and known.path == path:
            return FolderScan(StreetConfig(), (known,))
        try:
            return FolderScan(StreetConfig(), (read_community_file(path),))
        except StreetConfigError as exc:
            return FolderScan(StreetConfig(), (), tuple(str(exc).splitlines()), frozenset({path}))
    problems: list[str] = []
    broken: set[Path] = set()
    street = StreetConfig()
    files: list[CommunityFile] = []
    for found in sorted(path.glob("*.toml")):
        try:
            if found.name == STREET_FILE:
                street = parse_street(read_community_file(found).config, str(found))
            else:
                files.append(read_community_file(found))
        except StreetConfigError as exc:
            problems.extend(str(exc).splitlines())
            broken.add(found)
    if not files and not problems:
        problems.append(f"{path}: 文件夹里没有社区配置文件 (no community *.toml in the folder)")
    clashes = _clashes(files)
    problems.extend(line for lines in clashes.values() for line in lines)
    return FolderScan(street, tuple(files), tuple(problems), frozenset(broken), frozenset(clashes))


def read_folder(
    path: Path, *, known: CommunityFile | None = None
) -> tuple[StreetConfig, list[CommunityFile]]:
    """Read the folder at start-up; raise StreetConfigError listing every problem."""
    scan = scan_folder(path, known=known)
    if scan.problems:
        raise StreetConfigError("\n".join(scan.problems))
    return scan.street, list(scan.files)


def check_folder(
    path: Path, tz: ZoneInfo, *, known: CommunityFile | None = None
) -> tuple[list[str], list[tuple[CommunityFile, CheckedConfig]]]:
    """Validate every community file offline: (problems, each file with its checked config)."""
    scan = scan_folder(path, known=known)
    problems = list(scan.problems)
    checked: list[tuple[CommunityFile, CheckedConfig]] = []
    for file in scan.files:
        try:
            checked.append((file, check_config(file.config, str(file.path), tz)))
        except StartupConfigError as exc:
            problems.extend(str(exc).splitlines())
    return problems, checked


def _clashes(files: Sequence[CommunityFile]) -> dict[Path, list[str]]:
    """Two files naming the same community or the same group: both would own its data.

    Returns the problems by the file that clashes with one read before it.
    """
    problems: dict[Path, list[str]] = {}
    names: dict[str, Path] = {}
    groups: dict[int, Path] = {}
    for f in files:
        if f.name and f.name in names:
            problems.setdefault(f.path, []).append(
                f"{f.path}: 社区名称“{f.name}”与 {names[f.name]} 重复"
            )
        names.setdefault(f.name, f.path)
        for group in f.config.get("groups", []) or []:
            chat = group.get("chat_id") if isinstance(group, Mapping) else None
            if isinstance(chat, int) and not isinstance(chat, bool):
                if chat in groups and groups[chat] != f.path:
                    problems.setdefault(f.path, []).append(
                        f"{f.path}: 群 {chat} 已属于 {groups[chat]}（一个群只能属于一个社区）"
                    )
                groups.setdefault(chat, f.path)
    return problems


@dataclass(frozen=True, slots=True)
class ReloadResult:
    added: tuple[str, ...] = ()
    changed: tuple[str, ...] = ()
    removed: tuple[str, ...] = ()
    failed: tuple[str, ...] = ()  # one line per problem; those communities stay as they were

    @property
    def anything(self) -> bool:
        return bool(self.added or self.changed or self.removed or self.failed)


Builder = Callable[[Mapping[str, Any], str], Awaitable[Services]]


class Street:
    """Every community of the deployment, by name, and the street office's staff."""

    def __init__(
        self,
        db: Store,
        clock: Clock,
        tz: ZoneInfo,
        *,
        path: Path,
        checkpoint: Callable[[str], None] = lambda point: None,
    ) -> None:
        self.db = db
        self.clock = clock
        self.tz = tz
        self.path = path
        # Called at the points where a test kills the real process (bot/handlers/sending.py
        # crash_point): "adopt" inside the adoption's transaction, "commit" right after the
        # adoption or a reload committed.
        self.checkpoint = checkpoint
        self.config = StreetConfig()
        self._by_name: dict[str, Services] = {}
        self._files: dict[Path, CommunityFile] = {}
        self._hooks: list[Callable[[Services], None]] = []
        self._last_failed: list[str] = []  # said once in the log, not at every reload
        # Which community each group chat seen belongs to (None: no community's), read once;
        # forgotten when a binding changes (/bind, /unbind, a supergroup's new id, a reload).
        self._chat_owner: dict[int, str | None] = {}

    # ── loading ──────────────────────────────────────────────────────────────────────────
    async def _build(self, file: CommunityFile, classifier: Classifier | None = None) -> Services:
        services = await build_services(
            file.config, str(file.path), self.db, self.clock, self.tz, classifier=classifier
        )
        services.state.on_bindings_changed = self._chat_owner.clear
        self._chat_owner.clear()  # the community's file may bind groups
        for hook in self._hooks:
            hook(services)
        return services

    async def load(self, street: StreetConfig, files: Sequence[CommunityFile]) -> None:
        """Build every community (start-up); raise StartupConfigError listing every problem."""
        adopting = await self.adopt_legacy_rows(files)
        problems: list[str] = []
        built: dict[str, Services] = {}
        for file in files:
            try:
                services = await self._build(file, adopting)
            except StartupConfigError as exc:
                problems.extend(str(exc).splitlines())
                continue
            built[services.community.name] = services
            self._files[file.path] = file
        if problems:
            raise StartupConfigError("\n".join(problems))
        self.config = street
        self._by_name = built

    async def reload(self) -> ReloadResult:
        """Read the folder again; add, rebuild or stop only the communities whose file changed.

        A file with problems changes nothing: its community (if it ran) goes on as it was.
        """
        scan = scan_folder(self.path)
        self.config = scan.street
        seen = {f.path for f in scan.files} | scan.broken
        added: list[str] = []
        changed: list[str] = []
        removed: list[str] = []
        failed: list[str] = list(scan.problems)
        for file in scan.files:
            old = self._files.get(file.path)
            if old is not None and old.digest == file.digest:
                continue
            if file.path in scan.clashing:
                continue
            if file.name in self._by_name and (old is None or old.name != file.name):
                failed.append(f"{file.path}: 社区“{file.name}”已由另一个文件配置")
                continue
            try:
                services = await self._build(file)
            except StartupConfigError as exc:
                failed.extend(str(exc).splitlines())
                continue
            name = services.community.name
            if old is not None and old.name != name:
                self._by_name.pop(old.name, None)
            self._by_name[name] = services
            self._files[file.path] = file
            (changed if old is not None else added).append(name)
        for path in [p for p in self._files if p not in seen]:
            gone = self._files.pop(path)
            if self._by_name.pop(gone.name, None) is not None:
                removed.append(gone.name)
        result = ReloadResult(tuple(added), tuple(changed), tuple(removed), tuple(failed))
        if result.anything and (added or changed or removed or failed != self._last_failed):
            log.info(
                "communities reloaded: %d added, %d changed, %d removed, %d problems",
                len(added),
                len(changed),
                len(removed),
                len(failed),
            )
            for line in failed:
                log.warning("community file not applied: %s", line)
        self._last_failed = failed
        if added or changed or removed:
            self.checkpoint("commit")
        return result

    def on_build(self, hook: Callable[[Services], None]) -> None:
        """Call hook for every community's services, now and whenever one is (re)built."""
        self._hooks.append(hook)
        for services in self._by_name.values():
            hook(services)

    async def adopt_legacy_rows(self, files: Sequence[CommunityFile]) -> Classifier | None:
        """Give rows written before communities were kept apart to their community.

        Only a deployment of one community can have written them, so they are adopted when the
        process starts with exactly one community's file; with several, start once with that
        community's file alone (StartupConfigError says so). They are adopted before the
        community's services are built: building writes its catalogue and groups under its
        name, and its catalogue must go on from the stock the old rows hold. Return the
        classifier read to check the file (the build reuses it), or None when nothing waited.
        """
        count = await street_store.legacy_rows(self.db)
        if not count:
            return None
        if len(files) != 1:
            raise StartupConfigError(
                f"{self.path}: 数据库里有 {count} 行升级前的单社区数据；请先只用该社区的配置文件"
                "启动一次（GRIDBOT_CONFIG=那个文件），让它认领这些数据，再改用文件夹"
            )
        [file] = files
        checked = check_config(file.config, str(file.path), self.tz)  # the name is valid
        async with self.db.transaction():
            await street_store.adopt_legacy_rows(self.db, checked.community.name, self.clock.now())
            self.checkpoint("adopt")
        self.checkpoint("commit")
        log.info("adopted %d rows written before communities were kept apart", count)
        return checked.classifier

    # ── lookup ───────────────────────────────────────────────────────────────────────────
    def all(self) -> list[Services]:
        """Return every community's services, by name."""
        return [self._by_name[name] for name in sorted(self._by_name)]

    def names(self) -> list[str]:
        return sorted(self._by_name)

    def get(self, name: str | None) -> Services | None:
        return None if name is None else self._by_name.get(name)

    def only(self) -> Services | None:
        """Return the one community when the deployment has exactly one."""
        if len(self._by_name) == 1:
            return next(iter(self._by_name.values()))
        return None

    def any(self) -> Services:
        """Return some community's services, for work that is the same in every one
        (delivering the outbox, following a chat that moved, a person's reachability)."""
        if not self._by_name:
            raise RuntimeError("GridBot is not started: no community is loaded")
        return self._by_name[min(self._by_name)]

    def is_staff(self, user_id: int) -> bool:
        """Tell whether the person is on the street office's staff (sees every community)."""
        return self.config.is_staff(user_id)

    async def for_chat(self, chat_id: int) -> Services | None:
        """Return the community a group chat is bound to, or None."""
        if chat_id not in self._chat_owner:
            self._chat_owner[chat_id] = await street_store.community_of_chat(self.db, chat_id)
        return self.get(self._chat_owner[chat_id])

    async def of_person(self, user_id: int) -> list[Services]:
        """Return the communities a person belongs to: as worker or admin, resident or
        reporter; the street office's staff belong to all of them."""
        if self.is_staff(user_id):
            return self.all()
        found: list[Services] = []
        for services in self.all():
            state = services.state
            if (
                await state.worker_for_user(user_id) is not None
                or await state.admin_for_user(user_id) is not None
            ):
                found.append(services)
        known = set(await street_store.communities_of_resident(self.db, user_id))
        found.extend(s for s in self.all() if s.community.name in known and s not in found)
        return sorted(found, key=lambda s: s.community.name)

    async def chosen(self, user_id: int) -> str | None:
        """Return the community a person chose with /community, if any."""
        return await street_store.read_choice(self.db, user_id)

    async def choose(self, user_id: int, name: str) -> None:
        async with self.db.transaction():
            await street_store.write_choice(self.db, user_id, name, self.clock.now())

    async def community_of_message(self, chat_id: int, message_id: int) -> Services | None:
        """Return the community that sent a delivered message (its buttons, replies to it)."""
        return self.get(await street_store.community_of_message(self.db, chat_id, message_id))

    async def community_of_dialogue(self, user_id: int, chat_id: int) -> Services | None:
        """Return the community whose question the person is answering in this chat."""
        return self.get(
            await street_store.community_of_dialogue(self.db, user_id, chat_id, self.clock.now())
        )

    async def community_of_button(self, data: str) -> Services | None:
        """Return the community of what a button acts on (`verb:number…`), if it names one."""
        verb, _, rest = data.partition(":")
        if verb == "tri":  # tri:open:<id>, tri:no:<id>
            number = rest.partition(":")[2]
            if not number.isdigit():
                return None
            return self.get(await street_store.community_of_triage_item(self.db, int(number)))
        number = rest.split(":", 1)[0]
        if not number.isdigit():
            return None
        return self.get(await street_store.community_of_button(self.db, verb, int(number)))

    async def community_of_invite(self, code: str) -> Services | None:
        return self.get(await street_store.community_of_invite(self.db, code))

    def forget_cached(self) -> None:
        """Drop what is kept in memory (another instance may have changed it)."""
        self._chat_owner.clear()
        for services in self._by_name.values():
            services.forget_cached()

    async def stats_text(self, first: date, last: date) -> str:
        """The street office's rates: the whole street, then each community side by side."""
        services = self.any()
        since = datetime.combine(first, time(0), tzinfo=self.tz)
        until = datetime.combine(last + timedelta(days=1), time(0), tzinfo=self.tz)
        now = self.clock.now()
        names = self.names()
        whole = await compute_rates(
            services.db, since, until, "street", as_of=now, communities=names
        )
        each = await compute_rates(
            services.db, since, until, "community", as_of=now, communities=names
        )
        label = {"street": self.config.name or texts.STREET_DEFAULT}
        return "\n\n".join(
            (
                format_rates(whole, first, last, "street", label),
                format_rates(each, first, last, "community"),
            )
        )


def names_of(services: Iterable[Services]) -> list[str]:
    return [s.community.name for s in services]
