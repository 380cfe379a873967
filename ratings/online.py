"""Online Elo and TrueSkill, applied by a worker in batches, in vote order, exactly once per vote.

A vote request only stores the vote. ``apply_pending`` (run by ``ratings.tasks.apply_online_ratings``,
queued when a vote commits and by beat) reads the votes past the watermark in id order and moves the
ratings and the watermark in one transaction, so a batch counts once or not at all.

A vote's id is taken at INSERT and the vote commits a moment later, so a vote with a lower id can
become visible after a higher one. A gap in the ids is therefore waited for: votes after a gap are
applied only once they are ``ARENA_ONLINE_RATINGS_SETTLE_SECONDS`` old, by when the missing id
belongs to a transaction that rolled back (the loser of a double submit). Insider votes and flagged
votes move nothing; the watermark passes them. Imported votes count, and an import is followed by
``rebuild_online_ratings``, which replays every counted vote in timestamp order.
"""

from __future__ import annotations

import datetime
from dataclasses import dataclass

from django.conf import settings
from django.db import transaction
from django.db.models import Count, Min
from django.utils import timezone

from battles.models import LLMVersion, Vote
from ratings import services
from ratings.engine import ClosedFormTrueSkill, elo_update
from ratings.models import OnlineRating, OnlineRatingWatermark

DEFAULT_DRAW_PROBABILITY = 0.3
WATERMARK_PK = 1


@dataclass(frozen=True)
class Progress:
    applied: int  # votes the watermark passed (counted or not)
    waiting: bool  # stopped at a gap in the ids younger than the settle time: run again after it


def draw_probability() -> float:
    """TrueSkill's draw probability: the share of ties and both-bad on the latest default board."""
    snapshot = services.latest_snapshot()
    if snapshot is None:
        return DEFAULT_DRAW_PROBABILITY
    totals = snapshot.data.outcome_totals or {}
    count = sum(totals.values())
    if count < 20:
        return DEFAULT_DRAW_PROBABILITY
    drawn = totals.get("tie", 0) + totals.get("both_bad", 0)
    return min(0.9, max(0.01, drawn / count))


def _locked_watermark() -> OnlineRatingWatermark:
    """The watermark row, locked. Created before the first vote when missing (an empty database)."""
    mark = OnlineRatingWatermark.objects.select_for_update().filter(pk=WATERMARK_PK).first()
    if mark is None:
        first = Vote.objects.aggregate(first=Min("pk"))["first"]
        OnlineRatingWatermark.objects.get_or_create(pk=WATERMARK_PK, defaults={"last_vote_id": (first or 1) - 1})
        mark = OnlineRatingWatermark.objects.select_for_update().get(pk=WATERMARK_PK)
    return mark


def _ready(rows: list[tuple], after: int, settle_seconds: float) -> tuple[list[tuple], bool]:
    """The leading votes that are safe to apply now, and whether a gap made the rest wait."""
    cutoff = timezone.now() - datetime.timedelta(seconds=settle_seconds)
    expected = after + 1
    ready: list[tuple] = []
    for row in rows:
        pk, created_at = row[0], row[-1]
        if pk != expected and created_at > cutoff:
            return ready, True
        ready.append(row)
        expected = pk + 1
    return ready, False


def _apply(rows: list[tuple]) -> None:
    # Imported votes count like the others (they are on the boards); insider and flagged ones do not.
    counted = [row for row in rows if not (row[4] or row[5])]
    if not counted:
        return
    version_ids = sorted({row[1] for row in counted} | {row[2] for row in counted})
    existing = set(OnlineRating.objects.filter(llm_version_id__in=version_ids).values_list("llm_version_id", flat=True))
    OnlineRating.objects.bulk_create(
        [OnlineRating(llm_version_id=v) for v in version_ids if v not in existing], ignore_conflicts=True
    )
    ratings = {r.llm_version_id: r for r in OnlineRating.objects.filter(llm_version_id__in=version_ids)}
    # The same closed-form update as the replay (rebuild_online_ratings): the same numbers either way.
    rater = ClosedFormTrueSkill(draw_probability())
    for _, version_a, version_b, outcome, *_ in counted:
        a, b = ratings[version_a], ratings[version_b]
        a.elo, b.elo = elo_update(a.elo, b.elo, outcome, k=settings.ARENA_ELO_K)
        (a.trueskill_mu, a.trueskill_sigma), (b.trueskill_mu, b.trueskill_sigma) = rater.rate(
            (a.trueskill_mu, a.trueskill_sigma), (b.trueskill_mu, b.trueskill_sigma), str(outcome)
        )
        a.votes += 1
        b.votes += 1
    now = timezone.now()
    for rating in ratings.values():
        rating.updated_at = now
    OnlineRating.objects.bulk_update(
        list(ratings.values()), ["elo", "trueskill_mu", "trueskill_sigma", "votes", "updated_at"]
    )


def apply_batch(*, batch_size: int, settle_seconds: float) -> Progress:
    """Apply up to ``batch_size`` votes past the watermark, with the watermark, in one transaction."""
    with transaction.atomic():
        mark = _locked_watermark()
        rows = list(
            Vote.objects.filter(pk__gt=mark.last_vote_id)
            .order_by("pk")
            .values_list(
                "pk", "version_a_id", "version_b_id", "outcome", "insider", "flagged", "imported", "created_at"
            )[:batch_size]
        )
        ready, waiting = _ready(rows, mark.last_vote_id, settle_seconds)
        if ready:
            _apply(ready)
            mark.last_vote_id = ready[-1][0]
            mark.save(update_fields=["last_vote_id", "updated_at"])
        return Progress(applied=len(ready), waiting=waiting)


def apply_pending(*, batch_size: int | None = None, settle_seconds: float | None = None) -> Progress:
    """Apply every vote past the watermark that is ready, batch after batch."""
    batch_size = batch_size or settings.ARENA_ONLINE_RATINGS_BATCH
    settle_seconds = settings.ARENA_ONLINE_RATINGS_SETTLE_SECONDS if settle_seconds is None else settle_seconds
    applied = 0
    while True:
        progress = apply_batch(batch_size=batch_size, settle_seconds=settle_seconds)
        applied += progress.applied
        if progress.waiting or progress.applied < batch_size:
            return Progress(applied=applied, waiting=progress.waiting)


def rebuild_online_ratings() -> int:
    """Elo and TrueSkill of every version replayed over the counted votes in timestamp order, as if
    each had moved them when it was cast: after an import (an imported vote keeps the time its file
    gives), after exclusions, after loading a history. Returns the number of versions rated.

    First the worker's own pass brings the watermark to the votes that have settled; the replay then
    covers exactly the votes up to the watermark, under its lock, so no vote counts twice and none
    is skipped: later votes are applied one by one after the replay, as usual.
    """
    apply_pending()
    with transaction.atomic():
        mark = _locked_watermark()
        votes = services.counted_votes().filter(pk__lte=mark.last_vote_id)
        labels = {v.pk: str(v.pk) for v in LLMVersion.objects.all()}
        replayed = services.replayed_online_ratings(votes, labels)
        counts: dict[int, int] = {}
        for a, b, n in votes.values_list("version_a_id", "version_b_id").annotate(n=Count("id")).order_by():
            counts[a] = counts.get(a, 0) + n
            counts[b] = counts.get(b, 0) + n
        OnlineRating.objects.all().delete()
        OnlineRating.objects.bulk_create(
            OnlineRating(llm_version_id=int(label), votes=counts.get(int(label), 0), **values)
            for label, values in replayed.items()
        )
    return len(replayed)
