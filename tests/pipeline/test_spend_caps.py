"""Monthly spend caps in the real pipeline: a worker process, a Redis of the tests' own, the fake provider."""

import uuid
from decimal import Decimal

import pytest
from django.db import transaction
from django.utils import timezone

from battles.generation import job_state
from battles.models import LLM
from battles.realtime import job_pushes
from tests.factories import make_generation, make_pool, make_prompt
from tests.pipeline.conftest import WorkerProcess, _require_real_services, celery_and_channels_on, isolated_worker_env
from tests.pipeline.test_generation_jobs import llm_on, start, wait_for_job

pytestmark = [pytest.mark.pipeline, pytest.mark.django_db(transaction=True)]


@pytest.fixture(scope="module")
def cap_worker(django_db_setup, private_redis, tmp_path_factory):
    _require_real_services()
    queue = f"arena-caps-{uuid.uuid4().hex[:8]}"
    env = isolated_worker_env(private_redis, queue, GENERATION_DEADLINE=10, GENERATION_BATCH_SIZE=4)
    worker = WorkerProcess(queue, env, tmp_path_factory.mktemp("worker") / "worker.log").start()
    yield worker
    worker.stop()


@pytest.fixture
def worker(cap_worker, private_redis, fake_provider):
    fake_provider.reset()
    with celery_and_channels_on(private_redis, cap_worker.queue):
        yield cap_worker


def priced(fake_provider, name, **fields):
    """An LLM whose answers cost one dollar per output token."""
    llm = llm_on(fake_provider, name)
    LLM.objects.filter(pk=llm.pk).update(price_output_per_mtok=Decimal(1_000_000), **fields)
    llm.refresh_from_db()
    return llm


def test_a_cap_reached_before_the_worker_runs_stops_every_call_and_the_job_page_says_why(worker, fake_provider):
    llm = priced(fake_provider, "spent-out")
    make_generation(make_prompt(make_pool()), llm, cost=Decimal("40"), finished_at=timezone.now())
    pool = make_pool()
    for i in range(3):
        make_prompt(pool, f"Capped question {i}: what is a mutex?")
    with transaction.atomic():  # the cap is lowered after the job started, before the worker sees it
        job = start(pool, llm)
        LLM.objects.filter(pk=llm.pk).update(monthly_spend_cap=Decimal("40"))
    wait_for_job(job)
    failed = job_state.scope(job).filter(status="failed")
    assert failed.count() == 3
    assert all(
        g.error.startswith("Monthly spend cap reached: spent-out has cost $40.00 of its $40.00 cap") for g in failed
    )
    assert fake_provider.stats()["requests"].get("spent-out-id", 0) == 0
    page = job_pushes.render_progress(job)
    assert "Monthly spend cap reached:" in page and "no new calls go to these LLMs" in page


def test_a_cap_reached_during_a_job_stops_the_calls_after_it(worker, fake_provider):
    llm = priced(fake_provider, "budgeted", max_concurrency=1, monthly_spend_cap=Decimal("1"))
    pool = make_pool()
    for i in range(6):
        make_prompt(pool, f"Budget question {i}: explain a hash map.")
    job = start(pool, llm)
    wait_for_job(job)
    done = job_state.scope(job).filter(status="done")
    failed = job_state.scope(job).filter(status="failed")
    # The first answer reaches the cap; one more may already have passed the check while it was being stored.
    assert 1 <= done.count() <= 2
    assert failed.count() == 6 - done.count()
    assert all(g.error.startswith("Monthly spend cap reached: budgeted") for g in failed)
    assert fake_provider.stats()["requests"]["budgeted-id"] == done.count()
    assert "Monthly spend cap reached: budgeted" in job_pushes.render_progress(job)
