"""End to end: a real Celery worker process, Redis, Postgres and the fake provider server."""

import os
import signal
import time

import pytest

from battles.demo.fake_provider.answers import answer
from battles.generation import jobs
from battles.models import Generation
from battles.voting import serving, votes
from tests.factories import make_llm, make_pool, make_prompt

pytestmark = [pytest.mark.pipeline, pytest.mark.django_db(transaction=True)]


def wait_until(predicate, timeout=60, interval=0.2, message="condition"):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(interval)
    raise AssertionError(f"timed out waiting for {message}")


def _llms(fake_provider, *names):
    kinds = ("openai", "anthropic")
    llms = []
    for i, name in enumerate(names):
        kind = kinds[i % 2]
        url = f"{fake_provider.url}/v1" if kind == "openai" else fake_provider.url
        llms.append(make_llm(name, provider=kind, base_url=url, model_id=f"{name}-id"))
    return llms


def test_worker_generates_every_answer_once(celery_worker_process, fake_provider):
    fake_provider.reset()
    pool = make_pool()
    prompts = [make_prompt(pool, f"Pipeline prompt {i}: how do I rotate a log file?") for i in range(4)]
    llms = _llms(fake_provider, "pipe-one", "pipe-two")
    queued = jobs.enqueue_generations(pool=pool, versions=[llm.current_version() for llm in llms])
    assert queued == 8
    generations = Generation.objects.filter(prompt__pool=pool)
    wait_until(lambda: generations.filter(status="done").count() == 8, message="8 done generations")
    for generation in generations.select_related("prompt", "llm_version"):
        expected = answer(generation.llm_version.model_id, [{"role": "user", "content": generation.prompt.text}])
        assert generation.text == expected
        assert generation.tokens_out and generation.latency_ms is not None
    assert len(prompts) * len(llms) == generations.count()


def test_transient_errors_are_retried_and_401_fails_once_with_a_reason(celery_worker_process, fake_provider):
    fake_provider.reset()
    pool = make_pool()
    make_prompt(pool, "Summarise our on-call policy in two sentences.")
    flaky, locked = _llms(fake_provider, "flaky", "locked")
    fake_provider.set_faults("flaky-id", ["500", "429"])
    fake_provider.set_faults("locked-id", ["401"])
    jobs.enqueue_generations(pool=pool, versions=[flaky.current_version(), locked.current_version()])
    flaky_gen = Generation.objects.get(llm_version__llm=flaky)
    locked_gen = Generation.objects.get(llm_version__llm=locked)
    wait_until(
        lambda: Generation.objects.filter(pk=flaky_gen.pk, status="done").exists(),
        timeout=90,
        message="the flaky generation to succeed after retries",
    )
    wait_until(
        lambda: Generation.objects.filter(pk=locked_gen.pk, status="failed").exists(),
        message="the 401 generation to fail",
    )
    flaky_gen.refresh_from_db()
    locked_gen.refresh_from_db()
    assert flaky_gen.attempts == 3
    assert locked_gen.attempts == 1
    assert locked_gen.error.startswith("HTTP 401 "), locked_gen.error
    assert fake_provider.stats()["requests"]["locked-id"] == 1


def test_worker_killed_mid_generation_leaves_exactly_one_answer(celery_worker_process, fake_provider):
    fake_provider.reset()
    pool = make_pool()
    prompt = make_prompt(pool, "Explain what a write-ahead log is.")
    (llm,) = _llms(fake_provider, "killable")
    fake_provider.set_faults("killable-id", ["hang"])  # the first request hangs
    jobs.enqueue_generations(pool=pool, versions=[llm.current_version()])
    generation = Generation.objects.get(prompt=prompt)
    wait_until(
        lambda: (
            fake_provider.stats()["requests"].get("killable-id", 0) == 1
            and Generation.objects.get(pk=generation.pk).status == "running"
        ),
        message="the generation to be in flight",
    )
    busy_children = celery_worker_process.children()
    assert busy_children, "the worker has no pool processes"
    for pid in busy_children:
        os.kill(pid, signal.SIGKILL)
    wait_until(
        lambda: Generation.objects.get(pk=generation.pk).status == "done",
        timeout=90,
        message="the redelivered task to finish the generation",
    )
    generation.refresh_from_db()
    assert Generation.objects.filter(prompt=prompt).count() == 1
    assert generation.attempts == 2
    assert generation.text == answer("killable-id", [{"role": "user", "content": prompt.text}])
    assert "WorkerLostError: Worker exited prematurely: signal 9 (SIGKILL)" in celery_worker_process.output()
    wait_until(celery_worker_process.idle, timeout=30, message="the worker to have nothing left to run")
    assert Generation.objects.get(pk=generation.pk).status == "done"
    assert fake_provider.stats()["requests"]["killable-id"] == 2


def test_a_burst_of_votes_causes_one_recomputation_by_the_worker(celery_worker_process, settings, monkeypatch):
    """Real worker, real Redis cache: 12 votes within the debounce window → one new snapshot."""
    from battles.models import Vote
    from ratings.models import RatingSnapshot
    from ratings.tasks import recompute_leaderboard
    from tests.factories import make_arena, make_user

    settings.ARENA_MIN_VOTE_BASE_MS = 0
    settings.ARENA_MIN_VOTE_CHARS_PER_SECOND = 1e12
    # The window must outlast the burst even on a loaded machine (12 votes took over 2 s in one CI run):
    # once the worker starts the recomputation, the next vote rightly queues another.
    settings.ARENA_RATINGS_DEBOUNCE_SECONDS = 10  # the worker reads its own setting (1 s); this one queues
    make_arena(llms=("burst-a", "burst-b", "burst-c"), prompts=12)
    queued = []
    publish = recompute_leaderboard.apply_async
    monkeypatch.setattr(
        recompute_leaderboard, "apply_async", lambda *args, **kwargs: queued.append(kwargs) or publish(*args, **kwargs)
    )
    voter = make_user("burst-voter")
    for _ in range(12):
        battle = serving.serve_battle(voter=voter).battle
        votes.record_vote(battle_code=battle.code, voter=voter, outcome="a")
    assert Vote.objects.filter(flagged=False).count() == 12
    assert len(queued) == 1  # the burst queued one recomputation
    wait_until(
        lambda: RatingSnapshot.objects.filter(scope="default").exists(),
        timeout=30,
        message="the debounced recomputation",
    )
    wait_until(celery_worker_process.idle, timeout=30, message="the worker to have nothing left to run")
    snapshots = list(RatingSnapshot.objects.filter(scope="default"))
    assert len(snapshots) == 1
    assert snapshots[0].vote_count == 12
