"""The audit log of staff actions: one call, inside the action's own transaction.

Recorded: bind, unbind, award, deduct, transfer, reject, approve, settings — and the erasures
(forget, anonymise). The log is append-only (database triggers refuse UPDATE and DELETE); the
person an entry is about is kept in a separate table so /forget can erase them from it.
Admins read it with /audit in a private chat and `gridbot audit` on the command line.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from storage.privacy import AuditEntry, AuditRepository
from storage.store import Store

__all__ = ["AuditEntry", "record"]


async def record(
    db: Store,
    at: datetime,
    actor_id: int | None,
    actor_name: str,
    action: str,
    *,
    subject_id: int | None = None,
    target: str = "",
    detail: dict[str, Any] | None = None,
    community: str = "",
) -> None:
    """Append one staff action of a community (inside the transaction that makes the change)."""
    await AuditRepository(db, community).add(
        at, actor_id, actor_name, action, subject_id=subject_id, target=target, detail=detail
    )
