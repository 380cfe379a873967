"""Writing audit entries: call inside the transaction that makes the change.

Values are made JSON-safe (decimals and dates as text) and any key that could
hold a secret is written as "(changed)" or "(set)", never its value: the trail
says that a key changed, not what it is.
"""

from __future__ import annotations

import datetime
import re
import uuid
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from decimal import Decimal

from arena.audit.context import Actor, current_actor
from arena.audit.models import AuditEvent

Action = AuditEvent.Action

SECRET_NAMES = re.compile(r"password|secret|encrypted|token_hash|api_key$|private", re.IGNORECASE)
MAX_TEXT = 2000


@dataclass(frozen=True)
class Entry:
    """One change to record; ``record_many`` writes a list of them at once."""

    action: str
    object_type: str
    object_id: object = ""
    object_repr: str = ""
    before: Mapping | None = None
    after: Mapping | None = None
    note: str = ""


def jsonable(value):
    if value is None or isinstance(value, bool | int | float | str):
        return value[:MAX_TEXT] if isinstance(value, str) else value
    if isinstance(value, Decimal):
        return str(value.normalize()) if value == value.to_integral() else str(value)
    if isinstance(value, datetime.datetime | datetime.date):
        return value.isoformat()
    if isinstance(value, uuid.UUID):
        return str(value)
    if isinstance(value, Mapping):
        return {str(k): scrubbed(str(k), v) for k, v in value.items()}
    if isinstance(value, set | frozenset):
        return sorted(jsonable(v) for v in value)
    if isinstance(value, Iterable):
        return [jsonable(v) for v in value]
    return str(value)[:MAX_TEXT]


def scrubbed(name: str, value):
    if SECRET_NAMES.search(name) and value not in (None, "", False):
        return "(set)"
    return jsonable(value)


def _row(entry: Entry, actor: Actor) -> AuditEvent:
    return AuditEvent(
        actor=actor.user,
        actor_label=actor.label[:150],
        action=entry.action,
        object_type=entry.object_type,
        object_id=str(entry.object_id)[:64],
        object_repr=str(entry.object_repr)[:200],
        before=jsonable(entry.before) if entry.before is not None else None,
        after=jsonable(entry.after) if entry.after is not None else None,
        note=entry.note[:MAX_TEXT],
    )


def record(
    action: str,
    *,
    object_type: str,
    object_id: object = "",
    object_repr: str = "",
    before: Mapping | None = None,
    after: Mapping | None = None,
    note: str = "",
    actor: Actor | None = None,
) -> AuditEvent:
    """Append one entry; the actor is the current one (``arena.audit.context``) unless given."""
    entry = Entry(action, object_type, object_id, object_repr, before, after, note)
    row = _row(entry, actor or current_actor())
    row.save()
    return row


def record_many(entries: Iterable[Entry], *, actor: Actor | None = None) -> int:
    """Append many entries (a bulk action over many rows) with one actor."""
    actor = actor or current_actor()
    rows = [_row(entry, actor) for entry in entries]
    AuditEvent.objects.bulk_create(rows, batch_size=1000)
    return len(rows)


def changed_fields(before: Mapping, after: Mapping) -> tuple[dict, dict]:
    """The keys whose values differ, as (before, after) dicts; equal values are left out."""
    keys = [k for k in after if jsonable(before.get(k)) != jsonable(after.get(k))]
    keys += [k for k in before if k not in after]
    return {k: before.get(k) for k in keys}, {k: after.get(k) for k in keys}
