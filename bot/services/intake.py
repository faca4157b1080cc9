"""Intake: from a resident's words to a ticket with a responsible worker (or a question back).

The handler maps a Telegram message to a `Report`; `IntakeService.receive` decides what happens:
ignore chit-chat, ask the reporter when the reading is unsure or the building is unknown, fold a
burst of messages into one ticket, point at an open ticket on the same problem ("我也遇到"), or
open a ticket routed to its worker. Every decision is stored, so a replay decides the same way.
"""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field, replace
from datetime import timedelta
from typing import Any

from bot.nlp import NONE, OTHER, Classifier, Location, Reading
from bot.nlp.location import PlaceFinder, find_location
from bot.services import access
from bot.services import lifecycle as lc
from bot.services.clock import Clock
from bot.services.community import Community, normalise_building, normalise_place
from bot.services.dialogues import DONE, Answer, Conversation, DialogueService
from bot.services.errors import DomainError
from bot.services.flows import ALBUM, INTAKE, AlbumStart, HeldReport, IntakeRules
from bot.services.people import CommunityState
from bot.services.routing import Route, route_ticket
from bot.services.tickets import NewTicket, Ticket, TicketService
from storage.store import Store
from storage.tickets import NewEvent

BURST_WINDOW = timedelta(minutes=1)  # five messages about one thing in a minute: one ticket
SIMILAR_WINDOW = timedelta(days=3)  # an open ticket on the same problem from the last days
UNDO_WINDOW = timedelta(minutes=10)  # a reporter may withdraw a false alarm this long
MAX_TEXT = 2000  # longer pastes are kept whole in the ticket text up to this length

# Outcome kinds
IGNORED = "ignored"
OPENED = "opened"
REPLAYED = "replayed"
MERGED = "merged"
SIMILAR = "similar"
CONFIRM = "confirm"
ASK_BUILDING = "ask_building"
NOT_COMPLAINT = "not_complaint"
STATUS = "status"  # the reporter asked how their own open ticket stands
ADDED = "added"  # the reporter's words in reply to their ticket's acknowledgement, passed on
ASIDE = "aside"  # addressed to the bot in a group, but a greeting or a question, not a report
SAID_GONE = "said_gone"  # the reporter says under their acknowledgement it is over (已经好了)
ALBUM_PHOTO = (
    "album_photo"  # a photo sent with an earlier message of its album: gone where that one went
)
# What an album's first message became, that the photos after it join (the ticket).
_ALBUM_TICKET_KINDS = frozenset({OPENED, REPLAYED, MERGED, ADDED})

# The timeline kind of a message folded into the reporter's ticket of a moment ago.
ADDED_WORDS = "added_words"
SOURCE_EDITED = "source_edited"  # the timeline kind of the reporter's edit of their message
UNSATISFIED_REASON = "unsatisfied_reason"  # the timeline kind of a 不满意 rater's reason
# Emergency numbers a resident in danger should call before anything else.
EMERGENCY_NUMBERS = ("119", "110", "120")
# A second message that points at another thing (另外, 另一部) is a new event, not a repeat.
_NEW_EVENT = re.compile(r"另外|另一|还有一|又一[个处部台辆]|别的|其他的|隔壁")
# A reporter asking how their complaint stands (什么时候修好, 怎么样了, 进度).
_PROGRESS = re.compile(
    r"什么时候|啥时候|几时|多久|何时|怎么样了|进度|到底|还没[修处弄好]|有人管[吗没]"
    r"|(?:修|弄|处理)?好了[吗没嘛]"
    # ... or saying nobody has come (还没人来啊, 怎么没人管, 一直没动静).
    r"|没(?:有)?人(?:来|管|理|处理|回复|联系|答复)|没动静|没回音|没下文|没(?:有)?(?:回复|答复|反馈)"
)
# A reporter's words about a resolved problem that say it is not solved (not a thank-you).
_UNSOLVED = re.compile(
    r"没(?:有)?(?:修好|解决|处理好|弄好|搞好|好|人来)|还是[不没坏老一]|又(?:坏|不|停|漏|堵)"
    r"|不满意|不行|根本|一点(?:都|也)?没|白修|糊弄|敷衍"
)
# A rating typed in words (满意, 非常满意, 基本满意, 还行), with its polite tail (谢谢, 的, ！).
_SATISFIED = re.compile(r"(?:非常|很|挺|十分|特别|都)?满意|(?:很|挺|非常)好|点赞|👍+")
_BASIC = re.compile(r"基本满意|还行|还可以|一般|凑合|马马虎虎")
_RATING_TAIL = re.compile(r"(?:[的了啊呀吧哈嘛]|谢谢|辛苦了?|[!！。.,，~～\s])+$")
# Words about getting a complaint dealt with; a progress question without a topic needs one.
_REPAIR = re.compile(
    r"修|处理|解决|弄好|搞好|进度|来人|人来|人管|人理|动静|回音|下文|结果|回复|答复|反馈"
    r"|反映|投诉|报的|报上去"  # 我上次反映的问题怎么样了: their own complaint
)
# Words that only say how long or how often (一直, 这么久): no topic of their own.
_PERSISTENCE = re.compile(r"^(?:一直|总是|老是|这么久|好久|很久|好几天|几天了|[还又都再])$")
# A neighbour saying the problem is theirs too (我家也是, 我们单元也一样, +1).
_ME_TOO = re.compile(r"也是|也一样|我也|我家也|我们.{0,3}也|同样|\+1|也遇到|也有这")
# What residents ask the bot besides problems, by the topic a pointer answers
# (texts.ASIDE_HINTS: /points, /tasks, /mygrid, /register, /ticket; texts.PRIVATE_HINTS adds
# the answers to a greeting, thanks, and "我要投诉" said before the problem). The first wins.
_TOPICS = (
    ("points", re.compile(r"积分|兑换|换什么|分数")),
    ("tasks", re.compile(r"任务|志愿|报名|活动|接单")),
    ("grid", re.compile(r"网格员|找谁|联系谁|谁负责|负责人")),
    ("address", re.compile(r"住址|门牌|登记.{0,2}(?:地址|房号|楼号)|怎么登记")),
    ("contact", re.compile(r"电话|联系方式|手机号|怎么联系")),
    ("progress", re.compile(r"怎么样了|进度|处理了[吗没]|有结果了?[吗没]|有回音")),
    ("report", re.compile(r"我要(?:投诉|反映|举报|报修)|想(?:投诉|反映|举报|报修)")),
    ("thanks", re.compile(r"谢谢|多谢|感谢|辛苦")),
    ("greeting", re.compile(r"你好|您好|在吗|在不在|有人吗|早上好|晚上好")),
)
# A reporter's reply under their acknowledgement that only thanks or agrees: nothing to add.
_ONLY_THANKS = re.compile(
    r"^(?:谢谢|多谢|感谢|辛苦|麻烦|好的|好滴|好嘞|收到|知道了|明白|嗯+|ok|👌|👍|🙏|🌹|💐"
    r"|[你您]们?|大家|了|啦|呀|啊|哈|[!！。.,，~～\s])+$",
    re.IGNORECASE,
)
# ... that says the problem went away, or was a mistake: withdrawn, or closed by its worker.
_GONE = re.compile(
    r"(?:已经|自己|又|已)(?:修)?好了|修好了|恢复了|能用了|没事了|不用(?:修|来|管|处理|麻烦)?了"
    r"|不需要了|撤回|撤销|搞错|发错|弄错|误报"
)
# Words that place a problem at the reporter's own home (their registered building).
_AT_HOME = re.compile(r"我家|我们家|家门口|家里|屋里|我们楼|我们这栋|我们单元|本楼|楼上|楼下|对门")
# Topics that are questions for a pointer even when a thing is named (物业电话是多少,
# 电梯维保的电话, 我要投诉): no problem is said, so no kind of problem is asked.
_QUESTION_TOPICS = frozenset({"address", "contact", "report"})
# Words addressed to the bot that are no report: greetings, thanks, points, tasks, tickets.
_ASIDE = re.compile(
    r"你好|您好|在吗|在不在|谢谢|多谢|辛苦|积分|兑换|任务|志愿|报名|网格员|工单|进度|查一下|怎么用"
)
# A ticket named by its number (#12, 12号工单, 工单12).
_TICKET_NUMBER = re.compile(r"#\s*(\d{1,7})|(\d{1,7})\s*号?工单|工单\s*#?\s*(\d{1,7})")
# A typed answer to "哪栋楼？" is the place alone, perhaps with a particle (7号楼吧, 东门那边).
_ANSWER_TAIL = re.compile(r"(?:那边|这边|那里|这里|附近|的|吧|啊|呀|呢|哈|嗯|[。.!！,，~\s])+$")
_UNKNOWN_ANSWERS = frozenset({"不清楚", "不知道", "不确定", "说不清", "不晓得"})
TRIAGE = "triage"  # might be a complaint: filed on the grid worker's triage list, group silent


def _topic(text: str) -> str:
    """What words that report nothing ask about ('points', 'tasks', 'grid'), or ''."""
    return next((name for name, words in _TOPICS if words.search(text)), "")


def _same_thing(ticket: Ticket, reading: Reading) -> bool:
    """Whether a message may be about a ticket's problem: no other thing named, no new danger."""
    if reading.urgency == "urgent" and ticket.urgency != "urgent":
        return False  # "着火了！" after a rant: the danger is news, not a repeat
    said, before = _things(reading.keywords), _things(ticket.keywords)
    # "楼道灯坏了" after "电梯坏了" (one category, one building): another thing, another ticket.
    return not (said and before and not said & before)


def _things(keywords: Sequence[str]) -> set[str]:
    """What a reading says has the problem: the thing of each combo (电梯 of 电梯+坏)."""
    return {k.split("+", 1)[0] for k in keywords if "+" in k}


def _only_follow_up(keywords: Sequence[str]) -> bool:
    """Tell whether a message's words say only that nothing has happened yet (no topic)."""
    return any(_PROGRESS.search(k) for k in keywords) and all(
        _PROGRESS.search(k) or _PERSISTENCE.match(k) for k in keywords
    )


@dataclass(frozen=True, slots=True)
class Report:
    """A message that may be a complaint, as plain values."""

    chat_id: int
    message_id: int
    is_private: bool
    reporter_id: int
    reporter_name: str
    text: str
    photo: tuple[str, str] | None = None  # (file_id, file_unique_id)
    explicit: bool = False  # /report or a private message: the person means to report
    group_grids: tuple[str, ...] | None = None  # grids of the bound group; None when private
    about: int | None = None  # the ticket whose acknowledgement this message replies to
    album: str | None = None  # the album (photos sent together) the message belongs to
    video: bool = False  # `photo` is a video

    @property
    def media_kind(self) -> str:
        """How its photo is kept and shown again: 'photo' or 'video'."""
        return "video" if self.video else "photo"

    @property
    def source_key(self) -> str:
        return f"msg:{self.chat_id}:{self.message_id}"


@dataclass(frozen=True, slots=True)
class Outcome:
    """What intake decided; the handler turns it into replies."""

    kind: str
    reading: Reading | None = None
    ticket: Ticket | None = None
    route: Route | None = None
    pending_id: int | None = None
    similar: Ticket | None = None
    candidates: tuple[str, ...] = ()
    buildings: tuple[str, ...] = ()
    places: tuple[str, ...] = ()  # the community's named places, offered with the buildings
    created: bool = False
    with_photo: bool = False  # the message that opened the ticket carried a photo
    note: str = ""  # the words folded into a ticket (MERGED)
    topic: str = ""  # what an IGNORED or ASIDE message asked about instead (_topic)
    photo: tuple[str, str] | None = None  # the photo an ALBUM_PHOTO added to its ticket
    photo_kind: str = "photo"  # ... and what it is: 'photo' or 'video'
    undo: bool = False  # SAID_GONE: the reporter may still withdraw it in one press

    @property
    def call_first(self) -> str:
        """The number a resident in danger should call before anything else ('' if none)."""
        return call_first(self.reading)


def call_first(reading: Reading | None) -> str:
    """Return 119/110/120 for an urgent reading (119 when the reading names none), else ''."""
    if reading is None or reading.urgency != "urgent":
        return ""
    return reading.call_first if reading.call_first in EMERGENCY_NUMBERS else "119"


def reading_to_json(reading: Reading) -> dict[str, Any]:
    """Return a reading as JSON-ready data."""
    data = reading.to_dict()
    data["call_first"] = reading.call_first
    return data


def reading_from_json(data: dict[str, Any]) -> Reading:
    """Rebuild a stored reading."""
    location = data.get("location") or {}
    return Reading(
        category=str(data["category"]),
        confidence=float(data["confidence"]),
        keywords=tuple(data.get("keywords", ())),
        urgency=str(data.get("urgency", "normal")),
        location=Location(
            building=location.get("building"),
            unit=location.get("unit"),
            room=location.get("room"),
            place=location.get("place"),
        ),
        candidates=tuple((str(c), float(s)) for c, s in data.get("candidates", ())),
        decision=str(data.get("decision", "ticket")),
        category_clear=bool(data.get("category_clear", True)),
        gate=float(data.get("gate", 0.0)),
        evidence=tuple(data.get("evidence", ())),
        call_first=str(data.get("call_first", "")),
    )


@dataclass
class IntakeService:
    """Decide what a resident's message becomes."""

    db: Store
    clock: Clock
    classifier: Classifier
    community: Community
    state: CommunityState
    tickets: TicketService
    worker_ids: Callable[[str], Any] | None = None
    # Files a possible complaint on the grid worker's triage list (the triage service).
    triage: Callable[[Report, Reading], Awaitable[Any]] | None = None
    # Where the questions to reporters are kept (the app's one dialogue service).
    dialogues: DialogueService | None = None
    # The building a person registered as their home (/register), if any.
    home_of: Callable[[int], Awaitable[str | None]] | None = None
    questions: DialogueService = field(init=False)
    _places: PlaceFinder = field(init=False)

    def __post_init__(self) -> None:
        self.questions = self.dialogues or DialogueService(self.db, self.clock)
        # The community's own places, to read where an unclear report is (8号楼那边有点情况).
        self._places = PlaceFinder(p.lower() for g in self.community.grids for p in g.places)

    @property
    def places(self) -> tuple[str, ...]:
        """The community's named places, in the order of its grids."""
        return tuple(p for g in self.community.grids for p in g.places)

    async def open_confirmed(self, report: Report, reading: Reading) -> Outcome:
        """Open a ticket for a message a worker confirmed from the triage list (立案)."""
        return await self._place(report, reading, reading.category)

    async def receive(self, report: Report) -> Outcome:
        """Classify a message and act on it; a photo of an album goes where its first went."""
        if report.album is None:
            return await self._receive(report)
        joined = await self._album_photo(report, report.album)
        if joined is not None:
            return joined
        outcome = await self._receive(report)
        ticket = outcome.ticket if outcome.kind in _ALBUM_TICKET_KINDS else None
        start = AlbumStart(report.album, ticket.id if ticket else None, outcome.pending_id)
        await self.remember_album(report.reporter_id, report.chat_id, report.message_id, start)
        return outcome

    async def remember_album(
        self, user_id: int, chat_id: int, message_id: int, start: AlbumStart
    ) -> None:
        """Keep what the first message of an album became, for the photos after it (10 min)."""
        # Kept beside a question about the same message (which kind): under its negative id.
        await self.questions.hold(ALBUM, user_id, chat_id, -message_id, "sent", start)

    async def album_start(self, user_id: int, chat_id: int, album: str) -> AlbumStart | None:
        """What the first message of this album became, if the bot kept it."""
        found = await self.questions.newest_held(ALBUM, "sent", user_id, chat_id)
        start = None if found is None else ALBUM.data_of(found)
        return start if start is not None and start.album == album else None

    async def edited(self, report: Report) -> Ticket | None:
        """The reporter edited the message that opened their open ticket: the words as they now
        stand go into its timeline once (the ticket keeps what was first said); the ticket, for
        its worker to hear of it. None for the edit of any other message, or no new words."""
        ticket = await self.tickets.repo.by_source(report.source_key)
        if (
            ticket is None
            or ticket.reporter_id != report.reporter_id
            or ticket.status not in lc.OPEN_STATES
        ):
            return None
        text = report.text.strip()[:MAX_TEXT]
        said = ticket.text
        for event in await self.tickets.history(ticket.id):
            if event.kind == SOURCE_EDITED:
                said = str((event.detail or {}).get("note", said))
        if not text or text == said:
            return None  # the same words (an edit of the photo alone, or a repeated update)
        await self._reporter_said(ticket, report, SOURCE_EDITED, {"note": text})
        return ticket

    async def _reporter_said(
        self, ticket: Ticket, report: Report, kind: str, detail: dict[str, Any]
    ) -> None:
        """Put the reporter's words into their ticket's timeline (added words, an edit)."""
        await self.tickets.repo.add_event(
            NewEvent(
                ticket.id,
                self.clock.now(),
                report.reporter_id,
                "reporter",
                kind,
                None,
                None,
                detail,
            )
        )

    async def _album_photo(self, report: Report, album: str) -> Outcome | None:
        """A photo sent after the first message of its album (Telegram sends an album as a
        message each, the words on the first): added to the ticket that message opened, went
        to or resolved (in the sender's role), or kept with the question it waits on; else
        nothing (a task's proof keeps its first). None: the album's first."""
        start = await self.album_start(report.reporter_id, report.chat_id, album)
        if start is None or report.photo is None:
            return None
        ticket = None
        if start.ticket_id is not None:
            ticket = await self.tickets.get(start.ticket_id)
            if ticket.status in lc.TERMINAL:
                ticket = None
            else:
                await self.tickets.add_photo(
                    ticket.id, report.reporter_id, *report.photo, start.role, report.media_kind
                )
        elif start.question_id is not None:
            waiting = await self.questions.held(start.question_id)
            if waiting is not None and waiting.is_open:
                held = INTAKE.data_of(waiting)
                more = replace(
                    held,
                    photos=(*held.photos, report.photo),
                    videos=(*held.videos, report.photo[1]) if report.video else held.videos,
                )
                await self.questions.hold(
                    INTAKE, waiting.user_id, waiting.chat_id, held.message_id, waiting.step, more
                )
        # A resident's photo is shown to the ticket's worker; a worker's own stays on the card.
        shown = report.photo if ticket is not None and start.role == "reporter" else None
        return Outcome(ALBUM_PHOTO, ticket=ticket, photo=shown, photo_kind=report.media_kind)

    async def _receive(self, report: Report) -> Outcome:
        # A replayed update needs no look-up here: open_ticket is idempotent on source_key and
        # delivery sends only what was not sent yet.
        text = report.text.strip()
        if not text:
            return Outcome(IGNORED)
        reading = self.classifier.classify(text[:MAX_TEXT])
        if reading.location == Location():
            reading = replace(reading, location=self._locate(text))
        if report.about is not None:
            answered = await self._about_ticket(report, text)
            if answered is not None:
                return answered
        if _PROGRESS.search(text):
            named = _TICKET_NUMBER.search(text)
            own = await (
                self._own_ticket_named(report, named)
                if named
                else self._own_open_ticket(report, reading, text)
            )
            if own is not None:
                return Outcome(STATUS, reading=reading, ticket=own)
        if reading.decision == "ignore" or reading.category == NONE:
            if not report.explicit:
                return Outcome(IGNORED, reading=reading)
            topic = _topic(text)
            if (
                report.is_private
                and (not reading.candidates or topic in _QUESTION_TOPICS)
                and report.photo is None
            ):
                # "你好", "谢谢", "物业电话是多少" in a private chat: a pointer, or an invitation
                # to describe a problem. With a photo ("你们看看这个"), the photo is the
                # report: which kind is asked.
                return Outcome(IGNORED, reading=reading, topic=topic)
            if not reading.candidates and _ASIDE.search(text):
                # "@bot 你好", "@bot 我的积分多少" in a group: no report; answered, not asked.
                return Outcome(ASIDE, reading=reading, topic=topic)
            # /report with words that do not say what: ask which kind of problem it is.
            return await self._ask_category(report, reading)
        if reading.decision == "triage":
            if report.explicit:
                topic = _topic(text)
                said = bool(_things(reading.keywords)) or report.photo is not None
                if report.is_private and topic in _QUESTION_TOPICS and not said:
                    # "我要投诉" alone, "物业的电话多少": nothing is said of a thing yet.
                    return Outcome(IGNORED, reading=reading, topic=topic)
                # Addressed to the bot: a ticket, once the reporter says which kind if unclear.
                if reading.category_clear:
                    return await self._place(report, reading, reading.category)
                merged = await self._merge_burst(report, reading, reading.category)
                return merged or await self._ask_category(report, reading)
            if self.triage is not None:
                await self.triage(report, reading)
                return Outcome(TRIAGE, reading=reading)
            return Outcome(IGNORED, reading=reading)
        return await self._place(report, reading, reading.category)

    async def _hold(self, report: Report, step: str, reading: Reading) -> int:
        """Keep a report until its reporter answers the question (once per message)."""
        held = HeldReport(
            name=report.reporter_name,
            message_id=report.message_id,
            is_private=report.is_private,
            text=report.text,
            reading=reading_to_json(reading),
            photos=(report.photo,) if report.photo else (),
            videos=(report.photo[1],) if report.photo and report.video else (),
        )
        return await self.questions.hold(
            INTAKE, report.reporter_id, report.chat_id, report.message_id, step, held
        )

    def _locate(self, text: str) -> Location:
        """Read the location of a message the classifier found no complaint in."""
        return find_location(self.classifier.normalise(text), self._places)

    async def _about_ticket(self, report: Report, text: str) -> Outcome | None:
        """A reply to a ticket's acknowledgement: its reporter adding to it (是2单元的), or a
        neighbour saying it is theirs too; None for anything else (a question, a new matter)."""
        assert report.about is not None
        ticket = await self.tickets.get(report.about)
        if ticket.status not in lc.OPEN_STATES:
            return None
        if ticket.reporter_id == report.reporter_id:
            if _PROGRESS.search(text) or _NEW_EVENT.search(text):
                return None  # how it stands, or another matter: read as such below
            if report.photo is not None:
                await self.tickets.add_photo(
                    ticket.id, report.reporter_id, *report.photo, "reporter", report.media_kind
                )
            elif _ONLY_THANKS.match(text):
                # "谢谢，辛苦了": nothing for the worker (privately: 不客气).
                return Outcome(IGNORED, topic=_topic(text))
            recorded = await self._record_added_words(ticket, report)
            if _GONE.search(text):
                # "不用了，已经好了": withdrawn in one press while that is still allowed, else
                # its worker hears it, confirms and closes the ticket.
                undo = self.clock.now() - ticket.created_at <= UNDO_WINDOW and (
                    "withdraw" in lc.allowed_actions(ticket.status)
                )
                return Outcome(SAID_GONE, ticket=ticket, created=recorded, note=text, undo=undo)
            return Outcome(ADDED, ticket=ticket, created=recorded, note=text)
        if not ticket.is_private and _ME_TOO.search(text):
            return Outcome(SIMILAR, similar=ticket)  # offered 我也遇到, checked when pressed
        return None

    async def _own_ticket_named(self, report: Report, found: re.Match[str]) -> Ticket | None:
        """Return the reporter's own ticket a progress question names by number (#3 怎么样了)."""
        number = int(next(g for g in found.groups() if g))
        ticket = await self.tickets.by_number(self.tickets.community, number)
        return ticket if ticket is not None and self._own_here(ticket, report) else None

    def _own_here(self, ticket: Ticket, report: Report) -> bool:
        """The reporter's own ticket, whose status the access policy lets be told where they
        ask (a privately reported one: never in a group)."""
        facts = access.facts(ticket, events=(), follower_ids=())
        who = access.viewer(report.reporter_id)
        place = access.Place(
            is_private=report.is_private,
            community=None if report.is_private else self.tickets.community,
        )
        seen = access.view(who, facts, place) is not access.View.NOTHING
        return seen and access.is_reporter(who, facts)

    async def _own_open_ticket(self, report: Report, reading: Reading, text: str) -> Ticket | None:
        """Return the reporter's open ticket a progress question is about, if one fits (and
        may be told of where they ask: see _own_here)."""
        ids = await self.tickets.repo.open_ids_by_reporter(
            self.tickets.community, report.reporter_id, sorted(lc.OPEN_STATES), limit=20
        )
        tickets = [await self.tickets.get(ticket_id) for ticket_id in ids]
        tickets = [t for t in tickets if self._own_here(t, report)]
        if tickets and _only_follow_up(reading.keywords):
            # Nothing but "nobody has come" (还没人来啊): about their newest open complaint.
            return tickets[0]
        categories = {reading.category} | {c for c, _ in reading.candidates[:2]}
        categories -= {NONE}
        if categories:
            fitting = [
                t
                for t in tickets
                if t.category in categories
                and _same_place(self.community, t, reading.location, strict=False)
            ]
            return fitting[0] if fitting else None
        if not _REPAIR.search(text):
            return None  # "明天什么时候开会？" is not about a complaint
        if reading.location != Location():
            fitting = [
                t for t in tickets if _same_place(self.community, t, reading.location, strict=True)
            ]
            return fitting[0] if fitting else None
        # "什么时候能修好啊？" with one open ticket: that one.
        return tickets[0] if len(tickets) == 1 else None

    async def _ask_category(self, report: Report, reading: Reading) -> Outcome:
        candidates = tuple(code for code, _ in reading.candidates if code not in (NONE, OTHER))[:3]
        if not candidates and reading.category not in (NONE, OTHER):
            candidates = (reading.category,)
        if not candidates:
            # Nothing to go on (8号楼那边有点情况): offer every kind of problem by name.
            candidates = tuple(c for c in self.classifier.categories if c not in (NONE, OTHER))
        # One upsert is atomic on its own: no transaction round trips around it.
        pending_id = await self._hold(report, "category", reading)
        return Outcome(CONFIRM, reading=reading, pending_id=pending_id, candidates=candidates)

    async def _merge_burst(
        self, report: Report, reading: Reading, category: str
    ) -> Outcome | None:
        """Fold a repeat of the reporter's last minute's complaint (same place and event) in."""
        if category in (NONE, OTHER):
            return None
        recent = await self.tickets.recent_by_reporter(report.reporter_id, category, BURST_WINDOW)
        if any(t.source_key == report.source_key for t in recent):
            return None  # this very message opened one of them (a replay)
        # The newest of them this message repeats (电梯 again after 电梯 and then 楼道灯).
        burst = next(
            (
                t
                for t in recent
                if t.status in lc.OPEN_STATES and self._same_event(t, reading, report)
            ),
            None,
        )
        if burst is None:
            return None
        if report.photo is not None:
            await self.tickets.add_photo(
                burst.id, report.reporter_id, *report.photo, "reporter", report.media_kind
            )
        recorded = await self._record_added_words(burst, report)
        return Outcome(
            MERGED, reading=reading, ticket=burst, created=recorded, note=report.text.strip()
        )

    def _same_event(self, ticket: Ticket, reading: Reading, report: Report) -> bool:
        """Tell whether a second message repeats the ticket's event rather than a new one."""
        if not _same_place(self.community, ticket, reading.location, strict=True):
            return False
        return _same_thing(ticket, reading) and _NEW_EVENT.search(report.text) is None

    async def _record_added_words(self, ticket: Ticket, report: Report) -> bool:
        """Put a folded message into the ticket's timeline once; False when it was there."""
        text = report.text.strip()[:MAX_TEXT]
        async with self.db.transaction():
            for event in await self.tickets.history(ticket.id):
                if event.kind == ADDED_WORDS and (event.detail or {}).get("source") == (
                    report.source_key
                ):
                    return False
            await self._reporter_said(
                ticket, report, ADDED_WORDS, {"note": text, "source": report.source_key}
            )
        return True

    async def _place(self, report: Report, reading: Reading, category: str) -> Outcome:
        """Fold bursts, point at similar open tickets, route, and open the ticket."""
        merged = await self._merge_burst(report, reading, category)
        if merged is not None:
            return merged
        reading = await self._at_home(report, reading)
        location = reading.location
        alike = await self.tickets.find_similar_open(
            self.tickets.community, category, location.building, location.place, SIMILAR_WINDOW
        )
        # The newest open one about the same thing (电梯困人 is not the 楼道灯 of the same
        # building); a private complaint is never shown to anyone else, not even that it exists.
        similar = next((t for t in alike if not t.is_private and _same_thing(t, reading)), None)
        if similar is not None and similar.reporter_id != report.reporter_id:
            return Outcome(SIMILAR, reading=reading, similar=similar)
        unavailable = await self.state.unavailable_workers()
        route = route_ticket(
            self.community,
            category,
            location.building,
            location.place,
            report.group_grids if not report.is_private else None,
            unavailable,
        )
        if route.needs_building:
            pending_id = await self._hold(report, "building", replace(reading, category=category))
            buildings = tuple(b for g in self.community.grids for b in g.buildings)
            return Outcome(
                ASK_BUILDING,
                reading=reading,
                route=route,
                pending_id=pending_id,
                buildings=buildings,
                places=self.places,
            )
        return await self._open(report, reading, category, route)

    async def _at_home(self, report: Report, reading: Reading) -> Reading:
        """A report that names no place but the reporter's home (楼上, 我家门口, 对门) is at the
        building they registered, instead of asking them which one."""
        location = reading.location
        if location.building or location.place or self.home_of is None:
            return reading
        if not _AT_HOME.search(report.text):
            return reading
        home = await self.home_of(report.reporter_id)
        if home is None or self.community.grid_for_building(home) is None:
            return reading
        return replace(reading, location=replace(location, building=home))

    async def _open(
        self,
        report: Report,
        reading: Reading,
        category: str,
        route: Route,
        building: str | None = None,
    ) -> Outcome:
        assignee_id = (
            await self.state.telegram_id_of(route.worker_key) if route.worker_key else None
        )
        location = reading.location
        ticket, created = await self.tickets.open_ticket(
            NewTicket(
                community=self.tickets.community,
                source_key=report.source_key,
                text=report.text.strip()[:MAX_TEXT],
                category=category,
                confidence=reading.confidence,
                keywords=reading.keywords,
                urgency=reading.urgency,
                location=location.to_dict(),
                building=building or location.building,
                grid=route.grid,
                reporter_id=report.reporter_id,
                reporter_name=report.reporter_name,
                is_private=report.is_private,
                chat_id=report.chat_id,
                message_id=report.message_id,
                assignee_key=route.worker_key,
                assignee_id=assignee_id,
                photos=(report.photo,) if report.photo else (),
                media_kind=report.media_kind,
            )
        )
        return Outcome(
            OPENED if created else REPLAYED,
            reading=reading,
            ticket=ticket,
            route=route,
            created=created,
            with_photo=report.photo is not None,
        )

    @property
    def rules(self) -> IntakeRules:
        """What reading a reporter's answer needs."""
        return IntakeRules(
            categories=frozenset(self.classifier.categories) | {NONE},
            grid_for_building=self.community.grid_for_building,
            grid_for_place=self.community.grid_for_place,
        )

    async def answer_category(self, pending_id: int, user_id: int, choice: str) -> Outcome:
        """The reporter chose a category (or 'none': not a complaint)."""
        waiting = await self._waiting(pending_id, user_id, "category")
        held = INTAKE.data_of(waiting)
        moved = INTAKE.advance(
            waiting.step, Answer("", choice=("category", choice)), held, self.rules
        )
        if not moved.understood:
            raise DomainError("bad_choice")
        report = self._report_of(waiting)
        if choice == NONE:
            if not await self._settle(pending_id):
                raise DomainError("already_answered")
            return Outcome(NOT_COMPLAINT)
        reading = reading_from_json(moved.data.reading)
        # The building is asked (the question moves on) only when routing needs it.
        outcome = await self._place(report, reading, choice)
        await self._add_held_photos(outcome, held)
        if outcome.kind != ASK_BUILDING:
            await self._settle(pending_id)
        return outcome

    async def answer_building(self, pending_id: int, user_id: int, building: str) -> Outcome:
        """The reporter said which building; open the ticket there."""
        return await self.answer_location(pending_id, user_id, building=building)

    async def answer_location(
        self,
        pending_id: int,
        user_id: int,
        *,
        building: str | None = None,
        place: str | None = None,
    ) -> Outcome:
        """The reporter said which building or place (neither: 不清楚, for the duty worker)."""
        waiting = await self._waiting(pending_id, user_id, "building")
        if building is not None:
            choice: tuple[str, ...] = ("building", building)
        elif place is not None:
            choice = ("place", place)
        else:
            choice = ("unknown",)
        moved = INTAKE.advance(
            waiting.step, Answer("", choice=choice), INTAKE.data_of(waiting), self.rules
        )
        if not moved.understood:
            if building is not None:
                raise DomainError("unknown_building", building=building)
            raise DomainError("bad_choice")
        held = moved.data
        reading = reading_from_json(held.reading)
        location = replace(reading.location, building=held.building, place=held.place)
        reading = replace(reading, location=location)
        report = self._report_of(waiting)
        unavailable = await self.state.unavailable_workers()
        route = route_ticket(
            self.community,
            reading.category,
            held.building,
            held.place,
            None,
            unavailable,
            may_ask=False,  # 不清楚 is an answer: the duty worker finds out where
        )
        outcome = await self._open(
            report, reading, reading.category, route, building=held.building
        )
        await self._add_held_photos(outcome, held)
        await self._settle(pending_id)
        return outcome

    async def _add_held_photos(self, outcome: Outcome, held: HeldReport) -> None:
        """The photos sent with the held message after its first (an album) join its ticket,
        before its card shows them to the worker."""
        if outcome.kind == OPENED and outcome.ticket is not None:
            for photo in held.photos[1:]:
                kind = "video" if photo[1] in held.videos else "photo"
                await self.tickets.add_photo(
                    outcome.ticket.id, outcome.ticket.reporter_id, *photo, "reporter", kind
                )

    async def question(self, question_id: int) -> Question | None:
        """Return a question put to a reporter, by the id its buttons carry."""
        found = await self.questions.held(question_id)
        return _question(found)

    async def question_by_prompt(self, chat_id: int, prompt_message_id: int) -> Question | None:
        """Return the question the bot put to a reporter in this message."""
        return _question(await self.questions.held_by_prompt(chat_id, prompt_message_id))

    async def open_building_question(self, chat_id: int, user_id: int) -> Question | None:
        """Return the person's newest unanswered "哪栋楼？" in a chat."""
        found = await self.questions.newest_held(INTAKE, "building", user_id, chat_id)
        return _question(found)

    async def set_prompt(self, question_id: int, message_id: int) -> None:
        """Remember the bot's question message (to edit it when answered)."""
        await self.questions.set_prompt(question_id, message_id)

    def typed_location(self, text: str) -> tuple[str | None, str | None, bool] | None:
        """Read a typed answer to "哪栋楼？": (building, place, unknown), or None if it is not one.

        Only the place alone counts (7号楼, 东门那边, 不清楚): a whole sentence is a new message.
        """
        core = _ANSWER_TAIL.sub("", text.strip())
        if not core or len(core) > 12:
            return None
        if core in _UNKNOWN_ANSWERS:
            return None, None, True
        building = normalise_building(core)
        if building is not None:
            return building, None, False
        wanted = normalise_place(core)
        for place in self.places:
            if wanted == place:
                return None, place, False
        return None

    @staticmethod
    def typed_rating(text: str) -> str | None:
        """The rating a reporter typed instead of pressing (满意, 很满意！, 基本满意, 还行),
        only when that is all they wrote; 不满意 and anything longer are read otherwise."""
        core = _RATING_TAIL.sub("", text.strip())
        if _SATISFIED.fullmatch(core):
            return "satisfied"
        if _BASIC.fullmatch(core):
            return "basic"
        return None

    def says_unsolved(self, text: str) -> bool:
        """Tell whether a reporter's words about their resolved problem say it is not solved."""
        if _UNSOLVED.search(text):
            return True
        reading = self.classifier.classify(text.strip()[:MAX_TEXT])
        return reading.decision == "ticket" and reading.category != NONE

    async def record_unsatisfied_reason(self, ticket_id: int, user_id: int, reason: str) -> Ticket:
        """Put a rater's reason for 不满意 into the ticket's timeline."""
        async with self.db.transaction():
            ticket = await self.tickets.get(ticket_id)
            role = "reporter" if user_id == ticket.reporter_id else "follower"
            await self.tickets.repo.add_event(
                NewEvent(
                    ticket.id,
                    self.clock.now(),
                    user_id,
                    role,
                    UNSATISFIED_REASON,
                    None,
                    None,
                    {"reason": reason.strip()[:MAX_TEXT]},
                )
            )
        return ticket

    async def _waiting(self, pending_id: int, user_id: int, step: str) -> Conversation:
        waiting = await self.questions.held(pending_id)
        if waiting is None or waiting.flow != INTAKE.name:
            raise DomainError("stale_button")
        if waiting.step not in (step, DONE):
            raise DomainError("stale_button")
        if waiting.user_id != user_id:
            raise DomainError("not_your_report")
        if not waiting.is_open:
            raise DomainError("already_answered")
        if self.clock.now() > waiting.expires_at:
            await self._settle(pending_id)
            raise DomainError("question_expired")
        return waiting

    async def _settle(self, pending_id: int) -> bool:
        return await self.questions.settle(pending_id)  # one conditional UPDATE

    @staticmethod
    def _report_of(waiting: Conversation) -> Report:
        held = INTAKE.data_of(waiting)
        return Report(
            chat_id=waiting.chat_id,
            message_id=held.message_id,
            is_private=held.is_private,
            reporter_id=waiting.user_id,
            reporter_name=held.name,
            text=held.text,
            photo=held.photos[0] if held.photos else None,
            explicit=True,
            group_grids=None,
            video=bool(held.photos) and held.photos[0][1] in held.videos,
        )


@dataclass(frozen=True, slots=True)
class Question:
    """A question put to a reporter about their message (which category, which building)."""

    id: int  # what its buttons carry
    step: str  # 'category' | 'building'; DONE once answered
    reporter_id: int
    reporter_name: str
    chat_id: int
    message_id: int  # the reporter's message it is about
    prompt_message_id: int | None  # the bot's question

    @property
    def is_open(self) -> bool:
        """Return whether the question still waits for its answer."""
        return self.step != DONE


def _question(found: Conversation | None) -> Question | None:
    if found is None or found.flow != INTAKE.name:
        return None
    held = INTAKE.data_of(found)
    return Question(
        id=found.id,
        step=found.step,
        reporter_id=found.user_id,
        reporter_name=held.name,
        chat_id=found.chat_id,
        message_id=held.message_id,
        prompt_message_id=found.prompt_message_id,
    )


def _same_place(community: Community, ticket: Ticket, location: Location, *, strict: bool) -> bool:
    """Tell whether a message's location fits a ticket's (a message naming none fits any).

    Only the community's own places count (the classifier also reads 物业 as a place).
    strict: a message naming a building or place the ticket lacks is somewhere else.
    """
    if location.building is not None:
        if ticket.building is None:
            return not strict
        return normalise_building(location.building) == normalise_building(ticket.building)
    place = location.place if community.grid_for_place(location.place) else None
    if place is None:
        return True
    ticket_place = (ticket.location or {}).get("place")
    if not ticket_place or community.grid_for_place(str(ticket_place)) is None:
        return not strict
    return normalise_place(place) == normalise_place(str(ticket_place))
