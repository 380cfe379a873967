"""The Bradley–Terry leaderboard with LMArena's conventions (the fit itself is ``ratings.engine.bt``).

rating = 1000 + 400·β / ln 10, where P(i beats j) = σ(β_i − β_j); the β are centred (mean
rating 1000) unless an anchor is given. A tie and a both-bad vote each count as half a win
for either side in the likelihood, yet stay separate in the counts and the output.

The fit is maximum likelihood (LMArena's, the default) or, with ``prior_points``, maximum a
posteriori under a Normal prior on each strength with that standard deviation in rating points
around the mean: finite ratings from the first vote. Intervals and ranks then come from the
same posterior (``bt.posterior_covariance``; bootstrap rounds refit with the prior too).
The numerical core (pair counts, Newton, covariances, bootstrap) is ``ratings.engine.bt``.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from statistics import NormalDist

import numpy as np

from .bt import (
    BASE,
    INITIAL_RATING,
    RATING_PER_LOGIT,
    SCALE,
    PairData,
    bootstrap_betas,
    count_components,
    fit_pairs,
    posterior_covariance,
    prior_precision,
    sandwich_covariance,
    unseparated_groups,
)
from .data import VoteTable
from .ranks import interval_ranks, plain_order

CI_METHODS = ("sandwich", "bootstrap", "none")


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
    prior_points: float | None = None,
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
    prior_points: the standard deviation, in rating points, of a Normal prior on each model's
    rating around the mean (maximum a posteriori; the sandwich becomes
    ``bt.posterior_covariance``). None or 0: plain maximum likelihood, LMArena's fit.
    """
    if ci not in CI_METHODS:
        raise ValueError(f"ci must be one of {', '.join(CI_METHODS)}, got {ci!r}")
    if not 0 < confidence < 1:
        raise ValueError("confidence must be between 0 and 1")
    precision = prior_precision(prior_points)
    settings = {
        "ci": ci,
        "confidence": confidence,
        "bootstrap_rounds": bootstrap_rounds if ci == "bootstrap" else None,
        "seed": seed if (ci == "bootstrap" and not isinstance(seed, np.random.Generator)) else None,
        "anchor": list(anchor) if anchor is not None else None,
        "reweight": reweight,
        "min_pair_count": min_pair_count if reweight else None,
        "min_votes": min_votes,
        "prior_points": float(prior_points) if prior_points and precision else None,
        "scale": SCALE,
        "base": BASE,
        "initial_rating": INITIAL_RATING,
        "ties": "half a win each way (tie and both_bad)",
    }
    models = table.models
    if table.n_votes == 0:
        return Leaderboard([], settings, 0, models)
    anchor_idx = _parse_anchor(anchor, models)
    data = PairData.from_table(table, reweight=reweight, min_pair_count=min_pair_count, prior=precision)
    beta = fit_pairs(data)
    beta -= beta.mean()
    warnings = []
    n_components = count_components(data)
    if n_components > 1:
        across = "rest on the prior alone across groups" if precision else "are not comparable across groups"
        warnings.append(f"the comparison graph has {n_components} disconnected groups of models; ratings {across}")
    groups = unseparated_groups(data, models) if n_components == 1 else []
    if groups:
        shown = "; ".join(", ".join(group) for group in groups[:6])
        if precision:
            consequence = (
                f"their ratings are held by the prior (sd {prior_points:g} points) and their intervals are wide "
                "until more votes arrive"
            )
        else:
            consequence = "their ratings are unbounded and their intervals meaningless until more votes arrive"
        warnings.append(
            f"the votes do not yet place {len(groups)} groups of models against each other (a group won or "
            f"lost every vote against the rest: {shown}); {consequence}"
        )

    ratings = INITIAL_RATING + RATING_PER_LOGIT * beta
    shift = 0.0
    if anchor_idx is not None:
        shift = anchor_idx[1] - ratings[anchor_idx[0]]
    covariance = samples = None
    alpha = 1.0 - confidence
    if ci == "sandwich":
        covariance_of = posterior_covariance if precision else sandwich_covariance
        cov = covariance_of(data, beta) * RATING_PER_LOGIT**2
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
