"""JSON logs with LOG_FORMAT=json, request ids, and Sentry events sent to a real local HTTP endpoint."""

import gzip
import json
import os
import subprocess
import sys
import threading
import zlib
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def _run(code: str, **env) -> subprocess.CompletedProcess:
    environment = {**os.environ, "DJANGO_SETTINGS_MODULE": "arena.settings", **env}
    prelude = "import django; django.setup()\nfrom django.test import Client, override_settings\n"
    return subprocess.run(
        [sys.executable, "-c", prelude + code], cwd=ROOT, env=environment, capture_output=True, text=True, timeout=120
    )


def test_json_logs_are_one_object_per_line_with_the_request_id():
    result = _run(
        "client = Client()\n"
        "print(client.get('/accounts/login/')['X-Request-ID'])\n"
        "print(client.get('/no-such-page/', headers={'X-Request-ID': 'proxy-given-id-123'})['X-Request-ID'])\n"
        "print(client.get('/accounts/login/', headers={'X-Request-ID': 'bad id\\n'})['X-Request-ID'])\n"
        "import logging\n"
        "try:\n    1 / 0\nexcept ZeroDivisionError:\n    logging.getLogger('arena.test').exception('it failed')\n",
        LOG_FORMAT="json",
    )
    assert result.returncode == 0, result.stderr
    first, proxied, replaced = result.stdout.split()
    assert proxied == "proxy-given-id-123"
    assert replaced != "bad id" and len(replaced) == 32
    lines = [json.loads(line) for line in result.stderr.splitlines()]  # every line is one JSON object
    access = [line for line in lines if line["logger"] == "arena.access"]
    assert [(a["path"], a["status"], a["request_id"]) for a in access] == [
        ("/accounts/login/", 200, first),
        ("/no-such-page/", 404, "proxy-given-id-123"),
        ("/accounts/login/", 200, replaced),
    ]
    not_found = next(line for line in lines if line["logger"] == "django.request")
    assert not_found["request_id"] == "proxy-given-id-123"
    failure = next(line for line in lines if line["logger"] == "arena.test")
    assert failure["level"] == "ERROR" and "ZeroDivisionError" in failure["exception"]


def test_plain_logs_stay_plain():
    result = _run("Client().get('/accounts/login/')\n", LOG_FORMAT="plain")
    assert result.returncode == 0, result.stderr
    assert " INFO arena.access: GET /accounts/login/ 200" in result.stderr


class _Ingest(BaseHTTPRequestHandler):
    received: list[bytes] = []

    def do_POST(self):
        body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
        encoding = self.headers.get("Content-Encoding", "")
        if encoding == "gzip":
            body = gzip.decompress(body)
        elif encoding == "deflate":
            body = zlib.decompress(body)
        elif encoding == "br":
            pytest.fail("brotli: the test endpoint cannot read it")
        _Ingest.received.append(body)
        self.send_response(200)
        self.end_headers()
        self.wfile.write(b"{}")

    def log_message(self, *args):
        pass


@pytest.fixture
def sentry_endpoint():
    _Ingest.received = []
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Ingest)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://publickey@127.0.0.1:{server.server_address[1]}/7", _Ingest.received
    server.shutdown()


@pytest.mark.django_db
def test_an_unhandled_error_reaches_sentry_without_personal_data_or_the_request_body(sentry_endpoint):
    dsn, received = sentry_endpoint
    result = _run(
        "import sentry_sdk\n"
        "client = Client(raise_request_exception=False)\n"
        "client.cookies['sessionid'] = 'session-cookie-value'\n"
        "with override_settings(ROOT_URLCONF='tests.support.failing_urls'):\n"
        "    response = client.post('/fails/', {'prompt': 'internal-prompt-text'}, "
        "headers={'X-Request-ID': 'traced-request-0001'})\n"
        "print(response.status_code)\n"
        "sentry_sdk.flush(timeout=10)\n",
        SENTRY_DSN=dsn,
        SENTRY_ENVIRONMENT="tests",
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.split()[-1] == "500"
    events = b"\n".join(received).decode()
    assert "this view fails on purpose" in events and "RuntimeError" in events
    assert '"environment":"tests"' in events.replace(" ", "")
    assert "traced-request-0001" in events  # the request id, to find the logs
    for private in ("internal-prompt-text", "session-cookie-value", "127.0.0.1:"):
        assert private not in events.replace(dsn.split("@")[1], ""), private


def test_without_a_dsn_nothing_is_started():
    result = _run("import sentry_sdk\nprint(sentry_sdk.get_client().is_active())\n", SENTRY_DSN="")
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "False"
