"""The plain value types handlers hold: what services take and return, as frozen dataclasses.

Handlers never import storage (the import contracts in pyproject.toml); the rows that storage
maps to dataclasses reach them through this module, so a handler's imports name the services
and these values only.
"""

from __future__ import annotations

from storage.outbox import Button, OutboxItem, OutgoingMessage
from storage.points import LedgerEntry, Redemption
from storage.tasks import Task, TaskClaim
from storage.tickets import Ticket, TicketEvent, TicketPhoto

__all__ = [
    "Button",
    "LedgerEntry",
    "OutboxItem",
    "OutgoingMessage",
    "Redemption",
    "Task",
    "TaskClaim",
    "Ticket",
    "TicketEvent",
    "TicketPhoto",
]
