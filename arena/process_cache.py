"""Values kept in this process for a few seconds: reads every request would otherwise repeat.

For what changes rarely and may be a few seconds stale without harm (the pairing policy's
rating estimates, the names an answer could leak, the list of categories). Each worker process
keeps its own copy for ``ARENA_PROCESS_CACHE_SECONDS``; nothing is shared, so nothing waits on
Redis. ``clear_all()`` forgets everything (tests, after changing the database under a process).
"""

from __future__ import annotations

import functools
import threading
import time
from collections.abc import Callable
from typing import Generic, Protocol, TypeVar

from django.conf import settings

T = TypeVar("T")


class Clearable(Protocol):
    def clear(self) -> None: ...


C = TypeVar("C", bound=Clearable)

caches: list[Clearable] = []


class ProcessCached(Generic[T]):
    """A no-argument function whose result is kept for ``ARENA_PROCESS_CACHE_SECONDS``."""

    def __init__(self, load: Callable[[], T]):
        self.load = load
        self.lock = threading.Lock()
        self.value: T | None = None
        self.expires_at = 0.0
        functools.update_wrapper(self, load)

    def __call__(self) -> T:
        now = time.monotonic()
        with self.lock:
            if now < self.expires_at:
                return self.value  # type: ignore[return-value]
        value = self.load()  # outside the lock: a slow read never blocks another thread's hit
        with self.lock:
            self.value, self.expires_at = value, now + settings.ARENA_PROCESS_CACHE_SECONDS
        return value

    def clear(self) -> None:
        with self.lock:
            self.value, self.expires_at = None, 0.0


def cached_in_process(load: Callable[[], T]) -> ProcessCached[T]:
    cached = ProcessCached(load)
    caches.append(cached)
    return cached


def kept_in_process(cache: C) -> C:
    """Register a store of this process's own (with a ``clear()``) with the others ``clear_all()`` forgets."""
    caches.append(cache)
    return cache


def clear_all() -> None:
    for cached in caches:
        cached.clear()
