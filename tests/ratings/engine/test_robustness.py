import itertools

import numpy as np

from ratings.engine import VoteTable, board_robustness, fit_bradley_terry, with_robustness

from .factories import make_log

LABEL_TO_OUTCOME = {"win": "a", "loss": "b", "tie_or_both_bad": "tie"}


def leader(table: VoteTable) -> str:
    return fit_bradley_terry(table, ci="none").rows[0].model


def drop_votes(table: VoteTable, dropped: list[dict]) -> VoteTable:
    """Remove the reported votes (ties and both-bad are interchangeable in the fit)."""
    remaining: dict[tuple[str, str, str], int] = {}
    for a, b, o, n in table.rows():
        key = (a, b, o) if a < b else (b, a, {"a": "b", "b": "a"}.get(o, o))
        key = key if key[2] != "both_bad" else (key[0], key[1], "tie")
        remaining[key] = remaining.get(key, 0) + n
    for d in dropped:
        key = (d["model"], d["opponent"], LABEL_TO_OUTCOME[d["result"]])
        remaining[key] -= d["votes"]
        assert remaining[key] >= 0
    return VoteTable.from_counts((a, b, o, n) for (a, b, o), n in remaining.items())


def brute_force_minimum(table: VoteTable, limit: int) -> int | None:
    """Smallest number of dropped votes that changes the leader, by exhaustive search."""
    first = leader(table)
    cells: dict[tuple[str, str, str], int] = {}
    for a, b, o, n in table.rows():
        cells[(a, b, o)] = cells.get((a, b, o), 0) + n
    keys = list(cells)
    for k in range(1, limit + 1):
        for combo in itertools.combinations_with_replacement(range(len(keys)), k):
            take = np.bincount(combo, minlength=len(keys))
            if any(take[i] > cells[keys[i]] for i in range(len(keys))):
                continue
            rows = [(a, b, o, cells[(a, b, o)] - int(take[i])) for i, (a, b, o) in enumerate(keys)]
            if leader(VoteTable.from_counts(rows)) != first:
                return k
    return None


def test_votes_to_flip_is_an_upper_bound_close_to_the_exhaustive_minimum():
    table = VoteTable.from_counts(
        [
            ("x", "y", "a", 11),
            ("x", "y", "b", 6),
            ("x", "y", "tie", 3),
            ("x", "z", "a", 8),
            ("x", "z", "b", 4),
            ("y", "z", "a", 8),
            ("y", "z", "b", 3),
            ("y", "z", "both_bad", 2),
        ]
    )
    result = board_robustness(fit_bradley_terry(table))
    exact = brute_force_minimum(table, limit=7)
    assert exact is not None and exact >= 4
    assert exact <= result["votes_to_flip"] <= exact + 1
    assert result["leader"] == "x"


def test_dropping_the_reported_votes_really_changes_the_leader():
    table = make_log(8, 4000, seed=12).to_table()
    board = fit_bradley_terry(table)
    result = board_robustness(board)
    assert result["leader"] == board.rows[0].model
    assert result["votes_to_flip"] == sum(d["votes"] for d in result["dropped"])
    assert leader(drop_votes(table, result["dropped"])) != result["leader"]
    assert 0 < result["share_of_votes"] < 1
    assert "influence" in result["method"] and "refit" in result["method"]


def test_a_clearer_lead_needs_more_votes_to_flip():
    close = VoteTable.from_counts(
        [
            ("x", "y", "a", 55),
            ("x", "y", "b", 45),
            ("x", "z", "a", 60),
            ("z", "x", "a", 40),
            ("y", "z", "a", 50),
            ("z", "y", "a", 50),
        ]
    )
    clear = VoteTable.from_counts(
        [
            ("x", "y", "a", 75),
            ("x", "y", "b", 25),
            ("x", "z", "a", 75),
            ("z", "x", "a", 25),
            ("y", "z", "a", 50),
            ("z", "y", "a", 50),
        ]
    )
    assert (
        board_robustness(fit_bradley_terry(close))["votes_to_flip"]
        < board_robustness(fit_bradley_terry(clear))["votes_to_flip"]
    )


def test_with_robustness_is_the_board_json_plus_robustness_as_the_last_key():
    board = fit_bradley_terry(make_log(4, 600, seed=3).to_table())
    data = with_robustness(board)
    assert list(data) == [*board.to_dict(), "robustness"]
    assert {k: v for k, v in data.items() if k != "robustness"} == board.to_dict()
    assert data["robustness"] == board_robustness(board)
    assert "robustness" not in board.to_dict()  # the fit itself never refits


def test_a_board_without_votes_has_no_robustness():
    board = fit_bradley_terry(VoteTable.from_counts([]))
    assert board_robustness(board) is None
    assert with_robustness(board)["robustness"] is None
