"""The LLM admin: endpoint, key (write-only, stored encrypted), versioned settings, test connection."""

from concurrent.futures import ThreadPoolExecutor

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.http import Http404
from django.template.response import TemplateResponse
from django.urls import path
from django.utils import timezone
from django.utils.decorators import method_decorator
from django.utils.html import format_html
from django.views.decorators.debug import sensitive_post_parameters

from battles.catalog import keys, spend
from battles.catalog.llms import VERSIONED_FIELDS, audit_state, record_llm_saved, retire_llm, update_llm_settings
from battles.egress import endpoints, url_policy
from battles.generation import breaker, connection_check
from battles.models import LLM, Generation, LLMVersion


class LLMVersionInline(admin.TabularInline):
    model = LLMVersion
    extra = 0
    can_delete = False
    fields = ("number", "model_id", "temperature", "max_tokens", "system_prompt", "created_at")
    readonly_fields = fields

    def has_add_permission(self, request, obj=None):
        return False


class LLMForm(forms.ModelForm):
    """The LLM's own fields plus its versioned settings; a change makes a new version.

    The API key field is write-only: it is never rendered back, blank keeps
    the stored key, and a rejected value is dropped from the re-rendered form.
    """

    model_id = forms.CharField(max_length=200, help_text="The provider's model name.")
    temperature = forms.FloatField(required=False, min_value=0, max_value=2)
    max_tokens = forms.IntegerField(min_value=1, max_value=200_000, initial=1024)
    system_prompt = forms.CharField(required=False, widget=forms.Textarea(attrs={"rows": 3}))
    api_key = forms.CharField(
        label="API key (stored encrypted)",
        required=False,
        max_length=1000,
        widget=forms.PasswordInput(render_value=False, attrs={"autocomplete": "new-password"}),
    )
    clear_api_key = forms.BooleanField(label="Clear stored key", required=False)

    class Meta:
        model = LLM
        fields = [
            "name",
            "provider",
            "base_url",
            "api_key_env",
            "price_input_per_mtok",
            "price_output_per_mtok",
            "status",
            "max_concurrency",
            "requests_per_minute",
            "tokens_per_minute",
            "monthly_spend_cap",
        ]

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.url_warning = None
        self._new_key_token = ""
        version = self.instance.current_version() if self.instance.pk else None
        if version is not None:
            for field in VERSIONED_FIELDS:
                self.fields[field].initial = getattr(version, field)
        if self.instance.api_key_encrypted:
            set_at = self.instance.api_key_set_at
            when = f" (set on {set_at:%Y-%m-%d %H:%M} UTC)" if set_at else ""
            self.fields[
                "api_key"
            ].help_text = (
                f"A key is stored{when}. It is never shown. Leave blank to keep it; paste a new key to replace it."
            )
        else:
            self.fields[
                "api_key"
            ].help_text = "No key stored. Paste a key to store it encrypted, or name an environment variable instead."

    def _forget(self, field):
        """Drop a submitted value so that the re-rendered form does not show it (it may be a key)."""
        self.data = self.data.copy()
        self.data[self.add_prefix(field)] = ""

    def clean_base_url(self):
        url = self.cleaned_data["base_url"].strip()
        if url:
            try:
                self.url_warning = endpoints.configuration_warning(url)
            except url_policy.URLRefused as exc:
                raise forms.ValidationError(exc.reason) from None
        return url

    def clean_api_key_env(self):
        name = self.cleaned_data["api_key_env"].strip()
        problem = keys.env_name_problem(name) if name else None
        if problem:
            self._forget("api_key_env")
            raise forms.ValidationError(problem)
        return name

    def clean_api_key(self):
        key = self.cleaned_data["api_key"]
        problem = keys.api_key_problem(key) if key else None
        if problem:
            raise forms.ValidationError(problem)
        return key

    def clean(self):
        cleaned = super().clean()
        key = cleaned.get("api_key", "")
        clear = cleaned.get("clear_api_key", False)
        if key and clear:
            self.add_error("clear_api_key", "Either paste a new key or clear the stored one, not both.")
            return cleaned
        will_store = bool(key) or (bool(self.instance.api_key_encrypted) and not clear)
        if cleaned.get("api_key_env") and will_store:
            self.add_error(
                "api_key_env",
                "Use either an environment variable or a stored key, not both "
                "(tick 'Clear stored key' to switch to the variable).",
            )
            return cleaned
        if key:
            try:
                self._new_key_token = keys.encrypt(key)
            except keys.KeyStoreError as exc:
                self.add_error("api_key", exc.message)
        return cleaned

    def save(self, commit=True):
        if self.cleaned_data.get("clear_api_key"):
            self.instance.api_key_encrypted = ""
            self.instance.api_key_set_at = None
        if self._new_key_token:
            self.instance.api_key_encrypted = self._new_key_token
            self.instance.api_key_set_at = timezone.now()
        return super().save(commit)

    def versioned_values(self):
        values = {f: self.cleaned_data.get(f) for f in VERSIONED_FIELDS}
        values["system_prompt"] = values["system_prompt"] or ""
        return values


@admin.register(LLM)
class LLMAdmin(admin.ModelAdmin):
    form = LLMForm
    list_display = (
        "name",
        "provider",
        "current_model_id",
        "current_version_number",
        "status",
        "api_key_source",
        "base_url",
        "imported",
        "breaker_state",
        "spend_this_month",
    )
    list_filter = ("provider", "status", "imported")
    search_fields = ("name",)
    inlines = [LLMVersionInline]
    actions = ["retire", "test_connection", "reset_breaker"]
    change_form_template = "admin/battles/llm/change_form.html"
    fieldsets = [
        (None, {"fields": ["name", "provider", "base_url", "status"]}),
        (
            "Model settings (a change makes a new version)",
            {"fields": ["model_id", "temperature", "max_tokens", "system_prompt"]},
        ),
        (
            "API key",
            {
                "fields": ["api_key_env", "api_key", "clear_api_key"],
                "description": "The name of an environment variable that holds the key, or the key itself, "
                "stored encrypted. Never both.",
            },
        ),
        ("Prices", {"fields": ["price_input_per_mtok", "price_output_per_mtok"]}),
        (
            "Limits (shared by all workers; 0 = unlimited)",
            {"fields": ["max_concurrency", "requests_per_minute", "tokens_per_minute"]},
        ),
        ("Monthly spend", {"fields": ["monthly_spend_cap", "spend_this_month"]}),
    ]
    readonly_fields = ["spend_this_month"]
    # Each selected LLM gets one call of at most ARENA_TEST_CONNECTION_DEADLINE seconds, in parallel.
    max_connection_tests = 10

    def get_queryset(self, request):
        return super().get_queryset(request).prefetch_related("versions").annotate(month_cost=spend.month_cost_of_llm())

    @admin.display(description="spend this month")
    def spend_this_month(self, obj):
        if obj is None or obj.pk is None:
            return "–"
        state = spend.Spend(
            obj.pk, obj.name, obj.monthly_spend_cap, getattr(obj, "month_cost", None) or 0, spend.month_start()
        )
        if state.reached:
            return format_html('<strong class="spend-cap-reached">{}</strong><br>{}', state.display, state.reason)
        return state.display

    @staticmethod
    def _current(obj):
        return max(obj.versions.all(), key=lambda v: v.number, default=None)

    @admin.display(description="model id")
    def current_model_id(self, obj):
        version = self._current(obj)
        return version.model_id if version else "–"

    @admin.display(description="version")
    def current_version_number(self, obj):
        version = self._current(obj)
        return version.number if version else "–"

    @admin.display(description="API key")
    def api_key_source(self, obj):
        if obj.key_source == "stored":
            return "stored (encrypted)"
        if obj.key_source == "env":
            return f"env: {obj.api_key_env}"
        return "none"

    @method_decorator(sensitive_post_parameters("api_key"))
    def changeform_view(self, request, object_id=None, form_url="", extra_context=None):
        return super().changeform_view(request, object_id, form_url, extra_context)

    def save_model(self, request, obj, form, change):
        # The form has already applied the new values to ``obj``: the state before comes from the database.
        before = audit_state(LLM.objects.get(pk=obj.pk)) if change else None
        obj.save()
        values = form.versioned_values()
        if obj.versions.exists():
            version = update_llm_settings(llm=obj, **values)
            if version.number > 1 and form.has_changed():
                self.message_user(request, f"Settings saved as version {version.number}.")
        else:
            LLMVersion.objects.create(llm=obj, number=1, **values)
        record_llm_saved(llm=obj, before=before)
        if form.url_warning:
            self.message_user(request, form.url_warning, messages.WARNING)

    @admin.display(description="circuit breaker")
    def breaker_state(self, obj):
        if obj.breaker_opened_at:
            return format_html('<strong class="breaker-open" title="{}">open</strong>', obj.breaker_reason)
        return f"closed ({obj.consecutive_failures} failed in a row)" if obj.consecutive_failures else "closed"

    @admin.action(description="Reset the circuit breaker (calls resume)")
    def reset_breaker(self, request, queryset):
        reset = [llm.name for llm in queryset if breaker.reset(llm=llm)]
        self.message_user(
            request,
            f"Circuit breaker reset for {', '.join(reset)}."
            if reset
            else "No selected LLM had an open circuit breaker.",
        )

    @admin.action(description="Retire selected LLMs (kept for history, no longer served)")
    def retire(self, request, queryset):
        count = sum(retire_llm(llm=llm) for llm in queryset)
        self.message_user(request, f"Retired {count} LLM(s).")

    @admin.action(description="Test connection (one short call per selected LLM)")
    def test_connection(self, request, queryset):
        llms = [llm for llm in queryset if not llm.imported]
        if not llms:
            self.message_user(request, "Imported LLMs have no endpoint to test.", messages.WARNING)
            return
        if len(llms) > self.max_connection_tests:
            self.message_user(
                request, f"Select at most {self.max_connection_tests} LLMs to test at once.", messages.WARNING
            )
            return
        # Versions are loaded here: the calls run in threads, which must not touch the database.
        versions = [llm.current_version() for llm in llms]
        with ThreadPoolExecutor(max_workers=len(llms)) as pool:
            checks = list(pool.map(lambda llm, v: connection_check.check_connection(llm, version=v), llms, versions))
        for llm, check in zip(llms, checks):
            self.message_user(
                request, _connection_message(llm, check), messages.SUCCESS if check.ok else messages.ERROR
            )

    def get_urls(self):
        info = self.opts.app_label, self.opts.model_name
        return [
            path(
                "<path:object_id>/test-connection/",
                self.admin_site.admin_view(self.test_connection_view),
                name=f"{info[0]}_{info[1]}_test_connection",
            ),
        ] + super().get_urls()

    def test_connection_view(self, request, object_id):
        llm = self.get_object(request, object_id)
        if llm is None:
            raise Http404("No such LLM.")
        if not self.has_change_permission(request, llm):
            raise PermissionDenied
        check = connection_check.check_connection(llm) if request.method == "POST" else None
        context = {
            **self.admin_site.each_context(request),
            "opts": self.opts,
            "original": llm,
            "title": f"Test connection: {llm.name}",
            "check": check,
            "prompt": connection_check.TEST_PROMPT,
        }
        return TemplateResponse(request, "admin/battles/llm/test_connection.html", context)

    def has_delete_permission(self, request, obj=None):
        # Deleting would orphan answers and votes; retire instead.
        if obj is not None and Generation.objects.filter(llm_version__llm=obj).exists():
            return False
        return super().has_delete_permission(request, obj)


def _connection_message(llm, check) -> str:
    """One line for the admin's messages (escaped by the template)."""
    if check.ok:
        answer = " ".join(check.text.split())
        answer = answer if len(answer) <= 200 else answer[:199] + "…"
        return f"Connection OK: {llm.name} ({check.model_id}) answered in {check.latency_ms} ms: “{answer}”"
    return f"Connection failed: {llm.name}: {check.error}"
