"""Request bodies over the limit are refused with a 413 before they are read.

The embedded demo server runs for real in a subprocess (``manage.py serve_demo``, embedded mode); an
anonymous 100 MB POST to the login page, with a declared length or chunked, must leave its peak memory
(VmHWM) within 50 MB of what it was.
"""

import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
from django.test import Client

ROOT = Path(__file__).resolve().parents[2]
HUNDRED_MB = 100 * 1024 * 1024
ALLOWED_GROWTH_MB = 50


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _memory_mb(pid: int) -> dict[str, int]:
    fields = dict(line.split(":", 1) for line in Path(f"/proc/{pid}/status").read_text().splitlines() if ":" in line)
    return {name: int(fields[name].split()[0]) // 1024 for name in ("VmRSS", "VmHWM")}


@pytest.fixture
def demo_server(tmp_path):
    if not Path("/proc/self/status").exists():
        pytest.skip("reads memory from /proc (Linux)")
    port = _free_port()
    env = {k: v for k, v in os.environ.items() if k not in {"DATABASE_URL", "REDIS_URL", "CELERY_BROKER_URL"}}
    env.pop("CHANNEL_LAYER_URL", None)
    env.update(
        SQLITE_PATH=str(tmp_path / "demo.sqlite3"),
        FAKE_PROVIDER_PORT=str(_free_port()),
        PYTHONUNBUFFERED="1",
    )
    # As `make demo` does: the demo server expects a migrated database (it repoints the demo LLMs).
    subprocess.run([sys.executable, "manage.py", "migrate", "--noinput", "-v0"], cwd=ROOT, env=env, check=True)
    log = open(tmp_path / "serve_demo.log", "w")
    process = subprocess.Popen(
        [sys.executable, "manage.py", "serve_demo", "--port", str(port)],
        cwd=ROOT,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    deadline = time.monotonic() + 60
    while True:
        if process.poll() is not None:
            raise RuntimeError((tmp_path / "serve_demo.log").read_text())
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
            break
        except OSError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.2)
    process.port = port
    yield process
    process.terminate()
    process.wait(timeout=20)
    log.close()


def _post(port: int, *, chunked: bool, size: int = HUNDRED_MB) -> tuple[bytes, int]:
    """Sends a POST of ``size`` bytes to the login page until the server stops reading; returns the
    answer and how much was sent."""
    framing = "Transfer-Encoding: chunked" if chunked else f"Content-Length: {size}"
    connection = socket.create_connection(("127.0.0.1", port))
    connection.sendall(
        f"POST /accounts/login/ HTTP/1.1\r\nHost: 127.0.0.1\r\n"
        f"Content-Type: application/x-www-form-urlencoded\r\n{framing}\r\n\r\n".encode()
    )
    piece = b"a" * 65536
    sent = 0
    try:
        while sent < size:
            connection.sendall(b"%x\r\n%s\r\n" % (len(piece), piece) if chunked else piece)
            sent += len(piece)
        if chunked:
            connection.sendall(b"0\r\n\r\n")
    except OSError:
        pass  # the server answered and closed: the rest is never read
    connection.settimeout(30)
    answer = b""
    try:
        while chunk := connection.recv(65536):
            answer += chunk
    except OSError:
        pass
    connection.close()
    return answer, sent


@pytest.mark.parametrize("chunked", [False, True], ids=["content-length", "chunked"])
def test_a_100_mb_anonymous_post_to_the_demo_server_is_refused_without_filling_its_memory(demo_server, chunked):
    before = _memory_mb(demo_server.pid)
    answer, sent = _post(demo_server.port, chunked=chunked)
    time.sleep(0.5)
    after = _memory_mb(demo_server.pid)
    assert answer.startswith(b"HTTP/1.1 413"), answer[:300]
    assert b"larger than the limit" in answer
    assert after["VmHWM"] - before["VmHWM"] <= ALLOWED_GROWTH_MB, (before, after, sent)
    assert demo_server.poll() is None


def test_the_demo_server_still_takes_ordinary_posts_and_websockets(demo_server):
    answer, _ = _post(demo_server.port, chunked=False, size=65536)
    assert answer.startswith(b"HTTP/1.1 403"), answer[:300]  # no CSRF token: the ordinary refusal
    with socket.create_connection(("127.0.0.1", demo_server.port), timeout=10) as connection:
        connection.sendall(
            b"GET /ws/live/00000000-0000-0000-0000-000000000000/ HTTP/1.1\r\nHost: 127.0.0.1\r\n"
            b"Upgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Version: 13\r\n"
            b"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nOrigin: http://127.0.0.1\r\n\r\n"
        )
        handshake = connection.recv(4096)
    # The consumer runs (it accepts and then refuses an anonymous visitor, or refuses at once).
    assert handshake.startswith((b"HTTP/1.1 101", b"HTTP/1.1 403")), handshake[:300]


@pytest.mark.django_db
def test_wsgi_refuses_a_declared_body_over_the_limit_before_reading_it(settings):
    settings.ARENA_MAX_REQUEST_BYTES = 1000
    client = Client()
    refused = client.generic(
        "POST", "/accounts/login/", b"x" * 10, content_type="text/plain", CONTENT_LENGTH=str(HUNDRED_MB)
    )
    assert refused.status_code == 413
    assert "larger than the limit" in refused.content.decode()
    assert refused["Connection"] == "close"
    ordinary = client.post("/accounts/login/", {"username": "nobody", "password": "x"})
    assert ordinary.status_code != 413


@pytest.fixture
def gunicorn_server(tmp_path):
    port = _free_port()
    log = open(tmp_path / "gunicorn.log", "w")
    process = subprocess.Popen(
        [
            str(Path(sys.executable).parent / "gunicorn"),
            "arena.wsgi:application",
            "--bind",
            f"127.0.0.1:{port}",
            "--workers",
            "1",
            "--control-socket",
            str(tmp_path / "gunicorn.ctl"),
        ],
        cwd=ROOT,
        env=dict(os.environ),
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    deadline = time.monotonic() + 60
    while True:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
            break
        except OSError:
            if process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError((tmp_path / "gunicorn.log").read_text()) from None
            time.sleep(0.2)
    process.port = port
    yield process
    process.terminate()
    process.wait(timeout=20)
    log.close()


def test_a_100_mb_post_to_gunicorn_is_refused_without_filling_the_workers_memory(gunicorn_server):
    _post(gunicorn_server.port, chunked=False, size=1000)  # the worker loads the app on its first request
    worker = int(Path(f"/proc/{gunicorn_server.pid}/task/{gunicorn_server.pid}/children").read_text().split()[0])
    before = _memory_mb(worker)
    answer, sent = _post(gunicorn_server.port, chunked=False)
    after = _memory_mb(worker)
    assert answer.startswith(b"HTTP/1.1 413"), answer[:300]
    assert after["VmHWM"] - before["VmHWM"] <= ALLOWED_GROWTH_MB, (before, after, sent)
