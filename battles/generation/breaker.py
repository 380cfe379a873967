"""A circuit breaker per LLM: stop calling a model that keeps failing.

Every generation that ends failed (a non-retryable error, or a transient one
that used up its retries) adds one to the LLM's consecutive failures; a
stored answer sets them back to zero. Failures inside the retry budget do not
count: a burst of 500s that retries absorb is not a broken model. When the
count reaches ``ARENA_BREAKER_THRESHOLD`` the breaker opens: from then on the
LLM's queued generations fail at once with the breaker's reason (they are not
deferred, so a job with a broken model still finishes and shows why). An admin
fixes the cause, resets the breaker (LLM admin action or the job page) and
starts the job again, which re-queues the failed generations.

The state lives on the LLM row, so it survives restarts and every worker and
page sees the same thing.
"""

from __future__ import annotations

import logging

from django.conf import settings
from django.db import transaction
from django.db.models import F
from django.utils import timezone

from arena.audit.recording import Action, record
from battles.models import LLM
from battles.signals import breaker_reset

logger = logging.getLogger(__name__)


def describe(opened_at, reason: str) -> str:
    """The message a generation fails with while the breaker is open."""
    when = timezone.localtime(opened_at).strftime("%Y-%m-%d %H:%M") if opened_at else "?"
    return f"Circuit breaker open since {when}: {reason} Reset it in the LLM admin, then start the job again."


def reason_of(llm: LLM) -> str:
    return describe(llm.breaker_opened_at, llm.breaker_reason)


def record_failure(*, llm_id: int, reason: str) -> bool:
    """Count a failed generation; returns True when this failure opened the breaker."""
    LLM.objects.filter(pk=llm_id).update(consecutive_failures=F("consecutive_failures") + 1)
    threshold = settings.ARENA_BREAKER_THRESHOLD
    if threshold <= 0:
        return False
    opened = LLM.objects.filter(pk=llm_id, breaker_opened_at__isnull=True, consecutive_failures__gte=threshold).update(
        breaker_opened_at=timezone.now(),
        breaker_reason=f"{threshold} generations failed in a row; the last one: {reason}",
    )
    if opened:
        logger.warning("circuit breaker opened for LLM %s after %s failures: %s", llm_id, threshold, reason)
    return bool(opened)


def record_success(*, llm_id: int) -> None:
    LLM.objects.filter(pk=llm_id, consecutive_failures__gt=0).update(consecutive_failures=0)


def reset(*, llm: LLM) -> bool:
    """Close the breaker; returns False when it was not open. Job pages update on commit."""
    with transaction.atomic():
        reason = LLM.objects.select_for_update().filter(pk=llm.pk).values_list("breaker_reason", flat=True).first()
        was_open = LLM.objects.filter(pk=llm.pk, breaker_opened_at__isnull=False).update(
            breaker_opened_at=None, breaker_reason="", consecutive_failures=0
        )
        LLM.objects.filter(pk=llm.pk).update(consecutive_failures=0)
        if was_open:
            record(
                Action.BREAKER_RESET,
                object_type="llm",
                object_id=llm.pk,
                object_repr=llm.name,
                before={"breaker": "open", "reason": reason},
                after={"breaker": "closed"},
            )
            logger.info("circuit breaker of LLM %s reset", llm.pk)
            transaction.on_commit(lambda: breaker_reset.send(sender=LLM, llm_id=llm.pk))
    return bool(was_open)
