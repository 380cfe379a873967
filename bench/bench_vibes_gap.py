"""Vibes-gap benchmark: how often the flag fires on simulated small arenas, and on whom.

    .venv/bin/python bench/bench_vibes_gap.py [--trials 200] [--processes 2]

Runs ``ratings.engine.vibes_simulation`` with the app's settings (prior, confidence, displacement
threshold, posterior draws, read from ``arena.settings`` so that an environment override is what
is measured): true ratings sd 100, 30% ties, uniform pairs. Printed per cell: the share of models
flagged, the share of trials with both ends flagged, and for the planted model its flag rate and
how often it was the only flag. Goals (issue 14): a benchmark within one place of the true order
flags at most 5% of models; a reversed benchmark over 6 models with about 300 votes each flags both
ends; the seeds' case (truly 15th of 20, 3rd on the benchmark) is the only model flagged.
"""

from __future__ import annotations

import argparse
import multiprocessing as mp
import os
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from django.conf import settings  # noqa: E402 (lazy: read once, for the app's settings)

from ratings.engine.vibes_simulation import run_trials  # noqa: E402

NEAR_MODELS = (4, 5, 6, 8, 10, 12, 15)
NEAR_VOTES = (30, 100, 300, 1000)
FALSE_FLAG_GOAL = 0.05


def app_options() -> dict:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "arena.settings")
    return {
        "prior_points": float(settings.ARENA_RATING_PRIOR_POINTS) or None,
        "min_places": settings.ARENA_VIBES_GAP_MIN_PLACES,
        "min_share": settings.ARENA_VIBES_GAP_MIN_SHARE,
        "confidence": settings.ARENA_VIBES_GAP_CONFIDENCE,
        "draws": settings.ARENA_VIBES_GAP_DRAWS,
    }


def run(job):
    kind, models, votes, trials, options = job
    return run_trials(kind, models=models, votes_per_model=votes, trials=trials, **options)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--trials", type=int, default=200)
    parser.add_argument("--processes", type=int, default=2)
    args = parser.parse_args(argv)
    options = app_options()
    jobs = [("near", m, v, args.trials, options) for m in NEAR_MODELS for v in NEAR_VOTES]
    jobs += [("reversed", m, v, args.trials, options) for m in (4, 5, 6) for v in (100, 300)]
    jobs += [("planted", 20, v, args.trials, options) for v in (100, 200, 300, 1000)]
    started = time.perf_counter()
    with mp.get_context("spawn").Pool(max(1, min(args.processes, 2))) as pool:
        results = pool.map(run, jobs)
    elapsed = time.perf_counter() - started
    print(
        f"Vibes gap: true ratings sd 100, 30% ties, uniform pairs, {args.trials} trials per cell; prior "
        f"{options['prior_points']:g}, flag when P(|arena rank - benchmark rank| < max({options['min_places']:g}, "
        f"{options['min_share']:g} n)) < {1 - options['confidence']:.0%}, {options['draws']} posterior draws\n"
    )
    print("Benchmark within one place of the true order (every flag is a false alarm): share of models flagged")
    print(f"{'models':>6}  " + "  ".join(f"{v:>5} votes/model" for v in NEAR_VOTES))
    near = [r for r in results if r.kind == "near"]
    for m in NEAR_MODELS:
        cells = [r for r in near if r.models == m]
        print(f"{m:>6}  " + "  ".join(f"{100 * r.flag_rate:>16.1f}%" for r in cells))
    worst = max(near, key=lambda r: r.flag_rate)
    print(
        f"largest: {100 * worst.flag_rate:.1f}% ({worst.models} models, {worst.votes_per_model} votes/model); "
        f"goal <= {FALSE_FLAG_GOAL:.0%}: {'met' if worst.flag_rate <= FALSE_FLAG_GOAL else 'NOT met'}\n"
    )
    print("Reversed benchmark: trials with both ends flagged, share of models flagged")
    for r in (r for r in results if r.kind == "reversed"):
        print(
            f"{r.models:>6} models, {r.votes_per_model:>4} votes/model: both ends in "
            f"{100 * r.ends_flagged / r.trials:5.1f}% of trials, {100 * r.flag_rate:5.1f}% of models flagged"
        )
    print("\nThe seeds' case: 20 models, the truly 15th is 3rd on the benchmark, the rest within one place")
    for r in (r for r in results if r.kind == "planted"):
        print(
            f"{r.votes_per_model:>6} votes/model: it is flagged in {100 * r.planted_flagged / r.trials:5.1f}% of "
            f"trials, the only flag in {100 * r.only_planted / r.trials:5.1f}%"
        )
    print(f"\n({elapsed:.0f} s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
