"""The Bot API client the application is built with: python-telegram-bot's ExtBot, one refusal
taken as what it is."""

from __future__ import annotations

import logging
from typing import Any

from telegram.error import BadRequest
from telegram.ext import ExtBot

log = logging.getLogger(__name__)

# Telegram's words when a press can no longer be answered: answered already, or too long ago.
_TOO_LATE = ("query is too old", "query id is invalid")


def answered_too_late(error: BadRequest) -> bool:
    """Whether Telegram refused a press's answer because it came too late (or twice)."""
    message = error.message.lower()
    return any(words in message for words in _TOO_LATE)


class GridExtBot(ExtBot[None]):
    """ExtBot whose late answer to a button press never undoes the press.

    Telegram takes a press's answer (the passing notice over the chat) once, and only for a
    short while. The press's work is its update's transaction. An update run again after the
    process died or its transaction was rolled back (its first run had answered already), or
    one that waited on a busy database, would fail on that notice and its press would be lost:
    the refusal is logged (no words of it) and the work goes on to commit.
    """

    async def answer_callback_query(self, *args: Any, **kwargs: Any) -> bool:
        try:
            return await super().answer_callback_query(*args, **kwargs)
        except BadRequest as exc:
            if not answered_too_late(exc):
                raise
            log.info("a press was answered too late for Telegram; its work goes on")
            return False
