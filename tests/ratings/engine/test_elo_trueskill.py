import math

import pytest
import trueskill

from ratings.engine import VoteLog, elo_update, online_elo, trueskill_ratings, trueskill_update

from .factories import make_log


def test_equal_ratings_move_by_half_of_k():
    assert elo_update(1000.0, 1000.0, "a", k=4.0) == pytest.approx((1002.0, 998.0))
    assert elo_update(1000.0, 1000.0, "b", k=32.0) == pytest.approx((984.0, 1016.0))


@pytest.mark.parametrize("outcome", ["tie", "both_bad"])
def test_tie_and_both_bad_pull_ratings_together(outcome):
    # Expected score of the stronger side at +400 is 10/11; a half score moves it by k(1/2 - 10/11).
    a, b = elo_update(1400.0, 1000.0, outcome, k=4.0)
    assert a == pytest.approx(1400.0 + 4.0 * (0.5 - 10 / 11))
    assert a + b == pytest.approx(2400.0)


def test_unknown_outcome_is_rejected():
    with pytest.raises(ValueError, match="unknown outcome"):
        elo_update(1000.0, 1000.0, "model_a")
    with pytest.raises(ValueError, match="vote 1: unknown outcome"):
        online_elo([("x", "y", "a"), ("x", "y", "draw")])


def test_online_elo_applies_votes_in_order():
    votes = [("x", "y", "a"), ("y", "z", "tie"), ("z", "x", "b")]
    expected = {"x": 1000.0, "y": 1000.0, "z": 1000.0}
    for a, b, o in votes:
        expected[a], expected[b] = elo_update(expected[a], expected[b], o, k=4.0)
    assert online_elo(votes) == pytest.approx(expected)
    assert online_elo(list(reversed(votes))) != pytest.approx(expected)


def test_online_elo_fast_path_matches_the_tuple_path():
    log = make_log(6, 3000, seed=2)
    assert online_elo(log, k=8.0, initial=1200.0) == pytest.approx(
        online_elo(list(log), k=8.0, initial=1200.0), abs=1e-9
    )


def test_trueskill_matches_the_trueskill_package_vote_by_vote():
    log = make_log(5, 400, seed=3)
    votes = list(log)
    draw_probability = sum(o in ("tie", "both_bad") for _, _, o in votes) / len(votes)
    env = trueskill.TrueSkill(draw_probability=draw_probability)
    ratings = {}
    for a, b, o in votes:
        ra, rb = ratings.get(a, env.create_rating()), ratings.get(b, env.create_rating())
        if o == "b":
            rb, ra = trueskill.rate_1vs1(rb, ra, env=env)
        else:
            ra, rb = trueskill.rate_1vs1(ra, rb, drawn=o != "a", env=env)
        ratings[a], ratings[b] = ra, rb
    ours = trueskill_ratings(votes)
    assert ours.keys() == ratings.keys()
    for name, (mu, sigma) in ours.items():
        assert mu == pytest.approx(ratings[name].mu, abs=1e-6)
        assert sigma == pytest.approx(ratings[name].sigma, abs=1e-6)
    fast = trueskill_ratings(log)
    assert all(fast[name] == pytest.approx(ours[name]) for name in ours)


def test_trueskill_draw_probability_comes_from_the_observed_tie_share():
    votes = [("x", "y", "tie")] * 3 + [("x", "y", "a")] * 7
    observed = trueskill_ratings(votes)
    explicit = trueskill_ratings(votes, draw_probability=0.3)
    other = trueskill_ratings(votes, draw_probability=0.05)
    assert observed == explicit
    assert observed["x"] != pytest.approx(other["x"])


def test_trueskill_update_is_one_step_of_the_package():
    (mu_a, sigma_a), (mu_b, sigma_b) = trueskill_update((25.0, 25 / 3), (25.0, 25 / 3), "a", draw_probability=0.1)
    assert mu_a > 25 > mu_b
    assert sigma_a < 25 / 3 and math.isclose(sigma_a, sigma_b)
    same = trueskill_ratings([("x", "y", "a")], draw_probability=0.1)
    assert same["x"] == pytest.approx((mu_a, sigma_a)) and same["y"] == pytest.approx((mu_b, sigma_b))


def test_online_signals_accept_an_empty_vote_list():
    assert online_elo([]) == {}
    assert trueskill_ratings([]) == {}
    assert online_elo(VoteLog.from_tuples([])) == {}


def test_the_fast_normal_functions_agree_with_the_trueskill_package():
    from trueskill import backends as mathematics

    from ratings.engine.trueskill_ratings import FAST_NORMAL

    cdf, pdf, ppf = FAST_NORMAL
    for x in [k / 4 for k in range(-40, 41)]:
        assert cdf(x) == pytest.approx(mathematics.cdf(x), abs=2e-7)
        assert pdf(x) == pytest.approx(mathematics.pdf(x), rel=1e-9, abs=1e-300)
        assert cdf(x, 25.0, 8.0) == pytest.approx(mathematics.cdf(x, 25.0, 8.0), abs=2e-7)
    for p in (0.01, 0.3, 0.5, 0.65, 0.99):
        assert ppf(p) == pytest.approx(mathematics.ppf(p), abs=1e-6)


def test_the_closed_form_vote_update_gives_the_packages_rate_1vs1():
    from ratings.engine import ClosedFormTrueSkill

    rater = ClosedFormTrueSkill(0.3)
    ratings = [((25.0, 25 / 3), (25.0, 25 / 3)), ((31.2, 2.1), (18.4, 5.5)), ((12.0, 1.0), (40.0, 7.9))]
    for rating_a, rating_b in ratings:
        for outcome in ("a", "b", "tie", "both_bad"):
            expected = trueskill_update(rating_a, rating_b, outcome, draw_probability=0.3)
            got = rater.rate(rating_a, rating_b, outcome)
            for (mu, sigma), (mu_expected, sigma_expected) in zip(got, expected, strict=True):
                assert mu == pytest.approx(mu_expected, rel=1e-9)
                assert sigma == pytest.approx(sigma_expected, rel=1e-9)
    with pytest.raises(ValueError, match="unknown outcome"):
        rater.rate((25.0, 8.0), (25.0, 8.0), "draw")


def test_the_written_out_update_is_the_packages_v_and_w_to_the_last_bit():
    """The update writes out the package's v/w functions: the same floats, for wins and draws either way round."""
    import math
    import random

    from ratings.engine import ClosedFormTrueSkill

    rng = random.Random(11)
    for draw_probability in (0.02, 0.3, 0.6):
        rater = ClosedFormTrueSkill(draw_probability)
        env = rater.env
        for _ in range(2000):
            mu_x, mu_y = rng.uniform(-10, 60), rng.uniform(-10, 60)
            var_x, var_y = rng.uniform(0.01, 80), rng.uniform(0.01, 80)
            drawn = rng.random() < 0.4
            vx, vy = var_x + env.tau**2, var_y + env.tau**2
            c2 = 2.0 * env.beta**2 + vx + vy
            c = math.sqrt(c2)
            t, eps = (mu_x - mu_y) / c, rater.margin / c
            try:
                v, w = (env.v_draw(t, eps), env.w_draw(t, eps)) if drawn else (env.v_win(t, eps), env.w_win(t, eps))
            except FloatingPointError:
                with pytest.raises(FloatingPointError):
                    rater.update(mu_x, var_x, mu_y, var_y, drawn=drawn)
                continue
            expected = (mu_x + vx / c * v, vx * (1.0 - vx / c2 * w), mu_y - vy / c * v, vy * (1.0 - vy / c2 * w))
            assert rater.update(mu_x, var_x, mu_y, var_y, drawn=drawn) == expected


def test_a_replay_applies_the_closed_form_update_vote_by_vote_to_the_last_bit():
    """The replay writes the update out inside its loop: it must still give ``update``'s floats, vote after vote."""
    from ratings.engine import ClosedFormTrueSkill
    from ratings.engine.data import B_WINS

    for seed, draw_probability in ((4, None), (5, 0.02), (6, 0.6)):
        log = make_log(7, 5000, seed=seed)
        codes = log.outcome.tolist()
        share = draw_probability if draw_probability is not None else sum(o > B_WINS for o in codes) / len(codes)
        rater = ClosedFormTrueSkill(share)
        ratings = dict.fromkeys(log.models, (rater.env.mu, rater.env.sigma**2))
        for x, y, outcome in zip(log.a.tolist(), log.b.tolist(), codes, strict=True):
            if outcome == B_WINS:
                x, y = y, x
            (mu_x, var_x), (mu_y, var_y) = ratings[log.models[x]], ratings[log.models[y]]
            mu_x, var_x, mu_y, var_y = rater.update(mu_x, var_x, mu_y, var_y, drawn=outcome > B_WINS)
            ratings[log.models[x]], ratings[log.models[y]] = (mu_x, var_x), (mu_y, var_y)
        replayed = trueskill_ratings(log, draw_probability=draw_probability)
        assert replayed == {name: (mu, math.sqrt(var)) for name, (mu, var) in ratings.items()}
