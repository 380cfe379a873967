"""The machinery of one call, shared by every wire format and by the sync and
async entry points: per-phase timeouts shrunk to what is left of the deadline,
a watchdog that ends a sync stream at the deadline, reading the body or the
stream within a size limit, and turning HTTP and transport failures into
ProviderErrors with a safe reason."""

from __future__ import annotations

import json
import socket
import threading
import time
from collections.abc import Callable
from typing import Any

import httpx

from battles.egress.providers.errors import (
    ProviderError,
    error_message,
    parse_retry_after,
    redact,
    shape_error,
    status_is_retryable,
)
from battles.egress.providers.parsing import Completion, StreamParser, load_json
from battles.egress.providers.sse import SSEDecoder
from battles.egress.providers.types import ChatRequest, ChatResult

__all__ = ["MAX_ERROR_BODY_BYTES", "DeadlineWatchdog", "Exchange", "aread_limited", "read_limited"]

# A 200 body larger than this is refused rather than held in memory.
MAX_RESPONSE_BYTES = 8 * 1024 * 1024
# How much of an error body is read to find the provider's message.
MAX_ERROR_BODY_BYTES = 64 * 1024


class Exchange:
    """The state of one call, independent of sync or async I/O. ``parse_body``
    and ``stream_parser`` are the wire format's readers (see ``Provider``)."""

    def __init__(
        self,
        req: ChatRequest,
        *,
        parse_body: Callable[[Any], Completion],
        stream_parser: Callable[[], StreamParser],
    ) -> None:
        self.req = req
        self.parse_body = parse_body
        self.stream_parser = stream_parser
        self.started = time.monotonic()
        self.deadline_at = self.started + req.deadline
        self.first_delta_at: float | None = None
        self.mode: str | None = None
        self.received = 0
        self.body = bytearray()
        self.parts: list[str] = []
        self.decoder: SSEDecoder | None = None
        self.parser: StreamParser | None = None
        self.on_response_closed: Callable[[], None] | None = None

    # timing

    def remaining(self) -> float:
        return self.deadline_at - time.monotonic()

    def timeout(self) -> httpx.Timeout:
        budget = self.req.deadline
        return httpx.Timeout(
            connect=min(self.req.connect_timeout, budget),
            read=min(self.req.read_timeout, budget),
            write=min(self.req.read_timeout, budget),
            pool=budget,
        )

    def trace(self, name: str, info: dict) -> None:
        """httpcore trace hook (sync only). Before each network phase, shrink the
        per-phase timeouts to what is left of the deadline, so that waiting for
        the response headers cannot outlast it; when the response closes, disarm
        the watchdog before the connection goes back to the pool."""
        if name.endswith("response_closed.started"):
            if self.on_response_closed is not None:
                self.on_response_closed()
            return
        if not name.endswith(".started"):
            return
        request = info.get("request")
        timeouts = getattr(request, "extensions", {}).get("timeout")
        if isinstance(timeouts, dict):
            left = max(self.remaining(), 0.001)
            timeouts["read"] = min(self.req.read_timeout, left)
            timeouts["write"] = min(self.req.read_timeout, left)

    def check_deadline(self) -> None:
        if self.remaining() <= 0:
            raise self.deadline_error()

    def elapsed_ms(self, at: float | None = None) -> int:
        return int(round(((at if at is not None else time.monotonic()) - self.started) * 1000))

    # errors

    def scrubbed(self, exc: ProviderError) -> ProviderError:
        """Errors built by the wire-format parsers do not know the key; make sure
        a provider that echoed it in an error event cannot leak it."""
        if self.req.api_key and self.req.api_key in exc.reason:
            exc.reason = redact(exc.reason, self.req.api_key)
            exc.args = (exc.reason,)
        return exc

    def deadline_error(self) -> ProviderError:
        return ProviderError(f"deadline of {self.req.deadline:g}s exceeded", retryable=True)

    def status_error(self, response: httpx.Response, body: bytes) -> ProviderError:
        status = response.status_code
        retry_after = parse_retry_after(response.headers)
        if 300 <= status < 400:
            return ProviderError(
                f"HTTP {status}: redirect not followed (check the base URL)",
                retryable=False,
                status_code=status,
                retry_after=None,
            )
        try:
            message = error_message(json.loads(body)) if body else None
        except (ValueError, UnicodeDecodeError):
            message = None
        phrase = response.reason_phrase or "error"
        reason = f"HTTP {status} {phrase}" + (f": {message}" if message else "")
        return ProviderError(
            redact(reason, self.req.api_key),
            retryable=status_is_retryable(status),
            status_code=status,
            retry_after=retry_after,
        )

    def transport_error(self, exc: httpx.HTTPError) -> ProviderError:
        if self.remaining() <= 0:
            return self.deadline_error()
        detail = redact(str(exc) or type(exc).__name__, self.req.api_key)
        if isinstance(exc, httpx.ConnectTimeout):
            reason, retryable = f"connect timeout after {self.req.connect_timeout:g}s", True
        elif isinstance(exc, httpx.ReadTimeout):
            reason, retryable = f"read timeout: no data for {self.req.read_timeout:g}s", True
        elif isinstance(exc, httpx.TimeoutException):
            reason, retryable = f"timeout ({type(exc).__name__})", True
        elif isinstance(exc, httpx.ConnectError):
            reason, retryable = f"connection failed: {detail}", True
        elif isinstance(exc, httpx.RemoteProtocolError):
            reason, retryable = f"connection closed before the response was complete: {detail}", True
        elif isinstance(exc, (httpx.NetworkError, httpx.ProxyError)):
            reason, retryable = f"network error: {detail}", True
        elif isinstance(exc, (httpx.UnsupportedProtocol, httpx.InvalidURL)):
            reason, retryable = f"invalid base URL: {detail}", False
        elif isinstance(exc, httpx.DecodingError):
            reason, retryable = f"undecodable response body: {detail}", False
        else:
            reason, retryable = f"{type(exc).__name__}: {detail}", False
        return ProviderError(redact(reason, self.req.api_key), retryable=retryable)

    # body

    def begin(self, response: httpx.Response) -> None:
        content_type = response.headers.get("content-type", "").lower()
        # Decide by what the server sent, not what was asked: some
        # OpenAI-compatible servers answer a streaming request with plain JSON.
        if "text/event-stream" in content_type:
            self.mode = "sse"
            self.decoder = SSEDecoder()
            self.parser = self.stream_parser()
        else:
            self.mode = "body"

    def feed(self, chunk: bytes) -> list[str]:
        self.received += len(chunk)
        if self.received > MAX_RESPONSE_BYTES:
            raise shape_error(f"response larger than {MAX_RESPONSE_BYTES} bytes")
        if self.mode == "body":
            self.body += chunk
            return []
        assert self.decoder is not None and self.parser is not None
        deltas = []
        for event in self.decoder.feed(chunk):
            delta = self.parser.feed(event)
            if delta:
                if self.first_delta_at is None:
                    self.first_delta_at = time.monotonic()
                self.parts.append(delta)
                deltas.append(delta)
        return deltas

    def finish(self) -> ChatResult:
        if self.mode == "body":
            completion = self.parse_body(load_json(bytes(self.body), "response body"))
            ttft_ms = None
        else:
            assert self.decoder is not None and self.parser is not None
            self.decoder.close()
            completion = self.parser.finish()
            completion.text = "".join(self.parts)
            ttft_ms = None if self.first_delta_at is None else self.elapsed_ms(self.first_delta_at)
        return ChatResult(
            # A NUL cannot be stored in Postgres text: keep a visible trace of it instead of failing the answer.
            text=completion.text.replace("\x00", "\ufffd"),
            tokens_in=completion.tokens_in,
            tokens_out=completion.tokens_out,
            latency_ms=self.elapsed_ms(),
            ttft_ms=ttft_ms,
            finish_reason=completion.finish_reason,
        )


class DeadlineWatchdog:
    """Enforces the deadline of a sync call while its body streams: a read that
    keeps receiving a byte now and then never times out, so at the deadline the
    socket is shut down, which wakes the blocked read with an error."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._timer: threading.Timer | None = None
        self._sock: socket.socket | None = None

    def arm(self, response: httpx.Response, seconds: float) -> None:
        stream = response.extensions.get("network_stream")
        sock = stream.get_extra_info("socket") if stream is not None else None
        if not isinstance(sock, socket.socket):
            return  # HTTP/2 or a custom transport: the per-chunk deadline check still applies.
        with self._lock:
            self._sock = sock
            self._timer = threading.Timer(max(seconds, 0.0), self._fire)
            self._timer.daemon = True
            self._timer.start()

    def disarm(self) -> None:
        with self._lock:
            self._sock = None
            if self._timer is not None:
                self._timer.cancel()
                self._timer = None

    def _fire(self) -> None:
        with self._lock:
            sock, self._sock = self._sock, None
            if sock is None:
                return
            try:
                # The plain-socket method, also for TLS sockets: SSLSocket.shutdown
                # would tear down SSL state that the reading thread is using.
                socket.socket.shutdown(sock, socket.SHUT_RDWR)
            except OSError:
                pass


def read_limited(chunks, limit: int) -> bytes:
    body = bytearray()
    for chunk in chunks:
        body += chunk
        if len(body) >= limit:
            break
    return bytes(body[:limit])


async def aread_limited(chunks, limit: int) -> bytes:
    body = bytearray()
    async for chunk in chunks:
        body += chunk
        if len(body) >= limit:
            break
    return bytes(body[:limit])
