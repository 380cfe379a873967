"""The benchmark comparison engine: ranks, rank intervals, vibes gap, flags, correlations, composite.

Pure: no database.
"""

import numpy as np
import pytest
from scipy.stats import kendalltau, spearmanr

from ratings.engine.benchmarks import (
    ArenaCovariance,
    ArenaEntry,
    BenchmarkScores,
    arena_rank_bounds,
    compare_benchmark,
    composite_scores,
    mid_ranks,
    rank_correlations,
)
from ratings.engine.vibes import displacement_threshold, posterior_draws


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
    spearman, kendall = rank_correlations(x, y, min_models=3)
    assert spearman.estimate == pytest.approx(spearmanr(x, y).statistic, abs=1e-12)
    assert kendall.estimate == pytest.approx(kendalltau(x, y).statistic, abs=1e-12)


def test_identical_orders_correlate_perfectly_and_reversed_orders_negatively():
    x = np.arange(10.0)
    spearman, kendall = rank_correlations(x, x * 3 + 1)
    assert spearman.estimate == pytest.approx(1.0) and kendall.estimate == pytest.approx(1.0)
    spearman, kendall = rank_correlations(x, -x)
    assert spearman.estimate == pytest.approx(-1.0) and kendall.estimate == pytest.approx(-1.0)


def test_correlation_intervals_come_from_draws_of_the_arena_side():
    x = np.arange(12.0)
    rating = x * 10.0
    draws = posterior_draws(rating, lower=rating - 30, upper=rating + 30, draws=800, seed=7)
    spearman, kendall = rank_correlations(x, rating, draws=draws)
    for c in (spearman, kendall):
        assert c.estimate == pytest.approx(1.0)
        assert -1 <= c.lower < c.upper <= 1
        assert c.upper - c.lower > 0.05  # the ratings' uncertainty shows, unlike resampling models
        assert c.draws == 800
    # Certain ratings: no spread in the interval.
    exact = posterior_draws(rating, lower=rating, upper=rating, draws=50, seed=7)
    spearman, _ = rank_correlations(x, rating, draws=exact)
    assert spearman.lower == spearman.upper == pytest.approx(1.0)


def test_five_reversed_models_get_an_interval_that_is_not_a_single_point():
    x = np.arange(5.0)
    rating = -x * 40.0
    draws = posterior_draws(rating, lower=rating - 60, upper=rating + 60, draws=1000, seed=1)
    spearman, _ = rank_correlations(x, rating, draws=draws)
    assert spearman.estimate == pytest.approx(-1.0)
    assert spearman.lower == pytest.approx(-1.0) and spearman.upper > -0.9


def test_correlations_need_five_models():
    spearman, kendall = rank_correlations([1.0, 2.0, 3.0, 4.0], [4.0, 3.0, 2.0, 1.0])
    assert spearman.estimate is None and kendall.estimate is None
    result = compare_benchmark("b", {m: k for k, m in enumerate("abcd")}, arena(*[(m, 1000, 30) for m in "abcd"]))
    assert result.too_few_to_correlate and result.spearman.estimate is None
    assert rank_correlations(np.arange(5.0), np.arange(5.0))[0].estimate == pytest.approx(1.0)


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


def test_displacement_threshold_is_two_places_or_a_fifth_of_the_models():
    assert displacement_threshold(5) == 2
    assert displacement_threshold(10) == 2
    assert displacement_threshold(20) == 4
    assert displacement_threshold(20, min_places=5) == 5


def test_a_model_is_flagged_when_the_votes_are_sure_it_is_misplaced_by_the_threshold():
    scores, entries = _ladder(14)  # narrow intervals 10 points apart: the arena order is certain
    result = compare_benchmark("reverse", scores, entries)  # threshold max(2, 2.8) = 2.8 places
    rows = {r.model: r for r in result.rows}
    # m00: arena 1, benchmark 14; m05: arena 6, benchmark 9 (3 places); m06: arena 7, benchmark 8 (1 place).
    assert rows["m00"].flagged and rows["m00"].p_agree == 0
    assert rows["m05"].flagged
    assert not rows["m06"].flagged and rows["m06"].p_agree == 1
    assert result.settings["displacement_threshold"] == pytest.approx(2.8)


def test_a_reversed_benchmark_over_five_models_flags_both_ends():
    # The case the old rule ("more than 5 places outside the rank interval") could never flag.
    scores, entries = _ladder(5, half=20.0)
    flagged = {r.model for r in compare_benchmark("reverse", scores, entries).flagged}
    assert {"m00", "m04"} <= flagged
    assert "m02" not in flagged  # the middle model is where both say


def test_wide_intervals_prevent_a_flag():
    scores, entries = _ladder(14, half=1000.0)  # every interval overlaps every other
    result = compare_benchmark("reverse", scores, entries)
    assert all(r.arena_rank_best == 1 and r.arena_rank_worst == 14 for r in result.rows)
    assert not result.flagged
    assert all(r.p_agree > 0.05 for r in result.rows)


def test_models_below_the_minimum_votes_are_never_flagged():
    scores, entries = _ladder(14, votes=10)
    result = compare_benchmark("reverse", scores, entries, min_votes=30)
    assert not result.flagged
    assert min(r.p_agree for r in result.rows) == 0


def test_the_joint_covariance_is_used_when_given():
    # Two models 40 points apart with wide marginal intervals but strongly correlated ratings: their
    # order is certain, so a benchmark that swaps them is confidently wrong (threshold: one place).
    names = ["a", "b", "c", "d", "e"]
    rating = np.array([1040.0, 1000.0, 700.0, 600.0, 500.0])
    cov = np.full((5, 5), 0.0)
    cov[:2, :2] = [[2500.0, 2499.0], [2499.0, 2500.0]]
    entries = [ArenaEntry(m, r, r - 98, r + 98) for m, r in zip(names, rating)]
    scores = {"b": 5, "a": 4, "c": 3, "d": 2, "e": 1}  # a and b swapped
    joint = compare_benchmark("x", scores, entries, covariance=ArenaCovariance(names, cov), min_places=1)
    alone = compare_benchmark("x", scores, entries, min_places=1)
    assert {r.model: r.p_agree for r in joint.rows}["a"] < 0.01
    assert {r.model: r.p_agree for r in alone.rows}["a"] == pytest.approx(0.29, abs=0.05)
    assert [r.model for r in joint.flagged] == ["b", "a"] and not alone.flagged
    assert joint.settings["posterior"].startswith("joint")


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
    data = compare_benchmark("reverse", scores, entries, draws=50).to_dict()
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
