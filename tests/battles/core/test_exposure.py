"""The exposure cap (issue 12, point 9): no LLM in more than 1.5x its uniform share of any 20 battles of a voter."""

from __future__ import annotations

import numpy as np
import pytest

from battles.core.exposure import appearances, choose_within_cap, exposure_cap
from battles.core.pairing import UNSEEN_VARIANCE, PairingState, choose_pair


@pytest.mark.parametrize(("llms", "cap"), [(2, None), (3, None), (4, 15), (5, 12), (6, 10), (10, 6), (30, 2), (100, 1)])
def test_the_cap_is_one_and_a_half_uniform_shares_of_twenty_battles(llms, cap):
    assert exposure_cap(llms) == cap


def _arena_with_a_newcomer(m: int) -> PairingState:
    """m − 1 settled LLMs (many votes, narrow intervals) and one new LLM (index m − 1): the boost
    and the active rule both want the newcomer in every battle."""
    covariance = np.eye(m) * 20.0**2
    covariance[m - 1, m - 1] = UNSEEN_VARIANCE
    votes = np.full(m, 5000)
    votes[m - 1] = 0
    return PairingState(np.full(m, 1000.0), covariance, votes, list(range(m)))


def _serve(state: PairingState, battles: int, *, capped: bool, seed: int = 1) -> list[tuple[int, int]]:
    rng = np.random.default_rng(seed)
    served: list[tuple[int, int]] = []
    for _ in range(battles):
        recent = served[::-1]  # newest first
        if capped:
            pair = choose_within_cap(state, rng, recent=recent, floor=0.1, boost_votes=200)
        else:
            pair = choose_pair(state, rng, floor=0.1, boost_votes=200)
        assert pair is not None
        served.append(pair)
    return served


def _worst_window(served: list[tuple[int, int]], llm: int, window: int = 20) -> int:
    return max(sum(llm in pair for pair in served[i : i + window]) for i in range(len(served) - window + 1))


@pytest.mark.parametrize("m", [4, 6, 9])
def test_a_boosted_newcomer_stays_within_the_cap_in_every_window_of_twenty(m):
    state = _arena_with_a_newcomer(m)
    cap = exposure_cap(m)
    served = _serve(state, 300, capped=True)
    for llm in range(m):
        assert _worst_window(served, llm) <= cap
    # The boost still works, up to the cap: the newcomer is seen well above its uniform share.
    newcomer_share = sum(m - 1 in pair for pair in served) / len(served)
    assert newcomer_share >= 0.8 * cap / 20


def test_without_the_cap_the_newcomer_would_be_in_almost_every_battle():
    # What the cap prevents (and what makes the test above able to fail).
    served = _serve(_arena_with_a_newcomer(6), 100, capped=False)
    assert _worst_window(served, 5) > exposure_cap(6)


def test_with_fewer_than_four_llms_there_is_no_cap():
    served = _serve(_arena_with_a_newcomer(3), 60, capped=True)
    assert _worst_window(served, 2) > 15


def test_when_no_pair_meets_the_cap_the_least_exposed_pair_is_served():
    state = PairingState.unseen(4)
    recent = [(0, 1)] * 19  # LLMs 0 and 1 are at the cap (15 of the last 19)
    # Only pairs with 0 or 1 are left (say, no prompt for (2, 3)): the least exposed is still served.
    pair = choose_within_cap(state, np.random.default_rng(0), recent=recent, exclude=[(2, 3)])
    assert pair is not None and set(pair) & {2, 3}


def test_appearances_count_the_battles_that_share_a_window_with_the_next_one():
    recent = [("a", "b")] * 25
    assert appearances(recent) == {"a": 19, "b": 19}
    assert appearances([("a", "a")]) == {"a": 1}
