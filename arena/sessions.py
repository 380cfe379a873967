"""Sessions expire after a stretch of inactivity, not a fixed time after sign-in.

Django restarts a session's lifetime (``SESSION_COOKIE_AGE``) only when the session is saved.
Saving it on every request would add a database write to every vote; here an active session
is saved at most once per refresh interval (a tenth of its lifetime, at most five minutes), so it
lasts its full lifetime after the last request, give or take that interval.

Every request of a signed-in user reads its session: ``SessionStore`` (``SESSION_ENGINE =
"arena.sessions"``) is Django's database store with that read as one prepared statement
(``arena.hot_reads``) instead of an ORM query compiled each time.
"""

from __future__ import annotations

import time
from collections.abc import Callable

from django.conf import settings
from django.contrib.sessions.backends import db
from django.db import connection
from django.http import HttpRequest, HttpResponse
from django.utils import timezone

from arena.hot_reads import datetime_param, fetch_rows

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


class SessionStore(db.SessionStore):
    def load(self) -> dict:
        table = connection.ops.quote_name(self.model._meta.db_table)
        rows = fetch_rows(
            f"SELECT session_data FROM {table} WHERE session_key = %s AND expire_date > %s",
            [self.session_key, datetime_param(timezone.now())],
        )
        if not rows:
            # As Django's store: an unknown or expired key is dropped, so that saving makes a new one.
            self._session_key = None
            return {}
        return self.decode(rows[0][0])
