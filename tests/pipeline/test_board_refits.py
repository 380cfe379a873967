"""Board refits on a real Celery worker: the page serves what it has, the worker fits."""

from __future__ import annotations

import time

import pytest

from ratings import boards, tasks
from ratings.scopes import DEFAULT_SCOPE
from tests.factories import make_user
from tests.ratings.board_factories import cast_votes, make_llms

pytestmark = pytest.mark.pipeline


def wait_until(predicate, timeout=60, interval=0.2, message="condition"):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(interval)
    raise AssertionError(f"timed out waiting for {message}")


def test_pages_queue_refits_that_the_worker_fits(celery_worker_process, client):
    llms = make_llms("alpha", "beta", "gamma")
    cast_votes(llms, [("alpha", "beta", "a", 6), ("beta", "gamma", "a", 4)], category="writing")
    client.force_login(make_user(role="eval_lead"))
    scope = "votes?category=writing"

    # Never fitted: the page waits (and reloads itself); the worker fits the board.
    page = client.get("/leaderboard/?category=writing").content.decode()
    assert "being fitted now" in page and 'http-equiv="refresh"' in page
    wait_until(lambda: boards.newest(scope) is not None, message="the worker's first fit")
    first = boards.newest(scope)
    assert first.vote_count == 10
    page = client.get("/leaderboard/?category=writing").content.decode()
    assert "being fitted" not in page and "10 votes" in page

    # Behind: served as it is with its lag while the worker refits.
    cast_votes(llms, [("gamma", "alpha", "a", 5)], category="writing")
    response = client.get("/leaderboard/?category=writing")
    assert response.context["snapshot"].pk == first.pk
    assert "This board is 5 votes behind; a refit is running." in response.content.decode()
    wait_until(lambda: boards.newest(scope).vote_count == 15, message="the worker's refit")

    # The decision page and the default board the same way.
    page = client.get("/leaderboard/decision/").content.decode()
    assert "being fitted now" in page
    wait_until(lambda: boards.newest(DEFAULT_SCOPE + "|decision") is not None, message="the decision page's fit")
    response = client.get("/leaderboard/decision/")
    assert [route.category for route in response.context["decision"].routes] == ["writing"]
    # Its boards are current: nothing for the periodic check but the style board nobody fitted yet.
    assert tasks.lagging_scopes() == [DEFAULT_SCOPE + "|style"]
