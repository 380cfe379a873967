"""Decision mode's question: is the best model known within ε points, at a given confidence?

The same rule as the pairing policy's (``battles.core.pairing.top1_decision``; the engine does not
import the apps, and a test keeps the two equal): the leader is the model with the highest rating;
it is the best within ε when, for every other model j, the upper confidence bound of r_j − r_leader
(normal, Bonferroni over the m − 1 comparisons, from the joint covariance) is below ε. Otherwise
the models whose bound reaches ε can still be best, and the decision is open.

``votes_to_decide`` estimates how many more votes that takes: the standard deviations of the open
differences shrink like 1/√n with n votes, so the votes are scaled by the square of how far the
widest open bound has to come down. A rough figure (it assumes the ratings stay where they are),
meant as "about this many", not a promise.

Pure NumPy; no Django.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from statistics import NormalDist

import numpy as np


@dataclass(frozen=True)
class Top1Status:
    leader: int
    decided: bool
    open: list[int] = field(default_factory=list)  # models that can still be best by ε or more
    bounds: list[float] = field(default_factory=list)  # upper bound of r_j − r_leader per model


def top1_status(ratings, covariance, *, epsilon: float, confidence: float = 0.95) -> Top1Status:
    ratings = np.asarray(ratings, dtype=float)
    cov = np.asarray(covariance, dtype=float)
    m = len(ratings)
    if m == 0:
        return Top1Status(-1, False)
    leader = int(np.argmax(ratings))
    if m == 1:
        return Top1Status(leader, True, [], [-math.inf])
    z = NormalDist().inv_cdf(1.0 - (1.0 - confidence) / (m - 1))
    var = np.diag(cov)
    sd = np.sqrt(np.maximum(var + var[leader] - 2.0 * cov[:, leader], 0.0))
    bounds = ratings - ratings[leader] + z * sd
    bounds[leader] = -math.inf
    still = [j for j in range(m) if bounds[j] >= epsilon]
    return Top1Status(leader, not still, still, [float(b) for b in bounds])


def votes_to_decide(ratings, covariance, votes: int, *, epsilon: float, confidence: float = 0.95) -> int | None:
    """About how many more votes decide "best within ε" (0 when decided; None when the gap
    between the leader and an open model is already ε or more the wrong way, or without votes)."""
    status = top1_status(ratings, covariance, epsilon=epsilon, confidence=confidence)
    if status.decided:
        return 0
    if votes <= 0:
        return None
    ratings = np.asarray(ratings, dtype=float)
    cov = np.asarray(covariance, dtype=float)
    m = len(ratings)
    z = NormalDist().inv_cdf(1.0 - (1.0 - confidence) / (m - 1))
    leader = status.leader
    factor = 1.0
    for j in status.open:
        gap = ratings[leader] - ratings[j]  # >= 0: the leader is ahead
        sd = math.sqrt(max(cov[j, j] + cov[leader, leader] - 2.0 * cov[j, leader], 0.0))
        room = gap + epsilon  # the bound z·sd − gap must come below ε
        if room <= 0 or sd <= 0:
            return None
        factor = max(factor, (z * sd / room) ** 2)
    return max(1, math.ceil(votes * (factor - 1.0)))
