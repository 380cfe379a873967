"""The voter's counters and roles, read inside the query of the row a page loads anyway.

A battle's page, the vote and the reveal all need the voter's votes today and in total, and the
voter's roles (insider votes are flagged; the menu shows the pages of each role). As subqueries
of the battle's own query they cost no round trip of their own.
"""

from __future__ import annotations

from arena.roles import ALL_ROLES, remember_roles
from battles.voting import tallies

PERSONAL_BOARD_MIN_VOTES = 20


def votes_today(voter) -> int:
    return tallies.counts(voter.pk)[1]


def progress_of(voter) -> dict:
    """The progress strip's numbers, in one query (pages that load no battle)."""
    total, today = tallies.counts(voter.pk)
    return {"today": today, "total": total, "board_after": PERSONAL_BOARD_MIN_VOTES}


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
