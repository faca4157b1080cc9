"""Dialogues: the bot asks a person something in a chat, and their next message there answers.

Every multi-step conversation is a `Flow`, a table of states:

    state ─► what the answer must be (read by `Step.read`) ─► next state, or DONE

and `DialogueService` keeps where each person stands in the database (storage.conversations),
so a restart mid-dialogue continues where the person was, and an answer delivered twice is
taken once: a finished dialogue stays at DONE, remembering the last message it consumed, until
it expires. The flows themselves live with their rules (bot/services/task_forms.py, …).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from datetime import timedelta
from typing import Any, Generic, TypeVar

from bot.services.clock import Clock
from bot.services.errors import DomainError
from storage.conversations import DONE, Conversation, ConversationRepository
from storage.store import Store

__all__ = [
    "DIALOGUE_TTL",
    "DONE",
    "Answer",
    "Conversation",
    "DialogueService",
    "Flow",
    "Moved",
    "Step",
]

DIALOGUE_TTL = timedelta(minutes=30)
# An expired question about a message is kept this long, for a late press of its button.
QUESTION_GRACE = timedelta(days=7)

D = TypeVar("D")  # what a flow gathers (a draft, the ticket asked about, …)
E = TypeVar("E")  # what reading an answer needs besides it (today's date, the levels, …)
T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class Answer:
    """A person's message (or a button they pressed) as a dialogue reads it."""

    text: str
    media: tuple[str, bool] | None = None  # (file_id, is_video) of a photo or video
    # What a pressed button, or a typed answer its service read, chose: ('category', code),
    # ('building', '5'), ('place', '东门'), ('unknown',).
    choice: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class Step(Generic[D, E]):
    """One state of a flow: the question, how an answer is read, and the state after it."""

    ask: Callable[[E], str]  # the question this state puts (again, when not understood)
    read: Callable[
        [Answer, D, E], D | None
    ]  # the answer taken into the data; None: not understood
    then: str  # the next state, or DONE


@dataclass(frozen=True, slots=True)
class Moved(Generic[D]):
    """Where one answer took a dialogue."""

    step: str  # the next state (DONE: complete); the same state when not understood
    data: D
    understood: bool
    ask: str  # the question to put now: the next one, or the same one again; '' when done


@dataclass(frozen=True, slots=True)
class Flow(Generic[D, E]):
    """A dialogue as a table of states; the first entry of `steps` is where it starts."""

    name: str
    steps: Mapping[str, Step[D, E]]
    dump: Callable[[D], dict[str, Any]]
    load: Callable[[dict[str, Any]], D]
    ttl: timedelta | None = None  # how long an answer is awaited; the service's default if None

    @property
    def first(self) -> str:
        """Return the state a new dialogue starts in."""
        return next(iter(self.steps))

    def advance(self, step: str, answer: Answer, data: D, env: E) -> Moved[D]:
        """Read one answer in a state: move on, finish, or stay and ask again."""
        current = self.steps[step]
        taken = current.read(answer, data, env)
        if taken is None:
            return Moved(step, data, understood=False, ask=current.ask(env))
        if current.then == DONE:
            return Moved(DONE, taken, understood=True, ask="")
        return Moved(current.then, taken, understood=True, ask=self.steps[current.then].ask(env))

    def data_of(self, conversation: Conversation) -> D:
        """Return what an open dialogue of this flow has gathered."""
        return self.load(conversation.data)


class DialogueService:
    """One dialogue per person and chat; each answer is taken once, even when delivered twice.

    Besides it, a person may wait on questions about their own messages (which category, which
    building: the flow 'intake'), several in one chat, each kept under that message's id and
    known by its own id, which the question's buttons carry (`hold`, `held`, `settle`).
    """

    def __init__(
        self,
        db: Store,
        clock: Clock,
        ttl: timedelta = DIALOGUE_TTL,
        *,
        community: str | None = None,
    ) -> None:
        self.db = db
        self.clock = clock
        self.ttl = ttl
        self.repo = ConversationRepository(db, community)
        # Every message asks "is this person in a dialogue?"; almost nobody is. People with a
        # row are remembered here (a superset: expired rows are dropped by the lookup).
        self._with_rows: set[int] | None = None

    def forget_cached(self) -> None:
        """Forget who has a dialogue (another instance may have opened one): read it again."""
        self._with_rows = None

    async def current(self, user_id: int, chat_id: int) -> Conversation | None:
        """Return the person's dialogue in a chat if it has not expired (a finished one too)."""
        if not await self.may_wait(user_id):
            return None
        return await self.repo.get(user_id, chat_id, self.clock.now())

    async def start(
        self, flow: Flow[D, E], user_id: int, chat_id: int, data: D, message_id: int = 0
    ) -> None:
        """Open a dialogue at the flow's first state (replacing one in the same chat)."""
        await self.move(flow, user_id, chat_id, flow.first, data, message_id)

    async def move(
        self,
        flow: Flow[D, E],
        user_id: int,
        chat_id: int,
        step: str,
        data: D,
        message_id: int = 0,
    ) -> None:
        """Put a dialogue in a state; message_id is the answer (or command) it consumed."""
        now = self.clock.now()
        async with self.db.transaction():
            await self.repo.purge(now, now - QUESTION_GRACE)
            expires_at = now + (flow.ttl or self.ttl)
            await self.repo.save(
                user_id, chat_id, flow.name, step, flow.dump(data), message_id, now, expires_at
            )
        self._remember(user_id)

    async def close(self, flow: str, user_id: int, chat_id: int, message_id: int = 0) -> None:
        """End a dialogue, remembering the last message it took so a replay is ignored."""
        now = self.clock.now()
        await self.repo.save(user_id, chat_id, flow, DONE, {}, message_id, now, now + self.ttl)
        self._remember(user_id)

    async def close_open(self, flow: str, user_id: int) -> None:
        """End the person's open dialogues of one flow, in whichever chat they wait."""
        for found in await self.repo.open_in_flow(user_id, flow, self.clock.now()):
            await self.close(flow, user_id, found.chat_id)

    async def finish(
        self,
        flow: str,
        user_id: int,
        chat_id: int,
        message_id: int,
        work: Callable[[], Awaitable[T]],
    ) -> T:
        """Run the dialogue's last step and close it in one transaction.

        A refusal (DomainError) rolls the work back but still ends the dialogue: the person is
        told why and starts again rather than being stuck on a step they cannot change.
        """
        try:
            async with self.db.transaction():
                result = await work()
                await self.close(flow, user_id, chat_id, message_id)
        except DomainError:
            await self.close(flow, user_id, chat_id, message_id)
            raise
        return result

    async def may_wait(self, user_id: int) -> bool:
        """Tell whether a person may have an unexpired conversation (False: surely none)."""
        if self._with_rows is None:
            self._with_rows = await self.repo.user_ids(self.clock.now())
        return user_id in self._with_rows

    async def hold(
        self, flow: Flow[D, E], user_id: int, chat_id: int, about: int, step: str, data: D
    ) -> int:
        """Ask a person about one of their messages (once per message); return the question's id.

        Asked again about the same message, the question moves to `step` and keeps its id and
        expiry; an answered one stays answered.
        """
        now = self.clock.now()
        held = await self.repo.hold(
            user_id,
            chat_id,
            about,
            flow.name,
            step,
            flow.dump(data),
            now,
            now + (flow.ttl or self.ttl),
        )
        self._remember(user_id)
        return held

    async def held(self, question_id: int) -> Conversation | None:
        """Return a question about a message by its id, expired or answered alike."""
        return await self.repo.by_id(question_id)

    async def held_by_prompt(self, chat_id: int, prompt_message_id: int) -> Conversation | None:
        """Return the question the bot put in this message, expired or answered alike."""
        return await self.repo.by_prompt(chat_id, prompt_message_id)

    async def newest_held(
        self, flow: Flow[D, E], step: str, user_id: int, chat_id: int
    ) -> Conversation | None:
        """Return the person's newest unexpired question of a flow waiting in a step here."""
        if not await self.may_wait(user_id):
            return None
        return await self.repo.newest_open(user_id, chat_id, flow.name, step, self.clock.now())

    async def set_prompt(self, question_id: int, message_id: int) -> None:
        """Remember the message that put the question (edited once it is answered)."""
        await self.repo.set_prompt(question_id, message_id)

    async def settle(self, question_id: int) -> bool:
        """Mark a question answered (or expired); False when it was settled already."""
        return await self.repo.settle(question_id, self.clock.now())

    def _remember(self, user_id: int) -> None:
        if self._with_rows is not None:
            self._with_rows.add(user_id)
