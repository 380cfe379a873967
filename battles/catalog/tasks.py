"""The catalog's worker tasks."""

from __future__ import annotations

import logging

from celery import shared_task
from django.db import transaction

from battles.catalog import answer_html

logger = logging.getLogger(__name__)


# A run stops starting batches after this long and queues the next one: a large import is rendered by a
# chain of short runs, so that beat's next run (every RENDER_ANSWERS_EVERY_SECONDS) does not find one
# still going and render the same answers beside it.
RUN_SECONDS = 60.0


@shared_task(ignore_result=True)
def render_answers_html():
    """The HTML of answers stored without it (imports, the demo's history), off the voters' requests."""
    answer_html.render_answers(seconds=RUN_SECONDS)
    if answer_html.without_html().exists():
        render_answers_html.delay()


def render_answers_after_commit() -> None:
    """Queue ``render_answers_html`` once the current transaction commits (answers were stored without HTML).

    A broker that is down only delays it: the periodic run renders them, and pages render meanwhile.
    """

    def publish() -> None:
        try:
            render_answers_html.delay()
        except Exception:
            logger.warning("could not queue the rendering of imported answers", exc_info=True)

    transaction.on_commit(publish)
