import logging

from django.conf import settings
from django.db import connections, transaction

from arena.publishing import publish
from ratings import fits, services, style_features, tasks

logger = logging.getLogger(__name__)


def on_vote_recorded(sender, vote, **kwargs):
    """Runs after the vote's transaction committed; the vote is already safe.

    Reads nothing: the online ratings and the boards are a worker's job, queued here.
    """
    try:
        tasks.schedule_online_ratings()
    except Exception:
        # The vote is stored; beat applies what was not queued.
        logger.exception("could not schedule the online ratings")
    try:
        tasks.schedule_recompute()
    except Exception:
        logger.exception("could not schedule a leaderboard recomputation")


def on_votes_imported(sender, count, **kwargs):
    """Imported historical votes change every board: the counts are rebuilt, Elo and TrueSkill
    replayed in timestamp order and the default board refitted (the periodic checks catch up a
    lost task)."""
    if count:
        publish(tasks.rebuild_vote_counts, ("import",))


def on_votes_reflagged(sender, count, **kwargs):
    """Votes flagged or unflagged (the outlier check, an admin) leave or rejoin the boards: the counts
    are rebuilt and the default board refitted."""
    if count:
        publish(tasks.rebuild_vote_counts, ("exclusions",))


def on_refit_wanted(sender, kind, params, **kwargs):
    """A page found its board behind the votes: queue its refit (True if one is queued or pending)."""
    return tasks.queue_refit(kind, params)


def on_answers_stored(sender, generation_ids, **kwargs):
    """Measure the style of new answers now, in the worker, not at the first style-controlled fit."""
    try:
        with transaction.atomic():  # a savepoint if the caller is in a transaction: its work stays intact
            style_features.store_style_features(generation_ids)
    except Exception:
        # The answers are stored; the first style fit measures whatever is missing.
        logger.exception("could not measure the style of %d answers", len(generation_ids))


def on_estimates_wanted(sender, **kwargs):
    """The pairing policy asks for the latest Bradley–Terry estimates (from the cached snapshot)."""
    return services.pairing_estimates()


def on_worker_init(sender, **kwargs):
    """A Celery worker that fits boards reads what refits read (``ratings.fits.warm_up``) before it takes a
    task: the first eval lead's board does not wait for it, and the pool's processes, forked after, start
    with it."""
    refits_queue = settings.ARENA_BOARDS_QUEUE or settings.CELERY_TASK_DEFAULT_QUEUE
    if refits_queue not in sender.app.amqp.queues.consume_from:
        return
    try:
        fits.warm_up()
    except Exception:
        # The first refit reads them instead.
        logger.exception("could not read the votes and their style at the start")
    finally:
        # The pool's processes are forked from this one: none may inherit its database connection.
        connections.close_all()
