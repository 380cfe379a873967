"""Decision mode: "find the best model within ε points" per category or for the whole arena.

An eval lead sets an objective on the decision page; the arena-wide one travels to the pairing
policy with the rating estimates (``services.pairing_estimates``), which then spends the active
share of votes where that decision is still open. Each objective's status comes from its board's
snapshot (``ratings.engine.top1``): "decided" with the leader, or the models that can still be
best and roughly how many more votes it needs.
"""

from __future__ import annotations

from statistics import NormalDist

import numpy as np
from django.conf import settings
from django.db import transaction

from ratings import boards
from ratings.engine.top1 import top1_status, votes_to_decide
from ratings.filters import BoardFilter, known_categories
from ratings.models import DecisionObjective, RatingSnapshot

MIN_EPSILON, MAX_EPSILON = 1.0, 400.0


class ObjectiveError(ValueError):
    """An objective that cannot be set; the message says why."""


def set_objective(*, category: str, epsilon: float, by=None) -> DecisionObjective:
    """Set (or change) the objective of ``category`` ("" = the whole arena)."""
    category = category.strip()
    if category and category not in known_categories():
        raise ObjectiveError(f"No prompt has the category “{category}”.")
    if not MIN_EPSILON <= epsilon <= MAX_EPSILON:
        raise ObjectiveError(f"ε must be between {MIN_EPSILON:g} and {MAX_EPSILON:g} rating points.")
    with transaction.atomic():
        objective, _ = DecisionObjective.objects.update_or_create(
            category=category,
            defaults={"epsilon": float(epsilon), "confidence": settings.ARENA_DECISION_CONFIDENCE, "set_by": by},
        )
    return objective


def clear_objective(*, category: str) -> bool:
    deleted, _ = DecisionObjective.objects.filter(category=category.strip()).delete()
    return bool(deleted)


def arena_objective() -> DecisionObjective | None:
    """The whole arena's objective, the one the pairing policy follows."""
    return DecisionObjective.objects.filter(category="").first()


def _covariance(snapshot: RatingSnapshot, labels: list[str]) -> np.ndarray:
    """The board's covariance among ``labels``; from the intervals alone (independent) when the
    snapshot keeps none (stored before snapshots kept it)."""
    payload = snapshot.data
    if payload.covariance is not None and payload.covariance_models is not None:
        index = {label: k for k, label in enumerate(payload.covariance_models)}
        if all(label in index for label in labels):
            picked = [index[label] for label in labels]
            return np.asarray(payload.covariance, dtype=float)[np.ix_(picked, picked)]
    z = NormalDist().inv_cdf(0.975)
    rows = {row["model"]: row for row in payload.rows}
    return np.diag([((rows[label]["upper"] - rows[label]["lower"]) / (2 * z)) ** 2 for label in labels])


def status_of(objective: DecisionObjective, snapshot: RatingSnapshot | None) -> dict:
    out = {"objective": objective, "category": objective.category, "votes": 0, "decided": False, "leader": None}
    if snapshot is None or not snapshot.data.rows:
        return out | {"open": [], "more_votes": None}
    rows = snapshot.data.rows
    labels = [row["model"] for row in rows]
    ratings = np.array([row["rating"] for row in rows], dtype=float)
    cov = _covariance(snapshot, labels)
    status = top1_status(ratings, cov, epsilon=objective.epsilon, confidence=objective.confidence)
    more = votes_to_decide(
        ratings, cov, snapshot.vote_count, epsilon=objective.epsilon, confidence=objective.confidence
    )
    return out | {
        "votes": snapshot.vote_count,
        "decided": status.decided,
        "leader": labels[status.leader],
        "open": [labels[j] for j in status.open],
        "more_votes": more,
    }


def objective_statuses() -> list[dict]:
    """Every objective with its status, on the default vote set (its category's board)."""
    out = []
    for objective in DecisionObjective.objects.all():
        snapshot = boards.board_snapshot(BoardFilter(category=objective.category))
        out.append(status_of(objective, snapshot))
    return out
