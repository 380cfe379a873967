"""Parsing historical votes (CSV, the columns of ``python -m ratings``) into validated rows.

Required columns: ``model_a``, ``model_b``, ``winner``; ``winner`` is one of
``model_a``, ``model_b``, ``tie``, ``tie (bothbad)`` or ``both_bad``.
Optional: ``timestamp``, ISO 8601 (``2024-05-01T12:30:00Z``; without an
offset it is read in the server's time zone) or Unix seconds. Other columns
are ignored. Rows are streamed: a file of millions of votes is never held in
memory.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import BinaryIO

from arena.files.reading import FileRejected, choose_delimiter, iter_data_records, open_csv
from arena.files.report import RowError

WINNERS = {
    "model_a": "a",
    "model_b": "b",
    "tie": "tie",
    "tie (bothbad)": "both_bad",
    "both_bad": "both_bad",
}
REQUIRED = ("model_a", "model_b", "winner")
MODEL_NAME_MAX = 100  # LLM.name


@dataclass(frozen=True, slots=True)
class VoteRow:
    line: int
    model_a: str
    model_b: str
    outcome: str  # a, b, tie, both_bad
    timestamp: datetime | None = None  # naive when the file gave no offset


def parse_timestamp(raw: str) -> datetime:
    """ISO 8601 or Unix seconds; raises ValueError with a message for people."""
    value = raw.strip()
    try:
        seconds = float(value)
    except ValueError:
        pass
    else:
        if seconds != seconds or seconds in (float("inf"), float("-inf")):
            raise ValueError(f"timestamp {raw!r} is not a date")
        try:
            return datetime.fromtimestamp(seconds, tz=UTC)
        except (OverflowError, OSError, ValueError):
            raise ValueError(f"timestamp {raw!r} is out of range") from None
    try:
        return datetime.fromisoformat(value)
    except ValueError:
        raise ValueError(f"timestamp {raw!r} is not ISO 8601 (e.g. 2024-05-01T12:30:00Z) or Unix seconds") from None


def _model(name: str, column: str, problems: list[str]) -> str:
    name = name.strip()
    if not name:
        problems.append(f"{column} is empty")
    elif len(name) > MODEL_NAME_MAX:
        problems.append(f"{column} is longer than {MODEL_NAME_MAX} characters")
    return name


def parse_votes(stream: BinaryIO, *, max_bytes: int) -> Iterator[VoteRow | RowError]:
    """Yield one ``VoteRow`` or ``RowError`` per data row, streaming.

    Raises ``FileRejected`` when the file is too large, binary, empty, not
    CSV, or its header lacks a required column.
    """
    first, lines = open_csv(stream, max_bytes=max_bytes, what="votes", columns=REQUIRED)
    delimiter, names = choose_delimiter(first, known=(*REQUIRED, "timestamp"), required="winner")
    missing = [column for column in REQUIRED if column not in names]
    if missing:
        raise FileRejected(
            f"missing column(s) {', '.join(missing)} in the header (found: {', '.join(names) or 'nothing'})",
            first.number,
        )
    index_a, index_b, index_winner = (names.index(column) for column in REQUIRED)
    index_time = names.index("timestamp") if "timestamp" in names else None
    for record in iter_data_records(
        lines, delimiter=delimiter, width=len(names), empty="the file has a header but no votes"
    ):
        if record.problem:
            yield RowError(record.line, record.problem)
            continue
        fields = record.fields
        problems: list[str] = []
        model_a = _model(fields[index_a], "model_a", problems)
        model_b = _model(fields[index_b], "model_b", problems)
        if model_a and model_a == model_b:
            problems.append(f"model_a and model_b are the same model ({model_a!r})")
        winner = fields[index_winner].strip()
        outcome = WINNERS.get(winner)
        if outcome is None:
            problems.append(f"unknown winner {winner!r}; expected one of {', '.join(repr(w) for w in WINNERS)}")
        timestamp = None
        if index_time is not None and fields[index_time].strip():
            try:
                timestamp = parse_timestamp(fields[index_time])
            except ValueError as exc:
                problems.append(str(exc))
        if problems:
            yield RowError(record.line, "; ".join(problems))
            continue
        assert outcome is not None  # an unknown winner is a problem above
        yield VoteRow(record.line, model_a, model_b, outcome, timestamp)
