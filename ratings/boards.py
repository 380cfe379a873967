"""Leaderboards for any vote filter, from one aggregated query, cached as snapshots.

The default board is the background snapshot (``tasks.recompute_now``). A filtered
board is looked up by its canonical scope and its vote-set hash: the aggregated counts are
read (one GROUP BY query), hashed, and a stored snapshot with that scope, hash and engine
settings is reused; otherwise the board is fitted from those same counts and stored. The
style-controlled board is a snapshot of its own (scope suffix ``|style``).
"""

from __future__ import annotations

import hashlib
import json
import time
from collections import defaultdict
from dataclasses import dataclass

import numpy as np
from django.conf import settings
from django.core.cache import cache
from django.db.models import Count, Max, Min, Sum
from django.db.models.functions import TruncDate, TruncHour, TruncMonth, TruncWeek
from django.utils import timezone

from arena.db import stream
from battles.models import Generation, LLMVersion, Vote
from battles.selectors import generation_summary
from ratings import analysis, services
from ratings.engine import (
    DEFAULT_STYLE_RIDGE,
    STYLE_FEATURES,
    VoteLog,
    VoteTable,
    fit_bradley_terry,
    fit_style_controlled,
    style_counts,
)
from ratings.filters import BoardFilter
from ratings.models import GenerationStyle, RatingSnapshot
from ratings.scopes import STYLE_SCOPE, STYLE_SUFFIX
from ratings.snapshots import SnapshotPayload, style_payload

STYLE_FIELDS = ("length", "headers", "bold", "list_items")  # the order of style_counts
STYLE_BATCH = 2000
HISTORY_CACHE_SECONDS = 24 * 3600


# --- latency and cost ----------------------------------------------------------------------


def generation_stats(version_ids) -> dict[int, dict]:
    """Latency and cost per LLM version (``battles.selectors.generation_summary``, the one read
    path for these numbers), keyed by version id, in the names the board rows use."""
    version_ids = sorted(set(version_ids))
    if not version_ids:
        return {}
    return {
        item["version_id"]: {
            "latency_p50_ms": item["p50_latency_ms"],
            "latency_p95_ms": item["p95_latency_ms"],
            "ttft_p50_ms": item["p50_ttft_ms"],
            "tokens_out_mean": item["mean_tokens_out"],
            "cost_per_1000": float(item["cost_per_1000"]) if item["cost_per_1000"] is not None else None,
            "answers": item["answers"],
        }
        for item in generation_summary(version_ids=version_ids)
    }


# --- snapshots -------------------------------------------------------------------------------


def _reusable(scope: str, digest: str, engine: dict, *, needs=("pairs",)) -> RatingSnapshot | None:
    """The newest snapshot of this scope and vote set, if fitted with ``engine`` and holding the
    parts ``needs`` names (fields of ``SnapshotPayload``; older snapshots may lack some)."""
    snapshot = RatingSnapshot.objects.filter(scope=scope, vote_hash=digest).order_by("-computed_at", "-pk").first()
    if snapshot is None or snapshot.settings != engine or not snapshot.data.has(*needs):
        return None
    return snapshot


def _prune(scope: str) -> None:
    """Filtered snapshots are a cache: keep the newest few of each scope."""
    services.prune_snapshots(scope, keep=settings.ARENA_FILTERED_SNAPSHOTS_KEPT)


def board_snapshot(flt: BoardFilter) -> RatingSnapshot:
    """The Bradley–Terry snapshot of ``flt``'s votes (see the module docstring)."""
    if flt.is_default:
        snapshot = services.latest_snapshot()
        if snapshot is None or not snapshot.data.has("pairs"):
            # No background snapshot yet (or one from before head-to-head data was kept).
            snapshot = services.compute_snapshot()
        return snapshot
    votes = flt.votes()
    counts = services.aggregated_counts(votes)
    scope = flt.scope()
    snapshot = _reusable(scope, services.vote_set_hash(counts), services.engine_settings(), needs=("pairs", "online"))
    if snapshot is None:
        snapshot = services.compute_snapshot(scope=scope, votes=votes, counts=counts, online=True)
        _prune(scope)
    return snapshot


def fill_style_features(votes=None) -> int:
    """Store the style features of every answer of ``votes``' battles that has none yet.

    ``votes`` defaults to every vote. Returns the number of answers filled in.
    """
    votes = Vote.objects.all() if votes is None else votes
    # One IN per side, not "IN (…) OR IN (…)": Postgres turns a lone IN into a hash semi-join, but an
    # OR of two keeps both as subplans, re-run per answer once the vote ids outgrow work_mem (minutes at 1M votes).
    missing = sorted(
        {
            pk
            for side in ("battle__generation_a", "battle__generation_b")
            for pk in Generation.objects.filter(
                pk__in=votes.filter(battle__isnull=False).values(side), style__isnull=True
            ).values_list("pk", flat=True)
        }
    )
    return store_style_features(missing)


def store_style_features(generation_ids) -> int:
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


def style_vote_hash(votes) -> str:
    """The vote-set hash of a style-controlled snapshot of ``votes``."""
    # The style fit depends on which votes (not only on their counts): hash the counts and
    # the sum of the vote ids per cell. Answers never change once done, so this is enough.
    rows = (
        votes.values_list("version_a_id", "version_b_id", "outcome")
        .annotate(n=Count("id"), ids=Sum("id"))
        .order_by("version_a_id", "version_b_id", "outcome")
    )
    # (Postgres sums bigints as numeric: make the sum an int so the hash is backend-neutral.)
    cells = [[a, b, outcome, n, int(ids)] for a, b, outcome, n, ids in rows]
    return hashlib.sha256(json.dumps(cells, separators=(",", ":")).encode()).hexdigest()


def style_snapshot(flt: BoardFilter) -> RatingSnapshot | None:
    """The style-controlled board of ``flt``'s votes, beside the raw one.

    Only votes on a battle have answers to measure; imported votes without a battle are
    left out of this fit (their number is kept in the payload).
    """
    votes = flt.votes()
    scope = flt.scope() + STYLE_SUFFIX
    digest = style_vote_hash(votes)
    engine = style_settings()
    snapshot = _reusable(scope, digest, engine, needs=("rows",))
    if snapshot is not None:
        return snapshot
    started = time.perf_counter()
    fill_style_features(votes)
    payload, used = _fit_style(votes)
    snapshot = RatingSnapshot.objects.create(
        scope=scope,
        settings=engine,
        vote_count=used,
        vote_hash=digest,
        payload=payload.to_json(),
        duration_ms=int((time.perf_counter() - started) * 1000),
    )
    if scope != STYLE_SCOPE:
        _prune(scope)
    return snapshot


def _fit_style(votes) -> tuple[SnapshotPayload, int]:
    """The style-controlled board of ``votes`` and the number of votes it was fitted on."""
    columns = ["version_a_id", "version_b_id", "outcome"]
    columns += [f"battle__generation_{side}__style__{name}" for side in "ab" for name in STYLE_FIELDS]
    # No ORDER BY: the fit does not depend on the order, and sorting a million joined rows
    # for a cursor took longer than reading them.
    rows = votes.order_by().values_list(*columns)
    model_a, model_b, outcome, style_a, style_b = [], [], [], [], []
    skipped = 0
    for row in stream(rows, 20_000):
        a_style, b_style = row[3:7], row[7:11]
        if None in a_style or None in b_style:
            skipped += 1
            continue
        model_a.append(row[0])
        model_b.append(row[1])
        outcome.append(row[2])
        style_a.append(a_style)
        style_b.append(b_style)
    ids = set(model_a) | set(model_b)
    labels = {v.pk: v.label for v in LLMVersion.objects.filter(pk__in=ids).select_related("llm")}
    if not outcome:
        return style_payload(None, version_ids={}, votes_without_answers=skipped), 0
    log = VoteLog.from_votes([labels[a] for a in model_a], [labels[b] for b in model_b], outcome)
    board = fit_style_controlled(
        log, np.array(style_a, float), np.array(style_b, float), min_votes=settings.ARENA_MIN_VOTES
    )
    version_ids = {label: pk for pk, label in labels.items()}
    return style_payload(board, version_ids=version_ids, votes_without_answers=skipped), len(outcome)


# --- rows for the pages ------------------------------------------------------------------


def board_rows(
    snapshot: RatingSnapshot | None, *, style: RatingSnapshot | None = None, stats: dict[int, dict] | None = None
) -> list[dict]:
    """The snapshot's rows, best first, with Elo, TrueSkill, win rate, latency and cost,
    the style-controlled rating and rank (when ``style`` is given) and the LLM's code."""
    if snapshot is None:
        return []
    rows = services.leaderboard_rows(snapshot)
    if not rows:
        return []
    version_ids = snapshot.data.version_ids
    stats = generation_stats(version_ids.values()) if stats is None else stats
    codes = dict(LLMVersion.objects.filter(pk__in=version_ids.values()).values_list("pk", "llm__code"))
    styled = {r["model"]: r for r in (style.data.rows if style else [])}
    out = []
    for row in rows:
        # A payload stored before versions were recorded has no version ids.
        version_id = version_ids.get(row["model"])
        s = styled.get(row["model"])
        out.append(
            {
                **row,
                "version_id": version_id,
                "llm_code": codes.get(version_id) if version_id is not None else None,
                "win_rate": analysis.win_rate(row["wins"], row["ties"] + row["both_bad"], row["votes"]),
                **empty_stats(),
                **(stats.get(version_id, {}) if version_id is not None else {}),
                "style_rating": s["rating"] if s else None,
                "style_lower": s["lower"] if s else None,
                "style_upper": s["upper"] if s else None,
                "style_rank": s["rank"] if s else None,
            }
        )
    return out


def empty_stats() -> dict:
    return {
        "latency_p50_ms": None,
        "latency_p95_ms": None,
        "ttft_p50_ms": None,
        "tokens_out_mean": None,
        "cost_per_1000": None,
        "answers": None,
    }


def robustness_of(snapshot: RatingSnapshot | None) -> dict | None:
    """The engine's "votes to flip #1", with ``fragile`` set when first place is fragile."""
    if snapshot is None:
        return None
    result = snapshot.data.robustness
    if not result:
        return None
    share = result.get("share_of_votes")
    return {
        **result,
        "percent": 100 * share if share is not None else None,
        "fragile": analysis.fragile_top(
            result,
            snapshot.vote_count,
            max_share=settings.ARENA_FRAGILE_TOP_SHARE,
            max_votes=settings.ARENA_FRAGILE_TOP_VOTES,
        ),
    }


def head_to_head(snapshot: RatingSnapshot | None) -> analysis.HeadToHead | None:
    if snapshot is None:
        return None
    payload = snapshot.data
    if not payload.pairs:
        return None
    assert payload.models is not None  # the pairs index into models; a board stores both or neither
    return analysis.head_to_head(payload.models, payload.pairs, [row["model"] for row in payload.rows])


# --- per category -----------------------------------------------------------------------


def category_boards(flt: BoardFilter) -> list[tuple[str, RatingSnapshot]]:
    """One snapshot per prompt category under ``flt`` (its own category ignored), most
    votes first. One aggregated query; snapshots are reused by scope and hash exactly as
    for a board filtered by that category."""
    base = flt.without_category()
    rows = (
        base.votes()
        .filter(battle__isnull=False)
        .values_list("battle__prompt__category", "version_a_id", "version_b_id", "outcome")
        .annotate(n=Count("id"))
        .order_by("battle__prompt__category", "version_a_id", "version_b_id", "outcome")
    )
    per_category: dict[str, list] = defaultdict(list)
    for category, a, b, outcome, n in rows:
        if category:
            per_category[category].append((a, b, outcome, n))
    if not per_category:
        return []
    engine = services.engine_settings()
    wanted = {
        category: (base.with_changes(category=category).scope(), services.vote_set_hash(counts))
        for category, counts in per_category.items()
    }
    found: dict[str, RatingSnapshot] = {}
    candidates = RatingSnapshot.objects.filter(
        scope__in=[scope for scope, _ in wanted.values()], vote_hash__in=[digest for _, digest in wanted.values()]
    ).order_by("-computed_at", "-pk")
    by_key: dict[tuple[str, str], RatingSnapshot] = {}
    for candidate in candidates:
        by_key.setdefault((candidate.scope, candidate.vote_hash), candidate)
    for category, key in wanted.items():
        cached = by_key.get(key)
        if cached is not None and cached.settings == engine and cached.data.has("online"):
            found[category] = cached
        else:
            scoped = base.with_changes(category=category)
            found[category] = services.compute_snapshot(
                scope=key[0], votes=scoped.votes(), counts=per_category[category], online=True
            )
            _prune(key[0])
    return sorted(found.items(), key=lambda item: (-item[1].vote_count, item[0]))


# --- decision view ---------------------------------------------------------------------


@dataclass
class Decision:
    overall: analysis.Route | None
    routes: list[analysis.Route]
    snapshot: RatingSnapshot | None


def decision(flt: BoardFilter) -> Decision:
    """Per category: the models tied for first, the cheapest and fastest of them, and the
    recommended model with its evidence; the same over all categories."""
    overall_snapshot = board_snapshot(flt.without_category())
    boards = category_boards(flt)
    version_ids = set(overall_snapshot.data.version_ids.values()) if overall_snapshot else set()
    for _, snapshot in boards:
        version_ids |= set(snapshot.data.version_ids.values())
    stats = generation_stats(version_ids)
    codes = dict(LLMVersion.objects.filter(pk__in=version_ids).values_list("pk", "llm__code"))
    min_votes = settings.ARENA_MIN_VOTES

    def rows_of(snapshot):
        ids = snapshot.data.version_ids
        return [
            {
                **row,
                **empty_stats(),
                **stats.get(ids.get(row["model"]), {}),
                "llm_code": codes.get(ids.get(row["model"])),
            }
            for row in snapshot.data.rows
        ]

    overall = None
    if overall_snapshot is not None:
        overall = analysis.route(
            "All categories", rows_of(overall_snapshot), votes=overall_snapshot.vote_count, min_votes=min_votes
        )
    routes = [
        analysis.route(category, rows_of(snapshot), votes=snapshot.vote_count, min_votes=min_votes)
        for category, snapshot in boards
        if not flt.category or category == flt.category
    ]
    return Decision(overall=overall, routes=routes, snapshot=overall_snapshot)


# --- rating over time ----------------------------------------------------------------------


def rating_history(flt: BoardFilter, *, points: int | None = None) -> dict:
    """Ratings refitted on the votes up to the end of each period (cumulative), so the
    last point is the current board. Periods are days, weeks or months depending on the
    span; at most ``points`` of them are fitted (evenly spaced, always the last).

    Returns ``{"period": "day"|"week"|"month", "labels": [...], "series": {model:
    [{"rating", "lower", "upper", "votes"} | None, ...]}}``. One query for the span, one
    aggregated query for the counts; the fits are cached by the counts' hash.
    """
    points = points or settings.ARENA_HISTORY_POINTS
    votes = flt.votes()
    span = votes.aggregate(first=Min("created_at"), last=Max("created_at"))
    empty = {"period": "day", "labels": [], "series": {}}
    if span["first"] is None:
        return empty
    days = (span["last"] - span["first"]).total_seconds() / 86400
    period = "hour" if days <= 2 else "day" if days <= 62 else "week" if days <= 2 * 365 else "month"
    trunc = {"hour": TruncHour, "day": TruncDate, "week": TruncWeek, "month": TruncMonth}[period]("created_at")
    rows = list(
        votes.annotate(period=trunc)
        .values_list("period", "version_a_id", "version_b_id", "outcome")
        .annotate(n=Count("id"))
        .order_by("period", "version_a_id", "version_b_id", "outcome")
    )
    if period in ("week", "month"):
        rows = [(p.date(), a, b, o, n) for p, a, b, o, n in rows]
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
