import numpy as np
import pytest

from ratings.engine import OUTCOMES, VoteLog, VoteTable

from .factories import log_columns, make_log


def test_outcome_codes_are_the_apps():
    assert OUTCOMES == ("a", "b", "tie", "both_bad")


def test_from_votes_and_from_counts_build_the_same_table():
    votes = [("x", "y", "a"), ("x", "y", "a"), ("y", "x", "tie"), ("z", "x", "both_bad"), ("y", "z", "b")]
    by_vote = VoteTable.from_votes(*zip(*votes))
    by_count = VoteTable.from_counts(
        [("x", "y", "a", 2), ("y", "x", "tie", 1), ("z", "x", "both_bad", 1), ("y", "z", "b", 1)]
    )
    assert by_vote == by_count
    assert by_vote.models == ("x", "y", "z")
    assert by_vote.n_votes == 5


def test_repeated_count_rows_add_up_and_zero_counts_vanish():
    table = VoteTable.from_counts([("x", "y", "a", 2), ("x", "y", "a", 3), ("x", "z", "b", 0)])
    assert list(table.rows()) == [("x", "y", "a", 5)]
    assert table.models == ("x", "y")


def test_rows_round_trip_through_from_counts():
    table = make_log(6, 500, seed=3).to_table()
    assert VoteTable.from_counts(table.rows()) == table


def test_model_stats_keep_ties_and_both_bad_apart():
    table = VoteTable.from_counts(
        [("x", "y", "a", 3), ("y", "x", "a", 1), ("x", "y", "tie", 2), ("x", "y", "both_bad", 4)]
    )
    stats = table.model_stats()
    x, y = table.models.index("x"), table.models.index("y")
    assert stats["votes"][x] == stats["votes"][y] == 10
    assert (stats["wins"][x], stats["losses"][x]) == (3, 1)
    assert (stats["wins"][y], stats["losses"][y]) == (1, 3)
    assert stats["ties"][x] == 2 and stats["both_bad"][x] == 4


def test_pair_counts_merge_positions():
    table = VoteTable.from_counts(
        [("x", "y", "a", 3), ("y", "x", "a", 1), ("y", "x", "b", 2), ("x", "y", "tie", 1), ("y", "x", "both_bad", 1)]
    )
    pc = table.pair_counts()
    assert (pc.wins_i[0], pc.wins_j[0], pc.ties[0], pc.both_bad[0]) == (5, 1, 1, 1)


def test_unknown_outcome_is_rejected_with_its_row():
    with pytest.raises(ValueError, match="row 1: unknown outcome 'draw'"):
        VoteTable.from_counts([("x", "y", "a", 1), ("x", "y", "draw", 1)])
    with pytest.raises(ValueError, match="unknown outcome"):
        VoteTable.from_votes(["x"], ["y"], ["model_a"])


@pytest.mark.parametrize("row", [("x", "x", "a", 1), ("", "y", "a", 1), ("x", "y", "a", -1), ("x", "y", "a", 1.5)])
def test_invalid_count_rows_are_rejected(row):
    with pytest.raises(ValueError):
        VoteTable.from_counts([row])


def test_columns_of_different_length_are_rejected():
    with pytest.raises(ValueError, match="same length"):
        VoteTable.from_votes(["x", "y"], ["y"], ["a", "b"])


def test_swapped_exchanges_positions_and_winners():
    table = VoteTable.from_counts([("x", "y", "a", 2), ("x", "y", "tie", 1)])
    assert sorted(table.swapped().rows()) == [("y", "x", "b", 2), ("y", "x", "tie", 1)]
    assert table.swapped().swapped() == table


def test_subset_keeps_only_votes_among_the_given_models():
    table = VoteTable.from_counts([("x", "y", "a", 2), ("x", "z", "b", 1), ("y", "z", "tie", 4)])
    sub = table.subset(["x", "y"])
    assert list(sub.rows()) == [("x", "y", "a", 2)]


def test_empty_table():
    table = VoteTable.from_counts([])
    assert table.n_votes == 0 and table.models == ()


def test_vote_log_iterates_as_string_tuples_in_order():
    log = VoteLog.from_votes(["b", "a", "c"], ["a", "c", "b"], ["a", "tie", "both_bad"])
    assert list(log) == [("b", "a", "a"), ("a", "c", "tie"), ("c", "b", "both_bad")]
    assert log.to_table() == VoteTable.from_votes(*zip(*log))


def test_vote_order_does_not_change_the_table():
    log = make_log(5, 300, seed=4)
    columns = log_columns(log)
    perm = np.random.default_rng(0).permutation(len(log))
    shuffled = [[col[k] for k in perm] for col in columns]
    assert VoteTable.from_votes(*columns) == VoteTable.from_votes(*shuffled)


def _log_fields(log: VoteLog) -> tuple:
    return log.models, log.a.tolist(), log.b.tolist(), log.outcome.tolist()


@pytest.mark.parametrize("seed", range(5))
def test_a_log_from_ids_is_the_log_from_their_names(seed):
    """``from_ids`` (the refits' path: arrays, no Python step per vote) builds what ``from_votes`` builds
    from each id's name: the same models in the same order, the same codes."""
    rng = np.random.default_rng(seed)
    ids = rng.choice([7, 31, 1002, 44, 5, 90_000], size=6, replace=False)
    n = int(rng.integers(1, 400))
    first = rng.integers(0, len(ids), n)
    second = (first + rng.integers(1, len(ids), n)) % len(ids)
    a, b = ids[first], ids[second]
    outcome = rng.integers(0, 4, n).astype(np.int8)
    names = {int(i): f"model-{i}" for i in ids}
    labels = [OUTCOMES[o] for o in outcome.tolist()]
    by_names = VoteLog.from_votes([names[i] for i in a.tolist()], [names[i] for i in b.tolist()], labels)
    assert _log_fields(VoteLog.from_ids(a, b, outcome, names)) == _log_fields(by_names)


def test_a_log_from_ids_takes_one_name_for_two_ids_as_from_votes_does_and_refuses_a_self_battle():
    names = {1: "same", 2: "same", 3: "other"}
    merged = VoteLog.from_ids(np.array([1, 3]), np.array([3, 2]), np.array([0, 1]), names)
    assert merged.models == ("same", "other") and merged.a.tolist() == [0, 1] and merged.b.tolist() == [1, 0]
    with pytest.raises(ValueError, match="cannot battle itself"):
        VoteLog.from_ids(np.array([1, 3]), np.array([3, 3]), np.array([0, 0]), {1: "x", 3: "y"})
    empty = VoteLog.from_ids(np.array([], dtype=np.int64), np.array([], dtype=np.int64), np.array([]), {})
    assert len(empty) == 0 and empty.models == ()
