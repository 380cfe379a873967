"""The refits' reads of votes are covered by one index on Postgres (``battles.Vote``'s ``vote_in_time_order``).

A refit runs at the idle CPU class but Postgres does not: each column a replay or a style fit reads that the
index lacks turns its index-only scan into a visit of every vote's row (335k votes: 86 → 280 ms).
"""

import datetime as dt

import pytest
from django.db import connection

from battles.models import Vote
from ratings import counts
from ratings.filters import BoardFilter
from tests.ratings.board_factories import cast_votes, make_llms

pytestmark = pytest.mark.django_db


def _plan(queryset) -> str:
    sql, params = queryset.query.sql_with_params()
    with connection.cursor() as cursor:
        # Few rows here: make the planner show whether the index can answer the read on its own.
        cursor.execute("SET LOCAL enable_seqscan = off")
        cursor.execute("SET LOCAL enable_bitmapscan = off")
        cursor.execute("EXPLAIN " + sql, params)
        return "\n".join(row[0] for row in cursor.fetchall())


@pytest.mark.parametrize(
    "flt",
    [
        BoardFilter(date_from=dt.date(2020, 1, 1)),
        BoardFilter(include_insider=True, include_live=False, date_from=dt.date(2020, 1, 1)),
        BoardFilter(include_flagged=True, date_from=dt.date(2020, 1, 1), date_to=dt.date(2099, 1, 1)),
    ],
    ids=["from", "insider-no-live", "flagged-range"],
)
def test_a_dated_boards_replay_and_style_read_are_index_only_scans(flt):
    """The boards eval leads open cold are mostly date ranges (without one, a refit reads every vote anyway)."""
    if connection.vendor != "postgresql":
        pytest.skip("INCLUDE columns are Postgres's")
    cast_votes(make_llms("a", "b"), [("a", "b", "a", 3)])
    votes = counts.fold().seen(flt.votes())
    # The reads of ratings.services.CategoryReplays (all categories) and ratings.fits.read_style_votes.
    replay = votes.order_by("created_at", "id").values_list("version_a_id", "version_b_id", "outcome")
    style = votes.order_by().values_list("version_a_id", "version_b_id", "outcome", "battle_id", "id")
    for read in (replay, style):
        plan = _plan(read)
        assert "Index Only Scan using vote_in_time_order" in plan, plan
    assert Vote.objects.count() == 3
