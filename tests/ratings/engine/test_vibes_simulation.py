"""The vibes gap on simulated small arenas (``make bench-vibes-gap`` runs the same with more trials)."""

from ratings.engine.vibes_simulation import near_order, planted_order, run_trials


def test_a_near_order_moves_no_model_more_than_one_place():
    import numpy as np

    rng = np.random.default_rng(0)
    for n in (4, 7, 20):
        order = near_order(n, rng)
        assert sorted(order) == list(range(n)) and max(abs(order - np.arange(n))) <= 1
    position = planted_order(20, rng, true_rank=15, benchmark_rank=3)
    assert position[14] == 2 and sorted(position) == list(range(20))


def test_a_benchmark_within_one_place_of_the_truth_flags_at_most_five_percent():
    for models, votes in ((4, 30), (6, 300), (10, 100), (15, 1000)):
        result = run_trials("near", models=models, votes_per_model=votes, trials=25, draws=500)
        assert result.flag_rate <= 0.05, (models, votes, result.flag_rate)


def test_a_reversed_benchmark_over_six_models_with_300_votes_each_flags_both_ends():
    result = run_trials("reversed", models=6, votes_per_model=300, trials=25, draws=500)
    assert result.ends_flagged >= 24


def test_the_seeds_case_is_the_only_model_flagged():
    # 20 models; the truly 15th is 3rd on the benchmark, every other model within one place.
    result = run_trials("planted", models=20, votes_per_model=300, trials=20, draws=500)
    assert result.planted_flagged == 20
    assert result.only_planted >= 18
