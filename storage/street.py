"""What the street office's registry asks of the database: whose row is it.

Every community-owned row carries its community's name (migration 0019). Rows written before
that have community '' until a one-community deployment adopts them (`adopt_legacy_rows`).
"""

from __future__ import annotations

from datetime import datetime

from storage.conversations import DONE
from storage.kv import read_kv, write_kv
from storage.store import Store

# The tables whose rows belong to one community and were written without it before 0019.
# Catalogue before redemptions: the redemptions follow their item (ON UPDATE CASCADE).
LEGACY_TABLES = (
    "group_bindings",
    "invites",
    "worker_links",
    "residents",
    "tasks",
    "point_balances",
    "catalogue_stock",
    "redemptions",
    "points_ledger",
)


def choice_key(user_id: int) -> str:
    """The kv key of the community a person chose to act in privately (/community)."""
    return f"community_choice:{user_id}"


async def legacy_rows(db: Store) -> int:
    """Return how many rows still wait for their community."""
    total = 0
    for table in LEGACY_TABLES:
        total += int(await db.fetchval(f"SELECT COUNT(*) FROM {table} WHERE community = ''"))
    return total


async def adopt_legacy_rows(db: Store, community: str, now: datetime) -> None:
    """Give every legacy row to the community (inside the caller's transaction).

    The points ledger allows exactly this change (its trigger, migration 0019).
    """
    for table in LEGACY_TABLES:
        await db.execute(f"UPDATE {table} SET community = ? WHERE community = ''", (community,))
    # The audit log is append-only: its old entries stay as they are and are read as this
    # community's (storage/privacy.py AuditRepository.recent).
    await write_kv(db, "legacy_community", community, now)


async def community_of_chat(db: Store, chat_id: int) -> str | None:
    """Return the community a group chat is actively bound to, or None."""
    value = await db.fetchval(
        "SELECT community FROM group_bindings WHERE chat_id = ? AND active = 1", (chat_id,)
    )
    return None if value is None else str(value)


async def communities_of_resident(db: Store, user_id: int) -> list[str]:
    """Return the communities a person is known in as a resident or a reporter."""
    rows = await db.fetchall(
        "SELECT community FROM residents WHERE user_id = ?"
        " UNION SELECT community FROM point_balances WHERE user_id = ?"
        " UNION SELECT community FROM tickets WHERE reporter_id = ?",
        (user_id, user_id, user_id),
    )
    return sorted({str(r["community"]) for r in rows if r["community"]})


async def read_choice(db: Store, user_id: int) -> str | None:
    """Return the community a person chose to act in (private chat), if any."""
    return await read_kv(db, choice_key(user_id))


async def write_choice(db: Store, user_id: int, community: str, now: datetime) -> None:
    await write_kv(db, choice_key(user_id), community, now)


async def community_of_message(db: Store, chat_id: int, message_id: int) -> str | None:
    """Return the community that sent a delivered message, or None."""
    value = await db.fetchval(
        "SELECT community FROM outbox WHERE chat_id = ? AND message_id = ?"
        " ORDER BY id LIMIT 1",  # the message itself, not a later edit of it
        (chat_id, message_id),
    )
    return None if value is None else str(value)


# What the first number on a button names, by the button's verb: a message the outbox has
# forgotten (kept a week) still leads back to its community through the thing it acts on.
_TICKET = "SELECT community FROM tickets WHERE id = ?"
BUTTON_OWNERS: dict[str, str] = {
    **dict.fromkeys(("acc", "card", "xfer", "xc", "xw", "xk", "ret", "rt", "res", "rs"), _TICKET),
    **dict.fromkeys(("rej", "dup", "rj", "ack", "rate", "follow", "undo", "pub", "nts"), _TICKET),
    **dict.fromkeys(
        ("rja", "rjn"),
        "SELECT t.community FROM reject_requests r JOIN tickets t ON t.id = r.ticket_id"
        " WHERE r.id = ?",
    ),
    **dict.fromkeys(("claim", "tok", "tno"), "SELECT community FROM tasks WHERE id = ?"),
    **dict.fromkeys(
        ("rdok", "rdgive", "rdno", "rdcancel"), "SELECT community FROM redemptions WHERE id = ?"
    ),
    **dict.fromkeys(
        ("cat", "bld", "plc", "bldu"),
        "SELECT community FROM conversations WHERE id = ? AND community IS NOT NULL",
    ),
}


async def community_of_button(db: Store, verb: str, number: int) -> str | None:
    """Return the community of the ticket, task, request or question a button names."""
    sql = BUTTON_OWNERS.get(verb)
    if sql is None:
        return None
    value = await db.fetchval(sql, (number,))
    return None if value is None else str(value)


async def community_of_triage_item(db: Store, item_id: int) -> str | None:
    """Return the community of a possible problem on a worker's triage list."""
    value = await db.fetchval("SELECT community FROM triage_items WHERE id = ?", (item_id,))
    return None if value is None else str(value)


async def community_of_dialogue(
    db: Store, user_id: int, chat_id: int, now: datetime
) -> str | None:
    """Return the community of a person's newest open dialogue in a chat, or None."""
    value = await db.fetchval(
        "SELECT community FROM conversations WHERE user_id = ? AND chat_id = ?"
        " AND step <> ? AND expires_at > ? AND community IS NOT NULL"
        " ORDER BY updated_at DESC, id DESC LIMIT 1",
        (user_id, chat_id, DONE, now.isoformat()),
    )
    return None if value is None else str(value)


async def community_of_invite(db: Store, code: str) -> str | None:
    """Return the community an invitation code belongs to, or None."""
    value = await db.fetchval("SELECT community FROM invites WHERE code = ?", (code,))
    return None if value is None else str(value)


async def ticket_counts(db: Store) -> dict[str, int]:
    """Return how many tickets each community has (for the street office's overview)."""
    rows = await db.fetchall("SELECT community, COUNT(*) AS n FROM tickets GROUP BY community")
    return {str(r["community"]): int(r["n"]) for r in rows}
