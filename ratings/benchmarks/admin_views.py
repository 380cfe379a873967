"""Admin pages to upload benchmark scores: upload, preview with the full report, confirm.

The same flow and limits as the prompt upload (``battles.imports.admin_views``): the file
waits on disk under a random token between the preview and the confirmation, and the
preview is a dry run of the whole import, so what it shows is exactly what confirming stores.
"""

from __future__ import annotations

import functools

from django.conf import settings
from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.shortcuts import redirect, render
from django.urls import path, reverse
from django.views.decorators.csrf import csrf_exempt, csrf_protect

from battles.imports.admin_views import can_upload
from battles.imports.reading import human_size
from battles.imports.uploads import StoringUploadHandler, UploadStore
from ratings.benchmarks.services import import_benchmarks

PREVIEW_ROWS = 20
KIND = "benchmark-scores"  # kept in the upload's metadata: a prompt upload's token is not accepted here


def _check_admin(request) -> None:
    if not can_upload(request.user):
        raise PermissionDenied


def urls(model_admin) -> list:
    """The upload URLs, to put before the ModelAdmin's own (whose catch-all would shadow them)."""
    site = model_admin.admin_site

    def bind(view):
        @functools.wraps(view)
        def bound(request, *args, **kwargs):
            return view(request, model_admin, *args, **kwargs)
        return bound

    return [
        path("upload/", site.admin_view(bind(upload)), name="ratings_benchmark_upload"),
        path("upload/<str:token>/", site.admin_view(bind(preview)), name="ratings_benchmark_upload_preview"),
    ]


def _store() -> UploadStore:
    return UploadStore(settings.ARENA_UPLOAD_DIR)


def _context(request, model_admin, **extra) -> dict:
    return {
        **model_admin.admin_site.each_context(request),
        "opts": model_admin.opts,
        "max_bytes": settings.ARENA_MAX_UPLOAD_BYTES,
        "max_size": human_size(settings.ARENA_MAX_UPLOAD_BYTES),
        **extra,
    }


def _render_form(request, model_admin, problem: str = "", status: int = 200):
    return render(request, "admin/ratings/benchmark/upload.html",
                  _context(request, model_admin, title="Upload benchmark scores", problem=problem), status=status)


@csrf_exempt
def upload(request, model_admin):
    """GET: the form. POST: store the file and go to its preview.

    CSRF is checked inside, after the upload handler is in place (see the prompt upload).
    """
    _check_admin(request)
    if request.method != "POST":
        return _render_form(request, model_admin)
    store = _store()
    handler = StoringUploadHandler(request, store=store, max_bytes=settings.ARENA_MAX_UPLOAD_BYTES)
    request.upload_handlers = [handler]
    return csrf_protect(_receive)(request, model_admin, store, handler)


def _receive(request, model_admin, store: UploadStore, handler: StoringUploadHandler):
    stored = request.FILES.get("file")
    problem = ""
    if handler.refused:
        problem = f"The file is larger than the limit of {human_size(handler.max_bytes)}; it was not stored."
    elif handler.failure:
        problem = f"The server could not store the upload ({handler.failure}). Ask an operator to check UPLOAD_DIR."
    elif stored is None:
        problem = "Choose a CSV file to upload."
    if problem:
        if stored is not None:
            store.delete(stored.token)
        return _render_form(request, model_admin, problem=problem, status=400)
    store.save_meta(stored.token, {"kind": KIND, "user": request.user.pk, "filename": stored.name,
                                   "size": stored.size})
    store.sweep()
    return redirect("admin:ratings_benchmark_upload_preview", token=stored.token)


def preview(request, model_admin, token):
    """GET: the dry-run report. POST: import all, import the valid rows, or cancel."""
    _check_admin(request)
    store = _store()
    meta = store.load(token)
    if meta is None or meta.get("user") != request.user.pk or meta.get("kind") != KIND:
        messages.error(request, "This upload is no longer available (imported, cancelled or expired). "
                                "Upload the file again.")
        return redirect("admin:ratings_benchmark_upload")
    changelist = reverse("admin:ratings_benchmark_changelist")
    if request.method == "POST":
        action = request.POST.get("action")
        if action == "cancel":
            store.delete(token)
            messages.info(request, "Upload cancelled; nothing was imported.")
            return redirect(changelist)
        if action in ("all", "valid"):
            valid_only = action == "valid"
            report = _run(store, token, meta, valid_only=valid_only)
            if not report.rejected and report.imported:
                store.delete(token)
                parts = [f"Imported {report.imported} score(s)"]
                if report.error_count:
                    parts.append(f"{report.error_count} bad row(s) skipped")
                messages.success(request, "; ".join(parts) + ". " + " ".join(report.notes))
                return redirect(changelist)
            messages.error(request, "Nothing was imported: the file has errors. Fix them and upload the file "
                                    "again, or import only the valid rows.")
    report = _run(store, token, meta, dry_run=True)
    return render(request, "admin/ratings/benchmark/upload_preview.html", _context(
        request, model_admin, title="Check the benchmark scores", report=report, meta=meta, token=token,
        errors=report.sorted_errors(), more_errors=report.error_count - len(report.errors),
    ))


def _run(store: UploadStore, token: str, meta: dict, *, dry_run: bool = False, valid_only: bool = False):
    with store.open_data(token) as stream:
        return import_benchmarks(source=stream, filename=meta.get("filename", ""), valid_only=valid_only,
                                 dry_run=dry_run, preview_rows=PREVIEW_ROWS)
