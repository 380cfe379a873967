"""The voter's counters and roles, read inside the query of the row a page loads anyway.

A battle's page, the vote and the reveal all need the voter's votes today and in total, and the
voter's roles (insider votes are flagged; the menu shows the pages of each role). As subqueries
of the battle's own query they cost no round trip of their own.
"""

from __future__ import annotations

import datetime

from django.db.models import Count, Q
from django.utils import timezone

from arena.roles import ALL_ROLES, remember_roles
from battles.models import Vote

PERSONAL_BOARD_MIN_VOTES = 20


def start_of_today():
    """Midnight in the site's time zone: a range bound keeps the (voter, created_at) index usable."""
    return timezone.make_aware(datetime.datetime.combine(timezone.localdate(), datetime.time.min))


def votes_today(voter) -> int:
    return Vote.objects.filter(voter=voter, created_at__gte=start_of_today()).count()


def progress_of(voter) -> dict:
    """The progress strip's numbers, in one query (pages that load no battle)."""
    today = Q(created_at__gte=start_of_today())
    counts = Vote.objects.filter(voter=voter).aggregate(total=Count("pk"), today=Count("pk", filter=today))
    return {"today": counts["today"], "total": counts["total"], "board_after": PERSONAL_BOARD_MIN_VOTES}


def adopt_voter_state(user, row, *, new_votes: int = 0) -> dict:
    """Give ``user`` the roles read with ``row`` and return the progress strip's numbers.

    ``new_votes``: votes stored since ``row`` was read (1 after a vote).
    """
    remember_roles(user, [role for role in ALL_ROLES if getattr(row, f"voter_is_{role}")])
    return {
        "today": row.voter_votes_today + new_votes,
        "total": row.voter_votes_total + new_votes,
        "board_after": PERSONAL_BOARD_MIN_VOTES,
    }
