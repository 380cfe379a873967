"""Bradley–Terry with LMArena's conventions: the numerical core (``ratings.engine.leaderboard``
builds the board on it).

rating = 1000 + 400·β / ln 10, where P(i beats j) = σ(β_i − β_j). A tie and a both-bad vote
each count as half a win for either side in the likelihood, yet stay separate in the counts.

How it is fast: the fit only needs, per unordered pair, the number of votes won by each side
and the number of half-wins, so a million votes over 100 models become at most 4,950 pairs
(14,850 resampling cells). The fit is Newton's method on that. The bootstrap resamples the
cells with one multinomial draw per round (the same distribution as resampling battles with
replacement) and solves all rounds at once by chord iterations that reuse the full-data
Hessian, starting from the full-data estimate; the two halves of the rounds run on two threads.

Prior: ``PairData.prior`` is the precision (1 / variance, in logit units) of an optional
Normal(0, 1 / prior) prior on each strength. With it the fit is the maximum a posteriori
estimate: finite for any votes, even for a model that won or lost all of them. The prior's
curvature is part of every penalised system here (the fit, the bootstrap refits, the
refits of ``robustness``), and ``posterior_covariance`` adds it to both halves of the sandwich.
"""

from __future__ import annotations

import math
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from functools import cached_property

import numpy as np
import scipy.linalg
import scipy.sparse
from scipy.optimize import minimize
from scipy.sparse.csgraph import connected_components
from scipy.special import expit

from .data import VoteTable

SCALE = 400.0
BASE = 10.0
INITIAL_RATING = 1000.0
RATING_PER_LOGIT = SCALE / math.log(BASE)
# A vanishing ridge (relative to the total vote weight) keeps the Newton system
# non-singular and every estimate finite (a model that won all its votes would otherwise
# run off to infinity); at 1e-8 it moves ratings by far less than 0.01 points.
RELATIVE_RIDGE = 1e-8
# Chord iterations reuse one factorised Hessian; bootstrap rounds that need more are finished
# by exact Newton.
_CHORD_ITERATIONS = 40
_TOL = 1e-9
# 1e-7 logit units is 2e-5 rating points: far below what bootstrap quantiles can resolve.
_BOOTSTRAP_TOL = 1e-7
# Dense Newton up to this many models; above, L-BFGS (one dense m x m solve costs m^3).
DENSE_LIMIT = 2000


@dataclass(frozen=True)
class PairData:
    """Sufficient statistics of a Bradley–Terry fit: per unordered pair i < j, the votes
    won by i, won by j, and the half-wins (ties plus both-bad), and a per-pair weight; and
    ``prior``, the precision of the Normal prior on each strength (0: none, plain likelihood)."""

    m: int
    i: np.ndarray
    j: np.ndarray
    wins_i: np.ndarray
    wins_j: np.ndarray
    half: np.ndarray
    weight: np.ndarray
    prior: float = 0.0

    @classmethod
    def from_table(
        cls, table: VoteTable, *, reweight: bool = False, min_pair_count: int = 50, prior: float = 0.0
    ) -> PairData:
        pc = table.pair_counts()
        n = pc.total
        if reweight:
            # Inverse pair frequency, floored like arena-rank so that rare pairs do not dominate.
            weight = 1.0 / np.maximum(n, min_pair_count)
        else:
            weight = np.ones_like(n)
        return cls(
            table.n_models,
            pc.i,
            pc.j,
            pc.wins_i.astype(float),
            pc.wins_j.astype(float),
            (pc.ties + pc.both_bad).astype(float),
            weight,
            prior,
        )

    @property
    def n(self) -> np.ndarray:
        return self.wins_i + self.wins_j + self.half

    @property
    def s(self) -> np.ndarray:
        return self.wins_i + 0.5 * self.half

    def with_counts(self, wins_i, wins_j, half) -> PairData:
        return PairData(self.m, self.i, self.j, wins_i, wins_j, half, self.weight, self.prior)

    @cached_property
    def incidence(self) -> scipy.sparse.csr_matrix:
        """P x m matrix with +1 at i and −1 at j on each pair's row."""
        p = len(self.i)
        rows = np.repeat(np.arange(p), 2)
        cols = np.column_stack([self.i, self.j]).ravel()
        vals = np.tile([1.0, -1.0], p)
        return scipy.sparse.csr_matrix((vals, (rows, cols)), shape=(p, self.m))

    def ridge(self) -> float:
        """λ of the penalty λ/2·|β|² in every fit and refit: the prior's precision plus the
        vanishing numerical ridge."""
        total = float(np.sum(self.weight * self.n))
        return self.prior + RELATIVE_RIDGE * max(total, 1.0)


# --------------------------------------------------------------------------------------------
# numerical core


def prior_precision(prior_points: float | None) -> float:
    """The precision (1 / variance, logit units) of a prior with standard deviation
    ``prior_points`` rating points; 0 (no prior) for None or 0."""
    if prior_points is None or prior_points == 0:
        return 0.0
    if not (math.isfinite(prior_points) and prior_points > 0):
        raise ValueError(f"the prior's spread must be a positive number of rating points, got {prior_points!r}")
    return (RATING_PER_LOGIT / prior_points) ** 2


def pair_matrix(m: int, i: np.ndarray, j: np.ndarray, v: np.ndarray) -> np.ndarray:
    """Σ_p v_p (e_i − e_j)(e_i − e_j)ᵀ for unique pairs: the Laplacian with edge weights v."""
    out = np.zeros((m, m))
    out[i, j] = -v
    out[j, i] = -v
    out[np.diag_indices(m)] = np.bincount(i, v, minlength=m) + np.bincount(j, v, minlength=m)
    return out


def _objective(beta, i, j, nw, sw, lam):
    delta = beta[i] - beta[j]
    return float(np.sum(nw * np.logaddexp(0.0, delta) - sw * delta) + 0.5 * lam * beta @ beta)


def newton_fit(m, i, j, nw, sw, lam, beta0=None, *, tol=_TOL, max_iter=200) -> np.ndarray:
    """Penalised maximum likelihood: maximise Σ s·log σ(Δ) + (n − s)·log σ(−Δ) − λ/2·|β|².

    ``nw`` are the (weighted) vote counts per pair and ``sw`` the (weighted) scores of i.
    """
    if m > DENSE_LIMIT:
        return _lbfgs_fit(m, i, j, nw, sw, lam, beta0)
    beta = np.zeros(m) if beta0 is None else np.array(beta0, dtype=float)
    f = _objective(beta, i, j, nw, sw, lam)
    for _ in range(max_iter):
        p = expit(beta[i] - beta[j])
        r = sw - nw * p
        grad = np.bincount(i, r, minlength=m) - np.bincount(j, r, minlength=m) - lam * beta
        hess = pair_matrix(m, i, j, nw * p * (1.0 - p))
        hess[np.diag_indices(m)] += lam
        step = scipy.linalg.cho_solve(scipy.linalg.cho_factor(hess, check_finite=False), grad, check_finite=False)
        t = 1.0
        while True:
            candidate = beta + t * step
            fc = _objective(candidate, i, j, nw, sw, lam)
            if fc <= f + 1e-12 * abs(f) or t < 1e-6:
                break
            t *= 0.5
        beta, f = candidate, fc
        if np.max(np.abs(t * step)) < tol:
            break
    return beta


def _lbfgs_fit(m, i, j, nw, sw, lam, beta0=None):
    def fun(beta):
        delta = beta[i] - beta[j]
        p = expit(delta)
        r = sw - nw * p
        grad = -(np.bincount(i, r, minlength=m) - np.bincount(j, r, minlength=m)) + lam * beta
        return float(np.sum(nw * np.logaddexp(0.0, delta) - sw * delta) + 0.5 * lam * beta @ beta), grad

    x0 = np.zeros(m) if beta0 is None else np.asarray(beta0, float)
    res = minimize(fun, x0, jac=True, method="L-BFGS-B", options={"maxiter": 10_000, "gtol": 1e-10, "ftol": 1e-15})
    return res.x


def fit_pairs(data: PairData, beta0=None) -> np.ndarray:
    w = data.weight
    return newton_fit(data.m, data.i, data.j, w * data.n, w * data.s, data.ridge(), beta0)


def hessian(data: PairData, beta: np.ndarray) -> np.ndarray:
    """Observed information (negative Hessian of the log-likelihood), without the ridge or prior."""
    p = expit(beta[data.i] - beta[data.j])
    return pair_matrix(data.m, data.i, data.j, data.weight * data.n * p * (1.0 - p))


def sandwich_covariance(data: PairData, beta: np.ndarray) -> np.ndarray:
    """Huber–White covariance H⁺ G H⁺ of β (logit units, centred parametrisation).

    G sums the squared per-vote scores: a vote won by i contributes (1 − p)², a vote won by
    j contributes p², a half-win (0.5 − p)², all times the pair weight squared.
    """
    m = data.m
    p = expit(beta[data.i] - beta[data.j])
    w = data.weight
    h = pair_matrix(m, data.i, data.j, w * data.n * p * (1.0 - p))
    g = pair_matrix(
        m, data.i, data.j, w * w * (data.wins_i * (1.0 - p) ** 2 + data.wins_j * p**2 + data.half * (0.5 - p) ** 2)
    )
    if m == 0:
        return h
    # With A = H + α·11ᵀ: A⁻¹ = H⁺ + 11ᵀ/(α m²), and the extra term vanishes in A⁻¹GA⁻¹ because
    # G·1 = 0, so two Cholesky solves give H⁺GH⁺ directly.
    if count_components(data) > 1:  # more null directions than the ones vector
        h_inv = np.linalg.pinv(h, hermitian=True)
        return h_inv @ g @ h_inv
    alpha = max(np.trace(h) / m, 1e-12) / m
    factor = scipy.linalg.cho_factor(h + alpha, check_finite=False)
    left = scipy.linalg.cho_solve(factor, g, check_finite=False)
    cov = scipy.linalg.cho_solve(factor, left.T, check_finite=False)
    return (cov + cov.T) / 2.0


def posterior_covariance(data: PairData, beta: np.ndarray) -> np.ndarray:
    """Covariance of the centred β (logit units) at the maximum a posteriori ``beta``, for a
    board with a prior (``data.prior`` > 0).

    A⁻¹ (G + Λ) A⁻¹ with A = H + Λ, where H and G are the information and the summed squared
    scores of the votes (as in ``sandwich_covariance``) and Λ = prior·I: the prior counts as one
    Gaussian pseudo-observation per model, whose curvature is also the variance of its score.
    Where the votes dominate this is the sandwich; where they say little (a model with one vote)
    it is the prior's variance, so the interval is about as wide as the prior. When the model
    fits (G = H) it is the Laplace posterior covariance A⁻¹. Centred because the board shows
    ratings around their mean.
    """
    m = data.m
    p = expit(beta[data.i] - beta[data.j])
    w = data.weight
    lam = data.ridge()
    a = pair_matrix(m, data.i, data.j, w * data.n * p * (1.0 - p))
    a[np.diag_indices(m)] += lam
    g = pair_matrix(
        m, data.i, data.j, w * w * (data.wins_i * (1.0 - p) ** 2 + data.wins_j * p**2 + data.half * (0.5 - p) ** 2)
    )
    g[np.diag_indices(m)] += data.prior
    factor = scipy.linalg.cho_factor(a, check_finite=False)
    a_inv = scipy.linalg.cho_solve(factor, np.eye(m), check_finite=False)
    centre = np.eye(m) - 1.0 / m
    left = centre @ a_inv
    cov = left @ g @ left.T
    return (cov + cov.T) / 2.0


def count_components(data: PairData) -> int:
    """Number of connected groups in the comparison graph (models linked by at least one vote)."""
    graph = scipy.sparse.coo_matrix((np.ones(len(data.i)), (data.i, data.j)), shape=(data.m, data.m))
    return int(connected_components(graph, directed=False)[0])


def unseparated_groups(data: PairData, models) -> list[list[str]]:
    """Groups of models the votes cannot yet place against each other, or [] when all can.

    The maximum-likelihood ratings exist only when, for every split of the
    models into two groups, each group has at least half a win (a win or a
    tie) against the other: the directed "scored against" graph must be
    strongly connected. Otherwise a group that won (or lost) every vote
    against the rest runs off towards ±infinity — held finite only by the
    vanishing ridge — and its sandwich interval collapses, so both numbers
    mean nothing yet. Returns the strongly connected groups when there are
    several (within one connected comparison graph).
    """
    scored_i = (data.wins_i + data.half) > 0
    scored_j = (data.wins_j + data.half) > 0
    rows = np.concatenate([data.i[scored_i], data.j[scored_j]])
    cols = np.concatenate([data.j[scored_i], data.i[scored_j]])
    graph = scipy.sparse.coo_matrix((np.ones(len(rows)), (rows, cols)), shape=(data.m, data.m))
    n, labels = connected_components(graph, directed=True, connection="strong")
    if n <= 1:
        return []
    return [[models[k] for k in np.flatnonzero(labels == g)] for g in range(n)]


def bootstrap_betas(data: PairData, beta_hat: np.ndarray, rounds: int, rng: np.random.Generator) -> np.ndarray:
    """β for ``rounds`` resamples of the votes with replacement (rows: rounds).

    Each round is one multinomial draw over the (pair, outcome) cells, which is exactly the
    distribution of the cell counts when votes are resampled with replacement. The rounds are
    split in two fixed halves, each with its own child generator of ``rng``, and the halves run
    on two threads (NumPy releases the GIL): the result depends on the seed only.
    """
    cells = np.concatenate([data.wins_i, data.wins_j, data.half])
    total = int(round(cells.sum()))
    if rounds <= 0 or total == 0:
        return np.zeros((0, data.m))
    probabilities = cells / cells.sum()
    p_count = len(data.i)

    def half(args):
        generator, size = args
        if size == 0:
            return np.zeros((0, data.m))
        draws = generator.multinomial(total, probabilities, size=size).astype(float)
        return fit_resamples(
            data, beta_hat, draws[:, :p_count], draws[:, p_count : 2 * p_count], draws[:, 2 * p_count :]
        )

    _ = data.incidence  # build the cached matrix once, before the threads
    jobs = list(zip(rng.spawn(2), (rounds // 2, rounds - rounds // 2)))
    with ThreadPoolExecutor(max_workers=2) as pool:
        return np.vstack(list(pool.map(half, jobs)))


def fit_resamples(
    data: PairData, beta_hat: np.ndarray, wins_i: np.ndarray, wins_j: np.ndarray, half: np.ndarray
) -> np.ndarray:
    """Centred β for each row of resampled pair counts (rounds x pairs each), all at once.

    Chord iterations from the full-data estimate with the full-data Hessian; the rare round
    that has not converged after a few dozen steps is finished by exact Newton.
    """
    rounds = len(wins_i)
    w = data.weight
    nw = w * (wins_i + wins_j + half)
    sw = w * (wins_i + 0.5 * half)
    lam = data.ridge()
    m = data.m
    h0 = hessian(data, beta_hat)
    h0[np.diag_indices(m)] += lam
    h0_inv = scipy.linalg.cho_solve(scipy.linalg.cho_factor(h0, check_finite=False), np.eye(m), check_finite=False)
    d_t = data.incidence.T.tocsr()  # m x P
    beta = np.tile(beta_hat, (rounds, 1))
    active = np.arange(rounds)
    for _ in range(_CHORD_ITERATIONS):
        b = beta[active]
        prob = expit(b[:, data.i] - b[:, data.j])
        resid = sw[active] - nw[active] * prob
        grad = (d_t @ resid.T).T - lam * b
        step = grad @ h0_inv
        beta[active] = b + step
        done = np.max(np.abs(step), axis=1) < _BOOTSTRAP_TOL
        active = active[~done]
        if not len(active):
            break
    for r in active:  # slow convergence (e.g. a model that won every resampled vote)
        beta[r] = newton_fit(m, data.i, data.j, nw[r], sw[r], lam, beta[r])
    return beta - beta.mean(axis=1, keepdims=True)
