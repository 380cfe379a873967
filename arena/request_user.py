"""The signed-in user, taken from a row the view reads anyway or read as one prepared statement.

Django loads ``request.user`` with an ORM query per request (~2.5 ms of Python to compile and
build, for a 0.1 ms read). A page that reads a row joined with its owner (a voter's battle with
the voter) can hand that user to the request instead (``adopt_user``); a page that reads no such
row can read the user as one prepared statement with what it needs of them (a new battle's page:
``battles.voting.battle_reads.adopt_session_voter``, through ``arena.hot_reads``) and adopt them.
Either way only after the checks ``django.contrib.auth.get_user`` makes: the session names this
user and a configured backend that loads users as ``ModelBackend`` does (the row by primary key,
refused when inactive), the user is active, and the session's auth hash matches the user's
current password hash. When any check fails nothing is adopted, and the request loads its user
the ordinary way (which also handles rotated secrets and flushes a stale session).
"""

from __future__ import annotations

from functools import cache

from django.conf import settings
from django.contrib.auth import BACKEND_SESSION_KEY, HASH_SESSION_KEY, SESSION_KEY, load_backend
from django.contrib.auth.backends import ModelBackend
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
    backend = session.get(BACKEND_SESSION_KEY)
    if backend not in settings.AUTHENTICATION_BACKENDS or not _loads_users_by_id(backend) or not user.is_active:
        return False
    session_hash = session.get(HASH_SESSION_KEY)
    if not session_hash or not constant_time_compare(session_hash, user.get_session_auth_hash()):
        return False
    request.user = user
    return True


@cache
def _loads_users_by_id(backend_path: str) -> bool:
    """Whether the backend's ``get_user`` is ``ModelBackend``'s: the user's row by primary key, None when
    inactive. The user read here is that row; a backend that loads users otherwise is left to Django."""
    backend = type(load_backend(backend_path))
    return (
        issubclass(backend, ModelBackend)
        and backend.get_user is ModelBackend.get_user
        and backend.user_can_authenticate is ModelBackend.user_can_authenticate
    )
