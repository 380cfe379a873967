"""Prompt pools: adding a prompt, hiding and editing prompts (bulk imports are in ``battles.catalog.imports``).

Hiding a prompt and editing one change what is measured, so both are recorded
in the audit trail.
"""

from __future__ import annotations

from django.db import IntegrityError, transaction
from django.db.models import QuerySet

from arena.audit.recording import Action, Entry, changed_fields, record, record_many
from battles.core.text import prompt_hash
from battles.models import Prompt, PromptPool

AUDITED_FIELDS = ("pool", "text", "category", "tags", "external_id", "hidden")


def add_prompt(*, pool: PromptPool, text: str, category: str = "", tags=(), external_id: str = "") -> Prompt | None:
    """Store a prompt unless the pool already has the same normalised text."""
    try:
        with transaction.atomic():
            return Prompt.objects.create(
                pool=pool,
                text=text,
                category=category,
                tags=list(tags),
                external_id=external_id,
                text_hash=prompt_hash(text),
            )
    except IntegrityError:
        return None


def short(text: str) -> str:
    text = " ".join(text.split())
    return text if len(text) <= 80 else text[:79] + "…"


def set_hidden(*, prompts: QuerySet[Prompt], hidden: bool) -> int:
    """Hide (or show again) the given prompts; returns how many changed. Hidden prompts are not served."""
    with transaction.atomic():
        rows = list(prompts.filter(hidden=not hidden).values_list("pk", "text", "pool__name"))
        changed = Prompt.objects.filter(pk__in=[pk for pk, _, _ in rows], hidden=not hidden).update(hidden=hidden)
        record_many(
            Entry(
                Action.PROMPT_HIDDEN if hidden else Action.PROMPT_SHOWN,
                "prompt",
                pk,
                short(text),
                before={"hidden": not hidden},
                after={"hidden": hidden},
                note=f"pool {pool}" if pool else "",
            )
            for pk, text, pool in rows
        )
    return changed


def prompt_state(prompt: Prompt) -> dict:
    return {
        "pool": prompt.pool.name if prompt.pool is not None else None,
        "text": prompt.text,
        "category": prompt.category,
        "tags": list(prompt.tags or []),
        "external_id": prompt.external_id,
        "hidden": prompt.hidden,
    }


def record_prompt_saved(*, prompt: Prompt, before: dict | None) -> None:
    """Record an admin's edit of one prompt (call in the transaction that saved it)."""
    after = prompt_state(prompt)
    old, new = changed_fields(before or {}, after) if before is not None else ({}, after)
    if not new and not old:
        return
    action = Action.PROMPT_EDITED
    if before is not None and set(new) == {"hidden"}:
        action = Action.PROMPT_HIDDEN if prompt.hidden else Action.PROMPT_SHOWN
    record(
        action,
        object_type="prompt",
        object_id=prompt.pk,
        object_repr=short(prompt.text),
        before=old if before is not None else None,
        after=new,
        note="added in the admin" if before is None else "",
    )
