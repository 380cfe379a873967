"""The generation runner in-process: limits, claims, outcomes (the worker process version is in
tests/pipeline)."""

import asyncio
import threading
import uuid
from datetime import timedelta

import pytest
from asgiref.sync import async_to_sync
from django.utils import timezone

from battles.core.rendering import html_key, stored_html
from battles.generation import claims, concurrency, runner
from battles.models import Generation
from tests.battles.generation.helpers import expected_answer, llm_on, pool_with
from tests.factories import make_prompt

pytestmark = pytest.mark.django_db(transaction=True)


def pending_generations(pool, llm):
    version = llm.current_version()
    return [Generation.objects.create(prompt=p, llm_version=version) for p in pool.prompts.order_by("pk")]


def test_a_batch_keeps_no_more_calls_in_flight_than_the_llm_allows(provider, private_redis, settings):
    settings.REDIS_URL = private_redis.url(0)
    provider.configure(latency=0.2)
    llm = llm_on(provider, "narrow", max_concurrency=3)
    generations = pending_generations(pool_with(12), llm)
    outcomes = runner.run_batch([g.pk for g in generations])
    assert {o.status for o in outcomes.values()} == {"done"}
    stats = provider.stats()
    assert stats["max_in_flight"]["narrow-id"] == 3 and stats["requests"]["narrow-id"] == 12


def test_calls_overlap_inside_one_batch(provider, private_redis, settings):
    settings.REDIS_URL = private_redis.url(0)
    provider.configure(latency=0.3)
    llm = llm_on(provider, "wide")
    generations = pending_generations(pool_with(20), llm)
    runner.run_batch([g.pk for g in generations])
    assert provider.stats()["max_in_flight"]["wide-id"] == 20


def test_a_generation_running_elsewhere_is_left_alone_unless_its_task_was_redelivered(provider):
    llm = llm_on(provider, "shared")
    generation = Generation.objects.create(
        prompt=make_prompt(pool_with(0), "Claimed by another worker"),
        llm_version=llm.current_version(),
        status="running",
        attempts=1,
        started_at=timezone.now(),
        claim_token=uuid.uuid4(),
    )
    assert runner.run_batch([generation.pk])[generation.pk].status == "skipped"
    assert provider.stats()["requests"] == {}
    outcome = runner.run_batch([generation.pk], takeover=True)[generation.pk]
    generation.refresh_from_db()
    assert outcome.status == "done" and generation.attempts == 2
    assert generation.text == expected_answer(generation)


def test_a_claim_older_than_the_deadline_is_taken_over(provider):
    llm = llm_on(provider, "abandoned")
    generation = Generation.objects.create(
        prompt=make_prompt(pool_with(0), "Its worker died"),
        llm_version=llm.current_version(),
        status="running",
        attempts=1,
        claim_token=uuid.uuid4(),
        started_at=timezone.now() - timedelta(seconds=claims.stale_after_seconds() + 1),
    )
    assert runner.run_batch([generation.pk])[generation.pk].status == "done"


def test_a_transient_error_hands_the_generation_back_with_the_provider_s_retry_after(provider):
    llm = llm_on(provider, "busy")
    provider.set_faults("busy-id", ["429:7"])
    (generation,) = pending_generations(pool_with(1), llm)
    outcome = runner.run_batch([generation.pk])[generation.pk]
    assert (outcome.status, outcome.retry_after, outcome.attempts) == ("retry", 7.0, 1)
    generation.refresh_from_db()
    assert generation.status == "pending" and generation.text == "" and "429" in generation.error
    assert timedelta(seconds=6) < generation.due_at - timezone.now() <= timedelta(seconds=7)


def test_a_refused_base_url_fails_at_once_without_a_call(provider, settings):
    llm = llm_on(provider, "private")
    (generation,) = pending_generations(pool_with(1), llm)
    settings.ARENA_ALLOW_PRIVATE_ENDPOINTS = False  # the fake provider listens on 127.0.0.1
    outcome = runner.run_batch([generation.pk])[generation.pk]
    generation.refresh_from_db()
    assert outcome.status == "failed" and generation.attempts == 1
    assert generation.error.startswith("base URL refused")
    assert provider.stats()["requests"] == {}


def test_finished_generations_are_skipped_without_a_call(provider):
    llm = llm_on(provider, "finished")
    (generation,) = pending_generations(pool_with(1), llm)
    runner.run_batch([generation.pk])
    assert runner.run_batch([generation.pk])[generation.pk].status == "skipped"
    assert provider.stats()["requests"]["finished-id"] == 1


def test_database_calls_made_while_one_runs_go_together_in_the_next_call_in_order():
    seen = []
    first_running, finish_first = threading.Event(), threading.Event()

    def many(items):
        seen.append(list(items))
        if "a" in items:
            first_running.set()
            finish_first.wait(10)  # a slow first call: b and c arrive meanwhile
        if "boom" in items:
            raise ValueError("bad batch")
        return [item.upper() for item in items]

    async def scenario():
        database = concurrency.Database()
        coalesced = concurrency.Coalescer(database, many)
        first = asyncio.ensure_future(coalesced("a"))
        await asyncio.get_running_loop().run_in_executor(None, first_running.wait, 10)
        later = [asyncio.ensure_future(coalesced("b")), asyncio.ensure_future(coalesced("c"))]
        await asyncio.sleep(0)  # both are queued behind the running call
        finish_first.set()
        rest = await asyncio.gather(*later)
        failed = await asyncio.gather(coalesced("boom"), return_exceptions=True)
        return [await first, *rest], failed

    results, failed = async_to_sync(scenario)()
    assert results == ["A", "B", "C"]
    assert seen[:2] == [["a"], ["b", "c"]]
    assert isinstance(failed[0], ValueError)


def test_an_answer_is_stored_with_its_html_rendered_by_the_worker(provider):
    llm = llm_on(provider, "html")
    (generation,) = pending_generations(pool_with(1), llm)
    runner.run_batch([generation.pk])
    generation.refresh_from_db()
    assert generation.status == "done" and generation.text == expected_answer(generation)
    # The pages then read it: the HTML this renderer makes of this very text, under the current key.
    assert (generation.html, generation.html_key) == stored_html(generation.text)
    assert generation.html_key == html_key(generation.text) and generation.html.startswith("<")
