"""Clients for the model providers Arena can call.

One module per wire format, an explicit registry, one base class (see
``battles.egress.providers.base`` for the contract). Usage::

    provider = get_provider(llm.provider_kind)        # "openai" or "anthropic"
    result = provider.chat(client, ChatRequest(...))   # or: await provider.achat(async_client, ...)

No Django import anywhere in this package.
"""

from battles.egress.providers.anthropic import AnthropicProvider
from battles.egress.providers.base import Provider
from battles.egress.providers.errors import ProviderError, error_kind, parse_retry_after
from battles.egress.providers.openai_compatible import OpenAICompatibleProvider
from battles.egress.providers.types import ChatRequest, ChatResult

__all__ = [
    "PROVIDERS",
    "ChatRequest",
    "ChatResult",
    "Provider",
    "ProviderError",
    "error_kind",
    "get_provider",
    "parse_retry_after",
]

# Providers are stateless and thread-safe: one shared instance per kind.
PROVIDERS: dict[str, Provider] = {
    OpenAICompatibleProvider.kind: OpenAICompatibleProvider(),
    AnthropicProvider.kind: AnthropicProvider(),
}


def get_provider(kind: str) -> Provider:
    """The provider registered under ``kind``; ValueError names the known kinds."""
    try:
        return PROVIDERS[kind]
    except KeyError:
        known = ", ".join(sorted(PROVIDERS))
        raise ValueError(f"unknown provider kind {kind!r} (known: {known})") from None
