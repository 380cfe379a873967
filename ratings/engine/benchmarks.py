"""Benchmark ranks against arena ranks: the vibes gap, rank correlations and composites.

Definitions (all ranks count from 1 = best, among the models that have both a benchmark
score and an arena rating; a model missing on either side is listed, not ranked):

- benchmark rank and arena rank are *mid-ranks*: tied values share the average of the
  positions they span (two models tied for 2nd and 3rd both get 2.5). That is the ranking
  Spearman's coefficient is defined on, so the gap and the correlation use the same numbers.
  Arena ratings are ranked by their point estimate (exact ties are rare).
- arena rank interval [best, worst], from the 95% rating intervals:
  best = 1 + the number of models whose lower bound is above this model's upper bound (the
  models certainly ahead of it; this is the leaderboard's interval rank), and worst = the number
  of models whose upper bound is not below this model's lower bound (itself included: every
  model not certainly behind it). With zero-width intervals both equal the competition rank
  of the rating, and best <= arena rank <= worst whenever lower <= rating <= upper.
- vibes gap = benchmark rank − arena rank. Positive: people rank the model higher than the
  benchmark does; negative: the benchmark flatters it.
- the flag (``ratings.engine.vibes``): ``p_agree`` is the posterior probability that the
  model's arena rank lies within fewer than D = max(min_places, min_share·n) places of its
  benchmark rank, from draws of the ratings' joint posterior; a model is flagged for hands-on
  evaluation when p_agree < 1 − confidence (the votes say with 95% confidence that the
  benchmark misplaces it by D places or more) and it has at least ``min_votes``.
- Spearman's ρ (Pearson on mid-ranks) and Kendall's τ-b (tie-corrected) between benchmark
  goodness and arena rating: the estimate from the fitted ratings, the interval from the same
  posterior draws (the arena's uncertainty; the benchmark scores are taken as given). Fewer
  than ``MIN_MODELS_FOR_CORRELATION`` compared models: too few to correlate (None).
- composite: per benchmark, scores are z-scored over the compared models (sign flipped when
  lower is better), and a model's composite is the weighted mean of the z-scores it has;
  models whose benchmarks carry less than ``min_coverage`` of the total weight are left out.

Pure NumPy; no Django.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass, field

import numpy as np

from .ranks import interval_ranks
from .vibes import DEFAULT_DRAWS, agreement, displacement_threshold, posterior_draws, ranks_of_draws

# Below five models a rank correlation takes so few values (five models: ρ moves in steps of 0.1,
# and one swap moves it by 0.1–0.9) that its interval says nothing; the pages say "too few".
MIN_MODELS_FOR_CORRELATION = 5
# (rounds x models x models) sign matrices are built this many elements at a time.
_CHUNK_ELEMENTS = 2_000_000


@dataclass(frozen=True)
class ArenaEntry:
    """One model's arena rating with its interval, as a board row gives it."""

    model: str
    rating: float
    lower: float
    upper: float
    votes: int = 0


@dataclass(frozen=True)
class ArenaCovariance:
    """The joint posterior covariance of the board's ratings (rating points², ``models`` order)."""

    models: Sequence[str]
    matrix: np.ndarray

    def among(self, names: Sequence[str]) -> np.ndarray:
        index = {model: k for k, model in enumerate(self.models)}
        picked = [index[name] for name in names]
        return np.asarray(self.matrix, dtype=float)[np.ix_(picked, picked)]


@dataclass(frozen=True)
class Correlation:
    """A rank correlation with its interval from posterior draws; None when undefined (too few
    models, or a constant sequence)."""

    estimate: float | None
    lower: float | None
    upper: float | None
    draws: int  # posterior draws in which the coefficient was defined


@dataclass(frozen=True)
class ComparisonRow:
    model: str
    score: float
    benchmark_rank: float
    arena_rank: float
    arena_rank_best: int
    arena_rank_worst: int
    gap: float
    p_agree: float | None  # P(|arena rank − benchmark rank| < D) under the posterior; None: no draws
    flagged: bool
    rating: float
    lower: float
    upper: float
    votes: int


@dataclass
class BenchmarkComparison:
    benchmark: str
    higher_is_better: bool
    rows: list[ComparisonRow]  # by benchmark rank, then arena rank, then name
    spearman: Correlation
    kendall: Correlation
    missing_on_arena: list[str] = field(default_factory=list)
    missing_on_benchmark: list[str] = field(default_factory=list)
    settings: dict = field(default_factory=dict)

    @property
    def flagged(self) -> list[ComparisonRow]:
        return [row for row in self.rows if row.flagged]

    @property
    def too_few_to_correlate(self) -> bool:
        return len(self.rows) < MIN_MODELS_FOR_CORRELATION

    def to_dict(self) -> dict:
        return {
            "benchmark": self.benchmark,
            "higher_is_better": self.higher_is_better,
            "n_models": len(self.rows),
            "too_few_to_correlate": self.too_few_to_correlate,
            "spearman": asdict(self.spearman),
            "kendall": asdict(self.kendall),
            "rows": [asdict(row) for row in self.rows],
            "missing_on_arena": list(self.missing_on_arena),
            "missing_on_benchmark": list(self.missing_on_benchmark),
            "settings": dict(self.settings),
        }


@dataclass(frozen=True)
class BenchmarkScores:
    """One benchmark's scores by model, for a composite."""

    name: str
    scores: Mapping[str, float]
    higher_is_better: bool = True
    weight: float = 1.0


@dataclass
class Composite:
    scores: dict[str, float]  # model -> weighted mean z-score (higher is better)
    coverage: dict[str, float]  # model -> share of the total weight its scores cover
    weights: dict[str, float]  # benchmark -> weight, for the benchmarks used
    left_out: list[str] = field(default_factory=list)  # models below min_coverage


# --------------------------------------------------------------------------------------------
# ranks


def mid_ranks(values, *, descending: bool = True) -> np.ndarray:
    """Ranks 1..n with ties sharing the average of their positions (1 = largest when descending)."""
    values = np.asarray(values, dtype=float)
    if values.ndim != 1:
        raise ValueError("mid_ranks takes a one-dimensional array")
    if np.any(np.isnan(values)):
        raise ValueError("values must not be NaN")
    # ascending mid-rank = (n + 1)/2 + (#smaller − #larger)/2; O(n log n) through sorting.
    ordered = np.sort(values)
    smaller = np.searchsorted(ordered, values, side="left")
    larger = len(values) - np.searchsorted(ordered, values, side="right")
    ascending = (len(values) + 1) / 2.0 + (smaller - larger) / 2.0
    return (len(values) + 1) - ascending if descending else ascending


def arena_rank_bounds(lower, upper) -> tuple[np.ndarray, np.ndarray]:
    """(best, worst) rank consistent with the intervals; see the module docstring."""
    lower = np.asarray(lower, dtype=float)
    upper = np.asarray(upper, dtype=float)
    if lower.shape != upper.shape:
        raise ValueError("lower and upper must have the same length")
    best = interval_ranks(lower, upper)
    sorted_upper = np.sort(upper)
    # Models whose upper bound is >= this model's lower bound.
    worst = len(upper) - np.searchsorted(sorted_upper, lower, side="left")
    return best.astype(np.int64), worst.astype(np.int64)


# --------------------------------------------------------------------------------------------
# correlations


def _signs(values: np.ndarray) -> np.ndarray:
    """sign(v_i − v_j) for every row of a (rounds x n) array: (rounds x n x n), int8."""
    left = values[:, :, None]
    right = values[:, None, :]
    return (left > right).astype(np.int8) - (left < right).astype(np.int8)


def _spearman_kendall(x: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Spearman's ρ and Kendall's τ-b for each row of (rounds x n) arrays; NaN where undefined."""
    n = x.shape[1]
    sx, sy = _signs(x), _signs(y)
    # Mid-ranks from the signs: (n + 1)/2 + Σ_j sign(v_i − v_j)/2.
    rx = (n + 1) / 2.0 + sx.sum(axis=2, dtype=np.int64) / 2.0
    ry = (n + 1) / 2.0 + sy.sum(axis=2, dtype=np.int64) / 2.0
    rx -= rx.mean(axis=1, keepdims=True)
    ry -= ry.mean(axis=1, keepdims=True)
    with np.errstate(invalid="ignore", divide="ignore"):
        rho = (rx * ry).sum(axis=1) / np.sqrt((rx * rx).sum(axis=1) * (ry * ry).sum(axis=1))
        # τ-b = S / sqrt((n0 − n1)(n0 − n2)); over ordered pairs both are doubled, so they cancel.
        concordance = (sx.astype(np.int64) * sy).sum(axis=(1, 2))
        untied = np.abs(sx).sum(axis=(1, 2), dtype=np.int64) * np.abs(sy).sum(axis=(1, 2), dtype=np.int64)
        tau = concordance / np.sqrt(untied.astype(float))
    rho = np.where(np.isfinite(rho), np.clip(rho, -1.0, 1.0), np.nan)
    tau = np.where(np.isfinite(tau), np.clip(tau, -1.0, 1.0), np.nan)
    return rho, tau


def _interval(point: float, samples: np.ndarray, confidence: float) -> Correlation:
    if not math.isfinite(point):
        return Correlation(None, None, None, 0)
    defined = samples[np.isfinite(samples)]
    # Too few defined draws give no usable interval.
    if len(defined) < max(10, len(samples) // 2):
        return Correlation(float(point), None, None, int(len(defined)))
    alpha = 1.0 - confidence
    low, high = np.quantile(defined, [alpha / 2.0, 1.0 - alpha / 2.0])
    return Correlation(float(point), float(low), float(high), int(len(defined)))


def rank_correlations(
    x, y, *, draws=None, confidence: float = 0.95, min_models: int = MIN_MODELS_FOR_CORRELATION
) -> tuple[Correlation, Correlation]:
    """(Spearman, Kendall τ-b) between two sequences of "goodness" values.

    The estimates compare ``x`` with ``y``; the ``confidence`` interval compares ``x`` with each
    row of ``draws`` (draws x n, e.g. posterior draws of the ratings ``y`` estimates), so it
    carries the uncertainty of ``y`` alone. Any monotone transform of either side gives the same
    numbers. Fewer than ``min_models`` models, or a constant sequence, give None.
    """
    x = np.asarray(x, dtype=float)
    y = np.asarray(y, dtype=float)
    if x.shape != y.shape or x.ndim != 1:
        raise ValueError("x and y must be one-dimensional and of the same length")
    if not 0 < confidence < 1:
        raise ValueError("confidence must be between 0 and 1")
    n = len(x)
    if n < max(2, min_models):
        return Correlation(None, None, None, 0), Correlation(None, None, None, 0)
    rho, tau = _spearman_kendall(x[None, :], y[None, :])
    samples = np.empty((0, n)) if draws is None else np.asarray(draws, dtype=float)
    if samples.ndim != 2 or samples.shape[1] != n:
        raise ValueError("draws must be (draws x n) for n models")
    rounds = samples.shape[0]
    rho_samples = np.empty(rounds)
    tau_samples = np.empty(rounds)
    step = max(1, _CHUNK_ELEMENTS // (n * n))
    for start in range(0, rounds, step):
        chunk = samples[start : start + step]
        r, t = _spearman_kendall(np.broadcast_to(x, chunk.shape), chunk)
        rho_samples[start : start + len(chunk)] = r
        tau_samples[start : start + len(chunk)] = t
    return _interval(float(rho[0]), rho_samples, confidence), _interval(float(tau[0]), tau_samples, confidence)


# --------------------------------------------------------------------------------------------
# comparison


def compare_benchmark(
    benchmark: str,
    scores: Mapping[str, float],
    arena: Iterable[ArenaEntry],
    *,
    higher_is_better: bool = True,
    min_places: float = 2.0,
    min_share: float = 0.2,
    min_votes: int = 0,
    draws: int = DEFAULT_DRAWS,
    seed: int = 0,
    confidence: float = 0.95,
    covariance: ArenaCovariance | None = None,
) -> BenchmarkComparison:
    """Rank the models that have both a score and an arena row, on both sides, and compare.

    ``scores`` maps model names to benchmark scores; ``arena`` gives the board rows under
    the same names; ``covariance`` the ratings' joint posterior covariance when the board has it
    (otherwise each rating is drawn alone from its interval). ``draws`` = 0 skips the posterior
    (no flags, no correlation intervals: for callers that only show ranks). See the module
    docstring for every definition.
    """
    by_model = {entry.model: entry for entry in arena}
    clean: dict[str, float] = {}
    for model, raw in scores.items():
        value = float(raw)
        if not math.isfinite(value):
            raise ValueError(f"the score of {model!r} on {benchmark!r} is not a finite number")
        clean[model] = value
    common = sorted(set(clean) & set(by_model))
    threshold = displacement_threshold(len(common), min_places=min_places, min_share=min_share)
    if covariance is not None and not set(common) <= set(covariance.models):
        covariance = None
    settings = {
        "confidence": confidence,
        "min_places": min_places,
        "min_share": min_share,
        "displacement_threshold": threshold,
        "min_votes": min_votes,
        "posterior_draws": draws,
        "posterior": "joint (the board's covariance)" if covariance is not None else "each rating from its interval",
        "seed": seed,
        "min_models_to_correlate": MIN_MODELS_FOR_CORRELATION,
        "ranks": "mid-ranks (ties share the average position), 1 = best",
        "arena_rank_interval": "best = 1 + #(lower_j > upper_i); worst = #(upper_j >= lower_i)",
    }
    missing_on_arena = sorted(set(clean) - set(by_model))
    missing_on_benchmark = sorted(set(by_model) - set(clean))
    if not common:
        empty = Correlation(None, None, None, 0)
        return BenchmarkComparison(
            benchmark, higher_is_better, [], empty, empty, missing_on_arena, missing_on_benchmark, settings
        )
    score = np.array([clean[m] for m in common])
    goodness = score if higher_is_better else -score
    rating = np.array([by_model[m].rating for m in common], dtype=float)
    lower = np.array([by_model[m].lower for m in common], dtype=float)
    upper = np.array([by_model[m].upper for m in common], dtype=float)
    bench_rank = mid_ranks(goodness)
    arena_rank = mid_ranks(rating)
    best, worst = arena_rank_bounds(lower, upper)
    sampled = posterior_draws(
        rating,
        lower=lower,
        upper=upper,
        covariance=covariance.among(common) if covariance is not None else None,
        draws=draws,
        seed=seed,
        confidence=confidence,
    )
    p_agree = agreement(bench_rank, ranks_of_draws(sampled), threshold)
    rows = []
    for k, model in enumerate(common):
        votes = int(by_model[model].votes)
        p = float(p_agree[k]) if math.isfinite(p_agree[k]) else None
        rows.append(
            ComparisonRow(
                model=model,
                score=float(score[k]),
                benchmark_rank=float(bench_rank[k]),
                arena_rank=float(arena_rank[k]),
                arena_rank_best=int(best[k]),
                arena_rank_worst=int(worst[k]),
                gap=float(bench_rank[k] - arena_rank[k]),
                p_agree=p,
                flagged=bool(p is not None and p < 1.0 - confidence and votes >= min_votes),
                rating=float(rating[k]),
                lower=float(lower[k]),
                upper=float(upper[k]),
                votes=votes,
            )
        )
    rows.sort(key=lambda row: (row.benchmark_rank, row.arena_rank, row.model))
    spearman, kendall = rank_correlations(goodness, rating, draws=sampled, confidence=confidence)
    return BenchmarkComparison(
        benchmark, higher_is_better, rows, spearman, kendall, missing_on_arena, missing_on_benchmark, settings
    )


def composite_scores(
    benchmarks: Sequence[BenchmarkScores], *, models: Iterable[str] | None = None, min_coverage: float = 0.5
) -> Composite:
    """Weighted mean of per-benchmark z-scores (direction respected), over ``models`` if given.

    Benchmarks with a weight of 0 or less, or fewer than two of the models, are not used. A
    benchmark whose scores are all equal contributes 0 to every model it covers.
    """
    if not 0 <= min_coverage <= 1:
        raise ValueError("min_coverage must be between 0 and 1")
    allowed = set(models) if models is not None else None
    z: dict[str, dict[str, float]] = {}
    weights: dict[str, float] = {}
    for bench in benchmarks:
        weight = float(bench.weight)
        if not weight > 0 or not math.isfinite(weight):
            continue
        names = sorted(m for m in bench.scores if allowed is None or m in allowed)
        if len(names) < 2:
            continue
        values = np.array([float(bench.scores[m]) for m in names])
        if not np.all(np.isfinite(values)):
            raise ValueError(f"benchmark {bench.name!r} has a score that is not a finite number")
        if not bench.higher_is_better:
            values = -values
        spread = values.std()
        standard = (values - values.mean()) / spread if spread > 0 else np.zeros_like(values)
        if bench.name in weights:
            raise ValueError(f"benchmark {bench.name!r} is given twice")
        weights[bench.name] = weight
        z[bench.name] = dict(zip(names, standard.tolist()))
    total = sum(weights.values())
    scores: dict[str, float] = {}
    coverage: dict[str, float] = {}
    left_out: list[str] = []
    everyone = sorted({m for per_model in z.values() for m in per_model})
    for model in everyone:
        have = [(weights[name], per_model[model]) for name, per_model in z.items() if model in per_model]
        covered = sum(w for w, _ in have)
        share = covered / total if total > 0 else 0.0
        coverage[model] = share
        # A small tolerance so that exactly half the weight counts as half.
        if share + 1e-12 < min_coverage:
            left_out.append(model)
            continue
        scores[model] = sum(w * value for w, value in have) / covered
    return Composite(scores, coverage, weights, left_out)
