import logging

from ratings import services

logger = logging.getLogger(__name__)


def on_vote_recorded(sender, vote, **kwargs):
    """Runs after the vote's transaction committed; the vote is already safe."""
    try:
        services.apply_vote_to_online_ratings(vote=vote)
    except Exception:
        # The vote is stored; a failed rating update must not fail the voter's request.
        logger.exception("online rating update failed for vote %s", vote.pk)
    try:
        services.schedule_recompute()
    except Exception:
        logger.exception("could not schedule a leaderboard recomputation")


def on_votes_imported(sender, count, **kwargs):
    """Imported historical votes change the Bradley–Terry boards (not the online ratings)."""
    if count:
        services.schedule_recompute()
