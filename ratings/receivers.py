import logging

from django.db import transaction

from ratings import boards, services, tasks

logger = logging.getLogger(__name__)


def on_vote_recorded(sender, vote, **kwargs):
    """Runs after the vote's transaction committed; the vote is already safe."""
    try:
        services.apply_vote_to_online_ratings(vote=vote)
    except Exception:
        # The vote is stored; a failed rating update must not fail the voter's request.
        logger.exception("online rating update failed for vote %s", vote.pk)
    try:
        tasks.schedule_recompute()
    except Exception:
        logger.exception("could not schedule a leaderboard recomputation")


def on_votes_imported(sender, count, **kwargs):
    """Imported historical votes change the Bradley–Terry boards (not the online ratings)."""
    if count:
        tasks.schedule_recompute()


def on_votes_reflagged(sender, count, **kwargs):
    """Votes flagged or unflagged (the outlier check, an admin) leave or rejoin the boards."""
    if count:
        tasks.schedule_recompute()


def on_answers_stored(sender, generation_ids, **kwargs):
    """Measure the style of new answers now, in the worker, not at the first style-controlled fit."""
    try:
        with transaction.atomic():  # a savepoint if the caller is in a transaction: its work stays intact
            boards.store_style_features(generation_ids)
    except Exception:
        # The answers are stored; the first style fit measures whatever is missing.
        logger.exception("could not measure the style of %d answers", len(generation_ids))


def on_estimates_wanted(sender, **kwargs):
    """The pairing policy asks for the latest Bradley–Terry estimates (from the cached snapshot)."""
    return services.pairing_estimates()
