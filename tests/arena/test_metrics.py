"""GET /metrics: who may read it, and what it says, from the database, the broker and the shared store."""

import ipaddress
import os
import subprocess
import sys
from datetime import timedelta
from pathlib import Path

import pytest
import redis
from django.test import Client
from django.utils import timezone
from prometheus_client.parser import text_string_to_metric_families

from arena import metrics
from battles.models import Battle, Generation, Vote
from ratings import tasks
from tests.factories import make_arena, make_user
from tests.ratings.helpers import make_votes

ROOT = Path(__file__).resolve().parents[2]
TOKEN = "metrics-token-for-tests"

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _fresh_store():
    metrics.store().clear()
    yield


def scrape(client=None) -> dict[tuple[str, tuple], float]:
    response = (client or Client()).get("/metrics", headers={"Authorization": f"Bearer {TOKEN}"})
    assert response.status_code == 200, response.content
    assert response["Content-Type"].startswith("text/plain; version=")
    samples = {}
    for family in text_string_to_metric_families(response.content.decode()):
        for sample in family.samples:
            samples[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return samples


def test_metrics_do_not_exist_until_a_token_or_network_is_configured(settings):
    settings.ARENA_METRICS_TOKEN = ""
    settings.ARENA_METRICS_ALLOWED_NETWORKS = []
    assert Client().get("/metrics").status_code == 404


def test_metrics_need_the_bearer_token(settings):
    settings.ARENA_METRICS_TOKEN = TOKEN
    client = Client()
    missing = client.get("/metrics")
    assert missing.status_code == 401 and missing["WWW-Authenticate"].startswith("Bearer")
    assert client.get("/metrics", headers={"Authorization": "Bearer wrong"}).status_code == 401
    assert client.get("/metrics", headers={"Authorization": f"Basic {TOKEN}"}).status_code == 401
    assert client.get("/metrics", headers={"Authorization": f"Bearer {TOKEN}"}).status_code == 200
    assert client.post("/metrics", headers={"Authorization": f"Bearer {TOKEN}"}).status_code == 405


def test_metrics_are_open_to_the_allowed_networks_only(settings):
    settings.ARENA_METRICS_TOKEN = ""
    settings.ARENA_METRICS_ALLOWED_NETWORKS = [ipaddress.ip_network("10.0.0.0/8")]
    assert Client(REMOTE_ADDR="10.1.2.3").get("/metrics").status_code == 200
    assert Client(REMOTE_ADDR="192.168.1.9").get("/metrics").status_code == 401
    settings.TRUSTED_PROXY_COUNT = 1  # behind the proxy, the client is the last forwarded hop
    assert Client(REMOTE_ADDR="10.0.0.2").get("/metrics", headers={"X-Forwarded-For": "203.0.113.5"}).status_code == 401
    assert Client(REMOTE_ADDR="10.0.0.2").get("/metrics", headers={"X-Forwarded-For": "10.9.9.9"}).status_code == 200


def test_gauges_count_votes_open_battles_and_queued_generations(settings):
    settings.ARENA_METRICS_TOKEN = TOKEN
    pool, llms, prompts = make_arena(prompts=3)
    voter = make_user()
    a, b = llms[0].current_version(), llms[1].current_version()
    generations = list(Generation.objects.filter(llm_version__in=[a, b], prompt=prompts[0]).order_by("llm_version"))
    for live in (False, False, True):
        Battle.objects.create(
            voter=voter,
            prompt=prompts[0],
            generation_a=generations[0],
            generation_b=generations[1],
            version_a=a,
            version_b=b,
            live=live,
        )
    old = timezone.now() - timedelta(minutes=5)
    Vote.objects.create(outcome="a", version_a=a, version_b=b, created_at=old)
    Vote.objects.create(outcome="b", version_a=a, version_b=b)
    Vote.objects.create(outcome="tie", version_a=a, version_b=b, live=True)
    Vote.objects.create(outcome="a", version_a=a, version_b=b, imported=True)  # not cast here: not counted
    Generation.objects.filter(pk=generations[0].pk).update(status="pending")
    Generation.objects.filter(pk=generations[1].pk).update(status="running")

    samples = scrape()
    assert samples[("arena_votes_total", (("kind", "pool"),))] == 2
    assert samples[("arena_votes_total", (("kind", "live"),))] == 1
    assert samples[("arena_votes_last_minute", (("kind", "pool"),))] == 1
    assert samples[("arena_votes_last_minute", (("kind", "live"),))] == 1
    assert samples[("arena_open_battles", (("kind", "pool"),))] == 2
    assert samples[("arena_open_battles", (("kind", "live"),))] == 1
    assert samples[("arena_generations_queued", (("status", "pending"),))] == 1
    assert samples[("arena_generations_queued", (("status", "running"),))] == 1


def test_snapshot_lag_and_recompute_duration(settings):
    settings.ARENA_METRICS_TOKEN = TOKEN
    make_votes({"alpha": 1000, "beta": 1100}, per_pair=20)
    assert scrape()[("arena_snapshot_lag_votes", ())] == 20
    tasks.recompute_leaderboard.delay()  # eager here: the task as a worker runs it
    samples = scrape()
    assert samples[("arena_snapshot_lag_votes", ())] == 0
    assert samples[("arena_snapshot_lag_seconds", ())] == 0
    assert samples[("arena_snapshot_fit_seconds", ())] >= 0
    assert samples[("arena_recompute_seconds_count", ())] == 1
    assert samples[("arena_recompute_seconds_bucket", (("le", "+Inf"),))] == 1
    assert samples[("arena_recompute_seconds_sum", ())] > 0
    # Its CPU time beside: never more than the wall time on one thread.
    assert samples[("arena_recompute_cpu_seconds_count", ())] == 1
    assert 0 < samples[("arena_recompute_cpu_seconds_sum", ())] <= samples[("arena_recompute_seconds_sum", ())]
    make_votes({"alpha": 1000, "beta": 1100}, per_pair=3, seed=1)  # after the fit: waiting for the next
    samples = scrape()
    assert samples[("arena_snapshot_lag_votes", ())] == 3
    assert samples[("arena_snapshot_lag_seconds", ())] > 0


@pytest.mark.skipif(not os.environ.get("REDIS_URL"), reason="the shared store is Redis")
def test_counters_recorded_by_another_process_are_in_this_process_scrape(settings):
    """What a Celery worker records (another process, maybe another host) is read by the web process."""
    settings.ARENA_METRICS_TOKEN = TOKEN
    code = (
        "import django; django.setup()\n"
        "from arena import metrics\n"
        "metrics.record(metrics.PROVIDER_ERRORS, 'openai', 'far-away', 'rate_limited')\n"
        "metrics.record(metrics.PROVIDER_ERRORS, 'openai', 'far-away', 'rate_limited')\n"
        "metrics.record(metrics.PROVIDER_SECONDS, 'openai', 'far-away', 'ok', amount=1.5)\n"
    )
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "arena.settings"}
    subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=env, check=True, timeout=60)
    samples = scrape()
    errors = (("kind", "rate_limited"), ("llm", "far-away"), ("provider", "openai"))
    assert samples[("arena_provider_errors_total", errors)] == 2
    latency = (("llm", "far-away"), ("outcome", "ok"), ("provider", "openai"))
    assert samples[("arena_provider_call_seconds_count", latency)] == 1
    assert samples[("arena_provider_call_seconds_bucket", (("le", "1.0"), *latency))] == 0
    assert samples[("arena_provider_call_seconds_bucket", (("le", "2.0"), *latency))] == 1


def test_the_broker_queue_length_is_read_from_redis(settings):
    if not settings.CELERY_BROKER_URL.startswith("redis"):
        pytest.skip("needs a Redis broker")
    settings.ARENA_METRICS_TOKEN = TOKEN
    settings.CELERY_TASK_DEFAULT_QUEUE = "arena-metrics-test-queue"
    settings.ARENA_BOARDS_QUEUE = "arena-metrics-test-boards"
    broker = redis.Redis.from_url(settings.CELERY_BROKER_URL)
    broker.delete("arena-metrics-test-queue", "arena-metrics-test-boards")
    broker.rpush("arena-metrics-test-queue", "a", "b", "c")
    broker.rpush("arena-metrics-test-boards", "d")
    try:
        scraped = scrape()
        assert scraped[("arena_task_queue_length", (("queue", "arena-metrics-test-queue"),))] == 3
        assert scraped[("arena_task_queue_length", (("queue", "arena-metrics-test-boards"),))] == 1
    finally:
        broker.delete("arena-metrics-test-queue", "arena-metrics-test-boards")


def test_a_store_that_is_down_loses_the_increment_without_failing_or_waiting(settings):
    store = metrics.RedisStore("redis://127.0.0.1:1/0", timeout=0.2, retry_after=60)
    store.add("arena_provider_errors", {"[]": 1.0})  # connection refused: logged, skipped
    assert store.unavailable_until > 0
    started = timezone.now()
    store.add("arena_provider_errors", {"[]": 1.0})  # skipped at once for retry_after seconds
    assert (timezone.now() - started).total_seconds() < 0.05
