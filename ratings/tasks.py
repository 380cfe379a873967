"""Celery tasks of ratings, and the debounce that queues one recomputation per burst of votes.

Votes queue a recomputation from the request; that path may lose it (Redis hung or down:
``schedule_recompute`` gives up after a short timeout rather than hold the voter). The beat task
``catch_up_boards`` finds boards fitted on an older vote set and queues the recomputation then.
"""

from celery import shared_task
from celery.utils.time import get_exponential_backoff_interval
from django.conf import settings
from django.core.cache import cache
from django.db import InterfaceError, OperationalError

from arena import metrics
from arena.publishing import publish
from ratings import boards, quality, services
from ratings.filters import BoardFilter
from ratings.models import RatingSnapshot
from ratings.scopes import DEFAULT_SCOPE, STYLE_SCOPE

RECOMPUTE_PENDING_KEY = "ratings:recompute-pending"
# Lost connections and a database going away: another attempt later can succeed.
TRANSIENT_ERRORS = (OperationalError, InterfaceError)


def schedule_recompute(*, delay: float | None = None) -> bool:
    """Queue one recomputation for a burst of votes; True if this call queued it.

    ``delay``: seconds before it runs (default ``ARENA_RATINGS_DEBOUNCE_SECONDS``). Never
    waits long on Redis: if the debounce key or the broker is unreachable nothing is queued,
    and ``catch_up_boards`` queues it later.
    """
    delay = settings.ARENA_RATINGS_DEBOUNCE_SECONDS if delay is None else delay
    # The key expires on its own, so a lost task cannot block recomputation for long.
    if not cache.add(RECOMPUTE_PENDING_KEY, 1, timeout=max(60, int(delay * 10))):
        return False
    if publish(recompute_leaderboard, countdown=delay):
        return True
    # Nothing was queued: let the next vote (or the periodic check) try again.
    cache.delete(RECOMPUTE_PENDING_KEY)
    return False


def recompute_now() -> RatingSnapshot:
    """The default board, fitted now; votes arriving from here on queue the next recomputation."""
    cache.delete(RECOMPUTE_PENDING_KEY)
    return services.compute_snapshot()


def retry_delay(retries: int) -> int:
    """Seconds before retry number ``retries`` + 1: exponential with full jitter, capped."""
    return get_exponential_backoff_interval(
        factor=2, retries=retries, maximum=settings.ARENA_RECOMPUTE_RETRY_MAX_SECONDS, full_jitter=True
    )


def lagging_scopes() -> list[str]:
    """The default boards (raw and style-controlled) whose newest snapshot is not of the current votes.

    A board with no snapshot lags only when there are votes to fit. The raw board is compared by
    vote count first (one COUNT), then by its vote-set hash (one GROUP BY, as a fit reads).
    """
    lagging = []
    votes = services.counted_votes()
    raw = services.latest_snapshot(DEFAULT_SCOPE)
    if raw is None:
        if votes.exists():
            lagging.append(DEFAULT_SCOPE)
    elif raw.vote_count != votes.count() or raw.vote_hash != services.vote_set_hash(services.aggregated_counts(votes)):
        lagging.append(DEFAULT_SCOPE)
    style = services.latest_snapshot(STYLE_SCOPE)
    if style is None:
        if votes.filter(battle__isnull=False).exists():
            lagging.append(STYLE_SCOPE)
    elif style.vote_hash != boards.style_vote_hash(BoardFilter().votes()):
        lagging.append(STYLE_SCOPE)
    return lagging


def prune_default_boards() -> None:
    for scope in (DEFAULT_SCOPE, STYLE_SCOPE):
        services.prune_snapshots(scope, keep=settings.ARENA_SNAPSHOTS_KEPT)


@shared_task(bind=True, ignore_result=True, acks_late=True)
def recompute_leaderboard(self):
    """Fit the default board and its style-controlled twin; retried on database and connection errors."""
    try:
        with metrics.timed(metrics.RECOMPUTE_SECONDS):
            snapshot = recompute_now()
            # The style-controlled default board too, so that no visitor pays its refit (tens of
            # seconds at a million votes); filtered boards are still fitted when first asked for.
            boards.style_snapshot(BoardFilter())
    except TRANSIENT_ERRORS as exc:
        raise self.retry(
            exc=exc, countdown=retry_delay(self.request.retries), max_retries=settings.ARENA_RECOMPUTE_MAX_RETRIES
        ) from exc
    prune_default_boards()
    return snapshot.pk


@shared_task(ignore_result=True, acks_late=True)
def catch_up_boards():
    """Beat: queue a recomputation when a default board lags the votes (deduplicated by the debounce key)."""
    if not lagging_scopes():
        return False
    return schedule_recompute(delay=0)


@shared_task(ignore_result=True, acks_late=True)
def detect_outlier_voters():
    return len(quality.detect_outlier_voters())
