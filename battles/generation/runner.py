"""Running generations: many at once inside one worker task, within each LLM's limits.

A worker task hands ``run_batch`` a list of generation ids; each one runs as a
coroutine on one event loop, and the HTTP calls overlap (httpx.AsyncClient),
so one prefork child keeps dozens of provider calls in flight. Database work
runs on the task's own thread (``async_to_sync`` serves ``sync_to_async``
calls there), so the ORM is used exactly as in any other task.

Each generation goes: lease → claim → call → release → store.

* The *lease* is a slot in the LLM's shared limits (``battles.generation.limits``), taken
  before the claim so that a generation waiting for a slot stays pending (a
  generation marked running is really in flight). A slot expires on its own
  shortly after the call deadline, so a killed worker cannot leak it.
* The *claim* is a compare-and-set to running with a fresh token and one more
  attempt. It succeeds on a pending generation, on a running one whose claim
  is older than the deadline plus a grace period (its worker is gone), and on
  any running one when the task was redelivered after its worker died
  (``takeover``): that is how a generation interrupted by SIGKILL finishes.
  A task that finds the generation running elsewhere leaves it alone.
* Only the holder of the current token can store, and nothing is stored until
  the provider's answer is complete, so an answer is stored once and never
  partially.

Outcomes per generation: done, failed, retry (transient error within the
retry budget: the generation is pending again and the task schedules a retry
honouring Retry-After), deferred (no slot before the batch's wait ran out: the
task re-queues it; nothing was changed) and skipped (already final, running
elsewhere, or an unexpected error that is left to the reconciler).

Circuit breaker (``battles.generation.breaker``): while an LLM's breaker is open its
generations fail at once with the breaker's reason instead of calling the
provider; an admin resets the breaker and starts the job again. A monthly
spend cap (``battles.catalog.spend``) that is reached stops calls the same way.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import time
from dataclasses import dataclass

from asgiref.sync import async_to_sync
from django.conf import settings

from arena import metrics
from battles.catalog import spend
from battles.egress.providers import ChatResult, ProviderError, error_kind, get_provider
from battles.generation import breaker, claims
from battles.generation.claims import Outcome
from battles.generation.concurrency import Clients, Coalescer, Database
from battles.generation.limits import Limiter, LimiterUnavailable, Limits, WaitExpired, estimate_tokens, limiter_for
from battles.models import LLM, Generation

logger = logging.getLogger(__name__)

# A provider slot outlives the call deadline by this much, then frees itself.
LEASE_GRACE_SECONDS = 15.0


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


def limits_of(llm: LLM) -> Limits:
    return Limits(
        max_concurrency=llm.max_concurrency,
        requests_per_minute=llm.requests_per_minute,
        tokens_per_minute=llm.tokens_per_minute,
    )


def run_batch(generation_ids: list[int], *, takeover: bool = False) -> dict[int, Outcome]:
    """Run the given generations concurrently; returns an outcome per id.

    Call from synchronous code (a task, a command, a test). ``takeover`` lets
    this run claim generations that are marked running (use it for a task
    redelivered after its worker died).
    """
    ids = list(dict.fromkeys(int(i) for i in generation_ids))
    if not ids:
        return {}
    return async_to_sync(_run_batch)(ids, takeover)


async def _run_batch(ids: list[int], takeover: bool) -> dict[int, Outcome]:
    database = Database()
    rows = await database(_load, ids)
    outcomes = {gid: Outcome("skipped", "already finished") for gid in ids if gid not in rows}
    if not rows:
        return outcomes
    limiter = limiter_for(settings.REDIS_URL)
    context = _Context(
        db=database,
        limiter=limiter,
        takeover=takeover,
        until=time.monotonic() + settings.ARENA_GENERATION_BATCH_WAIT,
        claim=Coalescer(database, functools.partial(claims.claim_many, takeover=takeover)),
        store=Coalescer(database, claims.store_many),
        clients=Clients(),
        spend=SpendGuard(database),
    )
    try:
        results = await asyncio.gather(*(_generate(row, context) for row in rows.values()))
    finally:
        await context.clients.aclose()
        await limiter.close()
    outcomes.update(zip(rows, results))
    return outcomes


@dataclass
class _Context:
    db: Database
    limiter: Limiter
    takeover: bool
    until: float
    claim: Coalescer
    store: Coalescer
    clients: Clients
    spend: SpendGuard


class SpendGuard:
    """Why calls to a capped LLM are stopped, or "" (one indexed query per check, only for capped LLMs)."""

    def __init__(self, db: Database):
        self.db = db

    async def reason(self, llm: LLM) -> str:
        if llm.monthly_spend_cap is None:
            return ""  # no cap when the batch was loaded: one set later applies from the next batch
        return await self.db(spend.cap_reason, llm.pk)


def _load(ids: list[int]) -> dict[int, Generation]:
    rows = Generation.objects.filter(
        pk__in=ids, status__in=[Generation.Status.PENDING, Generation.Status.RUNNING]
    ).select_related("prompt", "llm_version__llm")
    by_id = {row.pk: row for row in rows}
    return {gid: by_id[gid] for gid in ids if gid in by_id}


async def _generate(row: Generation, context: _Context) -> Outcome:
    try:
        outcome = await _attempt(row, context)
    except Exception:
        # One broken generation must not take its batch down. It stays pending
        # or running and the reconciler queues it again after a while (not at
        # once: an error that repeats must not spin).
        logger.exception("generation %s: unexpected error", row.pk)
        return Outcome("skipped", "unexpected error; left to the reconciler")
    return outcome


async def _attempt(row: Generation, context: _Context) -> Outcome:
    db = context.db
    version = row.llm_version
    llm = version.llm
    if llm.breaker_opened_at or not llm.base_url:
        # Fail fast, without waiting for a slot the call would never use.
        reason = breaker.reason_of(llm) if llm.breaker_opened_at else "This LLM has no base URL configured."
        return await db(claims.claim_and_fail, row, context.takeover, reason)
    capped = await context.spend.reason(llm)
    if capped:
        return await db(claims.claim_and_fail, row, context.takeover, capped)
    messages = list(row.context or []) + [{"role": "user", "content": row.prompt.text}]
    try:
        request = await db(claims.request_for, row, messages)
    except ProviderError as error:
        # A refused or unresolvable base URL, or a key that cannot be read: an attempt without a call.
        claim = await db(claims.claim_one, row.pk, context.takeover)
        if claim is None:
            return Outcome("skipped", "finished or running elsewhere")
        return await db(claims.after_error, row, claim, error)
    tokens = estimate_tokens(
        version.system_prompt, *(m.get("content", "") for m in messages), max_tokens=version.max_tokens
    )
    try:
        lease = await context.limiter.acquire(
            str(llm.code),
            limits_of(llm),
            tokens=tokens,
            lease_seconds=settings.ARENA_GENERATION_DEADLINE + LEASE_GRACE_SECONDS,
            until=context.until,
        )
    except (WaitExpired, LimiterUnavailable):
        return Outcome("deferred", "no provider slot yet")
    try:
        claim = await context.claim(row.pk)
        if claim is None:
            return Outcome("skipped", "finished or running elsewhere")
        if claim.breaker_reason:
            return await db(claims.fail, row, claim, claim.breaker_reason, count=False)
        capped = await context.spend.reason(llm)  # the wait for a slot may have been long
        if capped:
            return await db(claims.fail, row, claim, capped, count=False)
        started = time.monotonic()
        try:
            async with context.clients.client() as client:
                result = await get_provider(llm.provider).achat(client, request)
        except ProviderError as error:
            await asyncio.to_thread(_record_call, llm, started, error_kind(error))
            await context.limiter.release(lease)
            return await db(claims.after_error, row, claim, error)
        except Exception as exc:  # a provider must only raise ProviderError: this is a bug, not a retry
            logger.exception("generation %s: the provider client failed", row.pk)
            await asyncio.to_thread(_record_call, llm, started, "internal")
            await context.limiter.release(lease)
            reason = f"internal error while calling the provider ({type(exc).__name__}); see the worker log"
            return await db(claims.fail, row, claim, reason, count=False)
        await asyncio.to_thread(_record_call, llm, started, None)
        await context.limiter.release(lease, tokens_used=_tokens_used(result))
        return await context.store((row, claim, result))
    finally:
        await context.limiter.release(lease)


def _record_call(llm: LLM, started: float, error: str | None) -> None:
    """Provider latency and errors for /metrics (shared by every worker: see arena.metrics)."""
    outcome = "error" if error else "ok"
    metrics.record(metrics.PROVIDER_SECONDS, llm.provider, llm.name, outcome, amount=time.monotonic() - started)
    if error:
        metrics.record(metrics.PROVIDER_ERRORS, llm.provider, llm.name, error)


def _tokens_used(result: ChatResult) -> int | None:
    if result.tokens_in is None and result.tokens_out is None:
        return None
    return (result.tokens_in or 0) + (result.tokens_out or 0)


def run_generation(*, generation_id: int) -> GenerationOutcome:
    """Generate and store one answer now, in this thread, on the workers' path.

    Raises ``RetryableGenerationError`` for a transient failure within the
    retry budget; the generation is then pending again.
    """
    outcome = run_batch([generation_id])[generation_id]
    if outcome.status == "retry":
        raise RetryableGenerationError(outcome.reason, outcome.retry_after)
    return GenerationOutcome(outcome.status, outcome.reason)
