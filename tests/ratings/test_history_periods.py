"""The rating-over-time's periods counted from the archive (``ratings.history_periods``) are the periods the
database's truncated times gave, in any time zone: daylight saving's gaps and repeated hours, half-hour
offsets, weeks from Monday, months."""

from __future__ import annotations

import datetime as dt

import pytest
from django.db.models import Count
from django.db.models.functions import TruncDate, TruncHour, TruncMonth, TruncWeek

from battles.models import Vote
from ratings import counts
from ratings.filters import BoardFilter
from ratings.history_periods import period_rows
from ratings.vote_archive import VoteArchive
from tests.ratings.board_factories import cast_votes, make_llms

pytestmark = pytest.mark.django_db

UTC = dt.UTC
# Around New York's and Lord Howe's clock changes (an hour, half an hour), months' and years' ends.
INSTANTS = [
    dt.datetime(2025, 12, 31, 23, 40, tzinfo=UTC),
    dt.datetime(2026, 1, 1, 0, 20, tzinfo=UTC),
    dt.datetime(2026, 3, 8, 6, 30, tzinfo=UTC),  # 01:30 in New York, before the clock jumps
    dt.datetime(2026, 3, 8, 7, 30, tzinfo=UTC),  # 03:30 after it
    dt.datetime(2026, 4, 4, 14, 45, tzinfo=UTC),  # Lord Howe: 01:45, then the clock goes back half an hour
    dt.datetime(2026, 4, 4, 15, 20, tzinfo=UTC),
    dt.datetime(2026, 8, 31, 23, 30, tzinfo=UTC),
    dt.datetime(2026, 9, 1, 0, 30, tzinfo=UTC),
    dt.datetime(2026, 11, 1, 5, 30, tzinfo=UTC),  # 01:30 in New York, summer time
    dt.datetime(2026, 11, 1, 6, 30, tzinfo=UTC),  # 01:30 again, winter time: the same local hour
    dt.datetime(2026, 11, 1, 7, 10, tzinfo=UTC),
    dt.datetime(2026, 11, 2, 12, 0, tzinfo=UTC),
]
TRUNC = {"hour": TruncHour, "day": TruncDate, "week": TruncWeek, "month": TruncMonth}


@pytest.fixture
def votes_at_instants():
    llms = make_llms("alpha", "beta", "gamma")
    cast_votes(llms, [("alpha", "beta", "a", 6), ("beta", "gamma", "tie", 4), ("gamma", "alpha", "b", 2)])
    for vote, moment in zip(Vote.objects.order_by("pk"), INSTANTS, strict=True):
        Vote.objects.filter(pk=vote.pk).update(created_at=moment)


def _database_rows(period: str) -> list:
    """What the history's grouped query gave (``created_at`` truncated in the site's zone)."""
    rows = list(
        BoardFilter()
        .votes()
        .annotate(period=TRUNC[period]("created_at"))
        .values_list("period", "version_a_id", "version_b_id", "outcome")
        .annotate(n=Count("id"))
        .order_by("period", "version_a_id", "version_b_id", "outcome")
    )
    if period in ("week", "month"):
        rows = [(p.date(), a, b, o, n) for p, a, b, o, n in rows]
    return rows


@pytest.mark.parametrize("zone", ["UTC", "America/New_York", "Asia/Kolkata", "Australia/Lord_Howe"])
@pytest.mark.parametrize("period", ["hour", "day", "week", "month"])
def test_the_periods_are_those_of_the_databases_truncated_times(votes_at_instants, settings, zone, period):
    settings.TIME_ZONE = zone
    archived = VoteArchive().votes(counts.fold(), BoardFilter())
    expected = _database_rows(period)
    assert period_rows(archived, period) == expected
    assert sum(n for *_, n in expected) == len(INSTANTS)
