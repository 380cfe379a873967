"""Boards as pages show them: the newest snapshot of a board, never a fit inside a request.

A board (a Bradley–Terry board, a style-controlled board, the decision page: ``ratings.scopes``)
is served from the newest snapshot of its scope, with how many votes it is behind; a board
behind the votes gets a refit queued on a worker (``ratings.fits`` fits, ``ratings.tasks``
queues), and one never fitted is served as None while its first fit runs. Also the rows, head
to head tables, robustness and decision routes read from snapshots, and the rating history.
"""

from __future__ import annotations

from dataclasses import dataclass

from django.conf import settings
from django.core.cache import cache
from django.db.models import Max

from battles.models import LLMVersion
from battles.selectors import generation_summary
from ratings import analysis, counts, fits, services
from ratings.counts import VoteMark
from ratings.filters import BoardFilter
from ratings.models import RatingSnapshot
from ratings.scopes import BOARD, DECISION, HISTORY, STYLE
from ratings.signals import refit_wanted

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


# --- serving snapshots --------------------------------------------------------------------


@dataclass
class Served:
    """The newest snapshot of a board and how it stands against the votes now.

    ``behind``: votes of the board's filter the snapshot has not seen (counted up to
    ``ARENA_LAG_COUNT_LIMIT`` + 1). ``changed``: the vote set changed otherwise (imports,
    exclusions, repaired counts) or the engine's settings did. ``refitting``: a refit is
    queued or running. ``snapshot`` None: the board was never fitted, and is being fitted.
    """

    snapshot: RatingSnapshot | None
    behind: int = 0
    changed: bool = False
    refitting: bool = False

    @property
    def waiting(self) -> bool:
        return self.snapshot is None

    @property
    def stale(self) -> bool:
        return self.snapshot is None or self.behind > 0 or self.changed

    @property
    def behind_beyond_limit(self) -> bool:
        return self.behind > settings.ARENA_LAG_COUNT_LIMIT

    @property
    def lag_limit(self) -> int:
        return settings.ARENA_LAG_COUNT_LIMIT


def serve(flt: BoardFilter, kind: str = BOARD) -> Served:
    """``kind``'s board of ``flt`` as a page shows it: its newest snapshot, never fitted here.

    A snapshot behind the votes is served as it is, and a refit is queued on a worker
    (deduplicated per board); a board never fitted is queued the same way and served as None.
    A few small queries: the snapshot, the counts' epoch, the votes after the snapshot's mark.
    """
    scope = fits.scope_of(flt, kind)
    snapshot = newest(scope)
    served = Served(snapshot) if snapshot is None else against_votes(snapshot, flt, kind)
    if not served.stale:
        return served
    served.refitting = request_refit(kind, flt)
    if settings.ARENA_BOARDS_FIT_INLINE:
        # Tests that are not about serving: the refit ran at once, serve what it stored.
        return Served(newest(scope))
    if snapshot is not None and not snapshot.refit_wanted:
        # The periodic check refits it even if this request's refit was lost (Redis down).
        RatingSnapshot.objects.filter(pk=snapshot.pk).update(refit_wanted=True)
    return served


def against_votes(snapshot: RatingSnapshot, flt: BoardFilter, kind: str) -> Served:
    mark = VoteMark.of_snapshot(snapshot)
    if mark is None:  # fitted before snapshots recorded their votes
        return Served(snapshot, changed=True)
    changed = mark.epoch != counts.current_state().epoch or snapshot.settings != fits.KIND_SETTINGS[kind]()
    votes = flt.without_category().votes() if kind == DECISION else flt.votes()
    limit = settings.ARENA_LAG_COUNT_LIMIT + 1
    behind = len(mark.unseen(votes).order_by().values_list("pk", flat=True)[:limit])
    return Served(snapshot, behind=behind, changed=changed)


def request_refit(kind: str, flt: BoardFilter) -> bool:
    """Ask for a refit of ``kind``'s board of ``flt`` (``ratings.tasks`` queues it); True if one is
    queued or running."""
    answers = refit_wanted.send(sender=RatingSnapshot, kind=kind, params=flt.params())
    return any(answer is True for _, answer in answers)


def newest(scope: str) -> RatingSnapshot | None:
    return RatingSnapshot.objects.filter(scope=scope).order_by("-computed_at", "-pk").first()


def newest_of(scopes) -> dict[str, RatingSnapshot]:
    """The newest snapshot of each of ``scopes`` that has one (two queries)."""
    newest_ids = (
        RatingSnapshot.objects.filter(scope__in=list(scopes))
        .values("scope")
        .annotate(newest=Max("pk"))
        .values("newest")
    )
    return {snapshot.scope: snapshot for snapshot in RatingSnapshot.objects.filter(pk__in=newest_ids)}


def board_snapshot(flt: BoardFilter) -> RatingSnapshot | None:
    """The newest Bradley–Terry snapshot of ``flt``'s votes (see ``serve``); None before its first fit."""
    return serve(flt, BOARD).snapshot


def style_snapshot(flt: BoardFilter) -> RatingSnapshot | None:
    """The newest style-controlled snapshot of ``flt``'s votes (see ``serve``); None before its first fit."""
    return serve(flt, STYLE).snapshot


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


# --- per category and the decision view --------------------------------------------------


@dataclass
class Decision:
    overall: analysis.Route | None
    routes: list[analysis.Route]
    snapshot: RatingSnapshot | None
    served: Served | None = None


def category_boards(flt: BoardFilter, served: Served | None = None) -> list[tuple[str, RatingSnapshot]]:
    """The board of each prompt category under ``flt`` (its own category ignored), most votes
    first, from the decision page's snapshots (``served``: that page's, when already read)."""
    served = serve(flt, DECISION) if served is None else served
    if served.snapshot is None:
        return []
    parts = served.snapshot.data.parts or {}
    found = newest_of(parts.values())
    boards = [(category, found[scope]) for category, scope in parts.items() if scope in found]
    boards = [(category, snapshot) for category, snapshot in boards if snapshot.vote_count]
    return sorted(boards, key=lambda item: (-item[1].vote_count, item[0]))


def decision(flt: BoardFilter) -> Decision:
    """Per category: the models tied for first, the cheapest and fastest of them, and the
    recommended model with its evidence; the same over all categories."""
    served = serve(flt, DECISION)
    if served.snapshot is None:
        return Decision(overall=None, routes=[], snapshot=None, served=served)
    overall_snapshot = newest(flt.without_category().scope())
    boards = category_boards(flt, served)
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
    return Decision(overall=overall, routes=routes, snapshot=overall_snapshot, served=served)


# --- rating over time ----------------------------------------------------------------------


@dataclass
class HistoryServed(Served):
    """A rating history as a page serves it (``history``: the one of ``fits.fit_history``)."""

    history: dict | None = None

    @property
    def waiting(self) -> bool:
        return self.history is None

    @property
    def stale(self) -> bool:
        return self.history is None or self.behind > 0 or self.changed


def serve_history(flt: BoardFilter, *, points: int | None = None) -> HistoryServed:
    """The newest rating history of ``flt`` (fitted by a worker, kept in the cache), as ``serve``
    serves a board: with its lag, a refit queued when behind; ``history`` None before the first."""
    points = points or settings.ARENA_HISTORY_POINTS
    latest = cache.get(fits.history_key(flt, points))
    if latest is None:
        served = HistoryServed(None)
    else:
        mark = VoteMark(**latest["mark"])
        limit = settings.ARENA_LAG_COUNT_LIMIT + 1
        behind = len(mark.unseen(flt.votes()).order_by().values_list("pk", flat=True)[:limit])
        changed = mark.epoch != counts.current_state().epoch
        served = HistoryServed(None, behind=behind, changed=changed, history=latest["history"])
    if not served.stale:
        return served
    served.refitting = request_refit(HISTORY, flt)
    if settings.ARENA_BOARDS_FIT_INLINE:
        latest = cache.get(fits.history_key(flt, points))
        return HistoryServed(None, history=latest["history"] if latest else None)
    return served


def rating_history(flt: BoardFilter, *, points: int | None = None) -> dict:
    """The history of ``serve_history``, empty while it waits for its first fit."""
    return rating_history_of(serve_history(flt, points=points))


def rating_history_of(served: HistoryServed) -> dict:
    return served.history or {"period": "day", "labels": [], "series": {}}
