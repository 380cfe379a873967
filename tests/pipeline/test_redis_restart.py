"""Redis restarted in the middle of a job: the queue is gone, the job still completes, once.

Redis here runs without persistence, so the restart loses every queued and unacknowledged
message, the provider slots and the throttle windows. What brings the job home: calls in
flight finish and store (Postgres is the record), the worker and its embedded beat
reconnect, and the periodic reconciler re-queues the pending generations whose messages
were lost; claims make sure none is generated twice.
"""

import time
import uuid

import pytest

from battles.demo.fake_provider.answers import answer
from battles.generation import job_state, jobs
from battles.models import LLM, GenerationJob
from tests.factories import make_llm, make_pool, make_prompt
from tests.pipeline.conftest import (
    WorkerProcess,
    _require_real_services,
    celery_and_channels_on,
    isolated_worker_env,
)

pytestmark = [pytest.mark.pipeline, pytest.mark.django_db(transaction=True)]

GENERATIONS = 60


def wait_until(predicate, timeout=90, interval=0.1, message="condition"):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(interval)
    raise AssertionError(f"timed out waiting for {message}")


def test_a_job_survives_a_redis_restart_and_stores_every_answer_exactly_once(
    private_redis, fake_provider, tmp_path, settings
):
    _require_real_services()
    settings.ARENA_GENERATION_BATCH_SIZE = 5  # many small batches: most are still queued at the restart
    fake_provider.reset()
    fake_provider.configure(latency=0.25)
    queue = f"arena-restart-{uuid.uuid4().hex[:8]}"
    env = isolated_worker_env(
        private_redis, queue, RECONCILE_EVERY_SECONDS=1, GENERATION_REQUEUE_AFTER=3, GENERATION_BATCH_SIZE=5
    )
    worker = WorkerProcess(queue, env, tmp_path / "worker.log", beat_schedule=tmp_path / "beat-schedule").start()
    try:
        llm = make_llm("restartable", base_url=fake_provider.base_url("openai"), model_id="restartable-id")
        LLM.objects.filter(pk=llm.pk).update(max_concurrency=4)
        pool = make_pool()
        for i in range(GENERATIONS):
            make_prompt(pool, f"Restart prompt {i}: how does a message queue acknowledge work?")
        with celery_and_channels_on(private_redis, queue):
            job = jobs.start_generation_job(pool=pool, versions=[llm.current_version()])
        scope = job_state.scope(job)
        wait_until(lambda: scope.filter(status="done").count() >= GENERATIONS // 4, message="a quarter done")

        private_redis.restart()
        assert scope.filter(status="pending").count() > GENERATIONS // 2  # their messages are gone now

        wait_until(
            lambda: scope.filter(status="done").count() == GENERATIONS,
            timeout=120,
            message=f"all {GENERATIONS} answers after the restart",
        )
        wait_until(
            lambda: GenerationJob.objects.get(pk=job.pk).status == "finished",
            timeout=30,
            message="the reconciler to finish the job",
        )
    except BaseException:
        print(worker.output()[-6000:])
        raise
    finally:
        worker.stop()
    assert scope.count() == GENERATIONS
    for generation in scope.select_related("prompt"):
        assert generation.attempts == 1
        assert generation.text == answer("restartable-id", [{"role": "user", "content": generation.prompt.text}])
    stats = fake_provider.stats()
    assert stats["requests"]["restartable-id"] == GENERATIONS  # no answer was asked for twice
