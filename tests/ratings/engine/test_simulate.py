import numpy as np
import pytest
from scipy.special import expit

from ratings.engine import simulate_votes
from ratings.engine.simulate import run_policy_simulation, uniform_policy
from ratings.policies import POLICIES

from .factories import RATING_PER_LOGIT, make_strengths


def test_simulated_votes_have_the_requested_tie_share_and_both_bad_among_ties():
    log = simulate_votes(make_strengths(10, seed=1), 40_000, tie_rate=0.3, seed=2)
    ties = np.isin(log.outcome, [2, 3])
    assert ties.mean() == pytest.approx(0.3, abs=0.01)
    assert (log.outcome == 3).sum() / ties.sum() == pytest.approx(0.25, abs=0.02)


def test_expected_score_of_a_pair_is_the_bradley_terry_probability():
    strengths = {"x": 1150.0, "y": 1000.0}
    log = simulate_votes(strengths, 60_000, seed=3)
    score_x = np.where(log.outcome >= 2, 0.5, np.where((log.outcome == 0) == (log.a == 0), 1.0, 0.0))
    assert score_x.mean() == pytest.approx(expit(150.0 / RATING_PER_LOGIT), abs=0.006)


def test_same_seed_same_votes_other_seed_other_votes():
    strengths = make_strengths(5)
    one, two, three = (simulate_votes(strengths, 500, seed=s) for s in (4, 4, 5))
    assert np.array_equal(one.outcome, two.outcome) and np.array_equal(one.a, two.a)
    assert not np.array_equal(one.a, three.a)


def test_array_strengths_get_generated_names():
    log = simulate_votes(np.array([1000.0, 1100.0, 900.0]), 50, seed=0)
    assert log.models == ("model-000", "model-001", "model-002")


def test_uniform_policy_votes_until_every_interval_is_narrow_enough():
    strengths = make_strengths(8, seed=2)
    result = run_policy_simulation(strengths, "uniform", target_halfwidth=30.0, seed=1)
    assert result.votes_needed is not None and result.max_halfwidth < 30.0
    assert result.kendall_tau > 0.6
    again = run_policy_simulation(strengths, "uniform", target_halfwidth=30.0, seed=1)
    assert again.votes_needed == result.votes_needed


def test_active_policy_needs_fewer_votes_than_uniform_on_average():
    uniform, active = [], []
    for seed in range(3):
        strengths = make_strengths(8, seed=seed)
        uniform.append(run_policy_simulation(strengths, "uniform", target_halfwidth=30.0, seed=seed).votes_needed)
        active.append(
            run_policy_simulation(strengths, POLICIES["active"], target_halfwidth=30.0, seed=seed).votes_needed
        )
    assert np.mean(active) < np.mean(uniform)


def test_a_pairing_policy_can_be_plugged_in():
    calls = []

    def only_first_two_and_uniform(state, rng, size):
        calls.append((size, state.pair_votes.sum()))
        return uniform_policy(state, rng, size)

    result = run_policy_simulation(make_strengths(4, seed=1), only_first_two_and_uniform, target_halfwidth=60.0, seed=2)
    assert calls and result.policy == "only_first_two_and_uniform"
    assert result.votes_needed is not None


def test_decision_mode_finds_the_best_model_with_far_fewer_votes_than_uniform():
    from ratings.engine.simulate import random_strengths, run_policy_simulation
    from ratings.policies import POLICIES as APP_POLICIES

    uniform, active = [], []
    for seed in range(3):
        strengths = random_strengths(20, seed, spread=100.0)
        u = run_policy_simulation(strengths, "uniform", seed=seed, objective="top1", epsilon=25.0)
        a = run_policy_simulation(strengths, APP_POLICIES["active"], seed=seed, objective="top1", epsilon=25.0)
        assert u.leader_gap <= 25.0 and a.leader_gap <= 25.0  # the leader found is within ε of the best
        uniform.append(u.votes_needed)
        active.append(a.votes_needed)
    assert sum(active) <= 0.5 * sum(uniform), (active, uniform)
