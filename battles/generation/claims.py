"""The generation pipeline's database steps: claim, fail, store, and the reconciler's view.

Every step is a compare-and-set. A *claim* moves a generation to running with
a fresh token and one more attempt; only the holder of the current token can
fail or store it, so a retried or redelivered task never stores twice, and
nothing is stored until the provider's answer is complete. These functions
run on the worker task's thread (``battles.generation.concurrency.Database``),
in autocommit: each write is committed when it returns, so the signals sent
here (``answers_stored``, ``generation_finished``) always describe stored rows.
"""

from __future__ import annotations

import logging
import uuid
from dataclasses import dataclass
from datetime import timedelta

from django.conf import settings
from django.db import connection, models, transaction
from django.db.models import Case, F, Q, Value, When
from django.db.models.functions import Cast
from django.utils import timezone

from battles import signals
from battles.core import rendering
from battles.egress import endpoints
from battles.egress.providers import ChatRequest, ChatResult, ProviderError
from battles.generation import breaker, requests
from battles.models import Generation

logger = logging.getLogger(__name__)

# A running claim older than the deadline plus this is abandoned (its worker is gone).
STALE_GRACE_SECONDS = 30.0


@dataclass(frozen=True)
class Outcome:
    status: str  # "done", "failed", "retry", "deferred" or "skipped"
    reason: str = ""
    retry_after: float | None = None
    attempts: int = 0

    @property
    def final(self) -> bool:
        return self.status in ("done", "failed")


@dataclass(frozen=True)
class Claim:
    token: uuid.UUID
    attempts: int
    breaker_reason: str  # non-empty when the LLM's breaker is open
    failures: int  # the LLM's consecutive failures when claimed


def stale_after_seconds() -> float:
    """How long a claim may stay running before another task may take it over."""
    return settings.ARENA_GENERATION_DEADLINE + STALE_GRACE_SECONDS


def announce_final(row: Generation, status: str) -> None:
    """Tell listeners (live battles, job pages) that ``row`` reached a final state; it is committed."""
    signals.generation_finished.send(
        sender=Generation,
        generation_id=row.pk,
        pool_id=row.prompt.pool_id,
        version_id=row.llm_version_id,
        sample=row.sample,
        status=status,
    )


def claim_one(generation_id: int, takeover: bool) -> Claim | None:
    return claim_many([generation_id], takeover=takeover)[0]


def claim_many(generation_ids: list[int], *, takeover: bool) -> list[Claim | None]:
    """Claim each generation that is claimable; one token per call (it is per attempt, not per row)."""
    now = timezone.now()
    claimable = (
        Q(status=Generation.Status.PENDING)
        | Q(status=Generation.Status.RUNNING, started_at__lt=now - timedelta(seconds=stale_after_seconds()))
        | Q(status=Generation.Status.RUNNING, started_at__isnull=True)
    )
    if takeover:
        claimable |= Q(status=Generation.Status.RUNNING)
    token = uuid.uuid4()
    Generation.objects.filter(claimable, pk__in=generation_ids).update(
        status=Generation.Status.RUNNING,
        claim_token=token,
        started_at=now,
        attempts=F("attempts") + 1,
    )
    claimed = {
        pk: Claim(
            token=token,
            attempts=attempts,
            failures=failures,
            breaker_reason=breaker.describe(opened_at, reason) if opened_at else "",
        )
        for pk, attempts, opened_at, reason, failures in Generation.objects.filter(
            pk__in=generation_ids, claim_token=token
        ).values_list(
            "pk",
            "attempts",
            "llm_version__llm__breaker_opened_at",
            "llm_version__llm__breaker_reason",
            "llm_version__llm__consecutive_failures",
        )
    }
    return [claimed.get(pk) for pk in generation_ids]


def claim_and_fail(row: Generation, takeover: bool, reason: str) -> Outcome:
    claim = claim_one(row.pk, takeover)
    if claim is None:
        return Outcome("skipped", "finished or running elsewhere")
    return fail(row, claim, reason, count=False)


def request_for(row: Generation, messages: list[dict]) -> ChatRequest:
    """The request for this attempt: the base URL is checked again (DNS may have changed since it was
    saved) and the key resolved. Raises ProviderError."""
    version = row.llm_version
    endpoints.ensure_callable(version.llm.base_url)
    return requests.build_request(version, messages)


def after_error(row: Generation, claim: Claim, error: ProviderError) -> Outcome:
    if error.retryable and claim.attempts <= settings.ARENA_GENERATION_MAX_RETRIES:
        wait = error.retry_after or 0.0
        Generation.objects.filter(pk=row.pk, status=Generation.Status.RUNNING, claim_token=claim.token).update(
            status=Generation.Status.PENDING, error=error.reason, due_at=timezone.now() + timedelta(seconds=wait)
        )
        logger.info("generation %s: attempt %s failed, will retry: %s", row.pk, claim.attempts, error.reason)
        return Outcome("retry", error.reason, error.retry_after, claim.attempts)
    reason = error.reason
    if error.retryable:
        reason = f"{reason} (gave up after {claim.attempts} attempts)"
    return fail(row, claim, reason)


def fail(row: Generation, claim: Claim, reason: str, *, count: bool = True) -> Outcome:
    failed = Generation.objects.filter(pk=row.pk, status=Generation.Status.RUNNING, claim_token=claim.token).update(
        status=Generation.Status.FAILED, error=reason, finished_at=timezone.now()
    )
    if not failed:
        return Outcome("skipped", "another attempt took over")
    logger.info("generation %s failed: %s", row.pk, reason)
    if count:
        breaker.record_failure(llm_id=row.llm_version.llm_id, reason=reason)
    announce_final(row, Generation.Status.FAILED)
    return Outcome("failed", reason, attempts=claim.attempts)


STORED_FIELDS: dict[str, models.Field] = {
    "text": models.TextField(),
    "html": models.TextField(),
    "html_key": models.CharField(max_length=32),
    "latency_ms": models.PositiveIntegerField(),
    "ttft_ms": models.PositiveIntegerField(),
    "tokens_in": models.PositiveIntegerField(),
    "tokens_out": models.PositiveIntegerField(),
    "cost": models.DecimalField(max_digits=14, decimal_places=8),
}


def store_many(items: list[tuple[Generation, Claim, ChatResult]]) -> list[Outcome]:
    """Store complete answers, each only if its claim is still current: one UPDATE for all."""
    outcomes: dict[int, Outcome] = {}
    answered = []
    for row, claim, result in items:
        if result.text.strip():
            answered.append((row, claim, result))
        else:
            outcomes[row.pk] = fail(row, claim, "The provider returned an empty answer.")
    if answered:
        values = {
            row.pk: {
                "text": result.text,
                # Rendered here, once: the pages that show the answer then only read it.
                **dict(zip(("html", "html_key"), rendering.stored_html(result.text), strict=True)),
                "latency_ms": result.latency_ms,
                "ttft_ms": result.ttft_ms,
                "tokens_in": result.tokens_in,
                "tokens_out": result.tokens_out,
                "cost": requests.cost_of(row.llm_version, result),
            }
            for row, _, result in answered
        }
        current = Q()
        for row, claim, _ in answered:
            current |= Q(pk=row.pk, claim_token=claim.token)
        Generation.objects.filter(current, status=Generation.Status.RUNNING).update(
            status=Generation.Status.DONE,
            error="",
            finished_at=timezone.now(),
            **{
                # The cast matters when every value is None (a provider that reports no token counts):
                # Postgres then types the CASE as text, which an integer column refuses.
                name: Cast(
                    Case(
                        *(When(pk=pk, then=Value(v[name], output_field=output)) for pk, v in values.items()),
                        output_field=output,
                    ),
                    output_field=output,
                )
                for name, output in STORED_FIELDS.items()
            },
        )
        stored = set(Generation.objects.filter(current, status=Generation.Status.DONE).values_list("pk", flat=True))
        if stored:
            signals.answers_stored.send(sender=Generation, generation_ids=sorted(stored))
        for llm_id in {row.llm_version.llm_id for row, claim, _ in answered if claim.failures and row.pk in stored}:
            breaker.record_success(llm_id=llm_id)
        for row, claim, _ in answered:
            if row.pk in stored:
                announce_final(row, Generation.Status.DONE)
                outcomes[row.pk] = Outcome("done", attempts=claim.attempts)
            else:
                outcomes[row.pk] = Outcome("skipped", "another attempt took over")
    return [outcomes[row.pk] for row, _, _ in items]


# --- the reconciler's view ---------------------------------------------------------------------


def lost_generations() -> list[int]:
    """Generations whose task is gone: running past the deadline, or pending long past due.

    A task is lost when its worker died without the broker redelivering it,
    or when the broker itself lost its queues (a Redis restart without
    persistence). Re-queueing is safe: the claim lets only one attempt store.
    The pending ones are marked due now, so they are not re-queued again
    before the next period has passed.
    """
    now = timezone.now()
    stuck = stuck_generations(older_than_seconds=stale_after_seconds())
    with transaction.atomic():
        pending = Generation.objects.filter(
            status=Generation.Status.PENDING,
            due_at__lt=now - timedelta(seconds=settings.ARENA_GENERATION_REQUEUE_AFTER),
        ).order_by("pk")
        if connection.features.has_select_for_update_skip_locked:
            # Two reconcilers at once (a beat that queued twice while the broker was down) split the rows.
            pending = pending.select_for_update(skip_locked=True)
        overdue = list(pending.values_list("pk", flat=True))
        mark_queued(overdue)
    return stuck + overdue


def mark_queued(generation_ids: list[int]) -> None:
    """Record that a task for these pending generations was just queued."""
    if generation_ids:
        Generation.objects.filter(pk__in=generation_ids, status=Generation.Status.PENDING).update(due_at=timezone.now())


def stuck_generations(*, older_than_seconds: float) -> list[int]:
    """Generations left running past the deadline: their worker is gone."""
    cutoff = timezone.now() - timedelta(seconds=older_than_seconds)
    return list(
        Generation.objects.filter(status=Generation.Status.RUNNING, started_at__lt=cutoff).values_list("id", flat=True)
    )
