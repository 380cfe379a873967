"""What the API answers: one class per JSON object.

django-ninja checks every answer against its class before sending it and writes the
response schemas of the OpenAPI document from the same classes. A field without a default
is always sent (possibly null, when its type allows it).
"""

import uuid
from typing import Annotated, Any, Literal, TypeAlias

from pydantic import BaseModel, Field

from ratings.filter_params import Omittable

# The values of LLM.Status and Vote.Outcome (a test keeps them in step).
ModelStatus = Literal["active", "retired"]
VoteOutcome = Literal["a", "b", "tie", "both_bad"]

# Sent as the application writes them (``datetime.isoformat()``); read back, they would be
# rewritten in pydantic's own spelling.
Timestamp: TypeAlias = Annotated[str, Field(json_schema_extra={"format": "date-time"})]
Coefficient: TypeAlias = Annotated[float, Field(ge=-1, le=1)]


class Error(BaseModel):
    error: str = Field(
        description="A stable code: bad_request, unauthorized, invalid_token, forbidden, not_found, method_not_allowed."
    )
    detail: str = Field(description="A message for people.")
    parameter: Omittable[str] = Field(None, description="The query parameter at fault.")


class Board(BaseModel):
    """Provenance of a snapshot: the same votes and settings give the same numbers."""

    scope: str
    computed_at: Timestamp
    vote_count: int = Field(ge=0)
    vote_hash: str = Field(description="SHA-256 over the aggregated vote counts.")
    settings: dict[str, Any] = Field(description="Engine settings of the fit.")


class LeaderboardRow(BaseModel):
    rank: int = Field(ge=1, description="1 + the number of models whose interval lies wholly above this one.")
    model: str = Field(description="Board label (LLM name, with the version after the first).")
    llm: uuid.UUID | None = Field(description="The LLM's code.")
    rating: float
    lower: float
    upper: float
    votes: int
    wins: int | None
    losses: int | None
    ties: int | None
    both_bad: int | None
    win_rate: float | None
    provisional: bool
    elo: float | None
    trueskill_mu: float | None
    trueskill_sigma: float | None
    style_rating: float | None
    style_lower: float | None
    style_upper: float | None
    style_rank: int | None
    style_provisional: bool | None = Field(
        description="The style-controlled board has fewer votes than STYLE_MIN_VOTES (None: no style control)."
    )
    latency_p50_ms: float | None
    cost_per_1000: float | None


class Freshness(BaseModel):
    """How the boards served stand against the votes now: boards are refitted by a worker, never
    inside a request, so an answer may come from a snapshot a few votes behind."""

    fitted: bool = Field(description="False: never fitted yet; it is being fitted, ask again in a few seconds.")
    votes_behind: int = Field(ge=0, description="Votes of this filter the snapshot has not seen yet.")
    vote_set_changed: bool = Field(description="Votes were imported, excluded or restored since the fit.")
    refitting: bool = Field(description="A refit of this board is queued or running.")


class Leaderboard(BaseModel):
    filter: dict[str, str] = Field(description="The filter parameters that differ from the default board.")
    style_control: bool
    board: Board | None
    style_board: Board | None
    freshness: Freshness
    style_votes: int | None = Field(description="Votes the style-controlled fit used.")
    style_provisional: bool | None
    rows: list[LeaderboardRow]


class ModelVersion(BaseModel):
    number: int = Field(ge=1)
    label: str
    model_id: str
    created_at: Timestamp


class Model(BaseModel):
    code: uuid.UUID
    name: str
    provider: str
    status: ModelStatus
    imported: bool
    price_input_per_mtok: float
    price_output_per_mtok: float
    created_at: Timestamp
    versions: list[ModelVersion]


class ModelList(BaseModel):
    count: int = Field(ge=0)
    results: list[Model]


class VoteRecord(BaseModel):
    id: int
    created_at: Timestamp
    outcome: VoteOutcome
    winner: str = Field(description="The winning LLM's name, or tie / both_bad.")
    model_a: str
    model_b: str
    version_a: str
    version_b: str
    reasons_a: list[str]
    reasons_b: list[str]
    comment: str
    flagged: bool
    flags: list[str]
    insider: bool
    live: bool
    imported: bool
    time_to_vote_ms: int | None
    battle: uuid.UUID | None
    category: str | None
    pool: str | None
    voter: str | None = Field(description="A stable pseudonym, not the user.")


class VotePage(BaseModel):
    count: int = Field(ge=0, description="Votes matching the filter.")
    page: int = Field(ge=1)
    page_size: int = Field(ge=1)
    next: str | None = Field(description="Path and query of the next page.")
    previous: str | None = Field(description="Path and query of the previous page.")
    results: list[VoteRecord]


class Correlation(BaseModel):
    estimate: Coefficient | None
    lower: Coefficient | None
    upper: Coefficient | None
    draws: int = Field(ge=0, description="Posterior draws of the arena's ratings in which the coefficient was defined.")


class ComparisonRow(BaseModel):
    model: str = Field(description="The LLM's name.")
    score: float
    benchmark_rank: float = Field(ge=1, description="Mid-rank, 1 = best.")
    arena_rank: float = Field(ge=1)
    arena_rank_best: int = Field(ge=1)
    arena_rank_worst: int = Field(ge=1)
    gap: float = Field(description="benchmark_rank - arena_rank.")
    p_agree: float | None = Field(
        ge=0,
        le=1,
        description=(
            "Posterior probability that the arena rank lies within the displacement threshold of the benchmark rank "
            "(flagged below 1 - confidence)."
        ),
    )
    flagged: bool
    rating: float
    lower: float
    upper: float
    votes: int


class Comparison(BaseModel):
    benchmark: str
    higher_is_better: bool
    n_models: int = Field(ge=0)
    too_few_to_correlate: bool = Field(description="Fewer compared models than a rank correlation needs (5).")
    spearman: Correlation
    kendall: Correlation
    rows: list[ComparisonRow]
    missing_on_arena: list[str]
    missing_on_benchmark: list[str]
    settings: dict[str, Any]


class Composite(BaseModel):
    weights: dict[str, float]
    coverage: dict[str, float]
    left_out: list[str]
    min_coverage: float


class BenchmarkReport(BaseModel):
    style_control: bool
    board: Board | None
    settings: dict[str, Any]
    comparisons: list[Comparison]
    composite: Composite | None
    notes: list[str]
