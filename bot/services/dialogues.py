"""Dialogues kept in the database: a restart mid-dialogue continues where the person was."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import timedelta
from typing import Any, TypeVar

from bot.services.clock import Clock
from bot.services.errors import DomainError
from storage.db import Database
from storage.dialogues import Dialogue, DialogueRepository

DIALOGUE_TTL = timedelta(minutes=30)
CLOSED = "closed"

T = TypeVar("T")


class DialogueService:
    """One open dialogue per person; each answer is taken once, even when delivered twice."""

    def __init__(self, db: Database, clock: Clock, ttl: timedelta = DIALOGUE_TTL) -> None:
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
