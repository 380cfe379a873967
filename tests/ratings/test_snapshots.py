"""The stored form of a board: SnapshotPayload round trips, and payloads stored before it had a version."""

import json

import pytest

from ratings import boards, services
from ratings.engine import VoteTable, fit_bradley_terry, fit_style_controlled, simulate_style_votes
from ratings.filters import BoardFilter
from ratings.models import RatingSnapshot
from ratings.scopes import DEFAULT_SCOPE
from ratings.snapshots import VERSION, SnapshotPayload, board_payload, empty_board_payload, style_payload
from tests.ratings.board_factories import cast_votes, make_llms, strong_weak

# A default-board payload as stored before payloads had a version (trimmed to two models).
LEGACY_DEFAULT = {
    "method": "bradley_terry",
    "settings": {"ci": "sandwich", "confidence": 0.95, "min_votes": 30, "scale": 400.0, "base": 10.0},
    "n_votes": 20,
    "n_models": 2,
    "rows": [
        {
            "model": "fancy",
            "rating": 1100.0,
            "lower": 1050.0,
            "upper": 1150.0,
            "rank": 1,
            "order": 1,
            "votes": 20,
            "wins": 15,
            "losses": 4,
            "ties": 1,
            "both_bad": 0,
            "provisional": True,
        },
        {
            "model": "plain",
            "rating": 900.0,
            "lower": 850.0,
            "upper": 950.0,
            "rank": 2,
            "order": 2,
            "votes": 20,
            "wins": 4,
            "losses": 15,
            "ties": 1,
            "both_bad": 0,
            "provisional": True,
        },
    ],
    "warnings": [],
    "robustness": {
        "leader": "fancy",
        "challenger": "plain",
        "votes_to_flip": 6,
        "share_of_votes": 0.3,
        "dropped": [],
        "method": "greedy influence removal",
    },
    "covariance_models": ["fancy", "plain"],
    "covariance": [[625.0, -625.0], [-625.0, 625.0]],
    "models": ["fancy", "plain"],
    "pairs": [[0, 1, 15, 4, 1, 0]],
    "outcome_totals": {"a": 15, "b": 4, "tie": 1, "both_bad": 0},
    "version_ids": {"fancy": 1, "plain": 2},
}


def _fitted_payload(*, covariance: bool) -> SnapshotPayload:
    table = VoteTable.from_counts(
        [
            ("x", "y", "a", 30),
            ("x", "y", "b", 12),
            ("y", "z", "a", 25),
            ("z", "y", "a", 10),
            ("x", "z", "tie", 4),
            ("x", "z", "both_bad", 2),
            ("x", "z", "a", 9),
        ]
    )
    payload = board_payload(fit_bradley_terry(table), table, covariance=covariance)
    payload.outcome_totals = {"a": 64, "b": 12, "tie": 4, "both_bad": 2}
    payload.version_ids = {"x": 7, "y": 8, "z": 9}
    return payload


@pytest.mark.parametrize("covariance", [True, False])
def test_a_board_payload_survives_json_unchanged(covariance):
    payload = _fitted_payload(covariance=covariance)
    stored = json.loads(json.dumps(payload.to_json()))
    assert stored["version"] == VERSION
    assert SnapshotPayload.from_json(stored) == payload
    assert ("covariance" in stored) is covariance and ("covariance_models" in stored) is covariance


def test_a_board_payload_keeps_the_engine_board_robustness_and_head_to_head_counts():
    payload = _fitted_payload(covariance=True)
    stored = payload.to_json()
    assert list(stored) == [
        "version",
        "method",
        "settings",
        "n_votes",
        "n_models",
        "rows",
        "warnings",
        "robustness",
        "covariance_models",
        "covariance",
        "models",
        "pairs",
        "outcome_totals",
        "version_ids",
    ]
    assert stored["robustness"]["leader"] == stored["rows"][0]["model"]
    assert stored["models"] == ["x", "y", "z"]
    # [i, j, wins of i, wins of j, ties, both bad] per unordered pair
    assert [0, 1, 30, 12, 0, 0] in stored["pairs"] and [0, 2, 9, 0, 4, 2] in stored["pairs"]
    assert payload.ratings() == {row["model"]: row["rating"] for row in stored["rows"]}


def test_a_style_payload_survives_json_unchanged():
    sim = simulate_style_votes({"a": 1100.0, "b": 1000.0, "c": 950.0}, 600, [0.3, 0.0, 0.1, 0.0], seed=2)
    board = fit_style_controlled(sim.votes, sim.style_a, sim.style_b)
    payload = style_payload(board, version_ids={"a": 1, "b": 2, "c": 3}, votes_without_answers=4)
    stored = json.loads(json.dumps(payload.to_json()))
    assert SnapshotPayload.from_json(stored) == payload
    assert stored["method"] == "bradley_terry_style_controlled" and stored["votes_without_answers"] == 4
    assert set(stored["coefficients"]) == {"length", "headers", "bold", "list_items"}
    assert "pairs" not in stored and "online" not in stored


def test_empty_parts_stay_apart_from_absent_ones():
    replayed = empty_board_payload()
    replayed.online = {}
    stored = replayed.to_json()
    assert stored == {"version": VERSION, "rows": [], "models": [], "pairs": [], "online": {}, "version_ids": {}}
    back = SnapshotPayload.from_json(stored)
    assert back.online == {} and back.has("online", "pairs") and not back.has("robustness")
    assert not SnapshotPayload.from_json(empty_board_payload().to_json()).has("online")
    assert style_payload(None, version_ids={}, votes_without_answers=3).to_json() == {
        "version": VERSION,
        "coefficients": {},
        "rows": [],
        "version_ids": {},
        "votes_without_answers": 3,
    }


def test_a_payload_stored_before_versions_reads_as_version_0_with_every_part():
    payload = SnapshotPayload.from_json(LEGACY_DEFAULT)
    assert payload.version == 0
    assert payload.rows == LEGACY_DEFAULT["rows"] and payload.version_ids == {"fancy": 1, "plain": 2}
    assert payload.pairs == [[0, 1, 15, 4, 1, 0]] and payload.robustness["votes_to_flip"] == 6
    assert payload.covariance == [[625.0, -625.0], [-625.0, 625.0]]
    assert payload.online is None and payload.has("pairs") and not payload.has("online")
    # Written again, it is the current format with the same content.
    assert payload.to_json() == {"version": VERSION, **LEGACY_DEFAULT}


def test_an_old_payload_without_newer_parts_reads_with_them_absent():
    payload = SnapshotPayload.from_json({"rows": LEGACY_DEFAULT["rows"], "unknown_key": 1})
    assert payload.version == 0 and payload.version_ids == {} and payload.outcome_totals is None
    assert not payload.has("pairs") and payload.pairs is None
    assert "unknown_key" not in payload.to_json()
    assert SnapshotPayload.from_json({}).rows == []


@pytest.mark.parametrize("version", [VERSION + 1, -1, "1", True])
def test_a_payload_of_an_unknown_version_is_refused(version):
    with pytest.raises(ValueError, match="version"):
        SnapshotPayload.from_json({**LEGACY_DEFAULT, "version": version})


# --- stored snapshots ------------------------------------------------------------------------


@pytest.mark.django_db
@pytest.mark.served_boards
def test_a_legacy_default_snapshot_in_the_database_still_serves_the_board_and_the_pairing_policy():
    llms = make_llms("fancy", "plain")  # first versions: labelled by the LLM's name, as in the payload
    ids = {name: llm.current_version().pk for name, llm in llms.items()}
    stored = RatingSnapshot.objects.create(
        scope=DEFAULT_SCOPE,
        settings=services.engine_settings(),
        vote_count=20,
        vote_hash="0" * 64,
        payload={**LEGACY_DEFAULT, "version_ids": ids},
    )

    estimates = services.pairing_estimates()
    assert estimates.ratings == {ids["fancy"]: 1100.0, ids["plain"]: 900.0}
    assert estimates.covariance[(ids["fancy"], ids["plain"])] == -625.0
    served = boards.serve(BoardFilter())
    snapshot = served.snapshot
    # Served as it is; it does not say which votes it saw, so it counts as changed and is refitted.
    assert snapshot.pk == stored.pk and served.changed and served.refitting
    rows = boards.board_rows(snapshot)
    assert [(r["model"], r["version_id"], r["rating"]) for r in rows] == [
        ("fancy", ids["fancy"], 1100.0),
        ("plain", ids["plain"], 900.0),
    ]
    assert boards.head_to_head(snapshot).battles[0][1] == 20
    assert boards.robustness_of(snapshot)["votes_to_flip"] == 6


@pytest.mark.django_db
def test_a_legacy_default_snapshot_without_head_to_head_counts_is_refitted_as_the_current_format():
    llms = make_llms("fancy", "plain")
    cast_votes(llms, strong_weak("fancy", "plain"))
    old = {key: value for key, value in LEGACY_DEFAULT.items() if key not in ("models", "pairs")}
    RatingSnapshot.objects.create(
        scope=DEFAULT_SCOPE, settings=services.engine_settings(), vote_count=20, vote_hash="0" * 64, payload=old
    )
    snapshot = boards.board_snapshot(BoardFilter())
    assert snapshot.payload["version"] == VERSION and snapshot.data.has("pairs")
    assert snapshot.vote_count == 10
    assert sum(row["votes"] for row in snapshot.data.rows) == 20  # each vote counts for both models
