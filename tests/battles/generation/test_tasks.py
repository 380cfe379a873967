"""How generation work is cut into tasks, and how long a retry waits."""

from battles.generation.tasks import backoff_seconds, batches


def test_batches_hold_one_model_each_and_models_take_turns():
    items = [(i, "a") for i in range(5)] + [(10 + i, "b") for i in range(3)]
    assert batches(items, 2) == [[0, 1], [10, 11], [2, 3], [12], [4]]


def test_a_batch_is_never_larger_than_asked():
    assert [len(b) for b in batches([(i, None) for i in range(7)], 3)] == [3, 3, 1]
    assert batches([], 5) == []


def test_a_retry_never_comes_sooner_than_the_provider_asked():
    assert all(backoff_seconds(0, 12.0) >= 12.0 for _ in range(50))
    assert all(0 <= backoff_seconds(3, None) <= 8 for _ in range(50))
    assert all(backoff_seconds(20, None) <= 60 for _ in range(50))
