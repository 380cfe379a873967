"""Fitting boards (in a worker): Bradley–Terry boards, style-controlled boards, the decision page.

Every fit first folds new votes into the aggregated counts (``ratings.counts``) and fits the
votes of the mark it gets back, and stamps the snapshot with that mark and its filter, so a
page can say how far behind the votes a snapshot is. A Bradley–Terry board reads its (pair,
outcome) counts from the count tables (a filter with a voter group reads the votes). When the
vote-set hash of a scope did not change, its newest snapshot is stamped with the new mark
instead of being fitted again.

A refit that reads votes (a filtered board's replay of Elo and TrueSkill, a voter group's counts, the
decision page, a style-controlled board) reads them from the process's archive
(``ratings.vote_archive``), which reads each vote from the database once. Style fits need the style
features of both answers of every battle: they are read once per process and kept
(``ratings.style_features``), so a refit reads only battles it has not seen.
"""

from __future__ import annotations

import functools
import hashlib
import json
import logging
import time
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
from django.conf import settings
from django.core.cache import cache
from django.utils import timezone

from battles.models import LLMVersion
from ratings import counts, services
from ratings.counts import VoteMark
from ratings.engine import (
    DEFAULT_STYLE_RIDGE,
    STYLE_FEATURES,
    VoteLog,
    VoteTable,
    fit_bradley_terry,
    fit_style_controlled,
)
from ratings.engine.data import OUTCOMES
from ratings.filters import BoardFilter
from ratings.history_periods import period_of_span, period_rows, span_days
from ratings.models import RatingSnapshot
from ratings.scopes import (
    BOARD,
    DECISION,
    DECISION_SUFFIX,
    DEFAULT_SCOPE,
    HISTORY,
    HISTORY_SUFFIX,
    STYLE,
    STYLE_SCOPE,
    STYLE_SUFFIX,
)
from ratings.snapshots import SnapshotPayload, style_payload
from ratings.style_features import FEATURES
from ratings.vote_archive import ARCHIVE, NO_ID, BoardVotes, vote_cells

logger = logging.getLogger(__name__)

HISTORY_CACHE_SECONDS = 7 * 24 * 3600
# The online ratings of a board's votes, by version label, given the labels of version ids.
Replay = Callable[[dict[int, str]], dict[str, dict]]
DEFAULT_SCOPES = (DEFAULT_SCOPE, STYLE_SCOPE)


def scope_of(flt: BoardFilter, kind: str) -> str:
    """The snapshot scope of ``kind`` (``ratings.scopes.KINDS``) for ``flt``."""
    if kind == STYLE:
        return flt.scope() + STYLE_SUFFIX
    if kind == DECISION:
        return flt.without_category().scope() + DECISION_SUFFIX
    if kind == HISTORY:
        return flt.scope() + HISTORY_SUFFIX
    return flt.scope()


def refit(kind: str, flt: BoardFilter) -> RatingSnapshot | None:
    """Bring ``kind``'s board of ``flt`` up to the votes now (fitted, or its snapshot re-stamped)."""
    if kind == STYLE:
        return fit_style(flt)
    if kind == DECISION:
        return fit_decision(flt)
    if kind == HISTORY:
        fit_history(flt)
        return None
    return fit_board(flt)


def warm_up() -> None:
    """Read what refits read into this process: every vote the counts hold (``ratings.vote_archive``) and
    the style features of their battles (``ratings.style_features``). A worker that fits boards does this at
    its start, so that the first eval lead's board waits for neither."""
    started = time.perf_counter()
    every = BoardFilter(include_insider=True, include_flagged=True)
    votes = ARCHIVE.votes(VoteMark.of_state(counts.current_state()), every)
    FEATURES.lookup(np.unique(votes.battle[votes.battle != NO_ID]))
    logger.info(
        "vote archive: %d votes and the style of their battles read in %.1f s",
        len(votes),
        time.perf_counter() - started,
    )


def prune(scope: str) -> None:
    keep = settings.ARENA_SNAPSHOTS_KEPT if scope in DEFAULT_SCOPES else settings.ARENA_FILTERED_SNAPSHOTS_KEPT
    services.prune_snapshots(scope, keep=keep)


# --- Bradley–Terry boards -----------------------------------------------------------------


def fit_board(flt: BoardFilter) -> RatingSnapshot:
    mark, board_counts = counts.folded(lambda: counts.filter_counts(flt))
    return _board(flt, mark, board_counts)


def _board(
    flt: BoardFilter,
    mark: VoteMark,
    board_counts: counts.Counts | None,
    replay: Replay | None = None,
) -> RatingSnapshot:
    """``board_counts``: None for a filter the count tables cannot answer (a voter group). ``replay``: the
    online ratings of ``flt``'s votes by label, when the caller has them at hand (the decision page)."""
    if board_counts is None:
        board_counts = ARCHIVE.votes(mark, flt).counts()
    scope = flt.scope()
    stamp = _stamp(mark, flt)
    # The default board's Elo and TrueSkill are the OnlineRating rows; a filtered board replays its own.
    needs = ("pairs",) if flt.is_default else ("pairs", "online")
    existing = _reusable(scope, services.vote_set_hash(board_counts), services.engine_settings(), needs)
    if existing is not None:
        return _restamped(existing, stamp)
    if replay is None and not flt.is_default:
        replay = _archived_replay(mark, flt)
    snapshot = services.compute_snapshot(
        scope=scope, counts=board_counts, online=not flt.is_default, stamp=stamp, replay=replay
    )
    prune(scope)
    return snapshot


def _archived_replay(mark: VoteMark, flt: BoardFilter) -> Replay:
    """The online ratings of the votes of ``flt`` that ``mark`` holds, replayed from the archive when asked."""
    return lambda labels: services.CategoryReplays(*ARCHIVE.votes(mark, flt).arrays()).of(None, labels)


def _stamp(mark: VoteMark, flt: BoardFilter) -> dict:
    return {**mark.stamp(), "params": flt.params(), "refit_wanted": False}


def _reusable(scope: str, digest: str, engine: dict, needs=("pairs",)) -> RatingSnapshot | None:
    """The newest snapshot of this scope if it is of this vote set, fitted with ``engine`` and
    holding the parts ``needs`` names (fields of ``SnapshotPayload``; older snapshots may lack some)."""
    snapshot = RatingSnapshot.objects.filter(scope=scope).order_by("-computed_at", "-pk").first()
    if snapshot is None or snapshot.vote_hash != digest or snapshot.settings != engine:
        return None
    return snapshot if snapshot.data.has(*needs) else None


def _restamped(snapshot: RatingSnapshot, stamp: dict) -> RatingSnapshot:
    RatingSnapshot.objects.filter(pk=snapshot.pk).update(**stamp)
    for name, value in stamp.items():
        setattr(snapshot, name, value)
    return snapshot


# --- the decision page: the board without its category, and one per category ---------------


def fit_decision(flt: BoardFilter) -> RatingSnapshot:
    """The boards of the decision page, and its index (scope ``…|decision``: category -> scope)."""
    base = flt.without_category()
    mark, (overall_counts, per_category) = counts.folded(
        lambda: (counts.filter_counts(base), counts.category_counts(base))
    )

    @functools.cache
    def replays() -> services.CategoryReplays:
        # The boards that are not reusable replay their votes: all of them from one view of the archive.
        votes = ARCHIVE.votes(mark, base)
        return services.CategoryReplays(*votes.arrays(), categories=votes.category_names())

    def replay_of(category: str | None) -> Replay:
        return lambda labels: replays().of(category, labels)

    overall = _board(base, mark, overall_counts, replay_of(None))
    if per_category is None:
        per_category = ARCHIVE.votes(mark, base).category_counts()
    parts = {}
    for category, category_counts in sorted(per_category.items()):
        board_filter = base.with_changes(category=category)
        parts[category] = _board(board_filter, mark, category_counts, replay_of(category)).scope
    scope = base.scope() + DECISION_SUFFIX
    engine = services.engine_settings()
    digest = hashlib.sha256(json.dumps([overall.vote_hash, sorted(parts.items())]).encode()).hexdigest()
    stamp = _stamp(mark, base)
    existing = _reusable(scope, digest, engine, needs=("parts",))
    if existing is not None:
        return _restamped(existing, stamp)
    snapshot = RatingSnapshot.objects.create(
        scope=scope,
        settings=engine,
        vote_count=overall.vote_count,
        vote_hash=digest,
        payload=SnapshotPayload(parts=parts).to_json(),
        **stamp,
    )
    prune(scope)
    return snapshot


# --- style-controlled boards --------------------------------------------------------------


def style_settings() -> dict:
    return {
        **services.engine_settings(),
        "method": "bradley_terry_style_controlled",
        "features": list(STYLE_FEATURES),
        "feature_transform": "(a - b) / (a + b), standardised",
        "ridge": DEFAULT_STYLE_RIDGE,
        "answers": "first turn of each battle",
        "vote_hash": "SHA-256 over the vote count and the sum of vote ids per (a, b, outcome) cell",
    }


@dataclass
class StyleVotes:
    """What a style-controlled fit reads of its votes: the votes on a battle (the fit's input), how many
    have none, and the vote-set hash of them all."""

    model_a: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.int64))
    model_b: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.int64))
    outcome: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.int8))  # codes into OUTCOMES
    battle_ids: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.int64))
    without_battle: int = 0
    digest: str = ""


def style_votes(votes: BoardVotes) -> StyleVotes:
    """What a style-controlled fit needs of ``votes``, and their vote-set hash."""
    # The style fit depends on which votes (not only on their counts): hash the count and the sum of the
    # vote ids per (a, b, outcome) cell. Answers never change once done, so this is enough.
    cells: list[list] = []
    if len(votes):
        unique, n, inverse = vote_cells(votes.model_a, votes.model_b, votes.outcome)
        id_sums = np.zeros(len(unique), dtype=np.int64)
        np.add.at(id_sums, inverse, votes.ids)  # exact, whatever the ids
        cells = sorted(
            [int(a), int(b), OUTCOMES[o], int(k), int(total)] for (a, b, o), k, total in zip(unique, n, id_sums)
        )
    with_battle = votes.battle != NO_ID
    model_a, model_b, outcome = votes.take(with_battle).arrays()
    return StyleVotes(
        model_a=model_a,
        model_b=model_b,
        outcome=outcome,
        battle_ids=votes.battle[with_battle],
        without_battle=int((~with_battle).sum()),
        digest=hashlib.sha256(json.dumps(cells, separators=(",", ":")).encode()).hexdigest(),
    )


def fit_style(flt: BoardFilter) -> RatingSnapshot:
    """The style-controlled board of ``flt``'s votes, beside the raw one.

    Only votes on a battle have answers to measure; imported votes without a battle are
    left out of this fit (their number is kept in the payload).
    """
    mark = counts.fold()
    scope = flt.scope() + STYLE_SUFFIX
    read = style_votes(ARCHIVE.votes(mark, flt))
    engine = style_settings()
    stamp = _stamp(mark, flt)
    existing = _reusable(scope, read.digest, engine, needs=("rows",))
    if existing is not None:
        return _restamped(existing, stamp)
    started = time.perf_counter()
    payload, used = _fit_style(read)
    snapshot = RatingSnapshot.objects.create(
        scope=scope,
        settings=engine,
        vote_count=used,
        vote_hash=read.digest,
        payload=payload.to_json(),
        duration_ms=int((time.perf_counter() - started) * 1000),
        **stamp,
    )
    prune(scope)
    return snapshot


def _fit_style(read: StyleVotes) -> tuple[SnapshotPayload, int]:
    """The style-controlled board of the votes ``read`` holds and the number of votes it was fitted on."""
    model_a, model_b, outcome = read.model_a, read.model_b, read.outcome
    features = FEATURES.lookup(np.asarray(read.battle_ids, dtype=np.int64))
    measured = ~np.isnan(features).any(axis=1)
    skipped = read.without_battle + int((~measured).sum())
    keep = np.flatnonzero(measured)
    ids = np.union1d(model_a, model_b).tolist()
    labels = {v.pk: v.label for v in LLMVersion.objects.filter(pk__in=ids).select_related("llm")}
    if not keep.size:
        return style_payload(None, version_ids={}, votes_without_answers=skipped), 0
    log = VoteLog.from_ids(model_a[keep], model_b[keep], outcome[keep], labels)
    kept = features[keep]
    board = fit_style_controlled(log, kept[:, :4], kept[:, 4:], min_votes=settings.ARENA_MIN_VOTES)
    version_ids = {label: pk for pk, label in labels.items()}
    return style_payload(board, version_ids=version_ids, votes_without_answers=skipped), int(keep.size)


KIND_SETTINGS = {BOARD: services.engine_settings, STYLE: style_settings, DECISION: services.engine_settings}


# --- rating over time (cumulative refits) ---------------------------------------------------


def fit_history(flt: BoardFilter, *, points: int | None = None) -> dict:
    """Ratings refitted on the votes up to the end of each period (cumulative), so the
    last point is the current board. Periods are days, weeks or months depending on the
    span; at most ``points`` of them are fitted (evenly spaced, always the last).

    Returns ``{"period": "day"|"week"|"month", "labels": [...], "series": {model:
    [{"rating", "lower", "upper", "votes"} | None, ...]}}``. The votes come from the process's
    archive and are counted per period there (``ratings.history_periods``); the fits are cached by
    the counts' hash. The result is kept in the cache with the votes it saw (``history_key``), for
    ``boards.serve_history``.
    """
    points = points or settings.ARENA_HISTORY_POINTS
    mark = counts.fold()
    result = _history(ARCHIVE.votes(mark, flt), flt, points)
    cache.set(history_key(flt, points), {"mark": mark_fields(mark), "history": result}, HISTORY_CACHE_SECONDS)
    return result


def history_key(flt: BoardFilter, points: int) -> str:
    """Where the newest history of ``flt`` is kept (the prior in the key: another prior is another history)."""
    scope_key = hashlib.sha256(flt.scope().encode()).hexdigest()[:16]
    return f"ratings:history-latest:{scope_key}:{points}:{services.prior_points()}"


def mark_fields(mark: VoteMark) -> dict:
    return {"through_vote_id": mark.through_vote_id, "gaps": mark.gaps, "epoch": mark.epoch}


def _history(votes: BoardVotes, flt: BoardFilter, points: int) -> dict:
    days = span_days(votes)
    if days is None:
        return {"period": "day", "labels": [], "series": {}}
    period = period_of_span(days)
    rows = period_rows(votes, period)
    digest = hashlib.sha256(json.dumps([[str(p), a, b, o, n] for p, a, b, o, n in rows]).encode()).hexdigest()
    scope_key = hashlib.sha256(flt.scope().encode()).hexdigest()[:16]
    # The prior is in the key: a changed RATING_PRIOR_POINTS refits the history as it refits boards.
    key = f"ratings:history:{scope_key}:{digest}:{points}:{services.prior_points()}"
    cached = cache.get(key)
    if cached is not None:
        return cached
    ids = {a for _, a, _, _, _ in rows} | {b for _, _, b, _, _ in rows}
    labels = {v.pk: v.label for v in LLMVersion.objects.filter(pk__in=ids).select_related("llm")}
    periods = sorted({p for p, *_ in rows})
    if len(periods) > points:
        step = len(periods) / points
        chosen = sorted({periods[min(len(periods) - 1, round((k + 1) * step) - 1)] for k in range(points)})
    else:
        chosen = periods
    chosen_set = set(chosen)
    cumulative: dict[tuple, int] = defaultdict(int)
    by_period = defaultdict(list)
    for p, a, b, o, n in rows:
        by_period[p].append((a, b, o, n))
    series: dict[str, list] = {label: [None] * len(chosen) for label in sorted(labels.values())}
    position = 0
    for p in periods:
        for a, b, o, n in by_period[p]:
            cumulative[(labels[a], labels[b], o)] += n
        if p not in chosen_set:
            continue
        table = VoteTable.from_counts((a, b, o, n) for (a, b, o), n in sorted(cumulative.items()))
        board = fit_bradley_terry(
            table, ci="sandwich", min_votes=settings.ARENA_MIN_VOTES, prior_points=services.prior_points()
        )
        for row in board.rows:
            series[row.model][position] = {
                "rating": row.rating,
                "lower": row.lower,
                "upper": row.upper,
                "votes": row.votes,
            }
        position += 1
    result = {"period": period, "labels": [_period_label(p, period) for p in chosen], "series": series}
    cache.set(key, result, HISTORY_CACHE_SECONDS)
    return result


def _period_label(value, period: str) -> str:
    if period == "hour":
        return timezone.localtime(value).strftime("%m-%d %H:00")
    if period == "month":
        return value.strftime("%Y-%m")
    return value.isoformat()
