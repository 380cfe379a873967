"""The style features of answers, measured once and kept per process for style-controlled fits.

An answer's style (``ratings.engine.style_counts`` of its text) is stored in ``GenerationStyle``
when the answer is stored (``store_style_features``, from a receiver) or, for any answer still
without one, at the first fit that needs it. A fit needs the features of both answers of each
battle of its votes: ``FEATURES`` keeps, per process, which two answers each battle showed and
each answer's features. Neither ever changes (a battle's answers are fixed when it is served, an
answer's text when it is done), so a refit reads only battles and answers it has not seen.

Both are read by ranges of ids (two parameters a query), never by lists of ids: a list of 20k
ids took seconds to compile (the ORM), split (psycopg) and parse (Postgres), which was most of a
cold style board (9 s at 120k votes). A board's battles come in long runs of ids (battles are
numbered as they are served), and answers number far fewer than battles.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable

import numpy as np

from battles.models import Battle, Generation
from ratings.engine import style_counts
from ratings.models import GenerationStyle

STYLE_FIELDS = ("length", "headers", "bold", "list_items")  # the order of style_counts
STYLE_BATCH = 2000
# A range read spans no gap wider than RANGE_GAP ids between wanted rows (the rows in a gap are
# read for nothing, or for a later fit) and at most RANGE_SPAN ids (bounded memory per query).
RANGE_GAP = 256
RANGE_SPAN = 50_000
DENSE_SLOTS = 8  # see _Table
DENSE_FLOOR = 1 << 20
NO_ANSWER = -1  # in place of the answers of a battle not found


def store_style_features(generation_ids: Iterable[int]) -> int:
    """Measure and store the style of these answers (those that have none yet); returns how many."""
    ids = list(generation_ids)
    # Ids first, then texts in batches: nothing is written while a cursor is open.
    stored = 0
    for start in range(0, len(ids), STYLE_BATCH):
        texts = Generation.objects.filter(pk__in=ids[start : start + STYLE_BATCH], style__isnull=True).values_list(
            "pk", "text"
        )
        rows = [
            GenerationStyle(generation_id=pk, **dict(zip(STYLE_FIELDS, style_counts(text or "")))) for pk, text in texts
        ]
        GenerationStyle.objects.bulk_create(rows, ignore_conflicts=True)
        stored += len(rows)
    return stored


def id_ranges(ids: np.ndarray, *, max_gap: int = RANGE_GAP, max_span: int = RANGE_SPAN) -> list[tuple[int, int]]:
    """(first, last) ranges covering the sorted unique ``ids``: a new range starts where the next id is
    more than ``max_gap`` past the last one, or where the range would span more than ``max_span`` ids."""
    ranges: list[tuple[int, int]] = []
    if not ids.size:
        return ranges
    breaks = np.flatnonzero(np.diff(ids) > max_gap)
    for start, end in zip(np.r_[0, breaks + 1], np.r_[breaks, ids.size - 1], strict=True):
        first, last = int(ids[start]), int(ids[end])
        while last - first >= max_span:
            # The last wanted id below first + max_span ends this piece; the next piece starts at the id after it.
            cut = int(ids[np.searchsorted(ids, first + max_span, side="left") - 1])
            ranges.append((first, cut))
            first = int(ids[np.searchsorted(ids, cut, side="right")])
        ranges.append((first, last))
    return ranges


class _Table:
    """Rows of numbers by sorted unique integer id (a battle's two answers, an answer's features).

    Ids are a table's primary keys, dense in practice: while the largest is within ``DENSE_SLOTS`` times the
    number of rows (and a floor), a slot per id up to it gives each row's position (a gather: 6 ms against
    24 ms for a binary search, 355k ids among 520k); sparser ids fall back to the search.
    """

    def __init__(self, width: int, dtype) -> None:
        self.ids = np.empty(0, dtype=np.int64)
        self.rows = np.empty((0, width), dtype=dtype)
        self.slots: np.ndarray | None = None  # position of each id's row, by id; -1: none

    def add(self, ids: list[int], rows: list) -> None:
        if not ids:
            return
        ids_now = np.concatenate([self.ids, np.array(ids, dtype=np.int64)])
        rows_now = np.concatenate([self.rows, np.array(rows, dtype=self.rows.dtype).reshape(len(ids), -1)])
        self.ids, first_seen = np.unique(ids_now, return_index=True)  # a row read twice is kept once
        self.rows = rows_now[first_seen]
        self.slots = None
        largest = int(self.ids[-1])
        if self.ids[0] >= 0 and largest < max(DENSE_SLOTS * self.ids.size, DENSE_FLOOR):
            self.slots = np.full(largest + 1, -1, dtype=np.int64)
            self.slots[self.ids] = np.arange(self.ids.size)

    def missing(self, ids: np.ndarray) -> np.ndarray:
        return np.setdiff1d(ids, self.ids)

    def find(self, ids: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(found, positions): which ``ids`` are kept, and where (meaningful only where found)."""
        if not self.ids.size:
            return np.zeros(ids.size, dtype=bool), np.zeros(ids.size, dtype=np.int64)
        if self.slots is not None:
            within = (ids >= 0) & (ids < self.slots.size)
            positions = np.where(within, self.slots[np.where(within, ids, 0)], -1)
            found = positions >= 0
            return found, np.where(found, positions, 0)
        positions = np.minimum(np.searchsorted(self.ids, ids), self.ids.size - 1)
        return self.ids[positions] == ids, positions


class FeatureCache:
    """Style features per battle (answer A's four, then answer B's), read from the database once."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.clear()

    def clear(self) -> None:
        self.answers_of = _Table(2, np.int64)  # battle id -> (answer A id, answer B id)
        self.style_of = _Table(len(STYLE_FIELDS), float)  # answer id -> its features

    def lookup(self, battle_ids: np.ndarray) -> np.ndarray:
        """The features of these battles, in their order; NaN where an answer has none.

        Kept rows are found first and only the ids not found are made unique and read: a refit asks for
        every battle of its filter (hundreds of thousands, nearly all kept), and sorting them all to find
        the few new ones was most of a style refit's lookup.
        """
        with self.lock:
            found, positions = self._found(self.answers_of, battle_ids, self._load_battles)
            out = np.full((battle_ids.size, 2 * len(STYLE_FIELDS)), np.nan)
            if not found.any():
                return out
            answers = np.where(found[:, None], self.answers_of.rows[positions], NO_ANSWER)
            # Both sides at once: the answers neither side's lookup has seen are read together.
            has_style, at = (
                part.reshape(answers.shape) for part in self._found(self.style_of, answers.ravel(), self._load_styles)
            )
            for side in (0, 1):
                usable = found & has_style[:, side]
                rows = self.style_of.rows[at[usable, side]]
                out[usable, side * len(STYLE_FIELDS) : (side + 1) * len(STYLE_FIELDS)] = rows
            # A battle is measured only with both answers' features.
            out[np.isnan(out).any(axis=1)] = np.nan
            return out

    @staticmethod
    def _found(table: _Table, ids: np.ndarray, load) -> tuple[np.ndarray, np.ndarray]:
        """``table.find(ids)`` after ``load`` read those of ``ids`` the table did not keep (NO_ANSWER left out)."""
        found, positions = table.find(ids)
        wanted = ids[~found & (ids != NO_ANSWER)]
        if wanted.size:
            load(np.unique(wanted))
            found, positions = table.find(ids)
        return found, positions

    def _load_battles(self, battle_ids: np.ndarray) -> None:
        ids, rows = [], []
        for first, last in id_ranges(battle_ids):
            for pk, answer_a, answer_b in Battle.objects.filter(pk__gte=first, pk__lte=last).values_list(
                "pk", "generation_a_id", "generation_b_id"
            ):
                ids.append(pk)
                rows.append((answer_a, answer_b))
        self.answers_of.add(ids, rows)

    def _load_styles(self, answer_ids: np.ndarray) -> None:
        ranges = id_ranges(answer_ids)
        ids, rows = self._read_styles(ranges)
        self.style_of.add(ids, rows)
        unmeasured = self.style_of.missing(answer_ids)
        if unmeasured.size and store_style_features(int(pk) for pk in unmeasured):
            # Measured just now (answers stored before the receiver measured them, or its failure).
            ids, rows = self._read_styles(id_ranges(unmeasured))
            self.style_of.add(ids, rows)

    @staticmethod
    def _read_styles(ranges: list[tuple[int, int]]) -> tuple[list[int], list]:
        ids, rows = [], []
        for first, last in ranges:
            for pk, *values in GenerationStyle.objects.filter(
                generation_id__gte=first, generation_id__lte=last
            ).values_list("generation_id", *STYLE_FIELDS):
                ids.append(pk)
                rows.append(values)
        return ids, rows


FEATURES = FeatureCache()
