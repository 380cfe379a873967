"""Generation jobs: start one (queueing its generations), cancel it.

A job is a pool × a set of LLM versions × samples per prompt. It owns no rows:
its progress is read from the generations in its scope every time
(``battles.generation.progress``), so the job page, a reload and a reconnecting
websocket all show the same numbers, and a generation shared with an earlier
job simply counts as done. A change a job's page should show is announced with
the ``job_changed`` signal after commit; the pushes live in
``battles.realtime.job_pushes``.
"""

from __future__ import annotations

import logging

from django.db import transaction
from django.utils import timezone

from arena.audit.recording import Action, record
from arena.roles import ADMIN, roles_of
from battles.catalog import spend
from battles.generation import tasks
from battles.generation.job_state import scope
from battles.models import Generation, GenerationJob, LLMVersion, PromptPool
from battles.signals import job_changed

logger = logging.getLogger(__name__)

MAX_SAMPLES = 20


class JobError(Exception):
    """A job that was not started; ``message`` is shown to the admin."""

    def __init__(self, message: str):
        super().__init__(message)
        self.message = message


def can_manage_jobs(user) -> bool:
    """Staff users with the admin role start, watch and cancel jobs."""
    return bool(
        user is not None and user.is_authenticated and user.is_active and user.is_staff and ADMIN in roles_of(user)
    )


def start_generation_job(
    *,
    pool: PromptPool,
    versions: list[LLMVersion],
    samples: int = 1,
    created_by=None,
    rerun_of: GenerationJob | None = None,
) -> GenerationJob:
    """Create a job and queue every unfinished generation in its scope (on commit).

    Missing generations are created, failed ones are queued again with a fresh
    retry budget, finished answers are kept. Raises JobError for a job that
    cannot run (no versions, bad sample count, retired or unconfigured LLMs,
    LLMs at their monthly spend cap). ``rerun_of`` names the job this one runs
    again (for the audit trail).
    """
    versions = list({v.pk: v for v in versions}.values())
    if not versions:
        raise JobError("Choose at least one LLM.")
    if not 1 <= samples <= MAX_SAMPLES:
        raise JobError(f"Samples per prompt must be between 1 and {MAX_SAMPLES}.")
    llms = {v.llm for v in LLMVersion.objects.filter(pk__in=[v.pk for v in versions]).select_related("llm")}
    unusable = sorted(llm.name for llm in llms if not llm.is_active or llm.imported or not llm.base_url)
    if unusable:
        raise JobError("These LLMs cannot generate (retired, imported or without a base URL): " + ", ".join(unusable))
    over_cap = spend.capped(llms)
    if over_cap:
        raise JobError(
            "These LLMs reached their monthly spend cap: "
            + "; ".join(f"{s.name} ({s.display})" for s in sorted(over_cap, key=lambda s: s.name))
            + ". Raise the cap in the LLM admin, or wait for next month."
        )
    with transaction.atomic():
        job = GenerationJob.objects.create(pool=pool, samples=samples, created_by=created_by)
        job.versions.set(versions)
        queued = enqueue_generations(pool=pool, versions=versions, samples=samples)
        job.queued = queued
        if queued == 0:
            job.status, job.finished_at = GenerationJob.Status.FINISHED, timezone.now()
        job.save(update_fields=["queued", "status", "finished_at"])
        record(
            Action.JOB_RERUN if rerun_of else Action.JOB_STARTED,
            object_type="job",
            object_id=job.code,
            object_repr=f"{pool.name} ({str(job.code)[:8]})",
            after={
                "pool": pool.name,
                "versions": sorted(v.label for v in LLMVersion.objects.filter(pk__in=[v.pk for v in versions])),
                "samples": samples,
                "queued": queued,
            },
            note=f"runs job {str(rerun_of.code)[:8]} again" if rerun_of else "",
        )
        logger.info("generation job %s started: %s generation(s) queued", job.code, queued)
    return job


def cancel_job(*, job: GenerationJob) -> int:
    """Stop a running job: its pending generations fail as cancelled (calls in flight finish).

    Returns how many generations were cancelled; raises JobError when the job
    is not running (finished, or cancelled by someone else first).
    """
    with transaction.atomic():
        if not GenerationJob.objects.filter(pk=job.pk, status=GenerationJob.Status.RUNNING).update(
            status=GenerationJob.Status.CANCELLED, finished_at=timezone.now()
        ):
            raise JobError("This job is not running.")
        cancelled = (
            scope(job)
            .filter(status=Generation.Status.PENDING)
            .update(
                status=Generation.Status.FAILED,
                error="Cancelled with its generation job.",
                finished_at=timezone.now(),
            )
        )
        record(
            Action.JOB_CANCELLED,
            object_type="job",
            object_id=job.code,
            object_repr=f"{job.pool.name} ({str(job.code)[:8]})",
            before={"status": GenerationJob.Status.RUNNING},
            after={"status": GenerationJob.Status.CANCELLED},
            note=f"{cancelled} pending generation(s) cancelled",
        )
        transaction.on_commit(lambda: job_changed.send(sender=GenerationJob, job_id=job.pk))
    return cancelled


def enqueue_generations(*, pool: PromptPool, versions: list[LLMVersion], samples: int = 1) -> int:
    """Create the missing generations of a pool × versions and queue every unfinished one.

    Returns how many generations were queued. Existing finished answers are
    kept; the unique constraint makes a second call harmless.
    """
    prompt_ids = list(pool.prompts.filter(hidden=False).values_list("id", flat=True))
    with transaction.atomic():
        unfinished = Generation.objects.filter(
            prompt__pool=pool,
            prompt__hidden=False,
            llm_version__in=versions,
            sample__lt=samples,
            status__in=[Generation.Status.PENDING, Generation.Status.FAILED],
        )
        # Queued again now; a failed generation gets a fresh retry budget. (New rows are due now by default.)
        unfinished.filter(status=Generation.Status.PENDING).update(due_at=timezone.now())
        unfinished.filter(status=Generation.Status.FAILED).update(
            status=Generation.Status.PENDING, error="", attempts=0, due_at=timezone.now()
        )
        Generation.objects.bulk_create(
            [
                Generation(prompt_id=pid, llm_version=version, sample=sample)
                for version in versions
                for pid in prompt_ids
                for sample in range(samples)
            ],
            ignore_conflicts=True,
            batch_size=1000,
        )
        todo = list(
            Generation.objects.filter(
                prompt__pool=pool,
                prompt__hidden=False,
                llm_version__in=versions,
                sample__lt=samples,
                status=Generation.Status.PENDING,
            )
            .order_by("llm_version_id", "prompt_id", "sample")
            .values_list("id", "llm_version_id")
        )
        transaction.on_commit(lambda: tasks.queue_generations(todo))
    return len(todo)
