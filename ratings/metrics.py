"""The boards' gauges for /metrics, read from the database at scrape time (see arena.metrics)."""

from __future__ import annotations

from collections.abc import Iterator

from django.utils import timezone
from prometheus_client.core import GaugeMetricFamily, Metric

from ratings import services
from ratings.scopes import DEFAULT_SCOPE


def board_gauges() -> Iterator[Metric]:
    """How far the default board is behind the votes, and how long its last fit took."""
    votes = services.counted_votes()
    snapshot = services.latest_snapshot(DEFAULT_SCOPE)
    lag_votes = GaugeMetricFamily("arena_snapshot_lag_votes", "Counted votes the newest default board does not have.")
    lag_seconds = GaugeMetricFamily(
        "arena_snapshot_lag_seconds", "How long the oldest vote not yet on the default board has waited (0: none)."
    )
    fit_seconds = GaugeMetricFamily("arena_snapshot_fit_seconds", "Duration of the newest default board's fit.")
    now = timezone.now()
    if snapshot is None:
        waiting = votes
        lag_votes.add_metric([], float(votes.count()))
    else:
        waiting = votes.filter(created_at__gt=snapshot.computed_at)
        lag_votes.add_metric([], float(max(0, votes.count() - snapshot.vote_count)))
        fit_seconds.add_metric([], snapshot.duration_ms / 1000)
    oldest = waiting.order_by("created_at").values_list("created_at", flat=True).first()
    lag_seconds.add_metric([], (now - oldest).total_seconds() if oldest else 0.0)
    yield lag_votes
    yield lag_seconds
    yield fit_seconds
