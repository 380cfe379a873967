"""The circuit breaker: repeated failed generations stop the calls to an LLM until an admin resets it."""

import pytest

from battles.generation import breaker, job_state, jobs
from battles.models import LLM
from battles.realtime import job_pushes
from tests.battles.generation.helpers import llm_on, pool_with
from tests.factories import make_llm

pytestmark = pytest.mark.django_db(transaction=True)


def test_consecutive_failures_open_the_breaker_and_a_success_in_between_starts_the_count_again(settings):
    settings.ARENA_BREAKER_THRESHOLD = 3
    llm = make_llm("wobbly")
    assert not breaker.record_failure(llm_id=llm.pk, reason="HTTP 500")
    assert not breaker.record_failure(llm_id=llm.pk, reason="HTTP 500")
    breaker.record_success(llm_id=llm.pk)
    assert not breaker.record_failure(llm_id=llm.pk, reason="HTTP 500")
    assert not breaker.record_failure(llm_id=llm.pk, reason="HTTP 500")
    assert breaker.record_failure(llm_id=llm.pk, reason="HTTP 401 Unauthorized")
    llm.refresh_from_db()
    assert llm.breaker_opened_at is not None
    assert llm.breaker_reason == "3 generations failed in a row; the last one: HTTP 401 Unauthorized"
    assert not breaker.record_failure(llm_id=llm.pk, reason="again")  # already open: opened once


def test_a_threshold_of_zero_never_opens_the_breaker(settings):
    settings.ARENA_BREAKER_THRESHOLD = 0
    llm = make_llm("tolerated")
    for _ in range(10):
        breaker.record_failure(llm_id=llm.pk, reason="HTTP 500")
    llm.refresh_from_db()
    assert llm.breaker_opened_at is None and llm.consecutive_failures == 10


def test_an_open_breaker_fails_queued_generations_at_once_without_calling_the_provider(provider, settings):
    settings.ARENA_BREAKER_THRESHOLD = 1
    llm = llm_on(provider, "tripped")
    breaker.record_failure(llm_id=llm.pk, reason="HTTP 401 Unauthorized")
    job = jobs.start_generation_job(pool=pool_with(3), versions=[llm.current_version()])
    assert provider.stats()["requests"] == {}
    for generation in job_state.scope(job):
        assert generation.status == "failed"
        assert generation.error.startswith("Circuit breaker open since")
        assert "HTTP 401 Unauthorized" in generation.error and "Reset it in the LLM admin" in generation.error
    assert "Circuit breaker open" in job_pushes.render_progress(job)


def test_resetting_the_breaker_lets_the_llm_generate_again(provider, settings):
    settings.ARENA_BREAKER_THRESHOLD = 1
    llm = llm_on(provider, "recovered")
    breaker.record_failure(llm_id=llm.pk, reason="HTTP 503")
    assert breaker.reset(llm=llm)
    assert not breaker.reset(llm=llm)  # nothing to reset any more
    llm.refresh_from_db()
    assert (llm.breaker_opened_at, llm.breaker_reason, llm.consecutive_failures) == (None, "", 0)
    job = jobs.start_generation_job(pool=pool_with(2), versions=[llm.current_version()])
    assert job_state.scope(job).filter(status="done").count() == 2
    assert LLM.objects.get(pk=llm.pk).breaker_opened_at is None
