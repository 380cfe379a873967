"""Calling an LLM's endpoint safely: the base-URL policy with Arena's settings,
the check made right before each call, and the admin's "test connection".

The policy itself is pure (``battles.egress.url_policy``); this module supplies
``ARENA_ALLOW_PRIVATE_ENDPOINTS`` and the resolver (``resolve_host``, which
tests replace).
"""

from __future__ import annotations

import dataclasses
import logging
from dataclasses import dataclass

import httpx
from django.conf import settings

from battles.egress import guarded_http, url_policy
from battles.egress.providers import ChatResult, ProviderError, get_provider

logger = logging.getLogger(__name__)

resolve_host = url_policy.system_resolver

TEST_PROMPT = "Reply with the single word: ready"
TEST_MAX_TOKENS = 16


def check_url(url: str) -> url_policy.Endpoint:
    """The Endpoint of ``url`` under the current settings; raises url_policy.BaseURLError."""
    return url_policy.check_base_url(
        url, allow_private=settings.ARENA_ALLOW_PRIVATE_ENDPOINTS, resolver=resolve_host
    )


def _resolve(host: str, port: int):
    return resolve_host(host, port)  # looked up at call time, so that tests can replace resolve_host


def http_client(**options) -> httpx.Client:
    """A client that connects only to addresses the policy accepts (``battles.egress.guarded_http``)."""
    return guarded_http.client(allow_private=settings.ARENA_ALLOW_PRIVATE_ENDPOINTS, resolver=_resolve, **options)


def async_http_client(**options) -> httpx.AsyncClient:
    return guarded_http.async_client(allow_private=settings.ARENA_ALLOW_PRIVATE_ENDPOINTS, resolver=_resolve,
                                     **options)


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


@dataclass(frozen=True)
class ConnectionCheck:
    """What the admin sees after "test connection"; never holds the key."""

    ok: bool
    model_id: str = ""
    version: int | None = None
    text: str = ""
    latency_ms: int | None = None
    error: str = ""


def check_connection(llm, *, version=None, client: httpx.Client | None = None) -> ConnectionCheck:
    """One short call to the LLM's current version (or ``version``), with a fixed tiny prompt.

    Never raises: every failure (refused URL, DNS, timeout, HTTP error, a key
    that cannot be decrypted) comes back as ``error``, a reason safe to show.
    Given ``version`` (loaded with ``llm``), it makes no database query.
    """
    from battles.generation.requests import build_request

    if version is None:
        version = llm.current_version()
    if version is None:
        return ConnectionCheck(ok=False, error="This LLM has no version to test.")
    base = {"model_id": version.model_id, "version": version.number}
    if not llm.base_url:
        return ConnectionCheck(ok=False, error="This LLM has no base URL configured.", **base)
    deadline = settings.ARENA_TEST_CONNECTION_DEADLINE
    try:
        ensure_callable(llm.base_url)
        request = dataclasses.replace(
            build_request(version, [{"role": "user", "content": TEST_PROMPT}], stream=False),
            system_prompt="",
            temperature=None,
            max_tokens=TEST_MAX_TOKENS,
            connect_timeout=min(settings.ARENA_PROVIDER_CONNECT_TIMEOUT, deadline),
            read_timeout=deadline,
            deadline=deadline,
        )
        result = _call(llm.provider, request, client)
    except ProviderError as exc:
        return ConnectionCheck(ok=False, error=exc.reason, **base)
    except ValueError as exc:
        # ChatRequest refuses settings it cannot send; its messages name fields, never the key.
        return ConnectionCheck(ok=False, error=f"invalid settings: {exc}", **base)
    except Exception:  # noqa: BLE001 - an admin tool must report, not 500
        logger.exception("test connection of LLM %s failed unexpectedly", llm.pk)
        return ConnectionCheck(ok=False, error="Unexpected error (details are in the server log).", **base)
    if not result.text.strip():
        return ConnectionCheck(
            ok=False, error="The provider answered with empty text.", latency_ms=result.latency_ms, **base
        )
    return ConnectionCheck(ok=True, text=result.text, latency_ms=result.latency_ms, **base)


def _call(kind: str, request, client: httpx.Client | None) -> ChatResult:
    provider = get_provider(kind)
    if client is not None:
        return provider.chat(client, request)
    with http_client() as own_client:
        return provider.chat(own_client, request)
