import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from battles.voting import serving, votes
from ratings import boards, scopes, services, tasks
from ratings.filters import BoardFilter
from ratings.models import OnlineRating, RatingSnapshot
from tests.factories import make_arena, make_user

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture(autouse=True)
def _instant_votes_are_not_too_fast(settings):
    # These tests vote without pausing to read; the too-fast flag is tested on its own.
    settings.ARENA_MIN_VOTE_BASE_MS = 0
    settings.ARENA_MIN_VOTE_CHARS_PER_SECOND = 1e12


def _vote_many(outcomes_by_winner, *, voters=4, prompts=12):
    """Every voter votes on every prompt; the LLM named in ``outcomes_by_winner`` wins."""
    make_arena(llms=("alpha", "beta", "gamma"), prompts=prompts)
    strength = {"alpha": 3, "beta": 2, "gamma": 1}
    for n in range(voters):
        voter = make_user(f"v{n}")
        while (battle := serving.serve_battle(voter=voter).battle) is not None:
            a = battle.generation_a.llm_version.llm.name
            b = battle.generation_b.llm_version.llm.name
            outcome = "a" if strength[a] > strength[b] else "b"
            votes.record_vote(battle_code=battle.code, voter=voter, outcome=outcome)


def test_votes_update_online_elo_and_produce_a_snapshot():
    _vote_many({})
    snapshot = services.latest_snapshot()
    assert snapshot is not None
    assert snapshot.vote_count == 48
    order = [row["model"] for row in snapshot.payload["rows"]]
    assert order == ["alpha", "beta", "gamma"]
    elo = {r.llm_version.llm.name: r.elo for r in OnlineRating.objects.select_related("llm_version__llm")}
    assert elo["alpha"] > elo["beta"] > elo["gamma"]
    assert sum(r.votes for r in OnlineRating.objects.all()) == 96


def test_snapshot_ratings_are_centred_on_1000_with_intervals():
    _vote_many({})
    rows = services.latest_snapshot().payload["rows"]
    assert abs(sum(r["rating"] for r in rows) / len(rows) - 1000) < 1e-6
    for row in rows:
        assert row["lower"] <= row["rating"] <= row["upper"]


def test_insider_votes_do_not_count_on_the_default_board():
    make_arena(llms=("alpha", "beta"), prompts=3)
    lead = make_user("lead", role="eval_lead")
    battle = serving.serve_battle(voter=lead).battle
    votes.record_vote(battle_code=battle.code, voter=lead, outcome="a")
    assert OnlineRating.objects.count() == 0
    assert services.latest_snapshot().vote_count == 0


def test_the_board_is_read_with_one_aggregated_query():
    _vote_many({}, voters=2, prompts=6)
    with CaptureQueriesContext(connection) as queries:
        services.aggregated_counts(services.counted_votes())
    assert len(queries) == 1
    assert "GROUP BY" in queries[0]["sql"].upper()


def test_same_votes_give_the_same_hash_and_numbers():
    _vote_many({}, voters=2, prompts=6)
    first = services.compute_snapshot()
    second = services.compute_snapshot()
    assert first.vote_hash == second.vote_hash
    assert first.payload["rows"] == second.payload["rows"]


def test_a_burst_of_votes_queues_one_recomputation(settings, monkeypatch):
    calls = []
    monkeypatch.setattr(tasks.recompute_leaderboard, "apply_async", lambda *args, **kw: calls.append(kw))
    results = [tasks.schedule_recompute() for _ in range(25)]
    assert results.count(True) == 1
    assert [kw["countdown"] for kw in calls] == [settings.ARENA_RATINGS_DEBOUNCE_SECONDS]
    tasks.recompute_now()  # the task clears the marker before it reads the votes
    assert tasks.schedule_recompute() is True


def test_leaderboard_page_is_for_eval_leads_and_admins(client):
    # 12 battles: with random pairs among three LLMs, each one is in some battle (with 3, one of them was
    # left out about one run in 14).
    _vote_many({}, voters=1, prompts=12)
    voter = make_user("plain")
    lead = make_user("lead", role="eval_lead")
    client.force_login(voter)
    assert client.get("/leaderboard/").status_code == 403
    client.force_login(lead)
    response = client.get("/leaderboard/")
    assert response.status_code == 200
    rated = [row["model"] for row in services.latest_snapshot().payload["rows"]]
    assert len(rated) == 3
    assert all(model.encode() in response.content for model in rated)


def test_snapshots_are_kept_with_their_settings():
    _vote_many({}, voters=1, prompts=3)
    snapshot = RatingSnapshot.objects.latest()
    assert snapshot.settings["scale"] == 400 and snapshot.settings["base"] == 10
    assert len(snapshot.vote_hash) == 64


def test_the_style_controlled_default_board_is_fitted_by_the_periodic_check_not_by_every_recompute(client):
    _vote_many({}, voters=2, prompts=6)
    RatingSnapshot.objects.all().delete()
    tasks.recompute_leaderboard()  # after every burst of votes: milliseconds, the raw board only
    assert not RatingSnapshot.objects.filter(scope=scopes.STYLE_SCOPE).exists()
    tasks.catch_up_boards()
    style = RatingSnapshot.objects.get(scope=scopes.STYLE_SCOPE)
    assert style.vote_count == services.counted_votes().count() > 0
    # The page then reuses it: no second style fit on the first visit.
    assert boards.style_snapshot(BoardFilter()).pk == style.pk
    assert RatingSnapshot.objects.filter(scope=scopes.STYLE_SCOPE).count() == 1
