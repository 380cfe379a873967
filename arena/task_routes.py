"""Which broker queue a task goes to: board refits on a queue of their own when one is configured.

A board refit (a filtered board, a style-controlled one, the decision page, a rating history) is
seconds of CPU that nobody waits for: the page serves the newest snapshot meanwhile. With
``CELERY_BOARDS_QUEUE`` set, they go to that queue, which docker-compose serves with a worker of
its own at the idle CPU class (``chrt --idle 0``): it runs only on cores that the web, Postgres and
the main worker (answers, online ratings, the default board) leave idle, so eval leads opening cold
boards cost voters little. Unset, everything goes to the one queue (``CELERY_QUEUE``), as before.
"""

from __future__ import annotations

from django.conf import settings

# Task names, not imports: the project's configuration does not import the apps' task modules.
BOARD_TASKS = frozenset({"ratings.tasks.refit_board"})


def route(name, args, kwargs, options, task=None, **kw) -> dict | None:
    """Celery's router signature; None leaves the task on the default queue."""
    if name in BOARD_TASKS and settings.ARENA_BOARDS_QUEUE:
        return {"queue": settings.ARENA_BOARDS_QUEUE}
    return None
