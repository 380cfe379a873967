"""Voting's worker tasks."""

from __future__ import annotations

from celery import shared_task

from battles.voting import tallies


@shared_task(ignore_result=True)
def check_voter_tallies() -> int:
    """Beat's check of the voters' tallies against their votes (repairs and logs any drift)."""
    return tallies.check_tallies()
