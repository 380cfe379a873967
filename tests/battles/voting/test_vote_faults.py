"""A vote is stored, and the voter told so, whatever Redis or the reveal does after the write.

Against the real database and a ``redis-server`` of the test's own: hung (SIGSTOP: the socket
accepts, nothing answers) or killed (connection refused). The cache, the Celery broker and the
channel layer of this process point at it, and tasks are published for real (not eager).
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import time

import pytest
from django.db import DatabaseError
from django.test import override_settings

from arena import config
from arena.celery import app
from battles.models import Battle, Vote
from battles.voting import views
from ratings import tasks
from ratings.models import OnlineRating, OnlineRatingWatermark
from tests.factories import make_arena
from tests.support.private_redis import PrivateRedis

pytestmark = pytest.mark.django_db(transaction=True)

# Generous against a loaded machine; the Redis timeout under test is 0.2 s.
ANSWER_WITHIN_SECONDS = 2.0


@pytest.fixture(autouse=True)
def _instant_votes_are_not_too_fast(settings):
    settings.ARENA_MIN_VOTE_BASE_MS = 0
    settings.ARENA_MIN_VOTE_CHARS_PER_SECOND = 1e12
    settings.ARENA_REDIS_TIMEOUT = 0.2


@pytest.fixture
def redis_servers(tmp_path):
    if not os.environ.get("REDIS_URL") or shutil.which("redis-server") is None:
        pytest.skip("needs the real-services configuration (REDIS_URL) and redis-server")
    servers = []

    def start() -> PrivateRedis:
        server = PrivateRedis(tmp_path / f"redis-{len(servers)}.log").start()
        servers.append(server)
        return server

    yield start
    for server in servers:
        if server.process and server.process.poll() is None:
            os.kill(server.process.pid, signal.SIGCONT)
        server.stop()


@contextlib.contextmanager
def app_on(*, cache: PrivateRedis, broker: PrivateRedis):
    """This process's cache, broker publishing and channel layer on private Redis servers."""
    keys = ("broker_url", "broker_read_url", "broker_write_url", "task_always_eager")
    previous = {key: app.conf[key] for key in keys}
    app.conf.update(
        broker_url=broker.url(1), broker_read_url=broker.url(1), broker_write_url=broker.url(1), task_always_eager=False
    )
    layers = {"default": {"BACKEND": "channels_redis.core.RedisChannelLayer", "CONFIG": {"hosts": [cache.url(0)]}}}
    caches = {"default": config.cache(cache.url(0), timeout=0.2)}
    try:
        with override_settings(REDIS_URL=cache.url(0), CACHES=caches, CHANNEL_LAYERS=layers):
            yield
    finally:
        app.conf.update(previous)


@contextlib.contextmanager
def paused(server: PrivateRedis):
    assert server.process is not None
    os.kill(server.process.pid, signal.SIGSTOP)
    try:
        yield
    finally:
        os.kill(server.process.pid, signal.SIGCONT)


def _open_battle(client, voter) -> Battle:
    make_arena()
    client.force_login(voter)
    client.get("/")
    return Battle.objects.get(voter=voter)


def _timed_vote(client, battle, **headers):
    started = time.monotonic()
    # follow: without JavaScript the vote redirects to the battle's page, which shows the reveal.
    response = client.post(f"/battle/{battle.code}/vote/", {"outcome": "a"}, headers=headers, follow=True)
    return response, time.monotonic() - started


def test_vote_is_stored_and_revealed_while_redis_is_hung(client, voter, redis_servers):
    redis = redis_servers()
    battle = _open_battle(client, voter)
    with app_on(cache=redis, broker=redis), paused(redis):
        response, elapsed = _timed_vote(client, battle)
    assert response.status_code == 200
    assert b"You voted" in response.content and b"model-name" in response.content
    assert Vote.objects.filter(battle=battle).count() == 1
    assert elapsed < ANSWER_WITHIN_SECONDS


def test_vote_is_stored_and_revealed_while_only_the_broker_is_hung(client, voter, redis_servers):
    cache_redis, broker_redis = redis_servers(), redis_servers()
    battle = _open_battle(client, voter)
    with app_on(cache=cache_redis, broker=broker_redis):
        with paused(broker_redis):
            response, elapsed = _timed_vote(client, battle, **{"X-Arena-Fragment": "1"})
        # The publish failed, so the debounce key was given back: the next vote (or the
        # periodic check) can queue the recomputation.
        assert tasks.schedule_recompute() is True
    assert response.status_code == 200
    assert b"You voted" in response.content
    assert Vote.objects.filter(battle=battle).count() == 1
    assert elapsed < ANSWER_WITHIN_SECONDS


def test_vote_is_stored_and_revealed_while_redis_is_down(client, voter, redis_servers):
    redis = redis_servers()
    battle = _open_battle(client, voter)
    with app_on(cache=redis, broker=redis):
        redis.stop()
        response, elapsed = _timed_vote(client, battle)
    assert response.status_code == 200
    assert b"You voted" in response.content
    assert Vote.objects.filter(battle=battle).count() == 1
    assert elapsed < ANSWER_WITHIN_SECONDS


def test_with_redis_healthy_the_vote_queues_its_online_ratings_and_one_recomputation(client, voter, redis_servers):
    # The counterpart of the tests above: the same setup does reach the broker when it answers.
    redis = redis_servers()
    battle = _open_battle(client, voter)
    with app_on(cache=redis, broker=redis):
        response, _ = _timed_vote(client, battle)
    assert response.status_code == 200
    assert sorted(_queued_tasks(redis.url(1))) == [
        "ratings.tasks.apply_online_ratings",
        "ratings.tasks.recompute_leaderboard",
    ]


def _queued_tasks(url: str) -> list[str]:
    with app.connection_for_write(url) as connection:
        channel = connection.default_channel
        messages = channel.client.lrange(app.conf.task_default_queue, 0, -1)
        return [json.loads(message)["headers"]["task"] for message in messages]


def _failing_reveal(*args, **kwargs):
    raise DatabaseError("server closed the connection unexpectedly")


@pytest.mark.parametrize("fragment", [False, True])
def test_a_stored_vote_whose_reveal_fails_is_reported_as_counted(client, voter, monkeypatch, fragment):
    battle = _open_battle(client, voter)
    # The database fails after the vote's transaction committed: the reveal's reads.
    monkeypatch.setattr(views, "reveal_context", _failing_reveal)
    headers = {"X-Arena-Fragment": "1"} if fragment else {}
    response = client.post(f"/battle/{battle.code}/vote/", {"outcome": "b"}, headers=headers, follow=True)
    assert response.status_code == 200
    assert b"Your vote was counted" in response.content
    assert b'id="next-battle"' in response.content and b'href="/"' in response.content
    assert b"try again" not in response.content.lower()
    assert Vote.objects.filter(battle=battle).count() == 1
    assert Vote.objects.get(battle=battle).outcome == "b"


def test_a_vote_whose_publish_was_lost_reaches_the_online_ratings_through_beat(client, voter, redis_servers, settings):
    redis = redis_servers()
    battle = _open_battle(client, voter)
    with app_on(cache=redis, broker=redis):
        redis.stop()
        response, _ = _timed_vote(client, battle)
    assert response.status_code == 200
    vote = Vote.objects.get(battle=battle)
    assert not OnlineRating.objects.exists()  # nothing was queued: Redis was down
    beat = {entry["task"] for entry in settings.CELERY_BEAT_SCHEDULE.values()}
    assert "ratings.tasks.apply_online_ratings" in beat
    tasks.apply_online_ratings.apply()  # what beat runs every ONLINE_RATINGS_CATCH_UP_EVERY_SECONDS
    assert OnlineRating.objects.count() == 2
    assert OnlineRatingWatermark.objects.get().last_vote_id == vote.pk
