"""Bradley–Terry leaderboard with LMArena's conventions.

rating = 1000 + 400·β / ln 10, where P(i beats j) = σ(β_i − β_j); the β are centred (mean
rating 1000) unless an anchor is given. A tie and a both-bad vote each count as half a win
for either side in the likelihood, yet stay separate in the counts and the output.

How it is fast: the fit only needs, per unordered pair, the number of votes won by each side
and the number of half-wins, so a million votes over 100 models become at most 4,950 pairs
(14,850 resampling cells). The maximum-likelihood fit is Newton's method on that. The
bootstrap resamples the cells with one multinomial draw per round (the same distribution as
resampling battles with replacement) and solves all rounds at once by chord iterations that
reuse the full-data Hessian, starting from the full-data estimate; the two halves of the
rounds run on two threads.
"""

from __future__ import annotations

import math
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from functools import cached_property
from statistics import NormalDist

import numpy as np
import scipy.linalg
import scipy.sparse
from scipy.optimize import minimize
from scipy.sparse.csgraph import connected_components
from scipy.special import expit

from .data import VoteTable
from .ranks import interval_ranks, plain_order

SCALE = 400.0
BASE = 10.0
INITIAL_RATING = 1000.0
RATING_PER_LOGIT = SCALE / math.log(BASE)
CI_METHODS = ("sandwich", "bootstrap", "none")
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
    won by i, won by j, and the half-wins (ties plus both-bad), and a per-pair weight."""

    m: int
    i: np.ndarray
    j: np.ndarray
    wins_i: np.ndarray
    wins_j: np.ndarray
    half: np.ndarray
    weight: np.ndarray

    @classmethod
    def from_table(cls, table: VoteTable, *, reweight: bool = False, min_pair_count: int = 50) -> PairData:
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
        )

    @property
    def n(self) -> np.ndarray:
        return self.wins_i + self.wins_j + self.half

    @property
    def s(self) -> np.ndarray:
        return self.wins_i + 0.5 * self.half

    def with_counts(self, wins_i, wins_j, half) -> PairData:
        return PairData(self.m, self.i, self.j, wins_i, wins_j, half, self.weight)

    @cached_property
    def incidence(self) -> scipy.sparse.csr_matrix:
        """P x m matrix with +1 at i and −1 at j on each pair's row."""
        p = len(self.i)
        rows = np.repeat(np.arange(p), 2)
        cols = np.column_stack([self.i, self.j]).ravel()
        vals = np.tile([1.0, -1.0], p)
        return scipy.sparse.csr_matrix((vals, (rows, cols)), shape=(p, self.m))

    def ridge(self) -> float:
        total = float(np.sum(self.weight * self.n))
        return RELATIVE_RIDGE * max(total, 1.0)


# --------------------------------------------------------------------------------------------
# numerical core


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
    """Observed information (negative Hessian of the log-likelihood), without the ridge."""
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


# --------------------------------------------------------------------------------------------
# leaderboard


@dataclass(frozen=True)
class RatingRow:
    model: str
    rating: float
    lower: float
    upper: float
    rank: int
    order: int
    votes: int
    wins: int
    losses: int
    ties: int
    both_bad: int
    provisional: bool


@dataclass
class Leaderboard:
    """A fitted board: ``rows`` best first, plus the settings used.

    ``covariance`` (sandwich, rating points², in ``models`` order, relative to the anchor when
    one is given) and ``bootstrap_ratings`` (rounds x models, rating points) are kept for
    callers that need more than the intervals; ``beta`` and ``pairs`` (the fit's sufficient
    statistics) for refits such as ``robustness.board_robustness``.
    """

    rows: list[RatingRow]
    settings: dict
    n_votes: int
    models: tuple[str, ...]
    warnings: list[str] = field(default_factory=list)
    covariance: np.ndarray | None = field(default=None, repr=False)
    bootstrap_ratings: np.ndarray | None = field(default=None, repr=False)
    beta: np.ndarray | None = field(default=None, repr=False)
    pairs: PairData | None = field(default=None, repr=False)

    @property
    def by_model(self) -> dict[str, RatingRow]:
        return {row.model: row for row in self.rows}

    def to_dict(self) -> dict:
        """The board as JSON-ready data; ``robustness.with_robustness`` adds "votes to flip #1"."""
        return {
            "method": "bradley_terry",
            "settings": dict(self.settings),
            "n_votes": self.n_votes,
            "n_models": len(self.rows),
            "rows": [asdict(row) for row in self.rows],
            "warnings": list(self.warnings),
        }


def _parse_anchor(anchor, models):
    if anchor is None:
        return None
    name, value = anchor
    if name not in models:
        raise ValueError(f"anchor model {name!r} has no votes in this table")
    return models.index(name), float(value)


def fit_bradley_terry(
    table: VoteTable,
    *,
    ci: str = "sandwich",
    bootstrap_rounds: int = 100,
    seed: int | np.random.Generator = 0,
    anchor: tuple[str, float] | None = None,
    reweight: bool = False,
    min_votes: int = 0,
    confidence: float = 0.95,
    min_pair_count: int = 50,
) -> Leaderboard:
    """Fit the Bradley–Terry board of ``table`` with ``confidence`` intervals.

    ci: "sandwich" (Huber–White, as LMArena now uses), "bootstrap" (``bootstrap_rounds``
    resamples of the votes with replacement, percentile intervals, reproducible for a given
    ``seed``) or "none" (lower = upper = rating).
    anchor: ``(model, rating)`` shifts the scale so that this model has exactly that rating.
    As in LMArena's pipeline the shift is applied per bootstrap round, so intervals are
    relative to the anchor (whose own interval has zero width); for the sandwich the interval
    of a model is that of its difference from the anchor.
    reweight: inverse pair-frequency weights 1 / max(votes of the pair, ``min_pair_count``)
    (arena-rank's rule), so that over-sampled pairs do not dominate.
    min_votes: models with fewer votes are fitted all the same but marked provisional.
    """
    if ci not in CI_METHODS:
        raise ValueError(f"ci must be one of {', '.join(CI_METHODS)}, got {ci!r}")
    if not 0 < confidence < 1:
        raise ValueError("confidence must be between 0 and 1")
    settings = {
        "ci": ci,
        "confidence": confidence,
        "bootstrap_rounds": bootstrap_rounds if ci == "bootstrap" else None,
        "seed": seed if (ci == "bootstrap" and not isinstance(seed, np.random.Generator)) else None,
        "anchor": list(anchor) if anchor is not None else None,
        "reweight": reweight,
        "min_pair_count": min_pair_count if reweight else None,
        "min_votes": min_votes,
        "scale": SCALE,
        "base": BASE,
        "initial_rating": INITIAL_RATING,
        "ties": "half a win each way (tie and both_bad)",
    }
    models = table.models
    if table.n_votes == 0:
        return Leaderboard([], settings, 0, models)
    anchor_idx = _parse_anchor(anchor, models)
    data = PairData.from_table(table, reweight=reweight, min_pair_count=min_pair_count)
    beta = fit_pairs(data)
    beta -= beta.mean()
    warnings = []
    n_components = count_components(data)
    if n_components > 1:
        warnings.append(
            f"the comparison graph has {n_components} disconnected groups of models; "
            "ratings are not comparable across groups"
        )
    groups = unseparated_groups(data, models) if n_components == 1 else []
    if groups:
        shown = "; ".join(", ".join(group) for group in groups[:6])
        warnings.append(
            f"the votes do not yet place {len(groups)} groups of models against each other (a group won or "
            f"lost every vote against the rest: {shown}); their ratings are unbounded and their intervals "
            "meaningless until more votes arrive"
        )

    ratings = INITIAL_RATING + RATING_PER_LOGIT * beta
    shift = 0.0
    if anchor_idx is not None:
        shift = anchor_idx[1] - ratings[anchor_idx[0]]
    covariance = samples = None
    alpha = 1.0 - confidence
    if ci == "sandwich":
        cov = sandwich_covariance(data, beta) * RATING_PER_LOGIT**2
        if anchor_idx is not None:
            k = anchor_idx[0]
            cov = cov - cov[:, [k]] - cov[[k], :] + cov[k, k]
        half_width = NormalDist().inv_cdf(1.0 - alpha / 2.0) * np.sqrt(np.maximum(np.diag(cov), 0.0))
        lower, upper = ratings - half_width, ratings + half_width
        covariance = cov
    elif ci == "bootstrap":
        rng = seed if isinstance(seed, np.random.Generator) else np.random.default_rng(seed)
        samples = INITIAL_RATING + RATING_PER_LOGIT * bootstrap_betas(data, beta, bootstrap_rounds, rng)
        if anchor_idx is not None:
            samples = samples - samples[:, [anchor_idx[0]]] + ratings[anchor_idx[0]]
        lower = np.quantile(samples, alpha / 2.0, axis=0)
        upper = np.quantile(samples, 1.0 - alpha / 2.0, axis=0)
    else:
        lower, upper = ratings.copy(), ratings.copy()
    ratings, lower, upper = ratings + shift, lower + shift, upper + shift
    if samples is not None:
        samples = samples + shift

    rows = _build_rows(table, ratings, lower, upper, min_votes)
    return Leaderboard(rows, settings, table.n_votes, models, warnings, covariance, samples, beta, data)


def _build_rows(table: VoteTable, ratings, lower, upper, min_votes) -> list[RatingRow]:
    models = table.models
    stats = table.model_stats()
    ranks = interval_ranks(lower, upper)
    order = plain_order(ratings, models)
    rows = [
        RatingRow(
            model=models[k],
            rating=float(ratings[k]),
            lower=float(lower[k]),
            upper=float(upper[k]),
            rank=int(ranks[k]),
            order=int(order[k]),
            votes=int(stats["votes"][k]),
            wins=int(stats["wins"][k]),
            losses=int(stats["losses"][k]),
            ties=int(stats["ties"][k]),
            both_bad=int(stats["both_bad"][k]),
            provisional=bool(stats["votes"][k] < min_votes),
        )
        for k in range(len(models))
    ]
    rows.sort(key=lambda row: row.order)
    return rows
