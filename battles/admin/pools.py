"""Prompt pools and prompts: counts, upload, "generate answers with every active LLM"."""

from django.contrib import admin, messages
from django.db.models import Count, Q
from django.shortcuts import redirect
from django.utils.html import format_html

from arena.files.flow import can_upload
from battles.admin import prompt_upload
from battles.admin.jobs import job_url
from battles.catalog import pools, spend
from battles.generation import jobs
from battles.models import LLM, Prompt, PromptPool


@admin.register(PromptPool)
class PromptPoolAdmin(admin.ModelAdmin):
    list_display = ("name", "prompt_count", "answers_done", "answers_failed", "created_at")
    actions = ["generate_for_active_llms"]
    change_list_template = "admin/battles/promptpool/change_list.html"

    def get_urls(self):
        return prompt_upload.urls(self) + super().get_urls()

    def changelist_view(self, request, extra_context=None):
        extra_context = {**(extra_context or {}), "can_upload_prompts": can_upload(request.user)}
        return super().changelist_view(request, extra_context=extra_context)

    def get_queryset(self, request):
        return (
            super()
            .get_queryset(request)
            .annotate(
                n_prompts=Count("prompts", distinct=True),
                n_done=Count("prompts__generations", filter=Q(prompts__generations__status="done"), distinct=True),
                n_failed=Count("prompts__generations", filter=Q(prompts__generations__status="failed"), distinct=True),
            )
        )

    @admin.display(description="prompts", ordering="n_prompts")
    def prompt_count(self, obj):
        return obj.n_prompts

    @admin.display(description="answers done")
    def answers_done(self, obj):
        return obj.n_done

    @admin.display(description="answers failed")
    def answers_failed(self, obj):
        return obj.n_failed

    @admin.action(description="Generate answers with every active LLM (current versions)")
    def generate_for_active_llms(self, request, queryset):
        active = list(LLM.objects.filter(status=LLM.Status.ACTIVE, imported=False).exclude(base_url=""))
        over_cap = spend.capped(active)
        for cap in over_cap:
            self.message_user(request, f"Left out: {cap.reason}", messages.WARNING)
        capped_ids = {cap.llm_id for cap in over_cap}
        versions = [llm.current_version() for llm in active if llm.pk not in capped_ids]
        versions = [v for v in versions if v is not None]
        if not versions:
            self.message_user(request, "There is no active LLM to generate with.", messages.WARNING)
            return
        started = []
        for pool in queryset:
            try:
                started.append(jobs.start_generation_job(pool=pool, versions=versions, created_by=request.user))
            except jobs.JobError as exc:
                self.message_user(request, f"{pool.name}: {exc.message}", messages.ERROR)
        for job in started:
            self.message_user(
                request,
                format_html(
                    '{}: job started, {} generation(s) queued for {} LLM(s). <a href="{}">Watch its progress</a>',
                    job.pool.name,
                    job.queued,
                    len(versions),
                    job_url(job),
                ),
            )
        if len(started) == 1:
            return redirect(job_url(started[0]))


@admin.register(Prompt)
class PromptAdmin(admin.ModelAdmin):
    list_display = ("short_text", "pool", "category", "hidden")
    list_filter = ("pool", "category", "hidden")
    search_fields = ("text", "external_id")
    readonly_fields = ("text_hash",)
    actions = ["hide_prompts", "show_prompts"]

    @admin.display(description="text")
    def short_text(self, obj):
        return obj.text[:80]

    def save_model(self, request, obj, form, change):
        before = pools.prompt_state(Prompt.objects.select_related("pool").get(pk=obj.pk)) if change else None
        super().save_model(request, obj, form, change)
        pools.record_prompt_saved(prompt=obj, before=before)

    @admin.action(description="Hide selected prompts (no longer served)")
    def hide_prompts(self, request, queryset):
        self.message_user(request, f"Hid {pools.set_hidden(prompts=queryset, hidden=True)} prompt(s).")

    @admin.action(description="Show selected prompts again")
    def show_prompts(self, request, queryset):
        self.message_user(request, f"{pools.set_hidden(prompts=queryset, hidden=False)} prompt(s) shown again.")
