"""Board pages serve the newest snapshot of their board and never fit inside the request.

Celery is eager here (embedded mode): a refit a page queues runs after its response was
rendered, so each response shows what the page had before the refit. The same with a real
worker: tests/pipeline/test_board_refits.py.
"""

from __future__ import annotations

import pytest
import redis
from django.conf import settings as django_settings

from arena.celery import app
from ratings import boards, tasks
from ratings.api.auth import create_token
from ratings.filters import BoardFilter
from ratings.models import RatingSnapshot
from ratings.scopes import BOARD, DECISION, STYLE, STYLE_SCOPE
from tests.factories import make_user
from tests.ratings.board_factories import cast_votes, make_llms

pytestmark = [pytest.mark.django_db, pytest.mark.served_boards]

REFRESH = '<meta http-equiv="refresh"'


@pytest.fixture
def lead_client(client):
    client.force_login(make_user(role="eval_lead"))
    return client


@pytest.fixture
def llms():
    llms = make_llms("alpha", "beta", "gamma")
    cast_votes(llms, [("alpha", "beta", "a", 6), ("beta", "gamma", "a", 4), ("gamma", "alpha", "b", 3)])
    cast_votes(llms, [("alpha", "gamma", "a", 5)], category="code")
    return llms


def test_a_board_behind_the_votes_is_served_with_its_lag_and_refitted_after_the_response(lead_client, llms):
    old = tasks.recompute_now()
    assert old.vote_count == 18
    cast_votes(llms, [("beta", "alpha", "a", 3)])
    response = lead_client.get("/leaderboard/")
    page = response.content.decode()
    # What the page had: the old snapshot, its lag, and that a refit runs.
    assert response.context["snapshot"].pk == old.pk
    assert "18 votes" in page
    assert "This board is 3 votes behind; a refit is running." in page
    assert REFRESH not in page
    # The refit ran after the response (embedded mode) and landed.
    new = boards.newest("default")
    assert new.pk != old.pk and new.vote_count == 21
    response = lead_client.get("/leaderboard/")
    page = response.content.decode()
    assert response.context["snapshot"].pk == new.pk
    assert "votes behind" not in page and "a refit is running" not in page


def test_a_board_never_fitted_waits_with_a_page_that_reloads_itself(lead_client, llms):
    response = lead_client.get("/leaderboard/?category=writing&insider=1")
    page = response.content.decode()
    assert response.status_code == 200
    assert response.context["snapshot"] is None
    assert "it is being fitted now, and this page reloads itself" in page
    assert f'{REFRESH} content="{django_settings.ARENA_BOARD_REFRESH_SECONDS}">' in page
    assert "<script>" not in page  # no inline script under the CSP
    response = lead_client.get("/leaderboard/?category=writing&insider=1")
    page = response.content.decode()
    assert response.context["snapshot"].vote_count == 13
    assert REFRESH not in page and "being fitted" not in page


def test_the_style_board_follows_the_same_rule(lead_client, llms):
    tasks.recompute_now()
    page = lead_client.get("/leaderboard/?style=1").content.decode()
    assert REFRESH in page and "being fitted now" in page
    style = boards.newest(STYLE_SCOPE)
    assert style is not None and style.vote_count == 18
    cast_votes(llms, [("beta", "alpha", "a", 2)])
    tasks.recompute_now()
    response = lead_client.get("/leaderboard/?style=1")
    page = response.content.decode()
    assert response.context["style_snapshot"].pk == style.pk
    assert "This board is 2 votes behind; a refit is running." in page
    assert boards.newest(STYLE_SCOPE).vote_count == 20


def test_the_decision_page_follows_the_same_rule(lead_client, llms):
    page = lead_client.get("/leaderboard/decision/").content.decode()
    assert REFRESH in page and "being fitted now" in page
    response = lead_client.get("/leaderboard/decision/")
    decision = response.context["decision"]
    assert REFRESH not in response.content.decode()
    assert sorted(route.category for route in decision.routes) == ["code", "writing"]
    cast_votes(llms, [("beta", "alpha", "a", 2)], category="code")
    response = lead_client.get("/leaderboard/decision/")
    assert "This board is 2 votes behind; a refit is running." in response.content.decode()
    served = boards.serve(BoardFilter(), DECISION)
    assert not served.stale


def test_a_board_page_runs_a_handful_of_queries_whatever_the_votes(lead_client, llms, django_assert_max_num_queries):
    if not django_settings.CELERY_BROKER_URL:
        pytest.skip("needs a broker (Redis)")
    lead_client.get("/leaderboard/?category=code")  # first fit (after that response)
    cast_votes(llms, [("beta", "alpha", "a", 40)], category="code")
    app.conf.task_always_eager = False  # queue on the broker (nobody consumes it here)
    try:
        # The snapshot, the counts' epoch, the lag, the "refit wanted" mark; the refit is only queued.
        with django_assert_max_num_queries(4):
            served = boards.serve(BoardFilter(category="code"))
        assert served.behind == 40 and served.refitting
        with django_assert_max_num_queries(3):
            again = boards.serve(BoardFilter(category="code"))
        assert again.snapshot.pk == served.snapshot.pk and again.behind == 40
    finally:
        app.conf.task_always_eager = True
        redis.Redis.from_url(django_settings.CELERY_BROKER_URL).delete(app.conf.task_default_queue)


def test_refits_are_queued_once_per_board(settings):
    if not django_settings.CELERY_BROKER_URL:
        pytest.skip("needs a broker (Redis)")
    broker = redis.Redis.from_url(django_settings.CELERY_BROKER_URL)
    queue = app.conf.task_default_queue
    broker.delete(queue)
    app.conf.task_always_eager = False
    try:
        assert tasks.queue_refit(BOARD, {"category": "code"}) is True
        assert tasks.queue_refit(BOARD, {"category": "code"}) is True  # pending: not queued again
        assert tasks.queue_refit(STYLE, {"category": "code"}) is True  # another board
        assert broker.llen(queue) == 2
        tasks.run_refit(BOARD, {"category": "code"})  # a refit that starts lets the next one queue
        assert tasks.queue_refit(BOARD, {"category": "code"}) is True
        assert broker.llen(queue) == 3
    finally:
        app.conf.task_always_eager = True
        broker.delete(queue)


def test_a_refit_of_an_unchanged_board_restamps_its_snapshot(llms):
    flt = BoardFilter(category="code")
    first = tasks.run_refit(BOARD, flt.params())
    again = tasks.run_refit(BOARD, flt.params())
    assert again.pk == first.pk
    assert RatingSnapshot.objects.filter(scope=flt.scope()).count() == 1


def test_the_api_board_says_how_fresh_it_is(client, llms):
    lead = make_user("api-lead", role="eval_lead")
    headers = {"Authorization": f"Bearer {create_token(owner=lead, name='test')[1]}"}
    first = client.get("/api/leaderboard/", {"category": "code"}, headers=headers).json()
    assert first["freshness"] == {"fitted": False, "votes_behind": 0, "vote_set_changed": False, "refitting": True}
    assert first["rows"] == [] and first["board"] is None
    cast_votes(llms, [("beta", "alpha", "a", 2)], category="code")
    behind = client.get("/api/leaderboard/", {"category": "code"}, headers=headers).json()
    assert behind["freshness"] == {"fitted": True, "votes_behind": 2, "vote_set_changed": False, "refitting": True}
    assert behind["board"]["vote_count"] == 5
    current = client.get("/api/leaderboard/", {"category": "code"}, headers=headers).json()
    assert current["freshness"]["votes_behind"] == 0 and current["board"]["vote_count"] == 7


def test_a_model_page_serves_its_board_the_same_way(lead_client, llms):
    code = llms["alpha"].code
    page = lead_client.get(f"/leaderboard/models/{code}/").content.decode()
    assert REFRESH in page and "being fitted now" in page
    page = lead_client.get(f"/leaderboard/models/{code}/").content.decode()
    assert REFRESH not in page and "being fitted" not in page


def test_the_rating_history_is_fitted_by_the_worker_too(lead_client, llms):
    page = lead_client.get("/leaderboard/history/").content.decode()
    assert REFRESH in page and "being fitted now" in page
    response = lead_client.get("/leaderboard/history/")
    assert REFRESH not in response.content.decode()
    assert response.context["history"]["series"]["alpha"][-1]["votes"] == 14
    cast_votes(llms, [("beta", "alpha", "a", 2)])
    response = lead_client.get("/leaderboard/history/")
    assert "This board is 2 votes behind; a refit is running." in response.content.decode()
    assert response.context["history"]["series"]["alpha"][-1]["votes"] == 14
    response = lead_client.get("/leaderboard/history/")
    assert response.context["history"]["series"]["alpha"][-1]["votes"] == 16


def test_an_export_of_a_board_never_fitted_asks_to_come_back(lead_client, llms):
    response = lead_client.get("/exports/leaderboard.csv?category=code")
    assert response.status_code == 503 and response["Retry-After"]
    assert "being fitted for the first time" in response.content.decode()
    response = lead_client.get("/exports/leaderboard.csv?category=code")
    assert response.status_code == 200 and response["X-Arena-Vote-Count"] == "5"
