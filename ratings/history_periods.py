"""The rating-over-time's periods, counted from a board's archived votes (``ratings.vote_archive``).

What the history fits, per period of the site's time zone (hour, day, week from Monday, month): the
(version a, version b, outcome) counts of the votes in it, as ``GROUP BY`` a truncated ``created_at``
gave them. A boards worker has every vote in its archive, so counting them here costs a few
milliseconds of numpy instead of a grouped scan of the votes in Postgres (0.1–0.3 s at 500k votes,
queued with every cold board an eval lead opens). Periods are cut at each period's first instant in
the site's zone, made aware as Django's ``Trunc`` makes its results aware: a clock that moves back
(an hour that happens twice) is one period, as the truncated local time made it.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import numpy as np
from django.utils import timezone

from ratings.engine.data import OUTCOMES
from ratings.vote_archive import BoardVotes, micros

# (period, version a, version b, outcome label, votes), ordered as the SQL ordered them.
PeriodRow = tuple[Any, int, int, str, int]


def period_of_span(days: float) -> str:
    """The period for a history spanning ``days``."""
    return "hour" if days <= 2 else "day" if days <= 62 else "week" if days <= 2 * 365 else "month"


def span_days(votes: BoardVotes) -> float | None:
    """Days between the first and the last vote; None without votes."""
    if not len(votes):
        return None
    return float(votes.created[-1] - votes.created[0]) / 86_400e6


def period_rows(votes: BoardVotes, period: str) -> list[PeriodRow]:
    """The votes' (pair, outcome) counts per ``period``: the periods' start as dates (a datetime for hours)."""
    if not len(votes):
        return []
    zone = timezone.get_current_timezone()
    starts = _period_starts(_local(votes.created[0], zone), _local(votes.created[-1], zone), period)
    edges = np.array([micros(timezone.make_aware(start, zone)) for start in starts], dtype=np.int64)
    which = np.searchsorted(edges, votes.created, side="right") - 1
    keys = np.stack([which, votes.model_a, votes.model_b, votes.outcome.astype(np.int64)], axis=1)
    cells, n = np.unique(keys, axis=0, return_counts=True)
    values = [timezone.make_aware(start, zone) if period == "hour" else start.date() for start in starts]
    rows = [
        (values[int(p)], int(a), int(b), OUTCOMES[int(o)], int(k)) for (p, a, b, o), k in zip(cells, n, strict=True)
    ]
    return sorted(rows, key=lambda row: (row[0], row[1], row[2], row[3]))


def _local(moment_us: int, zone) -> dt.datetime:
    """A vote's time as the site's wall clock (naive)."""
    utc = dt.datetime(1970, 1, 1, tzinfo=dt.UTC) + dt.timedelta(microseconds=int(moment_us))
    return timezone.make_naive(utc, zone)


def _period_starts(first: dt.datetime, last: dt.datetime, period: str) -> list[dt.datetime]:
    """Each period's first wall-clock instant, from the one holding ``first`` through the one holding ``last``."""
    if period == "hour":
        start, step = first.replace(minute=0, second=0, microsecond=0), dt.timedelta(hours=1)
    elif period == "day":
        start, step = dt.datetime.combine(first.date(), dt.time.min), dt.timedelta(days=1)
    elif period == "week":
        monday = first.date() - dt.timedelta(days=first.weekday())
        start, step = dt.datetime.combine(monday, dt.time.min), dt.timedelta(weeks=1)
    else:
        starts = []
        month = dt.datetime(first.year, first.month, 1)
        while month <= last:
            starts.append(month)
            month = dt.datetime(month.year + month.month // 12, month.month % 12 + 1, 1)
        return starts
    starts = []
    while start <= last:
        starts.append(start)
        start += step
    return starts
