"""The fake provider server itself: control endpoints, faults, robustness, scale."""

import asyncio
import http.client
import json
import os
import signal
import socket
import struct
import subprocess
import sys
import threading
import time
from pathlib import Path

import httpx
import pytest

from battles.demo.fake_provider import FakeProviderServer
from battles.egress.providers import ChatRequest, ProviderError, get_provider

REPO = Path(__file__).resolve().parents[3]


def chat(fake, kind="openai", model="m-fake", stream=True, **overrides):
    fields = {"read_timeout": 5.0, "deadline": 10.0} | overrides
    req = ChatRequest(
        base_url=fake.base_url(kind),
        model_id=model,
        messages=[{"role": "user", "content": "Plan a team offsite"}],
        stream=stream,
        **fields,
    )
    with httpx.Client() as client:
        return get_provider(kind).chat(client, req)


def wait_until(condition, timeout=5.0):
    until = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > until:
            raise AssertionError("condition not met in time")
        time.sleep(0.02)


def test_faults_are_consumed_one_per_request_in_order(fake):
    fake.set_faults("m-fake", ["500", "429"])

    statuses = []
    for _ in range(3):
        try:
            chat(fake)
            statuses.append(200)
        except ProviderError as error:
            statuses.append(error.status_code)

    assert statuses == [500, 429, 200]
    assert fake.stats()["requests"] == {"m-fake": 3}
    assert fake.stats()["completed"] == {"m-fake": 1}


def test_wildcard_faults_apply_to_any_model_after_its_own(fake):
    fake.set_faults("*", ["503"])
    fake.set_faults("m-a", ["400"])

    with pytest.raises(ProviderError) as first:
        chat(fake, model="m-a")
    with pytest.raises(ProviderError) as second:
        chat(fake, model="m-b")
    chat(fake, model="m-a")

    assert (first.value.status_code, second.value.status_code) == (400, 503)


def test_unknown_fault_is_refused_and_nothing_is_queued(fake):
    response = httpx.post(fake.url + "/_fake/faults", json={"model": "m", "faults": ["500", "explode"]})

    assert response.status_code == 400
    assert "explode" in response.json()["error"]
    assert fake.stats()["faults_pending"] == {}


def test_reset_clears_faults_counters_and_timing(fake):
    fake.set_faults("m-fake", ["500"])
    fake.configure(latency=0.3)
    chat(fake, model="m-other")

    fake.reset()

    assert fake.stats() == {
        "requests": {},
        "completed": {},
        "in_flight": {},
        "max_in_flight": {},
        "max_in_flight_total": 0,
        "faults_pending": {},
    }
    assert fake.configure()["latency"] == 0.0
    assert fake.last_request("m-other") is None


def test_models_endpoint_lists_the_models_seen(fake):
    chat(fake, model="m-listed")

    response = httpx.get(fake.url + "/v1/models")

    assert response.status_code == 200
    assert "m-listed" in [m["id"] for m in response.json()["data"]]


def test_anthropic_endpoint_refuses_what_the_real_api_refuses(fake):
    base = {"model": "m", "max_tokens": 10, "messages": [{"role": "user", "content": "hi"}]}
    headers = {"anthropic-version": "2023-06-01"}

    no_version = httpx.post(fake.url + "/v1/messages", json=base)
    system_role = httpx.post(
        fake.url + "/v1/messages", headers=headers, json=base | {"messages": [{"role": "system", "content": "x"}]}
    )
    no_max_tokens = httpx.post(
        fake.url + "/v1/messages", headers=headers, json={k: v for k, v in base.items() if k != "max_tokens"}
    )

    for response in (no_version, system_role, no_max_tokens):
        assert response.status_code == 400
        assert response.json()["type"] == "error"
        assert response.json()["error"]["type"] == "invalid_request_error"


def test_429_sends_retry_after_headers_in_whole_seconds_and_milliseconds(fake):
    fake.configure(retry_after=1.5)
    fake.set_faults("m", ["429"])

    response = httpx.post(
        fake.url + "/v1/chat/completions", json={"model": "m", "messages": [{"role": "user", "content": "hi"}]}
    )

    assert response.status_code == 429
    assert response.headers["retry-after"] == "2"
    assert response.headers["retry-after-ms"] == "1500"
    assert response.json()["error"]["code"] == "rate_limit_exceeded"


def test_keep_alive_serves_several_requests_on_one_connection(fake):
    connection = http.client.HTTPConnection("127.0.0.1", fake.server.port, timeout=5)
    body = {"model": "m-ka", "messages": [{"role": "user", "content": "hi"}]}
    sockets = []
    try:
        for stream in (False, True, False):
            connection.request(
                "POST",
                "/v1/chat/completions",
                body=json.dumps(body | {"stream": stream}),
                headers={"Content-Type": "application/json"},
            )
            response = connection.getresponse()
            payload = response.read()
            assert response.status == 200 and payload
            sockets.append(connection.sock)
    finally:
        connection.close()
    assert sockets[0] is sockets[1] is sockets[2]


def test_two_hundred_concurrent_streams_are_served_together(fake):
    # A bare asyncio client: this measures the server, not an HTTP client's pool.
    fake.configure(latency=0.5, tokens_per_second=400)

    async def stream_one(i):
        reader, writer = await asyncio.open_connection("127.0.0.1", fake.server.port)
        body = json.dumps(
            {
                "model": f"m-load-{i % 4}",
                "max_tokens": 100,
                "stream": True,
                "messages": [{"role": "user", "content": f"Question {i}"}],
            }
        )
        writer.write(
            b"POST /v1/messages HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
            b"anthropic-version: 2023-06-01\r\nConnection: close\r\n"
            + f"Content-Length: {len(body)}\r\n\r\n{body}".encode()
        )
        await writer.drain()
        data = await reader.read()
        writer.close()
        return data

    async def main():
        return await asyncio.gather(*(stream_one(i) for i in range(200)))

    started = time.monotonic()
    responses = asyncio.run(main())
    elapsed = time.monotonic() - started

    assert all(b"event: message_stop" in r and r.endswith(b"0\r\n\r\n") for r in responses)
    stats = fake.stats()
    assert stats["max_in_flight_total"] == 200
    assert sum(stats["completed"].values()) == 200
    assert elapsed < 3.0  # each answer alone takes 0.5 s + up to 0.25 s of streaming


def test_client_killed_mid_stream_is_handled_quietly(fake, capfd, caplog):
    fake.set_faults("m-killed", ["drip:0.05"])
    body = json.dumps({"model": "m-killed", "stream": True, "messages": [{"role": "user", "content": "hi"}]})
    sock = socket.create_connection(("127.0.0.1", fake.server.port))
    sock.sendall(
        b"POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
        + f"Content-Length: {len(body)}\r\n\r\n{body}".encode()
    )
    assert sock.recv(4096).startswith(b"HTTP/1.1 200")
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    sock.close()  # a reset, as when a worker is killed

    wait_until(lambda: fake.stats()["in_flight"] == {})

    assert chat(fake).text
    assert fake.stats()["completed"] == {"m-fake": 1}
    captured = capfd.readouterr()
    assert "Traceback" not in captured.err and "Error" not in captured.err
    assert not [r for r in caplog.records if r.name.startswith("battles.demo.fake_provider")]


def test_stop_wakes_waiting_requests_and_releases_the_port():
    server = FakeProviderServer().start()
    server.set_faults("*", ["hang:60"])
    errors = []

    def hanging_call():
        try:
            httpx.post(
                server.url + "/v1/chat/completions",
                timeout=30,
                json={"model": "m", "messages": [{"role": "user", "content": "hi"}]},
            )
        except httpx.HTTPError as error:
            errors.append(error)

    caller = threading.Thread(target=hanging_call)
    caller.start()
    wait_until(lambda: server.stats()["in_flight"] == {"m": 1})

    started = time.monotonic()
    server.stop()
    caller.join(timeout=5)

    assert time.monotonic() - started < 2.0
    assert not caller.is_alive() and len(errors) == 1
    with pytest.raises(OSError):
        socket.create_connection(("127.0.0.1", server.port), timeout=1).close()


def test_answer_book_entries_are_served_verbatim(tmp_path):
    book = tmp_path / "book.jsonl"
    book.write_text(
        json.dumps({"model": "m-book", "prompt": "What is  the CAPITAL of France?", "text": "Paris."})
        + "\n"
        + json.dumps({"model": "*", "prompt": "Say hi", "text": "Hi!"})
        + "\n",
        encoding="utf-8",
    )
    with FakeProviderServer(answer_book=book) as server:

        def ask(model, prompt):
            req = ChatRequest(base_url=server.url, model_id=model, messages=[{"role": "user", "content": prompt}])
            with httpx.Client() as client:
                return get_provider("anthropic").chat(client, req).text

        assert ask("m-book", "what is the capital of france?") == "Paris."
        assert ask("m-other", "  SAY   hi ") == "Hi!"
        assert ask("m-other", "What is the capital of France?") != "Paris."
        models = httpx.get(server.url + "/v1/models").json()["data"]
        assert "m-book" in [m["id"] for m in models]


def _start_cli(args):
    env = dict(os.environ, PYTHONUNBUFFERED="1")
    process = subprocess.Popen(
        args,
        cwd=REPO,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    first_line = process.stdout.readline()
    return process, first_line


@pytest.mark.parametrize(
    "command",
    [
        [sys.executable, "-m", "battles.demo.fake_provider"],
        [sys.executable, "manage.py", "run_fake_provider"],
    ],
    ids=["python-m", "manage-py"],
)
def test_command_line_serves_until_sigterm_and_exits_cleanly(command):
    process, first_line = _start_cli(command + ["--port", "0", "--latency", "0", "--tokens-per-second", "0"])
    try:
        assert "listening on http://127.0.0.1:" in first_line, process.stderr.read()
        url = first_line.split("listening on ")[1].strip()
        assert httpx.get(url + "/_fake/health").json() == {"ok": True}
        process.send_signal(signal.SIGTERM)
        out, err = process.communicate(timeout=10)
    finally:
        if process.poll() is None:
            process.kill()
    assert process.returncode == 0
    assert "Traceback" not in err
    assert "stopped" in out


def test_command_line_reports_a_bad_answer_book_without_a_traceback(tmp_path):
    book = tmp_path / "book.jsonl"
    book.write_text('{"model": "m", "prompt": "p", "text": "t"}\nnot json\n', encoding="utf-8")

    done = subprocess.run(
        [sys.executable, "-m", "battles.demo.fake_provider", "--port", "0", "--answer-book", str(book)],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=20,
    )

    assert done.returncode == 1
    assert "book.jsonl:2: invalid JSON" in done.stderr
    assert "Traceback" not in done.stderr


def test_request_abandoned_by_its_client_is_dropped_promptly(fake):
    fake.set_faults("m-gone", ["hang:30"])

    with pytest.raises(ProviderError):
        chat(fake, model="m-gone", deadline=0.3)

    wait_until(lambda: fake.stats()["in_flight"] == {}, timeout=1.0)
    assert fake.stats()["completed"] == {}
