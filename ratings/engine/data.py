"""Vote data for the rating engine: per-vote logs and aggregated count tables.

Outcome codes are the app's: ``"a"`` (model_a won), ``"b"`` (model_b won), ``"tie"`` and
``"both_bad"``. Internally an outcome is its index in :data:`OUTCOMES`.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass

import numpy as np

OUTCOMES: tuple[str, str, str, str] = ("a", "b", "tie", "both_bad")
A_WINS, B_WINS, TIE, BOTH_BAD = range(4)
OUTCOME_INDEX: dict[str, int] = {name: code for code, name in enumerate(OUTCOMES)}
# Score of model_a per outcome: ties and both-bad count half a win each way.
SCORE_A: tuple[float, float, float, float] = (1.0, 0.0, 0.5, 0.5)

# Above this many models the dense (models x models x outcomes) bincount used for
# aggregation would be wasteful; np.unique takes over.
_DENSE_CELL_LIMIT = 8_000_000


class _Codes(dict):
    """A dict that hands out consecutive integer codes to unseen keys."""

    def __missing__(self, key):
        code = self[key] = len(self)
        return code


class _OutcomeCodes(dict):
    def __missing__(self, key):
        raise ValueError(f"unknown outcome {key!r}; expected one of {', '.join(OUTCOMES)}")


def _as_codes(values: Sequence | np.ndarray, codes: dict, dtype=np.int32) -> np.ndarray:
    """Map each value through ``codes`` (a C-speed loop via map) into an integer array."""
    if isinstance(values, np.ndarray) and values.dtype != object:
        values = values.tolist()
    return np.fromiter(map(codes.__getitem__, values), dtype=dtype, count=len(values))


def outcome_codes(outcomes: Sequence | np.ndarray) -> np.ndarray:
    """Outcome labels (strings in OUTCOMES) or integer codes 0..3 to an int8 array."""
    if isinstance(outcomes, np.ndarray) and outcomes.dtype.kind in "iu":
        codes = outcomes.astype(np.int8, copy=False)
        if codes.size and (codes.min() < 0 or codes.max() > 3):
            raise ValueError("outcome codes must be in 0..3")
        return codes
    return _as_codes(outcomes, _OutcomeCodes(OUTCOME_INDEX), np.int8)


def _check_models(models: Iterable[str]) -> tuple[str, ...]:
    models = tuple(models)
    for name in models:
        if not isinstance(name, str) or not name:
            raise ValueError(f"model names must be non-empty strings, got {name!r}")
    if len(set(models)) != len(models):
        raise ValueError("model names must be unique")
    return models


def _sorted_models(models: tuple[str, ...], *index_arrays: np.ndarray):
    """Return models sorted by name and the index arrays remapped to that order."""
    order = sorted(range(len(models)), key=models.__getitem__)
    remap = np.empty(len(models), dtype=np.int64)
    remap[order] = np.arange(len(models))
    return tuple(models[k] for k in order), tuple(remap[arr] for arr in index_arrays)


@dataclass(frozen=True, eq=False)
class VoteLog:
    """Votes one by one, in vote order, as integer arrays.

    ``models`` names the models; ``a`` and ``b`` index into it; ``outcome`` indexes
    :data:`OUTCOMES`. Iterating yields ``(model_a, model_b, outcome)`` string tuples,
    so a log can be passed wherever an iterable of votes is expected (``online_elo``,
    ``trueskill_ratings``); those functions also take the integer fast path.
    """

    models: tuple[str, ...]
    a: np.ndarray
    b: np.ndarray
    outcome: np.ndarray

    def __post_init__(self):
        if not (len(self.a) == len(self.b) == len(self.outcome)):
            raise ValueError("a, b and outcome must have the same length")

    @classmethod
    def from_votes(cls, model_a: Sequence[str], model_b: Sequence[str], outcome: Sequence | np.ndarray) -> VoteLog:
        """Build a log from three equally long columns of names and outcome labels."""
        n = len(model_a)
        if len(model_b) != n or len(outcome) != n:
            raise ValueError("model_a, model_b and outcome must have the same length")
        codes = _Codes()
        a = _as_codes(model_a, codes)
        b = _as_codes(model_b, codes)
        o = outcome_codes(outcome)
        models = _check_models(codes)
        if n and np.any(a == b):
            first = int(np.flatnonzero(a == b)[0])
            raise ValueError(f"vote {first}: a model cannot battle itself ({models[a[first]]!r})")
        return cls(models, a, b, o)

    @classmethod
    def from_ids(cls, ids_a: np.ndarray, ids_b: np.ndarray, outcome: np.ndarray, names: dict[int, str]) -> VoteLog:
        """The log ``from_votes`` builds from ``names[id]`` of each id, without a Python step per vote.

        ``ids_a``/``ids_b``: integer model ids (LLM version ids), ``outcome``: codes into ``OUTCOMES``.
        The models come in the order ``from_votes`` gives them (first seen in ``ids_a``, then in ``ids_b``).
        """
        ids_a, ids_b = np.asarray(ids_a, dtype=np.int64), np.asarray(ids_b, dtype=np.int64)
        if len(ids_b) != len(ids_a) or len(outcome) != len(ids_a):
            raise ValueError("model_a, model_b and outcome must have the same length")
        both = np.concatenate([ids_a, ids_b])
        distinct, first, codes = np.unique(both, return_index=True, return_inverse=True)
        order = np.argsort(first, kind="stable")  # first appearance, a's column before b's
        rank = np.empty(len(distinct), dtype=np.int32)
        rank[order] = np.arange(len(distinct), dtype=np.int32)
        coded = rank[codes.ravel()]
        a, b = coded[: len(ids_a)], coded[len(ids_a) :]
        ordered_names = [names[int(model_id)] for model_id in distinct[order]]
        if len(set(ordered_names)) != len(ordered_names):
            # Two ids of one name are one model, as from_votes makes them.
            return cls.from_votes([names[i] for i in ids_a.tolist()], [names[i] for i in ids_b.tolist()], outcome)
        models = _check_models(ordered_names)
        o = outcome_codes(np.asarray(outcome))
        if len(a) and np.any(a == b):
            first_same = int(np.flatnonzero(a == b)[0])
            raise ValueError(f"vote {first_same}: a model cannot battle itself ({models[a[first_same]]!r})")
        return cls(models, a, b, o)

    @classmethod
    def from_tuples(cls, votes: Iterable[tuple[str, str, str]]) -> VoteLog:
        votes = list(votes)
        if not votes:
            return cls((), np.zeros(0, np.int64), np.zeros(0, np.int64), np.zeros(0, np.int8))
        model_a, model_b, outcome = zip(*votes)
        return cls.from_votes(model_a, model_b, outcome)

    def __len__(self) -> int:
        return len(self.a)

    def __iter__(self) -> Iterator[tuple[str, str, str]]:
        names = self.models
        for i, j, o in zip(self.a.tolist(), self.b.tolist(), self.outcome.tolist()):
            yield names[i], names[j], OUTCOMES[o]

    def to_table(self) -> VoteTable:
        return VoteTable.from_arrays(self.models, self.a, self.b, self.outcome)

    def take(self, index) -> VoteLog:
        """The votes at ``index`` (a slice, mask or index array), same model list."""
        return VoteLog(self.models, self.a[index], self.b[index], self.outcome[index])


@dataclass(frozen=True)
class PairCounts:
    """Votes per unordered pair ``i < j`` (indices into the table's models)."""

    i: np.ndarray
    j: np.ndarray
    wins_i: np.ndarray
    wins_j: np.ndarray
    ties: np.ndarray
    both_bad: np.ndarray

    @property
    def total(self) -> np.ndarray:
        return self.wins_i + self.wins_j + self.ties + self.both_bad


class VoteTable:
    """Vote counts per (model_a, model_b, outcome) cell.

    The canonical aggregated form the fits work on: ``models`` sorted by name, only models
    with at least one vote, one cell per distinct (a, b, outcome) with a positive count.
    Position (A or B) is kept as given; the Bradley–Terry fit ignores it, so swapping A and
    B changes nothing but the orientation of the cells.
    """

    __slots__ = ("models", "a", "b", "outcome", "count")

    def __init__(self, models, a, b, outcome, count):
        """Low-level constructor; prefer ``from_counts``, ``from_votes`` or ``from_arrays``."""
        self.models: tuple[str, ...] = tuple(models)
        self.a: np.ndarray = a
        self.b: np.ndarray = b
        self.outcome: np.ndarray = outcome
        self.count: np.ndarray = count

    # construction -------------------------------------------------------------------------

    @classmethod
    def from_arrays(cls, models: Sequence[str], a, b, outcome, count=None) -> VoteTable:
        """Aggregate integer arrays (one entry per vote, or per cell with ``count``)."""
        models = _check_models(models)
        m = len(models)
        a = np.asarray(a)
        b = np.asarray(b)
        outcome = np.asarray(outcome)
        weights = None
        if count is not None:
            count = np.asarray(count)
            if count.size and count.dtype.kind == "f" and not np.all(count == np.round(count)):
                raise ValueError("counts must be whole numbers")
            count = count.astype(np.int64)
            if count.size and count.min() < 0:
                raise ValueError("counts must not be negative")
            weights = count
            if len(count) != len(a):
                raise ValueError("a, b, outcome and count must have the same length")
        if not (len(a) == len(b) == len(outcome)):
            raise ValueError("a, b, outcome and count must have the same length")
        if not len(a) or (count is not None and not count.any()):
            return cls.empty()
        for arr in (a, b, outcome):
            if arr.dtype.kind not in "iu":
                raise ValueError("indices and outcome codes must be integers")
        if min(a.min(), b.min()) < 0 or max(a.max(), b.max()) >= m:
            raise ValueError("model index out of range")
        if outcome.min() < 0 or outcome.max() > 3:
            raise ValueError("outcome codes must be in 0..3")
        self_battle = a == b if count is None else (a == b) & (count > 0)
        if self_battle.any():
            bad = int(np.flatnonzero(self_battle)[0])
            raise ValueError(f"a model cannot battle itself ({models[a[bad]]!r})")
        cells_total = m * m * 4
        key_type = np.int32 if cells_total < 2**31 else np.int64
        key = a.astype(key_type, copy=False) * m
        key += b
        key *= 4
        key += outcome
        if cells_total <= _DENSE_CELL_LIMIT:
            flat = np.bincount(key, weights=weights, minlength=cells_total)
            cells = np.flatnonzero(flat)
            counts = flat[cells].astype(np.int64) if weights is None else np.rint(flat[cells]).astype(np.int64)
        else:
            keys, inverse = np.unique(key, return_inverse=True)
            summed = np.bincount(inverse, weights=weights, minlength=len(keys))
            keep = summed > 0
            cells, counts = keys[keep], np.rint(summed[keep]).astype(np.int64)
        cells = cells.astype(np.int64)
        ca, rest = np.divmod(cells, m * 4)
        cb, co = np.divmod(rest, 4)
        # Drop models without votes, then sort names.
        used = np.zeros(m, dtype=bool)
        used[ca] = True
        used[cb] = True
        if not used.all():
            remap = np.cumsum(used) - 1
            models = tuple(name for name, u in zip(models, used) if u)
            ca, cb = remap[ca], remap[cb]
        if list(models) != sorted(models):
            models, (ca, cb) = _sorted_models(models, ca, cb)
            # Keep cells in a canonical order so equal tables have equal arrays.
            order = np.lexsort((co, cb, ca))
            ca, cb, co, counts = ca[order], cb[order], co[order], counts[order]
        return cls(models, ca.astype(np.int32), cb.astype(np.int32), co.astype(np.int8), counts)

    @classmethod
    def from_counts(cls, rows: Iterable[tuple[str, str, str, int]]) -> VoteTable:
        """Aggregate ``(model_a, model_b, outcome, count)`` rows; repeated cells add up."""
        codes = _Codes()
        outcome_codes = _OutcomeCodes(OUTCOME_INDEX)
        a, b, o, c = [], [], [], []
        for row_number, (model_a, model_b, outcome, count) in enumerate(rows):
            if not isinstance(model_a, str) or not model_a or not isinstance(model_b, str) or not model_b:
                raise ValueError(f"row {row_number}: model names must be non-empty strings")
            if model_a == model_b:
                raise ValueError(f"row {row_number}: a model cannot battle itself ({model_a!r})")
            if isinstance(count, bool) or int(count) != count or count < 0:
                raise ValueError(f"row {row_number}: count must be a non-negative whole number, got {count!r}")
            try:
                o.append(outcome_codes[outcome])
            except ValueError as exc:
                raise ValueError(f"row {row_number}: {exc}") from None
            a.append(codes[model_a])
            b.append(codes[model_b])
            c.append(int(count))
        return cls.from_arrays(tuple(codes), a, b, o, c)

    @classmethod
    def from_votes(cls, model_a: Sequence[str], model_b: Sequence[str], outcome: Sequence) -> VoteTable:
        """Aggregate per-vote columns (names and outcome labels, one entry per vote)."""
        return VoteLog.from_votes(model_a, model_b, outcome).to_table()

    @classmethod
    def empty(cls) -> VoteTable:
        z = np.zeros(0, dtype=np.int32)
        return cls((), z, z.copy(), np.zeros(0, np.int8), np.zeros(0, np.int64))

    # views --------------------------------------------------------------------------------

    @property
    def n_models(self) -> int:
        return len(self.models)

    @property
    def n_votes(self) -> int:
        return int(self.count.sum())

    def __len__(self) -> int:
        """Number of cells (not votes)."""
        return len(self.count)

    def __eq__(self, other) -> bool:
        if not isinstance(other, VoteTable):
            return NotImplemented
        return self.models == other.models and all(
            np.array_equal(getattr(self, f), getattr(other, f)) for f in ("a", "b", "outcome", "count")
        )

    def __repr__(self) -> str:
        return f"<VoteTable {self.n_votes} votes, {self.n_models} models, {len(self)} cells>"

    def rows(self) -> Iterator[tuple[str, str, str, int]]:
        """Yield ``(model_a, model_b, outcome, count)``; ``from_counts(rows())`` round-trips."""
        names = self.models
        for i, j, o, c in zip(self.a.tolist(), self.b.tolist(), self.outcome.tolist(), self.count.tolist()):
            yield names[i], names[j], OUTCOMES[o], c

    def model_stats(self) -> dict[str, np.ndarray]:
        """Per model (in ``models`` order): votes, wins, losses, ties, both_bad."""
        m = self.n_models
        c = self.count
        is_a, is_b = self.outcome == A_WINS, self.outcome == B_WINS
        is_tie, is_bad = self.outcome == TIE, self.outcome == BOTH_BAD

        def per_model(mask):
            return (
                np.bincount(self.a, weights=c * mask, minlength=m) + np.bincount(self.b, weights=c * mask, minlength=m)
            ).astype(np.int64)

        votes = np.bincount(self.a, weights=c, minlength=m) + np.bincount(self.b, weights=c, minlength=m)
        wins = np.bincount(self.a, weights=c * is_a, minlength=m) + np.bincount(self.b, weights=c * is_b, minlength=m)
        losses = np.bincount(self.a, weights=c * is_b, minlength=m) + np.bincount(self.b, weights=c * is_a, minlength=m)
        return {
            "votes": votes.astype(np.int64),
            "wins": wins.astype(np.int64),
            "losses": losses.astype(np.int64),
            "ties": per_model(is_tie),
            "both_bad": per_model(is_bad),
        }

    def pair_counts(self) -> PairCounts:
        """Aggregate over position: votes per unordered pair and outcome, from the lower index's side."""
        m = self.n_models
        lo = np.minimum(self.a, self.b).astype(np.int64)
        hi = np.maximum(self.a, self.b).astype(np.int64)
        flipped = self.a > self.b
        # Outcome from the point of view of ``lo``: a win for model_a is a win for lo unless flipped.
        o = self.outcome.astype(np.int64)
        o_lo = np.where(flipped & (o == A_WINS), B_WINS, np.where(flipped & (o == B_WINS), A_WINS, o))
        key = lo * m + hi
        pairs, inverse = np.unique(key, return_inverse=True)
        flat = np.bincount(inverse * 4 + o_lo, weights=self.count, minlength=len(pairs) * 4).reshape(-1, 4)
        i, j = np.divmod(pairs, m) if m else (pairs, pairs)
        return PairCounts(
            i=i, j=j, wins_i=flat[:, A_WINS], wins_j=flat[:, B_WINS], ties=flat[:, TIE], both_bad=flat[:, BOTH_BAD]
        )

    # transformations ----------------------------------------------------------------------

    def swapped(self) -> VoteTable:
        """The same votes with the positions A and B exchanged."""
        o = self.outcome.copy()
        o[self.outcome == A_WINS] = B_WINS
        o[self.outcome == B_WINS] = A_WINS
        return VoteTable.from_arrays(self.models, self.b, self.a, o, self.count)

    def subset(self, models: Iterable[str]) -> VoteTable:
        """Only the votes between the given models."""
        keep = np.isin(np.arange(self.n_models), [self.models.index(m) for m in models if m in self.models])
        mask = keep[self.a] & keep[self.b]
        return VoteTable.from_arrays(self.models, self.a[mask], self.b[mask], self.outcome[mask], self.count[mask])

    def __add__(self, other: VoteTable) -> VoteTable:
        return VoteTable.from_counts(list(self.rows()) + list(other.rows()))
