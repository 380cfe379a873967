"""Generating one answer: claim, call the provider, store by compare-and-set.

A claim gives the attempt a fresh token; only the holder of the current
token can store a result. A task redelivered after its worker died takes the
claim over, so the answer is stored exactly once, and partial text from a
dead attempt is never stored because nothing is written until the provider
call has completed.
"""

from __future__ import annotations

import logging
import os
import uuid
from dataclasses import dataclass
from decimal import Decimal

import httpx
from django.conf import settings
from django.db.models import F
from django.utils import timezone
from django.views.decorators.debug import sensitive_variables

from battles import endpoints, keys
from battles.models import LLM, Generation, LLMVersion
from battles.providers import ChatRequest, ChatResult, ProviderError, get_provider

logger = logging.getLogger(__name__)


class RetryableGenerationError(Exception):
    """The attempt failed in a way a later attempt may not; the task retries."""

    def __init__(self, reason: str, retry_after: float | None = None):
        super().__init__(reason)
        self.reason = reason
        self.retry_after = retry_after


@dataclass(frozen=True)
class GenerationOutcome:
    status: str  # "done", "failed", "skipped" (already final or claimed elsewhere)
    reason: str = ""


def claim(generation_id: int) -> uuid.UUID | None:
    """Take the generation for this attempt; None when it is already final."""
    token = uuid.uuid4()
    claimed = Generation.objects.filter(
        pk=generation_id, status__in=[Generation.Status.PENDING, Generation.Status.RUNNING]
    ).update(
        status=Generation.Status.RUNNING, claim_token=token, started_at=timezone.now(),
        attempts=F("attempts") + 1,
    )
    return token if claimed else None


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


def run_generation(*, generation_id: int, final_attempt: bool = False,
                   client: httpx.Client | None = None) -> GenerationOutcome:
    """Generate and store one answer.

    Raises ``RetryableGenerationError`` for transient provider failures unless
    ``final_attempt``, in which case the generation is marked failed.
    """
    token = claim(generation_id)
    if token is None:
        return GenerationOutcome("skipped", "already finished")
    generation = Generation.objects.select_related("prompt", "llm_version__llm").get(pk=generation_id)
    version = generation.llm_version
    if not version.llm.base_url:
        return _fail(generation_id, token, "This LLM has no base URL configured.")
    messages = list(generation.context or []) + [{"role": "user", "content": generation.prompt.text}]
    provider = get_provider(version.llm.provider)
    try:
        # Checked at call time: the host may resolve elsewhere than when the URL was saved.
        endpoints.ensure_callable(version.llm.base_url)
        request = build_request(version, messages)
        if client is None:
            with httpx.Client(follow_redirects=False) as own_client:
                result = provider.chat(own_client, request)
        else:
            result = provider.chat(client, request)
    except ProviderError as error:
        if error.retryable and not final_attempt:
            _release(generation_id, token, error.reason)
            raise RetryableGenerationError(error.reason, error.retry_after) from None
        return _fail(generation_id, token, error.reason)
    if not result.text.strip():
        return _fail(generation_id, token, "The provider returned an empty answer.")
    stored = Generation.objects.filter(
        pk=generation_id, status=Generation.Status.RUNNING, claim_token=token
    ).update(
        status=Generation.Status.DONE, text=result.text, error="",
        latency_ms=result.latency_ms, ttft_ms=result.ttft_ms,
        tokens_in=result.tokens_in, tokens_out=result.tokens_out,
        cost=cost_of(version, result), finished_at=timezone.now(),
    )
    if not stored:
        return GenerationOutcome("skipped", "another attempt took over")
    _after_final(generation)
    return GenerationOutcome("done")


def _after_final(generation: Generation) -> None:
    """A live battle waits for this answer (or for news of its failure)."""
    if generation.prompt.pool_id is None:
        from battles import live

        live.generation_finished(generation.pk)


def _release(generation_id: int, token: uuid.UUID, reason: str) -> None:
    """Hand the generation back to pending so the retry (or reconciler) can claim it."""
    Generation.objects.filter(pk=generation_id, status=Generation.Status.RUNNING, claim_token=token).update(
        status=Generation.Status.PENDING, error=reason
    )


def _fail(generation_id: int, token: uuid.UUID, reason: str) -> GenerationOutcome:
    failed = Generation.objects.filter(
        pk=generation_id, status=Generation.Status.RUNNING, claim_token=token
    ).update(status=Generation.Status.FAILED, error=reason, finished_at=timezone.now())
    logger.info("generation %s failed: %s", generation_id, reason)
    if failed:
        _after_final(Generation.objects.select_related("prompt").get(pk=generation_id))
    return GenerationOutcome("failed", reason)


def mark_failed(*, generation_id: int, reason: str) -> None:
    """Give up on a generation that is not final (retries exhausted elsewhere)."""
    if Generation.objects.filter(
        pk=generation_id, status__in=[Generation.Status.PENDING, Generation.Status.RUNNING]
    ).update(status=Generation.Status.FAILED, error=reason, finished_at=timezone.now()):
        _after_final(Generation.objects.select_related("prompt").get(pk=generation_id))


def stuck_generations(*, older_than_seconds: float) -> list[int]:
    """Generations left running past the deadline: their worker is gone."""
    cutoff = timezone.now() - timezone.timedelta(seconds=older_than_seconds)
    return list(
        Generation.objects.filter(status=Generation.Status.RUNNING, started_at__lt=cutoff).values_list(
            "id", flat=True
        )
    )
