"""Simulated arenas against simulated benchmarks: how often the vibes gap flags, and whom.

Each trial draws true ratings (Normal, sd ``spread``), simulates votes between uniformly drawn
pairs (Bradley–Terry with ties), fits the board as the app does (a Normal prior of
``prior_points``, sandwich intervals, the joint covariance), builds a benchmark from the true
order, and runs ``compare_benchmark``. Three benchmarks:

- ``near``: the true order with some neighbours swapped (every model within one place of its
  true rank): what a benchmark that agrees with preference looks like. Flags are false alarms.
- ``reversed``: the true order upside down. Both ends should be flagged.
- ``planted``: ``near`` except that the model truly ranked ``true_rank`` is put at
  ``benchmark_rank`` (the seeds' case: 3rd on a knowledge benchmark, 15th by preference among 20
  models). It, and only it, should be flagged.

Pure: no Django.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np

from .benchmarks import ArenaCovariance, ArenaEntry, compare_benchmark
from .leaderboard import fit_bradley_terry
from .simulate import random_strengths, simulate_votes

KINDS = ("near", "reversed", "planted")


@dataclass
class VibesTrials:
    kind: str
    models: int
    votes_per_model: int
    trials: int
    flagged: int  # flags over all trials and models
    compared: int  # models compared over all trials
    ends_flagged: int  # trials in which the best and the worst model were both flagged
    planted_flagged: int  # trials in which the planted model was flagged
    only_planted: int  # trials in which it was the only model flagged

    @property
    def flag_rate(self) -> float:
        return self.flagged / self.compared if self.compared else 0.0

    def to_dict(self) -> dict:
        return asdict(self) | {"flag_rate": self.flag_rate}


def near_order(n: int, rng: np.random.Generator) -> np.ndarray:
    """Benchmark positions (0 = best) of models listed best first: neighbours swapped at random,
    so that no model moves more than one place."""
    order = np.arange(n)
    k = 0
    while k < n - 1:
        if rng.random() < 0.5:
            order[k], order[k + 1] = order[k + 1], order[k]
            k += 2
        else:
            k += 1
    return order


def planted_order(n: int, rng: np.random.Generator, *, true_rank: int, benchmark_rank: int) -> np.ndarray:
    """``near_order`` of the others, with the model truly at ``true_rank`` moved to ``benchmark_rank``
    (ranks count from 1)."""
    others = [k for k in range(n) if k != true_rank - 1]
    shuffled = [others[i] for i in near_order(n - 1, rng)]
    shuffled.insert(benchmark_rank - 1, true_rank - 1)
    position = np.empty(n, dtype=int)
    position[np.array(shuffled)] = np.arange(n)
    return position


def run_trials(
    kind: str,
    *,
    models: int,
    votes_per_model: int,
    trials: int,
    seed: int = 0,
    spread: float = 100.0,
    tie_rate: float = 0.3,
    prior_points: float | None = 150.0,
    true_rank: int = 15,
    benchmark_rank: int = 3,
    min_places: float = 2.0,
    min_share: float = 0.2,
    confidence: float = 0.95,
    draws: int = 1000,
) -> VibesTrials:
    """``trials`` simulated arenas of one kind (see the module docstring); every model has about
    ``votes_per_model`` votes (each vote counts for two models)."""
    if kind not in KINDS:
        raise ValueError(f"kind must be one of {', '.join(KINDS)}")
    result = VibesTrials(kind, models, votes_per_model, trials, 0, 0, 0, 0, 0)
    names = [f"m{k:02d}" for k in range(models)]
    for trial in range(trials):
        rng = np.random.default_rng([seed, trial])
        truth = np.sort(random_strengths(models, rng, spread=spread))[::-1]  # names[0] is truly best
        table = simulate_votes(dict(zip(names, truth)), votes_per_model * models // 2, tie_rate=tie_rate, seed=rng)
        board = fit_bradley_terry(table.to_table(), prior_points=prior_points)
        if kind == "near":
            position = near_order(models, rng)
        elif kind == "reversed":
            position = np.arange(models)[::-1]
        else:
            position = planted_order(models, rng, true_rank=true_rank, benchmark_rank=benchmark_rank)
        scores = {name: float(models - position[k]) for k, name in enumerate(names)}
        entries = [ArenaEntry(r.model, r.rating, r.lower, r.upper, r.votes) for r in board.rows]
        covariance = ArenaCovariance(board.models, board.covariance) if board.covariance is not None else None
        comparison = compare_benchmark(
            "simulated",
            scores,
            entries,
            min_places=min_places,
            min_share=min_share,
            confidence=confidence,
            draws=draws,
            seed=trial,
            covariance=covariance,
        )
        flagged = {row.model for row in comparison.flagged}
        result.flagged += len(flagged)
        result.compared += len(comparison.rows)
        result.ends_flagged += {names[0], names[-1]} <= flagged
        planted = names[true_rank - 1] if kind == "planted" else None
        result.planted_flagged += planted in flagged
        result.only_planted += planted is not None and flagged == {planted}
    return result
