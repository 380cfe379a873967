"""Rating engine benchmark: our engine against the libraries people use, in the same run.

    .venv/bin/python bench/bench_ratings.py [--votes 1000000] [--models 100] [--csv-rows 1670000]
                                            [--repeat 3] [--skip-slow-peers] [--skip-peers]

Data: ``--votes`` simulated votes over ``--models`` models (seeded, about 30% ties and
both-bad). Our figures are the best of ``--repeat`` runs (default 5); each peer runs once (they are slow,
and JAX compiles on first use, which is part of what a caller pays). Peers:

* arena-rank (LMArena's package, JAX): BT with 100 bootstrap rounds (multiprocessing, spawn),
  BT with sandwich intervals, contextual BT (style control, sandwich);
* a FastChat-style SciPy implementation (written below: rows aggregated with np.unique, L-BFGS-B
  with an np.add.at gradient, bootstrap by multinomial weights over a process pool);
* evalica (Rust core): BT, percentile bootstrap with 100 resamples, Elo.

"--skip-slow-peers" leaves out arena-rank's bootstrap and evalica's bootstrap (minutes).
Each figure is printed as it is measured; a summary with the ratios comes last.
"""

from __future__ import annotations

import argparse
import csv
import gc
import math
import multiprocessing as mp
import os
import subprocess
import sys
import tempfile
import time
from functools import partial
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from ratings.engine import (  # noqa: E402
    OUTCOMES,
    VoteTable,
    board_robustness,
    fit_bradley_terry,
    fit_style_controlled,
    online_elo,
    simulate_style_votes,
    simulate_votes,
    trueskill_ratings,
)
from ratings.engine.simulate import random_strengths  # noqa: E402

ARENA_LABEL = {"a": "model_a", "b": "model_b", "tie": "tie", "both_bad": "tie (bothbad)"}
STYLE_COEFFICIENTS = [0.25, 0.05, 0.1, 0.05]


# --------------------------------------------------------------------------------------------
# helpers


def best_of(repeat: int, fn):
    best, result = math.inf, None
    for _ in range(repeat):
        gc.collect()
        start = time.perf_counter()
        result = fn()
        best = min(best, time.perf_counter() - start)
    return best, result


def once(fn):
    gc.collect()
    start = time.perf_counter()
    result = fn()
    return time.perf_counter() - start, result


class Report:
    def __init__(self):
        self.figures: dict[str, float] = {}

    def add(self, key: str, seconds: float, note: str = "") -> None:
        self.figures[key] = seconds
        print(f"  {key:<58} {seconds:9.3f} s {note}", flush=True)


def max_rating_gap(ours: dict[str, float], theirs: dict[str, float]) -> float:
    return max(abs(ours[m] - theirs[m]) for m in ours)


# --------------------------------------------------------------------------------------------
# FastChat-style SciPy implementation (peer)


def fastchat_preprocess(df):
    import pandas as pd

    n = len(df)
    codes, models = pd.factorize(pd.concat([df["model_a"], df["model_b"]]))
    schedule = np.ones((n, 3), dtype=np.int32)
    schedule[:, 0] = codes[:n]
    schedule[:, 1] = codes[n:]
    schedule[(df["winner"] == "model_a").to_numpy(), 2] = 2
    schedule[(df["winner"] == "model_b").to_numpy(), 2] = 0
    rows, counts = np.unique(schedule, return_counts=True, axis=0)
    return rows[:, :2], rows[:, 2] / 2.0, list(models), counts.astype(float)


def fastchat_loss_and_grad(ratings, matchups, outcomes, weights, alpha):
    from scipy.special import expit

    logits = alpha * (ratings[matchups[:, 0]] - ratings[matchups[:, 1]])
    p = expit(logits)
    loss = -np.sum(weights * (outcomes * np.log(p) + (1.0 - outcomes) * np.log1p(-p)))
    g = -alpha * (outcomes - p) * weights
    grad = np.zeros_like(ratings)
    np.add.at(grad, matchups[:, 0], g)
    np.add.at(grad, matchups[:, 1], -g)
    return loss, grad


def fastchat_fit(matchups, outcomes, n_models, alpha, weights):
    from scipy.optimize import minimize

    result = minimize(
        fastchat_loss_and_grad,
        np.zeros(n_models),
        args=(matchups, outcomes, weights, alpha),
        jac=True,
        method="L-BFGS-B",
        options={"maxiter": 100, "gtol": 1e-6},
    )
    return result.x


def fastchat_ratings(x, models):
    # logits = ln 10 · (x_a − x_b), so P(a beats b) = 1 / (1 + 10^-(x_a − x_b)): rating = 1000 + 400·x.
    x = x - x.mean()
    return {m: 1000.0 + 400.0 * v for m, v in zip(models, x)}


def fastchat_bt(df):
    matchups, outcomes, models, weights = fastchat_preprocess(df)
    # alpha = ln 10 with ratings in units of 1/scale: rating = 1000 + 400 * x.
    x = fastchat_fit(matchups, outcomes, len(models), math.log(10.0), weights)
    return fastchat_ratings(x, models)


def fastchat_bootstrap(df, rounds, processes):
    matchups, outcomes, models, weights = fastchat_preprocess(df)
    rng = np.random.default_rng(0)
    boot = rng.multinomial(int(weights.sum()), weights / weights.sum(), size=rounds).astype(float)
    fit = partial(fastchat_fit, matchups, outcomes, len(models), math.log(10.0))
    with mp.get_context("spawn").Pool(processes) as pool:
        betas = np.array(pool.map(fit, list(boot)))
    ratings = 1000.0 + 400.0 * (betas - betas.mean(axis=1, keepdims=True))
    return dict(zip(models, np.quantile(ratings, 0.025, axis=0))), dict(
        zip(models, np.quantile(ratings, 0.975, axis=0))
    )


# --------------------------------------------------------------------------------------------
# arena-rank and evalica (peers)


def arena_rank_frame(df):
    out = df.copy()
    out["winner"] = out["winner"].replace({"tie (bothbad)": "both_bad"})
    return out


def arena_rank_bt(df, ci, rounds=100):
    from arena_rank.models.bradley_terry import BradleyTerry
    from arena_rank.utils.data_utils import PairDataset

    dataset = PairDataset.from_pandas(arena_rank_frame(df))
    model = BradleyTerry(n_competitors=len(dataset.competitors))
    result = model.compute_ratings_and_cis(dataset, ci_method=ci, num_bootstrap=rounds, n_jobs=os.cpu_count())
    return {m: float(r) for m, r in zip(result["competitors"], result["ratings"])}, result


def arena_rank_style(df, feature_cols):
    from arena_rank.models.contextual_bradley_terry import ContextualBradleyTerry
    from arena_rank.utils.data_utils import ContextualPairDataset

    dataset = ContextualPairDataset.from_pandas(arena_rank_frame(df), feature_cols, reweighted=False)
    model = ContextualBradleyTerry(n_competitors=len(dataset.competitors), n_features=len(feature_cols))
    result = model.compute_ratings_and_cis(dataset, ci_method="sandwich")
    return {m: float(r) for m, r in zip(result["competitors"], result["ratings"])}


def evalica_args(df):
    import evalica

    code = {
        "model_a": evalica.Winner.X,
        "model_b": evalica.Winner.Y,
        "tie": evalica.Winner.Draw,
        "tie (bothbad)": evalica.Winner.Draw,
    }
    return df["model_a"].to_numpy(), df["model_b"].to_numpy(), [code[w] for w in df["winner"]]


def evalica_ratings(scores):
    beta = np.log(scores.astype(float))
    beta = beta - beta.mean()
    return {m: 1000.0 + 400.0 / math.log(10) * b for m, b in zip(scores.index, beta)}


# --------------------------------------------------------------------------------------------
# the CLI on a big CSV


def write_csv(path: Path, names, a, b, outcome) -> None:
    label = [ARENA_LABEL[o] for o in OUTCOMES]
    with open(path, "w", newline="", encoding="utf-8") as fh:
        writer = csv.writer(fh, lineterminator="\n")
        writer.writerow(["question_id", "model_a", "model_b", "winner", "judge", "turn", "language", "tstamp"])
        for k, (i, j, o) in enumerate(zip(a.tolist(), b.tolist(), outcome.tolist())):
            writer.writerow(
                [f"{k:08x}", names[i], names[j], label[o], f"judge_{k % 997}", 1 + k % 3, "English", f"{1.7e9 + k:.1f}"]
            )


# Started from a small helper process: a child forked from this (large) process would count the
# parent's pages in its peak RSS until it execs.
_MEASURE = """
import os, subprocess, sys, time
start = time.perf_counter()
proc = subprocess.Popen(sys.argv[1:], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
err = proc.stderr.read()
_, status, usage = os.wait4(proc.pid, 0)
print(time.perf_counter() - start, usage.ru_maxrss * 1024, os.waitstatus_to_exitcode(status))
sys.stderr.write(err.decode())
"""


def run_cli(path: Path, *args: str) -> tuple[float, int, int]:
    """Wall time, peak RSS (bytes) and exit code of ``python -m ratings leaderboard``."""
    proc = subprocess.run(
        [sys.executable, "-c", _MEASURE, sys.executable, "-m", "ratings", "leaderboard", str(path), *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    )
    wall, rss, code = proc.stdout.split()
    if int(code) != 0:
        print(proc.stderr, file=sys.stderr)
    return float(wall), int(rss), int(code)


# --------------------------------------------------------------------------------------------


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--votes", type=int, default=1_000_000)
    parser.add_argument("--models", type=int, default=100)
    parser.add_argument("--csv-rows", type=int, default=1_670_000)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument(
        "--skip-slow-peers", action="store_true", help="skip arena-rank's and evalica's bootstraps (minutes each)"
    )
    parser.add_argument("--skip-peers", action="store_true", help="only time our engine")
    args = parser.parse_args(argv)
    report = Report()
    rng_seed = args.seed

    print(f"data: {args.votes:,} votes over {args.models} models (seed {rng_seed}); {os.cpu_count()} CPUs")
    strengths = random_strengths(args.models, rng_seed)
    log = simulate_votes(strengths, args.votes, tie_rate=0.3, seed=rng_seed + 1)
    tie_share = float(np.isin(log.outcome, [2, 3]).mean())
    print(f"      tie + both_bad share {tie_share:.3f}")
    names = log.models
    col_a = [names[i] for i in log.a.tolist()]
    col_b = [names[i] for i in log.b.tolist()]
    col_o = [OUTCOMES[o] for o in log.outcome.tolist()]
    table = log.to_table()

    print(f"\nour engine (best of {args.repeat})")
    t, _ = best_of(args.repeat, lambda: VoteTable.from_votes(col_a, col_b, col_o))
    report.add("ours: VoteTable from string columns", t)
    t, board = best_of(args.repeat, lambda: fit_bradley_terry(VoteTable.from_votes(col_a, col_b, col_o), ci="none"))
    report.add("ours: single BT fit from string columns", t, "(goal < 0.1 s)")
    ours_ratings = {r.model: r.rating for r in board.rows}
    t, _ = best_of(args.repeat, lambda: fit_bradley_terry(table, ci="none"))
    report.add("ours: single BT fit from the table", t)
    t, sandwich = best_of(args.repeat, lambda: fit_bradley_terry(table, ci="sandwich"))
    report.add("ours: BT + sandwich intervals (from the table)", t)
    t, boot = best_of(args.repeat, lambda: fit_bradley_terry(table, ci="bootstrap", bootstrap_rounds=100, seed=1))
    report.add("ours: BT + 100-round bootstrap (from the table)", t, "(goal < 1 s)")
    t, _ = best_of(
        args.repeat,
        lambda: fit_bradley_terry(
            VoteTable.from_votes(col_a, col_b, col_o), ci="bootstrap", bootstrap_rounds=100, seed=1
        ),
    )
    report.add("ours: BT + 100-round bootstrap from string columns", t)
    t, robustness = best_of(1, lambda: board_robustness(sandwich))
    report.add(
        "ours: robustness (votes to flip #1)", t, f"({robustness['votes_to_flip']} votes, {robustness['challenger']})"
    )
    t, _ = best_of(args.repeat, lambda: online_elo(log))
    report.add("ours: online Elo over all votes (VoteLog)", t, "(goal < 0.5 s)")
    vote_tuples = list(zip(col_a, col_b, col_o))
    t, _ = best_of(args.repeat, lambda: online_elo(vote_tuples))
    report.add("ours: online Elo over all votes (string tuples)", t)
    vote_tuples.clear()  # free the memory before the next measurement
    t, _ = best_of(1, lambda: trueskill_ratings(log))
    report.add("ours: TrueSkill over all votes", t)

    style = simulate_style_votes(strengths, args.votes, STYLE_COEFFICIENTS, seed=rng_seed + 2)
    t, style_board = best_of(args.repeat, lambda: fit_style_controlled(style.votes, style.style_a, style.style_b))
    report.add("ours: style-controlled BT + sandwich", t, "(goal < 1 s)")
    fitted = {k: round(v, 3) for k, v in style_board.coefficients.items()}
    print(f"        coefficients {fitted} (planted {STYLE_COEFFICIENTS})")

    with tempfile.TemporaryDirectory() as tmp:
        csv_path = Path(tmp) / "votes.csv"
        csv_log = simulate_votes(strengths, args.csv_rows, tie_rate=0.3, seed=rng_seed + 3)
        write_csv(csv_path, csv_log.models, csv_log.a, csv_log.b, csv_log.outcome)
        size = csv_path.stat().st_size
        results = [run_cli(csv_path, "--ci", "sandwich") for _ in range(args.repeat)]
        wall = min(r[0] for r in results)
        rss = max(r[1] for r in results)
        assert all(r[2] == 0 for r in results), "the CLI failed"
        report.add(
            f"ours: python -m ratings leaderboard, {args.csv_rows:,} rows ({size / 1e6:.0f} MB)",
            wall,
            f"(goal < 5 s) peak RSS {rss / 2**20:.0f} MiB (goal < 1024)",
        )
        report.figures["cli_peak_rss_mib"] = rss / 2**20

    if not args.skip_peers:
        import pandas as pd

        df = pd.DataFrame({"model_a": col_a, "model_b": col_b, "winner": [ARENA_LABEL[o] for o in col_o]})
        print("\npeers (one run each)")
        t, theirs = once(lambda: fastchat_bt(df))
        report.add("FastChat-style scipy: single BT fit", t, f"(max gap {max_rating_gap(ours_ratings, theirs):.3f})")
        t, _ = once(lambda: fastchat_bootstrap(df, 100, os.cpu_count()))
        report.add("FastChat-style scipy: BT + 100-round bootstrap", t)
        try:
            import evalica
        except ImportError:
            print("  evalica not installed: skipped")
        else:
            xs, ys, ws = evalica_args(df)
            t, result = once(lambda: evalica.bradley_terry(xs, ys, ws, tie_weight=0.5, tolerance=1e-9, limit=1000))
            report.add(
                "evalica: single BT fit",
                t,
                f"(max gap {max_rating_gap(ours_ratings, evalica_ratings(result.scores)):.3f})",
            )
            t, _ = once(lambda: evalica.elo(xs, ys, ws, k=4.0))
            report.add("evalica: online Elo", t)
            if not args.skip_slow_peers:
                t, _ = once(
                    lambda: evalica.bootstrap(
                        evalica.bradley_terry,
                        xs,
                        ys,
                        ws,
                        n_resamples=100,
                        bootstrap_method="percentile",
                        random_state=1,
                    )
                )
                report.add("evalica: BT + 100-round percentile bootstrap", t)
        try:
            import arena_rank  # noqa: F401
        except ImportError:
            print("  arena-rank not installed: skipped")
        else:
            t, (theirs, _) = once(lambda: arena_rank_bt(df, "sandwich"))
            report.add(
                "arena-rank: BT + sandwich intervals", t, f"(max gap {max_rating_gap(ours_ratings, theirs):.3f})"
            )
            feature_cols = []
            sdf = pd.DataFrame(
                {
                    "model_a": [style.votes.models[i] for i in style.votes.a.tolist()],
                    "model_b": [style.votes.models[i] for i in style.votes.b.tolist()],
                    "winner": [ARENA_LABEL[OUTCOMES[o]] for o in style.votes.outcome.tolist()],
                }
            )
            from ratings.engine import style_matrix

            feats = style_matrix(style.style_a, style.style_b)
            for k in range(feats.shape[1]):
                sdf[f"f{k}"] = feats[:, k]
                feature_cols.append(f"f{k}")
            t, _ = once(lambda: arena_rank_style(sdf, feature_cols))
            report.add("arena-rank: style-controlled (contextual) BT + sandwich", t)
            if not args.skip_slow_peers:
                t, _ = once(lambda: arena_rank_bt(df, "bootstrap", 100))
                report.add("arena-rank: BT + 100-round bootstrap", t)

    f = report.figures
    print("\nsummary: peer time / our time (higher is better for us)")

    def ratio(ours_key, peer_key):
        if peer_key in f and ours_key in f:
            print(f"  {peer_key:<58} {f[peer_key] / f[ours_key]:8.1f}x   vs {ours_key}")

    boot_peers = [
        k
        for k in (
            "FastChat-style scipy: BT + 100-round bootstrap",
            "evalica: BT + 100-round percentile bootstrap",
            "arena-rank: BT + 100-round bootstrap",
        )
        if k in f
    ]
    for key in boot_peers:
        ratio("ours: BT + 100-round bootstrap from string columns", key)
    if boot_peers:
        fastest = min(boot_peers, key=lambda name: f[name])
        print(
            f"  fastest bootstrap peer: {fastest} -> "
            f"{f[fastest] / f['ours: BT + 100-round bootstrap from string columns']:.1f}x (goal >= 10x)"
        )
    ratio("ours: BT + sandwich intervals (from the table)", "arena-rank: BT + sandwich intervals")
    ratio("ours: single BT fit from string columns", "FastChat-style scipy: single BT fit")
    ratio("ours: single BT fit from string columns", "evalica: single BT fit")
    ratio("ours: style-controlled BT + sandwich", "arena-rank: style-controlled (contextual) BT + sandwich")
    ratio("ours: online Elo over all votes (VoteLog)", "evalica: online Elo")
    return 0


if __name__ == "__main__":
    mp.set_start_method("spawn", force=True)  # arena-rank (JAX) needs spawn for its bootstrap pool
    sys.exit(main())
