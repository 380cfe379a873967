"""What every generation attempt shares: the request it sends, the key it uses, the price of the answer.

The attempts themselves run in ``battles.generation.runner`` (many at once,
within each LLM's limits). This module builds the request
(``build_request``, with the key from ``resolve_api_key``) and prices the
answer (``cost_of``).
"""

from __future__ import annotations

import logging
from decimal import Decimal

from django.conf import settings
from django.views.decorators.debug import sensitive_variables

from battles.catalog import keys
from battles.egress.providers import ChatRequest, ChatResult, ProviderError
from battles.models import LLM, LLMVersion

logger = logging.getLogger(__name__)


@sensitive_variables()
def resolve_api_key(llm: LLM) -> str:
    """The key to send for ``llm`` (its stored key decrypted, else its variable's value).

    Never stored, logged or put in task arguments; a stored key that cannot be
    decrypted raises a non-retryable ProviderError with a reason safe to show.
    """
    try:
        return keys.api_key_of(llm)
    except keys.KeyStoreError as exc:
        raise ProviderError(exc.message, retryable=False) from None


def build_request(version: LLMVersion, messages: list[dict], *, stream: bool = True) -> ChatRequest:
    llm = version.llm
    return ChatRequest(
        base_url=llm.base_url,
        model_id=version.model_id,
        messages=messages,
        system_prompt=version.system_prompt,
        temperature=version.temperature,
        max_tokens=version.max_tokens,
        api_key=resolve_api_key(llm),
        stream=stream,
        connect_timeout=settings.ARENA_PROVIDER_CONNECT_TIMEOUT,
        read_timeout=settings.ARENA_PROVIDER_READ_TIMEOUT,
        deadline=settings.ARENA_GENERATION_DEADLINE,
    )


def cost_of(version: LLMVersion, result: ChatResult) -> Decimal | None:
    if result.tokens_in is None and result.tokens_out is None:
        return None
    llm = version.llm
    million = Decimal(1_000_000)
    return (
        Decimal(result.tokens_in or 0) * llm.price_input_per_mtok / million
        + Decimal(result.tokens_out or 0) * llm.price_output_per_mtok / million
    )
