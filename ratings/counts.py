"""Aggregated vote counts: the boards' input, kept up to date as votes commit.

``VoteTotal`` holds the number of votes per (version pair, outcome, insider, flagged, live,
category, pool); ``DailyVoteCount`` the same per day, for boards with a date range. A board
filter without a voter group reads its (pair, outcome) counts from them with one small
GROUP BY, whatever the number of votes (``filter_counts``).

New votes are folded in by a worker (``fold``): the votes after the watermark
(``CountsState.through_vote_id``) are added, and the watermark moves, in one transaction
that holds the state row's lock, so each vote is counted exactly once. Ids below the
watermark that were not visible then (a vote still committing, one rolled back) are kept as
gaps and looked for again at every fold. Everything else that changes the vote set
(imports, exclusions and restores) goes through ``reconcile``: a recount of the votes the
watermark covers, compared with the tables, which are replaced when they differ (the epoch
moves, so every snapshot of the old counts is stale). The periodic check is the same
recount, and it logs any drift it repairs.

A fit reads votes through the same ``VoteMark`` (``seen``), so a snapshot stamped with a
mark is exactly the board of the votes that mark names; ``unseen`` is what a page counts as
"votes behind".
"""

from __future__ import annotations

import logging
import time
from collections import defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import TypeVar

from django.conf import settings
from django.db import connections, transaction
from django.db.models import Count, Q, QuerySet, Sum
from django.db.models.functions import TruncDate
from django.utils import timezone

from battles.models import PromptPool, Vote
from ratings.filters import CALENDAR_END, CALENDAR_START, BoardFilter
from ratings.models import CountsState, DailyVoteCount, VoteTotal

logger = logging.getLogger(__name__)

STATE_PK = 1
FOLD_BATCH = 20_000
MAX_GAPS = 1000
CELL = ("version_a_id", "version_b_id", "outcome", "insider", "flagged", "live", "category", "pool")
DAY_CELL = ("day", *CELL)
VOTE_COLUMNS = (
    "id",
    "version_a_id",
    "version_b_id",
    "outcome",
    "insider",
    "flagged",
    "live",
    "battle__prompt__category",
    "battle__prompt__pool_id",
    "created_at",
)

Counts = list[tuple[int, int, str, int]]
T = TypeVar("T")


@dataclass(frozen=True)
class VoteMark:
    """Which votes the counts (or a snapshot) hold: ids up to ``through_vote_id`` but ``gaps``."""

    through_vote_id: int = 0
    gaps: tuple[tuple[int, int], ...] = ()
    epoch: int = 0
    # Which counts state the mark is of (``CountsState.identity``); not part of a snapshot's stamp.
    identity: str = field(default="", compare=False)

    @classmethod
    def of_state(cls, state: CountsState) -> VoteMark:
        gaps = tuple((lo, hi) for lo, hi, _ in state.gaps)
        return cls(state.through_vote_id, gaps, state.epoch, str(state.identity))

    def _in_gaps(self) -> Q:
        q = Q(pk__in=[])
        for lo, hi in self.gaps:
            q |= Q(pk__range=(lo, hi))
        return q

    def seen(self, votes: QuerySet) -> QuerySet:
        """``votes`` restricted to those this mark holds."""
        votes = votes.filter(pk__lte=self.through_vote_id)
        return votes.exclude(self._in_gaps()) if self.gaps else votes

    def unseen(self, votes: QuerySet) -> QuerySet:
        """``votes`` this mark does not hold (newer, or committed late)."""
        return votes.filter(Q(pk__gt=self.through_vote_id) | self._in_gaps())

    def stamp(self) -> dict:
        """The snapshot fields that record this mark."""
        return {
            "through_vote_id": self.through_vote_id,
            "vote_gaps": [list(g) for g in self.gaps],
            "counts_epoch": self.epoch,
        }

    @classmethod
    def of_snapshot(cls, snapshot) -> VoteMark | None:
        if snapshot.through_vote_id is None or snapshot.counts_epoch is None:
            return None
        return cls(snapshot.through_vote_id, tuple((lo, hi) for lo, hi in snapshot.vote_gaps), snapshot.counts_epoch)


def current_state() -> CountsState:
    """The counts' state as stored (not locked); a fresh one when none is stored yet."""
    return CountsState.objects.filter(pk=STATE_PK).first() or CountsState(pk=STATE_PK)


def _locked_state() -> CountsState:
    CountsState.objects.get_or_create(pk=STATE_PK)
    return CountsState.objects.select_for_update().get(pk=STATE_PK)


# --- folding new votes ----------------------------------------------------------------------


def fold() -> VoteMark:
    """Add every vote committed since the last fold to the counts; returns the new mark."""
    mark, _ = folded(lambda: None)
    return mark


def folded(read: Callable[[], T]) -> tuple[VoteMark, T]:
    """Fold new votes, then ``read()`` the counts before any other fold can change them:
    what it reads is exactly the votes of the mark returned with it."""
    with transaction.atomic():
        state = _locked_state()
        if state.time_zone != _zone_name():
            # Days were counted in another time zone (or never): count everything again.
            _count_everything(state)
        else:
            while _fold_batch(state) == FOLD_BATCH:
                pass
        return VoteMark.of_state(state), read()


def _fold_batch(state: CountsState) -> int:
    """Fold the next batch of votes (and any found in the gaps); returns how many new ones."""
    now = time.time()
    gaps = [gap for gap in state.gaps if now - gap[2] < settings.ARENA_COUNTS_GAP_SECONDS]
    if len(gaps) < len(state.gaps):
        logger.info("vote counts: %d id gaps expired (rolled back)", len(state.gaps) - len(gaps))
    found: list[tuple] = []
    if gaps:
        in_gaps = Q(pk__in=[])
        for lo, hi, _ in gaps:
            in_gaps |= Q(pk__range=(lo, hi))
        found = list(Vote.objects.filter(in_gaps).values_list(*VOTE_COLUMNS))
        found_ids = {row[0] for row in found}
        gaps = [piece for gap in gaps for piece in _split(gap, found_ids)]
    # Ids first (the primary key's index alone), then their rows: joined over a range that may be empty,
    # Postgres can pick a plan that reads the whole battle table.
    new_ids = list(
        Vote.objects.filter(pk__gt=state.through_vote_id).order_by("pk").values_list("pk", flat=True)[:FOLD_BATCH]
    )
    new = list(Vote.objects.filter(pk__in=new_ids).order_by("pk").values_list(*VOTE_COLUMNS)) if new_ids else []
    previous = state.through_vote_id
    for row in new:
        if row[0] > previous + 1:
            gaps.append([previous + 1, row[0] - 1, now])
        previous = row[0]
    if len(gaps) > MAX_GAPS:
        logger.warning("vote counts: %d id gaps, keeping the newest %d", len(gaps), MAX_GAPS)
        gaps = sorted(gaps, key=lambda gap: gap[2])[-MAX_GAPS:]
    gaps = sorted(gaps)
    if not found and not new and gaps == state.gaps:
        return 0  # nothing new: no write
    _add(found + new)
    state.through_vote_id = previous
    state.gaps = gaps
    state.folded_at = timezone.now()
    state.save()
    return len(new)


def _split(gap: list, found: set[int]) -> list[list]:
    """``gap`` without the ids in ``found``."""
    lo, hi, since = gap
    inside = sorted(i for i in found if lo <= i <= hi)
    pieces, start = [], lo
    for i in inside:
        if i > start:
            pieces.append([start, i - 1, since])
        start = i + 1
    if start <= hi:
        pieces.append([start, hi, since])
    return pieces


def _add(rows: list[tuple]) -> None:
    if not rows:
        return
    codes = _pool_codes({row[8] for row in rows})
    daily: dict[tuple, int] = defaultdict(int)
    for _pk, a, b, outcome, insider, flagged, live, category, pool_id, created_at in rows:
        cell = (a, b, outcome, insider, flagged, live, category or "", codes.get(pool_id, ""))
        daily[(timezone.localtime(created_at).date(), *cell)] += 1
    totals: dict[tuple, int] = defaultdict(int)
    for key, n in daily.items():
        totals[key[1:]] += n
    _increment(VoteTotal, CELL, totals)
    _increment(DailyVoteCount, DAY_CELL, daily)


def _increment(model, fields: tuple[str, ...], deltas: dict[tuple, int]) -> None:
    """Add ``deltas`` (cell -> votes) to ``model``'s rows. Only the holder of the state lock writes."""
    rows = model.objects.filter(
        version_a_id__in={key[fields.index("version_a_id")] for key in deltas},
        version_b_id__in={key[fields.index("version_b_id")] for key in deltas},
    )
    if "day" in fields:
        rows = rows.filter(day__in={key[0] for key in deltas})
    existing = {tuple(row[1:]): row[0] for row in rows.values_list("pk", *fields)}
    increments = [(n, existing[key]) for key, n in deltas.items() if key in existing]
    if increments:
        # One plain statement, run for each row: bulk_update's CASE per row cost ~0.1 s of the worker's CPU
        # for a fold of 150 votes, most of the default board's recompute.
        quote = connections[rows.db].ops.quote_name
        table, count, pk = quote(model._meta.db_table), quote("n"), quote(model._meta.pk.column)
        with connections[rows.db].cursor() as cursor:
            cursor.executemany(f"UPDATE {table} SET {count} = {count} + %s WHERE {pk} = %s", increments)
    created = [model(**dict(zip(fields, key)), n=n) for key, n in deltas.items() if key not in existing]
    model.objects.bulk_create(created, batch_size=2000)


def _pool_codes(pool_ids: Iterable[int | None]) -> dict[int, str]:
    ids = {pk for pk in pool_ids if pk is not None}
    return {pk: str(code) for pk, code in PromptPool.objects.filter(pk__in=ids).values_list("pk", "code")}


def _zone_name() -> str:
    return str(timezone.get_current_timezone())


# --- recount, repair and rebuild ------------------------------------------------------------


@dataclass(frozen=True)
class Drift:
    """What a recount found: cells whose count differed, and the votes they differed by."""

    cells: int = 0
    votes: int = 0

    def __bool__(self) -> bool:
        return self.cells > 0


def reconcile(*, reason: str, force: bool = False) -> Drift:
    """Fold new votes, recount the votes the watermark covers and repair the tables if they differ.

    ``reason``: why (logged): "import" and "exclusions" expect a difference, "check" does not
    (a difference then is drift, logged as a warning). ``force`` rewrites the tables even when
    they agree (the rebuild command). Returns the difference found.
    """
    with transaction.atomic():
        state = _locked_state()
        if state.time_zone != _zone_name():
            _count_everything(state)
            return Drift()
        while _fold_batch(state) == FOLD_BATCH:
            pass
        daily, totals = _recount(VoteMark.of_state(state))
        drift = _difference(DailyVoteCount, DAY_CELL, daily)
        if drift and reason == "check":
            logger.warning(
                "vote counts drifted from the votes: %d cells, %d votes apart; repaired", drift.cells, drift.votes
            )
        elif drift:
            logger.info("vote counts rebuilt after %s: %d cells changed", reason, drift.cells)
        if drift or force:
            _replace_counts(state, daily, totals, new_epoch=bool(drift))
        else:
            state.rebuilt_at = timezone.now()
            state.save(update_fields=["rebuilt_at"])
        return drift


def _count_everything(state: CountsState) -> None:
    """Counts from scratch, up to the newest vote now (a vote still committing below it is the
    periodic check's to find)."""
    top = Vote.objects.order_by("-pk").values_list("pk", flat=True).first() or 0
    state.through_vote_id = top
    state.gaps = []
    state.time_zone = _zone_name()
    _replace_counts(state, *_recount(VoteMark(top, (), state.epoch)))


def _recount(mark: VoteMark) -> tuple[dict[tuple, int], dict[tuple, int]]:
    """(daily cells, total cells) counted from the votes ``mark`` holds."""
    rows = (
        mark.seen(Vote.objects.all())
        .annotate(day=TruncDate("created_at"))
        .values_list("day", *VOTE_COLUMNS[1:-1])  # a vote's cell, without its id and time
        .annotate(n=Count("id"))
        .order_by()
    )
    rows = list(rows)
    codes = _pool_codes({row[8] for row in rows})
    daily: dict[tuple, int] = defaultdict(int)
    for day, a, b, outcome, insider, flagged, live, category, pool_id, n in rows:
        daily[(day, a, b, outcome, insider, flagged, live, category or "", codes.get(pool_id, ""))] += n
    totals: dict[tuple, int] = defaultdict(int)
    for key, n in daily.items():
        totals[key[1:]] += n
    return daily, totals


def _difference(model, fields: tuple[str, ...], expected: dict[tuple, int]) -> Drift:
    stored = {row[:-1]: row[-1] for row in model.objects.values_list(*fields, "n")}
    cells = votes = 0
    for key in stored.keys() | expected.keys():
        gap = abs(stored.get(key, 0) - expected.get(key, 0))
        if gap:
            cells += 1
            votes += gap
    return Drift(cells, votes)


def _replace_counts(state: CountsState, daily: dict, totals: dict, *, new_epoch: bool = True) -> None:
    DailyVoteCount.objects.all().delete()
    VoteTotal.objects.all().delete()
    DailyVoteCount.objects.bulk_create(
        [DailyVoteCount(**dict(zip(DAY_CELL, key)), n=n) for key, n in daily.items() if n], batch_size=5000
    )
    VoteTotal.objects.bulk_create(
        [VoteTotal(**dict(zip(CELL, key)), n=n) for key, n in totals.items() if n], batch_size=5000
    )
    if new_epoch:
        state.epoch += 1
    state.rebuilt_at = timezone.now()
    state.save()


# --- reading --------------------------------------------------------------------------------


def _cells(flt: BoardFilter) -> QuerySet | None:
    """The count cells of ``flt``'s votes; None for a filter they cannot answer (a voter group:
    groups are read as they are now, not as they were when the votes were cast)."""
    if flt.group:
        return None
    dated = (flt.date_from and flt.date_from > CALENDAR_START) or (flt.date_to and flt.date_to < CALENDAR_END)
    cells: QuerySet = (DailyVoteCount if dated else VoteTotal).objects.all()
    if not flt.include_insider:
        cells = cells.filter(insider=False)
    if not flt.include_flagged:
        cells = cells.filter(flagged=False)
    if not flt.include_live:
        cells = cells.filter(live=False)
    if flt.category:
        cells = cells.filter(category=flt.category)
    if flt.pool:
        cells = cells.filter(pool=flt.pool)
    if flt.date_from and flt.date_from > CALENDAR_START:
        cells = cells.filter(day__gte=flt.date_from)  # dated: the daily cells
    if flt.date_to and flt.date_to < CALENDAR_END:
        cells = cells.filter(day__lte=flt.date_to)
    return cells


def filter_counts(flt: BoardFilter) -> Counts | None:
    """(version a, version b, outcome, votes) of ``flt``'s votes, ordered as
    ``services.aggregated_counts`` orders them, from the counts (one small GROUP BY); None for a
    filter with a voter group."""
    cells = _cells(flt)
    if cells is None:
        return None
    rows = (
        cells.values_list("version_a_id", "version_b_id", "outcome")
        .annotate(votes=Sum("n"))
        .order_by("version_a_id", "version_b_id", "outcome")
    )
    return [(a, b, outcome, int(n)) for a, b, outcome, n in rows if n]


def category_counts(flt: BoardFilter) -> dict[str, Counts] | None:
    """``filter_counts`` per non-empty prompt category of ``flt`` (its own category ignored)."""
    cells = _cells(flt.without_category())
    if cells is None:
        return None
    rows = (
        cells.exclude(category="")
        .values_list("category", "version_a_id", "version_b_id", "outcome")
        .annotate(votes=Sum("n"))
        .order_by("category", "version_a_id", "version_b_id", "outcome")
    )
    per_category: dict[str, Counts] = defaultdict(list)
    for category, a, b, outcome, n in rows:
        if n:
            per_category[category].append((a, b, outcome, int(n)))
    return dict(per_category)
