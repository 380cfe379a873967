"""Admin pages to upload a file: upload, preview with the full report, confirm.

``UploadFlow`` is the flow for any import (prompt pools and benchmark scores
subclass it). Only staff users with the admin role get here. The uploaded file waits on disk under a random token (see
``uploads``) between the preview and the confirmation; the preview runs the
whole import as a dry run, so what it shows is exactly what confirming stores.
"""

from __future__ import annotations

from django import forms
from django.conf import settings
from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.shortcuts import redirect, render
from django.urls import path, reverse
from django.views.decorators.csrf import csrf_exempt, csrf_protect

from arena.files.reading import human_size
from arena.files.uploads import StoringUploadHandler, UploadStore
from arena.roles import ADMIN, roles_of


def can_upload(user) -> bool:
    return bool(user.is_active and user.is_staff and ADMIN in roles_of(user))


def _check_admin(request) -> None:
    if not can_upload(request.user):
        raise PermissionDenied


def _store() -> UploadStore:
    return UploadStore(settings.ARENA_UPLOAD_DIR)


def plural(count: int) -> str:
    return "" if count == 1 else "s"


class UploadFlow:
    """Upload, preview and confirm for one model admin; subclasses say what the file is and how it is imported.

    The URLs are named ``<url_name>_upload`` and ``<url_name>_upload_preview``;
    confirming or cancelling goes back to ``<url_name>_changelist``.
    """

    url_name: str
    upload_template: str
    preview_template: str
    upload_title: str
    preview_title: str
    noun: str  # what a row is, for the "Import all" button
    form_class: type[forms.Form] = forms.Form  # the fields besides the file
    kind: str | None = None  # kept in the metadata when set: an upload of another kind is refused
    preview_rows = 10
    missing_file = "Choose a CSV or JSONL file to upload."

    # --- what subclasses provide ---

    def run(self, stream, meta: dict, *, dry_run: bool, valid_only: bool, preview_rows: int):
        """Import the file (``meta`` holds what ``upload_meta`` gave); returns the ``ImportReport``."""
        raise NotImplementedError

    def success_message(self, report, meta: dict) -> str:
        raise NotImplementedError

    def upload_meta(self, form) -> dict:
        """What the form says about the file, kept with it until the confirmation."""
        return {}

    def extra_context(self) -> dict:
        return {}

    def form_context(self) -> dict:
        return {}

    def preview_context(self, report, meta: dict) -> dict:
        return {}

    def stored(self, report, valid_only: bool) -> bool:
        """Whether confirming stored what it should (else the preview says nothing was imported)."""
        return not report.rejected and (report.ok or valid_only)

    def import_all_label(self, report) -> str:
        return f"Import all {report.valid} {self.noun}{plural(report.valid)}"

    # --- the views ---

    def urls(self, model_admin) -> list:
        """The upload URLs, to put before the ModelAdmin's own (whose catch-all would shadow them)."""
        site = model_admin.admin_site

        @csrf_exempt
        def upload(request):
            return self.upload(request, model_admin)

        def preview(request, token):
            return self.preview(request, model_admin, token)

        return [
            path("upload/", site.admin_view(upload), name=f"{self.url_name}_upload"),
            path("upload/<str:token>/", site.admin_view(preview), name=f"{self.url_name}_upload_preview"),
        ]

    def _context(self, request, model_admin, **extra) -> dict:
        return {
            **model_admin.admin_site.each_context(request),
            "opts": model_admin.opts,
            "max_bytes": settings.ARENA_MAX_UPLOAD_BYTES,
            "max_size": human_size(settings.ARENA_MAX_UPLOAD_BYTES),
            **self.extra_context(),
            **extra,
        }

    def _render_form(self, request, model_admin, form, status=200):
        return render(
            request,
            self.upload_template,
            self._context(request, model_admin, title=self.upload_title, form=form, **self.form_context()),
            status=status,
        )

    def upload(self, request, model_admin):
        """GET: the form. POST: store the file and go to its preview.

        CSRF is checked inside, after the upload handler is in place: the check
        reads the request body, and the handler must see the body first so that
        a file past the limit is never read whole.
        """
        _check_admin(request)
        if request.method != "POST":
            return self._render_form(request, model_admin, self.form_class())
        store = _store()
        handler = StoringUploadHandler(request, store=store, max_bytes=settings.ARENA_MAX_UPLOAD_BYTES)
        request.upload_handlers = [handler]
        return csrf_protect(self._receive)(request, model_admin, store, handler)

    def _receive(self, request, model_admin, store: UploadStore, handler: StoringUploadHandler):
        form = self.form_class(request.POST)
        stored = request.FILES.get("file")
        problem = ""
        if handler.refused:
            problem = f"The file is larger than the limit of {human_size(handler.max_bytes)}; it was not stored."
        elif handler.failure:
            problem = f"The server could not store the upload ({handler.failure}). Ask an operator to check UPLOAD_DIR."
        elif stored is None:
            problem = self.missing_file
        if not form.is_valid() or problem:
            if stored is not None:
                store.delete(stored.token)
            if problem:
                form.add_error(None, problem)
            return self._render_form(request, model_admin, form, status=400)
        store.save_meta(
            stored.token,
            {
                **({"kind": self.kind} if self.kind else {}),
                "user": request.user.pk,
                **self.upload_meta(form),
                "filename": stored.name,
                "size": stored.size,
            },
        )
        store.sweep()
        return redirect(f"admin:{self.url_name}_upload_preview", token=stored.token)

    def preview(self, request, model_admin, token):
        """GET: the dry-run report and the first rows. POST: import all, import the valid rows, or cancel."""
        _check_admin(request)
        store = _store()
        meta = store.load(token)
        if meta is None or meta.get("user") != request.user.pk or (self.kind and meta.get("kind") != self.kind):
            messages.error(
                request, "This upload is no longer available (imported, cancelled or expired). Upload the file again."
            )
            return redirect(f"admin:{self.url_name}_upload")
        changelist = reverse(f"admin:{self.url_name}_changelist")
        if request.method == "POST":
            action = request.POST.get("action")
            if action == "cancel":
                store.delete(token)
                messages.info(request, "Upload cancelled; nothing was imported.")
                return redirect(changelist)
            if action in ("all", "valid"):
                valid_only = action == "valid"
                report = self._run(store, token, meta, valid_only=valid_only)
                if self.stored(report, valid_only):
                    store.delete(token)
                    messages.success(request, self.success_message(report, meta))
                    return redirect(changelist)
                messages.error(
                    request,
                    "Nothing was imported: the file has errors. Fix them and upload the file "
                    "again, or import only the valid rows.",
                )
        report = self._run(store, token, meta, dry_run=True)
        if report.rejected:
            store.delete(token)  # nothing in it can ever be imported: keep no copy on disk
        return render(
            request,
            self.preview_template,
            self._context(
                request,
                model_admin,
                title=self.preview_title,
                report=report,
                meta=meta,
                token=token,
                errors=report.sorted_errors(),
                duplicates=sorted(report.duplicates),
                more_errors=report.error_count - len(report.errors),
                more_duplicates=report.duplicate_count - len(report.duplicates),
                import_all_label=self.import_all_label(report),
                upload_url=reverse(f"admin:{self.url_name}_upload"),
                **self.preview_context(report, meta),
            ),
        )

    def _run(self, store: UploadStore, token: str, meta: dict, *, dry_run: bool = False, valid_only: bool = False):
        with store.open_data(token) as stream:
            return self.run(stream, meta, dry_run=dry_run, valid_only=valid_only, preview_rows=self.preview_rows)
