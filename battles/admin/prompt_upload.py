"""The prompt pool's upload pages (``UploadFlow`` with the prompt import)."""

from __future__ import annotations

from django import forms
from django.conf import settings

from arena.files.flow import UploadFlow, plural
from battles.catalog.imports.services import POOL_NAME_MAX, import_prompts
from battles.models import PromptPool


class UploadForm(forms.Form):
    pool = forms.CharField(
        max_length=POOL_NAME_MAX,
        label="Pool",
        help_text="An existing pool, or a new name to create one.",
        widget=forms.TextInput(attrs={"list": "pool-names", "autocomplete": "off", "size": 40}),
    )
    category_default = forms.CharField(
        max_length=50,
        required=False,
        label="Default category",
        help_text="Used for rows without a category.",
    )


class PromptUpload(UploadFlow):
    url_name = "battles_promptpool"
    upload_template = "admin/battles/promptpool/upload.html"
    preview_template = "admin/battles/promptpool/upload_preview.html"
    upload_title = "Upload prompts"
    preview_title = "Check the upload"
    noun = "prompt"
    form_class = UploadForm

    def run(self, stream, meta, *, dry_run, valid_only, preview_rows):
        return import_prompts(
            pool_name=meta["pool"],
            source=stream,
            filename=meta.get("filename", ""),
            category_default=meta.get("category_default", ""),
            valid_only=valid_only,
            dry_run=dry_run,
            preview_rows=preview_rows,
        )

    def upload_meta(self, form) -> dict:
        return {"pool": form.cleaned_data["pool"], "category_default": form.cleaned_data["category_default"]}

    def extra_context(self) -> dict:
        return {"max_chars": settings.ARENA_MAX_PROMPT_CHARS}

    def form_context(self) -> dict:
        return {"pool_names": list(PromptPool.objects.values_list("name", flat=True))}

    def preview_context(self, report, meta) -> dict:
        return {"pool_exists": PromptPool.objects.filter(name=meta["pool"]).exists()}

    def import_all_label(self, report) -> str:
        if report.error_count:
            return f"Import all {report.rows} row{plural(report.rows)}"
        return super().import_all_label(report)

    def success_message(self, report, meta) -> str:
        parts = [f"Imported {report.imported} prompt(s) into pool “{meta['pool']}”"]
        if report.duplicate_count:
            parts.append(f"{report.duplicate_count} duplicate(s) not stored")
        if report.error_count:
            parts.append(f"{report.error_count} bad row(s) skipped")
        return "; ".join(parts) + "."


urls = PromptUpload().urls
