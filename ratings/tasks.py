"""Celery tasks of ratings: refits of boards, the debounced refit after votes, the counts' checks.

Votes queue a refit of the default board from the request (debounced); a board page that
finds its board behind the votes queues that board's refit (``queue_refit``, one pending per
board). Either may be lost (Redis hung or down: both give up after a short timeout rather than
hold the request), so the beat task ``catch_up_boards`` looks at every board that has a
snapshot and queues the refit of those behind the votes: always the default boards, and any
other a page asked for since its last fit. In embedded mode (tasks run eagerly) a page's refit
runs after its response is sent.

Online Elo and TrueSkill are applied here too, off the vote request: ``schedule_online_ratings``
queues one ``apply_online_ratings`` per burst (deduplicated by a cache key), and beat runs it
every ``ONLINE_RATINGS_CATCH_UP_EVERY_SECONDS`` so that a lost publish leaves nothing unapplied.
"""

import hashlib
import logging
import time

from celery import shared_task
from celery.utils.time import get_exponential_backoff_interval
from django.conf import settings
from django.core.cache import cache
from django.db import InterfaceError, OperationalError
from django.db.models import Max

from arena import metrics
from arena.after_response import defer
from arena.publishing import publish
from ratings import boards, counts, fits, online, quality, refit_pacing, services
from ratings.filter_params import page_filter
from ratings.filters import BoardFilter
from ratings.models import RatingSnapshot
from ratings.scopes import BOARD, DEFAULT_SCOPE, STYLE, STYLE_SCOPE, kind_of

logger = logging.getLogger(__name__)

RECOMPUTE_PENDING_KEY = "ratings:recompute-pending"
ONLINE_PENDING_KEY = "ratings:online-ratings-pending"
# Lost connections and a database going away: another attempt later can succeed.
TRANSIENT_ERRORS = (OperationalError, InterfaceError)
DEFAULT_BOARDS = ((BOARD, DEFAULT_SCOPE), (STYLE, STYLE_SCOPE))


def schedule_recompute(*, delay: float | None = None) -> bool:
    """Queue one refit of the default board for a burst of votes; True if this call queued it.

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
    """The default board, brought up to the votes now (new votes folded into the counts first)."""
    cache.delete(RECOMPUTE_PENDING_KEY)
    return fits.fit_board(BoardFilter())


def retry_delay(retries: int) -> int:
    """Seconds before retry number ``retries`` + 1: exponential with full jitter, capped."""
    return get_exponential_backoff_interval(
        factor=2, retries=retries, maximum=settings.ARENA_RECOMPUTE_RETRY_MAX_SECONDS, full_jitter=True
    )


def filter_of(params: dict) -> BoardFilter:
    """The board filter of a snapshot's or a task's query parameters (``BoardFilter.params()``)."""
    flt, _ = page_filter(params)
    return flt


def refit_key(kind: str, flt: BoardFilter) -> str:
    return "ratings:refit:" + hashlib.sha256(fits.scope_of(flt, kind).encode()).hexdigest()[:32]


def queue_refit(kind: str, params: dict) -> bool:
    """Queue one refit of ``kind``'s board of the filter ``params``; True if one is queued or pending.

    Deduplicated per board by a cache key (``ARENA_REFIT_PENDING_SECONDS``, deleted when the
    refit starts). With a worker the task is published with the short broker timeout; in
    embedded mode it runs after the response (``ARENA_BOARDS_FIT_INLINE``: at once, for tests).
    """
    flt = filter_of(params)
    key = refit_key(kind, flt)
    if not cache.add(key, 1, timeout=settings.ARENA_REFIT_PENDING_SECONDS):
        # Pending already (or the cache is unreachable: the periodic check refits the board).
        return True
    if refit_board.app.conf.task_always_eager:
        if settings.ARENA_BOARDS_FIT_INLINE:
            run_refit(kind, params)
        else:
            defer(lambda: run_refit(kind, params))
        return True
    if publish(refit_board, (kind, params)):
        return True
    cache.delete(key)
    return False


def run_refit(kind: str, params: dict) -> RatingSnapshot | None:
    flt = filter_of(params)
    # Votes arriving from here on may queue the next refit.
    cache.delete(refit_key(kind, flt))
    if kind == BOARD and flt.is_default:
        cache.delete(RECOMPUTE_PENDING_KEY)
    return fits.refit(kind, flt)


@shared_task(bind=True, ignore_result=True, acks_late=True)
def refit_board(self, kind: str, params: dict):
    """Refit one board (``ratings.fits.refit``); retried on database and connection errors.

    While the CPU is contended the worker then waits (``ratings.refit_pacing``), so that refits take at
    most ``ARENA_REFIT_CPU_SHARE_UNDER_LOAD`` of a core per worker process from the voters' requests.
    """
    cpu_started, wall_started = time.thread_time(), time.perf_counter()
    try:
        snapshot = run_refit(kind, params)
    except TRANSIENT_ERRORS as exc:
        raise self.retry(
            exc=exc, countdown=retry_delay(self.request.retries), max_retries=settings.ARENA_RECOMPUTE_MAX_RETRIES
        ) from exc
    pace_after_refit(time.thread_time() - cpu_started, time.perf_counter() - wall_started, kind)
    return snapshot.pk if snapshot is not None else None


def pace_after_refit(cpu_seconds: float, wall_seconds: float, kind: str) -> float:
    """Wait as ``ratings.refit_pacing`` says after a refit; the seconds waited."""
    contention = refit_pacing.cpu_contention()
    pause = refit_pacing.pause_after(
        cpu_seconds,
        wall_seconds,
        contention=contention,
        threshold=settings.ARENA_REFIT_PACE_CONTENTION,
        share=settings.ARENA_REFIT_CPU_SHARE_UNDER_LOAD,
        longest=settings.ARENA_REFIT_PAUSE_MAX_SECONDS,
    )
    if pause:
        logger.info(
            "%s refit took %.2f s of CPU with the CPU contended (%.0f%%): waiting %.1f s",
            kind,
            cpu_seconds,
            contention * 100,
            pause,
        )
        time.sleep(pause)
    return pause


@shared_task(bind=True, ignore_result=True, acks_late=True)
def recompute_leaderboard(self):
    """Fold new votes and refit the default board; retried on database and connection errors."""
    try:
        with (
            metrics.timed(metrics.RECOMPUTE_SECONDS),
            metrics.timed(metrics.RECOMPUTE_CPU_SECONDS, clock=time.thread_time),
        ):
            snapshot = recompute_now()
    except TRANSIENT_ERRORS as exc:
        raise self.retry(
            exc=exc, countdown=retry_delay(self.request.retries), max_retries=settings.ARENA_RECOMPUTE_MAX_RETRIES
        ) from exc
    prune_default_boards()
    return snapshot.pk


def prune_default_boards() -> None:
    for scope in (DEFAULT_SCOPE, STYLE_SCOPE):
        services.prune_snapshots(scope, keep=settings.ARENA_SNAPSHOTS_KEPT)


def lagging_boards() -> list[tuple[str, dict]]:
    """(kind, filter parameters) of every board with a snapshot that is behind the votes and
    should be refitted: the default boards, and the others a page asked a refit of (a refit
    that may have been lost). The default boards also lag with no snapshot when there are votes."""
    lagging = []
    newest_ids = RatingSnapshot.objects.values("scope").annotate(newest=Max("pk")).values("newest")
    seen = set()
    for snapshot in RatingSnapshot.objects.filter(pk__in=newest_ids).order_by("scope"):
        kind = kind_of(snapshot.scope)
        seen.add(snapshot.scope)
        default = snapshot.scope in (DEFAULT_SCOPE, STYLE_SCOPE)
        if not default and not snapshot.refit_wanted:
            continue
        flt = filter_of(snapshot.params)
        if fits.scope_of(flt, kind) != snapshot.scope:
            continue  # a snapshot from before filters were stored with it
        if boards.against_votes(snapshot, flt, kind).stale:
            lagging.append((kind, flt.params()))
    votes = services.counted_votes()
    for kind, scope in DEFAULT_BOARDS:
        if scope not in seen and (votes if kind == BOARD else votes.filter(battle__isnull=False)).exists():
            lagging.append((kind, {}))
    return lagging


def lagging_scopes() -> list[str]:
    """The scopes of ``lagging_boards``."""
    return [fits.scope_of(filter_of(params), kind) for kind, params in lagging_boards()]


@shared_task(ignore_result=True, acks_late=True)
def catch_up_boards():
    """Beat: queue a refit of every lagging board (see ``lagging_boards``); True if any was queued."""
    queued = False
    for kind, params in lagging_boards():
        if kind == BOARD and not params:
            queued = schedule_recompute(delay=0) or queued
        else:
            queued = queue_refit(kind, params) or queued
    return queued


@shared_task(ignore_result=True, acks_late=True)
def check_vote_counts():
    """Beat: recount the votes, compare with the aggregated counts, repair and log any drift."""
    drift = counts.reconcile(reason="check")
    return drift.votes


@shared_task(bind=True, ignore_result=True, acks_late=True)
def rebuild_vote_counts(self, reason: str = "rebuild"):
    """Recount after imports or exclusions, then refit the default board."""
    try:
        counts.reconcile(reason=reason)
        # Elo and TrueSkill replayed in timestamp order: imported votes take their place in time.
        online.rebuild_online_ratings()
        recompute_now()
    except TRANSIENT_ERRORS as exc:
        raise self.retry(
            exc=exc, countdown=retry_delay(self.request.retries), max_retries=settings.ARENA_RECOMPUTE_MAX_RETRIES
        ) from exc


@shared_task(ignore_result=True, acks_late=True)
def detect_outlier_voters():
    return len(quality.detect_outlier_voters())


def schedule_online_ratings(*, delay: float | None = None) -> bool:
    """Queue one application of the online ratings for a burst of votes; True if this call queued it.

    ``delay``: seconds before it runs (default ``ARENA_ONLINE_RATINGS_DELAY_SECONDS``): the votes of
    that second share one publish and one batch. Like ``schedule_recompute``, never waits long on
    Redis; what is not queued, beat applies later.
    """
    delay = settings.ARENA_ONLINE_RATINGS_DELAY_SECONDS if delay is None else delay
    if not cache.add(ONLINE_PENDING_KEY, 1, timeout=max(30, int(delay * 10))):
        return False
    if publish(apply_online_ratings, countdown=delay or None):
        return True
    cache.delete(ONLINE_PENDING_KEY)
    return False


@shared_task(bind=True, ignore_result=True, acks_late=True)
def apply_online_ratings(self):
    """Move Elo and TrueSkill for every vote past the watermark; beat runs it as the catch-up too."""
    # Votes committing from here on queue the next run.
    cache.delete(ONLINE_PENDING_KEY)
    try:
        progress = online.apply_pending()
    except TRANSIENT_ERRORS as exc:
        raise self.retry(
            exc=exc, countdown=retry_delay(self.request.retries), max_retries=settings.ARENA_RECOMPUTE_MAX_RETRIES
        ) from exc
    if progress.waiting:
        # A gap in the vote ids: the votes after it are applied once it has settled.
        schedule_online_ratings(delay=settings.ARENA_ONLINE_RATINGS_SETTLE_SECONDS)
    return progress.applied
