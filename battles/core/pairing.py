"""The pairing policy: which two LLMs a voter sees next. Pure NumPy, no Django.

The active rule is the one of the Chatbot Arena paper: send the next vote
where it shrinks the leaderboard's uncertainty most. One vote on (i, j) adds
p(1 − p)·ddᵀ to the Fisher information of the Bradley–Terry strengths
(d = e_i − e_j), so by Sherman–Morrison the covariance C becomes
C − C d dᵀ C · w / (1 + w dᵀ C d). The score of a pair is the resulting drop
in the summed variance of the models whose 95% interval is still wider than
the target (all models once every one is narrow enough).

Decision mode (``top1_epsilon`` set): the question is not "every interval narrow" but "which model is
best, within ε points, with 95% confidence". The rule is LUCB's: the leader L (highest rating) and,
among the models that can still be better than L by ε or more (upper confidence bound of
r_j − r_L at least ε, Bonferroni over the m − 1 comparisons), the one with the highest bound; the
active share of votes goes to that pair. Once no model can, the decision is made
(``top1_decision``) and the active share falls back to the interval rule.

On top of either rule:
* a floor: a share of battles is paired uniformly, so every active LLM keeps
  getting votes even when the policy thinks it is settled;
* a boost for new LLMs until they have ``boost_votes`` votes;
* never two versions of the same LLM unless ``allow_same_family``.
Randomness comes in as a NumPy Generator; the caller draws the left/right
position separately, from a cryptographic RNG.
"""

from __future__ import annotations

import math
from collections.abc import Hashable, Sequence
from dataclasses import dataclass, replace
from statistics import NormalDist

import numpy as np

RATING_PER_LOGIT = 400.0 / math.log(10.0)
Z95 = 1.959963984540054
# Prior variance of a model nobody has voted on yet (rating points², sd ≈ 350).
UNSEEN_VARIANCE = 350.0**2


@dataclass(frozen=True)
class PairingState:
    """What the policy looks at, for ``m`` candidate LLM versions.

    ``ratings`` (rating points) and ``covariance`` (rating points², m × m)
    come from the latest Bradley–Terry fit; a model without votes has a
    rating of 1000 and ``UNSEEN_VARIANCE``. ``votes`` counts each model's
    votes; ``families`` names the LLM each version belongs to.
    """

    ratings: np.ndarray
    covariance: np.ndarray
    votes: np.ndarray
    families: Sequence[Hashable]
    target_halfwidth: float = 25.0
    # Decision mode: find the best model within this many rating points (None: the interval rule).
    top1_epsilon: float | None = None
    top1_confidence: float = 0.95

    @classmethod
    def unseen(cls, m: int, families=None, target_halfwidth: float = 25.0) -> PairingState:
        return cls(
            ratings=np.full(m, 1000.0),
            covariance=np.eye(m) * UNSEEN_VARIANCE,
            votes=np.zeros(m, dtype=int),
            families=list(families if families is not None else range(m)),
            target_halfwidth=target_halfwidth,
        )


def variance_reduction_scores(state: PairingState, *, focus: float = 1.0) -> np.ndarray:
    """m × m matrix: expected drop in the targeted variance from one vote on each pair.

    Each model above the target counts with weight (variance / target)^focus,
    so a larger ``focus`` aims harder at the widest intervals (the ones that
    decide when every model is narrow enough).
    """
    cov = np.asarray(state.covariance, dtype=float) / RATING_PER_LOGIT**2
    ratings = np.asarray(state.ratings, dtype=float)
    p = 1.0 / (1.0 + np.exp(-(ratings[:, None] - ratings[None, :]) / RATING_PER_LOGIT))
    info = p * (1.0 - p)
    var = np.diag(cov)
    target_var = (state.target_halfwidth / Z95 / RATING_PER_LOGIT) ** 2
    ratio = var / target_var
    weight = np.where(ratio > 1.0, ratio**focus, 0.0)
    if not weight.any():
        weight = ratio**focus
    q = cov.T @ (weight[:, None] * cov)  # C W C: the weighted variance's sensitivity
    dq = np.diag(q)
    d_var = var[:, None] + var[None, :] - 2.0 * cov  # Var(β_i − β_j)
    scores = info * (dq[:, None] + dq[None, :] - 2.0 * q) / (1.0 + info * d_var)
    np.fill_diagonal(scores, 0.0)
    return np.maximum(scores, 0.0)


@dataclass(frozen=True)
class Top1Decision:
    """Whether the best model is known within ε: ``leader`` (index), per model the upper
    confidence bound of r_j − r_leader (``bounds``; −inf for the leader), the models that can
    still beat the leader by ε (``open``), and ``decided`` when there are none."""

    leader: int
    bounds: np.ndarray
    open: list[int]
    decided: bool


def top1_decision(ratings, covariance, *, epsilon: float, confidence: float = 0.95) -> Top1Decision:
    """The LUCB decision of "best within ε" at ``confidence`` (Bonferroni over the comparisons)."""
    ratings = np.asarray(ratings, dtype=float)
    cov = np.asarray(covariance, dtype=float)
    m = len(ratings)
    leader = int(np.argmax(ratings))
    if m < 2:
        return Top1Decision(leader, np.full(m, -np.inf), [], True)
    z = NormalDist().inv_cdf(1.0 - (1.0 - confidence) / (m - 1))
    var = np.diag(cov)
    sd = np.sqrt(np.maximum(var + var[leader] - 2.0 * cov[:, leader], 0.0))
    bounds = ratings - ratings[leader] + z * sd
    bounds[leader] = -np.inf
    still = [j for j in range(m) if bounds[j] >= epsilon]
    return Top1Decision(leader, bounds, still, not still)


def top1_scores(state: PairingState) -> np.ndarray:
    """m × m: all the active share on (leader, strongest challenger) while the decision is open;
    the interval rule's scores once it is made."""
    assert state.top1_epsilon is not None
    decision = top1_decision(
        state.ratings, state.covariance, epsilon=state.top1_epsilon, confidence=state.top1_confidence
    )
    if decision.decided:
        return variance_reduction_scores(state)
    m = len(state.ratings)
    challenger = max(decision.open, key=lambda j: decision.bounds[j])
    scores = np.zeros((m, m))
    scores[decision.leader, challenger] = scores[challenger, decision.leader] = 1.0
    return scores


def allowed_pairs(state: PairingState, *, allow_same_family: bool = False) -> np.ndarray:
    m = len(state.families)
    allowed = ~np.eye(m, dtype=bool)
    if not allow_same_family:
        families = list(state.families)
        for i in range(m):
            for j in range(i + 1, m):
                if families[i] == families[j]:
                    allowed[i, j] = allowed[j, i] = False
    return allowed


# The app's defaults (settings PAIRING_FLOOR and NEW_LLM_BOOST_VOTES override the first two);
# the simulator uses the same values so that it measures what voters get.
DEFAULTS = {"floor": 0.1, "boost_votes": 200, "boost_factor": 4.0, "sharpness": 4.0}


def pair_probabilities(
    state: PairingState,
    *,
    floor: float = 0.1,
    boost_votes: int = 200,
    boost_factor: float = 4.0,
    sharpness: float | None = 4.0,
    focus: float = 1.0,
    allow_same_family: bool = False,
    exclude=(),
) -> np.ndarray:
    """Upper-triangular m × m matrix of pair probabilities summing to 1 (all zero if none allowed).

    ``sharpness`` > 1 concentrates the active share on the best pairs
    (probability ∝ score^sharpness; None puts the whole active share on the
    best pair); ``floor`` of the mass is uniform.
    ``exclude`` lists (i, j) pairs to leave out (e.g. no prompt left for them).
    """
    m = len(state.families)
    allowed = np.triu(allowed_pairs(state, allow_same_family=allow_same_family), 1)
    for i, j in exclude:
        allowed[min(i, j), max(i, j)] = False
    if not allowed.any():
        return np.zeros((m, m))
    rule = top1_scores(state) if state.top1_epsilon is not None else variance_reduction_scores(state, focus=focus)
    scores = np.where(allowed, np.triu(rule, 1), 0.0)
    if sharpness is None:
        best = np.unravel_index(int(np.argmax(scores)), scores.shape)
        scores = np.zeros_like(scores)
        scores[best] = 1.0
    else:
        scores = scores**sharpness
    uniform = allowed / allowed.sum()
    active = scores / scores.sum() if scores.sum() > 0 else uniform
    probs = (1.0 - floor) * active + floor * uniform
    votes = np.asarray(state.votes)
    new = votes < boost_votes
    boost = np.where(new[:, None] | new[None, :], boost_factor, 1.0)
    probs = np.where(allowed, probs * boost, 0.0)
    return probs / probs.sum()


def choose_pair(state: PairingState, rng: np.random.Generator, **options) -> tuple[int, int] | None:
    """Draw one pair (i < j) by ``pair_probabilities``; None when no pair is allowed."""
    probs = pair_probabilities(state, **options)
    total = probs.sum()
    if total <= 0:
        return None
    flat = probs.ravel() / total
    k = int(rng.choice(flat.size, p=flat))
    m = probs.shape[0]
    return k // m, k % m


def plan_batch(state: PairingState, rng: np.random.Generator, size: int, **options) -> np.ndarray:
    """``size`` pairs drawn one after another, updating the covariance after each as if the
    vote had been cast (Sherman–Morrison), so a batch does not pile onto one pair."""
    cov = np.array(state.covariance, dtype=float)
    votes = np.array(state.votes, dtype=int)
    ratings = np.asarray(state.ratings, dtype=float)
    picks = np.empty((size, 2), dtype=np.int64)
    for n in range(size):
        current = replace(state, covariance=cov, votes=votes.copy())
        pair = choose_pair(current, rng, **options)
        if pair is None:
            raise ValueError("no pair is allowed")
        i, j = pair
        p = 1.0 / (1.0 + math.exp(-(ratings[i] - ratings[j]) / RATING_PER_LOGIT))
        w = p * (1.0 - p) / RATING_PER_LOGIT**2
        d_cov = cov[:, i] - cov[:, j]
        d_var = cov[i, i] + cov[j, j] - 2.0 * cov[i, j]
        cov = cov - np.outer(d_cov, d_cov) * (w / (1.0 + w * d_var))
        votes[i] += 1
        votes[j] += 1
        picks[n] = (i, j)
    return picks
