"""Benchmark scores: importing them, resolving model names, comparing them with the arena.

Model names in benchmark files rarely match the names configured here. A score's name
resolves, in order, through: a ``ModelAlias`` with that name (ignoring case), an LLM with
exactly that name, an LLM with that name ignoring case (only when exactly one matches).
Unresolved scores are kept and resolve later, when an admin adds an alias (``ModelAlias``
saves re-resolve the stored scores) or creates the LLM (comparisons always resolve afresh).
"""

from __future__ import annotations

import hashlib
import json
from collections import defaultdict
from dataclasses import dataclass, field
from typing import BinaryIO

import numpy as np
from django.conf import settings
from django.core.cache import cache
from django.db import transaction

from arena.audit.recording import Action, record
from arena.files.report import ImportReport, read_rows
from arena.files.uploads import upload_limit
from battles.models import LLM, LLMVersion
from ratings import boards
from ratings.benchmarks.parsing import ScoreRow, parse_scores
from ratings.engine.benchmarks import (
    MIN_MODELS_FOR_CORRELATION,
    ArenaCovariance,
    ArenaEntry,
    BenchmarkComparison,
    BenchmarkScores,
    Composite,
    compare_benchmark,
    composite_scores,
)
from ratings.filters import BoardFilter
from ratings.models import Benchmark, BenchmarkScore, ModelAlias, RatingSnapshot
from ratings.style_gate import style_provisional, style_votes

COMPOSITE = "composite"
COMPOSITE_MIN_COVERAGE = 0.5
SEED = 0
CACHE_SECONDS = 600
MAX_LISTED_NAMES = 20


# --- Resolving names ---------------------------------------------------------------------


class Resolver:
    """Model names → LLM ids, from one read of the aliases and the LLMs."""

    def __init__(self):
        self.aliases = {name.casefold(): llm_id for name, llm_id in ModelAlias.objects.values_list("name", "llm_id")}
        self.exact: dict[str, int] = {}
        self.folded: dict[str, set[int]] = defaultdict(set)
        self.names: dict[int, str] = {}
        for pk, name in LLM.objects.values_list("pk", "name"):
            self.exact[name] = pk
            self.folded[name.casefold()].add(pk)
            self.names[pk] = name

    def resolve(self, name: str) -> int | None:
        folded = name.casefold()
        if folded in self.aliases:
            return self.aliases[folded]
        if name in self.exact:
            return self.exact[name]
        matches = self.folded.get(folded, set())
        return next(iter(matches)) if len(matches) == 1 else None

    def llm_name(self, name: str) -> str:
        """The name of the LLM ``name`` resolves to; empty when it resolves to none."""
        llm_id = self.resolve(name)
        return self.names.get(llm_id, "") if llm_id is not None else ""

    def ambiguous(self, name: str) -> bool:
        return self.resolve(name) is None and len(self.folded.get(name.casefold(), ())) > 1


def resolve_stored_scores() -> int:
    """Point every stored score at the LLM its name resolves to now; returns the rows changed."""
    resolver = Resolver()
    changed = 0
    with transaction.atomic():
        for score in BenchmarkScore.objects.select_for_update().only("pk", "model_name", "llm_id"):
            llm_id = resolver.resolve(score.model_name)
            if llm_id != score.llm_id:
                BenchmarkScore.objects.filter(pk=score.pk).update(llm_id=llm_id)
                changed += 1
    return changed


def _names_note(names: list[str], what: str) -> str:
    shown = ", ".join(repr(n) for n in names[:MAX_LISTED_NAMES])
    more = f" and {len(names) - MAX_LISTED_NAMES} more" if len(names) > MAX_LISTED_NAMES else ""
    return f"{len(names)} {what}: {shown}{more}"


# --- Import ------------------------------------------------------------------------------


def import_benchmarks(
    *,
    source: BinaryIO,
    filename: str = "",
    valid_only: bool = False,
    dry_run: bool = False,
    max_bytes: int | None = None,
    preview_rows: int = 0,
) -> ImportReport:
    """Import benchmark scores from a CSV file (see ``ratings.benchmarks.parsing``).

    Nothing is stored when any row is bad unless ``valid_only``. A benchmark × model that is
    already stored (names compared ignoring case) has its score replaced. New benchmarks are
    created with the file's ``higher_is_better`` (default true); a row that contradicts a
    stored benchmark's direction is an error (change the direction in the admin first).
    """
    report = ImportReport(dry_run=dry_run)
    rows: list[ScoreRow] | None = read_rows(
        report, parse_scores(source, max_bytes=upload_limit(max_bytes), filename=filename)
    )
    if rows is None:
        return report

    stored = {b.name.casefold(): b for b in Benchmark.objects.all()}
    good: list[ScoreRow] = []
    for row in rows:
        bench = stored.get(row.benchmark.casefold())
        if bench is not None and row.higher_is_better is not None and row.higher_is_better != bench.higher_is_better:
            report.error(
                row.line,
                (
                    f"benchmark {bench.name!r} is stored as "
                    f"{'higher' if bench.higher_is_better else 'lower'} is better; "
                    "change it in the admin first or fix the file"
                ),
            )
            continue
        good.append(row)
    report.valid = len(good)

    resolver = Resolver()
    unresolved = sorted({row.model for row in good if resolver.resolve(row.model) is None}, key=str.casefold)
    if preview_rows:
        report.preview = [
            {
                "line": row.line,
                "model": row.model,
                "benchmark": row.benchmark,
                "score": row.score,
                "higher_is_better": row.higher_is_better,
                "source": row.source,
                "date": row.date,
                "llm": resolver.llm_name(row.model),
            }
            for row in good[:preview_rows]
        ]
    new_benchmarks = sorted({row.benchmark for row in good if row.benchmark.casefold() not in stored}, key=str.casefold)
    if dry_run or (not report.ok and not valid_only) or not good:
        _notes(report, unresolved, new_benchmarks, resolver, replaced=None)
        return report

    with transaction.atomic():
        benchmarks = _benchmarks_for(good, stored)
        existing = {
            (s.benchmark_id, s.model_name.casefold()): s
            for s in BenchmarkScore.objects.select_for_update().filter(benchmark__in=benchmarks.values())
        }
        created: list[BenchmarkScore] = []
        updated: list[BenchmarkScore] = []
        for row in good:
            bench = benchmarks[row.benchmark.casefold()]
            values = {
                "model_name": row.model,
                "score": row.score,
                "source": row.source,
                "date": row.date,
                "llm_id": resolver.resolve(row.model),
            }
            score = existing.get((bench.pk, row.model.casefold()))
            if score is None:
                created.append(BenchmarkScore(benchmark=bench, **values))
            else:
                for key, value in values.items():
                    setattr(score, key, value)
                updated.append(score)
        BenchmarkScore.objects.bulk_create(created, batch_size=1000)
        # bulk_update skips auto_now; the import time is part of what an update changes.
        for score in updated:
            score.save(update_fields=["model_name", "score", "source", "date", "llm", "imported_at"])
        record(
            Action.BENCHMARKS_IMPORTED,
            object_type="benchmarks",
            object_repr=", ".join(sorted({b.name for b in benchmarks.values()}, key=str.casefold))[:200],
            after={
                "file": filename,
                "scores_added": len(created),
                "scores_replaced": len(updated),
                "new_benchmarks": new_benchmarks,
                "bad_rows_skipped": report.error_count,
            },
        )
    report.imported = len(created) + len(updated)
    _notes(report, unresolved, new_benchmarks, resolver, replaced=len(updated))
    return report


def _benchmarks_for(rows: list[ScoreRow], stored: dict[str, Benchmark]) -> dict[str, Benchmark]:
    direction: dict[str, bool] = {}
    source: dict[str, str] = {}
    spelling: dict[str, str] = {}
    for row in rows:
        key = row.benchmark.casefold()
        spelling.setdefault(key, row.benchmark)
        if row.higher_is_better is not None:
            direction.setdefault(key, row.higher_is_better)
        if row.source:
            source.setdefault(key, row.source)
    out = {}
    for key, name in spelling.items():
        bench = stored.get(key)
        if bench is None:
            bench = Benchmark.objects.create(
                name=name, higher_is_better=direction.get(key, True), source=source.get(key, "")
            )
        out[key] = bench
    return out


def _notes(
    report: ImportReport, unresolved: list[str], new_benchmarks: list[str], resolver: Resolver, *, replaced: int | None
) -> None:
    verb = "would be" if report.dry_run or replaced is None else "were"
    if new_benchmarks:
        report.note(_names_note(new_benchmarks, f"new benchmark(s) {verb} created"))
    if replaced:
        report.note(f"{replaced} stored score(s) were replaced by the file's values.")
    if unresolved:
        ambiguous = [name for name in unresolved if resolver.ambiguous(name)]
        report.note(
            _names_note(
                unresolved,
                "model name(s) match no LLM yet and are kept unresolved "
                "(add a model alias in the admin to resolve them)",
            )
        )
        if ambiguous:
            report.note(_names_note(ambiguous, "name(s) match several LLMs ignoring case; add an alias"))


# --- Arena side --------------------------------------------------------------------------


@dataclass
class ArenaBoard:
    """Board rows mapped to LLMs: one entry per LLM, named by the LLM's name."""

    entries: list[ArenaEntry]
    snapshot: RatingSnapshot | None
    style_control: bool
    labels: dict[str, str] = field(default_factory=dict)  # LLM name -> the board row (version label) used
    available: bool = True  # False: no board of that kind exists yet
    # The ratings' joint posterior covariance under the LLM names (None: the board keeps none,
    # e.g. the style-controlled board; the vibes gap then draws each rating from its interval).
    covariance: ArenaCovariance | None = None


def board_from_rows(rows: list[dict], *, snapshot=None, style_control: bool = False) -> ArenaBoard:
    """Map board rows (``model`` = a version label) to one entry per LLM.

    An LLM with several versions on the board is represented by its newest version that has
    a row: benchmark scores describe a model as it is now.
    """
    by_label = {}
    for version in LLMVersion.objects.select_related("llm"):
        by_label[version.label] = (version.llm.name, version.number)
    chosen: dict[str, tuple[int, dict]] = {}
    for row in rows:
        name, number = by_label.get(row["model"], (row["model"], 1))
        if name not in chosen or number > chosen[name][0]:
            chosen[name] = (number, row)
    entries = [
        ArenaEntry(name, float(row["rating"]), float(row["lower"]), float(row["upper"]), int(row.get("votes", 0)))
        for name, (_, row) in sorted(chosen.items())
    ]
    labels = {name: row["model"] for name, (_, row) in chosen.items()}
    return ArenaBoard(entries, snapshot, style_control, labels)


def arena_board(*, style_control: bool = False) -> ArenaBoard:
    """The default board (raw, or style-controlled when asked) as one ``ArenaEntry`` per LLM.

    Uses the leaderboard's snapshots (``ratings.boards``), which are computed when missing.
    """
    flt = BoardFilter()
    snapshot = boards.style_snapshot(flt) if style_control else boards.board_snapshot(flt)
    rows = snapshot.data.rows if snapshot is not None else []
    board = board_from_rows(rows, snapshot=snapshot, style_control=style_control)
    board.available = bool(rows)
    payload = snapshot.data if snapshot is not None else None
    if payload is not None and payload.covariance_models is not None and payload.covariance is not None:
        board.covariance = covariance_by_name(board, payload.covariance_models, payload.covariance)
    return board


def covariance_by_name(board: ArenaBoard, labels: list[str], matrix: list[list[float]]) -> ArenaCovariance | None:
    """The covariance of the board's chosen rows, renamed from version labels to LLM names."""
    index = {label: k for k, label in enumerate(labels)}
    names = [name for name, label in board.labels.items() if label in index]
    if not names:
        return None
    picked = [index[board.labels[name]] for name in names]
    return ArenaCovariance(names, np.asarray(matrix, dtype=float)[np.ix_(picked, picked)])


# --- Comparison --------------------------------------------------------------------------


@dataclass
class ComparisonReport:
    comparisons: list[BenchmarkComparison]  # one per benchmark, then the composite (when asked)
    board: ArenaBoard
    composite: Composite | None
    notes: list[str]
    settings: dict

    def get(self, name: str) -> BenchmarkComparison | None:
        return next((c for c in self.comparisons if c.benchmark == name), None)


def benchmark_scores(resolver: Resolver | None = None) -> tuple[dict[Benchmark, dict[str, float]], list[str]]:
    """Scores per benchmark by LLM name; when several imported names resolve to one LLM, the latest wins."""
    resolver = resolver or Resolver()
    notes = []
    chosen: dict[tuple[int, int], BenchmarkScore] = {}
    benchmarks = {b.pk: b for b in Benchmark.objects.all()}
    for score in BenchmarkScore.objects.all().order_by("benchmark_id", "date", "imported_at", "pk"):
        llm_id = resolver.resolve(score.model_name)
        if llm_id is None:
            continue
        key = (score.benchmark_id, llm_id)
        if key in chosen:
            notes.append(
                f"{benchmarks[score.benchmark_id].name}: {chosen[key].model_name!r} and {score.model_name!r} both "
                f"resolve to {resolver.names[llm_id]!r}; the later score ({score.model_name!r}) is used"
            )
        chosen[key] = score
    out: dict[Benchmark, dict[str, float]] = {b: {} for b in benchmarks.values()}
    for (bench_id, llm_id), score in chosen.items():
        out[benchmarks[bench_id]][resolver.names[llm_id]] = score.score
    return out, notes


def comparison_settings() -> dict:
    """The vibes gap's settings, as ``compare_benchmark`` takes them."""
    return {
        "confidence": settings.ARENA_VIBES_GAP_CONFIDENCE,
        "min_places": settings.ARENA_VIBES_GAP_MIN_PLACES,
        "min_share": settings.ARENA_VIBES_GAP_MIN_SHARE,
        "min_votes": settings.ARENA_MIN_VOTES,
        "draws": settings.ARENA_VIBES_GAP_DRAWS,
        "seed": SEED,
    }


def vibes_gap_terms() -> dict:
    """The settings the pages quote when they explain the vibes gap and its flag."""
    return {
        "vibes_confidence": round(100 * settings.ARENA_VIBES_GAP_CONFIDENCE),
        "vibes_doubt": round(100 * (1 - settings.ARENA_VIBES_GAP_CONFIDENCE)),
        "vibes_min_places": settings.ARENA_VIBES_GAP_MIN_PLACES,
        "vibes_min_share": round(100 * settings.ARENA_VIBES_GAP_MIN_SHARE),
        "vibes_draws": settings.ARENA_VIBES_GAP_DRAWS,
        "min_models_to_correlate": MIN_MODELS_FOR_CORRELATION,
        "min_votes": settings.ARENA_MIN_VOTES,
    }


def _compare(
    name: str, scores: dict[str, float], board: ArenaBoard, *, higher_is_better: bool, options: dict
) -> BenchmarkComparison:
    """``compare_benchmark``, cached on its inputs (the posterior draws are the slow part)."""
    entries = board.entries
    covariance = board.covariance
    key_data = [
        name,
        higher_is_better,
        sorted(scores.items()),
        [(e.model, e.rating, e.lower, e.upper, e.votes) for e in entries],
        sorted(options.items()),
        None if covariance is None else [list(covariance.models), np.asarray(covariance.matrix).tolist()],
    ]
    key = "benchmarks:compare:" + hashlib.sha256(json.dumps(key_data, default=str).encode()).hexdigest()
    cached = cache.get(key)
    if cached is not None:
        return cached
    result = compare_benchmark(
        name,
        scores,
        entries,
        higher_is_better=higher_is_better,
        covariance=covariance,
        **options,
    )
    cache.set(key, result, CACHE_SECONDS)
    return result


def compare(
    *,
    benchmark: str | None = None,
    style_control: bool = False,
    composite: bool = True,
    board: ArenaBoard | None = None,
) -> ComparisonReport:
    """Every benchmark (or the one named, ignoring case; ``"composite"`` names the composite)
    compared with the arena board, raw or style-controlled.

    Raises ``Benchmark.DoesNotExist`` when ``benchmark`` names nothing.
    """
    options = comparison_settings()
    board = board if board is not None else arena_board(style_control=style_control)
    scores, notes = benchmark_scores()
    wanted = benchmark.casefold() if benchmark else None
    if wanted is not None and wanted != COMPOSITE and not any(b.name.casefold() == wanted for b in scores):
        raise Benchmark.DoesNotExist(f"no benchmark named {benchmark!r}")
    comparisons = []
    for bench, by_model in sorted(scores.items(), key=lambda item: item[0].name.casefold()):
        if wanted is not None and bench.name.casefold() != wanted:
            continue
        comparisons.append(
            _compare(bench.name, by_model, board, higher_is_better=bench.higher_is_better, options=options)
        )
    combined = None
    if composite and wanted in (None, COMPOSITE):
        arena_models = [entry.model for entry in board.entries]
        combined = composite_scores(
            [BenchmarkScores(b.name, s, b.higher_is_better, b.weight) for b, s in scores.items()],
            models=arena_models,
            min_coverage=COMPOSITE_MIN_COVERAGE,
        )
        if len(combined.weights) >= 2:
            comparisons.append(_compare(COMPOSITE, combined.scores, board, higher_is_better=True, options=options))
        elif wanted == COMPOSITE:
            notes.append(
                "the composite needs at least two benchmarks with a weight above 0 "
                "and scores for two or more arena models"
            )
    if style_control and board.available and style_provisional(board.snapshot):
        notes.append(
            f"the style-controlled board is provisional: fitted on {style_votes(board.snapshot)} votes "
            f"(it counts as a board from {settings.ARENA_STYLE_MIN_VOTES}); its ranks can still swing widely"
        )
    if not board.available:
        kind = "style-controlled board" if style_control else "leaderboard"
        notes.append(f"there is no {kind} yet: arena ranks appear once votes have been counted")
    return ComparisonReport(comparisons, board, combined, notes, {**options, "style_control": style_control})


def model_benchmark_ranks(llm: LLM, *, style_control: bool = False) -> list[dict]:
    """One LLM's benchmark ranks against its arena rank, one dict per benchmark (and the
    composite) that has a score for it and in which it is on the board."""
    if not BenchmarkScore.objects.exists():  # one query for pages shown before any import
        return []
    report = compare(style_control=style_control)
    codes = dict(Benchmark.objects.values_list("name", "code"))
    out = []
    for comparison in report.comparisons:
        row = next((r for r in comparison.rows if r.model == llm.name), None)
        if row is None:
            continue
        out.append(
            {
                "benchmark": comparison.benchmark,
                "code": codes.get(comparison.benchmark),
                "n_models": len(comparison.rows),
                "score": row.score,
                "benchmark_rank": row.benchmark_rank,
                "arena_rank": row.arena_rank,
                "arena_rank_best": row.arena_rank_best,
                "arena_rank_worst": row.arena_rank_worst,
                "gap": row.gap,
                "p_agree": row.p_agree,
                "flagged": row.flagged,
            }
        )
    return out
