import os
import shutil
import tempfile

import pytest

from tests.factories import (  # noqa: F401  (fixtures)
    admin_user,
    eval_lead,
    voter,
)

REAL_SERVICES = bool(os.environ.get("DATABASE_URL")) and bool(os.environ.get("REDIS_URL"))


def pytest_configure(config):
    """Collect the static files once per run, into a directory of this run's own.

    Pages name static files by their hashed names from the manifest (as in production), so the
    manifest must exist before any page renders; subprocesses (daphne, workers, commands) find
    the same directory through STATIC_ROOT.
    """
    from django.conf import settings
    from django.core.management import call_command

    root = tempfile.mkdtemp(prefix="arena-static-")
    os.environ["STATIC_ROOT"] = root
    settings.STATIC_ROOT = root
    call_command("collectstatic", interactive=False, verbosity=0)


def pytest_unconfigure(config):
    root = os.environ.get("STATIC_ROOT", "")
    if os.path.basename(root).startswith("arena-static-"):
        shutil.rmtree(root, ignore_errors=True)


def pytest_report_header(config):
    return (
        f"arena services: database={os.environ.get('DATABASE_URL', 'sqlite')} "
        f"redis={os.environ.get('REDIS_URL', 'none')}"
    )


@pytest.fixture(autouse=True)
def _eager_celery_by_default(request):
    """Tasks run in-process unless a test starts a real worker (marker ``pipeline``)."""
    from arena.celery import app

    eager = request.node.get_closest_marker("pipeline") is None
    previous = app.conf.task_always_eager
    app.conf.task_always_eager = eager
    yield
    app.conf.task_always_eager = previous


@pytest.fixture(autouse=True)
def _clear_cache():
    from django.core.cache import cache

    from arena import process_cache
    from ratings.style_features import FEATURES

    cache.clear()
    # Each test builds its own arena: what a process kept from the last one is not this one's.
    process_cache.clear_all()
    # Battle ids come back after a flush between tests (never in an arena: battles are not deleted).
    FEATURES.clear()
    yield


@pytest.fixture(autouse=True)
def _fast_password_hashing(settings):
    # Hashing strength is Django's concern; PBKDF2 would make every test user cost ~0.3 s.
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture(autouse=True)
def _boards_fit_inline(request, settings):
    """A board page refits and serves a board behind the votes at once (as before issue 11), so
    that tests of what a board shows need not wait for a refit; tests of how boards are served
    (marker ``served_boards``) and pipeline tests get the real behaviour."""
    real = request.node.get_closest_marker("served_boards") or request.node.get_closest_marker("pipeline")
    settings.ARENA_BOARDS_FIT_INLINE = not real
