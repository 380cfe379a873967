"""Operations metrics for Prometheus, correct with any number of processes and hosts.

Arena runs as several gunicorn workers, Celery prefork children and a daphne process, often in
separate containers, and a scrape reaches only one of them. So nothing is kept in one process:

- **Gauges are computed at scrape time** from the database and the broker (votes, open battles,
  queued generations, queue length, snapshot lag): the apps register a *source* (a function that
  yields metric families) in ``AppConfig.ready``; every process answers the same.
- **Counters and histograms** (provider errors and latency, recompute duration) happen in workers;
  each event adds to hashes in Redis (one pipelined HINCRBYFLOAT round trip), which the scraped
  process reads. Prometheus' own multiprocess mode would need one shared directory for all
  processes, which separate containers do not have. Without Redis (embedded mode) everything runs
  in one process, and a process-local store is exact.

Recording never fails or stalls the caller: Redis gets ``REDIS_TIMEOUT`` per operation,
and after a failure it is skipped for ``REDIS_RETRY_AFTER`` seconds (a lost increment is better
than a slow provider call).
"""

from __future__ import annotations

import json
import logging
import threading
import time
from collections import defaultdict
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager

import redis
from django.conf import settings
from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, HistogramMetricFamily, Metric

logger = logging.getLogger(__name__)

KEY_PREFIX = "arena:metrics:"
UNAVAILABLE = (redis.exceptions.RedisError, OSError)
PROVIDER_SECONDS_BUCKETS = (0.25, 0.5, 1.0, 2.0, 5.0, 10.0, 20.0, 30.0, 60.0, 120.0, 180.0)
RECOMPUTE_SECONDS_BUCKETS = (0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0, 300.0)


class Instrument:
    """A counter or histogram whose values live in the shared store."""

    def __init__(self, name: str, help_text: str, labels: Sequence[str], buckets: Sequence[float] | None = None):
        self.name = name
        self.help_text = help_text
        self.labels = tuple(labels)
        self.buckets = tuple(buckets) if buckets else None

    def increments(self, values: Sequence[str], amount: float) -> dict[str, float]:
        """Store fields to add to: a counter's one, or a histogram's cumulative buckets, sum and count."""
        if self.buckets is None:
            return {json.dumps([*values]): amount}
        fields = {json.dumps([*values, "sum"]): amount, json.dumps([*values, "count"]): 1.0}
        for bound in (*self.buckets, float("inf")):
            if amount <= bound:
                fields[json.dumps([*values, _bound_text(bound)])] = 1.0
        return fields

    def families(self, stored: dict[str, float]) -> Metric:
        if self.buckets is None:
            family = CounterMetricFamily(self.name, self.help_text, labels=self.labels)
            for field, value in sorted(stored.items()):
                family.add_metric(json.loads(field), value)
            return family
        series: dict[tuple[str, ...], dict[str, float]] = defaultdict(dict)
        for field, value in stored.items():
            *values, part = json.loads(field)
            series[tuple(values)][part] = value
        histogram = HistogramMetricFamily(self.name, self.help_text, labels=self.labels)
        for values, parts in sorted(series.items()):
            buckets = [(_bound_text(b), parts.get(_bound_text(b), 0.0)) for b in (*self.buckets, float("inf"))]
            histogram.add_metric(list(values), buckets, parts.get("sum", 0.0))
        return histogram


def _bound_text(bound: float) -> str:
    return "+Inf" if bound == float("inf") else repr(float(bound))


PROVIDER_ERRORS = Instrument(
    "arena_provider_errors",
    "Provider calls that produced no answer, by LLM and kind of error.",
    ("provider", "llm", "kind"),
)
PROVIDER_SECONDS = Instrument(
    "arena_provider_call_seconds",
    "Wall-clock time of provider calls (streaming included), by LLM and outcome.",
    ("provider", "llm", "outcome"),
    PROVIDER_SECONDS_BUCKETS,
)
RECOMPUTE_SECONDS = Instrument(
    "arena_recompute_seconds",
    "Duration of a default-board recomputation (raw and style-controlled fits).",
    (),
    RECOMPUTE_SECONDS_BUCKETS,
)
RECOMPUTE_CPU_SECONDS = Instrument(
    "arena_recompute_cpu_seconds",
    "CPU time of the worker's thread during a default-board recomputation (its wall time also counts the waits"
    " for a core: the worker runs at a low priority).",
    (),
    RECOMPUTE_SECONDS_BUCKETS,
)
INSTRUMENTS = (PROVIDER_ERRORS, PROVIDER_SECONDS, RECOMPUTE_SECONDS, RECOMPUTE_CPU_SECONDS)


class LocalStore:
    """One process's values (embedded mode, where web and tasks share the process)."""

    def __init__(self) -> None:
        self.values: dict[str, dict[str, float]] = defaultdict(lambda: defaultdict(float))
        self.lock = threading.Lock()

    def add(self, name: str, fields: dict[str, float]) -> None:
        with self.lock:
            for field, amount in fields.items():
                self.values[name][field] += amount

    def read(self, name: str) -> dict[str, float]:
        with self.lock:
            return dict(self.values.get(name, {}))

    def clear(self) -> None:
        with self.lock:
            self.values.clear()


class RedisStore:
    """Values shared by every process and host, in one Redis hash per instrument."""

    def __init__(self, url: str, *, timeout: float, retry_after: float) -> None:
        self.client = redis.Redis.from_url(url, socket_timeout=timeout, socket_connect_timeout=timeout)
        self.retry_after = retry_after
        self.unavailable_until = 0.0

    def add(self, name: str, fields: dict[str, float]) -> None:
        if time.monotonic() < self.unavailable_until:
            return
        try:
            pipeline = self.client.pipeline(transaction=False)
            for field, amount in fields.items():
                pipeline.hincrbyfloat(KEY_PREFIX + name, field, amount)
            pipeline.execute()
        except UNAVAILABLE as exc:
            self.unavailable_until = time.monotonic() + self.retry_after
            logger.warning("metrics store unavailable (%s); skipping it for %.1f s", exc, self.retry_after)

    def read(self, name: str) -> dict[str, float]:
        raw = self.client.hgetall(KEY_PREFIX + name)
        return {(field.decode() if isinstance(field, bytes) else field): float(value) for field, value in raw.items()}

    def clear(self) -> None:
        for instrument in INSTRUMENTS:
            self.client.delete(KEY_PREFIX + instrument.name)


_store: LocalStore | RedisStore | None = None
_store_lock = threading.Lock()


def store() -> LocalStore | RedisStore:
    """The store for this process's settings (made on first use: settings are read then, not at import)."""
    global _store
    with _store_lock:
        if _store is None:
            url = settings.ARENA_METRICS_REDIS_URL
            _store = (
                RedisStore(url, timeout=settings.ARENA_REDIS_TIMEOUT, retry_after=settings.ARENA_REDIS_RETRY_AFTER)
                if url
                else LocalStore()
            )
        return _store


def record(instrument: Instrument, *values: str, amount: float = 1.0) -> None:
    """Count ``amount`` (a counter) or observe it (a histogram) for the label ``values``."""
    try:
        store().add(instrument.name, instrument.increments([str(v) for v in values], amount))
    except Exception:  # metrics must never break the work they measure
        logger.exception("could not record %s", instrument.name)


@contextmanager
def timed(instrument: Instrument, *values: str, clock: Callable[[], float] = time.monotonic) -> Iterator[None]:
    """Observe the duration of the block by ``clock`` (also when it raises): wall time, or a thread's CPU time
    with ``time.thread_time``."""
    started = clock()
    try:
        yield
    finally:
        record(instrument, *values, amount=clock() - started)


# --- what a scrape reads ------------------------------------------------------------------------

Source = Callable[[], Iterable[Metric]]
_sources: dict[str, Source] = {}


def register_source(name: str, source: Source) -> None:
    """Add a scrape-time source of metric families (apps call this in ``AppConfig.ready``)."""
    _sources[name] = source


class _Scrape:
    """A prometheus_client collector over the registered sources and the stored instruments."""

    def collect(self) -> Iterator[Metric]:
        try:
            yield from broker_queue_length()
        except UNAVAILABLE:
            logger.exception("broker unavailable")
            yield _source_failed("broker")
        for name, source in sorted(_sources.items()):
            try:
                yield from source()
            except Exception:  # one failing source must not blank the others
                logger.exception("metrics source %s failed", name)
                yield _source_failed(name)
        for instrument in INSTRUMENTS:
            try:
                stored = store().read(instrument.name)
            except UNAVAILABLE:
                logger.exception("metrics store unavailable for %s", instrument.name)
                yield _source_failed(instrument.name)
                continue
            yield instrument.families(stored)


def _source_failed(name: str) -> Metric:
    family = GaugeMetricFamily("arena_metrics_source_failed", "1 when a metrics source failed.", labels=["source"])
    family.add_metric([name], 1.0)
    return family


def broker_queue_length() -> Iterator[Metric]:
    """Tasks waiting on the broker's queue (Celery on Redis keeps a queue as a list)."""
    url = settings.CELERY_BROKER_URL
    if not url or not url.startswith(("redis://", "rediss://", "unix://")):
        return
    queue = settings.CELERY_TASK_DEFAULT_QUEUE
    timeout = settings.ARENA_REDIS_TIMEOUT
    client = redis.Redis.from_url(url, socket_timeout=timeout, socket_connect_timeout=timeout)
    family = GaugeMetricFamily(
        "arena_task_queue_length", "Tasks waiting on the broker (generation batches and others).", labels=["queue"]
    )
    try:
        for name in dict.fromkeys(q for q in (queue, settings.ARENA_BOARDS_QUEUE) if q):
            family.add_metric([name], float(client.llen(name)))
    finally:
        client.close()
    yield family


def exposition() -> bytes:
    """The Prometheus text format of everything above."""
    registry = CollectorRegistry(auto_describe=False)
    registry.register(_Scrape())
    return generate_latest(registry)
