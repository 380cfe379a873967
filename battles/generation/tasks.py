"""Celery tasks: take ids, call the service named after them, own retries.

Generation tasks run with late acks and reject-on-worker-lost: a task whose
worker child is killed goes back to the queue at once and its next delivery
is flagged ``redelivered``, which lets it take over the claims the dead
attempt left running (see ``battles.generation.runner``).

A task queued under the names of an earlier layout (``battles.tasks.*``) is
not run after an upgrade; its generations stay pending and the reconciler
queues them again once they are overdue.
"""

import itertools
import logging
import random
from collections.abc import Hashable, Iterable

from celery import shared_task
from django.conf import settings

from arena.publishing import publish
from battles.generation import claims, job_state, runner

logger = logging.getLogger(__name__)


def backoff_seconds(retries: int, retry_after: float | None, *, base: float = 1.0, cap: float = 60.0) -> float:
    """Exponential backoff with full jitter, never sooner than the provider asked."""
    delay = random.uniform(0, min(cap, base * (2**retries)))
    if retry_after is not None:
        delay = max(delay, retry_after)
    return delay


def batches(items: Iterable[tuple[int, Hashable]], size: int) -> list[list[int]]:
    """Ids in chunks of at most ``size``, one group per chunk, groups taking turns.

    Grouping by LLM version keeps a batch on one provider; taking turns lets
    every provider of a job work at the same time instead of one after another.
    """
    groups: dict[Hashable, list[int]] = {}
    for generation_id, group in items:
        groups.setdefault(group, []).append(generation_id)
    chunked = [[ids[i : i + size] for i in range(0, len(ids), size)] for ids in groups.values()]
    return [chunk for turn in itertools.zip_longest(*chunked) for chunk in turn if chunk]


def queue_generations(items: Iterable[tuple[int, Hashable]]) -> int:
    """Queue generations as batch tasks; ``items`` are (generation id, LLM version id or None).

    Never raises and never waits long on the broker (it runs after an admin's request commits):
    a batch the broker refused stays pending in the database and the reconciler queues it again
    once it is overdue.
    """
    queued = 0
    for chunk in batches(items, max(1, settings.ARENA_GENERATION_BATCH_SIZE)):
        if publish(generate_batch, (chunk,)):
            queued += len(chunk)
    return queued


def _publish(task, args, **options) -> bool:
    try:
        task.apply_async(args, **options)
        return True
    except Exception:
        logger.warning("could not queue %s%s", task.name, args[:1], exc_info=True)
        return False


def _redelivered(task) -> bool:
    return bool((task.request.delivery_info or {}).get("redelivered"))


@shared_task(bind=True, acks_late=True, reject_on_worker_lost=True, ignore_result=True)
def generate_batch(self, generation_ids: list[int]):
    """Run many generations concurrently; retry the transient failures one by one."""
    outcomes = runner.run_batch(generation_ids, takeover=_redelivered(self))
    for generation_id, outcome in outcomes.items():
        if outcome.status == "retry":
            _publish(
                generate_answer, (generation_id,), countdown=backoff_seconds(outcome.attempts - 1, outcome.retry_after)
            )
    deferred = [gid for gid, outcome in outcomes.items() if outcome.status == "deferred"]
    if deferred:
        claims.mark_queued(deferred)
        _publish(generate_batch, (deferred,))
    counts: dict[str, int] = {}
    for outcome in outcomes.values():
        counts[outcome.status] = counts.get(outcome.status, 0) + 1
    return counts


@shared_task(bind=True, acks_late=True, reject_on_worker_lost=True, max_retries=None, ignore_result=True)
def generate_answer(self, generation_id: int):
    """One generation (live battles and retries); the retry budget is counted in attempts."""
    outcome = runner.run_batch([generation_id], takeover=_redelivered(self))[generation_id]
    if outcome.status == "retry":
        raise self.retry(countdown=backoff_seconds(outcome.attempts - 1, outcome.retry_after))
    if outcome.status == "deferred":
        claims.mark_queued([generation_id])
        raise self.retry(countdown=1.0)
    return outcome.status


@shared_task(ignore_result=True)
def reconcile_generations():
    """Re-queue generations whose task was lost, and finish jobs with nothing left to do."""
    lost = claims.lost_generations()
    queue_generations((generation_id, None) for generation_id in lost)
    job_state.finish_idle_jobs()
    return len(lost)
