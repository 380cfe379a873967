"""Work to run after the current response is sent (embedded mode: Celery runs tasks eagerly).

With a real worker a page queues its background work on the broker. In embedded mode there is
no worker, and running the task inside the request would make the visitor wait for it: the
work runs instead when the response is closed, after its body went out (``request_finished``).
Outside a request (a command, a worker) it runs at once.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable

logger = logging.getLogger(__name__)

_local = threading.local()


def defer(work: Callable[[], object]) -> None:
    """Run ``work`` after the current response (at once when no request is being served)."""
    pending = getattr(_local, "pending", None)
    if pending is None:
        _run(work)
    else:
        pending.append(work)


def on_request_started(sender, **kwargs) -> None:
    _local.pending = []


def on_request_finished(sender, **kwargs) -> None:
    pending = getattr(_local, "pending", None) or []
    _local.pending = None
    for work in pending:
        _run(work)


def _run(work: Callable[[], object]) -> None:
    try:
        work()
    except Exception:
        # The response is already out; the periodic checks catch up what failed here.
        logger.exception("work deferred to after the response failed")
