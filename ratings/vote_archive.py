"""The votes a process's refits read, kept in memory and brought up to each fit's counts mark.

A filtered board replays its votes in time order (Elo, TrueSkill); a style-controlled board and the
decision page read every vote of their filter. Read from Postgres at each refit, that was ~0.3 s of
Postgres work per refit at 335k votes, at normal priority while the refit itself runs at the idle CPU
class: eval leads opening boards took 13–36% of the voters' throughput (issue 11). Here each vote is
read once per process; a refit filters arrays.

The archive holds exactly the votes of a ``ratings.counts.VoteMark``, with what the counts know of
them (pair, outcome, insider, flagged, live, category, pool), plus time, battle and voter. Within an
epoch of the counts a vote's cell does not change (an exclusion or repaired drift moves the epoch;
imported votes are new ids, read like any new vote), so moving to another mark of the same epoch reads
only the votes it holds that the archive's does not. Another epoch, another counts state
(``CountsState.identity``: another database, a reset) or a mark behind the archive's (a restored
database) reads everything again.
"""

from __future__ import annotations

import datetime as dt
import threading
from dataclasses import dataclass

import numpy as np
from django.contrib.auth import get_user_model
from django.db import connections
from django.db.models import BigIntegerField, Func, Max, Min
from django.utils import timezone

from battles.models import PromptPool, Vote
from ratings.counts import Counts, VoteMark
from ratings.engine.data import OUTCOME_INDEX, OUTCOMES
from ratings.filters import CALENDAR_END, CALENDAR_START, BoardFilter

READ_BATCH = 10_000
READ_WINDOW = 50_000  # ids per query
EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)
ONE_MICROSECOND = dt.timedelta(microseconds=1)
NO_ID = -1  # a vote without a battle (imported), a voter or a pool
COLUMNS = (
    "id",
    "created_at",
    "version_a_id",
    "version_b_id",
    "outcome",
    "insider",
    "flagged",
    "live",
    "battle_id",
    "voter_id",
    "battle__prompt__category",
    "battle__prompt__pool_id",
)
# The archive's arrays, in the order ``_arrays`` makes them from the columns above.
ARRAYS = (
    *("ids", "created", "model_a", "model_b", "outcome", "insider", "flagged", "live"),
    *("battle", "voter", "category", "pool"),
)


def micros(moment: dt.datetime | str) -> int:
    """Microseconds since 1970 (UTC), exactly: the archive's time, ordered as the database orders it. A plain
    cursor on SQLite gives the stored text or a naive time, in UTC (as Django stores it with USE_TZ)."""
    if isinstance(moment, str):
        moment = dt.datetime.fromisoformat(moment)
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=dt.UTC)
    return (moment - EPOCH) // ONE_MICROSECOND


class EpochMicroseconds(Func):
    """A timestamp as whole microseconds since 1970 (UTC), on Postgres (``EXTRACT`` is exact from 14 on)."""

    template = "(EXTRACT(EPOCH FROM %(expressions)s) * 1000000)::bigint"
    output_field = BigIntegerField()


@dataclass(frozen=True)
class BoardVotes:
    """The votes of one board, in time order (created_at, then id), as arrays."""

    ids: np.ndarray
    created: np.ndarray  # microseconds since 1970 (UTC), ascending
    model_a: np.ndarray  # LLM version ids
    model_b: np.ndarray
    outcome: np.ndarray  # codes into ratings.engine.data.OUTCOMES
    battle: np.ndarray  # NO_ID: an imported vote without a battle
    category: np.ndarray  # codes into ``categories``; 0: none
    categories: tuple[str, ...]

    def __len__(self) -> int:
        return len(self.ids)

    def take(self, keep: np.ndarray) -> BoardVotes:
        """The votes where ``keep`` is true, in the same order."""
        return BoardVotes(
            ids=self.ids[keep],
            created=self.created[keep],
            model_a=self.model_a[keep],
            model_b=self.model_b[keep],
            outcome=self.outcome[keep],
            battle=self.battle[keep],
            category=self.category[keep],
            categories=self.categories,
        )

    def category_names(self) -> np.ndarray:
        """Each vote's category ("" for none), as an array of names."""
        return np.asarray(self.categories, dtype=object)[self.category]

    def arrays(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(version a, version b, outcome code) of every vote, in time order."""
        return self.model_a, self.model_b, self.outcome

    def counts(self) -> Counts:
        """(version a, version b, outcome, votes), ordered as ``ratings.services.aggregated_counts``."""
        return sorted((a, b, OUTCOMES[o], n) for (a, b, o), n in self._cells(np.ones(len(self), dtype=bool)).items())

    def category_counts(self) -> dict[str, Counts]:
        """``counts`` per non-empty category, as ``ratings.counts.category_counts`` gives them."""
        out = {}
        for code, name in enumerate(self.categories):
            if name:
                cells = self._cells(self.category == code)
                if cells:
                    out[name] = sorted((a, b, OUTCOMES[o], n) for (a, b, o), n in cells.items())
        return out

    def _cells(self, keep: np.ndarray) -> dict[tuple[int, int, int], int]:
        if not keep.any():
            return {}
        cells, n, _ = vote_cells(self.model_a[keep], self.model_b[keep], self.outcome[keep])
        return {(int(a), int(b), int(o)): int(k) for (a, b, o), k in zip(cells, n)}


class VoteArchive:
    """Every vote of a counts mark, in arrays ordered by id (see the module's docstring)."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.reads = 0  # votes read from the database by this archive (for tests and benches)
        self.clear()

    def clear(self) -> None:
        self.mark: VoteMark | None = None
        self.identity = ""
        self.ids = np.empty(0, dtype=np.int64)
        self.created = np.empty(0, dtype=np.int64)
        self.model_a = np.empty(0, dtype=np.int64)
        self.model_b = np.empty(0, dtype=np.int64)
        self.outcome = np.empty(0, dtype=np.int8)
        self.insider = np.empty(0, dtype=bool)
        self.flagged = np.empty(0, dtype=bool)
        self.live = np.empty(0, dtype=bool)
        self.battle = np.empty(0, dtype=np.int64)
        self.voter = np.empty(0, dtype=np.int64)
        self.category = np.empty(0, dtype=np.int32)
        self.pool = np.empty(0, dtype=np.int64)
        self.categories: dict[str, int] = {"": 0}
        self._time_order: np.ndarray | None = None

    def votes(self, mark: VoteMark, flt: BoardFilter) -> BoardVotes:
        """The votes of ``flt`` that ``mark`` holds, in time order."""
        with self.lock:
            self._bring_to(mark)
            keep = _holds(mark, self.ids) & self._matches(flt)
            order = self._in_time_order()
            order = order[keep[order]]
            return BoardVotes(
                ids=self.ids[order],
                created=self.created[order],
                model_a=self.model_a[order],
                model_b=self.model_b[order],
                outcome=self.outcome[order],
                battle=self.battle[order],
                category=self.category[order],
                categories=tuple(sorted(self.categories, key=self.categories.__getitem__)),
            )

    # --- keeping up with the marks ----------------------------------------------------------

    def _bring_to(self, mark: VoteMark) -> None:
        held = self.mark
        if (
            held is None
            or held.identity != mark.identity
            or held.epoch != mark.epoch
            or mark.through_vote_id < held.through_vote_id
        ):
            self.clear()
            self.identity = mark.identity
            self._add(mark.seen(Vote.objects.all()))
            self.mark = mark
            return
        if mark.through_vote_id == held.through_vote_id and mark.gaps == held.gaps:
            return
        self._add(held.unseen(mark.seen(Vote.objects.all())))
        self.mark = union(held, mark)

    def _add(self, votes) -> None:
        if connections[votes.db].vendor == "postgresql":
            # Parsing a timestamp per vote was two thirds of reading them: Postgres gives the number instead.
            votes = votes.annotate(created_us=EpochMicroseconds("created_at"))
            selected = (COLUMNS[0], "created_us", *COLUMNS[2:])
        else:
            selected = COLUMNS
        span = votes.aggregate(first=Min("pk"), last=Max("pk"))
        parts: list[tuple[np.ndarray, ...]] = []
        start = span["first"]
        # A window of ids per query: the client holds one window's rows at a time, not every vote's (a whole
        # result of 500k votes took ~250 MB while it was read).
        while start is not None and start <= span["last"]:
            window = votes.filter(pk__gte=start, pk__lt=start + READ_WINDOW).order_by().values_list(*selected)
            sql, params = window.query.sql_with_params()
            found = 0
            with connections[window.db].cursor() as cursor:
                cursor.execute(sql, params)
                while rows := cursor.fetchmany(READ_BATCH):
                    parts.append(self._arrays(rows))
                    found += len(rows)
            self.reads += found
            start += READ_WINDOW
            if not found:
                # Ids are sparse here (an old gap and new votes, a jump in the sequence): on to the next one.
                start = votes.filter(pk__gte=start).aggregate(first=Min("pk"))["first"]
        if not parts:
            return
        columns = [np.concatenate([getattr(self, name), *(part[k] for part in parts)]) for k, name in enumerate(ARRAYS)]
        # By id, each vote once (the gaps of an older mark can name votes already held: read again, kept once).
        _, first = np.unique(columns[0], return_index=True)
        for name, column in zip(ARRAYS, columns):
            setattr(self, name, column[first])
        self._time_order = None

    def _arrays(self, rows: list[tuple]) -> tuple[np.ndarray, ...]:
        ids, created, a, b, outcome, insider, flagged, live, battle, voter, category, pool = zip(*rows)
        codes = self.categories
        return (
            np.array(ids, dtype=np.int64),
            np.array([moment if isinstance(moment, int) else micros(moment) for moment in created], np.int64),
            np.array(a, dtype=np.int64),
            np.array(b, dtype=np.int64),
            np.array([OUTCOME_INDEX[o] for o in outcome], dtype=np.int8),
            np.array(insider, dtype=bool),
            np.array(flagged, dtype=bool),
            np.array(live, dtype=bool),
            np.array([NO_ID if pk is None else pk for pk in battle], dtype=np.int64),
            np.array([NO_ID if pk is None else pk for pk in voter], dtype=np.int64),
            np.array([codes.setdefault(name or "", len(codes)) for name in category], dtype=np.int32),
            np.array([NO_ID if pk is None else pk for pk in pool], dtype=np.int64),
        )

    def _in_time_order(self) -> np.ndarray:
        if self._time_order is None:
            self._time_order = np.lexsort((self.ids, self.created))
        return self._time_order

    # --- a board's filter, as ``BoardFilter.votes`` applies it --------------------------------

    def _matches(self, flt: BoardFilter) -> np.ndarray:
        keep = np.ones(len(self.ids), dtype=bool)
        if not flt.include_insider:
            keep &= ~self.insider
        if not flt.include_flagged:
            keep &= ~self.flagged
        if not flt.include_live:
            keep &= ~self.live
        if flt.category:
            keep &= self.category == self.categories.get(flt.category, -1)
        if flt.pool:
            pools = PromptPool.objects.filter(code=flt.pool).values_list("pk", flat=True)
            keep &= np.isin(self.pool, np.fromiter(pools, dtype=np.int64))
        zone = timezone.get_current_timezone()
        if flt.date_from and flt.date_from > CALENDAR_START:
            start = timezone.make_aware(dt.datetime.combine(flt.date_from, dt.time.min), zone)
            keep &= self.created >= micros(start)
        if flt.date_to and flt.date_to < CALENDAR_END:
            end = dt.datetime.combine(flt.date_to + dt.timedelta(days=1), dt.time.min)
            keep &= self.created < micros(timezone.make_aware(end, zone))
        if flt.group:
            members = get_user_model().objects.filter(groups__name=flt.group).values_list("pk", flat=True)
            keep &= np.isin(self.voter, np.fromiter(members, dtype=np.int64))
        return keep


def vote_cells(model_a: np.ndarray, model_b: np.ndarray, outcome: np.ndarray):
    """The distinct (a, b, outcome) cells of the votes, sorted, with each one's votes and each vote's cell.

    What ``np.unique(rows, axis=0, return_inverse=True, return_counts=True)`` gives for the rows (a, b,
    outcome), from one integer key per vote: unique over rows sorts them as structured values, ~10 times slower.
    """
    versions, version_codes = np.unique(np.concatenate([model_a, model_b]), return_inverse=True)
    size = len(versions)
    code_a, code_b = version_codes[: len(model_a)], version_codes[len(model_a) :]
    keys = (code_a.astype(np.int64) * size + code_b) * len(OUTCOMES) + outcome.astype(np.int64)
    distinct, inverse, n = np.unique(keys, return_inverse=True, return_counts=True)
    cell_a, rest = np.divmod(distinct, size * len(OUTCOMES))
    cell_b, cell_outcome = np.divmod(rest, len(OUTCOMES))
    cells = np.stack([versions[cell_a], versions[cell_b], cell_outcome], axis=1)
    return cells, n, inverse.ravel()


def _holds(mark: VoteMark, ids: np.ndarray) -> np.ndarray:
    """Which of ``ids`` ``mark`` holds."""
    keep = ids <= mark.through_vote_id
    if mark.gaps:
        edges = np.array([edge for lo, hi in _merged(mark.gaps) for edge in (lo, hi + 1)], dtype=np.int64)
        keep &= np.searchsorted(edges, ids, side="right") % 2 == 0  # odd: inside a gap
    return keep


def _merged(ranges) -> list[tuple[int, int]]:
    """Inclusive id ranges, sorted and merged where they touch or overlap."""
    out: list[tuple[int, int]] = []
    for lo, hi in sorted(ranges):
        if out and lo <= out[-1][1] + 1:
            out[-1] = (out[-1][0], max(out[-1][1], hi))
        else:
            out.append((lo, hi))
    return out


def _unseen(mark: VoteMark, through: int) -> list[tuple[int, int]]:
    """The ids up to ``through`` that ``mark`` does not hold, as merged ranges."""
    ranges = [gap for gap in _merged(mark.gaps) if gap[0] <= through]
    if through > mark.through_vote_id:
        ranges.append((mark.through_vote_id + 1, through))
    return _merged((lo, min(hi, through)) for lo, hi in ranges)


def union(first: VoteMark, second: VoteMark) -> VoteMark:
    """The mark of the votes either mark holds (same epoch)."""
    through = max(first.through_vote_id, second.through_vote_id)
    gaps = []
    left, right = _unseen(first, through), _unseen(second, through)
    i = j = 0
    while i < len(left) and j < len(right):
        lo, hi = max(left[i][0], right[j][0]), min(left[i][1], right[j][1])
        if lo <= hi:
            gaps.append((lo, hi))
        if left[i][1] < right[j][1]:
            i += 1
        else:
            j += 1
    return VoteMark(through, tuple(gaps), second.epoch, second.identity)


ARCHIVE = VoteArchive()
