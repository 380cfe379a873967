"""The production shape for ``bench_web.py``: its own Redis, gunicorn, Celery workers and beat, the fake provider.

Each process gets a free port and a scratch folder; :class:`Stack` stops them all (and only them) on exit.
"""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
VENV_BIN = Path(sys.executable).parent
BOARDS_QUEUE = "boards"  # as docker-compose


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _wait_until(check, what: str, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if check():
                return
        except OSError:
            pass
        time.sleep(0.2)
    raise RuntimeError(f"{what} did not come up within {timeout:.0f} s")


def _answers(port: int) -> bool:
    with socket.create_connection(("127.0.0.1", port), timeout=0.5):
        return True


class Stack:
    """Starts processes in order and stops them in reverse; ``redis_pid`` is kept for the hung-Redis phase."""

    def __init__(self, *, web_workers: int = 3) -> None:
        self.web_workers = web_workers
        self.folder = Path(tempfile.mkdtemp(prefix="arena-bench-web-"))
        self.processes: list[subprocess.Popen] = []
        self.redis_port = free_port()
        self.web_port = free_port()
        self.provider_port = free_port()
        self.redis_pid: int | None = None

    def environment(self, database_url: str) -> dict[str, str]:
        redis = f"redis://127.0.0.1:{self.redis_port}"
        return {
            **os.environ,
            "DATABASE_URL": database_url,
            "REDIS_URL": f"{redis}/0",
            "CELERY_BROKER_URL": f"{redis}/1",
            "CHANNEL_LAYER_URL": f"{redis}/2",
            "CELERY_BOARDS_QUEUE": BOARDS_QUEUE,
            "SECRET_KEY": "bench-only-secret-key",
            "ARENA_ALLOW_PRIVATE_ENDPOINTS": "1",
            "ALLOWED_HOSTS": "127.0.0.1,localhost",
            # 200 voters cast thousands of votes each in a few minutes: the daily cap is not what is measured.
            "DAILY_VOTE_CAP": "1000000",
            "DEBUG": "0",
        }

    def start_redis(self) -> None:
        process = self._spawn(
            ["redis-server", "--port", str(self.redis_port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"],
            "redis.log",
            env=dict(os.environ),
        )
        self.redis_pid = process.pid
        _wait_until(lambda: _answers(self.redis_port), "redis-server")

    def start_services(self, env: dict[str, str]) -> None:
        """Fake provider, gunicorn (sync workers: 3 as docker-compose), the Celery worker (nice 10), the boards
        worker (idle class) and beat, as docker-compose runs them."""
        self._spawn(
            [sys.executable, "manage.py", "run_fake_provider", "--port", str(self.provider_port), "--latency", "0.05"],
            "provider.log",
            env=env,
        )
        self._spawn(
            [
                str(VENV_BIN / "gunicorn"),
                "arena.wsgi:application",
                "--bind",
                f"127.0.0.1:{self.web_port}",
                "--workers",
                str(self.web_workers),
                "--timeout",
                "60",
                "--control-socket",
                str(self.folder / "gunicorn.ctl"),
            ],
            "gunicorn.log",
            env=env,
        )
        self._spawn(
            # As docker-compose runs them: the main worker at nice 10, board refits at the idle CPU class.
            ["nice", "-n", "10", str(VENV_BIN / "celery"), "-A", "arena", "worker", "--loglevel", "INFO"]
            + ["--concurrency", "4"]
            + ["-Q", "arena", "--hostname", f"bench-{self.web_port}@%h"],
            "worker.log",
            env=env,
        )
        self._spawn(
            ["chrt", "--idle", "0", str(VENV_BIN / "celery"), "-A", "arena", "worker", "--loglevel", "INFO"]
            + ["--concurrency", "2"]
            + ["-Q", BOARDS_QUEUE, "--hostname", f"bench-boards-{self.web_port}@%h"],
            "boards-worker.log",
            env=env,
        )
        self._spawn(
            [str(VENV_BIN / "celery"), "-A", "arena", "beat", "--loglevel", "INFO"]
            + ["--schedule", str(self.folder / "celerybeat-schedule")],
            "beat.log",
            env=env,
        )
        _wait_until(lambda: _answers(self.provider_port), "fake provider")
        url = f"http://127.0.0.1:{self.web_port}/healthz"
        _wait_until(lambda: urllib.request.urlopen(url, timeout=2).status == 200, "gunicorn")
        # As a worker that has been up a while: its archive of the votes read (ratings.vote_archive).
        _wait_until(lambda: self.archive_read() is not None, "the boards worker's archive of the votes", 300)

    def archive_read(self) -> str | None:
        """The boards worker's line saying it read the votes at its start, once it has."""
        log = self.folder / "boards-worker.log"
        text = log.read_text(errors="replace") if log.exists() else ""
        found = re.search(r"vote archive: .*", text)
        return found.group(0) if found else None

    def pause_redis(self) -> None:
        assert self.redis_pid is not None
        os.kill(self.redis_pid, signal.SIGSTOP)

    def resume_redis(self) -> None:
        assert self.redis_pid is not None
        os.kill(self.redis_pid, signal.SIGCONT)

    def log(self, name: str) -> str:
        path = self.folder / name
        return path.read_text(errors="replace") if path.exists() else ""

    def stop(self) -> None:
        if self.redis_pid is not None:
            try:
                os.kill(self.redis_pid, signal.SIGCONT)
            except ProcessLookupError:
                pass
        for process in reversed(self.processes):
            if process.poll() is None:
                process.terminate()
        for process in reversed(self.processes):
            try:
                process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                process.kill()

    def _spawn(self, command: list[str], log_name: str, *, env: dict[str, str]) -> subprocess.Popen:
        log = open(self.folder / log_name, "wb")  # the process writes to it until stop()
        process = subprocess.Popen(command, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)
        self.processes.append(process)
        return process


def cpu_seconds_by_process() -> dict[int, tuple[str, float]]:
    """(program, CPU seconds used so far, user + system) of every process on this machine, by pid.

    Read from /proc (Linux). Program names group what the bench starts: gunicorn, celery worker,
    boards worker, celery beat, postgres, redis-server, the bench itself (its load generator).
    """
    ticks = os.sysconf("SC_CLK_TCK")
    found = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            text = stat.read_text()
            cmdline = (stat.parent / "cmdline").read_bytes().split(b"\0")
        except OSError:
            continue
        # comm is in parentheses and may contain spaces: the fields after it are split from its end.
        fields = text[text.rindex(")") + 2 :].split()
        program = _program(text[text.index("(") + 1 : text.rindex(")")], cmdline)
        found[int(stat.parent.name)] = (program, (int(fields[11]) + int(fields[12])) / ticks)
    return found


def cpu_seconds_between(before: dict[int, tuple[str, float]], after: dict[int, tuple[str, float]]) -> dict[str, float]:
    """CPU seconds used between two readings, by program; a process that ended in between is not counted."""
    used: dict[str, float] = {}
    for pid, (program, seconds) in after.items():
        earlier = before.get(pid)
        spent = seconds - earlier[1] if earlier is not None and earlier[0] == program else seconds
        used[program] = used.get(program, 0.0) + spent
    return used


def _program(comm: str, cmdline: list[bytes]) -> str:
    """gunicorn, celery worker, celery beat, postgres, redis-server, the bench itself…"""
    words = [part.decode(errors="replace") for part in cmdline if part]
    text = " ".join(words)
    if comm == "postgres":
        # A backend's title names its database (arena_bench_web…); Postgres's own processes name their job.
        if "autovacuum" in text:
            return "postgres autovacuum"
        if any(job in text for job in ("checkpointer", "background writer", "walwriter", "wal writer")):
            return "postgres writers"
        return comm
    if comm in ("redis-server", "wrk"):
        return comm
    for name in ("gunicorn", "run_fake_provider", "bench_web"):
        if name in text:
            return name
    if "celery" in text:
        if " beat" in text:
            return "celery beat"
        return "boards worker" if f"-Q {BOARDS_QUEUE}" in text else "celery worker"
    return comm
