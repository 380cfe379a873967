"""The best fixed allocation of votes over pairs, for known strengths: the ceiling of any pairing policy.

For a share ``w_e`` of the votes on pair e = (i, j), the Bradley–Terry fit's
asymptotic sandwich covariance per vote is H⁺ G H⁺ with

    H = Σ_e w_e · p_e(1 − p_e) · d_e d_eᵀ        (expected Hessian)
    G = Σ_e w_e · s²_e · d_e d_eᵀ                 (variance of the score)

where d_e = e_i − e_j and s²_e = p_e(1 − p_e) − t_e/4 is the variance of one
vote's score when a tie (probability t_e) counts as half a win. The time to
bring every model's interval under a target is proportional to the largest
diagonal entry, so the minimax design minimises max_i [H⁺GH⁺]_ii over the
simplex. No adaptive policy can do better than this design in the long run
(its information per vote is a mixture of the same pair informations), so
``--policy oracle`` in the simulator, which draws pairs from it, shows how
much room a policy has at given strengths.
"""

from __future__ import annotations

import numpy as np
from scipy.optimize import minimize
from scipy.special import expit, logsumexp

from .bt import pair_matrix


def pair_moments(beta: np.ndarray, tie_scale: float) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Pairs (i < j) with the per-vote Hessian weight h and score variance g at strengths ``beta`` (logits).

    Ties follow the simulator's model: probability ``tie_scale`` · 2·min(p, 1 − p).
    """
    m = len(beta)
    i, j = np.triu_indices(m, 1)
    p = expit(beta[i] - beta[j])
    h = p * (1.0 - p)
    g = h - tie_scale * 2.0 * np.minimum(p, 1.0 - p) / 4.0
    return i, j, h, g


def design_variances(m: int, i, j, h, g, weights) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per-vote variances diag(H⁺GH⁺) of each model under ``weights``, with H⁺ and H⁺GH⁺."""
    hess = pair_matrix(m, i, j, weights * h)
    # (H + 11ᵀ/m)⁻¹ acts as H⁺ on vectors orthogonal to 1, which is all we apply it to.
    h_inv = np.linalg.inv(hess + np.full((m, m), 1.0 / m)) - np.full((m, m), 1.0 / m)
    cov = h_inv @ pair_matrix(m, i, j, weights * g) @ h_inv
    return np.diag(cov).copy(), h_inv, cov


def minimax_design(
    beta: np.ndarray, tie_scale: float = 0.0, *, sharpness: float = 400.0, max_iter: int = 2000
) -> tuple[np.ndarray, np.ndarray, np.ndarray, float]:
    """Pair shares minimising the largest per-vote variance; returns (i, j, weights, that variance).

    The maximum is smoothed with a log-sum-exp of the variances relative to the
    uniform design's largest (``sharpness`` sets how closely it follows the max),
    and minimised over softmax parameters with L-BFGS and the exact gradient
    d[H⁺GH⁺]_kk/dw_e = g_e·a_k² − 2·h_e·a_k·b_k, with a = H⁺d_e, b = H⁺GH⁺d_e.
    """
    beta = np.asarray(beta, dtype=float)
    m = len(beta)
    i, j, h, g = pair_moments(beta, tie_scale)
    if m == 2:
        return i, j, np.ones(1), float(design_variances(m, i, j, h, g, np.ones(1))[0].max())
    uniform = np.full(len(i), 1.0 / len(i))
    scale = float(design_variances(m, i, j, h, g, uniform)[0].max())

    def objective(theta):
        w = np.exp(theta - theta.max())
        w /= w.sum()
        var, h_inv, cov = design_variances(m, i, j, h, g, w)
        x = sharpness * var / scale
        value = logsumexp(x) / sharpness
        s = np.exp(x - logsumexp(x)) / scale  # d value / d var
        a = h_inv[:, i] - h_inv[:, j]
        b = cov[:, i] - cov[:, j]
        grad_w = g * (s @ (a * a)) - 2.0 * h * (s @ (a * b))
        return value, w * (grad_w - w @ grad_w)

    result = minimize(
        objective,
        np.zeros(len(i)),
        jac=True,
        method="L-BFGS-B",
        options={"maxiter": max_iter, "gtol": 1e-10, "ftol": 1e-13},
    )
    w = np.exp(result.x - result.x.max())
    w /= w.sum()
    return i, j, w, float(design_variances(m, i, j, h, g, w)[0].max())


__all__ = ["pair_moments", "design_variances", "minimax_design"]
