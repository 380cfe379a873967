"""Embedded mode (no broker): Celery tasks run in a small thread pool of this process.

Celery's eager mode runs a task inside ``apply_async``, that is inside the request that queued
it: "Generate answers" would hold the admin's request until every answer is written, and a live
battle's page would arrive only after both models finished, so no progress bar or "writing…"
state could ever be seen. Here a task queued while eager mode is on and
``ARENA_EMBEDDED_WORKERS`` > 0 runs on one of that many threads after the queueing
transaction commits (a ``countdown`` is honoured by a timer), as a worker would run it; the
request returns at once. Each run closes its database connections, as a worker's task does.

``run_inline()`` restores the old behaviour for a block (management commands that must see
their work finished before they return); ``wait_idle()`` lets commands and tests wait for the
pool to drain. With ``ARENA_EMBEDDED_WORKERS=0`` (the default outside embedded mode, and in
tests) every task runs inline as Celery's eager mode does.
"""

from __future__ import annotations

import contextlib
import logging
import threading
import uuid
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor

from celery import Task
from django.conf import settings
from django.db import connections, transaction

logger = logging.getLogger(__name__)

_lock = threading.Lock()
_executor: ThreadPoolExecutor | None = None
_pending: set[Future] = set()
_inline = threading.local()


def workers() -> int:
    return max(0, int(getattr(settings, "ARENA_EMBEDDED_WORKERS", 0)))


def in_background(app) -> bool:
    """True when a task queued now runs on the pool rather than inline."""
    return bool(app.conf.task_always_eager) and workers() > 0 and not getattr(_inline, "active", False)


@contextlib.contextmanager
def run_inline() -> Iterator[None]:
    """Within the block, tasks queued by this thread run inline (Celery's eager mode)."""
    previous = getattr(_inline, "active", False)
    _inline.active = True
    try:
        yield
    finally:
        _inline.active = previous


def _pool() -> ThreadPoolExecutor:
    global _executor
    with _lock:
        if _executor is None:
            _executor = ThreadPoolExecutor(max_workers=workers() or 1, thread_name_prefix="arena-task")
        return _executor


def _run(job: Callable[[], object], name: str) -> None:
    try:
        job()
    except Exception:
        # Celery's worker logs a failed task and goes on; so does the pool.
        logger.exception("embedded task %s failed", name)
    finally:
        connections.close_all()


def _start(job: Callable[[], object], name: str) -> None:
    future = _pool().submit(_run, job, name)
    with _lock:
        _pending.add(future)
    future.add_done_callback(_forget)


def _forget(future: Future) -> None:
    with _lock:
        _pending.discard(future)


def submit(job: Callable[[], object], *, name: str, countdown: float | None = None) -> None:
    """Run ``job`` on the pool once the current transaction commits, ``countdown`` seconds later."""

    def start() -> None:
        if not countdown or countdown <= 0:
            _start(job, name)
            return
        timer = threading.Timer(countdown, _start, args=(job, name))
        timer.daemon = True
        timer.start()

    transaction.on_commit(start)


def wait_idle(timeout: float = 30.0) -> bool:
    """Wait until no task is running or queued on the pool (timers not yet due are not waited
    for); True if it drained within ``timeout`` seconds."""
    pause = threading.Event()
    waited = 0.0
    while waited < timeout:
        with _lock:
            busy = [f for f in _pending if not f.done()]
        if not busy:
            return True
        pause.wait(0.05)
        waited += 0.05
    return False


class EmbeddedAwareTask(Task):
    """Celery's task, run on the embedded pool instead of inline when ``in_background``."""

    def apply_async(self, args=None, kwargs=None, task_id=None, producer=None, link=None, link_error=None, **options):
        if not in_background(self.app):
            return super().apply_async(args, kwargs, task_id, producer, link, link_error, **options)
        task_id = task_id or str(uuid.uuid4())
        countdown = options.pop("countdown", None)
        options.pop("connection", None)  # a broker connection means nothing here
        options.pop("eta", None)

        def job() -> object:
            with run_inline():
                return self.apply(args, kwargs, task_id=task_id, link=link, link_error=link_error, **options)

        submit(job, name=self.name, countdown=countdown)
        return self.AsyncResult(task_id)
