import json
import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ratings.engine import VoteTable, fit_bradley_terry, simulate_votes, with_robustness
from ratings.engine.ranks import interval_ranks, plain_order

from .factories import RATING_PER_LOGIT, make_strengths, make_table


def ratings_of(board):
    return {row.model: row.rating for row in board.rows}


def test_two_models_rating_gap_is_the_log_odds_of_the_win_share():
    # 30 wins, 10 losses, 20 ties: score share (30 + 10) / 60 = 2/3, so the gap is 400·log10(2).
    table = VoteTable.from_counts(
        [("x", "y", "a", 30), ("x", "y", "b", 10), ("y", "x", "tie", 12), ("x", "y", "both_bad", 8)]
    )
    board = fit_bradley_terry(table, ci="none")
    r = ratings_of(board)
    assert r["x"] - r["y"] == pytest.approx(400 * math.log10(2), abs=1e-4)
    assert (r["x"] + r["y"]) / 2 == pytest.approx(1000, abs=1e-6)


def test_ratings_average_1000_without_anchor():
    board = fit_bradley_terry(make_table(10, 3000), ci="none")
    assert np.mean(list(ratings_of(board).values())) == pytest.approx(1000, abs=1e-6)


def test_rows_are_best_first_with_plain_order_and_counts():
    board = fit_bradley_terry(make_table(6, 1500))
    assert [row.order for row in board.rows] == list(range(1, 7))
    assert all(a.rating >= b.rating for a, b in zip(board.rows, board.rows[1:]))
    assert sum(row.votes for row in board.rows) == 2 * 1500
    for row in board.rows:
        assert row.votes == row.wins + row.losses + row.ties + row.both_bad
        assert row.lower <= row.rating <= row.upper


def test_anchor_fixes_one_models_rating_and_shifts_the_rest():
    table = make_table(6, 1500)
    free = fit_bradley_terry(table, ci="none")
    anchored = fit_bradley_terry(table, ci="none", anchor=("m03", 1114.0))
    f, a = ratings_of(free), ratings_of(anchored)
    assert a["m03"] == pytest.approx(1114.0)
    shifts = {m: a[m] - f[m] for m in f}
    assert max(shifts.values()) - min(shifts.values()) < 1e-9


@pytest.mark.parametrize("ci", ["sandwich", "bootstrap"])
def test_anchor_interval_is_relative_to_the_anchor(ci):
    board = fit_bradley_terry(make_table(6, 1500), ci=ci, anchor=("m02", 1200.0), bootstrap_rounds=50)
    row = board.by_model["m02"]
    assert row.rating == pytest.approx(1200.0)
    assert row.upper - row.lower == pytest.approx(0.0, abs=1e-6)


def test_unknown_anchor_model_is_an_error():
    with pytest.raises(ValueError, match="anchor model"):
        fit_bradley_terry(make_table(4, 200), anchor=("nobody", 1000.0))


def test_unknown_ci_method_is_an_error():
    with pytest.raises(ValueError, match="ci must be one of"):
        fit_bradley_terry(make_table(4, 200), ci="jackknife")


def test_models_below_min_votes_are_provisional_but_rated():
    rows = [("x", "y", "a", 40), ("y", "x", "a", 35), ("x", "z", "a", 3), ("z", "y", "tie", 2)]
    board = fit_bradley_terry(VoteTable.from_counts(rows), min_votes=10)
    flags = {row.model: row.provisional for row in board.rows}
    assert flags == {"x": False, "y": False, "z": True}


def test_swapping_a_and_b_changes_nothing():
    table = make_table(7, 2000, seed=2)
    for ci in ("sandwich", "bootstrap"):
        one = fit_bradley_terry(table, ci=ci, bootstrap_rounds=30, seed=5)
        two = fit_bradley_terry(table.swapped(), ci=ci, bootstrap_rounds=30, seed=5)
        for r1, r2 in zip(one.rows, two.rows):
            assert r1.model == r2.model
            assert r1.rating == pytest.approx(r2.rating, abs=1e-9)
            assert r1.lower == pytest.approx(r2.lower, abs=1e-6)
            assert r1.upper == pytest.approx(r2.upper, abs=1e-6)


outcome_rows = st.lists(
    st.tuples(
        st.sampled_from("pqrst"),
        st.sampled_from("pqrst"),
        st.sampled_from(["a", "b", "tie", "both_bad"]),
        st.integers(1, 30),
    ).filter(lambda r: r[0] != r[1]),
    min_size=1,
    max_size=25,
)


@settings(max_examples=40, deadline=None, database=None)
@given(rows=outcome_rows, seed=st.integers(0, 2**16))
def test_any_vote_order_and_any_positions_give_the_same_board(rows, seed):
    rng = np.random.default_rng(seed)
    votes = [(a, b, o) for a, b, o, n in rows for _ in range(n)]
    shuffled = [votes[k] for k in rng.permutation(len(votes))]
    flip = {"a": "b", "b": "a", "tie": "tie", "both_bad": "both_bad"}
    swapped = [(b, a, flip[o]) for a, b, o in shuffled]
    boards = [fit_bradley_terry(VoteTable.from_votes(*zip(*v)), ci="sandwich") for v in (votes, shuffled, swapped)]
    for other in boards[1:]:
        for r1, r2 in zip(boards[0].rows, other.rows):
            assert r1.model == r2.model and r1.votes == r2.votes
            assert r1.rating == pytest.approx(r2.rating, abs=1e-6)
            assert r1.upper - r1.lower == pytest.approx(r2.upper - r2.lower, rel=1e-6, abs=1e-6)


def test_a_dominant_model_ranks_first():
    strengths = make_strengths(8, seed=3)
    strengths["champion"] = max(strengths.values()) + 200.0
    table = simulate_votes(strengths, 4000, seed=9).to_table()
    board = fit_bradley_terry(table)
    assert board.rows[0].model == "champion"
    assert board.rows[0].rank == 1
    # 200 points ahead on 4,000 votes: the intervals separate, so no one shares first place.
    assert board.rows[0].lower > board.rows[1].upper
    assert board.rows[1].rank == 2


def test_fixed_seed_gives_identical_bootstrap_and_another_seed_does_not():
    table = make_table(6, 1500)
    one = fit_bradley_terry(table, ci="bootstrap", bootstrap_rounds=40, seed=11)
    two = fit_bradley_terry(table, ci="bootstrap", bootstrap_rounds=40, seed=11)
    three = fit_bradley_terry(table, ci="bootstrap", bootstrap_rounds=40, seed=12)
    assert one.rows == two.rows
    assert np.array_equal(one.bootstrap_ratings, two.bootstrap_ratings)
    assert one.rows != three.rows


def test_bootstrap_and_sandwich_intervals_agree_on_plenty_of_data():
    table = make_table(8, 20000, seed=6)
    sandwich = fit_bradley_terry(table).by_model
    boot = fit_bradley_terry(table, ci="bootstrap", bootstrap_rounds=400, seed=1).by_model
    for model, row in sandwich.items():
        assert boot[model].rating == row.rating
        assert boot[model].upper - boot[model].lower == pytest.approx(row.upper - row.lower, rel=0.15)


def test_bootstrap_rounds_are_fits_of_resampled_votes():
    # Each round must be the exact MLE of its resample: re-fitting the round's counts by a
    # plain Newton from scratch gives the same ratings.
    from ratings.engine import bt

    table = make_table(5, 800, seed=8)
    data = bt.PairData.from_table(table)
    beta_hat = bt.fit_pairs(data)
    cells = np.concatenate([data.wins_i, data.wins_j, data.half])
    draws = np.random.default_rng(3).multinomial(int(cells.sum()), cells / cells.sum(), size=5)
    p = len(data.i)
    rounds = bt.fit_resamples(
        data, beta_hat, draws[:, :p].astype(float), draws[:, p : 2 * p].astype(float), draws[:, 2 * p :].astype(float)
    )
    for r in range(5):
        resampled = data.with_counts(
            draws[r, :p].astype(float), draws[r, p : 2 * p].astype(float), draws[r, 2 * p :].astype(float)
        )
        direct = bt.fit_pairs(resampled)
        assert np.allclose(rounds[r], direct - direct.mean(), atol=1e-7)


# Percentile intervals from only 100 bootstrap rounds cover about 93% (their 2.5% and 97.5%
# quantiles are estimated from 100 draws, which narrows them); 500 rounds give the nominal 95%.
@pytest.mark.parametrize("ci,runs,rounds", [("sandwich", 300, None), ("bootstrap", 150, 500)])
def test_95_percent_intervals_cover_the_truth_at_least_93_percent_of_the_time(ci, runs, rounds):
    covered = total = 0
    for run in range(runs):
        strengths = make_strengths(6, seed=1000 + run, spread=120.0)
        log = simulate_votes(strengths, 1500, tie_rate=0.3, seed=run)
        board = fit_bradley_terry(log.to_table(), ci=ci, bootstrap_rounds=rounds or 100, seed=run)
        truth = np.array([strengths[m] for m in board.models])
        truth = truth - truth.mean() + 1000.0
        for row in board.rows:
            t = truth[board.models.index(row.model)]
            covered += row.lower <= t <= row.upper
            total += 1
    assert covered / total >= 0.93


def test_reweighting_pairs_leaves_a_balanced_design_almost_unchanged_and_corrects_an_unbalanced_one():
    strengths = {"x": 1100.0, "y": 1000.0, "z": 900.0}
    log = simulate_votes(strengths, 30000, seed=4)
    plain = fit_bradley_terry(log.to_table(), ci="none")
    weighted = fit_bradley_terry(log.to_table(), ci="none", reweight=True)
    for model in strengths:
        assert weighted.by_model[model].rating == pytest.approx(plain.by_model[model].rating, abs=2.0)
    assert weighted.settings["reweight"] is True


def test_disconnected_groups_are_reported():
    table = VoteTable.from_counts([("x", "y", "a", 5), ("y", "x", "a", 3), ("p", "q", "a", 4), ("q", "p", "b", 2)])
    board = fit_bradley_terry(table)
    assert any("disconnected" in w for w in board.warnings)
    # Each group is centred on its own and keeps finite intervals.
    r = board.by_model
    assert (r["x"].rating + r["y"].rating) / 2 == pytest.approx(1000.0, abs=1e-6)
    assert (r["p"].rating + r["q"].rating) / 2 == pytest.approx(1000.0, abs=1e-6)
    for row in board.rows:
        assert np.isfinite(row.lower) and np.isfinite(row.upper) and row.lower < row.rating < row.upper


def test_empty_table_gives_an_empty_board():
    board = fit_bradley_terry(VoteTable.from_counts([]))
    assert board.rows == [] and board.to_dict()["rows"] == []


def test_a_model_that_won_every_vote_still_gets_finite_numbers():
    table = VoteTable.from_counts([("x", "y", "a", 5), ("y", "z", "a", 5), ("z", "y", "a", 4)])
    board = fit_bradley_terry(table, ci="bootstrap", bootstrap_rounds=20)
    assert board.rows[0].model == "x"
    assert all(np.isfinite([r.rating, r.lower, r.upper]).all() for r in board.rows)


def test_to_dict_is_json_serialisable_and_states_its_settings():
    board = fit_bradley_terry(make_table(5, 800), ci="bootstrap", bootstrap_rounds=20, seed=3, min_votes=5)
    data = json.loads(json.dumps(with_robustness(board)))
    assert data["settings"]["ci"] == "bootstrap" and data["settings"]["bootstrap_rounds"] == 20
    assert data["settings"]["seed"] == 3 and data["settings"]["min_votes"] == 5
    assert data["n_votes"] == 800
    assert set(data["rows"][0]) == {
        "model",
        "rating",
        "lower",
        "upper",
        "rank",
        "order",
        "votes",
        "wins",
        "losses",
        "ties",
        "both_bad",
        "provisional",
    }
    assert "votes_to_flip" in data["robustness"] and data["robustness"]["method"]


def test_interval_rank_counts_models_whose_lower_bound_is_above_my_upper_bound():
    lower = [1300, 1250, 1180, 1190, 1000]
    upper = [1350, 1320, 1260, 1200, 1100]
    # model 1: nobody's lower bound above 1320 -> 1; model 2 (upper 1260): 1300 above -> 2;
    # model 3 (upper 1200): 1300, 1250 above -> 3; model 4 (upper 1100): four above -> 5.
    assert interval_ranks(lower, upper).tolist() == [1, 1, 2, 3, 5]


def test_without_intervals_rank_is_the_competition_rank():
    r = [1200.0, 1100.0, 1100.0, 900.0]
    assert interval_ranks(r, r).tolist() == [1, 2, 2, 4]
    assert plain_order(r, ["d", "c", "b", "a"]).tolist() == [1, 3, 2, 4]


def test_rating_scale_is_400_over_ln10_per_logit():
    assert RATING_PER_LOGIT == pytest.approx(173.7177927613007)


def test_the_large_board_solver_agrees_with_newton(monkeypatch):
    from ratings.engine import bt

    table = make_table(12, 3000, seed=14)
    newton = fit_bradley_terry(table, ci="none").by_model
    monkeypatch.setattr(bt, "DENSE_LIMIT", 5)  # force L-BFGS, used above 2,000 models
    lbfgs = fit_bradley_terry(table, ci="none").by_model
    for model, row in newton.items():
        assert lbfgs[model].rating == pytest.approx(row.rating, abs=0.01)


def test_a_model_that_won_every_vote_is_reported_as_not_yet_placed():
    from ratings.engine import VoteTable, fit_bradley_terry

    table = VoteTable.from_counts([("a", "b", "a", 3), ("b", "c", "tie", 2), ("c", "b", "a", 1)])
    board = fit_bradley_terry(table)
    assert any("do not yet place" in w and "a" in w for w in board.warnings)


def test_connected_votes_with_wins_both_ways_raise_no_placement_warning():
    from ratings.engine import VoteTable, fit_bradley_terry

    table = VoteTable.from_counts([("a", "b", "a", 3), ("b", "a", "a", 1), ("b", "c", "tie", 2)])
    board = fit_bradley_terry(table)
    assert not [w for w in board.warnings if "do not yet place" in w]
