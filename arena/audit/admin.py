"""The audit trail in the admin: a filtered list and a CSV export; nothing can be added, edited or deleted.

Only active staff users with the admin role see it.
"""

from __future__ import annotations

import json
from urllib.parse import urlencode

from django.contrib import admin
from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.http import StreamingHttpResponse
from django.shortcuts import redirect
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils import timezone

from arena.audit.filters import AuditFilterForm, filtered
from arena.audit.models import AuditEvent
from arena.csvsafe import csv_line
from arena.roles import ADMIN, roles_of

PAGE_SIZE = 100
CSV_HEADER = ("at", "actor", "action", "action_label", "object_type", "object_id", "object", "before", "after", "note")


def can_read_audit(user) -> bool:
    return bool(user.is_active and user.is_staff and ADMIN in roles_of(user))


def as_json(value) -> str:
    return "" if value is None else json.dumps(value, ensure_ascii=False, sort_keys=True)


def csv_rows(events):
    yield csv_line(CSV_HEADER)
    for event in events.iterator(chunk_size=2000):
        yield csv_line(
            (
                event.at.isoformat(),
                event.actor_label,
                event.action,
                event.get_action_display(),
                event.object_type,
                event.object_id,
                event.object_repr,
                as_json(event.before),
                as_json(event.after),
                event.note,
            )
        )


@admin.register(AuditEvent)
class AuditEventAdmin(admin.ModelAdmin):
    def has_module_permission(self, request):
        return can_read_audit(request.user)

    def has_view_permission(self, request, obj=None):
        return can_read_audit(request.user)

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    def get_urls(self):
        site = self.admin_site
        return [
            path("", site.admin_view(self.changelist_view), name="audit_auditevent_changelist"),
            path("export.csv", site.admin_view(self.export_view), name="audit_auditevent_export"),
            path("<path:object_id>/", site.admin_view(self.entry_view), name="audit_auditevent_change"),
        ]

    def _events(self, request) -> tuple[AuditFilterForm, object]:
        if not can_read_audit(request.user):
            raise PermissionDenied
        form = AuditFilterForm(request.GET or None)
        return form, filtered(AuditEvent.objects.select_related("actor"), form)

    def changelist_view(self, request, extra_context=None):
        form, events = self._events(request)
        page = Paginator(events, PAGE_SIZE).get_page(request.GET.get("page"))
        query = request.GET.copy()
        query.pop("page", None)
        context = {
            **self.admin_site.each_context(request),
            "opts": self.opts,
            "title": "Audit trail",
            "form": form,
            "page": page,
            "query": query.urlencode(),
            "export_url": reverse("admin:audit_auditevent_export") + (f"?{query.urlencode()}" if query else ""),
        }
        return TemplateResponse(request, "admin/audit/auditevent/change_list.html", context)

    def export_view(self, request):
        form, events = self._events(request)
        if form.is_bound and not form.is_valid():
            return redirect(reverse("admin:audit_auditevent_changelist") + "?" + request.GET.urlencode())
        response = StreamingHttpResponse(csv_rows(events), content_type="text/csv; charset=utf-8")
        stamp = timezone.now().strftime("%Y%m%d-%H%M%S")
        response["Content-Disposition"] = f'attachment; filename="audit-trail-{stamp}.csv"'
        return response

    def entry_view(self, request, object_id):
        """An entry's own page is the list narrowed to its object (entries have nothing to edit)."""
        if not can_read_audit(request.user):
            raise PermissionDenied
        event = AuditEvent.objects.filter(pk=object_id).first() if object_id.isdigit() else None
        url = reverse("admin:audit_auditevent_changelist")
        if event is None:
            return redirect(url)
        return redirect(f"{url}?{urlencode({'object_type': event.object_type, 'object': event.object_id})}")
