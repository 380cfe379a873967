"""TrueSkill in vote order (a provisional signal beside the Bradley–Terry board).

Uses the ``trueskill`` package's environment (mu 25, sigma 25/3, beta 25/6, tau 25/300) with
the draw probability taken from the observed share of ties and both-bad votes. Both-bad counts
as a draw. ``trueskill_update`` is the package's own ``rate_1vs1``; ``trueskill_ratings`` runs
the same two-player update in closed form with the package's v/w functions, which gives the
package's numbers (the two-player factor graph has no loop) about 20 times faster.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from statistics import NormalDist

import trueskill

from .data import A_WINS, B_WINS, OUTCOME_INDEX, OUTCOMES, VoteLog

MU = trueskill.MU
SIGMA = trueskill.SIGMA
# The package cannot handle a draw probability of 1 (infinite margin); keep it below.
_MAX_DRAW_PROBABILITY = 0.99


_SQRT2 = math.sqrt(2.0)
_INV_SQRT_2PI = 1.0 / math.sqrt(2.0 * math.pi)


def _cdf(x: float, mu: float = 0.0, sigma: float = 1.0) -> float:
    return 0.5 * math.erfc(-(x - mu) / (sigma * _SQRT2))


def _pdf(x: float, mu: float = 0.0, sigma: float = 1.0) -> float:
    z = (x - mu) / sigma
    return _INV_SQRT_2PI / abs(sigma) * math.exp(-0.5 * z * z)


def _ppf(p: float, mu: float = 0.0, sigma: float = 1.0) -> float:
    return NormalDist(mu, sigma).inv_cdf(p)


# The package's own backend computes erfc in Python (to about 1e-7); math.erfc is C, accurate to double precision and
# about three times faster, which is most of a replay of a million votes.
FAST_NORMAL = (_cdf, _pdf, _ppf)


def make_env(draw_probability: float) -> trueskill.TrueSkill:
    p = min(max(float(draw_probability), 0.0), _MAX_DRAW_PROBABILITY)
    return trueskill.TrueSkill(draw_probability=p, backend=FAST_NORMAL)


def observed_draw_probability(outcomes: Iterable[int]) -> float:
    """Share of votes (outcome codes) that are a tie or both-bad."""
    total = draws = 0
    for o in outcomes:
        total += 1
        draws += o > B_WINS
    return draws / total if total else 0.0


def _codes(votes) -> tuple[tuple[str, ...], list[int], list[int], list[int]]:
    if isinstance(votes, VoteLog):
        return votes.models, votes.a.tolist(), votes.b.tolist(), votes.outcome.tolist()
    index: dict[str, int] = {}
    a, b, o = [], [], []
    for number, (model_a, model_b, outcome) in enumerate(votes):
        code = OUTCOME_INDEX.get(outcome) if isinstance(outcome, str) else None
        if code is None:
            raise ValueError(f"vote {number}: unknown outcome {outcome!r}; expected one of {', '.join(OUTCOMES)}")
        if model_a == model_b:
            raise ValueError(f"vote {number}: a model cannot battle itself ({model_a!r})")
        a.append(index.setdefault(model_a, len(index)))
        b.append(index.setdefault(model_b, len(index)))
        o.append(code)
    return tuple(index), a, b, o


def trueskill_ratings(
    votes: Iterable[tuple[str, str, str]] | VoteLog, *, draw_probability: float | None = None
) -> dict[str, tuple[float, float]]:
    """``{model: (mu, sigma)}`` after applying ``votes`` in order.

    draw_probability: None means the observed share of tie and both-bad votes.
    """
    models, a, b, o = _codes(votes)
    if draw_probability is None:
        draw_probability = observed_draw_probability(o)
    env = make_env(draw_probability)
    margin = trueskill.calc_draw_margin(env.draw_probability, 2, env=env)
    beta2 = env.beta**2
    tau2 = env.tau**2
    mu = [env.mu] * len(models)
    var = [env.sigma**2] * len(models)
    seen = [False] * len(models)
    v_win, w_win, v_draw, w_draw = env.v_win, env.w_win, env.v_draw, env.w_draw
    for x, y, outcome in zip(a, b, o):
        if outcome == B_WINS:
            x, y = y, x  # x is the winner (or model_a on a draw)
        seen[x] = seen[y] = True
        vx = var[x] + tau2
        vy = var[y] + tau2
        c2 = 2.0 * beta2 + vx + vy
        c = math.sqrt(c2)
        t = (mu[x] - mu[y]) / c
        eps = margin / c
        if outcome == A_WINS or outcome == B_WINS:
            v, w = v_win(t, eps), w_win(t, eps)
        else:
            v, w = v_draw(t, eps), w_draw(t, eps)
        mu[x] += vx / c * v
        mu[y] -= vy / c * v
        var[x] = vx * (1.0 - vx / c2 * w)
        var[y] = vy * (1.0 - vy / c2 * w)
    return {name: (mu[k], math.sqrt(var[k])) for k, name in enumerate(models) if seen[k]}


def trueskill_update(
    rating_a: tuple[float, float], rating_b: tuple[float, float], outcome: str, *, draw_probability: float
) -> tuple[tuple[float, float], tuple[float, float]]:
    """``((mu, sigma) of model_a, (mu, sigma) of model_b)`` after one vote, by ``trueskill.rate_1vs1``."""
    if outcome not in OUTCOME_INDEX:
        raise ValueError(f"unknown outcome {outcome!r}; expected one of {', '.join(OUTCOMES)}")
    env = make_env(draw_probability)
    ra, rb = env.create_rating(*rating_a), env.create_rating(*rating_b)
    code = OUTCOME_INDEX[outcome]
    if code == B_WINS:
        new_b, new_a = trueskill.rate_1vs1(rb, ra, env=env)
    else:
        new_a, new_b = trueskill.rate_1vs1(ra, rb, drawn=code != A_WINS, env=env)
    return (new_a.mu, new_a.sigma), (new_b.mu, new_b.sigma)
