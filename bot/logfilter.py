"""Logs without people: a filter on every log handler that takes residents' words out.

GridBot's own log lines are English and carry ids, never message text; what Chinese or personal
data reaches a log line comes from a library or an exception message quoting its input. The
filter masks phone, ID and card numbers (the same rules as the group echo) and replaces every
run of Chinese characters by `‹…›`, in the message and in a formatted traceback, at every level.
Libraries that log request bodies or SQL parameters at DEBUG are kept at WARNING.
"""

from __future__ import annotations

import logging
import re

from bot.services.privacy import mask_pii

# Chinese (and full-width) text: a resident's words, a name, an address.
_CJK_RUN = re.compile(r"[\u3400-\u9fff\uf900-\ufaff\u3000-\u303f\uff00-\uffef]+")
_DIGIT_RUN = re.compile(r"\d{7,}")
PLACEHOLDER = "‹…›"
# Libraries whose DEBUG lines hold personal data: SQL parameters (aiosqlite), request and
# response bodies (httpx, httpcore, python-telegram-bot), job arguments (apscheduler).
NOISY_LIBRARIES = ("aiosqlite", "httpx", "httpcore", "apscheduler", "asyncio", "hpack")


def scrub(text: str) -> str:
    """Remove what could be a person's data from a log line (ids of 7+ digits stay)."""
    return _CJK_RUN.sub(PLACEHOLDER, mask_pii(text))


class PersonalDataFilter(logging.Filter):
    """Rewrite each record so that no resident's words or numbers reach a log handler."""

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except (TypeError, ValueError):
            message = str(record.msg)
        record.msg = scrub(message)
        record.args = None
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = scrub(record.exc_text)
        if record.stack_info:
            record.stack_info = scrub(record.stack_info)
        return True


def install(root: logging.Logger | None = None) -> None:
    """Put the filter on every handler of the root logger and quiet the chatty libraries."""
    root = root or logging.getLogger()
    for handler in root.handlers:
        if not any(isinstance(f, PersonalDataFilter) for f in handler.filters):
            handler.addFilter(PersonalDataFilter())
    for name in NOISY_LIBRARIES:
        logging.getLogger(name).setLevel(logging.WARNING)
