"""Reading the audit trail in tests."""

import json

from arena.audit.models import AuditEvent


def entries(action=None, **filters) -> list[AuditEvent]:
    events = AuditEvent.objects.order_by("id")
    if action is not None:
        events = events.filter(action=action)
    return list(events.filter(**filters))


def only(action, **filters) -> AuditEvent:
    found = entries(action, **filters)
    assert len(found) == 1, f"{action}: {[(e.object_repr, e.before, e.after) for e in found]}"
    return found[0]


def everything_recorded() -> str:
    """Every stored value of every entry, for checks that a secret appears nowhere."""
    return json.dumps(
        list(AuditEvent.objects.values("actor_label", "object_repr", "object_id", "before", "after", "note")),
        default=str,
    )


def admin_action(client, changelist_url, action, objects):
    return client.post(changelist_url, {"action": action, "_selected_action": [str(o.pk) for o in objects]})
