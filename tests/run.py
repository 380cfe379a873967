"""Run the test suite against real services when they are there.

``DATABASE_URL``/``REDIS_URL`` win when set. Otherwise Postgres and Redis on
their default local ports are used if they answer. With ``CI=true`` both are
required: the run stops with a clear message instead of quietly falling back
to SQLite and skipping the pipeline tests.
"""

from __future__ import annotations

import os
import socket
import sys
from collections.abc import MutableMapping

LOCAL_DATABASE_URL = "postgres://postgres@127.0.0.1:5432/test"
LOCAL_REDIS_URL = "redis://127.0.0.1:6379/15"
LOCAL_BROKER_URL = "redis://127.0.0.1:6379/14"
LOCAL_CHANNEL_LAYER_URL = "redis://127.0.0.1:6379/13"


def answers(host: str, port: int, timeout: float = 1.0) -> bool:
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return True
    except OSError:
        return False


def configure(environ: MutableMapping[str, str]) -> list[str]:
    """Fill in service URLs; returns the problems that make a CI run impossible."""
    problems = []
    if not environ.get("DATABASE_URL") and answers("127.0.0.1", 5432):
        environ["DATABASE_URL"] = LOCAL_DATABASE_URL
    if not environ.get("REDIS_URL") and answers("127.0.0.1", 6379):
        environ["REDIS_URL"] = LOCAL_REDIS_URL
        # Tests clear the cache (FLUSHDB); keep the broker's queues in another database.
        environ.setdefault("CELERY_BROKER_URL", LOCAL_BROKER_URL)
        environ.setdefault("CHANNEL_LAYER_URL", LOCAL_CHANNEL_LAYER_URL)
    if environ.get("CI", "").lower() == "true":
        if not environ.get("DATABASE_URL", "").startswith("postgres"):
            problems.append("Postgres is required in CI: set DATABASE_URL or start Postgres on 127.0.0.1:5432.")
        if not environ.get("REDIS_URL"):
            problems.append("Redis is required in CI: set REDIS_URL or start Redis on 127.0.0.1:6379.")
    environ.setdefault("SECRET_KEY", "tests-only-secret-key-not-for-production")
    # The fake provider listens on 127.0.0.1; tests of the URL policy set the setting themselves.
    environ.setdefault("ARENA_ALLOW_PRIVATE_ENDPOINTS", "1")
    # One test database per run, so two runs on one Postgres never drop each other's.
    environ.setdefault("TEST_DATABASE_NAME", f"test_arena_{os.getpid()}")
    return problems


def main(argv: list[str]) -> int:
    problems = configure(os.environ)
    if problems:
        for problem in problems:
            print(f"error: {problem}", file=sys.stderr)
        return 2
    print(
        f"tests: database={os.environ.get('DATABASE_URL', 'sqlite (embedded)')} "
        f"redis={os.environ.get('REDIS_URL', 'none (embedded)')}",
        flush=True,
    )
    import pytest

    return pytest.main(argv)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
