"""Which generations a job covers, and finishing jobs with nothing left to do.

The reconciler task and the job pages use this; it queues nothing, so the
tasks module can import it.
"""

from __future__ import annotations

import logging

from django.db.models import QuerySet
from django.utils import timezone

from battles.models import Generation, GenerationJob
from battles.signals import job_changed

logger = logging.getLogger(__name__)


def scope(job: GenerationJob, *, version_ids: list[int] | None = None) -> QuerySet[Generation]:
    """The generations a job covers (``version_ids``: the job's versions, when already known)."""
    return Generation.objects.filter(
        prompt__pool_id=job.pool_id,
        prompt__hidden=False,
        llm_version__in=job.versions.all() if version_ids is None else version_ids,
        sample__lt=job.samples,
    )


def covering_jobs(*, pool_id: int, version_id: int, sample: int) -> list[tuple[int, str]]:
    """Running jobs whose scope holds a generation of this pool, version and sample: (id, code)."""
    return [
        (pk, str(code))
        for pk, code in GenerationJob.objects.filter(
            status=GenerationJob.Status.RUNNING, pool_id=pool_id, versions=version_id, samples__gt=sample
        ).values_list("pk", "code")
    ]


def finish_if_done(job: GenerationJob) -> bool:
    """Mark a running job finished when nothing in its scope is pending or running."""
    if job.status != GenerationJob.Status.RUNNING:
        return False
    if scope(job).filter(status__in=[Generation.Status.PENDING, Generation.Status.RUNNING]).exists():
        return False
    finished = GenerationJob.objects.filter(pk=job.pk, status=GenerationJob.Status.RUNNING).update(
        status=GenerationJob.Status.FINISHED, finished_at=timezone.now()
    )
    if finished:
        job.refresh_from_db(fields=["status", "finished_at"])
        logger.info("generation job %s finished", job.code)
    return bool(finished)


def finish_job_if_done(job_id: int) -> bool:
    job = GenerationJob.objects.filter(pk=job_id).first()
    return job is not None and finish_if_done(job)


def finish_idle_jobs() -> int:
    """For the reconciler: finish running jobs with nothing left to do (and tell their pages)."""
    count = 0
    for job in GenerationJob.objects.filter(status=GenerationJob.Status.RUNNING):
        if finish_if_done(job):
            job_changed.send(sender=GenerationJob, job_id=job.pk)
            count += 1
    return count
