"""How fragile is first place? Votes that would have to be dropped to change the leader.

Method ("greedy influence removal, verified by refitting"): for the leader T and a
challenger C, the first-order (influence-function) effect of dropping one vote on the gap
β_T − β_C is −cᵀH⁻¹s, with c = e_T − e_C, H the Fisher information and s the vote's score.
Votes in the same (pair, outcome) cell have the same effect, so cells are sorted by it and
votes dropped, most damaging first, until the predicted gap closes; then the board is refitted
and the step repeated from the new fit until another model is actually first. The last step is
trimmed by bisection on refits. The count is verified by an exact refit, so it is an upper
bound on the true minimum (which is a combinatorial problem); the challengers tried are the
next few models by rating and the smallest count is reported.

The refits make this a step after the fit, not part of it: ``board_robustness`` takes a fitted
``Leaderboard``, and ``with_robustness`` is the board's JSON with the result added (what the CLI
prints and what a snapshot stores).
"""

from __future__ import annotations

import numpy as np
import scipy.linalg
from scipy.special import expit

from .bt import PairData, fit_pairs, hessian
from .leaderboard import Leaderboard

METHOD = "greedy influence removal, verified by refitting (an upper bound on the minimum)"


def _refit(data: PairData, counts: np.ndarray, beta0):
    trial = data.with_counts(counts[:, 0], counts[:, 1], counts[:, 2])
    return fit_pairs(trial, beta0)


def _flip_against(
    data: PairData, beta: np.ndarray, leader: int, challenger: int, max_steps: int = 60
) -> np.ndarray | None:
    """Counts (pairs x [wins_i, wins_j, half]) of the votes to drop, or None if not found."""
    original = np.column_stack([data.wins_i, data.wins_j, data.half]).astype(float)
    counts = original.copy()
    y = np.array([1.0, 0.0, 0.5])
    lam = data.ridge()
    c = np.zeros(data.m)
    c[leader], c[challenger] = 1.0, -1.0
    for _ in range(max_steps):
        gap = beta[leader] - beta[challenger]
        if int(np.argmax(beta)) != leader:
            return original - counts
        h = hessian(data.with_counts(*counts.T), beta)
        h[np.diag_indices(data.m)] += lam
        u = scipy.linalg.cho_solve(scipy.linalg.cho_factor(h, check_finite=False), c, check_finite=False)
        p = expit(beta[data.i] - beta[data.j])
        # Gap decrease per dropped vote of each (pair, outcome) cell.
        benefit = (data.weight * (u[data.i] - u[data.j]))[:, None] * (y[None, :] - p[:, None])
        benefit = np.where(counts > 0, benefit, 0.0)
        flat = benefit.ravel()
        order = np.argsort(-flat)
        order = order[flat[order] > 0]
        if not len(order):
            return None
        available = counts.ravel()[order]
        gain = np.cumsum(available * flat[order])
        k = int(np.searchsorted(gain, gap))  # first cell whose cumulative gain reaches the gap
        plan = np.zeros_like(available)
        if k >= len(order):
            plan[:] = available
        else:
            plan[:k] = available[:k]
            before = gain[k - 1] if k else 0.0
            plan[k] = min(available[k], np.ceil((gap - before) / flat[order[k]]))
        plan_total = int(plan.sum())
        if plan_total == 0:
            return None

        def drop(n_votes, plan=plan, counts=counts, order=order):
            """Counts after dropping the first ``n_votes`` of the plan."""
            take = np.minimum(plan, np.maximum(n_votes - (np.cumsum(plan) - plan), 0))
            new = counts.ravel().copy()
            new[order] -= take
            return new.reshape(counts.shape)

        new_counts = drop(plan_total)
        new_beta = _refit(data, new_counts, beta)
        if int(np.argmax(new_beta)) != leader:
            lo, hi = 0, plan_total  # flip at hi, not (known) at lo
            while hi - lo > 1:
                mid = (lo + hi) // 2
                if int(np.argmax(_refit(data, drop(mid), beta))) != leader:
                    hi = mid
                else:
                    lo = mid
            return original - drop(hi)
        counts, beta = new_counts, new_beta
    return None


def votes_to_flip_first(
    data: PairData, models: tuple[str, ...], *, beta: np.ndarray | None = None, challengers: int = 3
) -> dict:
    """Estimate how many votes must be dropped for a model other than the leader to be first."""
    if beta is None:
        beta = fit_pairs(data)
    ranking = np.argsort(-beta, kind="stable")
    leader = int(ranking[0])
    best = None
    for challenger in ranking[1 : 1 + challengers]:
        removed = _flip_against(data, np.array(beta, float), leader, int(challenger))
        if removed is None:
            continue
        n = int(round(removed.sum()))
        if best is None or n < best[0]:
            best = (n, models[int(challenger)], removed)
    total = int(round(float(data.n.sum())))
    dropped = []
    if best is not None:
        labels = ("win", "loss", "tie_or_both_bad")
        for p, kind in zip(*np.nonzero(best[2] > 0.5)):
            dropped.append(
                {
                    "model": models[int(data.i[p])],
                    "opponent": models[int(data.j[p])],
                    "result": labels[kind],
                    "votes": int(round(best[2][p, kind])),
                }
            )
    return {
        "method": METHOD,
        "leader": models[leader],
        "challenger": best[1] if best else None,
        "votes_to_flip": best[0] if best else None,
        "share_of_votes": (best[0] / total) if best and total else None,
        "dropped": dropped,
    }


def board_robustness(board: Leaderboard) -> dict | None:
    """How many votes would have to be dropped to change which model is first (None for a
    board with fewer than two models or without its pair data)."""
    if board.pairs is None or len(board.rows) < 2:
        return None
    return votes_to_flip_first(board.pairs, board.models, beta=board.beta)


def with_robustness(board: Leaderboard) -> dict:
    """``board.to_dict()`` plus ``"robustness"`` (``board_robustness``), the last key."""
    return {**board.to_dict(), "robustness": board_robustness(board)}
