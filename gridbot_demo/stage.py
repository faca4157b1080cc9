"""The demo's stage: the emulator, the real bot in the same event loop, and the cast acting.

`run_demo` starts the Bot API emulator (tgsandbox) and GridBot against it, creates the example
community's people and group chats, has the staff open their private chats with the bot, plays
a scene (gridbot_demo/script.py describes the format) while printing every chat, and optionally
lets the person at the keyboard act as any resident or worker.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import re
import sys
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import time
from importlib import resources
from pathlib import Path
from typing import TextIO

from telegram import Update

from bot.app import build_application, serve
from bot.context import GridApp, GridContext
from bot.services.clock import ShiftedClock
from bot.services.community import Community, load_community
from bot.settings import load_settings
from gridbot_demo.script import (
    Action,
    As,
    Buttons,
    Chat,
    Expect,
    Help,
    Note,
    Press,
    Quit,
    Say,
    ScriptError,
    ScriptLine,
    Show,
    Start,
    Wait,
    parse_line,
)
from gridbot_demo.transcript import Transcript, message_body
from tgsandbox import BotMessage, Button, Emulator

log = logging.getLogger(__name__)

# Residents of the demo (the community file lists only staff). Ids 3001/3002 match tests/botkit.
RESIDENTS: tuple[tuple[int, str], ...] = ((3001, "周大爷"), (3002, "吴阿姨"), (3003, "孙先生"))
NEW_RESIDENT_IDS = 3500  # people the user invents in the interactive demo get ids from here
BUTTON_WAIT_S = 15.0
SETTLE_WAIT_S = 20.0
_ROLE_NAMES = {
    "grid_worker": "网格员",
    "social_worker": "专职社工",
    "office": "社区办公室",
    "duty": "值班网格员",
}
_GROUP_WORDS = frozenset({"group", "群", "群聊", "业主群"})
_PRIVATE_WORDS = frozenset({"private", "私聊", "pm", "dm"})
_NON_WORD = re.compile(r"[\W_]+")

HELP = """\
交互演示 (interactive demo) —— 你可以扮演任何一位居民或工作人员：
  直接输入文字          以当前身份在当前聊天里发言，例如：9号楼楼道里堆满了纸箱，堵住了消防通道
  /help、/mytickets …   以当前身份向机器人发命令
  as 李娜               切换身份（网格员进入与机器人的私聊，居民回到业主群）
  as 3005 / as 钱阿姨   新来一位居民
  chat group|private    切换当前聊天：业主群 / 与机器人的私聊（也可写群名）
  buttons               列出你现在能点的按钮（带编号）
  press 2 / press 接单  点按钮：按编号，或按按钮上的字（点最近一条带这个按钮的消息）
  show [李娜|group]     查看整个聊天记录
  say 吴阿姨 group 文字  以别人的身份发言（不切换身份）
  wait                  等机器人处理完
  help                  显示本帮助        quit  退出（Ctrl-D 也可以）
演示的人物：{cast}"""


class DemoError(Exception):
    """The demo cannot start (bad configuration, database problem)."""


@dataclass
class Stage:
    """The running demo: who is who, what chat is current, and how to act and wait."""

    emu: Emulator
    app: GridApp
    community: Community
    transcript: Transcript
    out: TextIO = field(default_factory=lambda: sys.stdout)
    names: dict[int, str] = field(default_factory=dict)
    roles: dict[int, str] = field(default_factory=dict)  # staff id -> 网格员 …
    keys: dict[str, int] = field(default_factory=dict)  # worker/admin key -> id
    groups: list[tuple[int, str]] = field(default_factory=list)
    current: int = RESIDENTS[0][0]
    current_chat: int = 0
    listing: list[tuple[int, int, Button]] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    _mark: int = 0  # transcript sequence before the last action that was not an `expect`

    # ── the cast ──────────────────────────────────────────────────────────────────────────────

    def cast_people(self) -> None:
        """Create the community's staff, the demo residents and the group chats."""
        for worker in self.community.workers:
            if worker.telegram_id is not None:
                self.names[worker.telegram_id] = worker.name
                self.roles[worker.telegram_id] = _ROLE_NAMES.get(worker.role, worker.role)
                self.keys[worker.key] = worker.telegram_id
        for admin in self.community.admins:
            if admin.telegram_id is not None:
                self.names.setdefault(admin.telegram_id, admin.name)
                self.roles.setdefault(admin.telegram_id, "管理员")
                self.keys[admin.key] = admin.telegram_id
        for user_id, name in RESIDENTS:
            if user_id not in self.names:
                self.names[user_id] = name
        for user_id, name in self.names.items():
            self.emu.add_user(user_id, name)
        admins = [a.telegram_id for a in self.community.admins if a.telegram_id is not None]
        for group in self.community.groups:
            self.emu.add_group(
                group.chat_id,
                group.title,
                supergroup=str(group.chat_id).startswith("-100"),
                members=tuple(self.names),
                admins=admins,
            )
            self.groups.append((group.chat_id, group.title))
        if not self.groups:
            # A community file without groups still gets one, so residents have somewhere to talk.
            title = f"{self.community.name}业主群"
            self.emu.add_group(-1001000000001, title, supergroup=True, members=tuple(self.names))
            self.groups.append((-1001000000001, title))
        self.current = next(uid for uid, _ in RESIDENTS if self.roles.get(uid) is None)
        self.current_chat = self.groups[0][0]

    def chat_name(self, chat_id: int) -> str:
        """Name a chat for the transcript: the group's title or 私聊·<person>."""
        for group_id, title in self.groups:
            if group_id == chat_id:
                return title
        if chat_id > 0:
            return f"私聊·{self.names.get(chat_id, str(chat_id))}"
        with contextlib.suppress(KeyError):
            return str(self.emu.chat(chat_id).get("title") or chat_id)
        return str(chat_id)

    def cast_line(self) -> str:
        """List the people: residents first, then staff with their roles."""
        residents = [n for uid, n in self.names.items() if uid not in self.roles]
        staff = [f"{self.names[uid]}（{role}）" for uid, role in self.roles.items()]
        return "居民 " + "、".join(residents) + "；工作人员 " + "、".join(staff)

    def person(self, ref: str | None, *, create: bool = False) -> int:
        """Resolve a name, worker key or user id to a user id (optionally creating a resident)."""
        if ref is None:
            return self.current
        ref = ref.strip()
        if ref in self.keys:
            return self.keys[ref]
        for user_id, name in self.names.items():
            if name == ref:
                return user_id
        if ref.isdigit() and int(ref) in self.names:
            return int(ref)
        if not create:
            raise ScriptError(f"没有这个人：{ref}（{self.cast_line()}）")
        if ref.isdigit():
            user_id, name = int(ref), f"居民{ref}"
        else:
            user_id = max([NEW_RESIDENT_IDS, *self.names]) + 1
            name = ref
        self.names[user_id] = name
        self.emu.add_user(user_id, name)
        for group_id, _ in self.groups:
            self.emu.add_member(group_id, user_id)
        self.transcript.note(f"新居民 {name}（id {user_id}）加入了演示")
        return user_id

    def chat(self, ref: str | None, who: int) -> int:
        """Resolve group/private/a group title/a chat id/a person to a chat id."""
        if ref is None:
            return self.current_chat if who == self.current else self.home_chat(who)
        ref = ref.strip()
        if ref.lower() in _GROUP_WORDS:
            return self.groups[0][0]
        if ref.lower() in _PRIVATE_WORDS:
            return who
        for group_id, title in self.groups:
            if ref in (title, str(group_id)):
                return group_id
        for group_id, title in self.groups:
            if ref in title:
                return group_id
        return self.person(ref)

    def home_chat(self, who: int) -> int:
        """A worker's place is their private chat with the bot; a resident's is the group."""
        return who if who in self.roles else self.groups[0][0]

    def visible_chats(self, who: int) -> list[int]:
        """The chats a person can see: their private chat with the bot and their groups."""
        return [who, *(group_id for group_id, _ in self.groups)]

    # ── waiting ───────────────────────────────────────────────────────────────────────────────

    async def settle(self, timeout: float = SETTLE_WAIT_S) -> None:  # noqa: ASYNC109
        """Wait until the bot has handled every update and sent what it queued."""
        emu = self.emu
        await emu.wait_until(lambda: emu.pending_updates == 0, timeout)
        poller = self.app.bot_data.poller
        if poller is not None:
            await asyncio.wait_for(poller.drain(), timeout)
        street = self.app.bot_data.street
        outbox = self.app.bot_data.outbox
        if street is None or outbox is None:
            return
        services = street.any()
        # Handlers may queue messages (announcements, cards) that the outbox job sends every
        # couple of seconds; the scene goes on once they are out.
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while await outbox.due(services.clock.now(), limit=1):
            remaining = deadline - loop.time()
            if remaining <= 0:
                return
            with contextlib.suppress(TimeoutError):
                # The next call the bot makes is most likely the outbox job sending.
                await emu.wait_until(_more_requests(emu), remaining)

    # ── buttons ───────────────────────────────────────────────────────────────────────────────

    def _buttons(self, who: int) -> list[tuple[int, int, int, Button, BotMessage]]:
        """Every button the person can see: (recency, chat, message id, button, message)."""
        found = []
        for chat_id in self.visible_chats(who):
            for message in self.emu.sent(chat_id):
                recency = self.transcript.latest.get((chat_id, message.message_id), 0)
                for row in message.buttons:
                    for button in row:
                        found.append((recency, chat_id, message.message_id, button, message))
        return found

    def find_button(self, who: int, label: str) -> tuple[int, int, Button] | None:
        """Find the button `label` on the latest message that has it (exact label first)."""
        wanted = _NON_WORD.sub("", label)
        if not wanted:
            return None
        buttons = [(b, _NON_WORD.sub("", b[3].text)) for b in self._buttons(who)]
        # "满意" must not press "不满意": an exact label wins over a part of one.
        for exact in (True, False):
            hits = [b for b, text in buttons if (text == wanted if exact else wanted in text)]
            if hits:
                _, chat_id, message_id, button, _ = max(hits, key=lambda b: b[0])
                return chat_id, message_id, button
        return None

    def list_buttons(self, who: int, messages: int = 6) -> None:
        """Print the buttons on the person's latest messages, numbered for `press N`."""
        # The current chat's buttons first, each chat's newest first.
        here = self.current_chat
        buttons = sorted(self._buttons(who), key=lambda b: (b[1] != here, -b[0]))
        latest: list[tuple[int, int]] = []
        for _, chat_id, message_id, _, _ in buttons:
            if (chat_id, message_id) not in latest:
                latest.append((chat_id, message_id))
        latest = latest[:messages]
        self.listing = []
        if not latest:
            self.transcript.note(f"{self.names[who]} 现在没有可以点的按钮")
            return
        self.transcript.note(f"{self.names[who]} 能点的按钮（press 编号）")
        for chat_id, message_id in latest:
            message = self.emu.message(chat_id, message_id)
            first = message_body(message.raw).split("\n", 1)[0][:40]
            print(f"  {self.chat_name(chat_id)}：{first}", file=self.out)
            for row in message.buttons:
                for button in row:
                    self.listing.append((chat_id, message_id, button))
                    print(f"     {len(self.listing)}. [{button.text}]", file=self.out)
        self.out.flush()

    async def press(self, who: int, chat_id: int, message_id: int, button: Button) -> None:
        """Press a button as a person, wait for the bot's answer and for it to settle."""
        name = self.names[who]
        if button.callback_data is None:
            self.transcript.action(chat_id, f"{name} 点了 [{button.text}] → {button.url}")
            return
        self.transcript.action(chat_id, f"{name} 点了 [{button.text}]")
        query_id = await self.emu.press_button(chat_id, who, message_id, button.callback_data)
        try:
            await self.emu.wait_for_answer(query_id, timeout=SETTLE_WAIT_S)
        except TimeoutError:
            raise ScriptError(
                f"机器人没有回应按钮 [{button.text}]"
                f"（{SETTLE_WAIT_S:g} 秒内没有 answerCallbackQuery）"
            ) from None
        await self.settle()

    # ── actions ───────────────────────────────────────────────────────────────────────────────

    async def execute(self, action: Action) -> bool:
        """Carry out one action; return False when the demo should end."""
        if not isinstance(action, Expect):
            self._mark = self.transcript.seq
        if isinstance(action, Say):
            await self._say(action)
        elif isinstance(action, Start):
            who = self.person(action.who, create=True)
            await self.emu.open_private(who, action.payload)
            await self.settle()
        elif isinstance(action, Press):
            await self._press(action)
        elif isinstance(action, Expect):
            await self._expect(action)
        elif isinstance(action, Wait):
            await self.settle()
        elif isinstance(action, Show):
            chat_id = self.chat(action.where, self.current)
            self.transcript.show_chat(chat_id, self.emu.messages(chat_id))
        elif isinstance(action, Note):
            self.transcript.note(action.text)
        elif isinstance(action, As):
            self.current = self.person(action.who, create=True)
            self.current_chat = self.home_chat(self.current)
            role = self.roles.get(self.current, "居民")
            self.transcript.note(
                f"现在你是 {self.names[self.current]}（{role}），"
                f"在「{self.chat_name(self.current_chat)}」"
            )
        elif isinstance(action, Chat):
            self.current_chat = self.chat(action.where, self.current)
            self.transcript.note(f"进入「{self.chat_name(self.current_chat)}」")
        elif isinstance(action, Buttons):
            self.list_buttons(self.current)
        elif isinstance(action, Help):
            print(HELP.format(cast=self.cast_line()), file=self.out, flush=True)
        elif isinstance(action, Quit):
            return False
        return True

    async def _say(self, action: Say) -> None:
        who = self.person(action.who, create=True) if action.who else self.current
        chat_id = self.chat(action.chat, who)
        if chat_id > 0 and chat_id != who:
            raise ScriptError("只能在自己与机器人的私聊里发私信 (only your own private chat)")
        if chat_id == who and not self.emu.person(who).started:
            # On Telegram the first thing anyone sends a bot privately is /start.
            await self.emu.open_private(who)
            await self.settle()
        reply_to = None
        if action.reply:
            mine = self.emu.sent(chat_id)
            if not mine:
                raise ScriptError(f"「{self.chat_name(chat_id)}」里还没有机器人的消息可以回复")
            latest = max(
                mine, key=lambda m: self.transcript.latest.get((chat_id, m.message_id), 0)
            )
            reply_to = latest.message_id
        if action.photo:
            await self.emu.send_photo(chat_id, who, caption=action.text or None, reply_to=reply_to)
        else:
            await self.emu.send_text(chat_id, who, action.text, reply_to=reply_to)
        await self.settle()

    async def _press(self, action: Press) -> None:
        who = self.person(action.who)
        label = action.label
        if action.who is None and label.isdigit() and self.listing:
            index = int(label)
            if not 1 <= index <= len(self.listing):
                raise ScriptError(f"没有第 {index} 个按钮（先输入 buttons 看编号）")
            await self.press(who, *self.listing[index - 1])
            return
        found: list[tuple[int, int, Button]] = []

        def ready() -> bool:
            hit = self.find_button(who, label)
            if hit is not None:
                found.append(hit)
            return hit is not None

        try:
            await self.emu.wait_until(ready, timeout=BUTTON_WAIT_S)
        except TimeoutError:
            raise ScriptError(f"{self.names[who]} 看不到按钮 [{label}]") from None
        await self.press(who, *found[0])

    async def _expect(self, action: Expect) -> None:
        chat_id = self.chat(action.where, self.current)
        mark = self._mark

        def ready() -> bool:
            for message in self.emu.sent(chat_id):
                changed = self.transcript.latest.get((chat_id, message.message_id), 0)
                if changed > mark and action.text in message.text:
                    return True
            # The answer to a button press (a toast or an alert) counts too.
            return any(
                seq > mark and chat == chat_id and action.text in text
                for seq, chat, text in self.transcript.answers
            )

        try:
            await self.emu.wait_until(ready, timeout=BUTTON_WAIT_S)
        except TimeoutError:
            raise ScriptError(
                f"「{self.chat_name(chat_id)}」里没有等到含「{action.text}」的机器人消息"
            ) from None

    # ── playing ───────────────────────────────────────────────────────────────────────────────

    async def play(self, lines: list[ScriptLine], *, name: str, pace: float = 0.0) -> bool:
        """Play a scene line by line; stop at the first failing line and say which."""
        for line in lines:
            try:
                go_on = await self.execute(line.action)
            except (ScriptError, TimeoutError, ValueError, LookupError) as exc:
                message = f"✗ {name} 第 {line.number} 行「{line.source}」失败：{exc}"
                print(message, file=sys.stderr, flush=True)
                self.errors.append(message)
                return False
            if not go_on:
                break
            if pace > 0:
                await asyncio.sleep(pace)  # only so a person can read along; 0 in tests
        return True

    async def interactive(self, stream: TextIO) -> None:
        """Read commands and messages from the keyboard until quit or end of input."""
        print(HELP.format(cast=self.cast_line()), file=self.out, flush=True)
        loop = asyncio.get_running_loop()
        lines: asyncio.Queue[str | None] = asyncio.Queue()

        def read() -> None:
            # A daemon thread: a pending read never keeps the process alive after quit.
            for raw in stream:
                loop.call_soon_threadsafe(lines.put_nowait, raw)
            loop.call_soon_threadsafe(lines.put_nowait, None)

        threading.Thread(target=read, name="gridbot-demo-stdin", daemon=True).start()
        while True:
            prompt = f"{self.names[self.current]}@{self.chat_name(self.current_chat)}> "
            print(prompt, end="", file=self.out, flush=True)
            raw = await lines.get()
            if raw is None:
                print(file=self.out)
                return
            try:
                action = parse_line(raw)
                if action is None:
                    continue
                if not await self.execute(action):
                    return
            except (ScriptError, TimeoutError, ValueError, LookupError) as exc:
                print(f"✗ {exc}", file=self.out, flush=True)


def _more_requests(emu: Emulator) -> Callable[[], bool]:
    """Return a predicate that holds once the bot has made another request."""
    seen = emu.stats.requests
    return lambda: emu.stats.requests > seen


async def continue_earlier_demo(app: GridApp, emu: Emulator) -> None:
    """Have a fresh emulator number updates and messages after those a reused database saw."""
    inbox = app.bot_data.inbox
    last_update = await inbox.max_update_id() if inbox is not None else None
    if last_update is None:
        return
    # Message ids the people used are in the stored updates; the bot's own messages after the
    # last of them get a generous margin.
    last_message = await app.bot_data.require_db().fetchval(
        "SELECT MAX(COALESCE(json_extract(payload, '$.message.message_id'),"
        " json_extract(payload, '$.callback_query.message.message_id'),"
        " json_extract(payload, '$.edited_message.message_id'), 0)) FROM inbox"
    )
    emu.continue_after(last_update, int(last_message or 0) + 1000)


# ── running the whole thing ───────────────────────────────────────────────────────────────────


def default_scene() -> str:
    """Return the text of the scene shipped with the package."""
    return (resources.files("gridbot_demo") / "scenes" / "default.txt").read_text(encoding="utf-8")


@dataclass(frozen=True, slots=True)
class DemoOptions:
    db_path: str
    config_path: Path
    scene: list[ScriptLine]
    scene_name: str
    interactive: bool = False
    pace: float = 0.0
    color: bool = False
    timezone: str = "Asia/Shanghai"
    reused_database: bool = False  # the database holds an earlier demo's data


async def run_demo(
    options: DemoOptions, out: TextIO | None = None, keyboard: TextIO | None = None
) -> int:
    """Run the emulator and the bot, play the scene, then the interactive part; return a code."""
    out = out or sys.stdout
    async with Emulator(privacy_mode=False) as emu:
        env: Mapping[str, str] = {
            "GRIDBOT_TOKEN": emu.token,
            "GRIDBOT_API_BASE_URL": emu.base_url,
            "GRIDBOT_FILE_BASE_URL": emu.base_file_url,
            "GRIDBOT_DB": options.db_path,
            "GRIDBOT_CONFIG": str(options.config_path),
            "GRIDBOT_TZ": options.timezone,
        }
        settings = load_settings(env)
        community = load_community(settings.config, str(settings.config_path))
        # The scene is a day from eight in the morning, whatever the hour it is played at:
        # office hours and quiet nights would otherwise change what it shows.
        clock = ShiftedClock.from_local(time(8, 0), settings.timezone)
        app = build_application(settings, clock=clock)
        # The transcript is the demo's output: keep the library's start/stop lines out of it
        # unless GRIDBOT_LOG_LEVEL asks for them.
        library = logging.getLogger("telegram")
        library.setLevel(max(library.level, logging.getLogger().getEffectiveLevel()))
        transcript = Transcript(str, out=out, color=options.color, quiet=True)
        stage = Stage(emu, app, community, transcript, out=out)
        transcript.chat_names = stage.chat_name
        transcript.bot_name = str(emu.bot_user.get("first_name", "网格助手"))
        stage.cast_people()
        emu.add_listener(transcript)

        async def on_error(update: object, context: GridContext) -> None:
            """Show every handler error in the transcript: an error handler of the demo's own."""
            update_id = update.update_id if isinstance(update, Update) else None
            error = context.error
            message = f"⚠ 机器人处理更新 {update_id} 时出错：{type(error).__name__}: {error}"
            stage.errors.append(message)
            print(message, file=sys.stderr, flush=True)

        app.add_error_handler(on_error)
        stop = asyncio.Event()
        ok = False
        task = asyncio.create_task(serve(app, stop, poll_timeout=10), name="gridbot-demo-bot")
        try:
            await emu.wait_until(lambda: app.bot_data.poller is not None or task.done(), 120)
            if task.done():
                task.result()  # start-up failed: raise its error
            await continue_earlier_demo(app, emu)
            staff = list(stage.roles)
            for user_id in staff:
                await emu.open_private(user_id)
            await stage.settle()
            transcript.quiet = False
            transcript.note(
                f"{community.name}演示：{len(staff)} 位工作人员已打开与机器人的私聊；"
                f"数据库 {options.db_path}"
            )
            ok = await stage.play(options.scene, name=options.scene_name, pace=options.pace)
            if not ok and options.reused_database:
                print(
                    f"（数据库 {options.db_path} 里有上次演示留下的数据，比如一分钟内"
                    "同一位居民说同一件事只登记一次；加 --fresh 从头开始 / add --fresh）",
                    file=sys.stderr,
                )
            if options.interactive:
                await stage.interactive(keyboard or sys.stdin)
            await stage.settle()
        finally:
            stop.set()
            with contextlib.suppress(asyncio.CancelledError):
                await asyncio.wait_for(task, timeout=30)
        return 0 if ok and not stage.errors else 1
