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

D = TypeVar("D")  # what a flow gathers (a draft, the ticket asked about, …)
E = TypeVar("E")  # what reading an answer needs besides it (today's date, the levels, …)
T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class Answer:
    """A person's message as a dialogue reads it."""

    text: str
    media: tuple[str, bool] | None = None  # (file_id, is_video) of a photo or video


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
    """One dialogue per person and chat; each answer is taken once, even when delivered twice."""

    def __init__(self, db: Store, clock: Clock, ttl: timedelta = DIALOGUE_TTL) -> None:
        self.db = db
        self.clock = clock
        self.ttl = ttl
        self.repo = ConversationRepository(db)
        # Every message asks "is this person in a dialogue?"; almost nobody is. People with a
        # row are remembered here (a superset: expired rows are dropped by the lookup).
        self._with_rows: set[int] | None = None

    def forget_cached(self) -> None:
        """Forget who has a dialogue (another instance may have opened one): read it again."""
        self._with_rows = None

    async def current(self, user_id: int, chat_id: int) -> Conversation | None:
        """Return the person's dialogue in a chat if it has not expired (a finished one too)."""
        if self._with_rows is None:
            self._with_rows = await self.repo.user_ids(self.clock.now())
        if user_id not in self._with_rows:
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
            await self.repo.purge(now)
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

    def _remember(self, user_id: int) -> None:
        if self._with_rows is not None:
            self._with_rows.add(user_id)
