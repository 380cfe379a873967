import json

import numpy as np
import pytest

from ratings.engine import (
    STYLE_FEATURES,
    fit_bradley_terry,
    fit_style_controlled,
    simulate_style_votes,
    style_counts,
    style_matrix,
)

from .factories import make_strengths


def test_style_counts_of_a_markdown_answer():
    text = "# Title\n\nSome **bold** and __also bold__ text.\n\n## Part\n- one\n- two\n1. three\n#not a header\n"
    length, headers, bold, items = style_counts(text)
    assert (length, headers, bold, items) == (len(text), 2, 2, 3)


def test_style_features_are_normalised_differences_standardised():
    a = np.array([[10.0, 0.0], [30.0, 2.0], [20.0, 0.0], [5.0, 1.0]])
    b = np.array([[30.0, 0.0], [10.0, 0.0], [20.0, 0.0], [15.0, 3.0]])
    f = style_matrix(a, b)
    raw_length = np.array([-0.5, 0.5, 0.0, -0.5])
    assert np.allclose(f[:, 0], (raw_length - raw_length.mean()) / raw_length.std())
    assert np.allclose(f.mean(axis=0), 0.0) and np.allclose(f.std(axis=0), 1.0)


def test_style_control_recovers_planted_coefficients_and_strengths():
    planted = np.array([0.4, -0.2, 0.15, 0.0])
    strengths = make_strengths(8, seed=5)
    sim = simulate_style_votes(strengths, 60_000, planted, seed=3)
    board = fit_style_controlled(sim.votes, sim.style_a, sim.style_b)
    got = np.array([board.coefficients[name] for name in STYLE_FEATURES])
    assert np.allclose(got, planted, atol=0.04)
    for name, planted_value in zip(STYLE_FEATURES, planted):
        lo, hi = board.coefficient_intervals[name]
        half = (hi - lo) / 2
        assert 0 < half < 0.05
        assert abs(board.coefficients[name] - planted_value) < 2 * half  # about 4 standard errors
    truth = np.array([strengths[m] for m in board.raw.models])
    truth = truth - truth.mean() + 1000.0
    for row in board.rows:
        assert row.rating == pytest.approx(truth[board.raw.models.index(row.model)], abs=12.0)


def test_style_control_removes_the_advantage_of_a_verbose_model():
    strengths = {"verbose": 1000.0, "terse": 1000.0, "plain": 1000.0, "other": 1000.0}
    means = np.array([[8.0, 1.0, 1.0, 1.0], [1.0, 1.0, 1.0, 1.0], [3.0, 1.0, 1.0, 1.0], [3.0, 1.0, 1.0, 1.0]])
    sim = simulate_style_votes(strengths, 40_000, [0.5, 0.0, 0.0, 0.0], style_means=means, seed=8)
    board = fit_style_controlled(sim.votes, sim.style_a, sim.style_b)
    rows = {row.model: row for row in board.rows}
    assert rows["verbose"].raw_rating > 1040.0  # length makes it look better than it is
    assert rows["verbose"].rating == pytest.approx(1000.0, abs=12.0)
    assert rows["verbose"].lower <= 1000.0 <= rows["verbose"].upper
    assert board.coefficients["length"] == pytest.approx(0.5, abs=0.05)


def test_without_style_effects_the_controlled_board_matches_the_raw_board():
    strengths = make_strengths(6, seed=2)
    sim = simulate_style_votes(strengths, 20_000, [0.0, 0.0, 0.0, 0.0], seed=4)
    board = fit_style_controlled(sim.votes, sim.style_a, sim.style_b)
    raw = fit_bradley_terry(sim.votes.to_table())
    for row in board.rows:
        assert row.raw_rating == raw.by_model[row.model].rating
        assert row.rating == pytest.approx(row.raw_rating, abs=8.0)


def test_a_constant_style_feature_does_not_break_the_fit():
    strengths = make_strengths(4, seed=1)
    sim = simulate_style_votes(strengths, 3000, [0.3, 0.0], seed=2)
    style_a = np.column_stack([sim.style_a[:, 0], np.full(len(sim.style_a), 2.0)])
    style_b = np.column_stack([sim.style_b[:, 0], np.full(len(sim.style_b), 2.0)])
    board = fit_style_controlled(sim.votes, style_a, style_b, feature_names=("length", "constant"))
    assert board.coefficients["constant"] == pytest.approx(0.0, abs=1e-9)
    assert np.isfinite([row.rating for row in board.rows]).all()


def test_the_ridge_shrinks_the_style_coefficients_only():
    strengths = make_strengths(5, seed=7)
    sim = simulate_style_votes(strengths, 5000, [0.4, 0.0, 0.0, 0.0], seed=1)
    light = fit_style_controlled(sim.votes, sim.style_a, sim.style_b, ridge=1.0)
    heavy = fit_style_controlled(sim.votes, sim.style_a, sim.style_b, ridge=5000.0)
    assert abs(heavy.coefficients["length"]) < abs(light.coefficients["length"]) / 2
    assert light.settings["ridge"] == 1.0


def test_style_board_to_dict_is_json_serialisable():
    sim = simulate_style_votes(make_strengths(4, seed=3), 2000, [0.2, 0.1, 0.0, 0.0], seed=5)
    data = json.loads(json.dumps(fit_style_controlled(sim.votes, sim.style_a, sim.style_b).to_dict()))
    assert set(data["coefficients"]) == set(STYLE_FEATURES)
    assert {"rating", "raw_rating", "rank", "raw_rank"} <= set(data["rows"][0])


def test_style_rows_must_match_the_votes():
    sim = simulate_style_votes(make_strengths(4, seed=3), 100, [0.2, 0.1, 0.0, 0.0], seed=5)
    with pytest.raises(ValueError, match="one row per vote"):
        fit_style_controlled(sim.votes, sim.style_a[:-1], sim.style_b)


def test_models_the_votes_do_not_connect_still_get_a_style_controlled_board():
    # Two separate groups (a young arena): the Hessian has one null direction per group.
    from ratings.engine import VoteLog

    rng = np.random.default_rng(4)
    pairs = [("a", "b"), ("c", "d")] * 40
    log = VoteLog.from_votes(
        [p[0] for p in pairs], [p[1] for p in pairs], [str(o) for o in rng.choice(["a", "b", "tie"], size=len(pairs))]
    )
    style_a = rng.uniform(1, 9, size=(len(pairs), len(STYLE_FEATURES)))
    style_b = rng.uniform(1, 9, size=(len(pairs), len(STYLE_FEATURES)))
    board = fit_style_controlled(log, style_a, style_b)
    assert {row.model for row in board.rows} == {"a", "b", "c", "d"}
    assert all(np.isfinite([row.rating, row.lower, row.upper]).all() for row in board.rows)
