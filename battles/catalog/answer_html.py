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


def render_answers(*, stale: bool = False, batch_size: int = BATCH) -> int:
    """Render and store the HTML of finished answers that have none (``stale``: or whose key is not the
    current one); returns how many were stored. Batches of ``batch_size``, by id, each one transaction."""
    started, rendered, after = time.perf_counter(), 0, 0
    while True:
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


def _store(texts: dict[int, str]) -> int:
    """Store each answer's HTML, only while its text is still the one rendered."""
    rendered = {pk: stored_html(text) for pk, text in texts.items()}  # before the transaction: it stays short
    stored = 0
    with transaction.atomic():
        for pk, text in texts.items():
            html, key = rendered[pk]
            # Guarded by the text: an answer whose text changed meanwhile is not given this HTML.
            stored += Generation.objects.filter(pk=pk, text=text).update(html=html, html_key=key)
    return stored
