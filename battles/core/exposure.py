"""Blind-safe pairing: no LLM appears too often in a voter's recent battles. Pure Python, no Django.

A boost for a new LLM, or an active policy that keeps asking about one model, would otherwise
put the same LLM on one side of battle after battle, and a voter would soon learn which side is
the newcomer. So with four or more LLMs to choose from, no LLM may appear in more than
``ratio`` (1.5) times its uniform share (2 / number of LLMs) of any ``window`` (20) consecutive
battles of a voter, pool or live. The pair choice enforces it as a constraint: a pair is allowed
only if neither LLM would exceed the cap in the window that the new battle closes (the new
battle and the ``window`` − 1 before it). The boost and the active rule then work within it.

When no pair can meet the cap (a category, or the prompts a voter has left, offer too few
LLMs), the least exposed pairs are allowed: the limit is raised one appearance at a time.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Hashable, Iterable, Sequence

import numpy as np

from battles.core.pairing import PairingState, choose_pair

WINDOW = 20
RATIO = 1.5
MIN_LLMS = 4


def exposure_cap(llms: int, *, window: int = WINDOW, ratio: float = RATIO) -> int | None:
    """Most battles out of ``window`` one LLM may appear in; None (no cap) below ``MIN_LLMS`` LLMs.

    At least 1: past 3 × window / 2 LLMs the share rounds to nothing.
    """
    if llms < MIN_LLMS:
        return None
    return max(1, math.floor(ratio * 2.0 / llms * window + 1e-9))


def appearances(recent: Iterable[tuple[Hashable, Hashable]], *, window: int = WINDOW) -> Counter:
    """How many of the newest ``window`` − 1 battles (``recent``: LLM pairs, newest first) each LLM is in."""
    counts: Counter = Counter()
    for n, (first, second) in enumerate(recent):
        if n >= window - 1:
            break
        counts.update({first, second})
    return counts


def over_limit(families: Sequence[Hashable], counts: Counter, limit: int) -> list[tuple[int, int]]:
    """Candidate pairs (i < j) with an LLM already in ``limit`` or more of the recent battles."""
    full = [counts[family] >= limit for family in families]
    m = len(families)
    return [(i, j) for i in range(m) for j in range(i + 1, m) if full[i] or full[j]]


def choose_within_cap(
    state: PairingState,
    rng: np.random.Generator,
    *,
    recent: Sequence[tuple[Hashable, Hashable]],
    exclude: Iterable[tuple[int, int]] = (),
    window: int = WINDOW,
    ratio: float = RATIO,
    **options,
) -> tuple[int, int] | None:
    """``choose_pair`` under the exposure cap of ``recent`` (the voter's battles as LLM pairs, newest first).

    The number of LLMs is the number of distinct ``state.families`` (the LLMs that can be served).
    """
    exclude = list(exclude)
    cap = exposure_cap(len(set(state.families)), window=window, ratio=ratio)
    if cap is None:
        return choose_pair(state, rng, exclude=exclude, **options)
    counts = appearances(recent, window=window)
    for limit in range(cap, window + 1):
        pair = choose_pair(state, rng, exclude=exclude + over_limit(state.families, counts, limit), **options)
        if pair is not None:
            return pair
    return None
