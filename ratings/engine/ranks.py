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
