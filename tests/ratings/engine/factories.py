"""Plain factories and helpers for the engine tests (no database)."""

from __future__ import annotations

import math
import os

import pytest

from ratings.engine import OUTCOMES, VoteLog, simulate_votes
from ratings.engine.simulate import random_strengths

RATING_PER_LOGIT = 400 / math.log(10)
WINNER_LABEL = {"a": "model_a", "b": "model_b", "tie": "tie", "both_bad": "tie (bothbad)"}


def peer(module: str):
    """Import a peer implementation; in CI a missing peer is a failure, locally a skip."""
    if os.environ.get("CI"):
        return __import__(module, fromlist=["_"])
    return pytest.importorskip(module)


def make_strengths(n_models: int = 8, seed: int = 0, spread: float = 100.0) -> dict[str, float]:
    values = random_strengths(n_models, seed, spread=spread)
    return {f"m{k:02d}": float(v) for k, v in enumerate(values)}


def make_log(
    n_models: int = 8, n_votes: int = 2000, *, seed: int = 0, tie_rate: float = 0.3, spread: float = 100.0
) -> VoteLog:
    return simulate_votes(make_strengths(n_models, seed, spread), n_votes, tie_rate=tie_rate, seed=seed + 1)


def make_table(n_models: int = 8, n_votes: int = 2000, **kwargs):
    return make_log(n_models, n_votes, **kwargs).to_table()


def log_columns(log: VoteLog) -> tuple[list[str], list[str], list[str]]:
    names = log.models
    return (
        [names[i] for i in log.a.tolist()],
        [names[i] for i in log.b.tolist()],
        [OUTCOMES[o] for o in log.outcome.tolist()],
    )


def write_votes_csv(path, log: VoteLog, *, extra_column: bool = True) -> None:
    model_a, model_b, outcome = log_columns(log)
    with open(path, "w", encoding="utf-8", newline="") as fh:
        fh.write("question_id,model_a,model_b,winner\n" if extra_column else "model_a,model_b,winner\n")
        for n, (a, b, o) in enumerate(zip(model_a, model_b, outcome)):
            prefix = f"q{n}," if extra_column else ""
            fh.write(f"{prefix}{a},{b},{WINNER_LABEL[o]}\n")
