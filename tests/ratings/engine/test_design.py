"""The minimax design: the yardstick for pairing policies (``--policy oracle``)."""

import numpy as np
import pytest
from scipy.special import expit

from ratings.engine.bt import PairData, fit_pairs, sandwich_covariance
from ratings.engine.design import design_variances, minimax_design, pair_moments
from ratings.engine.simulate import draw_outcomes, oracle_policy, run_policy_simulation, tie_scale

from .factories import RATING_PER_LOGIT, make_strengths


def _beta(n_models, seed, spread=100.0):
    return np.array(list(make_strengths(n_models, seed=seed, spread=spread).values())) / RATING_PER_LOGIT


def test_design_variances_are_what_the_engine_estimates_from_votes_cast_that_way():
    beta = _beta(6, seed=4, spread=150.0)
    m = len(beta)
    c = 0.5
    i, j, h, g = pair_moments(beta, c)
    weights = np.random.default_rng(0).dirichlet(np.ones(len(i)))
    per_vote = design_variances(m, i, j, h, g, weights)[0]

    rng = np.random.default_rng(1)
    n = 400_000
    pair = rng.choice(len(i), size=n, p=weights)
    outcome = draw_outcomes(expit(beta[i[pair]] - beta[j[pair]]), rng, scale=c)
    counts = np.zeros((len(i), 3))
    np.add.at(counts, (pair, np.where(outcome == 0, 0, np.where(outcome == 1, 1, 2))), 1.0)
    data = PairData(m, i, j, counts[:, 0], counts[:, 1], counts[:, 2], np.ones(len(i)))
    fitted = fit_pairs(data)
    estimated = np.diag(sandwich_covariance(data, fitted - fitted.mean())) * n
    assert estimated == pytest.approx(per_vote, rel=0.05)


def test_gradient_used_by_the_optimiser_matches_finite_differences():
    beta = _beta(5, seed=2)
    m = len(beta)
    i, j, h, g = pair_moments(beta, 0.4)
    rng = np.random.default_rng(3)
    w = rng.dirichlet(np.ones(len(i)))
    var, h_inv, cov = design_variances(m, i, j, h, g, w)
    k = int(np.argmax(var))
    a = h_inv[:, i] - h_inv[:, j]
    b = cov[:, i] - cov[:, j]
    analytic = g * a[k] ** 2 - 2.0 * h * a[k] * b[k]
    eps = 1e-7
    numeric = np.array(
        [(design_variances(m, i, j, h, g, w + eps * np.eye(len(i))[e])[0][k] - var[k]) / eps for e in range(len(i))]
    )
    assert analytic == pytest.approx(numeric, rel=1e-4, abs=1e-6)


def test_minimax_design_beats_uniform_and_no_pair_share_helps_it_further():
    beta = _beta(8, seed=5, spread=130.0)
    m = len(beta)
    i, j, weights, best = minimax_design(beta, 0.5)
    _, _, h, g = pair_moments(beta, 0.5)
    uniform = design_variances(m, i, j, h, g, np.full(len(i), 1.0 / len(i)))[0].max()
    assert weights.sum() == pytest.approx(1.0) and (weights >= 0).all()
    assert best < 0.9 * uniform
    # A local optimum check: moving 2% of the votes to any single pair never lowers the maximum.
    for e in range(len(i)):
        moved = 0.98 * weights + 0.02 * np.eye(len(i))[e]
        assert design_variances(m, i, j, h, g, moved)[0].max() >= best * (1 - 1e-4)


def test_equal_strengths_make_every_pair_equally_useful():
    i, j, weights, best = minimax_design(np.zeros(4), 0.5)
    _, _, h, g = pair_moments(np.zeros(4), 0.5)
    uniform = design_variances(4, i, j, h, g, np.full(6, 1 / 6))[0].max()
    assert best == pytest.approx(uniform, rel=1e-3)


def test_two_models_have_one_pair():
    i, j, weights, best = minimax_design(np.array([0.0, 1.0]), 0.0)
    p = expit(-1.0)
    assert list(weights) == [1.0]
    # Centred ratings: each is ± half the difference, whose variance per vote is 1 / (p(1 − p)).
    assert best == pytest.approx(0.25 / (p * (1 - p)))


def test_oracle_policy_draws_pairs_by_the_design_for_the_true_strengths():
    strengths = make_strengths(6, seed=1, spread=150.0)
    beta = np.array(list(strengths.values())) / RATING_PER_LOGIT
    iu = np.triu_indices(6, 1)
    c = tie_scale(expit(beta[iu[0]] - beta[iu[1]]), 0.3)
    i, j, weights, _ = minimax_design(beta, c)
    pairs = oracle_policy(strengths, 0.3)(None, np.random.default_rng(0), 60_000)
    index = {(a, b): k for k, (a, b) in enumerate(zip(i, j))}
    share = np.bincount([index[tuple(p)] for p in pairs], minlength=len(i)) / len(pairs)
    assert share == pytest.approx(weights, abs=0.01)
    result = run_policy_simulation(strengths, oracle_policy(strengths, 0.3), target_halfwidth=40.0, seed=2)
    assert result.policy == "oracle" and result.votes_needed is not None
