"""The replay of votes in time order is covered by one index on Postgres (``battles.Vote``'s ``vote_in_time_order``).

Board refits read their votes from a worker's archive (``ratings.vote_archive``); the online ratings' rebuild
(after an import or exclusions) still replays from Postgres, where each column the replay reads or filters on
that the index lacks turns its index-only scan into a visit of every vote's row (335k votes: 86 → 280 ms).
Checked on the SQL itself (which columns of the votes table it names), not on a plan: which plan Postgres
picks for a few test rows depends on the statistics earlier tests left.
"""

import datetime as dt
import re

import pytest
from django.db.models import Field

from battles.models import Vote
from ratings import counts
from ratings.filters import BoardFilter
from tests.ratings.board_factories import cast_votes, make_llms

pytestmark = pytest.mark.django_db


def _index_columns(name: str) -> set[str]:
    index = next(index for index in Vote._meta.indexes if index.name == name)
    columns = set()
    for field_name in [*index.fields, *index.include]:
        field = Vote._meta.get_field(field_name.lstrip("-"))
        assert isinstance(field, Field) and field.column
        columns.add(field.column)
    return columns


def _vote_columns(queryset) -> set[str]:
    sql, _ = queryset.query.sql_with_params()
    table = Vote._meta.db_table
    return set(re.findall(rf'"{table}"\."(\w+)"', sql))


@pytest.mark.parametrize(
    "flt",
    [
        BoardFilter(date_from=dt.date(2020, 1, 1)),
        BoardFilter(include_insider=True, include_live=False, date_from=dt.date(2020, 1, 1)),
        BoardFilter(include_flagged=True, date_from=dt.date(2020, 1, 1), date_to=dt.date(2099, 1, 1)),
        BoardFilter(),
    ],
    ids=["from", "insider-no-live", "flagged-range", "default"],
)
def test_the_replay_reads_name_only_columns_the_index_holds(flt):
    cast_votes(make_llms("a", "b"), [("a", "b", "a", 3)])
    # Gaps in the mark add conditions on the id: the mark of a fold with a vote still committing.
    votes = counts.VoteMark(through_vote_id=10**9, gaps=((10**9 - 7, 10**9 - 5),)).seen(flt.votes())
    # The read of ratings.services.replayed_online_ratings (the online ratings' rebuild).
    replay = votes.order_by("created_at", "id").values_list("version_a_id", "version_b_id", "outcome")
    covered = _index_columns("vote_in_time_order")
    named = _vote_columns(replay)
    assert {"version_a_id", "outcome"} <= named  # the pattern finds the columns
    assert named <= covered, named - covered
    assert len(list(replay)) == 3
