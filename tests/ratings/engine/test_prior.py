"""The Bradley–Terry fit with a Normal prior on ratings (maximum a posteriori), as the app's boards use it."""

import math

import numpy as np
import pytest

from ratings.engine import VoteTable, fit_bradley_terry, with_robustness
from ratings.engine.bt import RATING_PER_LOGIT, prior_precision

from .factories import make_table

Z95 = 1.959963984540054


def half_width(row):
    return (row.upper - row.lower) / 2


def won_everything_table() -> VoteTable:
    # "a" won all 8 of its votes; b, c and d beat each other both ways.
    return VoteTable.from_counts(
        [
            ("a", "b", "a", 3),
            ("c", "a", "b", 3),
            ("a", "d", "a", 2),
            ("b", "c", "a", 4),
            ("c", "b", "a", 3),
            ("c", "d", "a", 2),
            ("d", "b", "a", 2),
            ("b", "d", "tie", 1),
        ]
    )


def test_the_prior_shrinks_a_model_that_won_everything_to_a_finite_rating():
    table = won_everything_table()
    mle = fit_bradley_terry(table).by_model
    board = fit_bradley_terry(table, prior_points=150)
    rows = board.by_model
    # Without the prior only the vanishing ridge holds "a": thousands of points above the rest.
    assert mle["a"].rating > 2500
    assert board.rows[0].model == "a"
    assert 1000 < rows["a"].rating < 1000 + 3 * 150
    assert all(math.isfinite(r.lower) and math.isfinite(r.upper) for r in board.rows)
    assert rows["a"].lower < rows["a"].rating < rows["a"].upper
    assert sum(r.rating for r in board.rows) / len(board.rows) == pytest.approx(1000, abs=1e-6)
    assert any("held by the prior" in w for w in board.warnings)
    assert not any("meaningless" in w for w in board.warnings)


def test_a_prior_with_a_huge_spread_gives_the_maximum_likelihood_fit_and_intervals():
    table = make_table(6, 800, seed=5)
    mle = fit_bradley_terry(table).by_model
    flat = fit_bradley_terry(table, prior_points=1e7).by_model
    for model, row in mle.items():
        assert flat[model].rating == pytest.approx(row.rating, abs=1e-3)
        assert flat[model].lower == pytest.approx(row.lower, abs=1e-3)
        assert flat[model].upper == pytest.approx(row.upper, abs=1e-3)
        assert flat[model].rank == row.rank


def test_a_weak_prior_moves_a_well_measured_board_by_only_a_few_points():
    table = make_table(8, 3000, seed=9)
    mle = fit_bradley_terry(table).by_model
    board = fit_bradley_terry(table, prior_points=150).by_model
    shifts = [abs(board[m].rating - row.rating) for m, row in mle.items()]
    assert 0 < max(shifts) < 10


def test_a_model_with_one_vote_has_an_interval_about_as_wide_as_the_prior():
    # b, c, d are well measured; x has a single tie with b.
    counts = [("b", "c", "a", 60), ("c", "b", "a", 40), ("b", "d", "a", 55), ("d", "b", "a", 45)]
    counts += [("c", "d", "a", 50), ("d", "c", "a", 50), ("c", "d", "tie", 30), ("x", "b", "tie", 1)]
    table = VoteTable.from_counts(counts)
    mle = fit_bradley_terry(table).by_model
    rows = fit_bradley_terry(table, prior_points=150).by_model
    prior_half_width = Z95 * 150
    # The plain sandwich sees one tie scored as expected and claims to know x about as well as b.
    assert half_width(mle["x"]) < 40
    # One vote adds a little information to the prior's: the interval is somewhat narrower than
    # the prior's own ±1.96·150.
    assert 0.6 * prior_half_width < half_width(rows["x"]) < 1.05 * prior_half_width
    # The well-measured models stay far better placed (ratings are relative to the mean of all
    # four, which x's uncertainty widens a little).
    assert half_width(rows["c"]) < 0.4 * prior_half_width


def test_the_prior_spread_is_recorded_in_the_settings():
    table = won_everything_table()
    assert fit_bradley_terry(table).settings["prior_points"] is None
    assert fit_bradley_terry(table, prior_points=150).settings["prior_points"] == 150.0


@pytest.mark.parametrize("bad", [-1.0, math.inf, math.nan])
def test_a_prior_spread_must_be_a_positive_number(bad):
    with pytest.raises(ValueError, match="prior"):
        fit_bradley_terry(won_everything_table(), prior_points=bad)


def test_prior_precision_is_one_over_the_spread_squared_in_logits():
    assert prior_precision(None) == prior_precision(0) == 0.0
    assert prior_precision(RATING_PER_LOGIT) == pytest.approx(1.0)
    assert prior_precision(2 * RATING_PER_LOGIT) == pytest.approx(0.25)


def test_bootstrap_rounds_refit_with_the_prior():
    table = won_everything_table()
    mle = fit_bradley_terry(table, ci="bootstrap", bootstrap_rounds=60, seed=1)
    board = fit_bradley_terry(table, ci="bootstrap", bootstrap_rounds=60, seed=1, prior_points=150)
    rows = board.by_model
    assert board.bootstrap_ratings is not None
    assert np.all(np.isfinite(board.bootstrap_ratings))
    # Every resample of "a" keeps it unbeaten; only the prior bounds its rounds.
    assert mle.by_model["a"].lower > 2500
    assert rows["a"].upper < 1000 + 4 * 150
    assert rows["a"].lower <= rows["a"].rating <= rows["a"].upper


def test_votes_to_flip_first_refits_with_the_prior():
    table = make_table(5, 60, seed=2)
    board = fit_bradley_terry(table, prior_points=150)
    robustness = with_robustness(board)["robustness"]
    assert robustness["leader"] == board.rows[0].model
    assert robustness["votes_to_flip"] is None or robustness["votes_to_flip"] >= 1
