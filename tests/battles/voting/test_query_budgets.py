"""Query budgets of the voter's requests, counted on Postgres for the whole request (session and user included).

The vote path stays thin (issue 11): a vote POST ≤ 6 queries (8 until its voter came with the
battle's locked row), a new battle ≤ 6 with its page (rendered at ``/``), a reload of an open
battle ≤ 2. Tasks are published to the real broker, not run eagerly, as in production: what a
worker does after the vote (online ratings, the board's refit) is not the request's cost.
"""

from __future__ import annotations

import pytest
from django.db import connection

from arena.celery import app
from battles.models import Battle
from tests.factories import make_arena, own_battle_url

pytestmark = pytest.mark.django_db(transaction=True)

VOTE_POST = 6
NEW_BATTLE = 6
RELOAD = 2


@pytest.fixture(autouse=True)
def _as_in_production(settings):
    if connection.vendor != "postgresql" or not settings.REDIS_URL:
        pytest.skip("budgets are counted on Postgres with a real broker")
    settings.ARENA_MIN_VOTE_BASE_MS = 0
    app.conf.task_always_eager = False
    yield
    with app.connection_for_write() as broker:
        broker.default_channel.queue_purge(app.conf.task_default_queue)


@pytest.fixture
def voting_client(client, voter):
    """A signed-in voter who has already voted once (sessions refreshed, process caches warm)."""
    make_arena(llms=("alpha", "beta", "gamma", "delta", "epsilon", "zeta"), prompts=30)
    client.force_login(voter)
    page = client.get("/")
    assert page.status_code == 200 and b'id="vote-form"' in page.content
    code = _open_battle(voter).code
    response = client.post(f"/battle/{code}/vote/", {"outcome": "a"}, headers={"X-Arena-Fragment": "1"})
    assert response.status_code == 200
    return client


def _open_battle(voter) -> Battle:
    return Battle.objects.get(voter=voter, status=Battle.Status.OPEN)


def test_a_new_battle_with_its_page_costs_at_most_six_queries_and_its_reload_two(
    voting_client, voter, django_assert_max_num_queries
):
    with django_assert_max_num_queries(NEW_BATTLE):
        response = voting_client.get("/")
    battle = _open_battle(voter)
    assert own_battle_url(response) == f"/battle/{battle.code}/" and battle.prompt.text in response.content.decode()
    assert b"Your votes: <strong>1</strong> today" in response.content
    with django_assert_max_num_queries(RELOAD):
        page = voting_client.get(own_battle_url(response))
    assert page.status_code == 200 and b'id="vote-form"' in page.content


def test_a_new_battle_in_a_category_stays_within_the_budget(voting_client, voter, django_assert_max_num_queries):
    with django_assert_max_num_queries(NEW_BATTLE):
        response = voting_client.get("/?category=writing")
    assert b'id="vote-form"' in response.content and _open_battle(voter).prompt.category == "writing"


def test_root_showing_the_open_battle_again_stays_within_the_budget(
    voting_client, voter, django_assert_max_num_queries
):
    first = voting_client.get("/")
    with django_assert_max_num_queries(NEW_BATTLE):
        again = voting_client.get("/")
    assert own_battle_url(again) == own_battle_url(first) and b'id="vote-form"' in again.content


def test_a_reload_of_an_open_battle_is_one_query_besides_the_session(
    voting_client, voter, django_assert_max_num_queries
):
    url = own_battle_url(voting_client.get("/"))
    voting_client.get(url)
    with django_assert_max_num_queries(RELOAD):
        page = voting_client.get(url)
    assert page.status_code == 200 and b"Model A" in page.content


@pytest.mark.parametrize("fragment", [True, False])
def test_a_vote_costs_at_most_six_queries_and_its_reveal_page_two(
    voting_client, voter, fragment, django_assert_max_num_queries
):
    voting_client.get("/")
    battle = _open_battle(voter)
    headers = {"X-Arena-Fragment": "1"} if fragment else {}
    with django_assert_max_num_queries(VOTE_POST):
        response = voting_client.post(f"/battle/{battle.code}/vote/", {"outcome": "b"}, headers=headers)
    if fragment:
        assert response.status_code == 200 and b"model-name" in response.content
        assert response["X-Arena-Votes-Total"] == "2"
        return
    assert response.status_code == 302
    with django_assert_max_num_queries(RELOAD):
        page = voting_client.get(response["Location"])
    assert page.status_code == 200 and b"model-name" in page.content


def test_an_eval_leads_new_battle_shows_their_menu_within_the_budget(client, eval_lead, django_assert_max_num_queries):
    """The roles come with the voter's read: the menu's leaderboard links cost no query of their own."""
    make_arena(llms=("alpha", "beta", "gamma"), prompts=10)
    client.force_login(eval_lead)
    client.get("/")  # process caches warm
    client.post(f"/battle/{_open_battle(eval_lead).code}/skip/")
    with django_assert_max_num_queries(NEW_BATTLE):
        response = client.get("/")
    assert b'href="/leaderboard/"' in response.content and b'id="vote-form"' in response.content
