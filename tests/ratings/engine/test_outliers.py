import numpy as np

from ratings.engine.outliers import canonical, outcome_p_value, sequential_outlier_test


def _honest_and_contrarian(seed=0, honest_voters=40, votes_each=60):
    """Everyone prefers the stronger model 80% of the time; one voter always picks the weaker."""
    rng = np.random.default_rng(seed)
    strength = {"m0": 3, "m1": 2, "m2": 1, "m3": 0}
    models = list(strength)
    votes = []
    for v in range(honest_voters + 1):
        for _ in range(votes_each):
            a, b = rng.choice(models, 2, replace=False)
            stronger_is_a = strength[a] > strength[b]
            if v == honest_voters:  # the contrarian
                outcome = "b" if stronger_is_a else "a"
            else:
                r = rng.random()
                outcome = (
                    "tie"
                    if r < 0.1
                    else (("a" if stronger_is_a else "b") if r < 0.82 else ("b" if stronger_is_a else "a"))
                )
            votes.append((f"voter{v}", a, b, outcome))
    rng.shuffle(votes)
    return votes, f"voter{honest_voters}"


def test_canonical_orientation_flips_the_outcome():
    assert canonical("x", "y", "a") == (("x", "y"), 0)
    assert canonical("y", "x", "a") == (("x", "y"), 2)
    assert canonical("y", "x", "both_bad") == (("x", "y"), 1)


def test_the_most_common_outcome_has_conservative_p_value_one():
    counts = np.array([80.0, 10.0, 10.0])
    assert abs(outcome_p_value(counts, 0) - 1.0) < 1e-9
    assert outcome_p_value(counts, 1) < 0.25


def test_randomised_p_values_are_uniform_for_a_typical_voter():
    rng = np.random.default_rng(1)
    counts = np.array([70.0, 20.0, 10.0])
    probs = (counts + 1) / (counts.sum() + 3)
    draws = [outcome_p_value(counts, int(rng.choice(3, p=probs)), u=rng.random()) for _ in range(20000)]
    hist, _ = np.histogram(draws, bins=10, range=(0, 1))
    assert np.all(np.abs(hist / len(draws) - 0.1) < 0.015)


def test_a_voter_who_always_picks_the_weaker_model_is_flagged():
    votes, contrarian = _honest_and_contrarian()
    results = {r.voter: r for r in sequential_outlier_test(votes)}
    assert results[contrarian].flagged
    false_alarms = [r for v, r in results.items() if v != contrarian and r.flagged]
    assert len(false_alarms) <= 1


def test_honest_voters_are_rarely_flagged_across_seeds():
    flagged = total = 0
    for seed in range(5):
        votes, contrarian = _honest_and_contrarian(seed)
        for r in sequential_outlier_test([v for v in votes if v[0] != contrarian]):
            total += 1
            flagged += r.flagged
    assert flagged / total <= 0.02


def test_voters_with_too_few_votes_are_not_flagged():
    votes, contrarian = _honest_and_contrarian()
    few = [v for v in votes if v[0] != contrarian] + [v for v in votes if v[0] == contrarian][:3]
    result = {r.voter: r for r in sequential_outlier_test(few)}[contrarian]
    assert not result.flagged
