"""The benchmark comparison engine: ranks, rank intervals, vibes gap, flags, correlations, composite.

Pure: no database.
"""

import numpy as np
import pytest
from scipy.stats import kendalltau, spearmanr

from ratings.engine.benchmarks import (
    ArenaEntry,
    BenchmarkScores,
    arena_rank_bounds,
    compare_benchmark,
    composite_scores,
    mid_ranks,
    rank_correlations,
)


def arena(*rows):
    """ArenaEntry rows from (model, rating, half_width[, votes])."""
    out = []
    for row in rows:
        model, rating, half = row[:3]
        votes = row[3] if len(row) > 3 else 1000
        out.append(ArenaEntry(model, rating, rating - half, rating + half, votes))
    return out


def test_mid_ranks_average_tied_positions_and_rank_the_largest_first():
    assert mid_ranks([90, 80, 80, 70]).tolist() == [1.0, 2.5, 2.5, 4.0]
    assert mid_ranks([90, 80, 80, 70], descending=False).tolist() == [4.0, 2.5, 2.5, 1.0]
    assert mid_ranks([5, 5, 5]).tolist() == [2.0, 2.0, 2.0]


def test_rank_bounds_follow_their_definition_on_random_intervals():
    rng = np.random.default_rng(3)
    for _ in range(50):
        n = int(rng.integers(1, 25))
        rating = rng.normal(1000, 60, n).round()
        half = rng.uniform(0, 80, n).round()
        lower, upper = rating - half, rating + half
        best, worst = arena_rank_bounds(lower, upper)
        for i in range(n):
            assert best[i] == 1 + sum(lower[j] > upper[i] for j in range(n))
            assert worst[i] == sum(upper[j] >= lower[i] for j in range(n))
            # The point rank by rating always lies inside the interval.
            assert best[i] <= mid_ranks(rating)[i] <= worst[i]


def test_rank_bounds_of_zero_width_intervals_are_the_plain_ranks():
    best, worst = arena_rank_bounds([30, 20, 10], [30, 20, 10])
    assert best.tolist() == [1, 2, 3]
    assert worst.tolist() == [1, 2, 3]


def test_overlapping_intervals_widen_the_rank_interval():
    # a: 1000±10, b: 995±10 overlap; c: 900±10 is certainly last.
    best, worst = arena_rank_bounds([990, 985, 890], [1010, 1005, 910])
    assert best.tolist() == [1, 1, 3]
    assert worst.tolist() == [2, 2, 3]


@pytest.mark.parametrize("seed", range(5))
def test_correlations_match_scipy_with_and_without_ties(seed):
    rng = np.random.default_rng(seed)
    n = 4 + 7 * seed
    x = rng.integers(0, 6, n).astype(float)  # many ties
    y = rng.normal(size=n)
    spearman, kendall = rank_correlations(x, y, rounds=0)
    assert spearman.estimate == pytest.approx(spearmanr(x, y).statistic, abs=1e-12)
    assert kendall.estimate == pytest.approx(kendalltau(x, y).statistic, abs=1e-12)


def test_identical_orders_correlate_perfectly_and_reversed_orders_negatively():
    x = np.arange(10.0)
    spearman, kendall = rank_correlations(x, x * 3 + 1, rounds=200)
    assert spearman.estimate == pytest.approx(1.0) and kendall.estimate == pytest.approx(1.0)
    spearman, kendall = rank_correlations(x, -x, rounds=200)
    assert spearman.estimate == pytest.approx(-1.0) and kendall.estimate == pytest.approx(-1.0)


def test_bootstrap_interval_is_seeded_and_brackets_the_estimate():
    rng = np.random.default_rng(0)
    x = rng.normal(size=20)
    y = x + rng.normal(scale=0.8, size=20)
    first = rank_correlations(x, y, rounds=500, seed=7)
    again = rank_correlations(x, y, rounds=500, seed=7)
    other = rank_correlations(x, y, rounds=500, seed=8)
    assert first == again
    assert first != other
    for c in first:
        assert -1 <= c.lower <= c.estimate <= c.upper <= 1
        assert c.upper - c.lower > 0.05
        assert c.rounds == 500


def test_correlations_need_three_models():
    spearman, kendall = rank_correlations([1.0, 2.0], [2.0, 1.0])
    assert spearman.estimate is None and kendall.estimate is None


def test_gap_is_benchmark_rank_minus_arena_rank():
    scores = {"a": 90, "b": 80, "c": 70}
    result = compare_benchmark("bench", scores, arena(("a", 900, 1), ("b", 1000, 1), ("c", 1100, 1)))
    rows = {r.model: r for r in result.rows}
    assert (rows["a"].benchmark_rank, rows["a"].arena_rank, rows["a"].gap) == (1, 3, -2)
    assert (rows["c"].benchmark_rank, rows["c"].arena_rank, rows["c"].gap) == (3, 1, 2)
    assert [r.model for r in result.rows] == ["a", "b", "c"]  # by benchmark rank


def test_lower_is_better_benchmarks_rank_the_smallest_score_first():
    result = compare_benchmark(
        "errors", {"a": 0.1, "b": 0.3}, arena(("a", 1100, 1), ("b", 900, 1)), higher_is_better=False
    )
    assert {r.model: r.benchmark_rank for r in result.rows} == {"a": 1, "b": 2}
    assert all(r.gap == 0 for r in result.rows)


def _ladder(n, *, half=1.0, votes=1000):
    """n models; the arena orders them m00 (best) .. m{n-1}; the benchmark orders them reversed."""
    entries = arena(*[(f"m{k:02d}", 2000 - 10 * k, half, votes) for k in range(n)])
    scores = {f"m{k:02d}": float(k) for k in range(n)}
    return scores, entries


def test_a_model_is_flagged_only_when_its_benchmark_rank_is_more_than_the_threshold_outside():
    scores, entries = _ladder(14)
    result = compare_benchmark("reverse", scores, entries, threshold=5)
    rows = {r.model: r for r in result.rows}
    # m00: arena 1 (interval 1–1), benchmark 14: 13 places outside.
    assert rows["m00"].outside == 13 and rows["m00"].flagged
    # m04: arena 5, benchmark 10: exactly 5 outside, not more: not flagged.
    assert rows["m04"].outside == 5 and not rows["m04"].flagged
    assert rows["m03"].outside == 7 and rows["m03"].flagged
    assert not rows["m07"].flagged


def test_wide_intervals_prevent_a_flag():
    scores, entries = _ladder(14, half=1000.0)  # every interval overlaps every other
    result = compare_benchmark("reverse", scores, entries, threshold=5)
    assert all(r.arena_rank_best == 1 and r.arena_rank_worst == 14 for r in result.rows)
    assert not result.flagged


def test_models_below_the_minimum_votes_are_never_flagged():
    scores, entries = _ladder(14, votes=10)
    result = compare_benchmark("reverse", scores, entries, threshold=5, min_votes=30)
    assert not result.flagged
    assert max(r.outside for r in result.rows) == 13


def test_ranks_count_only_models_on_both_sides():
    scores = {"a": 3, "b": 2, "only-bench": 99}
    entries = arena(("a", 1100, 1), ("b", 1000, 1), ("only-arena", 1200, 1))
    result = compare_benchmark("b", scores, entries)
    assert {r.model: (r.benchmark_rank, r.arena_rank) for r in result.rows} == {"a": (1, 1), "b": (2, 2)}
    assert result.missing_on_arena == ["only-bench"]
    assert result.missing_on_benchmark == ["only-arena"]


def test_non_finite_scores_are_refused():
    with pytest.raises(ValueError):
        compare_benchmark("b", {"a": float("nan")}, arena(("a", 1000, 1)))


def test_composite_respects_direction_and_weights():
    quality = BenchmarkScores("quality", {"a": 90, "b": 60, "c": 30}, True, 1.0)
    errors = BenchmarkScores("errors", {"a": 0.9, "b": 0.5, "c": 0.1}, False, 3.0)  # lower is better
    result = composite_scores([quality, errors])
    # errors dominates (weight 3) and ranks c best, a worst.
    assert result.scores["c"] > result.scores["b"] > result.scores["a"]
    assert result.weights == {"quality": 1.0, "errors": 3.0}
    # Equal weights: the two benchmarks cancel exactly.
    even = composite_scores([quality, BenchmarkScores("errors", errors.scores, False, 1.0)])
    assert all(abs(v) < 1e-12 for v in even.scores.values())


def test_composite_leaves_out_models_with_too_little_coverage_and_ignores_zero_weights():
    one = BenchmarkScores("one", {"a": 1, "b": 2, "c": 3}, True, 1.0)
    two = BenchmarkScores("two", {"a": 5, "b": 1}, True, 3.0)
    off = BenchmarkScores("off", {"a": 100, "b": 0, "c": 50}, True, 0.0)
    result = composite_scores([one, two, off], min_coverage=0.5)
    assert "off" not in result.weights
    assert result.coverage["c"] == pytest.approx(0.25)
    assert result.left_out == ["c"]
    assert set(result.scores) == {"a", "b"}


def test_composite_z_scores_over_the_given_models_only():
    bench = BenchmarkScores("x", {"a": 1, "b": 2, "outsider": 1000}, True, 1.0)
    result = composite_scores([bench], models=["a", "b"])
    assert result.scores == pytest.approx({"a": -1.0, "b": 1.0})


def test_comparison_serialises_to_plain_data():
    scores, entries = _ladder(5)
    data = compare_benchmark("reverse", scores, entries, rounds=50).to_dict()
    assert data["benchmark"] == "reverse" and data["n_models"] == 5
    assert set(data["rows"][0]) >= {
        "model",
        "benchmark_rank",
        "arena_rank",
        "arena_rank_best",
        "arena_rank_worst",
        "gap",
        "flagged",
    }
    assert data["spearman"]["estimate"] == pytest.approx(-1.0)
