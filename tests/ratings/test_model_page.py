import uuid

import pytest
from django.template.loader import render_to_string

from tests.factories import make_user
from tests.ratings.board_factories import cast_votes, make_llms, strong_weak

pytestmark = pytest.mark.django_db


@pytest.fixture
def arena():
    llms = make_llms("alpha", "beta", "gamma")
    cast_votes(
        llms,
        strong_weak("alpha", "beta") + strong_weak("alpha", "gamma"),
        category="coding",
        answer_stats={"alpha": {"latency_ms": 800, "cost": "0.002"}},
    )
    cast_votes(
        llms,
        [("alpha", "beta", "a", 3)],
        category="writing",
        reasons_a=["correct", "clear"],
        reasons_b=["hallucinated"],
        comment="alpha got the <b>maths</b> right",
    )
    cast_votes(llms, [("gamma", "alpha", "a", 2)], category="writing", reasons_a=["concise"], reasons_b=["correct"])
    return llms


@pytest.fixture
def lead_client(client):
    client.force_login(make_user(role="eval_lead"))
    return client


def test_model_page_is_addressed_by_the_llm_code_not_its_primary_key(lead_client, arena):
    alpha = arena["alpha"]
    assert lead_client.get(f"/leaderboard/models/{alpha.code}/").status_code == 200
    assert lead_client.get(f"/leaderboard/models/{alpha.pk}/").status_code == 404
    assert lead_client.get(f"/leaderboard/models/{uuid.uuid4()}/").status_code == 404


def test_model_page_shows_its_rating_head_to_head_and_category_profile(lead_client, arena):
    response = lead_client.get(f"/leaderboard/models/{arena['alpha'].code}/")
    context = response.context
    assert [row["model"] for row in context["rows"]] == ["alpha"] and context["rows"][0]["votes"] == 25
    against = {o["opponent"]: o for o in context["opponents"]}
    assert against["beta"]["wins"] == 11 and against["beta"]["losses"] == 2 and against["beta"]["battles"] == 13
    assert against["gamma"]["wins"] == 8 and against["gamma"]["losses"] == 4
    assert 0.5 < against["beta"]["predicted"] < 1
    profile = {p["category"]: p for p in context["profile"]}
    assert set(profile) == {"coding", "writing"} and profile["coding"]["votes"] == 20
    assert profile["writing"]["board_query"] == "?category=writing"
    assert context["history"]["series"]["alpha"][-1]["votes"] == 25
    stats = context["version_stats"][0]
    assert stats["latency_p50_ms"] == 800 and stats["cost_per_1000"] == pytest.approx(2.0)
    assert "<svg" in response.content.decode()


def test_model_page_counts_the_reasons_voters_gave_for_and_against_it(lead_client, arena):
    response = lead_client.get(f"/leaderboard/models/{arena['alpha'].code}/")
    tally = {row["tag"]: row for row in response.context["reasons"].table()}
    assert tally["correct"]["won"] == 3 and tally["clear"]["won"] == 3
    assert tally["correct"]["lost"] == 2  # ticked on its answer, and still lost
    assert tally["concise"]["opponent"] == 2  # why the winner was preferred
    assert "hallucinated" not in tally  # that tag was on beta's answer
    assert response.context["reasons"].votes_with_reasons == 5


def test_model_page_shows_recent_comments_escaped(lead_client, arena):
    response = lead_client.get(f"/leaderboard/models/{arena['alpha'].code}/")
    comments = response.context["comments"]
    assert len(comments) == 3 and comments[0]["result"] == "won" and comments[0]["opponent"] == "beta"
    page = response.content.decode()
    assert "&lt;b&gt;maths&lt;/b&gt;" in page and "<b>maths</b>" not in page


def test_the_benchmark_ranks_slot_is_empty_until_filled(lead_client, arena):
    page = lead_client.get(f"/leaderboard/models/{arena['alpha'].code}/").content.decode()
    assert 'id="benchmark-ranks"' not in page
    filled = render_to_string(
        "ratings/_model_benchmark_ranks.html",
        {
            "benchmark_ranks": [
                {
                    "benchmark": "MMLU",
                    "benchmark_rank": 3,
                    "arena_rank": 1,
                    "arena_rank_best": 1,
                    "arena_rank_worst": 2,
                    "gap": 2,
                    "flagged": False,
                }
            ]
        },
    )
    assert "MMLU" in filled


def test_model_page_honours_the_vote_filter(lead_client, arena):
    response = lead_client.get(f"/leaderboard/models/{arena['alpha'].code}/?category=writing")
    assert response.context["rows"][0]["votes"] == 5
    assert {o["opponent"] for o in response.context["opponents"]} == {"beta", "gamma"}
