from django import forms
from django.contrib import admin
from django.template.response import TemplateResponse

from arena.audit.recording import Action
from arena.files.flow import can_upload
from ratings.api.auth import SHOWN_PREFIX, can_use_api, hash_token, new_raw_token, record_token, revoke
from ratings.benchmarks import admin_views
from ratings.benchmarks.parsing import RESERVED_BENCHMARKS
from ratings.benchmarks.services import resolve_stored_scores
from ratings.models import ApiToken, Benchmark, BenchmarkScore, ModelAlias


class BenchmarkForm(forms.ModelForm):
    class Meta:
        model = Benchmark
        fields = ["name", "higher_is_better", "weight", "source"]

    def clean_name(self):
        name = " ".join(self.cleaned_data["name"].split())
        if name.casefold() in RESERVED_BENCHMARKS:
            raise forms.ValidationError("This name is reserved for the weighted composite.")
        clash = Benchmark.objects.filter(name__iexact=name).exclude(pk=self.instance.pk)
        if clash.exists():
            raise forms.ValidationError("A benchmark with this name (ignoring case) already exists.")
        return name


class BenchmarkScoreInline(admin.TabularInline):
    """Scores come from imports (which validate every row); here they can only be read or deleted."""

    model = BenchmarkScore
    extra = 0
    fields = ("model_name", "llm", "score", "source", "date", "imported_at")
    readonly_fields = fields
    ordering = ("model_name",)

    def has_add_permission(self, request, obj=None):
        return False


@admin.register(Benchmark)
class BenchmarkAdmin(admin.ModelAdmin):
    form = BenchmarkForm
    list_display = ("name", "higher_is_better", "weight", "score_count", "source")
    list_editable = ("weight",)
    search_fields = ("name",)
    inlines = [BenchmarkScoreInline]
    change_list_template = "admin/ratings/benchmark/change_list.html"

    def get_urls(self):
        return admin_views.urls(self) + super().get_urls()

    def changelist_view(self, request, extra_context=None):
        extra_context = {**(extra_context or {}), "can_upload_scores": can_upload(request.user)}
        return super().changelist_view(request, extra_context=extra_context)

    @admin.display(description="scores")
    def score_count(self, obj):
        return obj.scores.count()


@admin.register(BenchmarkScore)
class BenchmarkScoreAdmin(admin.ModelAdmin):
    list_display = ("model_name", "benchmark", "score", "llm", "date", "imported_at")
    list_filter = ("benchmark", ("llm", admin.EmptyFieldListFilter))
    search_fields = ("model_name",)
    readonly_fields = ("benchmark", "model_name", "llm", "score", "source", "date", "imported_at")
    list_select_related = ("benchmark", "llm")

    def has_add_permission(self, request):
        return False


class ModelAliasForm(forms.ModelForm):
    class Meta:
        model = ModelAlias
        fields = ["name", "llm"]

    def clean_name(self):
        name = " ".join(self.cleaned_data["name"].split())
        if ModelAlias.objects.filter(name__iexact=name).exclude(pk=self.instance.pk).exists():
            raise forms.ValidationError("An alias with this name (ignoring case) already exists.")
        return name


@admin.register(ModelAlias)
class ModelAliasAdmin(admin.ModelAdmin):
    """Saving or deleting an alias re-resolves the stored scores (the comparison always
    resolves afresh; the stored link is what the score lists show)."""

    form = ModelAliasForm
    list_display = ("name", "llm", "created_at")
    search_fields = ("name", "llm__name")
    list_select_related = ("llm",)

    def save_model(self, request, obj, form, change):
        super().save_model(request, obj, form, change)
        self._resolve(request)

    def delete_model(self, request, obj):
        super().delete_model(request, obj)
        self._resolve(request)

    def delete_queryset(self, request, queryset):
        super().delete_queryset(request, queryset)
        self._resolve(request)

    def _resolve(self, request):
        changed = resolve_stored_scores()
        if changed:
            self.message_user(request, f"{changed} benchmark score(s) now resolve differently.")


class ApiTokenForm(forms.ModelForm):
    class Meta:
        model = ApiToken
        fields = ["owner", "name"]

    def clean_owner(self):
        owner = self.cleaned_data["owner"]
        if not can_use_api(owner):
            raise forms.ValidationError("Only active eval leads and admins can use the API.")
        return owner


@admin.register(ApiToken)
class ApiTokenAdmin(admin.ModelAdmin):
    """Tokens are made here (shown once, after saving) and revoked, never edited."""

    form = ApiTokenForm
    list_display = ("prefix", "name", "owner", "created_at", "last_used_at", "revoked_at")
    list_filter = (("revoked_at", admin.EmptyFieldListFilter),)
    search_fields = ("name", "prefix", "owner__username")
    readonly_fields = ("prefix", "created_at", "last_used_at", "revoked_at")
    actions = ["revoke_tokens"]

    def get_readonly_fields(self, request, obj=None):
        if obj is not None:
            return ("owner", "name", *self.readonly_fields)
        return self.readonly_fields

    def get_fields(self, request, obj=None):
        if obj is None:
            return ("owner", "name")
        return ("owner", "name", "prefix", "created_at", "last_used_at", "revoked_at")

    def save_model(self, request, obj, form, change):
        if change:
            return  # nothing about a token can be edited
        raw = new_raw_token()
        obj.prefix = raw[:SHOWN_PREFIX]
        obj.token_hash = hash_token(raw)
        obj.save()
        record_token(obj, Action.API_TOKEN_CREATED)
        request._arena_new_token = raw

    def response_add(self, request, obj, post_url_continue=None):
        raw = getattr(request, "_arena_new_token", None)
        if raw is None:
            return super().response_add(request, obj, post_url_continue)
        return TemplateResponse(
            request,
            "admin/ratings/apitoken/created.html",
            {
                **self.admin_site.each_context(request),
                "opts": self.opts,
                "title": "New API token",
                "token": obj,
                "raw_token": raw,
            },
        )

    @admin.action(description="Revoke selected tokens")
    def revoke_tokens(self, request, queryset):
        count = sum(revoke(token) for token in queryset.filter(revoked_at__isnull=True))
        self.message_user(request, f"Revoked {count} token(s).")
