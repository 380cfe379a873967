"""Generating answers: the pieces every attempt shares, and one answer on demand.

The attempts themselves run in ``battles.runner`` (many at once, within each
LLM's limits): claim by compare-and-set with a fresh token, call, store only
with the current token. A task redelivered after its worker died takes the
claim over, so the answer is stored exactly once, and partial text from a
dead attempt is never stored because nothing is written until the provider
call has completed. This module builds the request (``build_request``, with
the key from ``resolve_api_key``), prices the answer (``cost_of``) and tells a
live battle when one of its answers is final (``_after_final``).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from decimal import Decimal

from django.conf import settings
from django.utils import timezone
from django.views.decorators.debug import sensitive_variables

from battles import keys
from battles.models import LLM, Generation, LLMVersion
from battles.providers import ChatRequest, ChatResult, ProviderError

logger = logging.getLogger(__name__)


class RetryableGenerationError(Exception):
    """The attempt failed in a way a later attempt may not; the task retries."""

    def __init__(self, reason: str, retry_after: float | None = None):
        super().__init__(reason)
        self.reason = reason
        self.retry_after = retry_after


@dataclass(frozen=True)
class GenerationOutcome:
    status: str  # "done", "failed", "skipped" (already final, running elsewhere), "deferred" (no slot yet)
    reason: str = ""


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


def run_generation(*, generation_id: int) -> GenerationOutcome:
    """Generate and store one answer now, in this thread, on the workers' path (``battles.runner``).

    Raises ``RetryableGenerationError`` for a transient failure within the
    retry budget; the generation is then pending again.
    """
    from battles import runner

    outcome = runner.run_batch([generation_id])[generation_id]
    if outcome.status == "retry":
        raise RetryableGenerationError(outcome.reason, outcome.retry_after)
    return GenerationOutcome(outcome.status, outcome.reason)


def _after_final(generation: Generation) -> None:
    """A live battle waits for this answer (or for news of its failure)."""
    if generation.prompt.pool_id is None:
        from battles import live

        live.generation_finished(generation.pk)


def stuck_generations(*, older_than_seconds: float) -> list[int]:
    """Generations left running past the deadline: their worker is gone."""
    cutoff = timezone.now() - timezone.timedelta(seconds=older_than_seconds)
    return list(
        Generation.objects.filter(status=Generation.Status.RUNNING, started_at__lt=cutoff).values_list(
            "id", flat=True
        )
    )
