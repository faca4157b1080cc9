"""Classifier corrections and the keyword weights learned from them."""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime

from storage.store import Row, Store


@dataclass(frozen=True, slots=True)
class Correction:
    id: int
    community: str
    text: str
    wrong: str
    correct: str
    actor_id: int | None
    ticket_id: int | None
    words: tuple[str, ...]
    created_at: datetime


@dataclass(frozen=True, slots=True)
class LearnedWeight:
    community: str
    word: str
    category: str
    delta: float
    corrections: int
    updated_at: datetime | None = None


def _correction_from_row(row: Row) -> Correction:
    return Correction(
        id=row["id"],
        community=row["community"],
        text=row["text"],
        wrong=row["wrong"],
        correct=row["correct"],
        actor_id=row["actor_id"],
        ticket_id=row["ticket_id"],
        words=tuple(json.loads(row["words"])),
        created_at=datetime.fromisoformat(row["created_at"]),
    )


def _weight_from_row(row: Row) -> LearnedWeight:
    return LearnedWeight(
        community=row["community"],
        word=row["word"],
        category=row["category"],
        delta=float(row["delta"]),
        corrections=int(row["corrections"]),
        updated_at=datetime.fromisoformat(row["updated_at"]),
    )


async def add_correction(
    db: Store,
    *,
    community: str,
    text: str,
    wrong: str,
    correct: str,
    actor_id: int | None,
    ticket_id: int | None,
    words: Iterable[str],
    at: datetime,
) -> int:
    """Record one correction; return its id."""
    return int(
        await db.fetchval(
            "INSERT INTO classifier_corrections"
            " (community, text, wrong, correct, actor_id, ticket_id, words, created_at)"
            " VALUES (?, ?, ?, ?, ?, ?, ?, ?) RETURNING id",
            (
                community,
                text,
                wrong,
                correct,
                actor_id,
                ticket_id,
                json.dumps(list(words), ensure_ascii=False),
                at.astimezone(UTC).isoformat(),
            ),
        )
    )


async def add_weight(
    db: Store, *, community: str, word: str, category: str, delta: float, at: datetime
) -> None:
    """Add a delta to one learned (word, category) weight and count the correction."""
    await db.execute(
        "INSERT INTO classifier_weights"
        " (community, word, category, delta, corrections, updated_at)"
        " VALUES (?, ?, ?, ?, 1, ?)"
        " ON CONFLICT (community, word, category) DO UPDATE SET"
        " delta = classifier_weights.delta + excluded.delta,"
        " corrections = classifier_weights.corrections + 1,"
        " updated_at = excluded.updated_at",
        (community, word, category, delta, at.astimezone(UTC).isoformat()),
    )


async def weights(db: Store, community: str) -> list[LearnedWeight]:
    """Return a community's learned weights."""
    rows = await db.fetchall(
        "SELECT community, word, category, delta, corrections, updated_at"
        " FROM classifier_weights"
        " WHERE community = ? ORDER BY word, category",
        (community,),
    )
    return [_weight_from_row(r) for r in rows]


async def corrections(db: Store, community: str, limit: int = 100) -> list[Correction]:
    """Return a community's latest corrections, newest first."""
    rows = await db.fetchall(
        "SELECT id, community, text, wrong, correct, actor_id, ticket_id, words, created_at"
        " FROM classifier_corrections WHERE community = ? ORDER BY id DESC LIMIT ?",
        (community, limit),
    )
    return [_correction_from_row(r) for r in rows]


async def count_corrections(db: Store, community: str) -> int:
    """Return how many corrections a community has made."""
    value = await db.fetchval(
        "SELECT COUNT(*) FROM classifier_corrections WHERE community = ?", (community,)
    )
    return int(value or 0)
