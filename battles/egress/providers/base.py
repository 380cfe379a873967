"""The provider contract: the base class of a wire format and what its calls guarantee.

A provider turns a ChatRequest into one HTTP exchange in its wire format and
the answer back into a ChatResult. Subclasses only describe the wire format
(URL, headers, JSON payload, how to read a JSON body and a stream of events);
the HTTP driving lives here and in ``exchange`` (timing, deadline, reading),
error classification in ``errors``, the request and result in ``types``; all
are shared by every provider and by the sync and async entry points.

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
from typing import Any, ClassVar

import httpx

from battles.egress.providers.errors import ProviderError
from battles.egress.providers.exchange import (
    MAX_ERROR_BODY_BYTES,
    DeadlineWatchdog,
    Exchange,
    aread_limited,
    read_limited,
)
from battles.egress.providers.parsing import Completion, StreamParser
from battles.egress.providers.types import ChatRequest, ChatResult, OnDelta

__all__ = ["Provider"]


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
        exchange = Exchange(req, parse_body=self.parse_body, stream_parser=self.stream_parser)
        watchdog = DeadlineWatchdog()
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
                    body = read_limited(response.iter_bytes(), MAX_ERROR_BODY_BYTES)
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
            raise exchange.scrubbed(exc) from None  # the original may hold the key: keep it out of tracebacks
        finally:
            watchdog.disarm()

    async def achat(self, client: httpx.AsyncClient, req: ChatRequest, on_delta: OnDelta | None = None) -> ChatResult:
        """The async twin of ``chat``; ``on_delta`` may be a plain function or a coroutine function."""
        exchange = Exchange(req, parse_body=self.parse_body, stream_parser=self.stream_parser)
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
                        body = await aread_limited(response.aiter_bytes(), MAX_ERROR_BODY_BYTES)
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
            raise exchange.scrubbed(exc) from None  # the original may hold the key: keep it out of tracebacks
