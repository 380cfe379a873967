"""Outlier voters: the sequential test of the Chatbot Arena paper. Pure NumPy/SciPy.

Each vote gets a p-value against the pair's historical outcomes *without
this voter*: the probability, under that distribution, of an outcome less
likely than the one observed, plus a uniform share of the observed one's
probability (the randomised p-value, exactly uniform under the null, so
Fisher's statistic keeps its χ² law despite only three possible outcomes). A voter's first j p-values are
combined with Fisher's method, M_j = −2 Σ log p_i ~ χ²(2j) under the null
that the voter votes like everyone else; the voter is flagged when M_j
passes the 1 − α/J quantile for some j ≤ J (a Bonferroni correction over
the J looks of the sequential test).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Hashable, Iterable
from dataclasses import dataclass
from typing import Any, Generic, Protocol, TypeVar

import numpy as np
from scipy.stats import chi2

# Canonical outcomes of a pair (x, y) with x < y.
X_WINS, DRAW, Y_WINS = 0, 1, 2


class Orderable(Protocol):
    """A model as the test sees it: hashable and ordered (a version id, a name)."""

    def __hash__(self) -> int: ...

    def __le__(self, other: Any, /) -> bool: ...


ModelT = TypeVar("ModelT", bound=Orderable)
VoterT = TypeVar("VoterT", bound=Hashable)


def canonical(a: ModelT, b: ModelT, outcome: str) -> tuple[tuple[ModelT, ModelT], int]:
    """((x, y), canonical outcome) with x < y; tie and both_bad are one draw outcome."""
    if outcome in ("tie", "both_bad"):
        result = DRAW
    elif outcome == "a":
        result = X_WINS
    elif outcome == "b":
        result = Y_WINS
    else:
        raise ValueError(f"unknown outcome {outcome!r}")
    if a <= b:
        return (a, b), result
    return (b, a), {X_WINS: Y_WINS, Y_WINS: X_WINS, DRAW: DRAW}[result]


def outcome_p_value(counts: np.ndarray, observed: int, *, u: float = 1.0, smoothing: float = 1.0) -> float:
    """P(less likely outcome) + u · P(observed) under smoothed historical ``counts``.

    With ``u`` drawn uniformly from [0, 1] the p-value is Uniform(0, 1) for a
    voter who votes like everyone else; ``u = 1`` gives the conservative one.
    """
    probs = (counts + smoothing) / (counts.sum() + smoothing * len(counts))
    mine = probs[observed]
    return float(probs[probs < mine - 1e-12].sum() + u * mine)


@dataclass(frozen=True)
class VoterTest(Generic[VoterT]):
    voter: VoterT
    votes: int
    statistic: float
    looks: int
    p_value: float  # Bonferroni-adjusted, over the sequential looks
    flagged: bool


def sequential_outlier_test(
    votes: Iterable[tuple[VoterT, ModelT, ModelT, str]],
    *,
    alpha: float = 0.01,
    max_looks: int = 100,
    min_votes: int = 10,
    min_history: int = 10,
    seed: int = 0,
) -> list[VoterTest[VoterT]]:
    """Test every voter. ``votes``: (voter, model_a, model_b, outcome) in vote order.

    ``seed`` fixes the randomisation of the p-values, so a run is reproducible.
    Votes on pairs with fewer than ``min_history`` votes by others are
    skipped (no reference to compare with). Voters with fewer than
    ``min_votes`` usable votes are reported but never flagged.
    """
    votes = list(votes)
    totals: dict[tuple, np.ndarray] = defaultdict(lambda: np.zeros(3))
    per_voter: dict[VoterT, list[tuple[tuple, int]]] = defaultdict(list)
    own: dict[VoterT, dict[tuple, np.ndarray]] = defaultdict(lambda: defaultdict(lambda: np.zeros(3)))
    for voter, a, b, outcome in votes:
        pair, result = canonical(a, b, outcome)
        totals[pair][result] += 1
        own[voter][pair][result] += 1
        per_voter[voter].append((pair, result))
    rng = np.random.default_rng(seed)
    results = []
    for voter, sequence in per_voter.items():
        p_values = []
        for pair, result in sequence:
            others = totals[pair] - own[voter][pair]
            if others.sum() < min_history:
                continue
            p_values.append(max(outcome_p_value(others, result, u=rng.random()), 1e-300))
        looks = min(len(p_values), max_looks)
        if looks == 0:
            results.append(VoterTest(voter, len(sequence), 0.0, 0, 1.0, False))
            continue
        statistics = -2.0 * np.cumsum(np.log(p_values[:looks]))
        dof = 2 * np.arange(1, looks + 1)
        tail = chi2.sf(statistics, dof)
        best = int(np.argmin(tail))
        adjusted = float(min(1.0, tail[best] * looks))
        flagged = looks >= min_votes and adjusted < alpha
        results.append(VoterTest(voter, len(sequence), float(statistics[best]), looks, adjusted, flagged))
    return results
