"""Generation jobs: start one, watch its progress live, cancel it.

A job is a pool × a set of LLM versions × samples per prompt. It owns no rows:
its progress is read from the generations in its scope every time, so the
job page, a reload and a reconnecting websocket all show the same numbers,
and a generation shared with an earlier job simply counts as done.

Live updates: when a generation of a running job reaches a final state, the
worker renders the job's progress fragment and sends it to the job's channel
group, at most once per job per ``ARENA_JOB_PROGRESS_INTERVAL`` across all
workers, from a background thread (see ``ProgressSender``) so that generation
never waits for it; in embedded mode the update is made in-process. The page's
consumer also re-renders a running job every few seconds, which covers
updates lost with a killed worker; the reconciler finishes jobs whose last
update was lost.
"""

from __future__ import annotations

import logging
import os
import queue
import threading
from dataclasses import dataclass, field
from datetime import timedelta
from decimal import Decimal

from asgiref.sync import async_to_sync
from django.conf import settings
from django.db import connections, transaction
from django.db.models import Count, Q, Sum
from django.template.loader import render_to_string
from django.utils import timezone

from arena.roles import ADMIN, roles_of
from battles.limits import LimiterUnavailable, WindowThrottle
from battles.models import LLM, Generation, GenerationJob, LLMVersion, PromptPool

logger = logging.getLogger(__name__)

MAX_SAMPLES = 20
# Throughput for the ETA is measured over this recent window (seconds).
RATE_WINDOW = 60
FAILURE_REASONS_SHOWN = 5


class JobError(Exception):
    """A job that was not started; ``message`` is shown to the admin."""

    def __init__(self, message: str):
        super().__init__(message)
        self.message = message


def can_manage_jobs(user) -> bool:
    """Staff users with the admin role start, watch and cancel jobs."""
    return bool(user is not None and user.is_authenticated and user.is_active and user.is_staff
                and ADMIN in roles_of(user))


def group_name(job_code) -> str:
    return f"job-{job_code}"


# --- write paths ---------------------------------------------------------------------------------


def start_generation_job(*, pool: PromptPool, versions: list[LLMVersion], samples: int = 1,
                         created_by=None) -> GenerationJob:
    """Create a job and queue every unfinished generation in its scope (on commit).

    Missing generations are created, failed ones are queued again with a fresh
    retry budget, finished answers are kept. Raises JobError for a job that
    cannot run (no versions, bad sample count, retired or unconfigured LLMs).
    """
    from battles import services

    versions = list({v.pk: v for v in versions}.values())
    if not versions:
        raise JobError("Choose at least one LLM.")
    if not 1 <= samples <= MAX_SAMPLES:
        raise JobError(f"Samples per prompt must be between 1 and {MAX_SAMPLES}.")
    llms = {v.llm for v in LLMVersion.objects.filter(pk__in=[v.pk for v in versions]).select_related("llm")}
    unusable = sorted(llm.name for llm in llms if not llm.is_active or llm.imported or not llm.base_url)
    if unusable:
        raise JobError(
            "These LLMs cannot generate (retired, imported or without a base URL): " + ", ".join(unusable)
        )
    with transaction.atomic():
        job = GenerationJob.objects.create(pool=pool, samples=samples, created_by=created_by)
        job.versions.set(versions)
        queued = services.enqueue_generations(pool=pool, versions=versions, samples=samples)
        job.queued = queued
        if queued == 0:
            job.status, job.finished_at = GenerationJob.Status.FINISHED, timezone.now()
        job.save(update_fields=["queued", "status", "finished_at"])
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
        cancelled = scope(job).filter(status=Generation.Status.PENDING).update(
            status=Generation.Status.FAILED, error="Cancelled with its generation job.",
            finished_at=timezone.now(),
        )
        notify(job)
    return cancelled


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
            notify(job)
            count += 1
    return count


# --- reading progress ----------------------------------------------------------------------------


def scope(job: GenerationJob, *, version_ids: list[int] | None = None):
    """The generations a job covers (``version_ids``: the job's versions, when already known)."""
    return Generation.objects.filter(
        prompt__pool_id=job.pool_id, prompt__hidden=False,
        llm_version__in=job.versions.all() if version_ids is None else version_ids, sample__lt=job.samples,
    )


@dataclass
class VersionProgress:
    version: LLMVersion
    total: int = 0
    done: int = 0
    failed: int = 0
    running: int = 0
    pending: int = 0
    cost: Decimal = Decimal(0)
    failure_reasons: list[tuple[str, int]] = field(default_factory=list)

    @property
    def label(self) -> str:
        return self.version.label

    @property
    def llm(self) -> LLM:
        return self.version.llm

    @property
    def open(self) -> int:
        return self.running + self.pending

    def percent(self, n: int) -> float:
        return round(100.0 * n / self.total, 1) if self.total else 0.0

    @property
    def percent_done(self) -> float:
        return self.percent(self.done)

    @property
    def percent_failed(self) -> float:
        return self.percent(self.failed)

    @property
    def percent_running(self) -> float:
        return self.percent(self.running)


@dataclass
class JobProgress:
    job: GenerationJob
    versions: list[VersionProgress]
    finished_in_job: int  # generations that reached done or failed since the job started
    elapsed_seconds: float
    recent_per_second: float

    @property
    def total(self) -> int:
        return sum(v.total for v in self.versions)

    @property
    def done(self) -> int:
        return sum(v.done for v in self.versions)

    @property
    def failed(self) -> int:
        return sum(v.failed for v in self.versions)

    @property
    def running(self) -> int:
        return sum(v.running for v in self.versions)

    @property
    def pending(self) -> int:
        return sum(v.pending for v in self.versions)

    @property
    def open(self) -> int:
        return self.running + self.pending

    @property
    def cost(self) -> Decimal:
        return sum((v.cost for v in self.versions), Decimal(0))

    @property
    def percent_done(self) -> float:
        return round(100.0 * self.done / self.total, 1) if self.total else 100.0

    @property
    def per_minute(self) -> float:
        """Generations finished per minute since the job started."""
        return 60.0 * self.finished_in_job / self.elapsed_seconds if self.elapsed_seconds > 0 else 0.0

    @property
    def eta_seconds(self) -> float | None:
        if not self.open:
            return 0.0
        if self.job.status != GenerationJob.Status.RUNNING or self.recent_per_second <= 0:
            return None
        return self.open / self.recent_per_second

    @property
    def eta_display(self) -> str:
        eta = self.eta_seconds
        return "—" if eta is None else duration_display(eta)

    @property
    def elapsed_display(self) -> str:
        return duration_display(self.elapsed_seconds)

    @property
    def open_breakers(self) -> list[LLM]:
        return list({v.llm.pk: v.llm for v in self.versions if v.llm.breaker_opened_at}.values())


def duration_display(seconds: float) -> str:
    seconds = int(round(seconds))
    if seconds < 60:
        return f"{seconds} s"
    minutes, seconds = divmod(seconds, 60)
    if minutes < 60:
        return f"{minutes} min {seconds:02d} s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours} h {minutes:02d} min"


def job_progress(job: GenerationJob, *, now=None) -> JobProgress:
    """The job's numbers, in one pass over its generations (plus one for failure reasons, if any)."""
    now = now or timezone.now()
    versions = list(job.versions.select_related("llm").order_by("llm__name", "number"))
    rows = {v.pk: VersionProgress(version=v) for v in versions}
    generations = scope(job, version_ids=list(rows))
    window_start = max(job.created_at, now - timedelta(seconds=RATE_WINDOW))
    in_job = Q(finished_at__gte=job.created_at)
    status = {name: Count("id", filter=Q(status=name)) for name in Generation.Status.values}
    finished_in_job = recent = 0
    for counts in generations.values("llm_version_id").annotate(
        total=Count("id"), cost=Sum("cost", filter=Q(status=Generation.Status.DONE) & in_job),
        in_job=Count("id", filter=in_job), recent=Count("id", filter=Q(finished_at__gte=window_start)),
        **status,
    ):
        row = rows[counts["llm_version_id"]]
        row.total, row.cost = counts["total"], counts["cost"] or Decimal(0)
        for name in Generation.Status.values:
            setattr(row, name, counts[name])
        finished_in_job += counts["in_job"]
        recent += counts["recent"]
    if any(row.failed for row in rows.values()):
        for version_id, error, n in (
            generations.filter(status=Generation.Status.FAILED)
            .values_list("llm_version_id", "error").annotate(n=Count("id")).order_by("-n")
        ):
            if len(rows[version_id].failure_reasons) < FAILURE_REASONS_SHOWN:
                rows[version_id].failure_reasons.append((error or "(no reason recorded)", n))
    end = job.finished_at if job.status != GenerationJob.Status.RUNNING and job.finished_at else now
    window = max((now - window_start).total_seconds(), 1.0)
    return JobProgress(
        job=job, versions=list(rows.values()), finished_in_job=finished_in_job,
        elapsed_seconds=max((end - job.created_at).total_seconds(), 0.0), recent_per_second=recent / window,
    )


def render_progress(job: GenerationJob, progress: JobProgress | None = None) -> str:
    return render_to_string("battles/_job_progress.html", {"progress": progress or job_progress(job)})


def progress_update(job_id: int) -> tuple[str, str] | None:
    """Finish the job if nothing is left, then (group, rendered fragment); None if the job is gone."""
    job = GenerationJob.objects.filter(pk=job_id).select_related("pool").first()
    if job is None:
        return None
    finish_if_done(job)
    return group_name(job.code), render_progress(job)


def covering_jobs(*, pool_id: int, version_id: int, sample: int) -> list[tuple[int, str]]:
    """Running jobs whose scope holds a generation of this pool, version and sample."""
    return list(
        GenerationJob.objects.filter(
            status=GenerationJob.Status.RUNNING, pool_id=pool_id, versions=version_id, samples__gt=sample
        ).values_list("pk", "code")
    )


# --- sending updates -----------------------------------------------------------------------------


def _send(group: str, html: str) -> None:
    from channels.layers import get_channel_layer

    layer = get_channel_layer()
    if layer is None:
        return
    try:
        async_to_sync(layer.group_send)(group, {"type": "job.progress", "html": html})
    except Exception:  # noqa: BLE001  (the page renders from the database on load and reconnect)
        logger.warning("could not send progress to %s", group, exc_info=True)


def notify(job: GenerationJob) -> None:
    """Send the job's current progress to its page once the transaction commits."""

    def send():
        update = progress_update(job.pk)
        if update:
            _send(*update)

    transaction.on_commit(send)


def notify_jobs_of_llm(llm_id: int) -> None:
    for job in GenerationJob.objects.filter(status=GenerationJob.Status.RUNNING, versions__llm_id=llm_id).distinct():
        notify(job)


def generation_finished(*, pool_id: int | None, version_id: int, sample: int) -> None:
    """A generation reached done or failed: update the pages of the running jobs that cover it.

    In a worker the update is rendered and sent by the process's background
    sender; where tasks run in-process (embedded mode) it happens right here,
    with the job's finish checked every time and the rest throttled.
    """
    if pool_id is None:
        return
    from celery import current_app

    if not current_app.conf.task_always_eager:
        progress_sender.put((pool_id, version_id, sample))
        return
    throttle = WindowThrottle("")
    try:
        for job_id, code in covering_jobs(pool_id=pool_id, version_id=version_id, sample=sample):
            if finish_job_if_done(job_id) or throttle.take(f"job-progress:{code}",
                                                          settings.ARENA_JOB_PROGRESS_INTERVAL):
                update = progress_update(job_id)
                if update:
                    _send(*update)
    except Exception:  # noqa: BLE001  (progress is shown again on load; generation goes on)
        logger.warning("could not update the progress of jobs covering pool %s", pool_id, exc_info=True)


class ProgressSender:
    """Renders and sends job progress from a background thread, so generation never waits for it.

    ``put`` only queues the finished generation's scope. The thread finds the
    running jobs that cover it, and sends each job's progress when the job's
    window is free (one send per job per ``ARENA_JOB_PROGRESS_INTERVAL``
    across all processes, through Redis); a job whose window was taken is sent
    as soon as the window opens, so the last change always goes out.
    Rendering runs the job's aggregate queries, which must not hold up claims
    and stores. One sender per process (it is started again after a fork);
    what it had not sent when its process died is covered by the page's own
    refresh and the reconciler.
    """

    def __init__(self) -> None:
        self._queue: queue.SimpleQueue = queue.SimpleQueue()
        self._lock = threading.Lock()
        self._pid = None

    def put(self, scope_key: tuple[int, int, int]) -> None:
        self._ensure_thread()
        self._queue.put(scope_key)

    def _ensure_thread(self) -> None:
        with self._lock:
            if self._pid != os.getpid():
                self._pid = os.getpid()
                self._queue = queue.SimpleQueue()
                threading.Thread(target=self._run, args=(self._queue,), name="job-progress", daemon=True).start()

    def _run(self, items: queue.SimpleQueue) -> None:
        throttle = WindowThrottle(settings.REDIS_URL)
        interval = settings.ARENA_JOB_PROGRESS_INTERVAL
        dirty: dict[int, str] = {}
        while True:
            try:
                item = items.get(timeout=interval if dirty else None)
                batch = [item]
                while True:
                    try:
                        batch.append(items.get_nowait())
                    except queue.Empty:
                        break
            except queue.Empty:
                batch = []
            try:
                for pool_id, version_id, sample in set(batch):
                    for job_id, code in covering_jobs(pool_id=pool_id, version_id=version_id, sample=sample):
                        dirty[job_id] = code
                for job_id, code in list(dirty.items()):
                    try:
                        due = throttle.take(f"job-progress:{code}", interval)
                    except LimiterUnavailable:
                        due = True  # the send will most likely fail too; never retry forever
                    if due:
                        del dirty[job_id]
                        update = progress_update(job_id)
                        if update:
                            _send(*update)
            except Exception:  # noqa: BLE001  (a sender must survive a bad moment of the database)
                logger.warning("job progress sender failed", exc_info=True)
                dirty.clear()
            finally:
                # One connection per round: a test database or a restarted server is never held open.
                connections.close_all()


progress_sender = ProgressSender()
