"""Sessions expire after a stretch of inactivity, not a fixed time after sign-in.

Django restarts a session's lifetime (``SESSION_COOKIE_AGE``) only when the session is saved.
Saving it on every request would add a database write to every vote; here an active session
is saved at most once per refresh interval (a tenth of its lifetime, at most five minutes), so it
lasts its full lifetime after the last request, give or take that interval.
"""

from __future__ import annotations

import time
from collections.abc import Callable

from django.conf import settings
from django.http import HttpRequest, HttpResponse

REFRESHED_AT = "arena_refreshed_at"
MAX_REFRESH_SECONDS = 300


def refresh_interval() -> float:
    return min(MAX_REFRESH_SECONDS, settings.SESSION_COOKIE_AGE / 10)


class SessionIdleExpiry:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        session = getattr(request, "session", None)
        user = getattr(request, "user", None)
        if session is not None and user is not None and user.is_authenticated and not session.is_empty():
            now = time.time()
            if now - float(session.get(REFRESHED_AT, 0)) >= refresh_interval():
                session[REFRESHED_AT] = now  # marks it modified: saved with a fresh expiry
        return response
