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


def test_an_eval_lead_sets_an_objective_and_the_page_says_decided_or_how_many_more_votes(client, arena):
    from ratings import services
    from ratings.models import DecisionObjective

    services.compute_snapshot()
    lead = make_user(role="eval_lead")
    client.force_login(lead)
    response = client.post("/leaderboard/decision/objective/", {"category": "writing", "epsilon": "25"})
    assert response.status_code == 302
    client.post("/leaderboard/decision/objective/", {"category": "coding", "epsilon": "25"})
    assert DecisionObjective.objects.get(category="writing").set_by == lead
    page = client.get("/leaderboard/decision/").content.decode()
    section = page.split('id="decision-mode"')[1]
    rows = {row.split("</td>")[0].split("<td>")[-1]: row for row in section.split("<tr>")[2:]}
    # writing: alpha leads beta 40–4 and gamma 40–4: decided. coding: alpha and beta 10–10: open.
    assert "decided</strong>: alpha is the best within 25 points" in rows["writing"]
    assert "open: 1 model can still beat" in rows["coding"] and "more vote" in rows["coding"]
    assert "find the best model within ε" in page


def test_the_arena_wide_objective_reaches_the_pairing_policy(client, arena):
    from battles.signals import current_estimates
    from battles.voting.serving import pairing_state
    from ratings import services

    services.compute_snapshot()
    assert current_estimates().top1_epsilon is None
    client.force_login(make_user(role="eval_lead"))
    client.post("/leaderboard/decision/objective/", {"category": "", "epsilon": "30"})
    estimates = current_estimates()
    assert estimates.top1_epsilon == 30.0 and estimates.top1_confidence == 0.95
    versions = list(estimates.ratings)
    assert pairing_state(versions, versions).top1_epsilon == 30.0
    client.post("/leaderboard/decision/objective/", {"category": "", "action": "clear"})
    assert current_estimates().top1_epsilon is None


def test_bad_objectives_are_refused_with_a_message_and_voters_cannot_set_any(client, arena):
    from ratings.models import DecisionObjective

    client.force_login(make_user(role="eval_lead"))
    for data, message in (
        ({"category": "nope", "epsilon": "25"}, "No prompt has the category “nope”."),
        ({"category": "", "epsilon": "0"}, "ε must be between 1 and 400"),
        ({"category": "", "epsilon": "abc"}, "ε must be a number"),
        ({"category": "", "epsilon": "nan"}, "ε must be between"),
    ):
        page = client.post("/leaderboard/decision/objective/", data, follow=True).content.decode()
        assert message in page, data
    assert not DecisionObjective.objects.exists()
    client.force_login(make_user("v"))
    assert client.post("/leaderboard/decision/objective/", {"epsilon": "25"}).status_code == 403
    assert not DecisionObjective.objects.exists()


def test_the_decision_boards_replay_elo_and_trueskill_as_each_board_alone_would(arena):
    """One read of the votes serves every category's replay: the numbers are each board's own replay."""
    from battles.models import LLMVersion
    from ratings import fits, services
    from tests.ratings.board_factories import import_votes

    # Imported votes have no battle, so no category: they count on the board of all categories only.
    import_votes(arena, [("gamma", "alpha", "a", 6), ("beta", "gamma", "tie", 3)])
    labels = {v.pk: v.label for v in LLMVersion.objects.select_related("llm")}
    # Not the default board: that one reads the worker's online ratings instead of replaying.
    base = BoardFilter(include_insider=True)
    decision = fits.fit_decision(base)
    parts = decision.data.parts
    assert sorted(parts) == ["coding", "writing"]
    for category, scope in [("", base.scope()), *parts.items()]:
        snapshot = boards.newest(scope)
        alone = services.replayed_online_ratings(base.with_changes(category=category).votes(), labels)
        assert snapshot.data.online == alone
        assert snapshot.data.online.keys() == {"alpha", "beta", "gamma"}
    assert (
        boards.newest(base.scope()).vote_count
        == boards.newest(parts["coding"]).vote_count + boards.newest(parts["writing"]).vote_count + 9
    )


def test_category_replays_read_the_votes_once(arena, django_assert_num_queries):
    from battles.models import LLMVersion
    from ratings import counts, services
    from ratings.vote_archive import ARCHIVE

    labels = {v.pk: v.label for v in LLMVersion.objects.select_related("llm")}
    with django_assert_num_queries(1):
        replays = services.CategoryReplays.read(BoardFilter().votes())
        every = replays.of(None, labels)
        coding = replays.of("coding", labels)
        writing = replays.of("writing", labels)
    assert every == services.replayed_online_ratings(BoardFilter().votes(), labels)
    assert coding == services.replayed_online_ratings(BoardFilter(category="coding").votes(), labels)
    assert writing != coding
    # The same from a worker's archive of the votes (what the decision page's refit uses).
    votes = ARCHIVE.votes(counts.fold(), BoardFilter())
    archived = services.CategoryReplays(*votes.arrays(), categories=votes.category_names())
    assert (archived.of(None, labels), archived.of("coding", labels)) == (every, coding)
