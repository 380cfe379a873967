"""Generation jobs end to end: a real worker, a Redis of the tests' own, Postgres, the fake provider.

One worker serves the whole module (its settings: a 4 s call deadline, 3 retries, a
breaker after 3 failures, batches of 4). The Redis is private so that other test runs
flushing the shared one cannot reset the provider limits under a test.
"""

import os
import signal
import time
import uuid
from datetime import timedelta

import pytest
from asgiref.sync import async_to_sync
from channels.testing import WebsocketCommunicator
from django.utils import timezone

from arena.asgi import application
from battles.demo.fake_provider.answers import answer
from battles.generation import breaker, job_state, jobs, tasks
from battles.models import LLM, Generation, GenerationJob
from battles.realtime import job_pushes
from tests.factories import make_llm, make_pool, make_prompt, make_user
from tests.pipeline.conftest import (
    WorkerProcess,
    _require_real_services,
    celery_and_channels_on,
    isolated_worker_env,
)

pytestmark = [pytest.mark.pipeline, pytest.mark.django_db(transaction=True)]

DEADLINE = 4
MAX_RETRIES = 3
BREAKER_THRESHOLD = 3


@pytest.fixture(scope="module")
def job_worker(django_db_setup, private_redis, tmp_path_factory):
    _require_real_services()
    queue = f"arena-jobs-{uuid.uuid4().hex[:8]}"
    env = isolated_worker_env(
        private_redis,
        queue,
        GENERATION_DEADLINE=DEADLINE,
        PROVIDER_READ_TIMEOUT=3,
        GENERATION_MAX_RETRIES=MAX_RETRIES,
        BREAKER_THRESHOLD=BREAKER_THRESHOLD,
        GENERATION_BATCH_SIZE=4,
        JOB_PROGRESS_INTERVAL=0.2,
    )
    worker = WorkerProcess(queue, env, tmp_path_factory.mktemp("worker") / "worker.log").start()
    yield worker
    worker.stop()


@pytest.fixture
def worker(job_worker, private_redis, fake_provider):
    fake_provider.reset()
    with celery_and_channels_on(private_redis, job_worker.queue):
        yield job_worker


def wait_until(predicate, timeout=60, interval=0.1, message="condition"):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(interval)
    raise AssertionError(f"timed out waiting for {message}")


def wait_for_job(job, timeout=60):
    wait_until(
        lambda: not job_state.scope(job).filter(status__in=["pending", "running"]).exists(),
        timeout=timeout,
        message=f"job {job.code} to have nothing pending or running",
    )
    wait_until(
        lambda: GenerationJob.objects.get(pk=job.pk).status == "finished",
        timeout=10,
        message="the job to be marked finished",
    )


def expected(generation):
    return answer(generation.llm_version.model_id, [{"role": "user", "content": generation.prompt.text}])


def llm_on(fake_provider, name, *, kind="openai", **limits):
    llm = make_llm(name, provider=kind, base_url=fake_provider.base_url(kind), model_id=f"{name}-id")
    if limits:
        LLM.objects.filter(pk=llm.pk).update(**limits)
        llm.refresh_from_db()
    return llm


def start(pool, *llms):
    return jobs.start_generation_job(pool=pool, versions=[llm.current_version() for llm in llms])


def test_429_500_cut_stream_and_slow_drip_are_retried_and_never_stored_partially(worker, fake_provider):
    faults = {"throttled": "429", "erroring": "500", "cut": "cut", "dripping": "drip:0.5"}
    llms = {name: llm_on(fake_provider, name, kind=("openai", "anthropic")[i % 2]) for i, name in enumerate(faults)}
    for name, fault in faults.items():
        fake_provider.set_faults(f"{name}-id", [fault])
    pool = make_pool()
    make_prompt(pool, "Explain what a load balancer does, with an example.")
    job = start(pool, *llms.values())
    wait_for_job(job)
    for generation in job_state.scope(job).select_related("prompt", "llm_version"):
        assert generation.status == "done", generation.error
        assert generation.attempts == 2, generation.llm_version.model_id
        assert generation.text == expected(generation)  # the whole answer, not the part before the fault
        assert generation.error == ""
    assert fake_provider.stats()["requests"] == {f"{name}-id": 2 for name in faults}


def test_a_transient_fault_that_outlasts_the_retry_budget_fails_with_the_reason_and_no_text(worker, fake_provider):
    llm = llm_on(fake_provider, "always-500")
    fake_provider.set_faults("always-500-id", ["500"] * (MAX_RETRIES + 2))
    pool = make_pool()
    make_prompt(pool, "Summarise the plot of a heist film in three lines.")
    job = start(pool, llm)
    wait_for_job(job, timeout=90)
    generation = job_state.scope(job).get()
    assert generation.status == "failed"
    assert generation.attempts == MAX_RETRIES + 1
    assert "HTTP 500" in generation.error and f"gave up after {MAX_RETRIES + 1} attempts" in generation.error
    assert generation.text == ""
    assert fake_provider.stats()["requests"]["always-500-id"] == MAX_RETRIES + 1


def test_401_fails_after_exactly_one_attempt_with_a_clear_reason(worker, fake_provider):
    llm = llm_on(fake_provider, "locked-out")
    fake_provider.set_faults("locked-out-id", ["401", "401"])
    pool = make_pool()
    for i in range(2):
        make_prompt(pool, f"Question {i}: what is a race condition?")
    job = start(pool, llm)
    wait_for_job(job)
    for generation in job_state.scope(job):
        assert generation.status == "failed"
        assert generation.attempts == 1
        assert generation.error.startswith("HTTP 401") and "API key" in generation.error
    assert fake_provider.stats()["requests"]["locked-out-id"] == 2
    llm.refresh_from_db()
    assert llm.breaker_opened_at is None and llm.consecutive_failures == 2


def test_the_breaker_stops_calls_after_repeated_failures_and_a_reset_lets_the_job_run_again(worker, fake_provider):
    llm = llm_on(fake_provider, "broken", max_concurrency=1)
    fake_provider.set_faults("broken-id", ["401"] * 10)
    pool = make_pool()
    for i in range(8):
        make_prompt(pool, f"Prompt {i}: name a prime number above {i * 10}.")
    job = start(pool, llm)
    wait_for_job(job)
    assert fake_provider.stats()["requests"]["broken-id"] == BREAKER_THRESHOLD
    llm.refresh_from_db()
    assert llm.breaker_opened_at is not None
    assert "401" in llm.breaker_reason
    failed = job_state.scope(job).filter(status="failed")
    assert failed.count() == 8
    assert failed.filter(error__startswith="Circuit breaker open").count() == 8 - BREAKER_THRESHOLD
    assert "Circuit breaker open" in job_pushes.render_progress(job)

    fake_provider.reset()
    assert breaker.reset(llm=llm)
    second = start(pool, llm)
    assert second.queued == 8
    wait_for_job(second)
    assert job_state.scope(second).filter(status="done").count() == 8
    assert all(g.attempts == 1 for g in job_state.scope(second))  # a new job gives each a fresh budget


def test_the_provider_concurrency_limit_holds_across_worker_processes(worker, fake_provider):
    fake_provider.configure(latency=0.3)
    llm = llm_on(fake_provider, "narrow", max_concurrency=3)
    pool = make_pool()
    for i in range(24):
        make_prompt(pool, f"Limit prompt {i}: give one tip for writing tests.")
    job = start(pool, llm)  # six batches of four, over both worker processes
    wait_for_job(job)
    stats = fake_provider.stats()
    assert stats["requests"]["narrow-id"] == 24
    assert stats["max_in_flight"]["narrow-id"] == 3
    assert job_state.scope(job).filter(status="done").count() == 24


def test_a_worker_killed_in_the_middle_of_a_stream_completes_the_answer_exactly_once(worker, fake_provider):
    fake_provider.configure(latency=0.1, tokens_per_second=60)  # 150 tokens: the answer streams for 2.5 s
    llm = llm_on(fake_provider, "streamer")
    pool = make_pool()
    prompt = make_prompt(pool, "Describe how TCP slow start works.")
    job = start(pool, llm)
    generation = job_state.scope(job).get()
    wait_until(lambda: fake_provider.stats()["in_flight"].get("streamer-id") == 1, message="the call to start")
    time.sleep(1.0)  # not a check: lets the kill land well into the 2.5 s stream rather than at its start
    assert Generation.objects.get(pk=generation.pk).status == "running"
    for pid in worker.children():
        os.kill(pid, signal.SIGKILL)
    wait_for_job(job)
    generation.refresh_from_db()
    assert Generation.objects.filter(prompt=prompt).count() == 1
    assert generation.status == "done" and generation.attempts == 2
    assert generation.text == expected(generation)
    assert generation.ttft_ms is not None and generation.latency_ms > generation.ttft_ms
    assert fake_provider.stats()["requests"]["streamer-id"] == 2
    wait_until(worker.idle, timeout=30, message="the worker to have nothing left to run")
    assert Generation.objects.get(pk=generation.pk).status == "done"


def test_the_reconciler_requeues_generations_stuck_in_running_past_their_deadline(worker, fake_provider):
    llm = llm_on(fake_provider, "orphaned")
    version = llm.current_version()
    pool = make_pool()
    stuck, busy, lost = (make_prompt(pool, f"Reconciler prompt {i}: what is idempotency?") for i in range(3))
    long_ago = timezone.now() - timedelta(hours=1)
    stuck = Generation.objects.create(
        prompt=stuck, llm_version=version, status="running", attempts=1, started_at=long_ago, claim_token=uuid.uuid4()
    )
    busy = Generation.objects.create(
        prompt=busy,
        llm_version=version,
        status="running",
        attempts=1,
        started_at=timezone.now(),
        claim_token=uuid.uuid4(),
    )
    lost = Generation.objects.create(prompt=lost, llm_version=version, due_at=long_ago)  # its message was lost

    assert tasks.reconcile_generations() == 2

    wait_until(
        lambda: Generation.objects.filter(pk__in=[stuck.pk, lost.pk], status="done").count() == 2,
        message="the stuck and the lost generation to be done",
    )
    stuck.refresh_from_db()
    assert stuck.attempts == 2 and stuck.text == expected(stuck)
    busy.refresh_from_db()
    assert busy.status == "running" and busy.attempts == 1  # still within its deadline: left alone
    assert fake_provider.stats()["requests"]["orphaned-id"] == 2


def test_the_job_page_follows_progress_over_the_websocket_until_the_job_finishes(worker, fake_provider, client):
    fake_provider.configure(latency=0.3)
    llm = llm_on(fake_provider, "watched", max_concurrency=2)
    pool = make_pool("watched-pool")
    for i in range(8):
        make_prompt(pool, f"Watched prompt {i}: explain a hash map.")
    admin = make_user("job-admin", role="admin", is_staff=True)
    client.force_login(admin)
    job = start(pool, llm)
    page = client.get(f"/admin/battles/generationjob/{job.code}/progress/")
    assert page.status_code == 200
    assert f'data-socket="/ws/jobs/{job.code}/"' in page.content.decode()
    headers = [
        (b"origin", b"http://127.0.0.1"),
        (b"host", b"127.0.0.1"),
        (b"cookie", f"sessionid={client.cookies['sessionid'].value}".encode()),
    ]

    async def frames_until_finished():
        communicator = WebsocketCommunicator(application, f"/ws/jobs/{job.code}/", headers=headers)
        connected, _ = await communicator.connect(timeout=10)
        assert connected
        frames = [await communicator.receive_from(timeout=10)]
        while 'data-status="finished"' not in frames[-1]:
            frames.append(await communicator.receive_from(timeout=30))
        await communicator.disconnect()
        return frames

    frames = async_to_sync(frames_until_finished)()
    assert len(frames) >= 3  # the state on connect, updates from the worker, the finish
    done_counts = [int(f.split('data-count="done">')[1].split("<")[0]) for f in frames]
    assert done_counts == sorted(done_counts) and done_counts[-1] == 8
    assert "watched" in frames[-1] and "Finished" in frames[-1]
