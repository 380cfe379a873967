"""A Redis cache that never stalls or fails the request using it.

Every user of the cache here treats it as an accelerator: a debounce key, a cached chart, a
cached report. When Redis is hung (the socket accepts but never answers) or down, waiting
seconds for it, or failing the request, costs more than a miss. So every call has a short
socket timeout (``OPTIONS["socket_timeout"]``, set by ``arena.config.cache``), a failure
answers as a miss (``get`` → default, ``add`` → False, writes do nothing), and after a failure
the cache is skipped for ``OPTIONS["retry_after"]`` seconds, so that a hung Redis costs one
timeout per process and outage window instead of one per call.
"""

from __future__ import annotations

import logging
import time

import redis.exceptions
from django.core.cache.backends.base import DEFAULT_TIMEOUT
from django.core.cache.backends.redis import RedisCache, RedisCacheClient

logger = logging.getLogger(__name__)

# redis-py raises its own errors; a socket error can escape it while connecting.
UNAVAILABLE = (redis.exceptions.RedisError, OSError)
DEFAULT_RETRY_AFTER = 2.0


class KeptClientRedisCacheClient(RedisCacheClient):
    """Django's client, keeping one redis-py client per connection pool.

    Django builds a new ``redis.Redis`` for every call (~0.15 ms of setting up its response callbacks:
    each vote's debounce keys paid it twice); a client over a pool is safe to share between threads,
    and its pool reconnects after a fork, as Django's pools do.
    """

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self._clients: dict[int, object] = {}

    def get_client(self, key=None, *, write=False):
        pool = self._get_connection_pool(write)
        client = self._clients.get(id(pool))
        if client is None:
            client = self._clients[id(pool)] = self._client(connection_pool=pool)
        return client


class FailSoftRedisCache(RedisCache):
    def __init__(self, server, params):
        options = dict(params.get("OPTIONS", {}))
        # Not a redis-py option: it must not reach the connection pool.
        self.retry_after = float(options.pop("retry_after", DEFAULT_RETRY_AFTER))
        super().__init__(server, {**params, "OPTIONS": options})
        self._class = KeptClientRedisCacheClient
        self.unavailable_until = 0.0

    def _call(self, method, fallback, *args, **kwargs):
        if time.monotonic() < self.unavailable_until:
            return fallback
        try:
            return method(*args, **kwargs)
        except UNAVAILABLE as exc:
            self.unavailable_until = time.monotonic() + self.retry_after
            logger.warning("cache unavailable (%s); skipping it for %.1f s", exc, self.retry_after)
            return fallback

    def add(self, key, value, timeout=DEFAULT_TIMEOUT, version=None):
        return self._call(super().add, False, key, value, version=version, timeout=timeout)

    def get(self, key, default=None, version=None):
        return self._call(super().get, default, key, default, version=version)

    def set(self, key, value, timeout=DEFAULT_TIMEOUT, version=None):
        self._call(super().set, None, key, value, version=version, timeout=timeout)

    def touch(self, key, timeout=DEFAULT_TIMEOUT, version=None):
        return self._call(super().touch, False, key, version=version, timeout=timeout)

    def delete(self, key, version=None):
        return self._call(super().delete, False, key, version=version)

    def get_many(self, keys, version=None):
        return self._call(super().get_many, {}, keys, version=version)

    def has_key(self, key, version=None):
        return self._call(super().has_key, False, key, version=version)

    def set_many(self, data, timeout=DEFAULT_TIMEOUT, version=None):
        # Keys that could not be stored (Django's contract): all of them.
        return self._call(super().set_many, list(data), data, version=version, timeout=timeout)

    def delete_many(self, keys, version=None):
        self._call(super().delete_many, None, keys, version=version)

    def clear(self):
        return self._call(super().clear, False)
