"""Each voter's vote counts, kept as votes are stored (``VoterTally``), so reading them costs one row.

The progress strip (votes today and in total) and the daily cap are read on every page and every
vote. Counted from the votes they cost Postgres time in proportion to the voter's history: at
3,000 votes, ~0.7 ms for the total and ~0.3 ms for today, twice a battle.

The vote's INSERT adds it to the tally (``count_vote``: one upsert, which also starts a new day);
reads take the tally's columns (``state_columns``) inside the query of the row they load anyway.
Votes stored otherwise (the demo's history, a bulk load) and anything that drifts are set right by
``check_tallies``, which beat runs and which repairs each voter under the tally row's lock.
"""

from __future__ import annotations

import datetime
import logging
from functools import cache

from django.db import connection, transaction
from django.db.models import Count, Q
from django.utils import timezone

from arena.hot_reads import prep_value, quoted_column
from battles.models import Vote, VoterTally

logger = logging.getLogger(__name__)


def start_of_today() -> datetime.datetime:
    """Midnight in the site's time zone: a range bound keeps the (voter, created_at) index usable."""
    return timezone.make_aware(datetime.datetime.combine(timezone.localdate(), datetime.time.min))


def _day_param(day: datetime.date):
    return prep_value(VoterTally, "day", day)


def count_vote(voter_id: int, moment: datetime.datetime) -> tuple[str, list]:
    """The statement, and its parameters, that add a vote stored at ``moment`` to its voter's tally: run it
    in the vote's transaction (the vote's INSERT runs it with itself, ``arena.hot_reads.insert``)."""
    return _count_sql(connection.vendor), [voter_id, _day_param(timezone.localdate(moment))]


@cache
def _count_sql(vendor: str) -> str:
    """The upsert's SQL for a database vendor (the cache key; names are quoted the vendor's way)."""
    table, voter, total, day, today = _names()
    # Every SET expression reads the row as it was: a vote on a new day starts that day's count at 1.
    return (
        f"INSERT INTO {table} ({voter}, {total}, {day}, {today}) VALUES (%s, 1, %s, 1)"
        f" ON CONFLICT ({voter}) DO UPDATE SET {total} = {table}.{total} + 1,"
        f" {today} = CASE WHEN {table}.{day} = excluded.{day} THEN {table}.{today} + 1 ELSE 1 END,"
        f" {day} = excluded.{day}"
    )


def _names() -> list[str]:
    """The tally's table, then its columns voter, total, day and today, quoted."""
    columns = [quoted_column(VoterTally, name) for name in ("voter", "total", "day", "today")]
    return [connection.ops.quote_name(VoterTally._meta.db_table), *columns]


def state_columns(voter: str) -> str:
    """The voter's votes in total, then today, as two columns of a query that has the voter's id in the
    column ``voter``; the query's parameters take ``today_param()`` where these columns stand."""
    table, pk, total, day, today = _names()
    return (
        f"COALESCE((SELECT t.{total} FROM {table} t WHERE t.{pk} = {voter}), 0),"
        f" COALESCE((SELECT t.{today} FROM {table} t WHERE t.{pk} = {voter} AND t.{day} = %s), 0)"
    )


def today_param():
    """The parameter ``state_columns`` takes: the site's date today."""
    return _day_param(timezone.localdate())


def counts(voter_id: int) -> tuple[int, int]:
    """The voter's votes in total and today, as the tally holds them."""
    tally = VoterTally.objects.filter(voter_id=voter_id).values_list("total", "day", "today").first()
    if tally is None:
        return 0, 0
    total, day, today = tally
    return total, today if day == timezone.localdate() else 0


def check_tallies() -> int:
    """Compare every voter's tally with their votes and repair those that differ; how many did.

    Read without locks first (one pass over the votes); each tally found wrong is then counted again
    under its row's lock, so a vote committing meanwhile is counted once, before or after.
    """
    day, since = timezone.localdate(), start_of_today()
    counted = {
        row["voter_id"]: (row["total"], row["today"])
        for row in Vote.objects.filter(voter__isnull=False)
        .values("voter_id")
        .annotate(total=Count("id"), today=Count("id", filter=Q(created_at__gte=since)))
        .order_by()
    }
    kept = {
        voter_id: (total, today if tally_day == day else 0)
        for voter_id, total, tally_day, today in VoterTally.objects.values_list("voter_id", "total", "day", "today")
    }
    wrong = sorted(
        voter for voter in counted.keys() | kept.keys() if counted.get(voter, (0, 0)) != kept.get(voter, (0, 0))
    )
    repaired = recount(wrong)
    if repaired:
        logger.warning("voter tallies: %d of %d differed from the votes and were repaired", repaired, len(counted))
    return repaired


def recount(voter_ids) -> int:
    """Set these voters' tallies from their votes (after votes were stored in bulk); how many changed."""
    return sum(_recount(voter_id) for voter_id in voter_ids)


def _recount(voter_id: int) -> bool:
    """Set the voter's tally from their votes, under its row's lock; False if it was right after all."""
    day = timezone.localdate()
    with transaction.atomic():
        VoterTally.objects.get_or_create(voter_id=voter_id, defaults={"day": day})
        tally = VoterTally.objects.select_for_update().get(voter_id=voter_id)
        # Counted after the lock: a vote that took it first has committed, one that waits counts itself after.
        found = Vote.objects.filter(voter_id=voter_id).aggregate(
            total=Count("id"), today=Count("id", filter=Q(created_at__gte=start_of_today()))
        )
        today = tally.today if tally.day == day else 0
        if (tally.total, today) == (found["total"], found["today"]):
            return False
        tally.total, tally.today, tally.day = found["total"], found["today"], day
        tally.save(update_fields=["total", "today", "day"])
        return True
