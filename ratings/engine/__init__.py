"""The rating engine: pure Python/NumPy/SciPy (and trueskill), no Django.

Public API used by the app and by ``python -m ratings``.
"""

from .bt import INITIAL_RATING, RATING_PER_LOGIT
from .csvio import VotesFileError, read_votes_csv
from .data import OUTCOMES, VoteLog, VoteTable, outcome_codes
from .elo import elo_update, online_elo
from .leaderboard import Leaderboard, RatingRow, fit_bradley_terry
from .ranks import interval_ranks, kendall_tau, plain_order
from .robustness import board_robustness, with_robustness
from .simulate import (
    POLICIES,
    PolicyState,
    random_strengths,
    run_policy_simulation,
    simulate_style_votes,
    simulate_votes,
)
from .style import (
    DEFAULT_STYLE_RIDGE,
    STYLE_FEATURES,
    StyleControlledBoard,
    StyleRow,
    fit_style_controlled,
    style_counts,
    style_matrix,
)
from .trueskill_ratings import ClosedFormTrueSkill, trueskill_ratings, trueskill_update

__all__ = [
    "OUTCOMES",
    "VoteTable",
    "VoteLog",
    "outcome_codes",
    "fit_bradley_terry",
    "Leaderboard",
    "RatingRow",
    "INITIAL_RATING",
    "RATING_PER_LOGIT",
    "board_robustness",
    "with_robustness",
    "online_elo",
    "elo_update",
    "trueskill_ratings",
    "ClosedFormTrueSkill",
    "trueskill_update",
    "fit_style_controlled",
    "StyleControlledBoard",
    "StyleRow",
    "STYLE_FEATURES",
    "DEFAULT_STYLE_RIDGE",
    "style_counts",
    "style_matrix",
    "simulate_votes",
    "simulate_style_votes",
    "run_policy_simulation",
    "random_strengths",
    "PolicyState",
    "POLICIES",
    "interval_ranks",
    "plain_order",
    "kendall_tau",
    "read_votes_csv",
    "VotesFileError",
]
