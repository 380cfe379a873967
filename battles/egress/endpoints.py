"""Calling an LLM's endpoint safely: the base-URL policy with Arena's settings,
the check made right before each call, and HTTP clients that connect only to
addresses the policy accepts.

The policy itself is pure (``battles.egress.url_policy``); this module supplies
``ARENA_ALLOW_PRIVATE_ENDPOINTS`` and the resolver (``resolve_host``, which
tests replace).
"""

from __future__ import annotations

import logging

import httpx
from django.conf import settings

from battles.egress import guarded_http, url_policy
from battles.egress.providers import ProviderError

logger = logging.getLogger(__name__)

resolve_host = url_policy.system_resolver


def check_url(url: str) -> url_policy.Endpoint:
    """The Endpoint of ``url`` under the current settings; raises url_policy.BaseURLError."""
    return url_policy.check_base_url(url, allow_private=settings.ARENA_ALLOW_PRIVATE_ENDPOINTS, resolver=resolve_host)


def _resolve(host: str, port: int):
    return resolve_host(host, port)  # looked up at call time, so that tests can replace resolve_host


def http_client(**options) -> httpx.Client:
    """A client that connects only to addresses the policy accepts (``battles.egress.guarded_http``)."""
    return guarded_http.client(allow_private=settings.ARENA_ALLOW_PRIVATE_ENDPOINTS, resolver=_resolve, **options)


def async_http_client(**options) -> httpx.AsyncClient:
    return guarded_http.async_client(allow_private=settings.ARENA_ALLOW_PRIVATE_ENDPOINTS, resolver=_resolve, **options)


def configuration_warning(url: str) -> str | None:
    """Check a base URL an admin is saving.

    Raises url_policy.URLRefused when it must not be used. A host that does
    not resolve from here is accepted with a warning (it may resolve from the
    workers' network); every call checks again.
    """
    try:
        check_url(url)
    except url_policy.HostNotResolved as exc:
        return f"{exc.reason} It was saved anyway; every call checks it again."
    return None


def ensure_callable(url: str) -> None:
    """Raise ProviderError unless ``url`` may be called now.

    DNS answers change after a URL was saved, so this runs right before each
    call: a refused URL fails for good, a name that does not resolve may
    resolve on a later attempt.
    """
    try:
        check_url(url)
    except url_policy.URLRefused as exc:
        raise ProviderError(f"base URL refused: {exc.reason}", retryable=False) from None
    except url_policy.HostNotResolved as exc:
        raise ProviderError(exc.reason, retryable=True) from None
