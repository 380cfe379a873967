"""Queueing a Celery task from a request without waiting on a hung or absent broker.

Celery's default publish retries and, on the Redis transport, reads with no socket timeout:
a hung Redis holds the request for good, a stopped one for seconds of reconnect attempts.
Here a publish gets one attempt on a connection of its own with ``ARENA_REDIS_TIMEOUT``
seconds per socket operation. A failed publish is logged and reported as False; the caller's
periodic check (or reconciler) queues the work again later.
"""

from __future__ import annotations

import logging

from django.conf import settings

logger = logging.getLogger(__name__)


def publish(task, args: tuple = (), *, countdown: float | None = None, timeout: float | None = None) -> bool:
    """Queue ``task`` with ``args``; True if the broker took it. Never raises.

    ``timeout``: seconds per broker operation (default ``ARENA_REDIS_TIMEOUT``). In eager mode
    the task runs here, as ``apply_async`` does.
    """
    timeout = settings.ARENA_REDIS_TIMEOUT if timeout is None else timeout
    options = {
        "socket_timeout": timeout,
        "socket_connect_timeout": timeout,
        # One connection attempt: kombu's default is to retry for seconds.
        "max_retries": 0,
    }
    try:
        with task.app.connection_for_write(transport_options=options, connect_timeout=timeout) as connection:
            task.apply_async(args, countdown=countdown, connection=connection, retry=False)
        return True
    except Exception:
        logger.warning("could not queue %s%r", task.name, args[:1], exc_info=True)
        return False
