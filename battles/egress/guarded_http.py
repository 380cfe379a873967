"""HTTP clients that connect only to addresses the base-URL policy accepted.

``endpoints.ensure_callable`` checks a base URL right before each call, but
httpx would then resolve the host name again on its own: a DNS server that
answers with a public address the first time and 169.254.169.254 (or an
internal host) the second time would slip past the check (DNS rebinding).
Here the connection step itself resolves the name once, checks *every*
address with ``url_policy.checked_addresses`` and connects to those
addresses only. TLS still verifies the certificate against the host name
(httpcore passes the URL's host as the server name, whatever address the
socket went to). The backends below do this; the transports of
``battles.egress.guarded_transport`` hand them to httpcore's connection pool
through its public ``network_backend`` parameter.

A refused address raises ProviderError (not retryable), the same outcome as a
refused URL; a name that does not resolve raises httpcore.ConnectError, which
httpx reports as a ConnectError (retryable).

With an outbound proxy in the environment (HTTP_PROXY, HTTPS_PROXY,
ALL_PROXY) the proxy resolves the names, so the clients keep httpx's own
proxy handling and only the check before each call applies.
"""

from __future__ import annotations

import os
import ssl

import anyio.to_thread
import httpcore
import httpx

from battles.egress import url_policy
from battles.egress.guarded_transport import AsyncGuardedTransport, GuardedTransport
from battles.egress.providers import ProviderError

_PROXY_VARIABLES = ("http_proxy", "https_proxy", "all_proxy")


def proxy_configured() -> bool:
    return any(os.environ.get(name) or os.environ.get(name.upper()) for name in _PROXY_VARIABLES)


def _checked(host: str, port: int, allow_private: bool, resolver) -> tuple[str, ...]:
    try:
        return url_policy.checked_addresses(host, port, allow_private=allow_private, resolver=resolver)[1]
    except url_policy.URLRefused as exc:
        raise ProviderError(f"base URL refused when connecting: {exc.reason}", retryable=False) from None
    except url_policy.HostNotResolved as exc:
        raise httpcore.ConnectError(exc.reason) from None


class GuardedBackend(httpcore.NetworkBackend):
    def __init__(self, *, allow_private: bool, resolver) -> None:
        self.allow_private = allow_private
        self.resolver = resolver
        self._inner = httpcore.SyncBackend()

    def connect_tcp(self, host, port, timeout=None, local_address=None, socket_options=None):
        last_error = None
        for address in _checked(host, port, self.allow_private, self.resolver):
            try:
                return self._inner.connect_tcp(address, port, timeout, local_address, socket_options)
            except httpcore.ConnectError as exc:  # try the next checked address, as a resolver-driven connect would
                last_error = exc
        raise last_error

    def connect_unix_socket(self, *args, **kwargs):  # pragma: no cover - base URLs are http(s) only
        raise ProviderError("unix sockets are not allowed", retryable=False)

    def sleep(self, seconds: float) -> None:
        self._inner.sleep(seconds)


class AsyncGuardedBackend(httpcore.AsyncNetworkBackend):
    def __init__(self, *, allow_private: bool, resolver) -> None:
        self.allow_private = allow_private
        self.resolver = resolver
        self._inner = httpcore.AnyIOBackend()

    async def connect_tcp(self, host, port, timeout=None, local_address=None, socket_options=None):
        # getaddrinfo blocks: resolve in a worker thread, like asyncio's own resolver does.
        addresses = await anyio.to_thread.run_sync(_checked, host, port, self.allow_private, self.resolver)
        last_error = None
        for address in addresses:
            try:
                return await self._inner.connect_tcp(address, port, timeout, local_address, socket_options)
            except httpcore.ConnectError as exc:
                last_error = exc
        raise last_error

    async def connect_unix_socket(self, *args, **kwargs):  # pragma: no cover
        raise ProviderError("unix sockets are not allowed", retryable=False)

    async def sleep(self, seconds: float) -> None:
        await self._inner.sleep(seconds)


def _build(client_cls, transport_cls, backend_cls, *, allow_private, resolver, verify, options):
    if proxy_configured():
        return client_cls(verify=verify, follow_redirects=False, **options)
    transport = transport_cls(
        backend_cls(allow_private=allow_private, resolver=resolver),
        verify=verify,
        limits=options.pop("limits", httpx.Limits()),
    )
    return client_cls(transport=transport, follow_redirects=False, **options)


def client(*, allow_private: bool, resolver, verify: ssl.SSLContext | bool = True, **options) -> httpx.Client:
    """An httpx.Client whose connections go only to checked addresses (see the module docstring)."""
    return _build(
        httpx.Client,
        GuardedTransport,
        GuardedBackend,
        allow_private=allow_private,
        resolver=resolver,
        verify=verify,
        options=options,
    )


def async_client(
    *, allow_private: bool, resolver, verify: ssl.SSLContext | bool = True, **options
) -> httpx.AsyncClient:
    """The async twin of ``client``."""
    return _build(
        httpx.AsyncClient,
        AsyncGuardedTransport,
        AsyncGuardedBackend,
        allow_private=allow_private,
        resolver=resolver,
        verify=verify,
        options=options,
    )
