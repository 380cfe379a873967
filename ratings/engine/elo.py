"""Online Elo in vote order (a provisional signal beside the Bradley–Terry board).

Conventions as in FastChat's online Elo: base 10, scale 400, initial 1000, K = 4 by default;
a tie or a both-bad vote scores 0.5 for each side.
"""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np

from .data import OUTCOME_INDEX, OUTCOMES, SCORE_A, VoteLog

_SCORE = {name: SCORE_A[code] for name, code in OUTCOME_INDEX.items()}


def elo_update(
    rating_a: float, rating_b: float, outcome: str, *, k: float = 4.0, scale: float = 400.0, base: float = 10.0
) -> tuple[float, float]:
    """Ratings of model_a and model_b after one vote with ``outcome`` (one of OUTCOMES)."""
    try:
        score = _SCORE[outcome]
    except (KeyError, TypeError):
        raise ValueError(f"unknown outcome {outcome!r}; expected one of {', '.join(OUTCOMES)}") from None
    expected = 1.0 / (1.0 + base ** ((rating_b - rating_a) / scale))
    delta = k * (score - expected)
    return rating_a + delta, rating_b - delta


def online_elo(
    votes: Iterable[tuple[str, str, str]] | VoteLog,
    *,
    k: float = 4.0,
    initial: float = 1000.0,
    scale: float = 400.0,
    base: float = 10.0,
) -> dict[str, float]:
    """Elo ratings after applying ``votes`` (``(model_a, model_b, outcome)``) in order.

    A :class:`VoteLog` takes an integer fast path (about 0.15 s per million votes).
    """
    if isinstance(votes, VoteLog):
        return _online_elo_log(votes, k=k, initial=initial, scale=scale, base=base)
    ratings: dict[str, float] = {}
    get = ratings.get
    score_of = _SCORE
    for number, (model_a, model_b, outcome) in enumerate(votes):
        try:
            score = score_of[outcome]
        except (KeyError, TypeError):
            raise ValueError(
                f"vote {number}: unknown outcome {outcome!r}; expected one of {', '.join(OUTCOMES)}"
            ) from None
        if model_a == model_b:
            raise ValueError(f"vote {number}: a model cannot battle itself ({model_a!r})")
        ra = get(model_a, initial)
        rb = get(model_b, initial)
        delta = k * (score - 1.0 / (1.0 + base ** ((rb - ra) / scale)))
        ratings[model_a] = ra + delta
        ratings[model_b] = rb - delta
    return ratings


def _online_elo_log(log: VoteLog, *, k, initial, scale, base) -> dict[str, float]:
    r = [initial] * len(log.models)
    score = SCORE_A
    for x, y, o in zip(log.a.tolist(), log.b.tolist(), log.outcome.tolist()):
        ra = r[x]
        rb = r[y]
        delta = k * (score[o] - 1.0 / (1.0 + base ** ((rb - ra) / scale)))
        r[x] = ra + delta
        r[y] = rb - delta
    seen = np.zeros(len(log.models), dtype=bool)
    seen[log.a] = True
    seen[log.b] = True
    return {name: r[idx] for idx, name in enumerate(log.models) if seen[idx]}
