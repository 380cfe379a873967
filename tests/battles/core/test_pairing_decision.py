"""Decision mode of the pairing policy: LUCB among the models that can still be best. Pure."""

import numpy as np
import pytest

from battles.core.pairing import PairingState, pair_probabilities, plan_batch, top1_decision
from ratings.engine.top1 import top1_status, votes_to_decide


def state(ratings, sd, *, epsilon=25.0):
    m = len(ratings)
    return PairingState(
        ratings=np.array(ratings, dtype=float),
        covariance=np.eye(m) * sd**2,
        votes=np.full(m, 500),
        families=list(range(m)),
        top1_epsilon=epsilon,
    )


def test_the_pairing_rule_and_the_engine_rule_agree():
    rng = np.random.default_rng(0)
    for _ in range(50):
        m = int(rng.integers(2, 15))
        ratings = rng.normal(1000, 100, m)
        a = rng.normal(size=(m, m))
        cov = a @ a.T * rng.uniform(10, 2000)
        eps = float(rng.uniform(5, 60))
        ours = top1_decision(ratings, cov, epsilon=eps)
        engine = top1_status(ratings, cov, epsilon=eps)
        assert (ours.leader, ours.decided, ours.open) == (engine.leader, engine.decided, engine.open)


def test_the_active_share_goes_to_the_leader_and_its_strongest_challenger():
    # 0 leads 1 by 10 (open), 2 is 300 points behind (settled), 3 is 40 behind with a wide interval.
    s = state([1300, 1290, 1000, 1260], 15.0)
    s = PairingState(s.ratings, np.diag([15.0, 15.0, 15.0, 60.0]) ** 2, s.votes, s.families, top1_epsilon=25.0)
    decision = top1_decision(s.ratings, s.covariance, epsilon=25.0)
    assert not decision.decided and set(decision.open) == {1, 3} and decision.leader == 0
    probs = pair_probabilities(s, floor=0.1, boost_votes=0)
    # The uniform floor spreads 10% over the six pairs; the other 90% is on (0, 3), the widest bound.
    assert probs[0, 3] == pytest.approx(0.9 + 0.1 / 6)
    assert probs[0, 2] == pytest.approx(0.1 / 6) and probs[1, 2] == pytest.approx(0.1 / 6)
    # A batch moves on to the next challenger as the first pair's uncertainty shrinks.
    picks = plan_batch(s, np.random.default_rng(1), 200, floor=0.1, boost_votes=0)
    pairs = {tuple(p) for p in picks.tolist()}
    assert (0, 3) in pairs and (0, 1) in pairs


def test_once_decided_the_policy_falls_back_to_the_interval_rule():
    s = state([1300, 1000, 900], 5.0)
    assert top1_decision(s.ratings, s.covariance, epsilon=25.0).decided
    interval = PairingState(s.ratings, s.covariance, s.votes, s.families)
    assert pair_probabilities(s) == pytest.approx(pair_probabilities(interval))


def test_roughly_how_many_more_votes_shrinks_to_zero_when_decided():
    ratings = np.array([1100.0, 1090.0, 900.0])
    wide = np.eye(3) * 40.0**2
    narrow = np.eye(3) * 5.0**2
    assert votes_to_decide(ratings, narrow, 1000, epsilon=25.0) == 0
    more = votes_to_decide(ratings, wide, 1000, epsilon=25.0)
    assert more is not None and more > 1000
    assert votes_to_decide(ratings, wide, 1000, epsilon=60.0) < more
