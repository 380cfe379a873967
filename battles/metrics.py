"""The arena's gauges for /metrics, read from the database at scrape time (see arena.metrics)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta

from django.db.models import Count
from django.utils import timezone
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric

from battles.models import Battle, Generation, Vote


def arena_gauges() -> Iterator[Metric]:
    votes = CounterMetricFamily("arena_votes", "Votes cast in the arena (imported ones left out).", labels=["kind"])
    per_minute = GaugeMetricFamily("arena_votes_last_minute", "Votes cast in the last 60 seconds.", labels=["kind"])
    cast = Vote.objects.filter(imported=False)
    recent = cast.filter(created_at__gte=timezone.now() - timedelta(minutes=1))
    for family, rows in ((votes, cast), (per_minute, recent)):
        counts = dict(rows.values_list("live").annotate(n=Count("pk")).order_by())
        for live, kind in ((False, "pool"), (True, "live")):
            family.add_metric([kind], float(counts.get(live, 0)))
    yield votes
    yield per_minute

    open_battles = GaugeMetricFamily("arena_open_battles", "Battles waiting for a vote.", labels=["kind"])
    counts = dict(
        Battle.objects.filter(status=Battle.Status.OPEN).values_list("live").annotate(n=Count("pk")).order_by()
    )
    for live, kind in ((False, "pool"), (True, "live")):
        open_battles.add_metric([kind], float(counts.get(live, 0)))
    yield open_battles

    queued = GaugeMetricFamily(
        "arena_generations_queued", "Generations not finished yet (the generation queue), by status.", labels=["status"]
    )
    waiting = (Generation.Status.PENDING, Generation.Status.RUNNING)
    counts = dict(
        Generation.objects.filter(status__in=waiting).values_list("status").annotate(n=Count("pk")).order_by()
    )
    for status in waiting:
        queued.add_metric([status.value], float(counts.get(status, 0)))
    yield queued
