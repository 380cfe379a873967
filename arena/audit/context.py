"""Who is acting: the request being served, or an actor named for a block of code.

``AuditActorMiddleware`` remembers the current request (not its user: the user
is only loaded when something is recorded, so pages that record nothing pay
nothing). Code that acts for someone else wraps itself in ``acting_as()``:
a sign-in that re-syncs roles, a task, a command. Without either, the actor is
``manage.py <command>`` under manage.py and ``system`` otherwise.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Any

SIGN_IN = "sign-in"
SYSTEM = "system"


@dataclass(frozen=True)
class Actor:
    user: Any  # a saved user, or None
    label: str


_request: ContextVar[object | None] = ContextVar("audit_request", default=None)
_named: ContextVar[Actor | None] = ContextVar("audit_actor", default=None)


class AuditActorMiddleware:
    """Makes the request's user the actor of whatever the request records."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        token = _request.set(request)
        try:
            return self.get_response(request)
        finally:
            _request.reset(token)


@contextmanager
def acting_as(label: str, user=None) -> Iterator[None]:
    """Record what runs inside as done by ``label`` (and ``user`` when one is known)."""
    token = _named.set(Actor(user=user, label=label))
    try:
        yield
    finally:
        _named.reset(token)


def user_actor(user) -> Actor:
    return Actor(user=user, label=user.get_username())


def current_actor() -> Actor:
    """The named actor, else the request's signed-in user, else what runs this process.

    An anonymous request that changes something is a sign-in (creating the
    user and syncing their roles happens before they are signed in).
    """
    named = _named.get()
    if named is not None:
        return named
    request = _request.get()
    if request is not None:
        user = getattr(request, "user", None)
        if user is not None and user.is_authenticated:
            return user_actor(user)
        return Actor(user=None, label=SIGN_IN)
    return Actor(user=None, label=process_label())


def process_label() -> str:
    argv = sys.argv
    if len(argv) > 1 and argv[0].endswith("manage.py"):
        return f"manage.py {argv[1]}"[:150]
    return SYSTEM
