import math

import numpy as np
import pytest
from scipy.stats import kendalltau

from ratings.engine.ranks import kendall_tau


def test_kendall_tau_gives_scipys_number_with_and_without_ties():
    rng = np.random.default_rng(5)
    for case in range(300):
        n = int(rng.integers(2, 40))
        x = rng.normal(size=n)
        y = x + rng.normal(size=n)
        if case % 2:  # rounded: many ties in both
            x, y = np.round(x), np.round(2 * y)
        assert kendall_tau(x, y) == float(kendalltau(x, y).statistic)


def test_kendall_tau_of_identical_and_reversed_orders():
    assert kendall_tau([1, 2, 3, 4], [10, 20, 30, 40]) == 1.0
    assert kendall_tau([1, 2, 3, 4], [4, 3, 2, 1]) == -1.0


def test_kendall_tau_is_undefined_for_a_constant_scoring():
    assert math.isnan(kendall_tau([1, 1, 1], [1, 2, 3]))
    assert math.isnan(kendall_tau([5.0], [2.0]))


def test_kendall_tau_refuses_sequences_of_different_lengths():
    with pytest.raises(ValueError):
        kendall_tau([1, 2, 3], [1, 2])
