"""Dialogues kept in the database: a restart mid-dialogue continues where the person was."""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Any, TypeVar

from bot.services.clock import Clock
from bot.services.errors import DomainError
from storage import kv
from storage.dialogues import Dialogue, DialogueRepository
from storage.store import Store

DIALOGUE_TTL = timedelta(minutes=30)
CLOSED = "closed"

T = TypeVar("T")


class DialogueService:
    """One open dialogue per person; each answer is taken once, even when delivered twice."""

    def __init__(self, db: Store, clock: Clock, ttl: timedelta = DIALOGUE_TTL) -> None:
        self.db = db
        self.clock = clock
        self.ttl = ttl
        self.repo = DialogueRepository(db)
        # Every message asks "is this person in a dialogue?"; almost nobody is. People with a
        # row are remembered here (a superset: expired rows are dropped by the lookup).
        self._with_rows: set[int] | None = None

    async def current(self, user_id: int) -> Dialogue | None:
        """Return the person's dialogue if it has not expired (a closed one too)."""
        if self._with_rows is None:
            self._with_rows = await self.repo.user_ids(self.clock.now())
        if user_id not in self._with_rows:
            return None
        return await self.repo.get(user_id, self.clock.now())

    async def save(
        self, user_id: int, kind: str, chat_id: int, state: dict[str, Any], message_id: int = 0
    ) -> None:
        """Open or advance a dialogue; message_id is the answer (or command) it consumed."""
        now = self.clock.now()
        async with self.db.transaction():
            await self.repo.purge(now)
            await self.repo.save(user_id, kind, chat_id, state, message_id, now, now + self.ttl)
        self._remember(user_id)

    async def close(self, user_id: int, chat_id: int, message_id: int = 0) -> None:
        """End a dialogue, remembering the last message it took so a replay is ignored."""
        now = self.clock.now()
        await self.repo.save(user_id, CLOSED, chat_id, {}, message_id, now, now + self.ttl)
        self._remember(user_id)

    def _remember(self, user_id: int) -> None:
        if self._with_rows is not None:
            self._with_rows.add(user_id)

    async def finish(
        self,
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
                await self.close(user_id, chat_id, message_id)
        except DomainError:
            await self.close(user_id, chat_id, message_id)
            raise
        return result


@dataclass(frozen=True, slots=True)
class ReasonQuestion:
    """The bot asked a resident why they rated 不满意; their next message in chat_id answers."""

    user_id: int
    ticket_id: int
    chat_id: int
    expires_at: datetime
    answered_by: int = 0  # the message that answered it (a redelivery of it is not taken again)


class ReasonQuestions:
    """Open 不满意 questions, one per person, kept in the key/value table.

    Every message of every resident asks "was this person asked why?"; almost nobody was, so
    the people with a row are remembered here (a superset: expired rows are dropped on read).
    """

    PREFIX = "rate_reason:"

    def __init__(self, db: Store, clock: Clock, ttl: timedelta = DIALOGUE_TTL) -> None:
        self.db = db
        self.clock = clock
        self.ttl = ttl
        self._asked: set[int] | None = None

    async def ask(self, user_id: int, chat_id: int, ticket_id: int) -> None:
        """Remember that a resident was asked why (replacing an older question)."""
        await kv.delete_expired(self.db, self.PREFIX, self.clock.now())
        await self._put(ReasonQuestion(user_id, ticket_id, chat_id, self.clock.now() + self.ttl))

    async def current(self, user_id: int) -> ReasonQuestion | None:
        """Return the person's question if it has not expired (an answered one too)."""
        if self._asked is None:
            keys = await kv.keys_with_prefix(self.db, self.PREFIX)
            self._asked = {int(key[len(self.PREFIX) :]) for key in keys}
        if user_id not in self._asked:
            return None
        raw = await kv.read_kv(self.db, self._key(user_id))
        if raw is None:
            return None
        data = json.loads(raw)
        question = ReasonQuestion(
            user_id=user_id,
            ticket_id=int(data["ticket_id"]),
            chat_id=int(data["chat_id"]),
            expires_at=datetime.fromisoformat(data["expires_at"]),
            answered_by=int(data.get("answered_by", 0)),
        )
        return question if question.expires_at > self.clock.now() else None

    async def answered(self, question: ReasonQuestion, message_id: int) -> None:
        """Mark the question answered by a message (kept until it expires, for replays)."""
        await self._put(replace(question, answered_by=message_id))

    async def _put(self, question: ReasonQuestion) -> None:
        value = {
            "ticket_id": question.ticket_id,
            "chat_id": question.chat_id,
            "expires_at": question.expires_at.isoformat(),
            "answered_by": question.answered_by,
        }
        await kv.write_kv(
            self.db, self._key(question.user_id), json.dumps(value), self.clock.now()
        )
        if self._asked is not None:
            self._asked.add(question.user_id)

    def _key(self, user_id: int) -> str:
        return f"{self.PREFIX}{user_id}"
