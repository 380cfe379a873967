"""A generation job's progress, read from the generations in its scope (one aggregate query)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import timedelta
from decimal import Decimal

from django.db.models import Count, Q, Sum
from django.utils import timezone

from battles.catalog import spend
from battles.generation.job_state import scope
from battles.models import LLM, Generation, GenerationJob, LLMVersion

# Throughput for the ETA is measured over this recent window (seconds).
RATE_WINDOW = 60
FAILURE_REASONS_SHOWN = 5


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
    capped: list[spend.Spend] = field(default_factory=list)  # LLMs at their monthly spend cap

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
    status = Generation.Status
    finished_in_job = recent = 0
    for counts in generations.values("llm_version_id").annotate(
        total=Count("id"),
        cost=Sum("cost", filter=Q(status=status.DONE) & in_job),
        in_job=Count("id", filter=in_job),
        recent=Count("id", filter=Q(finished_at__gte=window_start)),
        pending=Count("id", filter=Q(status=status.PENDING)),
        running=Count("id", filter=Q(status=status.RUNNING)),
        done=Count("id", filter=Q(status=status.DONE)),
        failed=Count("id", filter=Q(status=status.FAILED)),
    ):
        row = rows[counts["llm_version_id"]]
        row.total, row.cost = counts["total"], counts["cost"] or Decimal(0)
        row.pending, row.running = counts["pending"], counts["running"]
        row.done, row.failed = counts["done"], counts["failed"]
        finished_in_job += counts["in_job"]
        recent += counts["recent"]
    if any(row.failed for row in rows.values()):
        for version_id, error, n in (
            generations.filter(status=Generation.Status.FAILED)
            .values_list("llm_version_id", "error")
            .annotate(n=Count("id"))
            .order_by("-n")
        ):
            if len(rows[version_id].failure_reasons) < FAILURE_REASONS_SHOWN:
                rows[version_id].failure_reasons.append((error or "(no reason recorded)", n))
    end = job.finished_at if job.status != GenerationJob.Status.RUNNING and job.finished_at else now
    window = max((now - window_start).total_seconds(), 1.0)
    return JobProgress(
        job=job,
        versions=list(rows.values()),
        finished_in_job=finished_in_job,
        elapsed_seconds=max((end - job.created_at).total_seconds(), 0.0),
        recent_per_second=recent / window,
        capped=spend.capped({v.llm_id: v.llm for v in versions}.values()),
    )
