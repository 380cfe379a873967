"""Simulated voters with known strengths, for testing the engine and comparing pairing policies.

Outcome model: for a battle between i and j with BT win probability π = σ(β_i − β_j), a tie
happens with probability c·2·min(π, 1 − π), and otherwise the winner is drawn so that the
expected score of i (win 1, tie ½) is exactly π. Hence the Bradley–Terry fit with ties as half
a win is consistent for the planted strengths, ties are most frequent between close models, and
c is calibrated so that the overall tie share is ``tie_rate`` (c ≤ 1 caps what is reachable).
A share ``both_bad_share`` of the ties is labelled both_bad.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

import numpy as np
from scipy.special import expit

from .bt import INITIAL_RATING, RATING_PER_LOGIT, PairData, fit_pairs, hessian, sandwich_covariance
from .data import A_WINS, B_WINS, BOTH_BAD, TIE, VoteLog, VoteTable
from .design import minimax_design
from .ranks import kendall_tau
from .style import style_matrix
from .top1 import top1_status


def _strength_arrays(strengths) -> tuple[tuple[str, ...], np.ndarray]:
    if isinstance(strengths, Mapping):
        names = tuple(strengths)
        values = np.array([float(strengths[n]) for n in names])
    else:
        values = np.asarray(strengths, dtype=float)
        width = max(3, len(str(len(values) - 1)))
        names = tuple(f"model-{k:0{width}d}" for k in range(len(values)))
    if len(names) < 2:
        raise ValueError("need at least two models")
    return names, values


def _rng(seed) -> np.random.Generator:
    return seed if isinstance(seed, np.random.Generator) else np.random.default_rng(seed)


def uniform_pairs(m: int, n: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """``n`` battles between uniformly random distinct models in random positions."""
    a = rng.integers(0, m, n)
    b = (a + rng.integers(1, m, n)) % m
    return a, b


def tie_scale(win_prob: np.ndarray, tie_rate: float) -> float:
    """The c that makes the expected tie share ``tie_rate`` over battles with ``win_prob``."""
    closeness = 2.0 * np.minimum(win_prob, 1.0 - win_prob)
    mean_closeness = float(closeness.mean()) if closeness.size else 0.0
    return min(1.0, tie_rate / mean_closeness) if mean_closeness > 0 else 0.0


def draw_outcomes(
    win_prob: np.ndarray,
    rng: np.random.Generator,
    *,
    tie_rate: float = 0.3,
    both_bad_share: float = 0.25,
    scale: float | None = None,
) -> np.ndarray:
    """Outcome codes for battles where model_a wins with BT probability ``win_prob``.

    ``scale`` is the tie constant c; by default it is calibrated on these battles.
    """
    c = tie_scale(win_prob, tie_rate) if scale is None else scale
    p_tie = c * 2.0 * np.minimum(win_prob, 1.0 - win_prob)
    p_a = win_prob - p_tie / 2.0
    u = rng.random(win_prob.shape)
    outcome = np.where(u < p_a, A_WINS, np.where(u < p_a + p_tie, TIE, B_WINS)).astype(np.int8)
    ties = outcome == TIE
    outcome[ties & (rng.random(win_prob.shape) < both_bad_share)] = BOTH_BAD
    return outcome


def simulate_votes(
    strengths: Mapping[str, float] | np.ndarray,
    n_votes: int,
    *,
    tie_rate: float = 0.3,
    both_bad_share: float = 0.25,
    seed: int | np.random.Generator = 0,
) -> VoteLog:
    """``n_votes`` votes between uniformly drawn pairs, as a :class:`VoteLog` (per-vote arrays).

    strengths: true ratings on the output scale (rating points, only differences matter), as a
    ``{model: rating}`` mapping or an array (models are then named model-000, model-001, ...).
    ``.to_table()`` gives the :class:`VoteTable`; iterating gives (model_a, model_b, outcome).
    """
    names, values = _strength_arrays(strengths)
    rng = _rng(seed)
    beta = values / RATING_PER_LOGIT
    a, b = uniform_pairs(len(names), n_votes, rng)
    outcome = draw_outcomes(expit(beta[a] - beta[b]), rng, tie_rate=tie_rate, both_bad_share=both_bad_share)
    return VoteLog(names, a, b, outcome)


@dataclass
class StyleSimulation:
    votes: VoteLog
    style_a: np.ndarray  # n x k raw counts per side
    style_b: np.ndarray


def simulate_style_votes(
    strengths,
    n_votes: int,
    coefficients,
    *,
    style_means=None,
    tie_rate: float = 0.3,
    seed: int | np.random.Generator = 0,
) -> StyleSimulation:
    """Votes whose outcome depends on the answers' style as well as on the models.

    Each model has a mean per style feature (``style_means``: models x k, default random);
    each answer's raw count is Poisson around its model's mean (length: 100 times it) times a
    log-normal factor per answer (σ = 0.6), so that style varies within a model too.
    The log-odds of model_a winning are β_a − β_b + Σ γ_k f_k, with f the standardised
    (a − b)/(a + b) features exactly as :func:`ratings.engine.style.style_matrix` computes
    them, and γ = ``coefficients``.
    """
    names, values = _strength_arrays(strengths)
    rng = _rng(seed)
    m = len(names)
    gamma = np.asarray(coefficients, dtype=float)
    k = len(gamma)
    if style_means is None:
        style_means = rng.uniform(1.0, 8.0, size=(m, k))
    style_means = np.asarray(style_means, dtype=float)
    scale = np.ones(k)
    scale[0] = 100.0  # the first feature is the length
    a, b = uniform_pairs(m, n_votes, rng)
    # Answers vary around their model's habit (prompt to prompt): a log-normal factor per answer.
    spread_a = rng.lognormal(-0.18, 0.6, size=(n_votes, k))
    spread_b = rng.lognormal(-0.18, 0.6, size=(n_votes, k))
    style_a = rng.poisson(style_means[a] * scale * spread_a).astype(float)
    style_b = rng.poisson(style_means[b] * scale * spread_b).astype(float)
    features = style_matrix(style_a, style_b)
    beta = values / RATING_PER_LOGIT
    logits = beta[a] - beta[b] + features @ gamma
    outcome = draw_outcomes(expit(logits), rng, tie_rate=tie_rate)
    return StyleSimulation(VoteLog(names, a, b, outcome), style_a, style_b)


# --------------------------------------------------------------------------------------------
# pairing policies


@dataclass
class PolicyState:
    """What a pairing policy may look at: the votes so far and the current fit.

    ``pair_votes`` is symmetric (models x models). ``ratings`` and ``covariance`` (rating
    points, sandwich) come from the last refit; ``information`` is the Fisher information of
    β at that fit (logit units).
    """

    models: tuple[str, ...]
    pair_votes: np.ndarray
    ratings: np.ndarray
    covariance: np.ndarray
    information: np.ndarray
    target_halfwidth: float
    # Decision mode: the question is "best model within this many points" (None: every interval).
    top1_epsilon: float | None = None
    top1_confidence: float = 0.95


PairingPolicy = Callable[[PolicyState, np.random.Generator, int], np.ndarray]
"""``policy(state, rng, size)`` returns ``size`` pairs as an int array of shape (size, 2)."""


def uniform_policy(state: PolicyState, rng: np.random.Generator, size: int) -> np.ndarray:
    a, b = uniform_pairs(len(state.models), size, rng)
    return np.column_stack([a, b])


def oracle_policy(strengths, tie_rate: float = 0.3) -> PairingPolicy:
    """Pairs drawn from the minimax design for the *true* strengths (:mod:`.design`).

    Not a policy anyone can run (it knows the truth): the ceiling against which
    uniform and active sampling are measured at the same strengths. ``tie_rate``
    must be the simulation's, so that it plans with the same tie propensity.
    """
    _, values = _strength_arrays(strengths)
    beta = values / RATING_PER_LOGIT
    iu = np.triu_indices(len(beta), 1)
    c = tie_scale(expit(beta[iu[0]] - beta[iu[1]]), tie_rate)
    i, j, weights, _ = minimax_design(beta, c)

    def oracle(state: PolicyState, rng: np.random.Generator, size: int) -> np.ndarray:
        picks = rng.choice(len(weights), size=size, p=weights)
        return np.column_stack([i[picks], j[picks]])

    return oracle


# The active policy is the app's own (battles.core.pairing); ratings.policies adapts it to this interface.
OBJECTIVES = ("interval", "top1")

# The oracle needs the true strengths, so it is built per simulation (oracle_policy).
POLICIES: dict[str, PairingPolicy] = {"uniform": uniform_policy}


@dataclass
class SimulationResult:
    policy: str
    models: int
    seed: int | None
    target_halfwidth: float
    votes_needed: int | None
    max_halfwidth: float
    kendall_tau: float
    tie_share: float
    refits: int
    truth: dict[str, float] = field(repr=False)
    ratings: dict[str, float] = field(repr=False)
    objective: str = "interval"
    epsilon: float | None = None
    leader: str | None = None  # top1: the model found best
    leader_gap: float | None = None  # top1: true best rating − the leader's true rating

    def to_dict(self) -> dict:
        return {
            "objective": self.objective,
            "epsilon": self.epsilon,
            "leader": self.leader,
            "leader_gap": self.leader_gap,
            "policy": self.policy,
            "models": self.models,
            "seed": self.seed,
            "target_halfwidth": self.target_halfwidth,
            "votes_needed": self.votes_needed,
            "max_halfwidth": self.max_halfwidth,
            "kendall_tau": self.kendall_tau,
            "tie_share": self.tie_share,
            "refits": self.refits,
            "truth": self.truth,
            "ratings": self.ratings,
        }


def random_strengths(n_models: int, seed: int | np.random.Generator = 0, *, spread: float = 100.0) -> np.ndarray:
    """True ratings ~ Normal(1000, ``spread``), centred to mean 1000."""
    values = _rng(seed).normal(0.0, spread, n_models)
    return INITIAL_RATING + values - values.mean()


def _state_from_counts(
    models, counts: np.ndarray, beta0, target, top1: tuple[float | None, float] = (None, 0.95)
) -> tuple[PolicyState, np.ndarray, float]:
    m = len(models)
    # counts: (m, m, 3) per ordered pair i<j: wins_i, wins_j, half
    iu = np.triu_indices(m, 1)
    wins_i, wins_j, half = counts[iu][:, 0], counts[iu][:, 1], counts[iu][:, 2]
    keep = (wins_i + wins_j + half) > 0
    data = PairData(m, iu[0][keep], iu[1][keep], wins_i[keep], wins_j[keep], half[keep], np.ones(int(keep.sum())))
    beta = fit_pairs(data, beta0)
    beta -= beta.mean()
    cov = sandwich_covariance(data, beta) * RATING_PER_LOGIT**2
    half_width = 1.959963984540054 * float(np.sqrt(np.max(np.diag(cov))))
    n_pair = counts.sum(axis=2)
    state = PolicyState(
        tuple(models),
        n_pair + n_pair.T,
        INITIAL_RATING + RATING_PER_LOGIT * beta,
        cov,
        hessian(data, beta),
        target,
        top1[0],
        top1[1],
    )
    return state, beta, half_width


def run_policy_simulation(
    strengths,
    policy: str | PairingPolicy = "uniform",
    *,
    target_halfwidth: float = 25.0,
    tie_rate: float = 0.3,
    seed: int = 0,
    max_votes: int = 2_000_000,
    burn_in_per_model: int = 10,
    batch_share: float = 0.05,
    objective: str = "interval",
    epsilon: float = 25.0,
    confidence: float = 0.95,
) -> SimulationResult:
    """Vote until every model's 95% sandwich half-width is below ``target_halfwidth`` points
    (``objective`` "interval"), or until the best model is known within ``epsilon`` points at
    ``confidence`` (``objective`` "top1", ``ratings.engine.top1``).

    Votes arrive in batches chosen by ``policy`` from the state after the last refit (batch
    size: ``batch_share`` of the votes so far, at least the number of models); the exact
    number of votes needed is then found by bisection over the prefixes of the last batch.
    """
    if objective not in OBJECTIVES:
        raise ValueError(f"objective must be one of {', '.join(OBJECTIVES)}")
    top1 = (float(epsilon), float(confidence)) if objective == "top1" else (None, confidence)

    def finished(state: PolicyState, half_width: float) -> bool:
        if objective == "top1":
            return top1_status(state.ratings, state.covariance, epsilon=epsilon, confidence=confidence).decided
        return half_width < target_halfwidth

    names, values = _strength_arrays(strengths)
    policy_name = policy if isinstance(policy, str) else getattr(policy, "__name__", "custom")
    choose = POLICIES[policy] if isinstance(policy, str) else policy
    rng = np.random.default_rng(seed)
    m = len(names)
    beta_true = values / RATING_PER_LOGIT
    counts = np.zeros((m, m, 3))
    ties_total = 0
    # Tie propensity is a property of the pair: calibrate it once, over uniform pairs.
    iu = np.triu_indices(m, 1)
    c = tie_scale(expit(beta_true[iu[0]] - beta_true[iu[1]]), tie_rate)

    def play(pairs: np.ndarray) -> np.ndarray:
        a, b = pairs[:, 0], pairs[:, 1]
        outcome = draw_outcomes(expit(beta_true[a] - beta_true[b]), rng, scale=c)
        return np.column_stack([a, b, outcome])

    def add(counts, votes):
        a, b, o = votes[:, 0], votes[:, 1], votes[:, 2]
        lo, hi = np.minimum(a, b), np.maximum(a, b)
        lo_wins = ((o == A_WINS) & (a == lo)) | ((o == B_WINS) & (b == lo))
        hi_wins = ((o == A_WINS) & (a == hi)) | ((o == B_WINS) & (b == hi))
        kind = np.where(lo_wins, 0, np.where(hi_wins, 1, 2))
        np.add.at(counts, (lo, hi, kind), 1.0)

    votes = play(
        uniform_policy(
            PolicyState(names, np.zeros((m, m)), values, np.eye(m), np.eye(m), target_halfwidth),
            rng,
            burn_in_per_model * m,
        )
    )
    add(counts, votes)
    ties_total += int(np.sum(votes[:, 2] >= TIE))
    n_votes = len(votes)
    state, beta, half_width = _state_from_counts(names, counts, None, target_halfwidth, top1)
    refits = 1
    votes_needed = n_votes if finished(state, half_width) else None
    while votes_needed is None and n_votes < max_votes:
        size = max(m, int(batch_share * n_votes))
        batch = play(np.asarray(choose(state, rng, size), dtype=np.int64))
        before = counts.copy()
        add(counts, batch)
        ties_total += int(np.sum(batch[:, 2] >= TIE))
        state_new, beta_new, half_width = _state_from_counts(names, counts, beta, target_halfwidth, top1)
        refits += 1
        if finished(state_new, half_width):
            lo, hi = 0, len(batch)
            while hi - lo > 1:
                mid = (lo + hi) // 2
                trial = before.copy()
                add(trial, batch[:mid])
                refits += 1
                if finished(*_state_from_counts(names, trial, beta, target_halfwidth, top1)[::2]):
                    hi = mid
                else:
                    lo = mid
            votes_needed = n_votes + hi
        n_votes += len(batch)
        state, beta = state_new, beta_new

    fitted = state.ratings
    tau = kendall_tau(values, fitted)
    return SimulationResult(
        policy=policy_name,
        models=m,
        seed=seed,
        target_halfwidth=target_halfwidth,
        votes_needed=votes_needed,
        max_halfwidth=half_width,
        kendall_tau=tau,
        tie_share=ties_total / n_votes if n_votes else 0.0,
        refits=refits,
        truth={n: float(v) for n, v in zip(names, values)},
        ratings={n: float(v) for n, v in zip(names, fitted)},
        objective=objective,
        epsilon=float(epsilon) if objective == "top1" else None,
        leader=names[int(np.argmax(fitted))] if objective == "top1" else None,
        leader_gap=float(values.max() - values[int(np.argmax(fitted))]) if objective == "top1" else None,
    )


def table_from_strengths(strengths, n_votes: int, **kwargs) -> VoteTable:
    """Shortcut: ``simulate_votes(...).to_table()``."""
    return simulate_votes(strengths, n_votes, **kwargs).to_table()


__all__ = [
    "simulate_votes",
    "simulate_style_votes",
    "StyleSimulation",
    "draw_outcomes",
    "uniform_pairs",
    "PolicyState",
    "PairingPolicy",
    "uniform_policy",
    "oracle_policy",
    "POLICIES",
    "run_policy_simulation",
    "SimulationResult",
    "random_strengths",
    "table_from_strengths",
    "tie_scale",
]
