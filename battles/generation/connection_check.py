"""The admin's "test connection": one short call to an LLM with a fixed tiny prompt.

Never raises: every failure comes back as a reason safe to show (never the key).
"""

from __future__ import annotations

import dataclasses
import logging
from dataclasses import dataclass

import httpx
from django.conf import settings

from battles.egress import endpoints
from battles.egress.providers import ChatRequest, ChatResult, ProviderError, get_provider
from battles.generation.requests import build_request

logger = logging.getLogger(__name__)

TEST_PROMPT = "Reply with the single word: ready"
TEST_MAX_TOKENS = 16


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
    if version is None:
        version = llm.current_version()
    if version is None:
        return ConnectionCheck(ok=False, error="This LLM has no version to test.")
    base = {"model_id": version.model_id, "version": version.number}
    if not llm.base_url:
        return ConnectionCheck(ok=False, error="This LLM has no base URL configured.", **base)
    deadline = settings.ARENA_TEST_CONNECTION_DEADLINE
    try:
        endpoints.ensure_callable(llm.base_url)
        request = dataclasses.replace(
            build_request(version, [{"role": "user", "content": TEST_PROMPT}], stream=False),
            system_prompt="",
            temperature=None,
            max_tokens=TEST_MAX_TOKENS,
            connect_timeout=min(settings.ARENA_PROVIDER_CONNECT_TIMEOUT, deadline),
            read_timeout=deadline,
            deadline=deadline,
        )
        result = call_provider(llm.provider, request, client)
    except ProviderError as exc:
        return ConnectionCheck(ok=False, error=exc.reason, **base)
    except ValueError as exc:
        # ChatRequest refuses settings it cannot send; its messages name fields, never the key.
        return ConnectionCheck(ok=False, error=f"invalid settings: {exc}", **base)
    except Exception:  # an admin tool must report, not 500
        logger.exception("test connection of LLM %s failed unexpectedly", llm.pk)
        return ConnectionCheck(ok=False, error="Unexpected error (details are in the server log).", **base)
    if not result.text.strip():
        return ConnectionCheck(
            ok=False, error="The provider answered with empty text.", latency_ms=result.latency_ms, **base
        )
    return ConnectionCheck(ok=True, text=result.text, latency_ms=result.latency_ms, **base)


def call_provider(kind: str, request: ChatRequest, client: httpx.Client | None) -> ChatResult:
    provider = get_provider(kind)
    if client is not None:
        return provider.chat(client, request)
    with endpoints.http_client() as own_client:
        return provider.chat(own_client, request)
