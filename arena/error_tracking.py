"""Optional error tracking with Sentry (``SENTRY_DSN``), for web and workers alike.

What leaves the building is kept small: no personal data (user, cookies, client address), no
request bodies (prompts are internal material, votes are blind), no local variables of stack
frames (they hold answers and keys). An event carries the exception, the stack, the URL (opaque
codes only) and the request id.
"""

from __future__ import annotations

import sentry_sdk
from sentry_sdk.integrations.celery import CeleryIntegration
from sentry_sdk.integrations.django import DjangoIntegration

from arena.logs import current_id


def start(*, dsn: str, environment: str, traces_sample_rate: float) -> bool:
    """Start the SDK when ``dsn`` is set; True if it was started."""
    if not dsn:
        return False
    sentry_sdk.init(
        dsn=dsn,
        environment=environment or None,
        integrations=[DjangoIntegration(), CeleryIntegration()],
        send_default_pii=False,
        max_request_body_size="never",
        include_local_variables=False,
        traces_sample_rate=traces_sample_rate,
        before_send=_with_request_id,
    )
    return True


def _with_request_id(event, hint):
    rid = current_id()
    if rid:
        event.setdefault("tags", {})["request_id"] = rid
    return event
