"""The guarded HTTP clients against a real server (the fake provider on 127.0.0.1):
answers, the errors callers see, the address check at connect time, the order
of resolved addresses, keep-alive and closing. Each test runs the sync and the
async client. The host name in the URLs resolves only through the test's resolver."""

import asyncio
import http.server
import json
import socket
import threading
from dataclasses import dataclass

import httpx
import pytest

from battles.demo.fake_provider.answers import answer
from battles.egress import guarded_http
from battles.egress.providers import ProviderError

MODEL = "m-guard"
MESSAGES = [{"role": "user", "content": "How do I pick a good hiking trail?"}]


@pytest.fixture(autouse=True)
def no_proxy(monkeypatch):
    # With a proxy in the environment the clients are plain httpx clients: the guard would not be tested.
    for name in ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "http_proxy", "https_proxy", "all_proxy"):
        monkeypatch.delenv(name, raising=False)


@pytest.fixture(params=["sync", "async"])
def mode(request):
    return request.param


class Resolver:
    """Answers every name with ``addresses`` and records each question (one per connection)."""

    def __init__(self, *addresses: str) -> None:
        self.addresses = list(addresses)
        self.calls: list[tuple[str, int]] = []

    def __call__(self, host: str, port: int) -> list[str]:
        self.calls.append((host, port))
        return list(self.addresses)


@dataclass
class Seen:
    """One response as the caller saw it; ``local``/``remote`` are the connection's two ends."""

    status: int
    content_type: str
    local: tuple
    remote: tuple
    socket: object
    body: bytes = b""


def _seen(response: httpx.Response) -> Seen:
    stream = response.extensions["network_stream"]
    return Seen(
        response.status_code,
        response.headers.get("content-type", ""),
        stream.get_extra_info("client_addr"),
        stream.get_extra_info("server_addr"),
        stream.get_extra_info("socket"),
    )


def call(mode, requests, seen, *, resolver, allow_private=True, timeout=5.0):
    """Send ``requests`` ((method, url, json body or None), …) in turn through one new guarded
    client, reading each body chunk by chunk. A Seen is appended to ``seen`` as soon as the
    headers arrive, so a test can tell a failure before the answer from one while reading it."""
    options = {"allow_private": allow_private, "resolver": resolver, "timeout": timeout}
    if mode == "sync":
        with guarded_http.client(**options) as client:
            for method, url, body in requests:
                with client.stream(method, url, json=body) as response:
                    seen.append(_seen(response))
                    for chunk in response.iter_bytes():
                        seen[-1].body += chunk
        return seen

    async def main():
        async with guarded_http.async_client(**options) as client:
            for method, url, body in requests:
                async with client.stream(method, url, json=body) as response:
                    seen.append(_seen(response))
                    async for chunk in response.aiter_bytes():
                        seen[-1].body += chunk

    asyncio.run(main())
    return seen


def chat(url, *, stream=False):
    return ("POST", url + "/v1/chat/completions", {"model": MODEL, "messages": MESSAGES, "stream": stream})


def named(fake, host="provider.example") -> str:
    return f"http://{host}:{fake.server.port}"


def streamed_text(body: bytes) -> str:
    parts = []
    for line in body.decode().splitlines():
        if line.startswith("data: ") and line != "data: [DONE]":
            for choice in json.loads(line[len("data: ") :])["choices"]:
                parts.append(choice["delta"].get("content") or "")
    return "".join(parts)


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


# --- answers -----------------------------------------------------------------------------


def test_a_whole_and_a_streamed_answer_arrive(fake, mode):
    resolver = Resolver("127.0.0.1")
    whole, streamed = call(mode, [chat(named(fake)), chat(named(fake), stream=True)], [], resolver=resolver)

    assert whole.status == 200 and whole.content_type == "application/json"
    assert json.loads(whole.body)["choices"][0]["message"]["content"] == answer(MODEL, MESSAGES)
    assert streamed.status == 200 and streamed.content_type.startswith("text/event-stream")
    assert streamed_text(streamed.body) == answer(MODEL, MESSAGES)
    assert streamed.body.rstrip().endswith(b"data: [DONE]")
    assert fake.stats()["completed"] == {MODEL: 2}
    assert resolver.calls[0] == ("provider.example", fake.server.port)


def test_the_sync_response_exposes_its_socket_for_the_deadline_watchdog(fake):
    (seen,) = call("sync", [chat(named(fake))], [], resolver=Resolver("127.0.0.1"))
    assert isinstance(seen.socket, socket.socket)


# --- errors callers catch ----------------------------------------------------------------


def test_no_answer_in_time_is_a_read_timeout(fake, mode):
    fake.set_faults(MODEL, ["hang:5"])
    seen = []
    with pytest.raises(httpx.ReadTimeout):
        call(mode, [chat(named(fake))], seen, resolver=Resolver("127.0.0.1"), timeout=httpx.Timeout(5.0, read=0.3))
    assert seen == []  # before the headers


def test_a_stream_that_stalls_is_a_read_timeout_while_reading(fake, mode):
    fake.set_faults(MODEL, ["drip:2"])
    seen = []
    with pytest.raises(httpx.ReadTimeout):
        call(
            mode,
            [chat(named(fake), stream=True)],
            seen,
            resolver=Resolver("127.0.0.1"),
            timeout=httpx.Timeout(5.0, read=0.5),
        )
    assert [s.status for s in seen] == [200]  # the headers came, then the body stalled


def test_a_stream_cut_half_way_is_a_remote_protocol_error_while_reading(fake, mode):
    fake.set_faults(MODEL, ["cut"])
    seen = []
    with pytest.raises(httpx.RemoteProtocolError):
        call(mode, [chat(named(fake), stream=True)], seen, resolver=Resolver("127.0.0.1"))
    assert [s.status for s in seen] == [200] and seen[0].body.startswith(b": fake-provider")


def test_a_closed_port_is_a_connect_error(mode):
    resolver = Resolver("127.0.0.1")
    with pytest.raises(httpx.ConnectError):
        call(mode, [("GET", f"http://provider.example:{closed_port()}/v1/models", None)], [], resolver=resolver)
    assert len(resolver.calls) == 1


def test_a_name_without_an_address_is_a_connect_error(mode):
    with pytest.raises(httpx.ConnectError, match="no address"):
        call(mode, [("GET", "http://provider.example/v1/models", None)], [], resolver=Resolver())


# --- the address check at connect time ---------------------------------------------------


def test_a_forbidden_address_is_refused_for_good_before_connecting(fake, mode):
    # The reachable loopback address comes first: connecting before checking them all would reach the server.
    resolver = Resolver("127.0.0.1", "169.254.169.254")
    with pytest.raises(ProviderError) as refused:
        call(mode, [chat(named(fake))], [], resolver=resolver)

    assert not isinstance(refused.value, httpx.HTTPError)
    assert refused.value.retryable is False
    assert "refused when connecting" in refused.value.reason and "metadata" in refused.value.reason
    assert fake.stats()["requests"] == {}


def test_loopback_is_refused_unless_private_addresses_are_allowed(fake, mode):
    with pytest.raises(ProviderError, match="loopback") as refused:
        call(mode, [chat(named(fake))], [], resolver=Resolver("127.0.0.1"), allow_private=False)
    assert refused.value.retryable is False
    assert fake.stats()["requests"] == {}


@pytest.fixture
def second_server(fake):
    """An HTTP server on 127.0.0.3 at the fake provider's port, answering "second server" to any GET."""

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self):
            self.send_response(200)
            self.send_header("Content-Length", "13")
            self.end_headers()
            self.wfile.write(b"second server")

        def log_message(self, *args):
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.3", fake.server.port), Handler)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    try:
        yield server
    finally:
        server.shutdown()
        server.server_close()
        thread.join(5)


def test_resolved_addresses_are_tried_in_order(fake, mode, second_server):
    # Nothing listens on 127.0.0.2; the fake provider is on 127.0.0.1, another server on 127.0.0.3.
    models = ("GET", named(fake) + "/v1/models", None)
    with pytest.raises(httpx.ConnectError):
        call(mode, [models], [], resolver=Resolver("127.0.0.2"))

    (seen,) = call(mode, [models], [], resolver=Resolver("127.0.0.2", "127.0.0.3", "127.0.0.1"))
    assert seen.body == b"second server" and seen.remote[0] == "127.0.0.3"

    (seen,) = call(mode, [models], [], resolver=Resolver("127.0.0.2", "127.0.0.1", "127.0.0.3"))
    assert json.loads(seen.body)["object"] == "list" and seen.remote[0] == "127.0.0.1"


# --- connections -------------------------------------------------------------------------


def test_a_connection_is_kept_alive_for_the_next_request(fake, mode):
    resolver = Resolver("127.0.0.1")
    first, second = call(mode, [chat(named(fake)), chat(named(fake), stream=True)], [], resolver=resolver)

    assert first.status == second.status == 200
    assert first.local == second.local  # the same client port: the same TCP connection
    assert resolver.calls == [("provider.example", fake.server.port)]  # one connection opened


def test_closing_the_client_closes_its_idle_connections(fake, mode):
    (seen,) = call(mode, [chat(named(fake))], [], resolver=Resolver("127.0.0.1"))
    # The connection went back to the pool after the answer; closing the client must close it.
    assert seen.socket.fileno() == -1
