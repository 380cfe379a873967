"""Admin pages of generation jobs: the list (with the cost and latency summary) and a live job page.

Jobs are started from the prompt pool list ("Generate answers…") or with
``manage.py generate_answers``. The job page lives under the admin at
``/admin/battles/generationjob/<code>/progress/``; it renders the progress from
the database and then follows ``/ws/jobs/<code>/`` (``JobProgressConsumer``).
Only staff users with the admin role see any of it.
"""

from __future__ import annotations

from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.db.models import Count, Q
from django.http import Http404, HttpResponseNotAllowed, HttpResponseRedirect
from django.shortcuts import redirect
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils.html import format_html

from battles import selectors as stats
from battles.generation import breaker, job_state, jobs
from battles.generation.progress import job_progress
from battles.models import Generation, GenerationJob


def job_url(job: GenerationJob) -> str:
    return reverse("admin:battles_generationjob_progress", args=[job.code])


@admin.register(GenerationJob)
class GenerationJobAdmin(admin.ModelAdmin):
    list_display = ("job_link", "pool", "models", "samples", "status", "progress", "created_by", "created_at")
    list_filter = ("status",)
    list_select_related = ("pool", "created_by")
    actions = ["cancel_jobs"]
    change_list_template = "admin/battles/generationjob/change_list.html"

    def has_module_permission(self, request):
        return jobs.can_manage_jobs(request.user)

    def has_view_permission(self, request, obj=None):
        return jobs.can_manage_jobs(request.user)

    def has_change_permission(self, request, obj=None):
        return jobs.can_manage_jobs(request.user)

    def has_add_permission(self, request):
        return False  # started from the prompt pools ("Generate answers…") or generate_answers

    def has_delete_permission(self, request, obj=None):
        return False

    def get_queryset(self, request):
        return super().get_queryset(request).prefetch_related("versions__llm")

    def get_urls(self):
        site = self.admin_site
        return [
            path("<uuid:code>/progress/", site.admin_view(self.progress_view), name="battles_generationjob_progress"),
            path("<uuid:code>/cancel/", site.admin_view(self.cancel_view), name="battles_generationjob_cancel"),
            path("<uuid:code>/rerun/", site.admin_view(self.rerun_view), name="battles_generationjob_rerun"),
            path(
                "<uuid:code>/reset-breakers/",
                site.admin_view(self.reset_breakers_view),
                name="battles_generationjob_reset_breakers",
            ),
        ] + super().get_urls()

    # list columns

    @admin.display(description="job")
    def job_link(self, obj):
        return format_html('<a href="{}">{}</a>', job_url(obj), str(obj.code)[:8])

    @admin.display(description="models")
    def models(self, obj):
        return ", ".join(v.label for v in obj.versions.all())

    @admin.display(description="done / failed / total")
    def progress(self, obj):
        counts = job_state.scope(obj).aggregate(
            total=Count("id"),
            done=Count("id", filter=Q(status=Generation.Status.DONE)),
            failed=Count("id", filter=Q(status=Generation.Status.FAILED)),
        )
        return f"{counts['done']} / {counts['failed']} / {counts['total']}"

    def changelist_view(self, request, extra_context=None):
        extra_context = {**(extra_context or {}), "summary": stats.generation_summary()}
        return super().changelist_view(request, extra_context=extra_context)

    def change_view(self, request, object_id, form_url="", extra_context=None):
        job = self.get_object(request, object_id)
        if job is None or not jobs.can_manage_jobs(request.user):
            raise Http404
        return redirect(job_url(job))

    @admin.action(description="Cancel selected jobs (pending generations fail as cancelled)")
    def cancel_jobs(self, request, queryset):
        cancelled = 0
        for job in queryset.filter(status=GenerationJob.Status.RUNNING):
            try:
                jobs.cancel_job(job=job)
                cancelled += 1
            except jobs.JobError:
                pass  # finished meanwhile
        self.message_user(request, f"Cancelled {cancelled} job(s).")

    # the job page and its buttons

    def _job(self, request, code) -> GenerationJob:
        if not jobs.can_manage_jobs(request.user):
            raise PermissionDenied
        job = GenerationJob.objects.filter(code=code).select_related("pool", "created_by").first()
        if job is None:
            raise Http404("No such generation job.")
        return job

    def progress_view(self, request, code):
        job = self._job(request, code)
        progress = job_progress(job)
        context = {
            **self.admin_site.each_context(request),
            "opts": self.opts,
            "title": f"Generation job {str(job.code)[:8]} on {job.pool.name}",
            "job": job,
            "progress": progress,
            "summary": stats.generation_summary([v.version.pk for v in progress.versions]),
        }
        return TemplateResponse(request, "admin/battles/generationjob/progress.html", context)

    def cancel_view(self, request, code):
        job = self._job(request, code)
        if request.method != "POST":
            return HttpResponseNotAllowed(["POST"])
        try:
            cancelled = jobs.cancel_job(job=job)
        except jobs.JobError as exc:
            self.message_user(request, exc.message, messages.WARNING)
        else:
            self.message_user(request, f"Job cancelled; {cancelled} pending generation(s) will not run.")
        return HttpResponseRedirect(job_url(job))

    def rerun_view(self, request, code):
        job = self._job(request, code)
        if request.method != "POST":
            return HttpResponseNotAllowed(["POST"])
        try:
            new_job = jobs.start_generation_job(
                pool=job.pool,
                versions=list(job.versions.all()),
                samples=job.samples,
                created_by=request.user,
                rerun_of=job,
            )
        except jobs.JobError as exc:
            self.message_user(request, exc.message, messages.ERROR)
            return HttpResponseRedirect(job_url(job))
        self.message_user(request, f"New job started: {new_job.queued} generation(s) queued.")
        return HttpResponseRedirect(job_url(new_job))

    def reset_breakers_view(self, request, code):
        job = self._job(request, code)
        if request.method != "POST":
            return HttpResponseNotAllowed(["POST"])
        llms = {v.llm_id: v.llm for v in job.versions.select_related("llm")}.values()
        reset = [llm.name for llm in llms if breaker.reset(llm=llm)]
        if reset:
            self.message_user(request, f"Circuit breaker reset for {', '.join(reset)}.")
        else:
            self.message_user(request, "No circuit breaker was open.", messages.WARNING)
        return HttpResponseRedirect(job_url(job))
