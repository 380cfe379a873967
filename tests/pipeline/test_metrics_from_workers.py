"""Provider latency and errors recorded by a real Celery worker process are in the web process's /metrics."""

import pytest
from django.test import Client
from prometheus_client.parser import text_string_to_metric_families

from arena import metrics
from battles.generation import jobs
from battles.models import Generation
from tests.factories import make_llm, make_pool, make_prompt
from tests.pipeline.test_generation_pipeline import wait_until

pytestmark = [pytest.mark.pipeline, pytest.mark.django_db(transaction=True)]


def test_worker_provider_calls_reach_the_scrape(celery_worker_process, fake_provider, settings):
    settings.ARENA_METRICS_TOKEN = "worker-metrics-token"
    metrics.store().clear()
    fake_provider.reset()
    pool = make_pool()
    make_prompt(pool, "Explain what a metrics endpoint is for.")
    llm = make_llm("metered", base_url=f"{fake_provider.url}/v1", model_id="metered-id")
    fake_provider.set_faults("metered-id", ["429", "500"])
    jobs.enqueue_generations(pool=pool, versions=[llm.current_version()])
    done = Generation.objects.filter(status="done")
    wait_until(done.exists, timeout=90, message="the answer after retries")

    response = Client().get("/metrics", headers={"Authorization": "Bearer worker-metrics-token"})
    samples = {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(response.content.decode())
        for sample in family.samples
    }
    labels = (("llm", "metered"), ("provider", "openai"))
    assert samples[("arena_provider_errors_total", (("kind", "rate_limited"), *labels))] == 1
    assert samples[("arena_provider_errors_total", (("kind", "server_error"), *labels))] == 1
    assert samples[("arena_provider_call_seconds_count", (*labels[:1], ("outcome", "error"), *labels[1:]))] == 2
    assert samples[("arena_provider_call_seconds_count", (*labels[:1], ("outcome", "ok"), *labels[1:]))] == 1
