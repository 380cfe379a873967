"""The seam between battles and the apps that listen to it (ratings, the realtime pushes).

Every signal here is sent after the transaction that made the change has
committed, so a receiver always sees the stored rows. Battles never imports
its listeners; they connect in their ``AppConfig.ready()``.
"""

from __future__ import annotations

from dataclasses import dataclass

from django.dispatch import Signal

# kwargs: vote. The ratings app updates online ratings and schedules a refit.
vote_recorded = Signal()

# kwargs: count. Imported votes change the Bradley–Terry boards.
votes_imported = Signal()

# kwargs: count. An admin excluded or restored votes, which changes what the boards count.
vote_flags_changed = Signal()

# kwargs: generation_ids. The ratings app measures the answers' style then, so that no board has to on first view.
answers_stored = Signal()

# --- the generation pipeline (it never imports voting, job pages or websocket code) ---

# A generation reached done or failed (its row is committed). kwargs: generation_id, pool_id (None for a
# live battle's answer), version_id, sample, status. Live battles and job pages listen.
generation_finished = Signal()

# A generation job's state changed (cancelled, finished) after commit. kwargs: job_id.
job_changed = Signal()

# An LLM's circuit breaker was reset (after commit). kwargs: llm_id.
breaker_reset = Signal()

# --- voting ---

# A live battle has something new to show (both answers of a turn, a failure), after commit. kwargs: battle_code.
live_battle_changed = Signal()

# Sent by the pairing policy when it chooses a pair; no kwargs. A receiver answers with the
# latest RatingEstimates (the ratings app does); with no answer every LLM counts as unseen.
estimates_wanted = Signal()


@dataclass(frozen=True)
class RatingEstimates:
    """Latest Bradley–Terry estimates per LLM version id (rating points)."""

    ratings: dict[int, float]
    covariance: dict[tuple[int, int], float]
    votes: dict[int, int]
    # Decision mode: an eval lead asked for the best model within this many points (None: the
    # pairing policy's interval rule).
    top1_epsilon: float | None = None
    top1_confidence: float = 0.95


def current_estimates() -> RatingEstimates | None:
    """The first estimates a receiver of ``estimates_wanted`` gives, or None."""
    for _receiver, answer in estimates_wanted.send(sender=RatingEstimates):
        if isinstance(answer, RatingEstimates):
            return answer
    return None
