import pytest

from ratings import boards
from ratings.filters import BoardFilter
from tests.factories import make_user
from tests.ratings.board_factories import cast_votes, make_llms, strong_weak

pytestmark = pytest.mark.django_db

COSTS = {
    "alpha": {"cost": "0.004", "latency_ms": 900},
    "beta": {"cost": "0.001", "latency_ms": 1500},
    "gamma": {"cost": "0.0001", "latency_ms": 100},
}


@pytest.fixture
def arena():
    llms = make_llms("alpha", "beta", "gamma")
    # coding: alpha and beta cannot be told apart; both clearly beat gamma (the cheapest overall).
    cast_votes(
        llms,
        strong_weak("alpha", "beta", wins=10, losses=10)
        + strong_weak("alpha", "gamma", wins=40, losses=4)
        + strong_weak("beta", "gamma", wins=40, losses=4),
        category="coding",
        answer_stats=COSTS,
    )
    # writing: alpha leads clearly.
    cast_votes(
        llms,
        strong_weak("alpha", "beta", wins=40, losses=4)
        + strong_weak("alpha", "gamma", wins=40, losses=4)
        + strong_weak("beta", "gamma", wins=10, losses=10),
        category="writing",
        answer_stats=COSTS,
    )
    return llms


def test_the_cheapest_model_tied_for_first_is_recommended(arena):
    routes = {r.category: r for r in boards.decision(BoardFilter()).routes}
    coding = routes["coding"]
    assert sorted(row["model"] for row in coding.leaders) == ["alpha", "beta"]
    assert coding.cheapest["model"] == "beta" and coding.fastest["model"] == "alpha"
    assert coding.recommended["model"] == "beta" and coding.enough_evidence
    assert coding.recommended["cost_per_1000"] == pytest.approx(1.0)


def test_a_clear_leader_is_recommended_even_when_dearer(arena):
    routes = {r.category: r for r in boards.decision(BoardFilter()).routes}
    writing = routes["writing"]
    assert [row["model"] for row in writing.leaders] == ["alpha"]
    assert writing.recommended["model"] == "alpha" and "Clear leader" in writing.reason


def test_category_boards_share_snapshots_with_the_filtered_boards(arena):
    boards.decision(BoardFilter())
    by_category = dict(boards.category_boards(BoardFilter()))
    assert boards.board_snapshot(BoardFilter(category="coding")).pk == by_category["coding"].pk
    assert by_category["coding"].vote_count == 108


def test_decision_page_shows_the_routing_table_with_its_evidence(client, arena):
    client.force_login(make_user(role="admin"))
    page = client.get("/leaderboard/decision/").content.decode()
    assert "Routing table" in page and "All categories" in page
    coding_row = page[page.index('<th scope="row">coding</th>') :]
    coding_row = coding_row[: coding_row.index("</tr>")]
    assert f"/leaderboard/models/{arena['beta'].code}/" in coding_row
    assert "cheapest of them" in coding_row and "108" in coding_row and "1.00" in coding_row


def test_a_category_filter_narrows_the_routing_table_to_that_category(arena):
    result = boards.decision(BoardFilter(category="coding"))
    assert [r.category for r in result.routes] == ["coding"]
    assert result.overall.votes == 216  # the overall row still covers every category
