"""Generation jobs as a service: start, re-run, cancel, progress, finish (tasks run in-process here;
tests/pipeline runs the same through a real worker)."""

from datetime import timedelta
from decimal import Decimal

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.utils import timezone

from battles.generation import job_state, jobs, tasks
from battles.generation.progress import job_progress
from battles.models import LLM, Generation, GenerationJob
from battles.realtime import job_pushes
from tests.battles.generation.helpers import expected_answer, llm_on, pool_with, wait_for_status
from tests.factories import make_generation, make_llm, make_pool, make_prompt

pytestmark = pytest.mark.django_db(transaction=True)


def versions(*llms):
    return [llm.current_version() for llm in llms]


def test_a_job_creates_every_missing_generation_and_generates_them(provider):
    pool = pool_with(3)
    alpha, beta = llm_on(provider, "alpha"), llm_on(provider, "beta", kind="anthropic")
    job = jobs.start_generation_job(pool=pool, versions=versions(alpha, beta), samples=2)
    assert job.queued == 12
    assert wait_for_status(job, "finished").finished_at is not None
    generations = job_state.scope(job).select_related("prompt", "llm_version")
    assert generations.count() == 12
    for generation in generations:
        assert generation.status == "done"
        assert generation.text == expected_answer(generation)
    progress = job_progress(job)
    assert (progress.total, progress.done, progress.failed, progress.open) == (12, 12, 0, 0)
    assert [row.done for row in progress.versions] == [6, 6]


def test_a_second_job_keeps_finished_answers_and_requeues_failed_ones_with_a_fresh_budget(provider):
    pool = pool_with(2)
    good, locked = llm_on(provider, "good"), llm_on(provider, "locked")
    provider.set_faults("locked-id", ["401", "401"])
    first = jobs.start_generation_job(pool=pool, versions=versions(good, locked))
    assert job_state.scope(first).filter(status="failed").count() == 2
    done_before = {g.pk: g.finished_at for g in job_state.scope(first).filter(status="done")}

    second = jobs.start_generation_job(pool=pool, versions=versions(good, locked))
    assert second.queued == 2
    assert job_state.scope(second).filter(status="done").count() == 4
    for generation in job_state.scope(second).filter(llm_version__llm=locked):
        assert generation.attempts == 1 and generation.error == ""
    assert {g.pk: g.finished_at for g in job_state.scope(second).filter(llm_version__llm=good)} == done_before
    assert provider.stats()["requests"] == {"good-id": 2, "locked-id": 4}


def test_a_job_with_nothing_left_to_generate_is_finished_at_once(provider):
    pool = pool_with(1)
    llm = llm_on(provider, "quick")
    jobs.start_generation_job(pool=pool, versions=versions(llm))
    again = jobs.start_generation_job(pool=pool, versions=versions(llm))
    assert again.queued == 0 and again.status == "finished"


def test_a_job_with_a_retired_imported_or_unconfigured_llm_is_refused_with_their_names(provider):
    pool = pool_with(1)
    retired = llm_on(provider, "old-one", status=LLM.Status.RETIRED)
    no_url = make_llm("no-url", base_url="")
    with pytest.raises(jobs.JobError) as refused:
        jobs.start_generation_job(pool=pool, versions=versions(retired, no_url, llm_on(provider, "fine")))
    assert "no-url" in refused.value.message and "old-one" in refused.value.message
    with pytest.raises(jobs.JobError):
        jobs.start_generation_job(pool=pool, versions=[])
    with pytest.raises(jobs.JobError):
        jobs.start_generation_job(pool=pool, versions=versions(llm_on(provider, "x")), samples=0)
    assert GenerationJob.objects.count() == 0 and Generation.objects.count() == 0


@pytest.mark.django_db(transaction=False)
def test_cancelling_a_job_fails_its_pending_generations_and_cannot_happen_twice(
    provider, django_capture_on_commit_callbacks
):
    pool = pool_with(3)
    llm = llm_on(provider, "slow")
    with django_capture_on_commit_callbacks(execute=False):  # queued, but no task runs
        job = jobs.start_generation_job(pool=pool, versions=versions(llm))
    assert jobs.cancel_job(job=job) == 3
    job.refresh_from_db()
    assert job.status == "cancelled"
    assert set(job_state.scope(job).values_list("status", "error").distinct()) == {
        ("failed", "Cancelled with its generation job.")
    }
    with pytest.raises(jobs.JobError):
        jobs.cancel_job(job=job)


def test_progress_counts_each_model_and_measures_throughput_eta_and_cost():
    pool = make_pool()
    alpha, beta = make_llm("alpha"), make_llm("beta")
    prompts = [make_prompt(pool, f"Progress prompt {i}") for i in range(4)]
    job = GenerationJob.objects.create(pool=pool)
    job.versions.set(versions(alpha, beta))
    started = job.created_at
    GenerationJob.objects.filter(pk=job.pk).update(created_at=started - timedelta(seconds=120))
    job.refresh_from_db()
    now = timezone.now()
    for i, prompt in enumerate(prompts):
        make_generation(prompt, alpha, cost=Decimal("0.01"), finished_at=now - timedelta(seconds=10 * i))
    make_generation(
        prompts[0],
        beta,
        status="failed",
        text="",
        error="HTTP 401 Unauthorized",
        finished_at=now - timedelta(seconds=5),
    )
    make_generation(prompts[1], beta, status="running", text="")
    make_generation(prompts[2], beta, status="pending", text="")
    make_generation(prompts[3], beta, status="pending", text="")
    make_generation(make_prompt(make_pool(), "Another pool"), beta)  # outside the job

    progress = job_progress(job, now=now)
    by_name = {row.llm.name: row for row in progress.versions}
    assert (by_name["alpha"].done, by_name["alpha"].total, by_name["alpha"].percent_done) == (4, 4, 100.0)
    beta_row = by_name["beta"]
    assert (beta_row.failed, beta_row.running, beta_row.pending) == (1, 1, 2)
    assert beta_row.failure_reasons == [("HTTP 401 Unauthorized", 1)]
    assert progress.cost == Decimal("0.04")
    assert progress.finished_in_job == 5
    assert progress.per_minute == pytest.approx(5 / 2, rel=0.05)  # five in two minutes
    assert progress.eta_seconds == pytest.approx(3 / (5 / 60), rel=0.05)  # three open at the last minute's pace
    html = job_pushes.render_progress(job, progress)
    assert "HTTP 401 Unauthorized" in html and 'data-count="done">4<' in html


def test_the_reconciler_finishes_a_running_job_with_nothing_left_to_do():
    pool = make_pool()
    llm = make_llm("finished-elsewhere")
    make_generation(make_prompt(pool, "Done already"), llm)
    job = GenerationJob.objects.create(pool=pool)
    job.versions.set(versions(llm))
    tasks.reconcile_generations()
    job.refresh_from_db()
    assert job.status == "finished"


def test_the_generate_answers_command_starts_a_job_and_reports_when_it_is_done(provider, capsys):
    pool = pool_with(2, name="cli-pool")
    llm_on(provider, "cli-model")
    call_command("generate_answers", "cli-pool", "--llm", "cli-model", "--wait", "--timeout", "30")
    out = capsys.readouterr().out
    job = GenerationJob.objects.get()
    assert job.pool == pool and job.status == "finished"  # --wait finishes it itself
    assert f"job {job.code}" in out and "Done: 2, failed: 0." in out
    with pytest.raises(CommandError, match="Unknown LLM"):
        call_command("generate_answers", "cli-pool", "--llm", "nobody")
