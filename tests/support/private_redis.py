"""A ``redis-server`` of the tests' own, for tests that restart Redis or must not share it.

Every test clears the cache of the shared Redis (``FLUSHDB``), and other test runs on the
same machine do too, at any moment; provider limits, throttle windows and queues that a
test relies on live here instead. Import the fixture into a conftest.py::

    from tests.support.private_redis import private_redis  # noqa: F401  (fixture)
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import time
from pathlib import Path

import pytest


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class PrivateRedis:
    """A ``redis-server`` of the test's own on a free port, without persistence.

    Tests that restart Redis, or that must not see other test runs flush the
    shared Redis (every test clears the cache), use this one instead.
    ``restart()`` loses everything, as a real restart without persistence would.
    """

    def __init__(self, log_path: Path):
        self.port = free_port()
        self.log_path = log_path
        self.process: subprocess.Popen | None = None

    def url(self, db: int = 0) -> str:
        return f"redis://127.0.0.1:{self.port}/{db}"

    def start(self, timeout: float = 10) -> PrivateRedis:
        with open(self.log_path, "a") as log:
            self.process = subprocess.Popen(
                ["redis-server", "--port", str(self.port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"],
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.2):
                    return self
            except OSError:
                time.sleep(0.05)
        raise RuntimeError(f"redis-server did not start:\n{self.log_path.read_text()}")

    def stop(self) -> None:
        if self.process and self.process.poll() is None:
            self.process.kill()
            self.process.wait()

    def restart(self, down_seconds: float = 0.5) -> None:
        self.stop()
        time.sleep(down_seconds)
        self.start()


@pytest.fixture(scope="module")
def private_redis(tmp_path_factory):
    if shutil.which("redis-server") is None:
        message = "redis-server is not installed (these tests start a Redis of their own)"
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(message)
        pytest.skip(message)
    server = PrivateRedis(tmp_path_factory.mktemp("redis") / "redis.log").start()
    yield server
    server.stop()
