"""The signed-in user, taken from a row the view reads anyway instead of a query of its own.

Django loads ``request.user`` with one query per request. A page that reads a row joined with
its owner (a voter's battle with the voter) can hand that user to the request instead, after
the same checks ``django.contrib.auth.get_user`` makes: the session names this user and a
configured backend, the user is active, and the session's auth hash matches the user's current
password hash. When any check fails nothing is adopted, and the request loads its user the
ordinary way (which also handles rotated secrets and flushes a stale session).
"""

from __future__ import annotations

from django.conf import settings
from django.contrib.auth import BACKEND_SESSION_KEY, HASH_SESSION_KEY, SESSION_KEY
from django.http import HttpRequest
from django.utils.crypto import constant_time_compare


def session_user_id(request: HttpRequest) -> int | None:
    """The id of the user the session is signed in as, without loading the user."""
    try:
        return int(request.session[SESSION_KEY])
    except (KeyError, TypeError, ValueError):
        return None


def adopt_user(request: HttpRequest, user) -> bool:
    """Make ``user`` the request's user if the session is verifiably theirs; True if adopted."""
    session = request.session
    if user is None or session_user_id(request) != user.pk:
        return False
    if session.get(BACKEND_SESSION_KEY) not in settings.AUTHENTICATION_BACKENDS or not user.is_active:
        return False
    session_hash = session.get(HASH_SESSION_KEY)
    if not session_hash or not constant_time_compare(session_hash, user.get_session_auth_hash()):
        return False
    request.user = user
    return True
