"""Prompt pools: adding a prompt (bulk imports are in ``battles.catalog.imports``)."""

from __future__ import annotations

from django.db import IntegrityError, transaction

from battles.core.text import prompt_hash
from battles.models import Prompt, PromptPool


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
