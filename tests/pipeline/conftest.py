"""A real Celery worker process on Redis, against the pytest-django test database."""

import contextlib
import os
import socket
import subprocess
import sys
import time
import uuid
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import pytest
from amqp.exceptions import ChannelError

from tests.support.fake_provider import fake_provider  # noqa: F401  (fixture)
from tests.support.private_redis import PrivateRedis, private_redis  # noqa: F401  (fixture)

ROOT = Path(__file__).resolve().parents[2]


def _require_real_services():
    if os.environ.get("DATABASE_URL", "").startswith("postgres") and os.environ.get("REDIS_URL"):
        return
    message = "the pipeline tests need Postgres (DATABASE_URL) and Redis (REDIS_URL)"
    if os.environ.get("CI", "").lower() == "true":
        pytest.fail(message)
    pytest.skip(message)


class WorkerProcess:
    """``beat_schedule``: a file path to embed Celery beat (``-B``) with the project's schedule."""

    def __init__(
        self, queue: str, env: dict, log_path: Path, *, concurrency: int = 2, beat_schedule: Path | None = None
    ):
        self.queue = queue
        self.env = env
        self.log_path = log_path
        self.concurrency = concurrency
        self.beat_schedule = beat_schedule
        self.process: subprocess.Popen | None = None

    def start(self, timeout=60):
        self.log = open(self.log_path, "w")
        beat = ["-B", "--schedule", str(self.beat_schedule)] if self.beat_schedule else []
        self.process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "celery",
                "-A",
                "arena",
                "worker",
                "-Q",
                self.queue,
                "--pool",
                "prefork",
                "--concurrency",
                str(self.concurrency),
                "--without-gossip",
                "--without-mingle",
                "--without-heartbeat",
                "--loglevel",
                "INFO",
                "--hostname",
                f"test-{self.queue}@%h",
                *beat,
            ],
            cwd=ROOT,
            # The suite's own processes keep the CPU contended: refits would wait after each (ratings.refit_pacing),
            # which tests/ratings/test_refit_pacing.py covers; here boards fit at once unless a test says otherwise.
            env={"REFIT_CPU_SHARE_UNDER_LOAD": "0", **self.env},
            stdout=self.log,
            stderr=subprocess.STDOUT,
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
        assert self.process is not None, "start() first"
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

    def idle(self) -> bool:
        """True when no task waits in the worker's queue and the worker runs, holds or schedules none.

        Asked over Celery's remote control, so a test can wait for "everything queued has run"
        instead of sleeping and hoping.
        """
        from arena.celery import app

        with app.connection_for_read() as conn:
            try:
                if conn.default_channel.queue_declare(self.queue, passive=True).message_count:
                    return False
            except ChannelError:
                pass  # the Redis transport drops an emptied queue: nothing waits in it
        inspect = app.control.inspect(destination=[f"test-{self.queue}@{socket.gethostname()}"], timeout=2.0)
        for replies in (inspect.active(), inspect.reserved(), inspect.scheduled()):
            if not replies or any(replies.values()):
                return False  # no answer yet, or tasks in hand
        return True


@pytest.fixture
def celery_worker_process(transactional_db, tmp_path):
    """Start a worker on a queue of its own, pointed at the test database."""
    _require_real_services()
    from django.db import connection

    from arena.celery import app

    parts = urlsplit(os.environ["DATABASE_URL"])
    test_db_url = urlunsplit(parts._replace(path="/" + connection.settings_dict["NAME"]))
    queue = f"arena-test-{uuid.uuid4().hex[:8]}"
    env = {
        **os.environ,
        "DATABASE_URL": test_db_url,
        "CELERY_QUEUE": queue,
        "GENERATION_DEADLINE": "20",
        "PROVIDER_READ_TIMEOUT": "15",
        "RATINGS_DEBOUNCE_SECONDS": "1",
    }
    previous_queue = app.conf.task_default_queue
    app.conf.task_default_queue = queue
    worker = WorkerProcess(queue, env, tmp_path / "worker.log").start()
    yield worker
    worker.stop()
    app.conf.task_default_queue = previous_queue
    with app.connection_for_write() as conn:
        conn.default_channel.queue_delete(queue)


# --- workers on a private Redis (tests.support.private_redis) ---------------------------------------


def worker_database_url() -> str:
    from django.db import connection

    parts = urlsplit(os.environ["DATABASE_URL"])
    return urlunsplit(parts._replace(path="/" + connection.settings_dict["NAME"]))


@contextlib.contextmanager
def celery_and_channels_on(redis: PrivateRedis, queue: str):
    """Point this test process's Celery publisher and channel layer at ``redis`` (db 1 broker, db 0 the rest)."""
    from django.test import override_settings

    from arena.celery import app

    keys = ("broker_url", "broker_read_url", "broker_write_url", "task_default_queue")
    previous = {key: app.conf[key] for key in keys}
    app.conf.update(
        broker_url=redis.url(1), broker_read_url=redis.url(1), broker_write_url=redis.url(1), task_default_queue=queue
    )
    app._after_fork()  # drop pooled broker connections to the shared Redis
    layers = {"default": {"BACKEND": "channels_redis.core.RedisChannelLayer", "CONFIG": {"hosts": [redis.url(0)]}}}
    try:
        with override_settings(REDIS_URL=redis.url(0), CHANNEL_LAYERS=layers):
            yield
    finally:
        app.conf.update(previous)
        app._after_fork()


def isolated_worker_env(redis: PrivateRedis, queue: str, **overrides) -> dict:
    return {
        **os.environ,
        "DATABASE_URL": worker_database_url(),
        "REDIS_URL": redis.url(0),
        "CHANNEL_LAYER_URL": redis.url(0),
        "CELERY_BROKER_URL": redis.url(1),
        "CELERY_QUEUE": queue,
        "ARENA_ALLOW_PRIVATE_ENDPOINTS": "1",
        **{key: str(value) for key, value in overrides.items()},
    }


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture
def daphne_server(celery_worker_process, tmp_path):
    """daphne on a free port, on the worker's database, queue and channel layer."""
    port = _free_port()
    log_path = tmp_path / "daphne.log"
    log = open(log_path, "w")
    process = subprocess.Popen(
        [sys.executable, "-m", "daphne", "-b", "127.0.0.1", "-p", str(port), "arena.asgi:application"],
        cwd=ROOT,
        env=celery_worker_process.env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    deadline = time.monotonic() + 30
    while True:
        if process.poll() is not None:
            raise RuntimeError(f"daphne exited early:\n{log_path.read_text()}")
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
            break
        except OSError:
            if time.monotonic() > deadline:
                process.kill()
                raise RuntimeError(f"daphne did not start listening:\n{log_path.read_text()}") from None
            time.sleep(0.2)
    process.log_path = log_path
    process.url = f"http://127.0.0.1:{port}"
    yield process
    process.terminate()
    try:
        process.wait(timeout=10)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()
    log.close()
