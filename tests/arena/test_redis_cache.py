"""The request-path cache answers as a miss, quickly, when Redis is hung or down."""

from __future__ import annotations

import os
import shutil
import signal
import time

import pytest
from django.core.cache.backends.redis import RedisCache

from arena import config
from arena.redis_cache import FailSoftRedisCache
from tests.support.private_redis import PrivateRedis

needs_redis_server = pytest.mark.skipif(shutil.which("redis-server") is None, reason="redis-server is not installed")


def _cache(redis: PrivateRedis, *, retry_after: float) -> RedisCache:
    settings = config.cache(redis.url(0), timeout=0.2, retry_after=retry_after)
    return FailSoftRedisCache(settings["LOCATION"], settings)


@needs_redis_server
def test_a_hung_redis_is_a_quick_miss_then_skipped(tmp_path):
    redis = PrivateRedis(tmp_path / "redis.log").start()
    cache = _cache(redis, retry_after=0.5)
    try:
        assert cache.add("key", 1, 60) is True
        os.kill(redis.process.pid, signal.SIGSTOP)
        started = time.monotonic()
        assert cache.add("other", 1, 60) is False
        assert cache.get("key", "missed") == "missed"
        cache.set("key", 2)  # no error
        assert time.monotonic() - started < 1.0  # one timeout, then skipped
        os.kill(redis.process.pid, signal.SIGCONT)
        time.sleep(0.6)
        assert cache.get("key") == 1  # tried again once the pause is over
    finally:
        os.kill(redis.process.pid, signal.SIGCONT)
        redis.stop()


@needs_redis_server
def test_one_redis_client_is_kept_and_a_forked_process_uses_it_over_its_own_connection(tmp_path):
    redis = PrivateRedis(tmp_path / "redis.log").start()
    cache = _cache(redis, retry_after=0.5)
    try:
        assert cache.add("parent", 1, 60) is True
        client = cache._cache.get_client(write=True)
        assert cache._cache.get_client(write=True) is client  # not built again for each call
        child = os.fork()  # as gunicorn forks its workers after the app is loaded
        if child == 0:
            os._exit(0 if cache.add("child", 1, 60) is True and cache.get("parent") == 1 else 1)
        _, status = os.waitpid(child, 0)
        assert os.WIFEXITED(status) and os.WEXITSTATUS(status) == 0
        assert cache.get("child") == 1 and cache.get("parent") == 1
    finally:
        redis.stop()


@needs_redis_server
def test_a_stopped_redis_is_a_miss(tmp_path):
    redis = PrivateRedis(tmp_path / "redis.log").start()
    cache = _cache(redis, retry_after=0.0)
    redis.stop()
    assert cache.add("key", 1, 60) is False
    assert cache.get("key", "missed") == "missed"
    assert cache.delete("key") is False


def test_settings_give_the_redis_cache_a_short_timeout(settings):
    cache = config.cache("redis://r:6379/0", timeout=0.2, retry_after=3)
    assert cache["OPTIONS"] == {"socket_timeout": 0.2, "socket_connect_timeout": 0.2, "retry_after": 3}
    if settings.REDIS_URL:
        assert settings.CACHES["default"]["OPTIONS"]["socket_timeout"] == settings.ARENA_REDIS_TIMEOUT
