"""The snapshot service: feeding the rating engine from the database, and keeping its results.

The Bradley–Terry fit reads one aggregated query (counts per version pair
and outcome), never every vote, and is stored as a ``RatingSnapshot`` (its
payload in the form ``ratings.snapshots`` defines). Elo and TrueSkill move
once per counted vote, in vote order, in a worker (``ratings.online``). Boards for a vote filter are built on
this in ``ratings.boards``; the background recomputation is ``ratings.tasks``.
"""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Callable, Sequence

import numpy as np
from django.conf import settings
from django.db import connections
from django.db.models import Count, QuerySet

from battles.models import LLMVersion, Vote
from battles.signals import RatingEstimates
from ratings.engine import (
    VoteLog,
    VoteTable,
    fit_bradley_terry,
    online_elo,
    outcome_codes,
    trueskill_ratings,
)
from ratings.models import DecisionObjective, OnlineRating, RatingSnapshot
from ratings.scopes import DEFAULT_SCOPE
from ratings.snapshots import board_payload, empty_board_payload


def counted_votes() -> QuerySet:
    """The votes of the default board: no insider votes, nothing flagged."""
    return Vote.objects.filter(insider=False, flagged=False)


def aggregated_counts(votes: QuerySet) -> list[tuple[int, int, str, int]]:
    rows = (
        votes.values_list("version_a_id", "version_b_id", "outcome")
        .annotate(n=Count("id"))
        .order_by("version_a_id", "version_b_id", "outcome")
    )
    return [(a, b, outcome, n) for a, b, outcome, n in rows]


def vote_set_hash(counts: list[tuple[int, int, str, int]]) -> str:
    return hashlib.sha256(json.dumps(counts, separators=(",", ":")).encode()).hexdigest()


def prior_points() -> float | None:
    """The spread of the boards' prior on ratings (``ARENA_RATING_PRIOR_POINTS``); None: plain MLE."""
    return float(settings.ARENA_RATING_PRIOR_POINTS) or None


def engine_settings() -> dict:
    """The settings every Bradley–Terry snapshot is fitted with; part of its identity, so a
    snapshot fitted with other settings (another prior) is refitted, never reused."""
    return {
        "method": "bradley_terry",
        "ci": "sandwich",
        "scale": 400,
        "base": 10,
        "initial": 1000,
        "min_votes": settings.ARENA_MIN_VOTES,
        "prior_points": prior_points(),
        "ties": "half a win each way (tie and both_bad)",
    }


def compute_snapshot(
    *,
    scope: str = DEFAULT_SCOPE,
    votes: QuerySet | None = None,
    counts: list[tuple[int, int, str, int]] | None = None,
    online: bool = False,
    stamp: dict | None = None,
    replay: Callable[[dict[int, str]], dict[str, dict]] | None = None,
) -> RatingSnapshot:
    """Fit and store the board of ``votes`` (default: the counted votes).

    ``counts`` may be passed when the caller already has ``aggregated_counts(votes)`` (or the
    same from ``ratings.counts``). ``online``: also replay the votes in timestamp order for Elo
    and TrueSkill (filtered boards). The default board reads the ``OnlineRating`` rows instead,
    which describe the same votes, imported ones included: the worker applies every counted vote
    once, and after an import or exclusions replays them all in timestamp order
    (``ratings.online.rebuild_online_ratings``) — so refitting the default board never replays.
    ``stamp``: further fields of the snapshot (which votes it saw, its filter). ``replay``: how
    ``online`` replays ``votes`` (labels -> ratings by label), when the caller has them read already.
    """
    votes = counted_votes() if votes is None else votes
    counts = aggregated_counts(votes) if counts is None else counts
    version_ids = {a for a, _, _, _ in counts} | {b for _, b, _, _ in counts}
    labels = {v.pk: v.label for v in LLMVersion.objects.filter(pk__in=version_ids).select_related("llm")}
    engine = engine_settings()
    started = time.perf_counter()
    total = sum(n for *_, n in counts)
    if counts:
        table = VoteTable.from_counts((labels[a], labels[b], outcome, n) for a, b, outcome, n in counts)
        board = fit_bradley_terry(
            table, ci="sandwich", min_votes=settings.ARENA_MIN_VOTES, prior_points=engine["prior_points"]
        )
        # Every board keeps its covariance: the decision page's "best within ε" needs the joint
        # uncertainty of any category's board (a few hundred numbers for 4–15 models).
        payload = board_payload(board, table, covariance=True)
    else:
        payload = empty_board_payload()
    if online:
        if not counts:
            payload.online = {}
        else:
            payload.online = replay(labels) if replay is not None else replayed_online_ratings(votes, labels)
    outcomes = dict.fromkeys(Vote.Outcome.values, 0)
    for *_, outcome, n in counts:
        outcomes[outcome] += n
    payload.outcome_totals = outcomes
    payload.version_ids = {label: pk for pk, label in labels.items()}
    return RatingSnapshot.objects.create(
        scope=scope,
        settings=engine,
        vote_count=total,
        vote_hash=vote_set_hash(counts),
        payload=payload.to_json(),
        duration_ms=int((time.perf_counter() - started) * 1000),
        **(stamp or {}),
    )


def replayed_online_ratings(votes: QuerySet, labels: dict[int, str]) -> dict[str, dict]:
    """Elo and TrueSkill replayed over ``votes`` in timestamp order (an imported vote keeps the
    time its file gives), by version label (``labels``: version pk -> label, for every version
    of the votes)."""
    return CategoryReplays.read(votes, by_category=False).of(None, labels)


class CategoryReplays:
    """Elo and TrueSkill replayed over a vote set and over each category's part of it.

    The decision page fits a board per category beside the board of all of them; each replays its
    own votes. Holding the votes once, with their category, and replaying each category's in the
    same order gives the same numbers as a read per category. The votes come in time order, from a
    worker's archive (``ratings.vote_archive``) or read from the database (``read``).
    """

    def __init__(
        self,
        model_a: Sequence[int] | np.ndarray,
        model_b: Sequence[int] | np.ndarray,
        outcome: Sequence | np.ndarray,
        categories: Sequence | np.ndarray | None = None,
    ) -> None:
        """Version ids, outcomes (labels or codes) and categories (names; None for none) of the votes,
        in time order. Held as arrays: a category's part and its log are taken without a Python step per vote."""
        self.model_a = np.asarray(model_a, dtype=np.int64)
        self.model_b = np.asarray(model_b, dtype=np.int64)
        self.outcome = outcome_codes(outcome)
        self.categories = None if categories is None else np.asarray(categories, dtype=object)

    @classmethod
    def read(cls, votes: QuerySet, *, by_category: bool = True) -> CategoryReplays:
        """The replays of ``votes``, read in one query."""
        columns = ["version_a_id", "version_b_id", "outcome"]
        if by_category:
            columns.append("battle__prompt__category")  # None for an imported vote without a battle
        ordered = votes.order_by("created_at", "id").values_list(*columns)
        model_a: list = []
        model_b: list = []
        outcome: list = []
        categories: list = []
        # A plain cursor, not a server-side one (.iterator() or arena.db.stream): Postgres plans a
        # cursor for a fast first row (index walk, no parallel workers), which took 12–14 s at 1M votes
        # against 2 s here. A few small columns per vote: the whole result fits in memory comfortably.
        sql, params = ordered.query.sql_with_params()
        with connections[ordered.db].cursor() as cursor:
            cursor.execute(sql, params)
            while rows := cursor.fetchmany(50_000):
                for row in rows:
                    model_a.append(row[0])
                    model_b.append(row[1])
                    outcome.append(row[2])
                    if by_category:
                        categories.append(row[3])
        return cls(model_a, model_b, outcome, categories if by_category else None)

    def of(self, category: str | None, labels: dict[int, str]) -> dict[str, dict]:
        """The replay of the votes of ``category`` (None: all of them), by version label."""
        model_a, model_b, outcome = self.model_a, self.model_b, self.outcome
        if category is not None:
            if self.categories is None:
                raise ValueError("these replays were read without categories")
            keep = self.categories == category
            model_a, model_b, outcome = model_a[keep], model_b[keep], outcome[keep]
        log = VoteLog.from_ids(model_a, model_b, outcome, labels)
        elo = online_elo(log, k=settings.ARENA_ELO_K)
        skill = trueskill_ratings(log)
        return {
            label: {"elo": elo[label], "trueskill_mu": skill[label][0], "trueskill_sigma": skill[label][1]}
            for label in elo
        }


def latest_snapshot(scope: str = DEFAULT_SCOPE) -> RatingSnapshot | None:
    return RatingSnapshot.objects.filter(scope=scope).order_by("-computed_at", "-pk").first()


def prune_snapshots(scope: str, *, keep: int) -> int:
    """Delete all but the newest ``keep`` snapshots of ``scope`` (never the newest); returns how many went."""
    stale = list(
        RatingSnapshot.objects.filter(scope=scope)
        .order_by("-computed_at", "-pk")
        .values_list("pk", flat=True)[max(1, keep) :]
    )
    if not stale:
        return 0
    deleted, _ = RatingSnapshot.objects.filter(pk__in=stale).delete()
    return deleted


def leaderboard_rows(snapshot: RatingSnapshot | None) -> list[dict]:
    """Snapshot rows joined with the online ratings, best first.

    A snapshot carries Elo and TrueSkill replayed over its own votes; one stored before the
    default board was replayed joins the ``OnlineRating`` rows that every counted vote moves.
    """
    if snapshot is None:
        return []
    payload = snapshot.data
    version_ids = payload.version_ids
    if payload.online is not None:
        replayed = payload.online
        return [
            {**row, "elo": None, "trueskill_mu": None, "trueskill_sigma": None, **replayed.get(row["model"], {})}
            for row in payload.rows
        ]
    online = {r.llm_version_id: r for r in OnlineRating.objects.filter(llm_version_id__in=version_ids.values())}
    rows = []
    for row in payload.rows:
        version_id = version_ids.get(row["model"])  # none in a payload stored before they were kept
        extra = online.get(version_id) if version_id is not None else None
        rows.append(
            {
                **row,
                "elo": extra.elo if extra else None,
                "trueskill_mu": extra.trueskill_mu if extra else None,
                "trueskill_sigma": extra.trueskill_sigma if extra else None,
            }
        )
    return rows


def pairing_estimates():
    """The latest default board as the pairing policy needs it (by LLM version id)."""
    snapshot = latest_snapshot()
    if snapshot is None:
        return None
    payload = snapshot.data
    ids = payload.version_ids
    ratings = {ids[r["model"]]: r["rating"] for r in payload.rows if r["model"] in ids}
    votes = {ids[r["model"]]: r["votes"] for r in payload.rows if r["model"] in ids}
    covariance = {}
    order = [ids.get(name) for name in payload.covariance_models or []]
    for i, row in enumerate(payload.covariance or []):
        for j, value in enumerate(row):
            if order[i] is not None and order[j] is not None:
                covariance[(order[i], order[j])] = value
    objective = DecisionObjective.objects.filter(category="").first()
    return RatingEstimates(
        ratings=ratings,
        covariance=covariance,
        votes=votes,
        top1_epsilon=objective.epsilon if objective else None,
        top1_confidence=objective.confidence if objective else 0.95,
    )
