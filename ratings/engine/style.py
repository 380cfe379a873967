"""Style-controlled Bradley–Terry: ratings with answer length and markdown density held equal.

Model (LMArena's style control): log-odds(model_a wins) = β_a − β_b + Σ_k γ_k f_k, where for
each style feature k the battle's feature is (a − b)/(a + b) of the two answers' raw counts
(0 when both are 0), standardised over the battles (mean 0, standard deviation 1). Ties and
both-bad votes count half a win each way, as in the plain board. The γ are reported in
log-odds per standard deviation of the feature; the β give the style-controlled ratings.

Ridge: a penalty ½·λ·|γ|² on the style coefficients only, default λ = 1 on the summed
log-likelihood, i.e. a Normal(0, 1) prior on each γ. A coefficient of 1 (one standard deviation
of relative length moving the odds by e) is already far larger than any effect measured on
real arena data (≈ 0.2–0.3 for length), so the prior costs nothing in bias: with n battles the
coefficient is shrunk by a factor of about 1 / (1 + 5/n), about 0.5% at 1,000 battles.
What it does buy is stability on small subsets (one category, a date range): a feature that is
constant, or nearly collinear with model identity (one model always writes long answers), would
otherwise make the fit singular or send γ and the β to huge opposite values. (arena-rank's
default, reg = 1 on the *mean* log-likelihood, is the same prior scaled by n: it shrinks γ by
a factor of about 5 whatever the amount of data, so it reports much weaker style effects.)
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass, field
from statistics import NormalDist

import numpy as np
import scipy.linalg
import scipy.sparse
from scipy.special import expit

from .bt import INITIAL_RATING, RATING_PER_LOGIT, RELATIVE_RIDGE
from .data import SCORE_A, VoteLog
from .leaderboard import Leaderboard, fit_bradley_terry
from .ranks import interval_ranks, plain_order

STYLE_FEATURES: tuple[str, ...] = ("length", "headers", "bold", "list_items")
DEFAULT_STYLE_RIDGE = 1.0

_HEADER = re.compile(r"^ {0,3}#{1,6}(?:[ \t]|$)", re.MULTILINE)
_BOLD = re.compile(r"\*\*[^*\n]+?\*\*|__[^_\n]+?__")
_LIST_ITEM = re.compile(r"^[ \t]*(?:[-*+]|\d{1,9}[.)])[ \t]+\S", re.MULTILINE)


def style_counts(text: str) -> tuple[int, int, int, int]:
    """(length in characters, markdown headers, bold spans, list items) of one answer.

    The app may use token counts for the length instead; only ratios within a battle matter.
    """
    return len(text), len(_HEADER.findall(text)), len(_BOLD.findall(text)), len(_LIST_ITEM.findall(text))


def style_matrix(style_a, style_b) -> np.ndarray:
    """Per-battle features: (a − b)/(a + b) per column (0 if both are 0), standardised."""
    style_a = np.asarray(style_a, dtype=float)
    style_b = np.asarray(style_b, dtype=float)
    if style_a.ndim == 1:
        style_a, style_b = style_a[:, None], style_b[:, None]
    if style_a.shape != style_b.shape:
        raise ValueError("style_a and style_b must have the same shape")
    if np.any(style_a < 0) or np.any(style_b < 0):
        raise ValueError("style counts must not be negative")
    total = style_a + style_b
    diff = np.subtract(style_a, style_b)
    np.divide(diff, total, out=diff, where=total > 0)
    diff[total <= 0] = 0.0
    if not len(diff):
        return diff
    diff -= diff.mean(axis=0)
    std = np.sqrt(np.einsum("ij,ij->j", diff, diff) / len(diff))
    diff /= np.where(std > 0, std, 1.0)
    return diff


@dataclass(frozen=True)
class StyleRow:
    model: str
    rating: float
    lower: float
    upper: float
    rank: int
    order: int
    raw_rating: float
    raw_lower: float
    raw_upper: float
    raw_rank: int
    votes: int
    provisional: bool


@dataclass
class StyleControlledBoard:
    """Style-controlled rows (best first by controlled rating) beside the raw board."""

    rows: list[StyleRow]
    coefficients: dict[str, float]
    coefficient_intervals: dict[str, tuple[float, float]]
    settings: dict
    n_votes: int
    raw: Leaderboard = field(repr=False)

    def to_dict(self) -> dict:
        return {
            "method": "bradley_terry_style_controlled",
            "settings": dict(self.settings),
            "n_votes": self.n_votes,
            "coefficients": dict(self.coefficients),
            "coefficient_intervals": {k: list(v) for k, v in self.coefficient_intervals.items()},
            "rows": [asdict(row) for row in self.rows],
        }


class _Battles:
    """Per-battle design for the joint fit. ``onehot`` maps battles to ordered pairs
    (m² x n, one 1 per column), so one sparse product sums many per-battle columns per pair."""

    def __init__(self, m, a, b, y, features):
        self.m, self.a, self.b, self.y, self.features = m, a, b, y, features
        n = len(a)
        key = (a.astype(np.int64) * m + b).astype(np.int32 if m * m < 2**31 else np.int64)
        self.onehot = scipy.sparse.csc_matrix((np.ones(n), key, np.arange(n + 1)), shape=(m * m, n))

    def probabilities(self, beta, gamma):
        return expit(beta[self.a] - beta[self.b] + self.features @ gamma)

    def moments(self, p, *, meat: bool = False):
        """Gradient of the log-likelihood, information matrix, and (``meat``) the score covariance."""
        m, k = self.m, self.features.shape[1]
        blocks = 2 + k if not meat else 3 + 2 * k
        cols = np.empty((len(p), blocks))
        r, v = cols[:, 0], cols[:, 1]
        np.subtract(self.y, p, out=r)
        np.multiply(p, 1.0 - p, out=v)
        np.multiply(self.features, v[:, None], out=cols[:, 2 : 2 + k])
        if meat:
            r2 = cols[:, 2 + k]
            np.multiply(r, r, out=r2)
            np.multiply(self.features, r2[:, None], out=cols[:, 3 + k :])
        sums = self.onehot @ cols  # per ordered pair
        grad = np.concatenate([_a_minus_b(sums[:, 0].reshape(m, m)), self.features.T @ r])
        info = _joint_matrix(m, sums[:, 1], sums[:, 2 : 2 + k], self.features.T @ cols[:, 2 : 2 + k])
        if not meat:
            return grad, info, None
        score = _joint_matrix(m, sums[:, 2 + k], sums[:, 3 + k :], self.features.T @ cols[:, 3 + k :])
        return grad, info, score


def _a_minus_b(per_pair: np.ndarray) -> np.ndarray:
    """Per model: the sum over its battles as model_a minus the sum over its battles as model_b."""
    return per_pair.sum(axis=1) - per_pair.sum(axis=0)


def _joint_matrix(m, pair_weight, pair_feature_weight, feature_block) -> np.ndarray:
    """Σ_battles w·x xᵀ with x = (e_a − e_b, f), from its sums per ordered pair."""
    k = feature_block.shape[0]
    out = np.zeros((m + k, m + k))
    w = pair_weight.reshape(m, m)
    s = w + w.T
    out[:m, :m] = np.diag(s.sum(axis=1)) - s
    for col in range(k):
        out[:m, m + col] = _a_minus_b(pair_feature_weight[:, col].reshape(m, m))
    out[m:, :m] = out[:m, m:].T
    out[m:, m:] = feature_block
    return out


def _fit_joint(battles: _Battles, ridge, beta0, *, tol=1e-8, max_iter=60):
    """Newton on θ = (β, γ) for the per-battle logistic model with ties as y = ½.

    A step after which the gradient grows is halved.
    """
    m, k = battles.m, battles.features.shape[1]
    lam_beta = RELATIVE_RIDGE * max(len(battles.a), 1)
    beta = np.zeros(m) if beta0 is None else np.array(beta0, float)
    gamma = np.zeros(k)
    last_step = None
    previous = np.inf
    for _ in range(max_iter):
        grad, info, _ = battles.moments(battles.probabilities(beta, gamma))
        grad[:m] -= lam_beta * beta
        grad[m:] -= ridge * gamma
        size = float(np.max(np.abs(grad)))
        if last_step is not None and size > previous and np.max(np.abs(last_step)) > tol:
            last_step = last_step / 2.0
            beta, gamma = beta - last_step[:m], gamma - last_step[m:]
            continue
        previous = size
        info[np.diag_indices(m)] += lam_beta
        info[np.arange(m, m + k), np.arange(m, m + k)] += ridge
        last_step = scipy.linalg.cho_solve(scipy.linalg.cho_factor(info, check_finite=False), grad, check_finite=False)
        beta, gamma = beta + last_step[:m], gamma + last_step[m:]
        if np.max(np.abs(last_step)) < tol:
            break
    return beta, gamma


def _as_log(votes) -> VoteLog:
    if isinstance(votes, VoteLog):
        return votes
    return VoteLog.from_tuples(votes)


def fit_style_controlled(
    votes: VoteLog | Iterable[tuple[str, str, str]],
    style_a: Sequence | np.ndarray,
    style_b: Sequence | np.ndarray,
    *,
    feature_names: Sequence[str] = STYLE_FEATURES,
    ridge: float = DEFAULT_STYLE_RIDGE,
    anchor: tuple[str, float] | None = None,
    min_votes: int = 0,
    confidence: float = 0.95,
) -> StyleControlledBoard:
    """Fit the style-controlled board.

    votes: a :class:`VoteLog` or ``(model_a, model_b, outcome)`` tuples, one per battle.
    style_a, style_b: per battle, the raw counts of model_a's and model_b's answer, one column
    per name in ``feature_names`` (default: length, headers, bold, list items; see
    :func:`style_counts`). Intervals are sandwich (Huber–White) intervals.
    ridge: penalty on the style coefficients only (see the module docstring for the default).
    """
    log = _as_log(votes)
    style_a = np.asarray(style_a, dtype=float)
    style_b = np.asarray(style_b, dtype=float)
    if style_a.ndim == 1:
        style_a, style_b = style_a[:, None], style_b[:, None]
    if len(style_a) != len(log) or len(style_b) != len(log):
        raise ValueError("style_a and style_b need one row per vote")
    feature_names = tuple(feature_names)
    if style_a.shape[1] != len(feature_names):
        raise ValueError(f"expected {len(feature_names)} style columns ({', '.join(feature_names)})")
    if ridge < 0:
        raise ValueError("ridge must not be negative")

    raw = fit_bradley_terry(log.to_table(), ci="sandwich", anchor=anchor, min_votes=min_votes, confidence=confidence)
    settings = {
        "ci": "sandwich",
        "confidence": confidence,
        "ridge": ridge,
        "features": list(feature_names),
        "feature_transform": "(a - b) / (a + b), standardised",
        "anchor": list(anchor) if anchor else None,
        "min_votes": min_votes,
    }
    if not len(log):
        return StyleControlledBoard([], {}, {}, settings, 0, raw)
    # Work on the raw board's (sorted, voted) model list.
    models = raw.models
    index = np.array([models.index(name) if name in models else -1 for name in log.models])
    a, b = index[log.a], index[log.b]
    m = len(models)
    y = np.asarray(SCORE_A)[log.outcome]
    features = style_matrix(style_a, style_b)
    battles = _Battles(m, a, b, y, features)
    beta, gamma = _fit_joint(battles, ridge, raw.beta)
    beta -= beta.mean()

    # Sandwich covariance; (1, 0) spans the null space of both H and G, handled by centring.
    k = features.shape[1]
    _, hess, meat = battles.moments(battles.probabilities(beta, gamma), meat=True)
    hess[np.arange(m, m + k), np.arange(m, m + k)] += ridge
    shift = max(np.trace(hess[:m, :m]) / m, 1e-12) / m
    hess[:m, :m] += shift
    try:
        h_inv = scipy.linalg.cho_solve(
            scipy.linalg.cho_factor(hess, check_finite=False), np.eye(m + k), check_finite=False
        )
    except np.linalg.LinAlgError:
        # Groups of models the votes do not connect add null directions the shift does not fill.
        h_inv = np.linalg.pinv(hess, hermitian=True)
    centre = np.eye(m + k)
    centre[:m, :m] -= 1.0 / m
    h_inv = centre @ h_inv @ centre.T
    cov = h_inv @ meat @ h_inv

    z = NormalDist().inv_cdf(0.5 + confidence / 2.0)
    ratings = INITIAL_RATING + RATING_PER_LOGIT * beta
    cov_r = cov[:m, :m] * RATING_PER_LOGIT**2
    shift_rating = 0.0
    if anchor is not None:
        ka = models.index(anchor[0])
        shift_rating = float(anchor[1]) - ratings[ka]
        cov_r = cov_r - cov_r[:, [ka]] - cov_r[[ka], :] + cov_r[ka, ka]
    ratings = ratings + shift_rating
    half = z * np.sqrt(np.maximum(np.diag(cov_r), 0.0))
    lower, upper = ratings - half, ratings + half
    ranks = interval_ranks(lower, upper)
    order = plain_order(ratings, models)
    raw_rows = raw.by_model
    rows = [
        StyleRow(
            model=name,
            rating=float(ratings[i]),
            lower=float(lower[i]),
            upper=float(upper[i]),
            rank=int(ranks[i]),
            order=int(order[i]),
            raw_rating=raw_rows[name].rating,
            raw_lower=raw_rows[name].lower,
            raw_upper=raw_rows[name].upper,
            raw_rank=raw_rows[name].rank,
            votes=raw_rows[name].votes,
            provisional=raw_rows[name].provisional,
        )
        for i, name in enumerate(models)
    ]
    rows.sort(key=lambda row: row.order)
    gamma_se = np.sqrt(np.maximum(np.diag(cov)[m:], 0.0))
    coefficients = {name: float(g) for name, g in zip(feature_names, gamma)}
    intervals = {name: (float(g - z * s), float(g + z * s)) for name, g, s in zip(feature_names, gamma, gamma_se)}
    return StyleControlledBoard(rows, coefficients, intervals, settings, len(log), raw)
