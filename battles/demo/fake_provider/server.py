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

import socket
import threading
from pathlib import Path
from typing import Any

from battles.demo.fake_provider.answers import AnswerBook
from battles.demo.fake_provider.handler import FakeProviderHandler
from battles.demo.fake_provider.state import FakeSettings, Fault, ServerState
from battles.demo.fake_provider.transport import ProviderHTTPServer

__all__ = ["FakeProviderServer"]


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
        self._state = ServerState(settings, book)
        self._httpd = ProviderHTTPServer((host, port), self._state, FakeProviderHandler)
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
        return self._httpd.server_name  # the bound address's host (see ProviderHTTPServer.server_bind)

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

    def start(self) -> FakeProviderServer:
        self._bind()
        if self._thread is None:
            self._thread = threading.Thread(
                target=self._httpd.serve_forever,
                kwargs={"poll_interval": 0.1},
                name=f"fake-provider-{self.port}",
                daemon=True,
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

    def __enter__(self) -> FakeProviderServer:
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
