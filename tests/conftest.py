import os

import pytest

from tests.factories import (  # noqa: F401  (fixtures)
    admin_user,
    eval_lead,
    voter,
)

REAL_SERVICES = bool(os.environ.get("DATABASE_URL")) and bool(os.environ.get("REDIS_URL"))


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

    cache.clear()
    yield


@pytest.fixture(autouse=True)
def _fast_password_hashing(settings):
    # Hashing strength is Django's concern; PBKDF2 would make every test user cost ~0.3 s.
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
