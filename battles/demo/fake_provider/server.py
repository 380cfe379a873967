"""A fake model provider: a real HTTP server on 127.0.0.1 speaking both wire formats.

Endpoints (what Arena's provider clients call):

* ``POST /v1/chat/completions`` — OpenAI-compatible, streamed (SSE, chunked) or not;
  OpenAI base URL ``{url}/v1``.
* ``GET /v1/models`` — the models of the answer book and those seen so far.
* ``POST /v1/messages`` — Anthropic Messages, streamed or not; Anthropic base URL ``{url}``.

Control endpoints (for tests, the demo and benchmarks):

* ``POST /_fake/faults`` ``{"model": "m" | "*", "faults": [...]}`` queues faults; each
  generation request for the model consumes one, first in first out (the
  model's own queue first, then the ``"*"`` queue). A fault is a status code
  (``"429"``, ``"500"``, ``"503"``, ``"529"``, ``"401"``, ``"400"``, any 3xx–5xx:
  an error body in the wire format; 429 carries ``Retry-After``, 3xx a
  ``Location``), or ``"cut"`` (the body stops half-way and the connection is
  dropped), ``"truncate"`` (a stream that ends cleanly but without its terminal
  event), ``"stream_error"`` (an error event in the middle of the stream),
  ``"malformed"`` (a 200 whose body is not the wire format), ``"drip"`` (one
  token every ``drip_interval`` seconds) or ``"hang"`` (waits ``hang_seconds``
  before answering). ``429``, ``drip`` and ``hang`` take an optional argument:
  ``"429:5"``, ``"drip:0.5"``, ``"hang:30"``.
* ``GET /_fake/stats`` — ``{"requests": {model: n}, "completed": {model: n},
  "in_flight": {...}, "max_in_flight": {...}, "max_in_flight_total": n,
  "faults_pending": {...}}``.
* ``GET /_fake/last_request?model=m`` — the last request body for the model,
  with its path, a few headers, and the auth scheme plus a SHA-256 of the key
  (never the key itself).
* ``POST /_fake/config`` ``{"latency": s, "tokens_per_second": n, "retry_after": s,
  "drip_interval": s, "hang_seconds": s}`` changes the timing (any subset; ``{}``
  just returns the current values).
* ``POST /_fake/reset`` — clears faults, stats and last requests, and restores
  the timing the server started with. Requests still running from before a
  reset are not counted afterwards.
* ``GET /_fake/health`` — ``{"ok": true}``.

Timing: ``latency`` seconds pass before the first byte. Streams then send
tokens at ``tokens_per_second`` (0 = as fast as possible); a non-streamed
answer is sent after the same total time (latency plus the token time), so
both modes cost the same. Answers are deterministic (see ``answers``), capped at
the request's ``max_tokens`` (finish reason ``length`` / ``max_tokens``).

401 error bodies echo the API key received, as some real providers do: the
client must keep it out of its own errors.

Standard library only; one daemon thread per connection (ThreadingHTTPServer),
HTTP/1.1 keep-alive, a deep listen backlog for hundreds of concurrent streams.
A client that goes away mid-answer costs nothing but a closed socket: waits
watch the connection, so an abandoned request ends at once, quietly.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import logging
import math
import re
import select
import signal
import socket
import socketserver
import sys
import threading
import time
import uuid
from collections import Counter, deque
from contextlib import contextmanager
from dataclasses import asdict, dataclass, fields, replace
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, Iterator
from urllib.parse import parse_qs, urlsplit

from battles.demo.fake_provider import answers
from battles.demo.fake_provider.answers import AnswerBook

__all__ = ["FakeProviderServer", "FakeSettings", "add_cli_arguments", "serve_from_options"]

logger = logging.getLogger(__name__)

MAX_REQUEST_BYTES = 16 * 1024 * 1024
# With a fast token rate, tokens are grouped so that a stream sends at most
# one event per this many seconds: pacing stays right without a write per token.
MIN_EVENT_INTERVAL = 0.02
_FAULT = re.compile(r"^(?:(?P<status>[3-5]\d\d)|(?P<name>cut|truncate|stream_error|malformed|drip|hang))(?::(?P<arg>\d+(?:\.\d+)?))?$")
_ARG_FAULTS = {"429", "drip", "hang"}


@dataclass(frozen=True)
class FakeSettings:
    latency: float = 0.0
    tokens_per_second: float = 0.0
    retry_after: float = 1.0
    drip_interval: float = 2.0
    hang_seconds: float = 120.0

    def __post_init__(self) -> None:
        for item in fields(self):
            value = getattr(self, item.name)
            if not isinstance(value, (int, float)) or isinstance(value, bool) or value < 0 or math.isinf(value):
                raise ValueError(f"{item.name} must be a non-negative number")


@dataclass(frozen=True)
class Fault:
    kind: str  # a status code as text, or a fault name
    arg: float | None = None

    @classmethod
    def parse(cls, text: str) -> "Fault":
        match = _FAULT.match(str(text).strip())
        if not match:
            raise ValueError(f"unknown fault {text!r}")
        kind = match.group("status") or match.group("name")
        arg = match.group("arg")
        if arg is not None and kind not in _ARG_FAULTS:
            raise ValueError(f"fault {kind!r} takes no argument")
        return cls(kind, float(arg) if arg is not None else None)

    @property
    def status(self) -> int | None:
        return int(self.kind) if self.kind.isdigit() else None

    def __str__(self) -> str:
        return self.kind if self.arg is None else f"{self.kind}:{self.arg:g}"


class _Stopping(Exception):
    """The server is shutting down: abandon the request."""


class _ClientGone(ConnectionError):
    """The client closed its connection while its answer was being prepared."""


class _State:
    """Everything the handlers share, behind one lock."""

    def __init__(self, settings: FakeSettings, book: AnswerBook) -> None:
        self.lock = threading.Lock()
        self.initial_settings = settings
        self.settings = settings
        self.book = book
        self.stopping = threading.Event()
        self._reset_locked()

    def _reset_locked(self) -> None:
        # Requests that started before a reset belong to an older epoch: they
        # finish (or are abandoned) without touching the new counters.
        self.epoch = getattr(self, "epoch", 0) + 1
        self.faults: dict[str, deque[Fault]] = {}
        self.requests: Counter[str] = Counter()
        self.completed: Counter[str] = Counter()
        self.in_flight: Counter[str] = Counter()
        self.max_in_flight: Counter[str] = Counter()
        self.max_in_flight_total = 0
        self.last_requests: dict[str, dict] = {}
        self.models_seen: set[str] = set()

    def reset(self) -> None:
        with self.lock:
            self._reset_locked()
            self.settings = self.initial_settings

    def configure(self, **changes: Any) -> FakeSettings:
        with self.lock:
            self.settings = replace(self.settings, **changes)
            return self.settings

    def add_faults(self, model: str, faults: list[Fault]) -> None:
        with self.lock:
            self.faults.setdefault(model, deque()).extend(faults)

    def record(self, model: str, entry: dict) -> int:
        """Count a request; returns the epoch it belongs to."""
        with self.lock:
            self.requests[model] += 1
            self.models_seen.add(model)
            self.last_requests[model] = entry
            return self.epoch

    def take_fault(self, model: str) -> Fault | None:
        with self.lock:
            for key in (model, "*"):
                queue = self.faults.get(key)
                if queue:
                    return queue.popleft()
        return None

    def mark_completed(self, model: str, epoch: int, change: int = 1) -> None:
        with self.lock:
            if epoch != self.epoch:
                return
            self.completed[model] += change
            if self.completed[model] <= 0:
                del self.completed[model]

    @contextmanager
    def running(self, model: str, epoch: int) -> Iterator[None]:
        with self.lock:
            if epoch != self.epoch:
                epoch = -1  # reset in between: this request is not counted at all
            else:
                self.in_flight[model] += 1
            self.max_in_flight[model] = max(self.max_in_flight[model], self.in_flight[model])
            self.max_in_flight_total = max(self.max_in_flight_total, sum(self.in_flight.values()))
        try:
            yield
        finally:
            with self.lock:
                if epoch == self.epoch:
                    self.in_flight[model] -= 1
                    if self.in_flight[model] <= 0:
                        del self.in_flight[model]

    def stats(self) -> dict:
        with self.lock:
            return {
                "requests": dict(self.requests),
                "completed": dict(self.completed),
                "in_flight": {m: n for m, n in self.in_flight.items() if n > 0},
                "max_in_flight": dict(self.max_in_flight),
                "max_in_flight_total": self.max_in_flight_total,
                "faults_pending": {m: [str(f) for f in q] for m, q in self.faults.items() if q},
            }

    def last_request(self, model: str) -> dict | None:
        with self.lock:
            return self.last_requests.get(model)

    def models(self) -> list[str]:
        with self.lock:
            return sorted(set(self.book.models()) | self.models_seen)

    def wait(self, seconds: float, connection: socket.socket | None = None) -> None:
        """Sleep, but give up early when the server stops (_Stopping) or the
        client hangs up (_ClientGone): an abandoned request ends promptly, as it
        would at a real provider, instead of lingering in the counters."""
        until = time.monotonic() + max(seconds, 0.0)
        poller = None
        if connection is not None:
            poller = select.poll()  # not select.select: no limit on descriptor numbers
            poller.register(connection, select.POLLIN | select.POLLHUP | select.POLLERR)
        while True:
            if self.stopping.is_set():
                raise _Stopping()
            left = until - time.monotonic()
            if left <= 0:
                return
            if poller is None:
                self.stopping.wait(min(left, 0.1))
                continue
            if poller.poll(min(left, 0.1) * 1000):
                try:
                    peeked = connection.recv(1, socket.MSG_PEEK | socket.MSG_DONTWAIT)
                except BlockingIOError:
                    continue
                except OSError:
                    raise _ClientGone() from None
                if not peeked:
                    raise _ClientGone()
                # The client sent more bytes (pipelining): stop watching, just sleep.
                poller = None


# --- wire formats -------------------------------------------------------------------------

_OPENAI_ERRORS = {
    400: ("invalid_request_error", None, "Invalid request."),
    401: ("invalid_request_error", "invalid_api_key", "Incorrect API key provided: {key}."),
    403: ("permission_error", None, "You are not allowed to use this model."),
    404: ("invalid_request_error", "model_not_found", "The model does not exist or you do not have access to it."),
    408: ("server_error", None, "Request timed out."),
    409: ("server_error", None, "Conflict; please retry."),
    429: ("requests", "rate_limit_exceeded", "Rate limit reached for requests. Please try again later."),
    500: ("server_error", None, "The server had an error while processing your request."),
    502: ("server_error", None, "Bad gateway."),
    503: ("server_error", None, "The engine is currently overloaded, please try again later."),
    529: ("server_error", None, "Overloaded."),
}
_ANTHROPIC_ERRORS = {
    400: ("invalid_request_error", "Invalid request."),
    401: ("authentication_error", "invalid x-api-key: {key}"),
    403: ("permission_error", "Your API key does not have permission to use the specified resource."),
    404: ("not_found_error", "The requested resource could not be found."),
    408: ("timeout_error", "Request timed out."),
    409: ("api_error", "Conflict."),
    413: ("request_too_large", "Request exceeds the maximum allowed number of bytes."),
    429: ("rate_limit_error", "Number of request tokens has exceeded your per-minute rate limit."),
    500: ("api_error", "Internal server error."),
    529: ("overloaded_error", "Overloaded"),
}


class _Wire:
    """What differs between the two formats, as pure functions of the request."""

    name = ""
    stop_reason = ""
    length_reason = ""

    def validate(self, body: dict, headers) -> str | None:
        raise NotImplementedError

    def max_tokens(self, body: dict) -> int | None:
        value = body.get("max_tokens")
        return value if isinstance(value, int) and not isinstance(value, bool) else None

    def prompt_text(self, body: dict) -> str:
        raise NotImplementedError

    def error_body(self, status: int, key: str, message: str | None = None) -> dict:
        raise NotImplementedError

    def body(self, ctx: "_Answer") -> dict:
        raise NotImplementedError

    def malformed_body(self) -> dict:
        return {"id": "fake", "object": "unexpected", "result": None}

    def stream_head(self, ctx: "_Answer") -> list[bytes]:
        raise NotImplementedError

    def stream_delta(self, ctx: "_Answer", text: str) -> bytes:
        raise NotImplementedError

    def stream_tail(self, ctx: "_Answer") -> list[bytes]:
        raise NotImplementedError

    def stream_error(self) -> bytes:
        raise NotImplementedError


@dataclass
class _Answer:
    model: str
    text: str
    pieces: list[str]
    tokens_in: int
    finish_reason: str
    include_usage: bool
    request_id: str
    created: int
    epoch: int

    @property
    def tokens_out(self) -> int:
        return len(self.pieces)


def _sse(data: Any, event: str | None = None) -> bytes:
    payload = data if isinstance(data, str) else json.dumps(data, separators=(",", ":"))
    head = f"event: {event}\n" if event else ""
    return f"{head}data: {payload}\n\n".encode("utf-8")


class _OpenAIWire(_Wire):
    name = "openai"
    length_reason = "length"
    stop_reason = "stop"

    def validate(self, body: dict, headers) -> str | None:
        messages = body.get("messages")
        if not isinstance(messages, list) or not messages:
            return "'messages' must be a non-empty array"
        for index, message in enumerate(messages):
            if not isinstance(message, dict):
                return f"messages[{index}] must be an object"
            if message.get("role") not in ("system", "developer", "user", "assistant", "tool"):
                return f"messages[{index}].role is invalid"
            content = message.get("content")
            if not isinstance(content, (str, list)) and not (content is None and message["role"] == "assistant"):
                return f"messages[{index}].content must be a string or an array"
        for key in ("max_tokens", "max_completion_tokens"):
            value = body.get(key)
            if value is not None and (not isinstance(value, int) or isinstance(value, bool) or value < 1):
                return f"'{key}' must be a positive integer"
        if "stream" in body and not isinstance(body["stream"], bool):
            return "'stream' must be a boolean"
        temperature = body.get("temperature")
        if temperature is not None and not (isinstance(temperature, (int, float)) and 0 <= temperature <= 2):
            return "'temperature' must be between 0 and 2"
        return None

    def max_tokens(self, body: dict) -> int | None:
        value = body.get("max_completion_tokens", body.get("max_tokens"))
        return value if isinstance(value, int) and not isinstance(value, bool) else None

    def prompt_text(self, body: dict) -> str:
        return "\n".join(answers.message_text(m.get("content")) for m in body["messages"])

    def error_body(self, status: int, key: str, message: str | None = None) -> dict:
        kind, code, default = _OPENAI_ERRORS.get(
            status, ("server_error" if status >= 500 else "invalid_request_error", None, "Error.")
        )
        if message is None:
            message = default.format(key=key) if key else (
                "You didn't provide an API key." if status == 401 else default.format(key="")
            )
        return {"error": {"message": message, "type": kind, "param": None, "code": code}}

    def _chunk(self, ctx: _Answer, delta: dict, finish_reason: str | None = None) -> dict:
        return {
            "id": ctx.request_id,
            "object": "chat.completion.chunk",
            "created": ctx.created,
            "model": ctx.model,
            "choices": [{"index": 0, "delta": delta, "finish_reason": finish_reason}],
        }

    def _usage(self, ctx: _Answer) -> dict:
        return {
            "prompt_tokens": ctx.tokens_in,
            "completion_tokens": ctx.tokens_out,
            "total_tokens": ctx.tokens_in + ctx.tokens_out,
        }

    def body(self, ctx: _Answer) -> dict:
        return {
            "id": ctx.request_id,
            "object": "chat.completion",
            "created": ctx.created,
            "model": ctx.model,
            "choices": [
                {
                    "index": 0,
                    "message": {"role": "assistant", "content": ctx.text},
                    "finish_reason": ctx.finish_reason,
                }
            ],
            "usage": self._usage(ctx),
        }

    def stream_head(self, ctx: _Answer) -> list[bytes]:
        # A comment first, as several hosted APIs send: clients must skip it.
        return [b": fake-provider\n\n", _sse(self._chunk(ctx, {"role": "assistant", "content": ""}))]

    def stream_delta(self, ctx: _Answer, text: str) -> bytes:
        return _sse(self._chunk(ctx, {"content": text}))

    def stream_tail(self, ctx: _Answer) -> list[bytes]:
        frames = [_sse(self._chunk(ctx, {}, ctx.finish_reason))]
        if ctx.include_usage:
            frames.append(
                _sse({"id": ctx.request_id, "object": "chat.completion.chunk", "created": ctx.created,
                      "model": ctx.model, "choices": [], "usage": self._usage(ctx)})
            )
        frames.append(_sse("[DONE]"))
        return frames

    def stream_error(self) -> bytes:
        return _sse({"error": {"message": "The server had an error while processing your request.",
                               "type": "server_error", "param": None, "code": None}})


class _AnthropicWire(_Wire):
    name = "anthropic"
    length_reason = "max_tokens"
    stop_reason = "end_turn"

    def validate(self, body: dict, headers) -> str | None:
        if not headers.get("anthropic-version"):
            return "anthropic-version: header is required"
        max_tokens = body.get("max_tokens")
        if not isinstance(max_tokens, int) or isinstance(max_tokens, bool) or max_tokens < 1:
            return "max_tokens: Field required (a positive integer)"
        messages = body.get("messages")
        if not isinstance(messages, list) or not messages:
            return "messages: at least one message is required"
        for index, message in enumerate(messages):
            if not isinstance(message, dict):
                return f"messages.{index}: must be an object"
            role = message.get("role")
            if role == "system":
                return (f'messages.{index}.role: Unexpected role "system". The Messages API accepts '
                        "a top-level `system` parameter, not \"system\" as an input message role.")
            if role not in ("user", "assistant"):
                return f"messages.{index}.role: must be 'user' or 'assistant'"
            if not isinstance(message.get("content"), (str, list)):
                return f"messages.{index}.content: must be a string or an array"
        system = body.get("system")
        if system is not None and not isinstance(system, (str, list)):
            return "system: must be a string or an array"
        if "stream" in body and not isinstance(body["stream"], bool):
            return "stream: must be a boolean"
        temperature = body.get("temperature")
        if temperature is not None and not (isinstance(temperature, (int, float)) and 0 <= temperature <= 1):
            return "temperature: must be between 0 and 1"
        return None

    def prompt_text(self, body: dict) -> str:
        system = answers.message_text(body.get("system"))
        return "\n".join([system] + [answers.message_text(m.get("content")) for m in body["messages"]])

    def error_body(self, status: int, key: str, message: str | None = None) -> dict:
        kind, default = _ANTHROPIC_ERRORS.get(status, ("api_error" if status >= 500 else "invalid_request_error", "Error."))
        if message is None:
            message = default.format(key=key) if key else (
                "x-api-key header is required" if status == 401 else default.format(key="")
            )
        return {"type": "error", "error": {"type": kind, "message": message}}

    def _message(self, ctx: _Answer, content: list, stop_reason: str | None, output_tokens: int) -> dict:
        return {
            "id": ctx.request_id,
            "type": "message",
            "role": "assistant",
            "model": ctx.model,
            "content": content,
            "stop_reason": stop_reason,
            "stop_sequence": None,
            "usage": {"input_tokens": ctx.tokens_in, "output_tokens": output_tokens},
        }

    def body(self, ctx: _Answer) -> dict:
        return self._message(ctx, [{"type": "text", "text": ctx.text}], ctx.finish_reason, ctx.tokens_out)

    def stream_head(self, ctx: _Answer) -> list[bytes]:
        return [
            _sse({"type": "message_start", "message": self._message(ctx, [], None, 1)}, "message_start"),
            _sse({"type": "content_block_start", "index": 0, "content_block": {"type": "text", "text": ""}},
                 "content_block_start"),
            _sse({"type": "ping"}, "ping"),
        ]

    def stream_delta(self, ctx: _Answer, text: str) -> bytes:
        return _sse({"type": "content_block_delta", "index": 0, "delta": {"type": "text_delta", "text": text}},
                    "content_block_delta")

    def stream_tail(self, ctx: _Answer) -> list[bytes]:
        return [
            _sse({"type": "content_block_stop", "index": 0}, "content_block_stop"),
            _sse({"type": "message_delta", "delta": {"stop_reason": ctx.finish_reason, "stop_sequence": None},
                  "usage": {"output_tokens": ctx.tokens_out}}, "message_delta"),
            _sse({"type": "message_stop"}, "message_stop"),
        ]

    def stream_error(self) -> bytes:
        return _sse({"type": "error", "error": {"type": "overloaded_error", "message": "Overloaded"}}, "error")


_WIRES = {"/v1/chat/completions": _OpenAIWire(), "/v1/messages": _AnthropicWire()}


# --- HTTP -----------------------------------------------------------------------------------


class _HTTPServer(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 1024  # the default of 5 drops SYNs under a burst of concurrent clients

    def __init__(self, address, state: _State) -> None:
        self.state = state
        self.connections: set[socket.socket] = set()
        self.connections_lock = threading.Lock()
        super().__init__(address, _Handler, bind_and_activate=False)

    def server_bind(self) -> None:
        # HTTPServer.server_bind resolves the host name (socket.getfqdn), which can
        # stall for seconds on a machine without DNS; the name is never used here.
        socketserver.TCPServer.server_bind(self)
        self.server_name, self.server_port = self.server_address[:2]

    def handle_error(self, request, client_address) -> None:
        error = sys.exc_info()[1]
        if isinstance(error, (OSError, _Stopping)) or self.state.stopping.is_set():
            return  # a client that went away, or shutdown: nothing to report
        logger.error("fake provider: error serving %s", client_address, exc_info=True)


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "FakeProvider/1.0"
    sys_version = ""
    disable_nagle_algorithm = True
    timeout = 300  # an idle keep-alive connection is closed after this
    server: _HTTPServer

    # plumbing

    def setup(self) -> None:
        super().setup()
        with self.server.connections_lock:
            self.server.connections.add(self.connection)

    def finish(self) -> None:
        with self.server.connections_lock:
            self.server.connections.discard(self.connection)
        try:
            super().finish()
        except OSError:
            pass

    def log_message(self, format: str, *args: Any) -> None:
        pass  # one line per request would drown the test output

    @property
    def state(self) -> _State:
        return self.server.state

    def _send_json(self, status: int, data: Any, headers: dict[str, str] | None = None) -> None:
        body = json.dumps(data).encode("utf-8")
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(body)

    def _read_body(self) -> bytes | None:
        length = self.headers.get("Content-Length")
        if length is None or not length.isdigit():
            self._send_json(411, {"error": {"message": "Content-Length required", "type": "invalid_request_error"}})
            self.close_connection = True
            return None
        if int(length) > MAX_REQUEST_BYTES:
            self._send_json(413, {"error": {"message": "request too large", "type": "invalid_request_error"}})
            self.close_connection = True
            return None
        return self.rfile.read(int(length))

    def _read_json(self) -> Any:
        raw = self._read_body()
        if raw is None:
            return None
        try:
            return json.loads(raw or b"null")
        except ValueError:
            self._send_json(400, {"error": {"message": "body is not valid JSON", "type": "invalid_request_error"}})
            return None

    def _wait(self, seconds: float) -> None:
        self.state.wait(seconds, self.connection)

    def _drop_connection(self) -> None:
        """Close abruptly, as a crashed upstream or a reset proxy would."""
        self.close_connection = True
        try:
            self.connection.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass

    # routing

    def do_GET(self) -> None:
        url = urlsplit(self.path)
        if url.path == "/v1/models":
            data = [{"id": m, "object": "model", "created": 0, "owned_by": "fake"} for m in self.state.models()]
            self._send_json(200, {"object": "list", "data": data})
        elif url.path == "/_fake/stats":
            self._send_json(200, self.state.stats())
        elif url.path == "/_fake/last_request":
            model = parse_qs(url.query).get("model", [""])[0]
            found = self.state.last_request(model)
            if found is None:
                self._send_json(404, {"error": f"no request seen for model {model!r}"})
            else:
                self._send_json(200, found)
        elif url.path == "/_fake/health":
            self._send_json(200, {"ok": True})
        else:
            self._send_json(404, {"error": {"message": f"no route GET {url.path}", "type": "not_found_error"}})

    def do_POST(self) -> None:
        path = urlsplit(self.path).path
        try:
            if path in _WIRES:
                self._generate(_WIRES[path], path)
            elif path == "/_fake/faults":
                self._post_faults()
            elif path == "/_fake/reset":
                self._read_body()
                self.state.reset()
                self._send_json(200, {"ok": True})
            elif path == "/_fake/config":
                self._post_config()
            else:
                self._read_body()
                self._send_json(404, {"error": {"message": f"no route POST {path}", "type": "not_found_error"}})
        except (_Stopping, _ClientGone):
            self._drop_connection()

    def _post_faults(self) -> None:
        data = self._read_json()
        if data is None:
            return
        model = data.get("model") if isinstance(data, dict) else None
        raw = data.get("faults") if isinstance(data, dict) else None
        if not isinstance(model, str) or not model or not isinstance(raw, list):
            self._send_json(400, {"error": 'expected {"model": "name or *", "faults": [...]}'})
            return
        try:
            faults = [Fault.parse(item) for item in raw]
        except ValueError as exc:
            self._send_json(400, {"error": str(exc)})
            return
        self.state.add_faults(model, faults)
        self._send_json(200, {"ok": True, "queued": [str(f) for f in faults]})

    def _post_config(self) -> None:
        data = self._read_json()
        if data is None:
            return
        known = {f.name for f in fields(FakeSettings)}
        if not isinstance(data, dict) or not set(data) <= known:
            self._send_json(400, {"error": f"expected an object with keys among {sorted(known)}"})
            return
        try:
            settings = self.state.configure(**data)
        except (TypeError, ValueError) as exc:
            self._send_json(400, {"error": str(exc)})
            return
        self._send_json(200, asdict(settings))

    # generation

    def _generate(self, wire: _Wire, path: str) -> None:
        body = self._read_json()
        if body is None:
            return
        if not isinstance(body, dict) or not isinstance(body.get("model"), str) or not body["model"]:
            self._send_json(400, wire.error_body(400, "", "model: a non-empty string is required"))
            return
        model = body["model"]
        key, scheme = self._api_key(wire)
        epoch = self.state.record(model, {
            "path": path,
            "body": body,
            "headers": {name: self.headers[name] for name in ("content-type", "accept", "anthropic-version")
                        if self.headers.get(name) is not None},
            "auth": {"scheme": scheme, "key_sha256": hashlib.sha256(key.encode()).hexdigest() if key else None},
        })
        problem = wire.validate(body, self.headers)
        if problem:
            self._send_json(400, wire.error_body(400, "", problem))
            return
        fault = self.state.take_fault(model)
        settings = self.state.settings
        stream = bool(body.get("stream"))
        with self.state.running(model, epoch):
            if fault is not None and fault.kind == "hang":
                self._wait(fault.arg if fault.arg is not None else settings.hang_seconds)
            ctx = self._answer(wire, body, model, epoch)
            if fault is not None and fault.status is not None:
                self._wait(settings.latency)
                self._send_fault_status(wire, fault, key, settings)
            elif fault is not None and fault.kind == "malformed":
                self._wait(settings.latency)
                self._send_malformed(wire, stream)
            elif fault is not None and fault.kind == "stream_error" and not stream:
                self._wait(settings.latency)
                status = 529 if wire.name == "anthropic" else 503
                self._send_json(status, wire.error_body(status, key))
            elif stream:
                self._stream(wire, ctx, fault, settings)
            else:
                self._respond(wire, ctx, fault, settings)

    def _api_key(self, wire: _Wire) -> tuple[str, str | None]:
        if wire.name == "anthropic" and self.headers.get("x-api-key"):
            return self.headers["x-api-key"], "x-api-key"
        authorization = self.headers.get("Authorization", "")
        if authorization.lower().startswith("bearer "):
            return authorization[7:].strip(), "bearer"
        return "", None

    def _answer(self, wire: _Wire, body: dict, model: str, epoch: int) -> _Answer:
        text = answers.answer(model, body["messages"], self.state.book)
        pieces = answers.split_tokens(text)
        finish_reason = wire.stop_reason
        limit = wire.max_tokens(body)
        if limit is not None and len(pieces) > limit:
            pieces = pieces[:limit]
            text = "".join(pieces)
            finish_reason = wire.length_reason
        stream_options = body.get("stream_options")
        include_usage = isinstance(stream_options, dict) and bool(stream_options.get("include_usage"))
        return _Answer(
            model=model,
            text=text,
            pieces=pieces,
            tokens_in=answers.count_tokens(wire.prompt_text(body)),
            finish_reason=finish_reason,
            include_usage=include_usage,
            request_id=("chatcmpl-" if wire.name == "openai" else "msg_") + uuid.uuid4().hex[:24],
            created=int(time.time()),
            epoch=epoch,
        )

    def _send_fault_status(self, wire: _Wire, fault: Fault, key: str, settings: FakeSettings) -> None:
        status = fault.status or 500
        headers: dict[str, str] = {}
        if status == 429:
            wait = fault.arg if fault.arg is not None else settings.retry_after
            headers["Retry-After"] = str(max(0, math.ceil(wait)))
            if wire.name == "openai":
                headers["retry-after-ms"] = str(int(round(wait * 1000)))
        if 300 <= status < 400:
            headers["Location"] = self.path
            self._send_json(status, {"moved": self.path}, headers)
            return
        self._send_json(status, wire.error_body(status, key), headers)

    def _send_malformed(self, wire: _Wire, stream: bool) -> None:
        if not stream:
            self._send_json(200, wire.malformed_body())
            return
        self._start_chunked()
        self._write_chunk(b"data: {this is not json\n\n")
        self._end_chunked()

    def _write_last(self, data: bytes, ctx: _Answer) -> None:
        """Write the final bytes of a complete answer, counting it as completed
        first: a client that has read the whole answer must find it counted."""
        self.state.mark_completed(ctx.model, ctx.epoch, +1)
        try:
            self.wfile.write(data)
        except BaseException:
            self.state.mark_completed(ctx.model, ctx.epoch, -1)
            raise

    def _respond(self, wire: _Wire, ctx: _Answer, fault: Fault | None, settings: FakeSettings) -> None:
        """A non-streamed answer."""
        generation_time = ctx.tokens_out / settings.tokens_per_second if settings.tokens_per_second else 0.0
        if fault is None or fault.kind != "drip":
            self._wait(settings.latency + generation_time)
        else:
            self._wait(settings.latency)
        body = json.dumps(wire.body(ctx)).encode("utf-8")
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if fault is not None and fault.kind in ("cut", "truncate"):
            self.wfile.write(body[: len(body) // 2])
            self._drop_connection()
            return
        if fault is not None and fault.kind == "drip":
            interval = fault.arg if fault.arg is not None else settings.drip_interval
            pieces = [body[start:start + 16] for start in range(0, len(body), 16)]
            for piece in pieces[:-1]:
                self.wfile.write(piece)
                self._wait(interval)
            body = pieces[-1]
        self._write_last(body, ctx)

    def _stream(self, wire: _Wire, ctx: _Answer, fault: Fault | None, settings: FakeSettings) -> None:
        """A streamed answer. Frames due at the same moment go out in one write
        (at rate 0, the whole answer): separate events, few system calls."""
        self._wait(settings.latency)
        self._start_chunked()
        pending = [_chunk(frame) for frame in wire.stream_head(ctx)]

        def flush() -> None:
            if pending:
                self.wfile.write(b"".join(pending))
                pending.clear()

        pieces = ctx.pieces
        kind = fault.kind if fault is not None else None
        if kind in ("cut", "truncate", "stream_error"):
            pieces = pieces[: max(1, len(pieces) // 2)]
        if kind == "drip":
            interval = fault.arg if fault and fault.arg is not None else settings.drip_interval
            batches: Iterator[tuple[str, float]] = ((piece, interval) for piece in pieces)
        else:
            batches = _paced(pieces, settings.tokens_per_second)
        next_at = time.monotonic()
        for text, pause in batches:
            if pause:
                flush()
                next_at += pause
                self._wait(next_at - time.monotonic())
            pending.append(_chunk(wire.stream_delta(ctx, text)))
        if kind == "cut":
            flush()
            self._drop_connection()
            return
        if kind == "stream_error":
            pending.append(_chunk(wire.stream_error()))
        if kind in ("stream_error", "truncate"):
            pending.append(b"0\r\n\r\n")
            flush()
            return
        pending.extend(_chunk(frame) for frame in wire.stream_tail(ctx))
        pending.append(b"0\r\n\r\n")
        self._write_last(b"".join(pending), ctx)

    def _start_chunked(self) -> None:
        self.send_response(200)
        self.send_header("Content-Type", "text/event-stream; charset=utf-8")
        self.send_header("Cache-Control", "no-cache")
        self.send_header("Transfer-Encoding", "chunked")
        self.end_headers()

    def _write_chunk(self, data: bytes) -> None:
        self.wfile.write(_chunk(data))

    def _end_chunked(self) -> None:
        self.wfile.write(b"0\r\n\r\n")


def _chunk(data: bytes) -> bytes:
    """One chunk of a chunked transfer encoding."""
    return b"%x\r\n%s\r\n" % (len(data), data)


def _paced(pieces: list[str], tokens_per_second: float) -> Iterator[tuple[str, float]]:
    """(text, pause before it) batches: one token per event at slow rates, a few
    per event at fast ones, none of the pauses at rate 0."""
    if not tokens_per_second:
        for piece in pieces:
            yield piece, 0.0
        return
    per_token = 1.0 / tokens_per_second
    group = max(1, math.ceil(MIN_EVENT_INTERVAL / per_token))
    for start in range(0, len(pieces), group):
        batch = pieces[start:start + group]
        yield "".join(batch), per_token * len(batch)


# --- the server object ------------------------------------------------------------------------


class FakeProviderServer:
    """The fake provider.

    The socket is bound by ``start()``, ``serve_forever()`` or the first look at
    ``url``/``port`` (port 0 picks a free port), so a busy port raises OSError
    there. ``start()`` serves in a background thread; ``serve_forever()`` in the
    calling thread; ``stop()`` ends both, wakes every request that is waiting
    and closes every open connection. The control methods act in-process and
    mirror the ``/_fake/...`` endpoints. ``book`` is an alias of ``answer_book``.
    """

    def __init__(
        self,
        host: str = "127.0.0.1",
        port: int = 0,
        *,
        latency: float = 0.0,
        tokens_per_second: float = 0.0,
        retry_after: float = 1.0,
        drip_interval: float = 2.0,
        hang_seconds: float = 120.0,
        answer_book: AnswerBook | str | Path | None = None,
        book: AnswerBook | str | Path | None = None,
    ) -> None:
        if answer_book is not None and book is not None:
            raise TypeError("pass answer_book or book, not both")
        answer_book = answer_book if answer_book is not None else book
        if answer_book is None:
            book = AnswerBook()
        elif isinstance(answer_book, AnswerBook):
            book = answer_book
        else:
            book = AnswerBook.load(answer_book)
        settings = FakeSettings(
            latency=latency,
            tokens_per_second=tokens_per_second,
            retry_after=retry_after,
            drip_interval=drip_interval,
            hang_seconds=hang_seconds,
        )
        self._state = _State(settings, book)
        self._httpd = _HTTPServer((host, port), self._state)
        self._thread: threading.Thread | None = None
        self._bound = False
        self._stopped = False

    def _bind(self) -> None:
        if self._bound:
            return
        try:
            self._httpd.server_bind()
            self._httpd.server_activate()
        except OSError:
            self._httpd.server_close()
            raise
        self._bound = True

    @property
    def host(self) -> str:
        self._bind()
        return self._httpd.server_address[0]

    @property
    def port(self) -> int:
        self._bind()
        return self._httpd.server_address[1]

    @property
    def url(self) -> str:
        host = self.host if ":" not in self.host else f"[{self.host}]"
        return f"http://{host}:{self.port}"

    @property
    def openai_base_url(self) -> str:
        return self.url + "/v1"

    @property
    def anthropic_base_url(self) -> str:
        return self.url

    def start(self) -> "FakeProviderServer":
        self._bind()
        if self._thread is None:
            self._thread = threading.Thread(
                target=self._httpd.serve_forever, kwargs={"poll_interval": 0.1},
                name=f"fake-provider-{self.port}", daemon=True,
            )
            self._thread.start()
        return self

    def serve_forever(self) -> None:
        self._bind()
        self._httpd.serve_forever(poll_interval=0.1)

    def stop(self) -> None:
        if self._stopped:
            return
        self._stopped = True
        self._state.stopping.set()
        if self._thread is not None:
            self._httpd.shutdown()
            self._thread.join(timeout=5)
        with self._httpd.connections_lock:
            open_connections = list(self._httpd.connections)
        for connection in open_connections:
            try:
                connection.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
        self._httpd.server_close()

    def __enter__(self) -> "FakeProviderServer":
        return self.start()

    def __exit__(self, *exc_info: Any) -> None:
        self.stop()

    # in-process control

    def set_faults(self, model: str, faults: list[str]) -> None:
        self._state.add_faults(model, [Fault.parse(item) for item in faults])

    def configure(self, **changes: Any) -> FakeSettings:
        return self._state.configure(**changes)

    def reset(self) -> None:
        self._state.reset()

    def stats(self) -> dict:
        return self._state.stats()

    def last_request(self, model: str) -> dict | None:
        return self._state.last_request(model)


# --- command line (shared by ``python -m battles.demo.fake_provider`` and the management command) ---


def add_cli_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1)")
    parser.add_argument("--port", type=int, default=8765, help="port (default 8765; 0 picks a free one)")
    parser.add_argument("--latency", type=float, default=0.2, help="seconds before the first byte (default 0.2)")
    parser.add_argument("--tokens-per-second", type=float, default=200.0,
                        help="streaming pace; 0 sends as fast as possible (default 200)")
    parser.add_argument("--retry-after", type=float, default=1.0,
                        help="Retry-After seconds of injected 429s (default 1)")
    parser.add_argument("--drip-interval", type=float, default=2.0,
                        help="seconds between tokens of the 'drip' fault (default 2)")
    parser.add_argument("--hang-seconds", type=float, default=120.0,
                        help="how long the 'hang' fault waits (default 120)")
    parser.add_argument("--answer-book", default=None, metavar="PATH",
                        help='JSONL of {"model", "prompt", "text"} answers to serve verbatim')


def serve_from_options(options: dict[str, Any], out=sys.stdout) -> None:
    """Run until SIGINT or SIGTERM, then stop cleanly. ``options`` holds the
    values of ``add_cli_arguments`` (argparse or Django option names)."""
    server = FakeProviderServer(
        options["host"],
        options["port"],
        latency=options["latency"],
        tokens_per_second=options["tokens_per_second"],
        retry_after=options["retry_after"],
        drip_interval=options["drip_interval"],
        hang_seconds=options["hang_seconds"],
        answer_book=options.get("answer_book"),
    )
    done = threading.Event()

    def request_stop(signum, frame) -> None:
        done.set()

    previous = {sig: signal.signal(sig, request_stop) for sig in (signal.SIGINT, signal.SIGTERM)}
    server.start()
    print(
        f"fake provider listening on {server.url}\n"
        f"  OpenAI-compatible base URL: {server.openai_base_url}\n"
        f"  Anthropic base URL:         {server.anthropic_base_url}\n"
        f"  control: {server.url}/_fake/stats, /_fake/faults, /_fake/reset, /_fake/config",
        file=out,
        flush=True,
    )
    try:
        while not done.wait(0.5):
            pass
    finally:
        server.stop()
        for sig, handler in previous.items():
            signal.signal(sig, handler)
        print("fake provider stopped", file=out, flush=True)
