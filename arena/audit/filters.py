"""The audit page's filters (actor, action, object, date range), shared by the page and its CSV export."""

from __future__ import annotations

import datetime

from django import forms
from django.db.models import Q, QuerySet
from django.utils import timezone

from arena.audit.models import AuditEvent


class AuditFilterForm(forms.Form):
    actor = forms.CharField(required=False, max_length=150, help_text="Username, sign-in, manage.py …, system.")
    action = forms.ChoiceField(required=False, choices=[("", "any action"), *AuditEvent.Action.choices])
    object_type = forms.ChoiceField(required=False, label="Object type")
    object = forms.CharField(required=False, max_length=200, help_text="Name or id of the object.")
    since = forms.DateField(required=False, label="From", widget=forms.DateInput(attrs={"type": "date"}))
    until = forms.DateField(required=False, label="To (inclusive)", widget=forms.DateInput(attrs={"type": "date"}))

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        types = AuditEvent.objects.order_by("object_type").values_list("object_type", flat=True).distinct()
        self.fields["object_type"].choices = [("", "any type"), *((t, t) for t in types)]

    def clean(self):
        cleaned = super().clean()
        since, until = cleaned.get("since"), cleaned.get("until")
        if since and until and since > until:
            self.add_error("until", "The end of the range is before its start.")
        return cleaned


def day_start(day: datetime.date) -> datetime.datetime:
    return timezone.make_aware(datetime.datetime.combine(day, datetime.time.min))


def filtered(events: QuerySet[AuditEvent], form: AuditFilterForm) -> QuerySet[AuditEvent]:
    """``events`` narrowed by a valid form's values (an invalid form filters nothing: check it first)."""
    values = form.cleaned_data if form.is_valid() else {}
    if values.get("actor"):
        events = events.filter(actor_label__iexact=values["actor"].strip())
    if values.get("action"):
        events = events.filter(action=values["action"])
    if values.get("object_type"):
        events = events.filter(object_type=values["object_type"])
    if values.get("object"):
        text = values["object"].strip()
        events = events.filter(Q(object_repr__icontains=text) | Q(object_id=text))
    if values.get("since"):
        events = events.filter(at__gte=day_start(values["since"]))
    if values.get("until"):
        events = events.filter(at__lt=day_start(values["until"] + datetime.timedelta(days=1)))
    return events
