"""httpx transports over an httpcore connection pool with a given network backend.

httpx builds its own pool and offers no way to pass a network backend, while
httpcore's pools take one publicly (``network_backend=``). These transports
own such a pool, so the backend decides where every socket goes
(``battles.egress.guarded_http`` passes one that checks the addresses).
HTTP/1.1 only.

Callers catch httpx exceptions, so httpcore's are translated to the httpx
exception of the same meaning, both while sending and while the body is read
or closed. Anything else (such as the ProviderError a backend raises for a
refused address) passes through unchanged.
"""

from __future__ import annotations

import contextlib
import ssl
from collections.abc import AsyncIterator, Iterator

import httpcore
import httpx

# Most specific first: the first match wins. httpcore has no close error of its
# own, so nothing maps to httpx.CloseError (as in httpx's own transport).
_HTTPX_ERRORS: tuple[tuple[type[Exception], type[httpx.HTTPError]], ...] = (
    (httpcore.ConnectTimeout, httpx.ConnectTimeout),
    (httpcore.ReadTimeout, httpx.ReadTimeout),
    (httpcore.WriteTimeout, httpx.WriteTimeout),
    (httpcore.PoolTimeout, httpx.PoolTimeout),
    (httpcore.TimeoutException, httpx.TimeoutException),
    (httpcore.ConnectError, httpx.ConnectError),
    (httpcore.ReadError, httpx.ReadError),
    (httpcore.WriteError, httpx.WriteError),
    (httpcore.NetworkError, httpx.NetworkError),
    (httpcore.RemoteProtocolError, httpx.RemoteProtocolError),
    (httpcore.LocalProtocolError, httpx.LocalProtocolError),
    (httpcore.ProtocolError, httpx.ProtocolError),
    (httpcore.UnsupportedProtocol, httpx.UnsupportedProtocol),
    (httpcore.ProxyError, httpx.ProxyError),
)

# No cap on the number of connections; idle ones are closed after 5 s.
_DEFAULT_LIMITS = httpx.Limits()


@contextlib.contextmanager
def httpx_errors() -> Iterator[None]:
    """Re-raise an httpcore exception as its httpx counterpart (the cause is kept)."""
    try:
        yield
    except Exception as exc:
        for core_error, httpx_error in _HTTPX_ERRORS:
            if isinstance(exc, core_error):
                raise httpx_error(str(exc)) from exc
        raise


def _pool_options(verify: ssl.SSLContext | bool, limits: httpx.Limits) -> dict:
    return {
        # The same context httpx would build: certifi, or SSL_CERT_FILE / SSL_CERT_DIR when set.
        "ssl_context": httpx.create_ssl_context(verify=verify),
        "max_connections": limits.max_connections,
        "max_keepalive_connections": limits.max_keepalive_connections,
        "keepalive_expiry": limits.keepalive_expiry,
        "http1": True,
        "http2": False,
    }


def _core_request(request: httpx.Request) -> httpcore.Request:
    url = request.url
    return httpcore.Request(
        method=request.method,
        url=httpcore.URL(scheme=url.raw_scheme, host=url.raw_host, port=url.port, target=url.raw_path),
        headers=request.headers.raw,
        content=request.stream,
        # The same dict, not a copy: the timeouts travel here, and a trace hook may shrink them mid-request.
        extensions=request.extensions,
    )


def _httpx_response(response: httpcore.Response, stream: httpx.SyncByteStream | httpx.AsyncByteStream):
    # The extensions keep "network_stream": the deadline watchdog finds the socket there.
    return httpx.Response(
        status_code=response.status, headers=response.headers, stream=stream, extensions=response.extensions
    )


class _ResponseStream(httpx.SyncByteStream):
    def __init__(self, stream) -> None:
        self.stream = stream

    def __iter__(self) -> Iterator[bytes]:
        with httpx_errors():
            yield from self.stream

    def close(self) -> None:
        with httpx_errors():
            self.stream.close()  # hands the connection back to the pool, or drops it


class _AsyncResponseStream(httpx.AsyncByteStream):
    def __init__(self, stream) -> None:
        self.stream = stream

    async def __aiter__(self) -> AsyncIterator[bytes]:
        with httpx_errors():
            async for part in self.stream:
                yield part

    async def aclose(self) -> None:
        with httpx_errors():
            await self.stream.aclose()


class GuardedTransport(httpx.BaseTransport):
    """An httpx transport whose connections are opened by ``backend``."""

    def __init__(
        self,
        backend: httpcore.NetworkBackend,
        *,
        verify: ssl.SSLContext | bool = True,
        limits: httpx.Limits = _DEFAULT_LIMITS,
    ) -> None:
        self.pool = httpcore.ConnectionPool(network_backend=backend, **_pool_options(verify, limits))

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        with httpx_errors():
            response = self.pool.handle_request(_core_request(request))
        return _httpx_response(response, _ResponseStream(response.stream))

    def close(self) -> None:
        with httpx_errors():
            self.pool.close()


class AsyncGuardedTransport(httpx.AsyncBaseTransport):
    """The async twin of ``GuardedTransport``."""

    def __init__(
        self,
        backend: httpcore.AsyncNetworkBackend,
        *,
        verify: ssl.SSLContext | bool = True,
        limits: httpx.Limits = _DEFAULT_LIMITS,
    ) -> None:
        self.pool = httpcore.AsyncConnectionPool(network_backend=backend, **_pool_options(verify, limits))

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        with httpx_errors():
            response = await self.pool.handle_async_request(_core_request(request))
        return _httpx_response(response, _AsyncResponseStream(response.stream))

    async def aclose(self) -> None:
        with httpx_errors():
            await self.pool.aclose()
