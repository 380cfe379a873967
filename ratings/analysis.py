"""Pure summaries of fitted boards: head-to-head tables, predicted win probabilities,
position bias, the Pareto front, fragility of first place and the routing decision.

Plain data in, plain data out (no Django), so every rule here is tested without a database.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from statistics import NormalDist

SCALE = 400.0
BASE = 10.0


def wilson_interval(successes: int, n: int, confidence: float = 0.95) -> tuple[float, float] | None:
    """Wilson score interval of a proportion; None when there is nothing to estimate."""
    if n <= 0:
        return None
    z = NormalDist().inv_cdf(0.5 + confidence / 2.0)
    p = successes / n
    denominator = 1.0 + z * z / n
    centre = (p + z * z / (2 * n)) / denominator
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / denominator
    return max(0.0, centre - half), min(1.0, centre + half)


def win_rate(wins: float, draws: float, votes: float) -> float | None:
    """The one win rate every page shows: wins plus half the draws (ties and both-bad), over all
    votes; None without votes. It is the score the Bradley–Terry fit itself counts."""
    return (wins + 0.5 * draws) / votes if votes else None


def win_probability(rating: float, opponent: float) -> float:
    """P(a model rated ``rating`` beats one rated ``opponent``) under Bradley–Terry."""
    return 1.0 / (1.0 + BASE ** ((opponent - rating) / SCALE))


def predicted_matrix(models: Sequence[str], ratings: dict[str, float]) -> list[list[float | None]]:
    """Row model's predicted probability of beating the column model (None on the diagonal)."""
    return [[None if a == b else win_probability(ratings[a], ratings[b]) for b in models] for a in models]


@dataclass
class HeadToHead:
    """Observed results between every two models, in ``models`` order (row against column)."""

    models: list[str]
    wins: list[list[int]]
    draws: list[list[int]]  # ties and both-bad
    battles: list[list[int]]

    def win_rate(self, i: int, j: int) -> float | None:
        """i's win rate against j: wins plus half the draws, over all their votes (``win_rate``)."""
        return win_rate(self.wins[i][j], self.draws[i][j], self.battles[i][j])


def head_to_head(
    models: Sequence[str], pairs: Iterable[Sequence[int]], order: Sequence[str] | None = None
) -> HeadToHead:
    """Tables from snapshot pairs ``[i, j, wins_i, wins_j, ties, both_bad]`` (indices into
    ``models``); ``order`` lists the models to show, e.g. best first."""
    shown = list(order if order is not None else models)
    position = {name: k for k, name in enumerate(shown)}
    size = len(shown)
    wins = [[0] * size for _ in range(size)]
    draws = [[0] * size for _ in range(size)]
    battles = [[0] * size for _ in range(size)]
    for i, j, wins_i, wins_j, ties, both_bad in pairs:
        a, b = position.get(models[i]), position.get(models[j])
        if a is None or b is None:
            continue
        wins[a][b] += wins_i
        wins[b][a] += wins_j
        draws[a][b] += ties + both_bad
        draws[b][a] += ties + both_bad
        total = wins_i + wins_j + ties + both_bad
        battles[a][b] += total
        battles[b][a] += total
    return HeadToHead(shown, wins, draws, battles)


def position_bias(outcome_totals: dict[str, int]) -> dict:
    """Left-side (A) win rate among decisive votes with its 95% Wilson interval, and the
    tie and both-bad rates. Screen position is random per battle, so an interval that
    excludes 0.5 means voters favour a side."""
    a, b = outcome_totals.get("a", 0), outcome_totals.get("b", 0)
    ties, bad = outcome_totals.get("tie", 0), outcome_totals.get("both_bad", 0)
    total = a + b + ties + bad
    interval = wilson_interval(a, a + b)
    return {
        "votes": total,
        "decisive": a + b,
        "left_wins": a,
        "left_rate": a / (a + b) if a + b else None,
        "left_interval": interval,
        "left_interval_percent": (100 * interval[0], 100 * interval[1]) if interval else None,
        "biased": bool(interval and (interval[0] > 0.5 or interval[1] < 0.5)),
        "a_rate": a / total if total else None,
        "b_rate": b / total if total else None,
        "tie_rate": ties / total if total else None,
        "both_bad_rate": bad / total if total else None,
    }


def pareto_front(points: Iterable[tuple[str, float | None, float]]) -> set[str]:
    """Keys of the points ``(key, cost, score)`` that no other point beats on both counts
    (no cheaper-or-equal point scores at least as well, with one of the two strictly
    better). Points without a cost are never on the front."""
    known = sorted(((cost, -score, key) for key, cost, score in points if cost is not None))
    front, best = set(), -math.inf
    for _cost, neg_score, key in known:
        if -neg_score > best:
            front.add(key)
            best = -neg_score
    return front


def fragile_top(robustness: dict | None, n_votes: int, *, max_share: float, max_votes: int) -> bool:
    """First place is fragile when dropping few votes (fewer than ``max_votes``, or less
    than ``max_share`` of all votes) would change the leader."""
    if not robustness or robustness.get("votes_to_flip") is None:
        return False
    flip = robustness["votes_to_flip"]
    return flip < max_votes or (n_votes > 0 and flip / n_votes < max_share)


# --- the decision view -----------------------------------------------------------------


@dataclass
class Route:
    """The recommendation for one category, with the evidence behind it."""

    category: str
    votes: int
    leaders: list[dict] = field(default_factory=list)  # rows tied for first (rank 1), best first
    cheapest: dict | None = None
    fastest: dict | None = None
    recommended: dict | None = None
    reason: str = ""
    enough_evidence: bool = False


def route(category: str, rows: Sequence[dict], *, votes: int, min_votes: int) -> Route:
    """Pick a model for ``category`` from its board rows (best first).

    Rows carry ``model``, ``rating``, ``lower``, ``upper``, ``rank`` (interval rank: 1 means
    no model is clearly better), ``votes``, ``provisional`` and, when known,
    ``cost_per_1000`` and ``latency_p50_ms``. The models tied for first are those with
    rank 1. A single leader is recommended as such; among several, the cheapest (then the
    fastest, then the best rated) is recommended, since the votes cannot tell them apart.
    """
    result = Route(category=category, votes=votes)
    leaders = [row for row in rows if row.get("rank") == 1]
    result.leaders = leaders
    if not leaders:
        result.reason = "No votes in this category yet."
        return result
    costed = [row for row in leaders if row.get("cost_per_1000") is not None]
    timed = [row for row in leaders if row.get("latency_p50_ms") is not None]
    result.cheapest = min(costed, key=lambda r: (r["cost_per_1000"], -r["rating"])) if costed else None
    result.fastest = min(timed, key=lambda r: (r["latency_p50_ms"], -r["rating"])) if timed else None
    if len(leaders) == 1:
        result.recommended = leaders[0]
        result.reason = "Clear leader: its interval lies above every other model's."
    elif result.cheapest is not None:
        result.recommended = result.cheapest
        result.reason = f"{len(leaders)} models are statistically tied for first; this is the cheapest of them."
    elif result.fastest is not None:
        result.recommended = result.fastest
        result.reason = (
            f"{len(leaders)} models are statistically tied for first and their cost is "
            "unknown; this is the fastest of them."
        )
    else:
        result.recommended = leaders[0]
        result.reason = (
            f"{len(leaders)} models are statistically tied for first; cost and latency are "
            "unknown, so this is the best rated of them."
        )
    recommended = result.recommended
    result.enough_evidence = not recommended.get("provisional", False)
    if not result.enough_evidence:
        result.reason += f" Not enough evidence yet (fewer than {min_votes} votes for the recommended model)."
    return result
