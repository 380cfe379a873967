"""The stored HTML of answers (``battles.core.rendering``): rendered once, off the voters' requests.

The generation worker renders each answer as it stores it. Answers stored another way (an import
of existing answers, the demo's history, rows older than the stored HTML) are rendered here, by a
worker: after an import and periodically. Until then, and after an upgrade that changes the
renderer's output (its key), pages render the answer themselves, as they always could:
``render_answers(stale=True)`` (``manage.py render_answers --stale``) brings every answer up to date.
"""

from __future__ import annotations

import logging
import time

from django.db import transaction

from battles.core.rendering import html_key, stored_html
from battles.models import Generation

logger = logging.getLogger(__name__)

BATCH = 200


def without_html():
    """Finished answers stored without their HTML (the partial index ``generation_without_html``)."""
    return Generation.objects.filter(status=Generation.Status.DONE, html_key="")


def render_answers(*, stale: bool = False, batch_size: int | None = None, seconds: float | None = None) -> int:
    """Render and store the HTML of finished answers that have none (``stale``: or whose key is not the
    current one); returns how many were stored. Batches of ``batch_size``, by id, each one transaction;
    with ``seconds``, no batch is started after that long (at least one is done)."""
    batch_size = batch_size or BATCH
    started, rendered, after = time.perf_counter(), 0, 0
    while seconds is None or after == 0 or time.perf_counter() - started < seconds:
        rows = Generation.objects.filter(status=Generation.Status.DONE, pk__gt=after)
        if not stale:
            rows = rows.filter(html_key="")
        batch = list(rows.order_by("pk").values_list("pk", "text", "html_key")[:batch_size])
        if not batch:
            break
        after = batch[-1][0]
        todo = {pk: text for pk, text, key in batch if key != html_key(text)}
        if todo:
            rendered += _store(todo)
    if rendered:
        logger.info("rendered the HTML of %d answers in %.1f s", rendered, time.perf_counter() - started)
    return rendered


def _rendered(pk: int, text: str) -> tuple[str, str]:
    """The answer's HTML and key; an answer the renderer fails on is stored with no HTML under its key, so
    that it is not tried again and again, and pages render it themselves (and say so if they cannot)."""
    try:
        return stored_html(text)
    except Exception:
        logger.exception("answer %d could not be rendered; pages will render it themselves", pk)
        return "", html_key(text)


def _store(texts: dict[int, str]) -> int:
    """Store each answer's HTML, only while its text is still the one rendered."""
    rendered = {pk: _rendered(pk, text) for pk, text in texts.items()}  # before the transaction: it stays short
    stored = 0
    with transaction.atomic():
        for pk, text in texts.items():
            html, key = rendered[pk]
            # Guarded by the text: an answer whose text changed meanwhile is not given this HTML.
            stored += Generation.objects.filter(pk=pk, text=text).update(html=html, html_key=key)
    return stored
