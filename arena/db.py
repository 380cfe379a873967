"""Database helpers shared by the apps."""

from __future__ import annotations

from collections.abc import Iterator

from django.db import transaction
from django.db.models import QuerySet


def stream(queryset: QuerySet, chunk_size: int = 10_000) -> Iterator:
    """The rows of ``queryset`` in constant memory, the first ones without waiting for the last.

    Outside a transaction Django declares its Postgres server-side cursor WITH HOLD, and
    Postgres then computes and stores the whole result before handing out the first row
    (six times slower for a million ordered votes). Inside one the cursor streams.

    A cursor is planned for a fast first row, without parallel workers: for a read that needs
    every row of a large ordered join at once, a plain fetch can be much faster (see
    ``ratings.services.compute_snapshot``).
    """
    with transaction.atomic(using=queryset.db):
        yield from queryset.iterator(chunk_size=chunk_size)
