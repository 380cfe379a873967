"""A real Celery worker process on Redis, against the pytest-django test database."""

import os
import subprocess
import sys
import time
import uuid
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import pytest

from tests.support.fake_provider import fake_provider  # noqa: F401  (fixture)

ROOT = Path(__file__).resolve().parents[2]


def _require_real_services():
    if os.environ.get("DATABASE_URL", "").startswith("postgres") and os.environ.get("REDIS_URL"):
        return
    message = "the pipeline tests need Postgres (DATABASE_URL) and Redis (REDIS_URL)"
    if os.environ.get("CI", "").lower() == "true":
        pytest.fail(message)
    pytest.skip(message)


class WorkerProcess:
    def __init__(self, queue: str, env: dict, log_path: Path):
        self.queue = queue
        self.env = env
        self.log_path = log_path
        self.process = None

    def start(self, timeout=60):
        self.log = open(self.log_path, "w")
        self.process = subprocess.Popen(
            [sys.executable, "-m", "celery", "-A", "arena", "worker", "-Q", self.queue, "--pool", "prefork",
             "--concurrency", "2", "--without-gossip", "--without-mingle", "--without-heartbeat",
             "--loglevel", "INFO", "--hostname", f"test-{self.queue}@%h"],
            cwd=ROOT, env=self.env, stdout=self.log, stderr=subprocess.STDOUT,
        )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"celery worker exited early:\n{self.log_path.read_text()}")
            if " ready." in self.log_path.read_text():
                return self
            time.sleep(0.2)
        raise RuntimeError(f"celery worker did not become ready:\n{self.log_path.read_text()}")

    def children(self) -> list[int]:
        path = Path(f"/proc/{self.process.pid}/task/{self.process.pid}/children")
        return [int(pid) for pid in path.read_text().split()]

    def stop(self):
        if self.process and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self.log.close()

    def output(self) -> str:
        return self.log_path.read_text()


@pytest.fixture
def celery_worker_process(transactional_db, tmp_path):
    """Start a worker on a queue of its own, pointed at the test database."""
    _require_real_services()
    from django.db import connection

    from arena.celery import app

    parts = urlsplit(os.environ["DATABASE_URL"])
    test_db_url = urlunsplit(parts._replace(path="/" + connection.settings_dict["NAME"]))
    queue = f"arena-test-{uuid.uuid4().hex[:8]}"
    env = {**os.environ, "DATABASE_URL": test_db_url, "CELERY_QUEUE": queue,
           "GENERATION_DEADLINE": "20", "PROVIDER_READ_TIMEOUT": "15", "RATINGS_DEBOUNCE_SECONDS": "1"}
    previous_queue = app.conf.task_default_queue
    app.conf.task_default_queue = queue
    worker = WorkerProcess(queue, env, tmp_path / "worker.log").start()
    yield worker
    worker.stop()
    app.conf.task_default_queue = previous_queue
    with app.connection_for_write() as conn:
        conn.default_channel.queue_delete(queue)
