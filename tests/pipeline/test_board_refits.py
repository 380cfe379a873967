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


def test_with_a_boards_queue_the_boards_worker_fits_and_the_main_worker_never_does(
    transactional_db, client, settings, tmp_path
):
    """As docker-compose runs it: refits published to CELERY_BOARDS_QUEUE, read by a worker of their own."""
    import uuid

    from arena.celery import app
    from tests.pipeline.conftest import WorkerProcess, _require_real_services, worker_database_url

    _require_real_services()
    queue = f"arena-test-{uuid.uuid4().hex[:8]}"
    boards_queue = f"{queue}-boards"
    settings.ARENA_BOARDS_QUEUE = boards_queue
    env = {
        **__import__("os").environ,
        "DATABASE_URL": worker_database_url(),
        "CELERY_QUEUE": queue,
        "CELERY_BOARDS_QUEUE": boards_queue,
        "RATINGS_DEBOUNCE_SECONDS": "1",
    }
    previous_queue = app.conf.task_default_queue
    app.conf.task_default_queue = queue
    llms = make_llms("alpha", "beta", "gamma")
    cast_votes(llms, [("alpha", "beta", "a", 6), ("beta", "gamma", "a", 4)], category="coding")
    tasks.recompute_now()  # the counts hold the votes: the boards worker reads them at its start
    main = WorkerProcess(queue, env, tmp_path / "main.log", concurrency=1).start()
    boards_worker = WorkerProcess(boards_queue, env, tmp_path / "boards.log", concurrency=1).start()
    try:
        client.force_login(make_user(role="eval_lead"))
        assert "being fitted now" in client.get("/leaderboard/?category=coding&style=1").content.decode()
        assert "being fitted now" in client.get("/leaderboard/decision/").content.decode()
        wait_until(lambda: boards.newest("votes?category=coding|style") is not None, message="the style board")
        wait_until(lambda: boards.newest(DEFAULT_SCOPE + "|decision") is not None, message="the decision page")
        wait_until(lambda: main.idle() and boards_worker.idle(), message="both workers idle")
    finally:
        main.stop()
        boards_worker.stop()
        app.conf.task_default_queue = previous_queue
        with app.connection_for_write() as conn:
            for name in (queue, boards_queue):
                conn.default_channel.queue_delete(name)
    # "Task ratings.tasks.refit_board[<id>] received" (the start-up banner lists every task's name).
    assert "ratings.tasks.refit_board[" in boards_worker.output()
    assert "ratings.tasks.refit_board[" not in main.output()
    # Only the worker that fits boards reads the votes into its archive, at its start (ratings.vote_archive).
    assert "vote archive: 10 votes and the style of their battles read" in boards_worker.output()
    assert "vote archive" not in main.output()
