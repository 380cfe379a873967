"""Admin pages to upload a prompt pool: upload, preview with the full report, confirm.

Only staff users with the admin role get here. The uploaded file waits on
disk under a random token (see ``uploads``) between the preview and the
confirmation; the preview runs the whole import as a dry run, so what it
shows is exactly what confirming stores.
"""

from __future__ import annotations

import functools

from django import forms
from django.conf import settings
from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.shortcuts import redirect, render
from django.urls import path, reverse
from django.views.decorators.csrf import csrf_exempt, csrf_protect

from battles.imports.reading import human_size
from battles.imports.services import POOL_NAME_MAX, import_prompts
from battles.imports.uploads import StoringUploadHandler, UploadStore
from battles.models import PromptPool
from battles.roles import ADMIN, roles_of

PREVIEW_ROWS = 10


def can_upload(user) -> bool:
    return bool(user.is_active and user.is_staff and ADMIN in roles_of(user))


def _check_admin(request) -> None:
    if not can_upload(request.user):
        raise PermissionDenied


def _store() -> UploadStore:
    return UploadStore(settings.ARENA_UPLOAD_DIR)


class UploadForm(forms.Form):
    pool = forms.CharField(
        max_length=POOL_NAME_MAX, label="Pool",
        help_text="An existing pool, or a new name to create one.",
        widget=forms.TextInput(attrs={"list": "pool-names", "autocomplete": "off", "size": 40}),
    )
    category_default = forms.CharField(
        max_length=50, required=False, label="Default category",
        help_text="Used for rows without a category.",
    )


def urls(model_admin) -> list:
    """The upload URLs, to put before the ModelAdmin's own (whose catch-all would shadow them)."""
    site = model_admin.admin_site

    def bind(view):
        @functools.wraps(view)
        def bound(request, *args, **kwargs):
            return view(request, model_admin, *args, **kwargs)
        return bound

    return [
        path("upload/", site.admin_view(bind(upload)), name="battles_promptpool_upload"),
        path("upload/<str:token>/", site.admin_view(bind(preview)), name="battles_promptpool_upload_preview"),
    ]


def _context(request, model_admin, **extra) -> dict:
    return {
        **model_admin.admin_site.each_context(request),
        "opts": model_admin.opts,
        "max_bytes": settings.ARENA_MAX_UPLOAD_BYTES,
        "max_size": human_size(settings.ARENA_MAX_UPLOAD_BYTES),
        "max_chars": settings.ARENA_MAX_PROMPT_CHARS,
        **extra,
    }


def _render_form(request, model_admin, form, status=200):
    return render(
        request, "admin/battles/promptpool/upload.html",
        _context(request, model_admin, title="Upload prompts", form=form,
                 pool_names=list(PromptPool.objects.values_list("name", flat=True))),
        status=status,
    )


@csrf_exempt
def upload(request, model_admin):
    """GET: the form. POST: store the file and go to its preview.

    CSRF is checked inside, after the upload handler is in place: the check
    reads the request body, and the handler must see the body first so that
    a file past the limit is never read whole.
    """
    _check_admin(request)
    if request.method != "POST":
        return _render_form(request, model_admin, UploadForm())
    store = _store()
    handler = StoringUploadHandler(request, store=store, max_bytes=settings.ARENA_MAX_UPLOAD_BYTES)
    request.upload_handlers = [handler]
    return csrf_protect(_receive)(request, model_admin, store, handler)


def _receive(request, model_admin, store: UploadStore, handler: StoringUploadHandler):
    form = UploadForm(request.POST)
    stored = request.FILES.get("file")
    problem = ""
    if handler.refused:
        problem = f"The file is larger than the limit of {human_size(handler.max_bytes)}; it was not stored."
    elif handler.failure:
        problem = f"The server could not store the upload ({handler.failure}). Ask an operator to check UPLOAD_DIR."
    elif stored is None:
        problem = "Choose a CSV or JSONL file to upload."
    if not form.is_valid() or problem:
        if stored is not None:
            store.delete(stored.token)
        if problem:
            form.add_error(None, problem)
        return _render_form(request, model_admin, form, status=400)
    store.save_meta(stored.token, {
        "user": request.user.pk,
        "pool": form.cleaned_data["pool"],
        "category_default": form.cleaned_data["category_default"],
        "filename": stored.name,
        "size": stored.size,
    })
    store.sweep()
    return redirect("admin:battles_promptpool_upload_preview", token=stored.token)


def preview(request, model_admin, token):
    """GET: the dry-run report and the first rows. POST: import all, import the valid rows, or cancel."""
    _check_admin(request)
    store = _store()
    meta = store.load(token)
    if meta is None or meta.get("user") != request.user.pk:
        messages.error(request, "This upload is no longer available (imported, cancelled or expired). "
                                "Upload the file again.")
        return redirect("admin:battles_promptpool_upload")
    changelist = reverse("admin:battles_promptpool_changelist")
    if request.method == "POST":
        action = request.POST.get("action")
        if action == "cancel":
            store.delete(token)
            messages.info(request, "Upload cancelled; nothing was imported.")
            return redirect(changelist)
        if action in ("all", "valid"):
            valid_only = action == "valid"
            report = _run(store, token, meta, valid_only=valid_only)
            if not report.rejected and (report.ok or valid_only):
                store.delete(token)
                parts = [f"Imported {report.imported} prompt(s) into pool “{meta['pool']}”"]
                if report.duplicate_count:
                    parts.append(f"{report.duplicate_count} duplicate(s) not stored")
                if report.error_count:
                    parts.append(f"{report.error_count} bad row(s) skipped")
                messages.success(request, "; ".join(parts) + ".")
                return redirect(changelist)
            messages.error(request, "Nothing was imported: the file has errors. Fix them and upload the file "
                                    "again, or import only the valid rows.")
    report = _run(store, token, meta, dry_run=True)
    return render(
        request, "admin/battles/promptpool/upload_preview.html",
        _context(request, model_admin, title="Check the upload", report=report, meta=meta, token=token,
                 errors=report.sorted_errors(), duplicates=sorted(report.duplicates),
                 more_errors=report.error_count - len(report.errors),
                 more_duplicates=report.duplicate_count - len(report.duplicates),
                 pool_exists=PromptPool.objects.filter(name=meta["pool"]).exists()),
    )


def _run(store: UploadStore, token: str, meta: dict, *, dry_run: bool = False, valid_only: bool = False):
    with store.open_data(token) as stream:
        return import_prompts(
            pool_name=meta["pool"], source=stream, filename=meta.get("filename", ""),
            category_default=meta.get("category_default", ""), valid_only=valid_only, dry_run=dry_run,
            preview_rows=PREVIEW_ROWS,
        )
