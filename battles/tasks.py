"""Celery tasks: take an id, call the service named after them, own retries."""

import random

from celery import shared_task
from django.conf import settings

from battles import generation


def backoff_seconds(retries: int, retry_after: float | None, *, base: float = 1.0, cap: float = 60.0) -> float:
    """Exponential backoff with full jitter, never sooner than the provider asked."""
    delay = random.uniform(0, min(cap, base * (2 ** retries)))
    if retry_after is not None:
        delay = max(delay, retry_after)
    return delay


@shared_task(bind=True, acks_late=True, reject_on_worker_lost=True, max_retries=None, ignore_result=True)
def generate_answer(self, generation_id: int):
    max_retries = settings.ARENA_GENERATION_MAX_RETRIES
    try:
        outcome = generation.run_generation(
            generation_id=generation_id, final_attempt=self.request.retries >= max_retries
        )
    except generation.RetryableGenerationError as error:
        raise self.retry(countdown=backoff_seconds(self.request.retries, error.retry_after)) from None
    return outcome.status


@shared_task(ignore_result=True)
def reconcile_generations():
    """Re-queue generations stuck in running past the deadline (their worker died)."""
    stuck = generation.stuck_generations(older_than_seconds=settings.ARENA_GENERATION_DEADLINE * 2)
    for generation_id in stuck:
        generate_answer.delay(generation_id)
    return len(stuck)
