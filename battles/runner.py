"""Running generations: many at once inside one worker task, within each LLM's limits.

A worker task hands ``run_batch`` a list of generation ids; each one runs as a
coroutine on one event loop, and the HTTP calls overlap (httpx.AsyncClient),
so one prefork child keeps dozens of provider calls in flight. Database work
runs on the task's own thread (``async_to_sync`` serves ``sync_to_async``
calls there), so the ORM is used exactly as in any other task.

Each generation goes: lease → claim → call → release → store.

* The *lease* is a slot in the LLM's shared limits (``battles.limits``), taken
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

Circuit breaker (``battles.breaker``): while an LLM's breaker is open its
generations fail at once with the breaker's reason instead of calling the
provider; an admin resets the breaker and starts the job again.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
import time
import uuid
from dataclasses import dataclass
from datetime import timedelta

import httpx
from asgiref.sync import async_to_sync, sync_to_async
from django.conf import settings
from django.db import connection, models, transaction
from django.db.models import Case, F, Q, Value, When
from django.db.models.functions import Cast
from django.utils import timezone

from battles import breaker, endpoints, generation, jobs, signals
from battles.limits import Limiter, LimiterUnavailable, Limits, WaitExpired, estimate_tokens, limiter_for
from battles.models import LLM, Generation
from battles.providers import ChatResult, ProviderError, get_provider

logger = logging.getLogger(__name__)

# A running claim older than the deadline plus this is abandoned (its worker is gone).
STALE_GRACE_SECONDS = 30.0
# A provider slot outlives the call deadline by this much, then frees itself.
LEASE_GRACE_SECONDS = 15.0


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
        db=database, limiter=limiter, takeover=takeover,
        until=time.monotonic() + settings.ARENA_GENERATION_BATCH_WAIT,
        claim=Coalescer(database, functools.partial(_claim_many, takeover=takeover)),
        store=Coalescer(database, _store_many), clients=Clients(),
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
    if outcome.final and row.prompt.pool_id is not None:
        await context.db(jobs.generation_finished, pool_id=row.prompt.pool_id, version_id=row.llm_version_id,
                         sample=row.sample)
    return outcome


async def _attempt(row: Generation, context: _Context) -> Outcome:
    db = context.db
    version = row.llm_version
    llm = version.llm
    if llm.breaker_opened_at or not llm.base_url:
        # Fail fast, without waiting for a slot the call would never use.
        reason = breaker.reason_of(llm) if llm.breaker_opened_at else "This LLM has no base URL configured."
        return await db(_claim_and_fail, row, context.takeover, reason)
    messages = list(row.context or []) + [{"role": "user", "content": row.prompt.text}]
    try:
        request = await db(_request_for, row, messages)
    except ProviderError as error:
        # A refused or unresolvable base URL, or a key that cannot be read: an attempt without a call.
        claim = await db(_claim, row.pk, context.takeover)
        if claim is None:
            return Outcome("skipped", "finished or running elsewhere")
        return await db(_after_error, row, claim, error)
    tokens = estimate_tokens(version.system_prompt, *(m.get("content", "") for m in messages),
                             max_tokens=version.max_tokens)
    try:
        lease = await context.limiter.acquire(
            str(llm.code), limits_of(llm), tokens=tokens,
            lease_seconds=settings.ARENA_GENERATION_DEADLINE + LEASE_GRACE_SECONDS, until=context.until,
        )
    except (WaitExpired, LimiterUnavailable):
        return Outcome("deferred", "no provider slot yet")
    try:
        claim = await context.claim(row.pk)
        if claim is None:
            return Outcome("skipped", "finished or running elsewhere")
        if claim.breaker_reason:
            return await db(_fail, row, claim, claim.breaker_reason, count=False)
        try:
            async with context.clients.client() as client:
                result = await get_provider(llm.provider).achat(client, request)
        except ProviderError as error:
            await context.limiter.release(lease)
            return await db(_after_error, row, claim, error)
        except Exception as exc:  # a provider must only raise ProviderError: this is a bug, not a retry
            logger.exception("generation %s: the provider client failed", row.pk)
            await context.limiter.release(lease)
            reason = f"internal error while calling the provider ({type(exc).__name__}); see the worker log"
            return await db(_fail, row, claim, reason, count=False)
        await context.limiter.release(lease, tokens_used=_tokens_used(result))
        return await context.store((row, claim, result))
    finally:
        await context.limiter.release(lease)


def _tokens_used(result: ChatResult) -> int | None:
    if result.tokens_in is None and result.tokens_out is None:
        return None
    return (result.tokens_in or 0) + (result.tokens_out or 0)


# --- database steps (run on the task's thread) ---------------------------------------------------


def _claim(generation_id: int, takeover: bool) -> Claim | None:
    return _claim_many([generation_id], takeover=takeover)[0]


def _claim_many(generation_ids: list[int], *, takeover: bool) -> list[Claim | None]:
    """Claim each generation that is claimable; one token per call (it is per attempt, not per row)."""
    now = timezone.now()
    claimable = Q(status=Generation.Status.PENDING) | Q(
        status=Generation.Status.RUNNING, started_at__lt=now - timedelta(seconds=stale_after_seconds())
    ) | Q(status=Generation.Status.RUNNING, started_at__isnull=True)
    if takeover:
        claimable |= Q(status=Generation.Status.RUNNING)
    token = uuid.uuid4()
    Generation.objects.filter(claimable, pk__in=generation_ids).update(
        status=Generation.Status.RUNNING, claim_token=token, started_at=now, attempts=F("attempts") + 1,
    )
    claimed = {
        pk: Claim(token=token, attempts=attempts, failures=failures,
                  breaker_reason=breaker.describe(opened_at, reason) if opened_at else "")
        for pk, attempts, opened_at, reason, failures in Generation.objects.filter(
            pk__in=generation_ids, claim_token=token
        ).values_list(
            "pk", "attempts", "llm_version__llm__breaker_opened_at", "llm_version__llm__breaker_reason",
            "llm_version__llm__consecutive_failures",
        )
    }
    return [claimed.get(pk) for pk in generation_ids]


def _claim_and_fail(row: Generation, takeover: bool, reason: str) -> Outcome:
    claim = _claim(row.pk, takeover)
    if claim is None:
        return Outcome("skipped", "finished or running elsewhere")
    return _fail(row, claim, reason, count=False)


def _request_for(row: Generation, messages: list[dict]):
    """The request for this attempt: the base URL is checked again (DNS may have changed since it was
    saved) and the key resolved. Raises ProviderError."""
    version = row.llm_version
    endpoints.ensure_callable(version.llm.base_url)
    return generation.build_request(version, messages)


def _after_error(row: Generation, claim: Claim, error: ProviderError) -> Outcome:
    if error.retryable and claim.attempts <= settings.ARENA_GENERATION_MAX_RETRIES:
        wait = error.retry_after or 0.0
        Generation.objects.filter(
            pk=row.pk, status=Generation.Status.RUNNING, claim_token=claim.token
        ).update(status=Generation.Status.PENDING, error=error.reason,
                 due_at=timezone.now() + timedelta(seconds=wait))
        logger.info("generation %s: attempt %s failed, will retry: %s", row.pk, claim.attempts, error.reason)
        return Outcome("retry", error.reason, error.retry_after, claim.attempts)
    reason = error.reason
    if error.retryable:
        reason = f"{reason} (gave up after {claim.attempts} attempts)"
    return _fail(row, claim, reason)


def _fail(row: Generation, claim: Claim, reason: str, *, count: bool = True) -> Outcome:
    failed = Generation.objects.filter(
        pk=row.pk, status=Generation.Status.RUNNING, claim_token=claim.token
    ).update(status=Generation.Status.FAILED, error=reason, finished_at=timezone.now())
    if not failed:
        return Outcome("skipped", "another attempt took over")
    logger.info("generation %s failed: %s", row.pk, reason)
    if count:
        breaker.record_failure(llm_id=row.llm_version.llm_id, reason=reason)
    generation._after_final(row)
    return Outcome("failed", reason, attempts=claim.attempts)


_STORED_FIELDS = {
    "text": models.TextField(),
    "latency_ms": models.PositiveIntegerField(),
    "ttft_ms": models.PositiveIntegerField(),
    "tokens_in": models.PositiveIntegerField(),
    "tokens_out": models.PositiveIntegerField(),
    "cost": models.DecimalField(max_digits=14, decimal_places=8),
}


def _store_many(items: list[tuple[Generation, Claim, ChatResult]]) -> list[Outcome]:
    """Store complete answers, each only if its claim is still current: one UPDATE for all."""
    outcomes: dict[int, Outcome] = {}
    answered = []
    for row, claim, result in items:
        if result.text.strip():
            answered.append((row, claim, result))
        else:
            outcomes[row.pk] = _fail(row, claim, "The provider returned an empty answer.")
    if answered:
        values = {
            row.pk: {
                "text": result.text, "latency_ms": result.latency_ms, "ttft_ms": result.ttft_ms,
                "tokens_in": result.tokens_in, "tokens_out": result.tokens_out,
                "cost": generation.cost_of(row.llm_version, result),
            }
            for row, _, result in answered
        }
        current = Q()
        for row, claim, _ in answered:
            current |= Q(pk=row.pk, claim_token=claim.token)
        Generation.objects.filter(current, status=Generation.Status.RUNNING).update(
            status=Generation.Status.DONE, error="", finished_at=timezone.now(),
            **{
                # The cast matters when every value is None (a provider that reports no token counts):
                # Postgres then types the CASE as text, which an integer column refuses.
                name: Cast(Case(*(When(pk=pk, then=Value(v[name], output_field=output))
                                  for pk, v in values.items()), output_field=output), output_field=output)
                for name, output in _STORED_FIELDS.items()
            },
        )
        stored = set(Generation.objects.filter(current, status=Generation.Status.DONE).values_list("pk", flat=True))
        if stored:
            signals.answers_stored.send(sender=Generation, generation_ids=sorted(stored))
        for llm_id in {row.llm_version.llm_id for row, claim, _ in answered if claim.failures and row.pk in stored}:
            breaker.record_success(llm_id=llm_id)
        for row, claim, _ in answered:
            if row.pk in stored:
                generation._after_final(row)
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
    stuck = generation.stuck_generations(older_than_seconds=stale_after_seconds())
    with transaction.atomic():
        overdue = Generation.objects.filter(
            status=Generation.Status.PENDING,
            due_at__lt=now - timedelta(seconds=settings.ARENA_GENERATION_REQUEUE_AFTER),
        ).order_by("pk")
        if connection.features.has_select_for_update_skip_locked:
            # Two reconcilers at once (a beat that queued twice while the broker was down) split the rows.
            overdue = overdue.select_for_update(skip_locked=True)
        overdue = list(overdue.values_list("pk", flat=True))
        mark_queued(overdue)
    return stuck + overdue


def mark_queued(generation_ids: list[int]) -> None:
    """Record that a task for these pending generations was just queued."""
    if generation_ids:
        Generation.objects.filter(pk__in=generation_ids, status=Generation.Status.PENDING).update(
            due_at=timezone.now()
        )


# --- plumbing: the database thread and the HTTP clients ---------------------------------------


class Database:
    """Runs ORM calls on the thread that called ``run_batch``, many per thread hop.

    Every hop between the event loop and that thread costs a GIL handoff; with
    dozens of generations finishing at once, one hop per call would queue them
    up behind each other. Calls made while a hop is under way go together in
    the next one, each with its own result or exception, in order.
    """

    def __init__(self) -> None:
        self._queue: list[tuple] = []
        self._flushing = False

    async def __call__(self, function, *args, **kwargs):
        future = asyncio.get_running_loop().create_future()
        self._queue.append((function, args, kwargs, future))
        if not self._flushing:
            self._flushing = True
            asyncio.ensure_future(self._flush())
        return await future

    async def _flush(self) -> None:
        try:
            while self._queue:
                calls, self._queue = self._queue, []
                try:
                    results = await sync_to_async(_run_calls)(calls)
                except BaseException as exc:  # noqa: BLE001  (the hop itself failed: fail every call)
                    results = [(False, exc)] * len(calls)
                for (_, _, _, future), (ok, value) in zip(calls, results):
                    if future.done():
                        continue
                    if ok:
                        future.set_result(value)
                    else:
                        future.set_exception(value)
        finally:
            self._flushing = False


def _run_calls(calls: list[tuple]) -> list[tuple[bool, object]]:
    results = []
    for function, args, kwargs, _ in calls:
        try:
            results.append((True, function(*args, **kwargs)))
        except Exception as exc:  # noqa: BLE001  (handed to the caller's await)
            results.append((False, exc))
    return results


class Coalescer:
    """Merges calls made while an earlier one is in flight into one call of ``many``.

    ``many`` takes a list of items and returns a list of results in the same
    order; it runs on the database thread. Claiming or storing fifty
    generations then costs two queries instead of a hundred.
    """

    def __init__(self, db: Database, many) -> None:
        self.db = db
        self.many = many
        self._pending: list[tuple[object, asyncio.Future]] = []
        self._flushing = False

    async def __call__(self, item):
        future = asyncio.get_running_loop().create_future()
        self._pending.append((item, future))
        if not self._flushing:
            self._flushing = True
            asyncio.ensure_future(self._flush())
        return await future

    async def _flush(self) -> None:
        try:
            while self._pending:
                batch, self._pending = self._pending, []
                try:
                    results = await self.db(self.many, [item for item, _ in batch])
                except Exception as exc:  # noqa: BLE001  (each caller sees the failure)
                    results = None
                    for _, future in batch:
                        if not future.done():
                            future.set_exception(exc)
                if results is not None:
                    for (_, future), result in zip(batch, results):
                        if not future.done():
                            future.set_result(result)
        finally:
            self._flushing = False


class Clients:
    """HTTP clients for the calls of one batch: a few small pools instead of one big one.

    httpcore scans every connection of a pool each time a request starts or
    ends, so one pool with dozens of connections costs more CPU than the calls
    themselves; pools of a few connections keep reuse and drop that cost. All
    clients share one TLS context (building one is the expensive part).
    """

    PER_CLIENT = 8

    def __init__(self) -> None:
        self._ssl = httpx.create_ssl_context()
        self._clients: list[list] = []  # [client, calls in progress]

    @contextlib.asynccontextmanager
    async def client(self):
        entry = min((e for e in self._clients if e[1] < self.PER_CLIENT), key=lambda e: e[1], default=None)
        if entry is None:
            limits = httpx.Limits(max_connections=self.PER_CLIENT, max_keepalive_connections=self.PER_CLIENT)
            entry = [endpoints.async_http_client(verify=self._ssl, limits=limits), 0]
            self._clients.append(entry)
        entry[1] += 1
        try:
            yield entry[0]
        finally:
            entry[1] -= 1

    async def aclose(self) -> None:
        for client, _ in self._clients:
            await client.aclose()
