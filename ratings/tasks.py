"""Celery tasks of ratings, and the debounce that queues one recomputation per burst of votes."""

from celery import shared_task
from django.conf import settings
from django.core.cache import cache

from ratings import boards, quality, services
from ratings.filters import BoardFilter
from ratings.models import RatingSnapshot

RECOMPUTE_PENDING_KEY = "ratings:recompute-pending"


def schedule_recompute() -> bool:
    """Queue one recomputation for a burst of votes; True if this call queued it."""
    delay = settings.ARENA_RATINGS_DEBOUNCE_SECONDS
    # The key expires on its own, so a lost task cannot block recomputation for long.
    if not cache.add(RECOMPUTE_PENDING_KEY, 1, timeout=max(60, int(delay * 10))):
        return False
    recompute_leaderboard.apply_async(countdown=delay)
    return True


def recompute_now() -> RatingSnapshot:
    """The default board, fitted now; votes arriving from here on queue the next recomputation."""
    cache.delete(RECOMPUTE_PENDING_KEY)
    return services.compute_snapshot()


@shared_task(ignore_result=True, acks_late=True)
def recompute_leaderboard():
    snapshot = recompute_now()
    # The style-controlled default board too, so that no visitor pays its refit (tens of
    # seconds at a million votes); filtered boards are still fitted when first asked for.
    boards.style_snapshot(BoardFilter())
    return snapshot.pk


@shared_task(ignore_result=True, acks_late=True)
def detect_outlier_voters():
    return len(quality.detect_outlier_voters())
