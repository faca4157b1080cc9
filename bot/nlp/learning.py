"""Learn from workers' category corrections: per-community keyword weights kept in the database."""

from __future__ import annotations

from dataclasses import dataclass

from bot import texts
from bot.nlp.classifier import NONE, OTHER, Classifier
from bot.services.clock import Clock
from storage import corrections as repo
from storage.store import Store

STEP = 1.0  # weight added to the right category per word and round
PENALTY = 0.5  # weight taken from the wrong category's deciding words
ROUNDS = 4  # a correction tries this many times to make the message come out right


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


class Learner:
    """Persist corrections and keep a community's classifier's learned weights up to date."""

    def __init__(self, db: Store, clock: Clock) -> None:
        self._db = db
        self._clock = clock

    async def load(self, community: str, classifier: Classifier) -> int:
        """Apply a community's learned weights to its classifier; return its correction count."""
        rows = await repo.weights(self._db, community)
        classifier.apply_learned(
            {(r.word, r.category): r.delta for r in rows},
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
        learned = dict(classifier.learned_weights())
        counts = dict(classifier.learned_counts())
        now_correct = classifier.classify(text).category == correct
        for _ in range(ROUNDS):
            if now_correct:
                break
            if correct not in (NONE, OTHER):
                for word in words:
                    deltas[(word, correct)] = deltas.get((word, correct), 0.0) + STEP
            for word in wrong_words:
                deltas[(word, wrong)] = deltas.get((word, wrong), 0.0) - PENALTY
            trial = dict(learned)
            trial_counts = dict(counts)
            for key, delta in deltas.items():
                trial[key] = trial.get(key, 0.0) + delta
                trial_counts[key] = trial_counts.get(key, 0) + 1
            classifier.apply_learned(trial, trial_counts)
            now_correct = classifier.classify(text).category == correct
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
            total = await repo.count_corrections(self._db, community)
        return Lesson(
            community=community,
            wrong=wrong,
            correct=correct,
            words=tuple(sorted({w for w, _ in deltas})),
            now_correct=now_correct,
            corrections=total,
        )
