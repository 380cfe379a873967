"""Small-arena benchmark: ratings from the first votes, the app's prior against plain maximum likelihood.

    .venv/bin/python bench/bench_small_arena.py [--seeds 1000] [--models 5,8,12]
                                                [--votes 30,60,150,500,1500] [--tie-rate 0.3]
                                                [--priors 100,200] [--processes 2]

For each number of models, number of votes and seed: true ratings Normal(1000, 100) (centred), votes
between uniformly drawn pairs from the engine's simulator (Bradley–Terry with ties, ``--tie-rate``),
then the board is fitted twice on the same votes: with the app's default prior
(``ARENA_RATING_PRIOR_POINTS``, read from the app's settings, so an environment override is what is
measured) and with plain maximum likelihood (LMArena's fit, the engine CLI's default), and with each
spread in ``--priors`` for comparison. Printed per cell: how often the 95% interval covers the true
rating (re-centred over the models on the board), the largest |rating − truth| over every model and
seed, and its 99th percentile; then the same over all cells. Goal for the app's default: coverage
≥ 93% and no rating more than 300 points from the truth.
"""

from __future__ import annotations

import argparse
import multiprocessing as mp
import os
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from django.conf import settings  # noqa: E402 (lazy: read once, for the app's default prior)

from ratings.engine import fit_bradley_terry, simulate_votes  # noqa: E402
from ratings.engine.simulate import random_strengths  # noqa: E402

SPREAD = 100.0
COVERAGE_GOAL = 0.93
ERROR_GOAL = 300.0


def app_prior_points() -> float:
    """The boards' default prior, as the app's settings module reads it."""
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "arena.settings")
    return float(settings.ARENA_RATING_PRIOR_POINTS)


def run_cell(job) -> dict:
    """Coverage hits, model count and every |error| per estimator for one (models, votes) cell."""
    models, votes, seeds, tie_rate, estimators = job
    names = [f"m{k:02d}" for k in range(models)]
    hits = dict.fromkeys(estimators, 0)
    count = dict.fromkeys(estimators, 0)
    errors: dict[str, list[float]] = {label: [] for label in estimators}
    for seed in range(seeds):
        truth = dict(zip(names, random_strengths(models, seed, spread=SPREAD)))
        table = simulate_votes(truth, votes, tie_rate=tie_rate, seed=1_000_000 + seed).to_table()
        for label, prior in estimators.items():
            board = fit_bradley_terry(table, prior_points=prior)
            # A model without votes is not on the board; the truth is re-centred over those that are.
            offset = np.mean([truth[row.model] for row in board.rows]) - 1000.0
            for row in board.rows:
                true_rating = truth[row.model] - offset
                hits[label] += row.lower <= true_rating <= row.upper
                count[label] += 1
                errors[label].append(abs(row.rating - true_rating))
    return {"models": models, "votes": votes, "hits": hits, "count": count, "errors": errors}


def summary(hits: int, count: int, errors) -> str:
    errors = np.asarray(errors)
    return f"{100 * hits / count:5.1f}% {errors.max():7.0f} {np.percentile(errors, 99):6.0f}"


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seeds", type=int, default=1000)
    parser.add_argument("--models", default="5,8,12")
    parser.add_argument("--votes", default="30,60,150,500,1500")
    parser.add_argument("--tie-rate", type=float, default=0.3)
    parser.add_argument("--priors", default="", help="more prior spreads (rating points) to compare, comma-separated")
    parser.add_argument("--processes", type=int, default=2)
    args = parser.parse_args(argv)

    default = app_prior_points()
    estimators: dict[str, float | None] = {f"app prior {default:g}": default or None, "plain MLE": None}
    for text in filter(None, args.priors.split(",")):
        estimators.setdefault(f"prior {float(text):g}", float(text))
    cells = [(m, n) for m in map(int, args.models.split(",")) for n in map(int, args.votes.split(","))]
    jobs = [(m, n, args.seeds, args.tie_rate, estimators) for m, n in cells]
    started = time.perf_counter()
    with mp.get_context("spawn").Pool(max(1, min(args.processes, 2))) as pool:
        results = pool.map(run_cell, jobs)
    elapsed = time.perf_counter() - started

    print(
        f"Small arena: true ratings sd {SPREAD:g}, {args.tie_rate:.0%} ties, {args.seeds} seeds per cell, "
        "uniform pairs, 95% sandwich intervals"
    )
    print("per estimator: coverage of the truth, largest |rating - truth|, 99th percentile of |rating - truth|\n")
    header = f"{'models':>6} {'votes':>6}  " + "  ".join(f"{label:>22}" for label in estimators)
    print(header)
    for result in results:
        cells_text = "  ".join(
            f"{summary(result['hits'][label], result['count'][label], result['errors'][label]):>22}"
            for label in estimators
        )
        print(f"{result['models']:>6} {result['votes']:>6}  {cells_text}")
    print()
    for label in estimators:
        hits = sum(r["hits"][label] for r in results)
        count = sum(r["count"][label] for r in results)
        errors = np.concatenate([r["errors"][label] for r in results])
        worst_cover = min(r["hits"][label] / r["count"][label] for r in results)
        print(
            f"{label:>14}: coverage {100 * hits / count:.1f}% overall, lowest cell {100 * worst_cover:.1f}%; "
            f"largest error {errors.max():.0f} points, 99th percentile {np.percentile(errors, 99):.0f}"
        )
    app = next(iter(estimators))
    failing = [
        f"{r['models']} models / {r['votes']} votes"
        for r in results
        if r["hits"][app] / r["count"][app] < COVERAGE_GOAL or max(r["errors"][app]) > ERROR_GOAL
    ]
    verdict = "met in every cell" if not failing else "not met in: " + ", ".join(failing)
    print(f"\ngoal for the {app} (coverage >= {COVERAGE_GOAL:.0%}, every error <= {ERROR_GOAL:.0f}): {verdict}")
    print(f"({elapsed:.0f} s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
