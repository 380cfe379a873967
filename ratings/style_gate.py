"""Whether a style-controlled board has votes enough to stand beside the raw board.

A style-controlled fit estimates the style coefficients and every rating from the same votes; on
a few dozen votes (a narrow filter) the two trade off freely and ratings swing by hundreds of
points (1,056.5 → −659.7 on 7 votes, seen on the demo). Below ``ARENA_STYLE_MIN_VOTES`` the
pages, the exports and the API still give the numbers but mark them provisional with the vote
count the fit used.
"""

from __future__ import annotations

from django.conf import settings

from ratings.models import RatingSnapshot


def style_votes(snapshot: RatingSnapshot | None) -> int:
    """The votes the style-controlled fit used (votes without measured answers are not among them)."""
    if snapshot is None:
        return 0
    return int(snapshot.data.n_votes or 0)


def style_provisional(snapshot: RatingSnapshot | None) -> bool:
    """True while the style-controlled board has fewer than ``ARENA_STYLE_MIN_VOTES`` votes."""
    return style_votes(snapshot) < settings.ARENA_STYLE_MIN_VOTES


def style_status(snapshot: RatingSnapshot | None) -> dict:
    """What a page or an export says about a style-controlled board."""
    return {
        "style_votes": style_votes(snapshot),
        "style_provisional": style_provisional(snapshot),
        "style_min_votes": settings.ARENA_STYLE_MIN_VOTES,
    }
