"""Learning with limits: workers' corrections and triage answers adjust a community's weights.

Each adjustment is stored first; the live classifier changes only after the write commits. A
learned weight is capped (`bot.nlp.classifier.LEARNED_CAP`) and decays: it counts half after
HALF_LIFE without a new lesson, so one bad day cannot bend a community's classifier for good.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass
from datetime import datetime, timedelta

from bot import texts
from bot.nlp.classifier import LEARNED_CAP, NONE, OTHER, Classifier
from bot.services.clock import Clock
from storage import corrections as repo
from storage.store import Store

STEP = 1.0  # weight added to the right category per word and round
PENALTY = 0.5  # weight taken from the wrong category's deciding words
ROUNDS = 4  # a correction tries this many times to make the message come out right
GATE_STEP = 0.75  # a triage answer moves each of the message's words this much on the gate
GATE_WORDS = 3  # the message's most telling words a triage answer teaches
HALF_LIFE = timedelta(days=90)


@dataclass(frozen=True, slots=True)
class Lesson:
    """What one correction taught the classifier."""

    community: str
    wrong: str
    correct: str
    words: tuple[str, ...]
    now_correct: bool  # the same message now reads as the right category
    corrections: int  # corrections this community has made in total

    @property
    def explanation(self) -> str:
        """Say in Chinese what the classifier has learned ("已根据 3 次纠正学习")."""
        return texts.CLASSIFIER_LEARNED.format(count=self.corrections)


def decayed(delta: float, updated_at: datetime | None, now: datetime) -> float:
    """Return a learned delta as it counts now: halved every HALF_LIFE, capped."""
    if updated_at is not None and now > updated_at:
        delta *= 0.5 ** ((now - updated_at) / HALF_LIFE)
    return max(-LEARNED_CAP, min(LEARNED_CAP, delta))


class Learner:
    """Persist corrections and keep a community's classifier's learned weights up to date."""

    def __init__(self, db: Store, clock: Clock) -> None:
        self._db = db
        self._clock = clock

    async def load(self, community: str, classifier: Classifier) -> int:
        """Apply a community's learned weights to its classifier; return its correction count."""
        rows = await repo.weights(self._db, community)
        now = self._clock.now()
        classifier.apply_learned(
            {(r.word, r.category): decayed(r.delta, r.updated_at, now) for r in rows},
            {(r.word, r.category): r.corrections for r in rows},
        )
        return await repo.count_corrections(self._db, community)

    async def learn(
        self,
        community: str,
        classifier: Classifier,
        text: str,
        wrong: str,
        correct: str,
        actor_id: int | None,
        ticket_id: int | None = None,
    ) -> Lesson:
        """Record that `text` is `correct`, not `wrong`; adjust weights until it reads so."""
        if correct != NONE and correct not in classifier.categories:
            raise ValueError(f"unknown category {correct!r}")
        words = classifier.salient_words(text)
        wrong_words = tuple(
            w
            for w in classifier.classify(text).keywords
            if "+" not in w and wrong not in (NONE, OTHER, correct)
        )
        deltas: dict[tuple[str, str], float] = {}
        # Trials run on a copy: the live classifier changes only after the write commits.
        trial_clf = copy.copy(classifier)
        learned = classifier.learned_weights()
        counts = classifier.learned_counts()
        now_correct = classifier.classify(text).category == correct
        for _ in range(ROUNDS):
            if now_correct:
                break
            if correct != NONE:
                for word in words if correct != OTHER else ():
                    deltas[(word, correct)] = deltas.get((word, correct), 0.0) + STEP
            else:  # not a complaint at all: its words count against the gate
                for word in words[:GATE_WORDS]:
                    deltas[(word, NONE)] = deltas.get((word, NONE), 0.0) - GATE_STEP
            for word in wrong_words:
                deltas[(word, wrong)] = deltas.get((word, wrong), 0.0) - PENALTY
            trial, trial_counts = _merged(learned, counts, deltas)
            trial_clf.apply_learned(trial, trial_counts)
            now_correct = trial_clf.classify(text).category == correct
        total = await self._store(community, text, wrong, correct, actor_id, ticket_id, deltas)
        classifier.apply_learned(*_merged(learned, counts, deltas))
        return Lesson(
            community=community,
            wrong=wrong,
            correct=correct,
            words=tuple(sorted({w for w, _ in deltas})),
            now_correct=now_correct,
            corrections=total,
        )

    async def teach_gate(
        self,
        community: str,
        classifier: Classifier,
        text: str,
        *,
        complaint: bool,
        actor_id: int | None,
    ) -> tuple[str, ...]:
        """A triage answer: 立案 (a complaint) or 不是问题 (none). Return the words it moved."""
        words = classifier.salient_words(text, limit=GATE_WORDS)
        step = GATE_STEP if complaint else -GATE_STEP
        deltas = {(w, NONE): step for w in words}
        learned = classifier.learned_weights()
        counts = classifier.learned_counts()
        verdict = "complaint" if complaint else NONE
        await self._store(community, text, "triage", verdict, actor_id, None, deltas)
        classifier.apply_learned(*_merged(learned, counts, deltas))
        return words

    async def _store(
        self,
        community: str,
        text: str,
        wrong: str,
        correct: str,
        actor_id: int | None,
        ticket_id: int | None,
        deltas: dict[tuple[str, str], float],
    ) -> int:
        now = self._clock.now()
        async with self._db.transaction():
            await repo.add_correction(
                self._db,
                community=community,
                text=text,
                wrong=wrong,
                correct=correct,
                actor_id=actor_id,
                ticket_id=ticket_id,
                words=sorted({w for w, _ in deltas}),
                at=now,
            )
            for (word, code), delta in deltas.items():
                await repo.add_weight(
                    self._db, community=community, word=word, category=code, delta=delta, at=now
                )
            return await repo.count_corrections(self._db, community)


def _merged(
    learned: dict[tuple[str, str], float],
    counts: dict[tuple[str, str], int],
    deltas: dict[tuple[str, str], float],
) -> tuple[dict[tuple[str, str], float], dict[tuple[str, str], int]]:
    weights = dict(learned)
    merged_counts = dict(counts)
    for key, delta in deltas.items():
        weights[key] = max(-LEARNED_CAP, min(LEARNED_CAP, weights.get(key, 0.0) + delta))
        merged_counts[key] = merged_counts.get(key, 0) + 1
    return weights, merged_counts
