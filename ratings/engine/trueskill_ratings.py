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

import numpy as np
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


class ClosedFormTrueSkill:
    """TrueSkill's two-player update in closed form, with the package's environment and v/w functions.

    What ``trueskill_ratings`` applies per vote, and the worker's online ratings per vote
    (``ratings.online``): the package's factor graph takes ~10 ms of Python for one two-player
    vote, this a few microseconds, with the same numbers (the two-player graph has no loop).
    """

    def __init__(self, draw_probability: float) -> None:
        self.env = make_env(draw_probability)
        self.margin = trueskill.calc_draw_margin(self.env.draw_probability, 2, env=self.env)
        self.beta2 = self.env.beta**2
        self.tau2 = self.env.tau**2

    def update(
        self, mu_x: float, var_x: float, mu_y: float, var_y: float, *, drawn: bool
    ) -> tuple[float, float, float, float]:
        """(mu, variance) of the winner x (model A on a draw) and of y, after one vote.

        The package's ``v_win``/``w_win`` and ``v_draw``/``w_draw`` written out with the same normal
        functions (``FAST_NORMAL``), so the numbers are the package's to the last bit: its ``w``
        functions call ``v`` again and each call goes through the environment, which made a replay
        of a filtered board (100k votes) take most of a second.
        """
        vx = var_x + self.tau2
        vy = var_y + self.tau2
        c2 = 2.0 * self.beta2 + vx + vy
        c = math.sqrt(c2)
        t = (mu_x - mu_y) / c
        eps = self.margin / c
        if drawn:
            distance = abs(t)
            a, b = eps - distance, -eps - distance
            denom = 0.5 * math.erfc(-a / _SQRT2) - 0.5 * math.erfc(-b / _SQRT2)
            if not denom:
                raise FloatingPointError("TrueSkill: a draw too unlikely to update on")
            pdf_a = _INV_SQRT_2PI * math.exp(-0.5 * a * a)
            pdf_b = _INV_SQRT_2PI * math.exp(-0.5 * b * b)
            v = (pdf_b - pdf_a) / denom
            w = v**2 + (a * pdf_a - b * pdf_b) / denom  # v**2, as the package: v * v differs in the last bit
            if t < 0:
                v = -v
        else:
            x = t - eps
            denom = 0.5 * math.erfc(-x / _SQRT2)
            v = _INV_SQRT_2PI * math.exp(-0.5 * x * x) / denom if denom else -x
            w = v * (v + x)
            if not 0 < w < 1:
                raise FloatingPointError("TrueSkill: a win too unlikely to update on")
        return mu_x + vx / c * v, vx * (1.0 - vx / c2 * w), mu_y - vy / c * v, vy * (1.0 - vy / c2 * w)

    def rate(
        self, rating_a: tuple[float, float], rating_b: tuple[float, float], outcome: str
    ) -> tuple[tuple[float, float], tuple[float, float]]:
        """``((mu, sigma) of model_a, (mu, sigma) of model_b)`` after one vote (an outcome of ``OUTCOMES``)."""
        code = OUTCOME_INDEX.get(outcome)
        if code is None:
            raise ValueError(f"unknown outcome {outcome!r}; expected one of {', '.join(OUTCOMES)}")
        (mu_a, sigma_a), (mu_b, sigma_b) = rating_a, rating_b
        if code == B_WINS:
            mu_b, var_b, mu_a, var_a = self.update(mu_b, sigma_b**2, mu_a, sigma_a**2, drawn=False)
        else:
            mu_a, var_a, mu_b, var_b = self.update(mu_a, sigma_a**2, mu_b, sigma_b**2, drawn=code != A_WINS)
        return (mu_a, math.sqrt(var_a)), (mu_b, math.sqrt(var_b))


def observed_draw_probability(outcomes: Iterable[int]) -> float:
    """Share of votes (outcome codes) that are a tie or both-bad."""
    codes = np.asarray(outcomes if isinstance(outcomes, np.ndarray) else list(outcomes), dtype=np.int64)
    return int(np.count_nonzero(codes > B_WINS)) / len(codes) if len(codes) else 0.0


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
        draw_probability = observed_draw_probability(votes.outcome if isinstance(votes, VoteLog) else o)
    mu, var = _replayed(ClosedFormTrueSkill(draw_probability), len(models), a, b, o)
    seen = set(a).union(b)
    return {name: (mu[k], math.sqrt(var[k])) for k, name in enumerate(models) if k in seen}


def _replayed(
    rater: ClosedFormTrueSkill, models: int, a: list[int], b: list[int], o: list[int]
) -> tuple[list[float], list[float]]:
    """(mu, variance) of each model after ``rater.update`` of every vote in order.

    ``update`` written out once more inside the loop, expression for expression (the same floats, to the
    last bit: a test compares them): a filtered board replays every vote of its filter in a worker, and
    the call, its keyword and its returned tuple were a quarter of a replay's time (1.05 → 0.80 µs a vote
    over 200k votes, measured without a profiler).
    """
    erfc, exp, sqrt = math.erfc, math.exp, math.sqrt
    sqrt2, inv_sqrt_2pi = _SQRT2, _INV_SQRT_2PI
    tau2, two_beta2, margin = rater.tau2, 2.0 * rater.beta2, rater.margin
    mu = [rater.env.mu] * models
    var = [rater.env.sigma**2] * models
    for x, y, outcome in zip(a, b, o):
        if outcome == B_WINS:
            x, y = y, x  # x is the winner (or model_a on a draw)
        vx = var[x] + tau2
        vy = var[y] + tau2
        c2 = two_beta2 + vx + vy
        c = sqrt(c2)
        t = (mu[x] - mu[y]) / c
        eps = margin / c
        if outcome > B_WINS:
            distance = abs(t)
            low, high = eps - distance, -eps - distance
            denom = 0.5 * erfc(-low / sqrt2) - 0.5 * erfc(-high / sqrt2)
            if not denom:
                raise FloatingPointError("TrueSkill: a draw too unlikely to update on")
            pdf_low = inv_sqrt_2pi * exp(-0.5 * low * low)
            pdf_high = inv_sqrt_2pi * exp(-0.5 * high * high)
            v = (pdf_high - pdf_low) / denom
            w = v**2 + (low * pdf_low - high * pdf_high) / denom
            if t < 0:
                v = -v
        else:
            shifted = t - eps
            denom = 0.5 * erfc(-shifted / sqrt2)
            v = inv_sqrt_2pi * exp(-0.5 * shifted * shifted) / denom if denom else -shifted
            w = v * (v + shifted)
            if not 0 < w < 1:
                raise FloatingPointError("TrueSkill: a win too unlikely to update on")
        mu[x] += vx / c * v
        var[x] = vx * (1.0 - vx / c2 * w)
        mu[y] -= vy / c * v
        var[y] = vy * (1.0 - vy / c2 * w)
    return mu, var


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
