"""The provider contract: request and result types, the error, the base class.

A provider turns a ChatRequest into one HTTP exchange in its wire format and
the answer back into a ChatResult. Subclasses only describe the wire format
(URL, headers, JSON payload, how to read a JSON body and a stream of events);
the HTTP driving, timing, deadline and error classification live here and are
shared by every provider and by the sync and async entry points.

Guarantees of ``chat()`` / ``achat()``:

* they return a complete ChatResult or raise ProviderError; partial text is
  never returned. ``on_delta`` sees streamed text as it arrives, so a caller
  that shows it live must discard what it saw when the call raises;
* every failure is a ProviderError whose ``retryable`` says whether trying
  again can help, with ``retry_after`` from the response headers when given;
* ``deadline`` bounds the whole call, including a stream that keeps dripping;
* redirects are never followed (a 3xx is a non-retryable error);
* the API key never appears in ``reason``, ``str(error)`` or ``repr(request)``.

No Django import here: plain data in, plain data out, the httpx client comes in
as an argument.
"""

from __future__ import annotations

import asyncio
import inspect
import json
import math
import re
import socket
import threading
import time
from dataclasses import dataclass, field
from datetime import datetime, timezone
from email.utils import parsedate_to_datetime
from typing import Any, Awaitable, Callable, ClassVar, Mapping

import httpx

from battles.egress.providers.sse import ServerSentEvent, SSEDecoder

__all__ = [
    "ChatRequest",
    "ChatResult",
    "Provider",
    "ProviderError",
    "parse_retry_after",
    "redact",
]

# A 200 body larger than this is refused rather than held in memory.
MAX_RESPONSE_BYTES = 8 * 1024 * 1024
# How much of an error body is read to find the provider's message.
MAX_ERROR_BODY_BYTES = 64 * 1024
MAX_REASON_CHARS = 300
RETRYABLE_STATUSES = frozenset({408, 409, 429})

OnDelta = Callable[[str], "None | Awaitable[None]"]


@dataclass(frozen=True)
class ChatRequest:
    """One chat call. ``deadline`` is the wall-clock budget of the whole call in
    seconds, streaming included; the connect and read timeouts bound the
    individual network steps inside it."""

    base_url: str
    model_id: str
    messages: list[dict]
    system_prompt: str = ""
    temperature: float | None = None
    max_tokens: int = 1024
    api_key: str = field(default="", repr=False)
    stream: bool = True
    connect_timeout: float = 5.0
    read_timeout: float = 60.0
    deadline: float = 180.0

    def __post_init__(self) -> None:
        if not isinstance(self.base_url, str) or not self.base_url.startswith(("http://", "https://")):
            raise ValueError("base_url must be an http:// or https:// URL")
        if not isinstance(self.model_id, str) or not self.model_id.strip():
            raise ValueError("model_id must be a non-empty string")
        if not isinstance(self.messages, list) or not self.messages:
            raise ValueError("messages must be a non-empty list")
        for index, message in enumerate(self.messages):
            if not isinstance(message, dict):
                raise ValueError(f"messages[{index}] must be a dict")
            if message.get("role") not in ("user", "assistant"):
                raise ValueError(f"messages[{index}].role must be 'user' or 'assistant'")
            if not isinstance(message.get("content"), str):
                raise ValueError(f"messages[{index}].content must be a string")
        if not isinstance(self.system_prompt, str):
            raise ValueError("system_prompt must be a string")
        if self.temperature is not None and not (
            isinstance(self.temperature, (int, float)) and 0 <= self.temperature <= 2
        ):
            raise ValueError("temperature must be None or between 0 and 2")
        if not isinstance(self.max_tokens, int) or isinstance(self.max_tokens, bool) or self.max_tokens < 1:
            raise ValueError("max_tokens must be a positive integer")
        for name in ("connect_timeout", "read_timeout", "deadline"):
            value = getattr(self, name)
            if not isinstance(value, (int, float)) or not value > 0 or math.isinf(value):
                raise ValueError(f"{name} must be a positive number of seconds")


@dataclass(frozen=True)
class ChatResult:
    """A complete answer.

    ``latency_ms`` runs from the start of the call to the complete answer;
    ``ttft_ms`` to the first non-empty text delta of a stream, and is None for a
    non-streamed call (no token arrives before the whole body does).
    ``finish_reason`` is the provider's own word ("stop", "length", "end_turn",
    "max_tokens", …) or None when it sent none; a truncated-by-length answer is
    still a complete result and the caller decides what to make of it.
    """

    text: str
    tokens_in: int | None
    tokens_out: int | None
    latency_ms: int
    ttft_ms: int | None
    finish_reason: str | None


class ProviderError(Exception):
    """A call that produced no answer.

    ``reason`` is short, single-line and safe to show an admin (never the API
    key); ``retryable`` says whether the same call may succeed later;
    ``retry_after`` is the provider's requested wait in seconds, if it gave one.
    """

    def __init__(
        self,
        reason: str,
        *,
        retryable: bool = False,
        status_code: int | None = None,
        retry_after: float | None = None,
    ) -> None:
        super().__init__(reason)
        self.reason = reason
        self.retryable = retryable
        self.status_code = status_code
        self.retry_after = retry_after

    def __reduce__(self):
        # Picklable (Celery stores exceptions): rebuild from the reason, then the attributes.
        return (self.__class__, (self.reason,), self.__dict__.copy())

    def __repr__(self) -> str:
        return (
            f"ProviderError({self.reason!r}, retryable={self.retryable}, "
            f"status_code={self.status_code}, retry_after={self.retry_after})"
        )


# --- helpers shared by providers -------------------------------------------------

# Shapes of common provider keys, redacted even when a provider echoes a key
# other than the one sent (or a transformed one).
_KEY_SHAPES = re.compile(r"\b(?:sk|pk|rk)-[A-Za-z0-9_\-*.]{6,}")
_CONTROL = re.compile(r"[\x00-\x1f\x7f]+")


def redact(text: str, secret: str = "") -> str:
    """Make ``text`` safe for ``ProviderError.reason``: no secret, one line, bounded."""
    text = str(text)
    if secret:
        text = text.replace(secret, "[redacted]")
    text = _KEY_SHAPES.sub("[redacted]", text)
    text = " ".join(_CONTROL.sub(" ", text).split())
    if len(text) > MAX_REASON_CHARS:
        text = text[: MAX_REASON_CHARS - 1] + "…"
    return text


def parse_retry_after(headers: Mapping[str, str], *, now: datetime | None = None) -> float | None:
    """Seconds to wait before retrying, from ``retry-after-ms`` (OpenAI-style,
    preferred because it is precise) or ``Retry-After`` (delta-seconds or an
    HTTP date). None when absent or unreadable; never negative."""
    lowered = {str(key).lower(): str(value) for key, value in headers.items()}
    milliseconds = _non_negative_float(lowered.get("retry-after-ms"))
    if milliseconds is not None:
        return milliseconds / 1000.0
    value = lowered.get("retry-after")
    if value is None:
        return None
    seconds = _non_negative_float(value)
    if seconds is not None:
        return seconds
    try:
        when = parsedate_to_datetime(value.strip())
    except (TypeError, ValueError, IndexError):
        return None
    if when is None:
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=timezone.utc)
    now = now or datetime.now(timezone.utc)
    return max(0.0, (when - now).total_seconds())


def _non_negative_float(value: str | None) -> float | None:
    if value is None:
        return None
    try:
        number = float(value.strip())
    except ValueError:
        return None
    if math.isnan(number) or math.isinf(number) or number < 0:
        return None
    return number


def status_is_retryable(status: int) -> bool:
    return status in RETRYABLE_STATUSES or status >= 500


def shape_error(what: str) -> ProviderError:
    """A 200 response that is not what the wire format promises: retrying the
    same request will not change it."""
    return ProviderError(f"unexpected response: {what}", retryable=False)


def truncated_error(what: str) -> ProviderError:
    return ProviderError(f"stream ended early: {what}", retryable=True)


def load_json(text: str | bytes, what: str) -> Any:
    try:
        return json.loads(text)
    except (ValueError, UnicodeDecodeError):
        raise shape_error(f"{what} is not valid JSON") from None


def token_count(value: Any) -> int | None:
    if isinstance(value, int) and not isinstance(value, bool) and value >= 0:
        return value
    return None


def error_message(data: Any) -> str | None:
    """The human message of an error body in either wire format (or a few common variants)."""
    if not isinstance(data, dict):
        return None
    error = data.get("error")
    if isinstance(error, dict):
        message = error.get("message")
        kind = error.get("type") or error.get("code")
        if isinstance(message, str) and message:
            return f"{message} ({kind})" if isinstance(kind, str) and kind else message
        if isinstance(kind, str):
            return kind
    if isinstance(error, str) and error:
        return error
    for key in ("message", "detail"):
        if isinstance(data.get(key), str) and data[key]:
            return data[key]
    return None


@dataclass
class Completion:
    """What a wire format yields: text plus the bookkeeping around it."""

    text: str
    finish_reason: str | None
    tokens_in: int | None
    tokens_out: int | None


class StreamParser:
    """Reads one provider's events. ``feed`` returns the text delta of an event
    ("" for none) or raises ProviderError for an error event or a malformed one;
    ``finish`` raises unless the terminal event was seen."""

    def feed(self, event: ServerSentEvent) -> str:
        raise NotImplementedError

    def finish(self) -> Completion:
        """Return a Completion with empty text (the driver fills it in)."""
        raise NotImplementedError


# --- the base class ---------------------------------------------------------------


class Provider:
    """Base class of a wire format. Subclasses set ``kind`` and ``label`` and
    implement ``url``, ``headers``, ``payload``, ``parse_body`` and ``stream_parser``."""

    kind: ClassVar[str] = ""
    label: ClassVar[str] = ""

    def url(self, req: ChatRequest) -> str:
        raise NotImplementedError

    def headers(self, req: ChatRequest) -> dict[str, str]:
        raise NotImplementedError

    def payload(self, req: ChatRequest) -> dict[str, Any]:
        raise NotImplementedError

    def parse_body(self, data: Any) -> Completion:
        """Read a non-streamed JSON body; raise ProviderError if it is not an answer."""
        raise NotImplementedError

    def stream_parser(self) -> StreamParser:
        raise NotImplementedError

    def chat(self, client: httpx.Client, req: ChatRequest, on_delta: OnDelta | None = None) -> ChatResult:
        """Make the call with a sync httpx client. See the module docstring."""
        exchange = _Exchange(self, req)
        watchdog = _Watchdog()
        exchange.on_response_closed = watchdog.disarm
        try:
            with client.stream(
                "POST",
                self.url(req),
                json=self.payload(req),
                headers=self.headers(req),
                timeout=exchange.timeout(),
                follow_redirects=False,
                extensions={"trace": exchange.trace},
            ) as response:
                if not response.is_success:
                    body = _read_limited(response.iter_bytes(), MAX_ERROR_BODY_BYTES)
                    raise exchange.status_error(response, body)
                exchange.begin(response)
                watchdog.arm(response, exchange.remaining())
                for chunk in response.iter_bytes():
                    for delta in exchange.feed(chunk):
                        if on_delta is not None:
                            on_delta(delta)
                    exchange.check_deadline()
                watchdog.disarm()
                result = exchange.finish()
            if exchange.mode == "body" and on_delta is not None and result.text:
                on_delta(result.text)
            return result
        except httpx.HTTPError as exc:
            raise exchange.transport_error(exc) from exc
        except ProviderError as exc:
            raise exchange.scrubbed(exc)
        finally:
            watchdog.disarm()

    async def achat(
        self, client: httpx.AsyncClient, req: ChatRequest, on_delta: OnDelta | None = None
    ) -> ChatResult:
        """The async twin of ``chat``; ``on_delta`` may be a plain function or a coroutine function."""
        exchange = _Exchange(self, req)
        try:
            async with asyncio.timeout(exchange.remaining()):
                async with client.stream(
                    "POST",
                    self.url(req),
                    json=self.payload(req),
                    headers=self.headers(req),
                    timeout=exchange.timeout(),
                    follow_redirects=False,
                ) as response:
                    if not response.is_success:
                        body = await _aread_limited(response.aiter_bytes(), MAX_ERROR_BODY_BYTES)
                        raise exchange.status_error(response, body)
                    exchange.begin(response)
                    async for chunk in response.aiter_bytes():
                        for delta in exchange.feed(chunk):
                            if on_delta is not None:
                                returned = on_delta(delta)
                                if inspect.isawaitable(returned):
                                    await returned
                        exchange.check_deadline()
                    result = exchange.finish()
                if exchange.mode == "body" and on_delta is not None and result.text:
                    returned = on_delta(result.text)
                    if inspect.isawaitable(returned):
                        await returned
                return result
        except TimeoutError:
            raise exchange.deadline_error() from None
        except httpx.HTTPError as exc:
            raise exchange.transport_error(exc) from exc
        except ProviderError as exc:
            raise exchange.scrubbed(exc)


class _Exchange:
    """The state of one call, independent of sync or async I/O."""

    def __init__(self, provider: Provider, req: ChatRequest) -> None:
        self.provider = provider
        self.req = req
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
            self.parser = self.provider.stream_parser()
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
            completion = self.provider.parse_body(load_json(bytes(self.body), "response body"))
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


class _Watchdog:
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


def _read_limited(chunks, limit: int) -> bytes:
    body = bytearray()
    for chunk in chunks:
        body += chunk
        if len(body) >= limit:
            break
    return bytes(body[:limit])


async def _aread_limited(chunks, limit: int) -> bytes:
    body = bytearray()
    async for chunk in chunks:
        body += chunk
        if len(body) >= limit:
            break
    return bytes(body[:limit])
