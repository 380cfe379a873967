"""Job pages, live: render a job's progress and send it to the admins watching.

Receivers of the pipeline's signals (connected in ``BattlesConfig.ready``):
``generation_finished`` (a pool generation reached done or failed),
``job_changed`` (cancelled, finished) and ``breaker_reset``. The rendered
fragment goes to the job's channel group; ``JobProgressConsumer`` forwards it.

When a generation of a running job finishes, a worker does not render in the
generation's path: ``ProgressSender`` renders and sends from a background
thread, at most once per job per ``ARENA_JOB_PROGRESS_INTERVAL`` across all
workers. In embedded mode (tasks in-process) the update is made right away.
The page's consumer also re-renders a running job every few seconds, which
covers updates lost with a killed worker; the reconciler finishes jobs whose
last update was lost.
"""

from __future__ import annotations

import logging
import os
import queue
import threading

from celery import current_app
from django.conf import settings
from django.db import connections, transaction
from django.template.loader import render_to_string

from battles.generation.job_state import covering_jobs, finish_if_done, finish_job_if_done
from battles.generation.limits import LimiterUnavailable, WindowThrottle
from battles.generation.progress import JobProgress, job_progress
from battles.models import GenerationJob
from battles.realtime.sends import send_to_group

logger = logging.getLogger(__name__)


def group_name(job_code) -> str:
    return f"job-{job_code}"


def render_progress(job: GenerationJob, progress: JobProgress | None = None) -> str:
    return render_to_string("battles/_job_progress.html", {"progress": progress or job_progress(job)})


def progress_update(job_id: int) -> tuple[str, str] | None:
    """Finish the job if nothing is left, then (group, rendered fragment); None if the job is gone."""
    job = GenerationJob.objects.filter(pk=job_id).select_related("pool").first()
    if job is None:
        return None
    finish_if_done(job)
    return group_name(job.code), render_progress(job)


def send_fragment(group: str, html: str) -> None:
    try:
        send_to_group(group, {"type": "job.progress", "html": html})
    except Exception:  # the page renders from the database on load and reconnect
        logger.warning("could not send progress to %s", group, exc_info=True)


def notify(job_id: int) -> None:
    """Send the job's current progress to its page once the transaction commits."""

    def send():
        update = progress_update(job_id)
        if update:
            send_fragment(*update)

    transaction.on_commit(send)


# --- receivers ---------------------------------------------------------------------------------


def on_job_changed(sender, job_id: int, **kwargs) -> None:
    notify(job_id)


def on_breaker_reset(sender, llm_id: int, **kwargs) -> None:
    """Running jobs of the LLM show the breaker closed (their page said why generations failed)."""
    for job_id in (
        GenerationJob.objects.filter(status=GenerationJob.Status.RUNNING, versions__llm_id=llm_id)
        .values_list("pk", flat=True)
        .distinct()
    ):
        notify(job_id)


def on_generation_finished(sender, pool_id: int | None, version_id: int, sample: int, **kwargs) -> None:
    """A generation reached done or failed: update the pages of the running jobs that cover it.

    In a worker the update is rendered and sent by the process's background
    sender; where tasks run in-process (embedded mode) it happens right here,
    with the job's finish checked every time and the rest throttled.
    """
    if pool_id is None:
        return  # a live battle's answer: no job covers it
    if not current_app.conf.task_always_eager:
        progress_sender.put((pool_id, version_id, sample))
        return
    throttle = WindowThrottle("")
    try:
        for job_id, code in covering_jobs(pool_id=pool_id, version_id=version_id, sample=sample):
            if finish_job_if_done(job_id) or throttle.take(
                f"job-progress:{code}", settings.ARENA_JOB_PROGRESS_INTERVAL
            ):
                update = progress_update(job_id)
                if update:
                    send_fragment(*update)
    except Exception:  # progress is shown again on load; generation goes on
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
        self._pid: int | None = None

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
                            send_fragment(*update)
            except Exception:  # a sender must survive a bad moment of the database
                logger.warning("job progress sender failed", exc_info=True)
                dirty.clear()
            finally:
                # One connection per round: a test database or a restarted server is never held open.
                connections.close_all()


progress_sender = ProgressSender()
