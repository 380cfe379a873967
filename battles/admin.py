from django import forms
from django.contrib import admin, messages
from django.db.models import Count, Q

from battles import services
from battles.models import LLM, Battle, Generation, LLMVersion, Prompt, PromptPool, Vote


class LLMVersionInline(admin.TabularInline):
    model = LLMVersion
    extra = 0
    can_delete = False
    fields = ("number", "model_id", "temperature", "max_tokens", "system_prompt", "created_at")
    readonly_fields = fields

    def has_add_permission(self, request, obj=None):
        return False


class LLMForm(forms.ModelForm):
    """The LLM's own fields plus its versioned settings; a change makes a new version."""

    model_id = forms.CharField(max_length=200, help_text="The provider's model name.")
    temperature = forms.FloatField(required=False, min_value=0, max_value=2)
    max_tokens = forms.IntegerField(min_value=1, max_value=200_000, initial=1024)
    system_prompt = forms.CharField(required=False, widget=forms.Textarea(attrs={"rows": 3}))

    class Meta:
        model = LLM
        fields = ["name", "provider", "base_url", "api_key_env", "price_input_per_mtok",
                  "price_output_per_mtok", "status"]

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        version = self.instance.current_version() if self.instance.pk else None
        if version is not None:
            for field in services.VERSIONED_FIELDS:
                self.fields[field].initial = getattr(version, field)

    def clean_base_url(self):
        url = self.cleaned_data["base_url"].strip()
        if url and not url.startswith(("http://", "https://")):
            raise forms.ValidationError("Use an http:// or https:// URL.")
        return url

    def clean_api_key_env(self):
        name = self.cleaned_data["api_key_env"].strip()
        if name and not name.replace("_", "").isalnum():
            raise forms.ValidationError(
                "Enter the NAME of an environment variable (letters, digits, _), not the key itself."
            )
        return name

    def versioned_values(self):
        values = {f: self.cleaned_data.get(f) for f in services.VERSIONED_FIELDS}
        values["system_prompt"] = values["system_prompt"] or ""
        return values


@admin.register(LLM)
class LLMAdmin(admin.ModelAdmin):
    form = LLMForm
    list_display = ("name", "provider", "base_url", "current_model_id", "status", "imported")
    list_filter = ("provider", "status", "imported")
    search_fields = ("name",)
    inlines = [LLMVersionInline]
    actions = ["retire"]

    @admin.display(description="model id")
    def current_model_id(self, obj):
        version = obj.current_version()
        return version.model_id if version else "–"

    def save_model(self, request, obj, form, change):
        obj.save()
        values = form.versioned_values()
        if obj.versions.exists():
            version = services.update_llm_settings(llm=obj, **values)
            if version.number > 1 and form.has_changed():
                self.message_user(request, f"Settings saved as version {version.number}.")
        else:
            LLMVersion.objects.create(llm=obj, number=1, **values)

    @admin.action(description="Retire selected LLMs (kept for history, no longer served)")
    def retire(self, request, queryset):
        count = queryset.update(status=LLM.Status.RETIRED)
        self.message_user(request, f"Retired {count} LLM(s).")

    def has_delete_permission(self, request, obj=None):
        # Deleting would orphan answers and votes; retire instead.
        if obj is not None and Generation.objects.filter(llm_version__llm=obj).exists():
            return False
        return super().has_delete_permission(request, obj)


@admin.register(PromptPool)
class PromptPoolAdmin(admin.ModelAdmin):
    list_display = ("name", "prompt_count", "answers_done", "answers_failed", "created_at")
    actions = ["generate_for_active_llms"]
    change_list_template = "admin/battles/promptpool/change_list.html"

    def get_urls(self):
        from battles.imports import admin_views

        return admin_views.urls(self) + super().get_urls()

    def changelist_view(self, request, extra_context=None):
        from battles.imports.admin_views import can_upload

        extra_context = {**(extra_context or {}), "can_upload_prompts": can_upload(request.user)}
        return super().changelist_view(request, extra_context=extra_context)

    def get_queryset(self, request):
        return super().get_queryset(request).annotate(
            n_prompts=Count("prompts", distinct=True),
            n_done=Count("prompts__generations", filter=Q(prompts__generations__status="done"), distinct=True),
            n_failed=Count("prompts__generations", filter=Q(prompts__generations__status="failed"), distinct=True),
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
        versions = [
            llm.current_version()
            for llm in LLM.objects.filter(status=LLM.Status.ACTIVE, imported=False)
        ]
        versions = [v for v in versions if v is not None]
        if not versions:
            self.message_user(request, "There is no active LLM to generate with.", messages.WARNING)
            return
        total = sum(services.enqueue_generations(pool=pool, versions=versions) for pool in queryset)
        self.message_user(request, f"Queued {total} generation(s) for {len(versions)} LLM(s).")


@admin.register(Prompt)
class PromptAdmin(admin.ModelAdmin):
    list_display = ("short_text", "pool", "category", "hidden")
    list_filter = ("pool", "category", "hidden")
    search_fields = ("text", "external_id")
    readonly_fields = ("text_hash",)

    @admin.display(description="text")
    def short_text(self, obj):
        return obj.text[:80]


@admin.register(Generation)
class GenerationAdmin(admin.ModelAdmin):
    list_display = ("id", "llm_version", "prompt", "status", "attempts", "latency_ms", "tokens_out", "cost")
    list_filter = ("status", "llm_version__llm")
    readonly_fields = [f.name for f in Generation._meta.fields]

    def has_add_permission(self, request):
        return False


@admin.register(Battle)
class BattleAdmin(admin.ModelAdmin):
    list_display = ("code", "voter", "version_a", "version_b", "status", "live", "created_at")
    list_filter = ("status", "live")
    readonly_fields = [f.name for f in Battle._meta.fields]

    def has_add_permission(self, request):
        return False


@admin.register(Vote)
class VoteAdmin(admin.ModelAdmin):
    list_display = ("id", "voter", "version_a", "version_b", "outcome", "insider", "flagged", "created_at")
    list_filter = ("outcome", "insider", "flagged", "live")
    readonly_fields = [f.name for f in Vote._meta.fields]

    def has_add_permission(self, request):
        return False

    def has_delete_permission(self, request, obj=None):
        return False
