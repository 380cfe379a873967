"""What a snapshot stores (``RatingSnapshot.payload``), read and written only here.

In the database a payload is JSON; in code it is a ``SnapshotPayload``. ``to_json()`` writes
the current ``VERSION``; ``from_json()`` reads every version written so far. Payloads stored
before the version key existed read as version 0: the keys of version 1, any of them possibly
missing (boards stored before head-to-head counts were kept have no ``pairs``, for instance).
Keys this code does not know are dropped.

One class serves both kinds of board. A Bradley–Terry board (``method`` "bradley_terry")
has the per-pair counts, the outcome totals, the robustness of first place, Elo and TrueSkill
replayed over the board's votes in timestamp order (``online``) and, for the default board, the covariance
that the pairing policy uses. A style-controlled board has the style
coefficients and the number of votes left out for want of measured answers
("bradley_terry_style_controlled"). A field that is
None is not in the JSON, and absent differs from empty: ``online == {}`` is a board
replayed over no votes, ``online is None`` a board that was not replayed (a default board stored
before it was, whose Elo and TrueSkill are the ``OnlineRating`` rows). A board without votes has no
``method``, ``settings``, counts or warnings.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, fields

from ratings.engine import Leaderboard, StyleControlledBoard, VoteTable, with_robustness

VERSION = 1
COVARIANCE_DIGITS = 4


@dataclass
class SnapshotPayload:
    # The format this payload was read from (0: stored before formats had a version); to_json()
    # always writes the current one.
    version: int = VERSION
    method: str | None = None
    settings: dict | None = None  # the engine's own settings of the fit
    n_votes: int | None = None
    n_models: int | None = None
    coefficients: dict[str, float] | None = None  # style: log-odds per standard deviation of each feature
    coefficient_intervals: dict[str, list[float]] | None = None
    # Best first, as the engine returns them (``RatingRow`` or ``StyleRow`` as dicts); "model" is
    # an LLM version's label.
    rows: list[dict] = field(default_factory=list)
    warnings: list[str] | None = None
    robustness: dict | None = None  # ``ratings.engine.robustness.votes_to_flip_first``
    covariance_models: list[str] | None = None  # the order of ``covariance`` (rating points²)
    covariance: list[list[float]] | None = None
    # Per unordered pair of ``models`` (indices i < j): [i, j, wins of i, wins of j, ties, both bad].
    models: list[str] | None = None
    pairs: list[list[int]] | None = None
    online: dict[str, dict] | None = None  # label -> {"elo", "trueskill_mu", "trueskill_sigma"}
    outcome_totals: dict[str, int] | None = None  # votes per outcome (a, b, tie, both_bad)
    version_ids: dict[str, int] = field(default_factory=dict)  # label -> LLMVersion pk
    votes_without_answers: int | None = None  # style: votes of the vote set left out of the fit
    parts: dict[str, str] | None = None  # a decision's index: prompt category -> the scope of its board

    @classmethod
    def from_json(cls, data: Mapping) -> SnapshotPayload:
        """Read a stored payload of any version up to ``VERSION``; ValueError for a newer one."""
        version = data.get("version", 0)
        if not isinstance(version, int) or isinstance(version, bool) or not 0 <= version <= VERSION:
            raise ValueError(f"snapshot payload version {version!r} is not one this code reads (0 to {VERSION})")
        known = {f.name for f in fields(cls)}
        values = {key: value for key, value in data.items() if key in known}
        values["version"] = version
        if values.get("rows") is None:
            values["rows"] = []
        if values.get("version_ids") is None:
            values["version_ids"] = {}
        return cls(**values)

    def to_json(self) -> dict:
        """The payload as stored: the current ``VERSION``, then every field that is not None."""
        out = {"version": VERSION}
        for f in fields(self):
            value = getattr(self, f.name)
            if f.name != "version" and value is not None:
                out[f.name] = value
        return out

    def has(self, *names: str) -> bool:
        """Whether the stored board has these parts (a board stored by older code may lack some)."""
        return all(getattr(self, name) is not None for name in names)

    def ratings(self) -> dict[str, float]:
        """Rating by row (LLM version label)."""
        return {row["model"]: row["rating"] for row in self.rows}


def board_payload(board: Leaderboard, table: VoteTable, *, covariance: bool) -> SnapshotPayload:
    """A fitted Bradley–Terry board as stored: the engine's board with the robustness of first
    place, and the per-pair counts of ``table`` (the head-to-head tables are read from here, not
    from the votes again). ``covariance``: keep the sandwich covariance too (the default board:
    the pairing policy's active rule needs the joint uncertainty)."""
    data = with_robustness(board)
    pairs = table.pair_counts()
    payload = SnapshotPayload(
        method=data["method"],
        settings=data["settings"],
        n_votes=data["n_votes"],
        n_models=data["n_models"],
        rows=data["rows"],
        warnings=data["warnings"],
        robustness=data["robustness"],
        models=list(table.models),
        pairs=[
            [int(x) for x in cell]
            for cell in zip(pairs.i, pairs.j, pairs.wins_i, pairs.wins_j, pairs.ties, pairs.both_bad)
        ],
    )
    if covariance and board.covariance is not None:
        payload.covariance_models = list(board.models)
        payload.covariance = [[round(float(x), COVARIANCE_DIGITS) for x in row] for row in board.covariance]
    return payload


def empty_board_payload() -> SnapshotPayload:
    """The Bradley–Terry board of no votes."""
    return SnapshotPayload(rows=[], models=[], pairs=[])


def style_payload(
    board: StyleControlledBoard | None, *, version_ids: dict[str, int], votes_without_answers: int
) -> SnapshotPayload:
    """A style-controlled board as stored (``board`` None: no vote had both answers measured)."""
    if board is None:
        return SnapshotPayload(
            rows=[], coefficients={}, version_ids=dict(version_ids), votes_without_answers=votes_without_answers
        )
    data = board.to_dict()
    return SnapshotPayload(
        method=data["method"],
        settings=data["settings"],
        n_votes=data["n_votes"],
        coefficients=data["coefficients"],
        coefficient_intervals=data["coefficient_intervals"],
        rows=data["rows"],
        version_ids=dict(version_ids),
        votes_without_answers=votes_without_answers,
    )
