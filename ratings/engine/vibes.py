"""The vibes gap's statistics: posterior draws of the arena's ratings, ranks in each draw, and the flag.

Why a posterior and not the rank intervals: with 4–15 models the 95% rating intervals of a small
arena overlap so much that "the benchmark rank lies N places outside the rank interval" can never
fire (five models: a rank interval of 1–5 leaves no room outside it), while the votes may still be
quite sure that a model is not where the benchmark puts it. Drawing the ratings from their joint
posterior (the board's covariance: Normal around the fitted ratings) gives, for every model, the
probability of every arena rank, and so the probability that the benchmark places it about right.

The rule: with n compared models, displacement threshold D = max(``min_places``, ``min_share``·n)
places. A model's ``p_agree`` is the posterior probability that its arena rank lies within fewer
than D places of its benchmark rank (|arena rank − benchmark rank| < D). It is flagged when
``p_agree`` < 1 − ``confidence`` (default: below 5%), i.e. the votes say with 95% confidence that
the benchmark misplaces it by D places or more. Why this one:

- it is a calibrated test: when the truth lies within D − 1 places of the benchmark rank, the
  truth is inside the window, and a calibrated 95% posterior puts less than 5% on a window holding
  the truth at most about 5% of the time, whatever the number of models;
- D grows with the arena (20% of the models), so in a large arena one or two places of noise
  between benchmark and preference are never news, and never drops below 2 places, so that a
  benchmark that is right up to neighbours swapping flags nothing;
- it works from four models: a reversed benchmark over six models moves both ends by five places,
  and a few hundred votes per model make that certain.

Pure NumPy; no Django.
"""

from __future__ import annotations

import math
from statistics import NormalDist

import numpy as np

DEFAULT_DRAWS = 2000


def posterior_draws(
    rating,
    *,
    lower=None,
    upper=None,
    covariance=None,
    draws: int = DEFAULT_DRAWS,
    seed: int | np.random.Generator = 0,
    confidence: float = 0.95,
) -> np.ndarray:
    """(draws x n) ratings from Normal(rating, covariance).

    Without a covariance, the models are drawn independently with the standard deviation their
    ``confidence`` interval implies ((upper − lower) / 2z): a slight understatement of the
    uncertainty of differences (ratings centred on their mean are negatively correlated).
    """
    rating = np.asarray(rating, dtype=float)
    n = len(rating)
    rng = seed if isinstance(seed, np.random.Generator) else np.random.default_rng(seed)
    draws = max(0, int(draws))
    if covariance is not None:
        cov = np.asarray(covariance, dtype=float)
        if cov.shape != (n, n):
            raise ValueError("covariance must be n x n for n ratings")
        # Centred ratings make the covariance singular; eigh with clipped eigenvalues handles it.
        values, vectors = np.linalg.eigh((cov + cov.T) / 2.0)
        root = vectors * np.sqrt(np.clip(values, 0.0, None))
        return rating + rng.standard_normal((draws, n)) @ root.T
    if lower is None or upper is None:
        raise ValueError("give either a covariance or the intervals")
    z = NormalDist().inv_cdf(0.5 + confidence / 2.0)
    sd = np.clip((np.asarray(upper, dtype=float) - np.asarray(lower, dtype=float)) / (2.0 * z), 0.0, None)
    return rating + rng.standard_normal((draws, n)) * sd


def ranks_of_draws(draws: np.ndarray) -> np.ndarray:
    """Rank 1 = best of each model in each draw (draws are continuous: no ties)."""
    order = np.argsort(-draws, axis=1, kind="stable")
    ranks = np.empty_like(order)
    rows = np.arange(draws.shape[0])[:, None]
    ranks[rows, order] = np.arange(1, draws.shape[1] + 1)
    return ranks


def displacement_threshold(n_models: int, *, min_places: float = 2.0, min_share: float = 0.2) -> float:
    """D = max(min_places, min_share · n): places by which a model must be misplaced to be flagged."""
    return max(float(min_places), float(min_share) * n_models)


def agreement(benchmark_rank, rank_draws: np.ndarray, threshold: float) -> np.ndarray:
    """Per model, the share of draws whose arena rank is within fewer than ``threshold`` places of
    its benchmark rank; NaN when there are no draws."""
    benchmark_rank = np.asarray(benchmark_rank, dtype=float)
    if rank_draws.shape[0] == 0:
        return np.full(len(benchmark_rank), math.nan)
    return (np.abs(rank_draws - benchmark_rank) < threshold).mean(axis=0)
