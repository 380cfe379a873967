"""Pairing benchmark: votes needed by the active policy against uniform pairing, in the same run.

    .venv/bin/python bench/bench_pairing.py [--seeds 10] [--models 20] [--spreads 70,100,130]
                                            [--large-models 50] [--large-seeds 3] [--processes 2]

For each scenario and seed, the same simulated voters (``ratings.engine.simulate``: Bradley–Terry
with ties, 30% tie share) vote under three policies until every model's 95% sandwich interval is
narrower than ±25 points:

* uniform — every pair equally likely (the baseline of the ratios);
* active — the app's own policy (``battles.core.pairing`` with its default settings);
* oracle — pairs drawn from the minimax design computed from the *true* strengths
  (``ratings.engine.design``): the best any fixed allocation can do, which no real policy knows.

Decision mode (issue 14): the same voters under uniform and active pairing until the best model is
known within ±``--epsilon`` (25) points with 95% confidence (``--objective top1`` of ``python -m
ratings simulate``), 20 models at spread 100; goal: the active policy needs at least 50% fewer votes
than uniform (mean over seeds), while keeping its >= 30% saving on the interval objective.

Scenarios: random strengths Normal(1000, spread) for each ``--spreads`` value with ``--models``
models, ``--large-models`` models at spread 100, and the 13 Elo ratings of the LMSYS Chatbot Arena
leaderboard of 10 May 2023 (https://lmsys.org/blog/2023-05-10-leaderboard/; standard deviation
137 points) as known strengths. Printed: the mean votes per policy and the saving against uniform
(1 − mean policy / mean uniform), then the per-seed figures.
"""

from __future__ import annotations

import argparse
import multiprocessing as mp
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from ratings.engine.simulate import oracle_policy, random_strengths, run_policy_simulation  # noqa: E402
from ratings.policies import POLICIES  # noqa: E402

# Published Elo ratings, Chatbot Arena leaderboard of 10 May 2023 (13 models).
LMSYS_MAY_2023 = {
    "gpt-4": 1274,
    "claude-v1": 1224,
    "gpt-3.5-turbo": 1155,
    "vicuna-13b": 1083,
    "koala-13b": 1022,
    "rwkv-4-raven-14b": 989,
    "oasst-pythia-12b": 928,
    "chatglm-6b": 918,
    "stablelm-tuned-alpha-7b": 906,
    "alpaca-13b": 904,
    "fastchat-t5-3b": 902,
    "dolly-v2-12b": 863,
    "llama-13b": 826,
}
POLICY_NAMES = ("uniform", "active", "oracle")


TOP1_GOAL = 0.5
INTERVAL_GOAL = 0.3


def _top1(job):
    _, seed, strengths, epsilon = job
    out = {}
    for name in ("uniform", "active"):
        policy = name if name == "uniform" else POLICIES[name]
        result = run_policy_simulation(strengths, policy, seed=seed, objective="top1", epsilon=epsilon)
        out[name] = (result.votes_needed, result.leader_gap)
    return "top1", seed, out


def _one(job):
    if len(job) == 4:
        return _top1(job)
    scenario, seed, strengths = job
    out = {}
    for name in POLICY_NAMES:
        policy = oracle_policy(strengths) if name == "oracle" else (name if name == "uniform" else POLICIES[name])
        result = run_policy_simulation(strengths, policy, seed=seed)
        out[name] = (result.votes_needed, result.kendall_tau)
    return scenario, seed, out


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seeds", type=int, default=10)
    parser.add_argument("--models", type=int, default=20)
    parser.add_argument("--spreads", default="70,100,130")
    parser.add_argument("--large-models", type=int, default=50)
    parser.add_argument("--large-seeds", type=int, default=3)
    parser.add_argument("--processes", type=int, default=2)
    parser.add_argument("--epsilon", type=float, default=25.0)
    args = parser.parse_args(argv)

    jobs: list[tuple] = []
    jobs += [
        ("top1", seed, random_strengths(args.models, seed, spread=100.0), args.epsilon) for seed in range(args.seeds)
    ]
    for spread in (float(s) for s in args.spreads.split(",") if s):
        name = f"{args.models} models, spread {spread:g}"
        jobs += [(name, seed, random_strengths(args.models, seed, spread=spread)) for seed in range(args.seeds)]
    if args.large_models and args.large_seeds:
        name = f"{args.large_models} models, spread 100"
        jobs += [
            (name, seed, random_strengths(args.large_models, seed, spread=100.0)) for seed in range(args.large_seeds)
        ]
    name = "LMSYS leaderboard 2023-05-10 (13 models)"
    jobs += [(name, seed, {k: float(v) for k, v in LMSYS_MAY_2023.items()}) for seed in range(args.seeds)]

    started = time.perf_counter()
    with mp.get_context("spawn").Pool(args.processes) as pool:
        results = pool.map(_one, jobs, chunksize=1)
    elapsed = time.perf_counter() - started

    by_scenario: dict[str, list] = {}
    for scenario, seed, out in results:
        by_scenario.setdefault(scenario, []).append((seed, out))
    decision = by_scenario.pop("top1", [])
    if decision:
        uniform = float(np.mean([out["uniform"][0] for _, out in decision]))
        active = float(np.mean([out["active"][0] for _, out in decision]))
        saving = 1 - active / uniform
        print(
            f"decision mode: votes until the best of {args.models} models (spread 100) is known within "
            f"±{args.epsilon:g} points with 95% confidence, seeds 0–{len(decision) - 1}"
        )
        print(
            f"  uniform {uniform:.0f}, active {active:.0f}: active saves {saving:.1%} "
            f"(goal >= {TOP1_GOAL:.0%}: {'met' if saving >= TOP1_GOAL else 'NOT met'})"
        )
        for seed, out in decision:
            gaps = ", ".join(f"{p} leader {out[p][1]:.0f} points below the best" for p in ("uniform", "active"))
            print(f"  seed {seed}: {out['uniform'][0]} / {out['active'][0]} votes ({gaps})")
        print()
    print(
        f"votes until every 95% interval is within ±25 points ({len(jobs)} simulations × 3 policies, {elapsed:.0f} s)\n"
    )
    print(
        f"{'scenario':44} {'seeds':>5} {'uniform':>8} {'active':>8} {'oracle':>8} "
        f"{'active_saving':>14} {'oracle_saving':>14}"
    )
    for scenario, rows in by_scenario.items():
        means = {p: float(np.mean([out[p][0] for _, out in rows])) for p in POLICY_NAMES}
        print(
            f"{scenario:44} {len(rows):>5} {means['uniform']:>8.0f} {means['active']:>8.0f} "
            f"{means['oracle']:>8.0f} {1 - means['active'] / means['uniform']:>14.1%} "
            f"{1 - means['oracle'] / means['uniform']:>14.1%}"
        )
        if scenario == f"{args.models} models, spread 100":
            saving = 1 - means["active"] / means["uniform"]
            verdict = "met" if saving >= INTERVAL_GOAL else "NOT met"
            print(f"{'':44} (interval objective, goal >= {INTERVAL_GOAL:.0%} at spread 100: {verdict})")
    print("\nper seed: votes (Kendall τ at stop) uniform / active / oracle")
    for scenario, rows in by_scenario.items():
        print(scenario)
        for seed, out in rows:
            cells = " / ".join(f"{out[p][0]} ({out[p][1]:.2f})" for p in POLICY_NAMES)
            print(f"  seed {seed}: {cells}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
