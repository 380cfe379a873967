"""Reading votes from CSV (LMArena's column names) into a VoteTable.

Required columns: model_a, model_b, winner; other columns are ignored. winner is one of
``model_a``, ``model_b``, ``tie``, ``tie (bothbad)`` or ``both_bad``. The file is UTF-8 (a BOM
is accepted), with any line endings. Every problem is a :class:`VotesFileError` naming the
line; nothing is guessed (an unknown winner is never read as a tie).
"""

from __future__ import annotations

import csv
import io
import os
import sys
from collections.abc import Iterable

from .data import VoteTable

WINNER_LABELS: dict[str, str] = {
    "model_a": "a",
    "model_b": "b",
    "tie": "tie",
    "tie (bothbad)": "both_bad",
    "both_bad": "both_bad",
}
REQUIRED_COLUMNS = ("model_a", "model_b", "winner")


class VotesFileError(ValueError):
    """A problem with a votes file; ``line`` is the 1-based physical line, when known."""

    def __init__(self, message: str, line: int | None = None):
        self.line = line
        super().__init__(f"line {line}: {message}" if line is not None else message)


def _set_field_limit() -> None:
    # Extra columns may hold whole conversations; raise csv's 128 KiB field limit.
    limit = sys.maxsize
    while True:
        try:
            csv.field_size_limit(limit)
            return
        except OverflowError:
            limit //= 10


def _validate_cell(key: tuple[str, str, str], line: int) -> None:
    model_a, model_b, winner = key
    if winner not in WINNER_LABELS:
        raise VotesFileError(
            f"unknown winner {winner!r}; expected one of {', '.join(repr(w) for w in WINNER_LABELS)}", line
        )
    if not model_a.strip():
        raise VotesFileError("model_a is empty", line)
    if not model_b.strip():
        raise VotesFileError("model_b is empty", line)
    if model_a == model_b:
        raise VotesFileError(f"model_a and model_b are the same model ({model_a!r})", line)


def read_votes_rows(lines: Iterable[str]) -> dict[tuple[str, str, str], int]:
    """Count votes per (model_a, model_b, winner label) from CSV text lines."""
    _set_field_limit()
    reader = csv.reader(lines, strict=True)
    try:
        header = next(reader, None)
        if header is None:
            raise VotesFileError("the file is empty; expected a header with model_a, model_b, winner", 1)
        names = [h.strip().lstrip("\ufeff").strip() for h in header]
        missing = [c for c in REQUIRED_COLUMNS if c not in names]
        if missing:
            raise VotesFileError(
                f"missing column(s) {', '.join(missing)} in the header (found: {', '.join(names) or 'nothing'})",
                reader.line_num,
            )
        ia, ib, iw = (names.index(c) for c in REQUIRED_COLUMNS)
        width = len(names)
        counts: dict[tuple[str, str, str], int] = {}
        get = counts.get
        for row in reader:
            if len(row) != width:
                if not row:
                    continue  # blank line
                raise VotesFileError(f"expected {width} fields as in the header, found {len(row)}", reader.line_num)
            key = (row[ia], row[ib], row[iw])
            seen = get(key)
            if seen is None:
                _validate_cell(key, reader.line_num)
                counts[key] = 1
            else:
                counts[key] = seen + 1
    except csv.Error as exc:
        raise VotesFileError(f"malformed CSV ({exc})", reader.line_num) from None
    return counts


def _decode_error_line(path) -> int:
    with open(path, "rb") as fh:
        for number, raw in enumerate(fh, start=1):
            try:
                raw.decode("utf-8")
            except UnicodeDecodeError:
                return number
    return 1


def read_votes_csv(source: str | os.PathLike | io.TextIOBase) -> VoteTable:
    """Read a votes CSV (a path or an open text file) into a :class:`VoteTable`."""
    if isinstance(source, (str, os.PathLike)):
        try:
            with open(source, encoding="utf-8-sig", newline="", buffering=1 << 20) as fh:
                counts = read_votes_rows(fh)
        except UnicodeDecodeError:
            raise VotesFileError("the file is not valid UTF-8", _decode_error_line(source)) from None
    else:
        counts = read_votes_rows(source)
    return VoteTable.from_counts(
        (model_a, model_b, WINNER_LABELS[winner], count) for (model_a, model_b, winner), count in counts.items()
    )
