"""Ranks from ratings and intervals, as LMArena shows them."""

from __future__ import annotations

import numpy as np


def interval_ranks(lower, upper) -> np.ndarray:
    """Rank = 1 + the number of models whose lower bound is above this model's upper bound.

    Models whose intervals overlap share a rank, and a rank can repeat or skip; with
    zero-width intervals (no CI) this is the usual competition rank (1, 2, 2, 4).
    """
    lower = np.asarray(lower, dtype=float)
    upper = np.asarray(upper, dtype=float)
    sorted_lower = np.sort(lower)
    # Count of lower bounds strictly greater than each upper bound.
    above = len(lower) - np.searchsorted(sorted_lower, upper, side="right")
    return (1 + above).astype(np.int64)


def plain_order(ratings, names=None) -> np.ndarray:
    """Positions 1..n by rating, highest first; equal ratings are ordered by name when given."""
    ratings = np.asarray(ratings, dtype=float)
    if names is None:
        order = np.argsort(-ratings, kind="stable")
    else:
        order = np.lexsort((np.asarray(names, dtype=object).astype(str), -ratings))
    positions = np.empty(len(ratings), dtype=np.int64)
    positions[order] = np.arange(1, len(ratings) + 1)
    return positions


def kendall_tau(x, y) -> float:
    """Kendall's tau-b of two scorings of the same items: ties in either count as neither
    concordant nor discordant, as in ``scipy.stats.kendalltau`` (the same arithmetic, so the
    same number); nan when either scoring is constant.

    Compares every pair (n² / 2 of them): meant for a board of models, not for votes. Kept
    here rather than imported from ``scipy.stats``, which costs the CLI 0.3 s to import.
    """
    x = np.asarray(x, dtype=float)
    y = np.asarray(y, dtype=float)
    if x.shape != y.shape or x.ndim != 1:
        raise ValueError("x and y must be two sequences of the same length")
    n = len(x)
    i, j = np.triu_indices(n, 1)
    dx = np.sign(x[i] - x[j])
    dy = np.sign(y[i] - y[j])
    total = n * (n - 1) // 2
    x_ties = int(np.count_nonzero(dx == 0))
    y_ties = int(np.count_nonzero(dy == 0))
    if x_ties == total or y_ties == total:
        return float("nan")
    concordant_minus_discordant = int(np.sum(dx * dy))
    tau = concordant_minus_discordant / np.sqrt(total - x_ties) / np.sqrt(total - y_ties)
    return float(min(1.0, max(-1.0, tau)))
