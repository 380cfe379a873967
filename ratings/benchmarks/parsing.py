"""Parsing benchmark score files (CSV) into validated rows.

Columns (a header row is required; names are matched case-insensitively; the delimiter may
be a comma, a semicolon or a tab): ``model``, ``benchmark``, ``score`` (required), and
``higher_is_better`` (true/false, yes/no, 1/0, higher/lower; empty = not given), ``source``
and ``date`` (YYYY-MM-DD, or an ISO 8601 date-time whose date is used). An unknown column
is an error reported on the header line: its values would be lost, so the file is not
imported as it is; when the valid rows are imported anyway the column is ignored.

Within one file a benchmark × model pair may appear once (names compared ignoring case),
and every row of a benchmark that gives ``higher_is_better`` must give the same value.
Pure: no Django import; what the rows mean for the database is decided by the service.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import date, datetime
from typing import BinaryIO, TypeVar

from arena.files.reading import (
    FileRejected,
    check_repeated_columns,
    choose_delimiter,
    excerpt,
    iter_data_records,
    open_csv,
    unknown_columns_problem,
)
from arena.files.report import RowError

REQUIRED = ("model", "benchmark", "score")
COLUMNS = (*REQUIRED, "higher_is_better", "source", "date")
# Mirror the model fields (a test keeps them in step).
MODEL_NAME_MAX = 200
BENCHMARK_NAME_MAX = 100
SOURCE_MAX = 500
# Names the comparison pages and the API use for the weighted composite.
RESERVED_BENCHMARKS = ("composite",)

T = TypeVar("T")

_NUMBER = re.compile(r"[+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?")
_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")
_DIRECTIONS = {
    "true": True,
    "yes": True,
    "1": True,
    "higher": True,
    "y": True,
    "t": True,
    "false": False,
    "no": False,
    "0": False,
    "lower": False,
    "n": False,
    "f": False,
}


@dataclass(frozen=True, slots=True)
class ScoreRow:
    line: int
    model: str
    benchmark: str
    score: float
    higher_is_better: bool | None = None  # None: the file does not say
    source: str = ""
    date: date | None = None


def parse_score(raw: str) -> float:
    """A finite decimal number; raises ValueError with a message for people."""
    value = raw.strip()
    if not value:
        raise ValueError("score is empty")
    if not _NUMBER.fullmatch(value):
        hint = ""
        if re.fullmatch(r"[+-]?\d+,\d+", value):
            hint = " (use a dot for decimals)"
        elif value.endswith("%"):
            hint = " (write the number without %)"
        raise ValueError(f"score {raw.strip()!r} is not a number{hint}")
    number = float(value)
    if not math.isfinite(number):
        raise ValueError(f"score {raw.strip()!r} is out of range")
    return number


def parse_direction(raw: str) -> bool | None:
    value = raw.strip().lower()
    if not value:
        return None
    if value not in _DIRECTIONS:
        raise ValueError(f"higher_is_better {raw.strip()!r} is not one of true/false, yes/no, 1/0, higher/lower")
    return _DIRECTIONS[value]


def parse_date(raw: str) -> date | None:
    value = raw.strip()
    if not value:
        return None
    try:
        if _DATE.fullmatch(value):
            return date.fromisoformat(value)
        if _DATE.match(value) and value[10:11] in ("T", " "):
            return datetime.fromisoformat(value.replace("Z", "+00:00")).date()
    except ValueError:
        pass
    raise ValueError(f"date {value!r} is not a date (use YYYY-MM-DD)")


def _name(raw: str, column: str, limit: int, problems: list[str]) -> str:
    name = " ".join(raw.split())  # inner runs of whitespace and stray newlines collapse to one space
    if not name:
        problems.append(f"{column} is empty")
    elif len(name) > limit:
        problems.append(f"{column} is longer than {limit} characters")
    return name


def _parsed(parse: Callable[[str], T], raw: str, problems: list[str]) -> T | None:
    """``parse(raw)``, or None with its ValueError's message added to ``problems``."""
    try:
        return parse(raw)
    except ValueError as exc:
        problems.append(str(exc))
        return None


def parse_scores(stream: BinaryIO, *, max_bytes: int, filename: str = "") -> Iterator[ScoreRow | RowError]:
    """Yield one ``ScoreRow`` or ``RowError`` per data row, in file order.

    Raises ``FileRejected`` for a problem with the whole file: too large, binary, not UTF-8
    text, empty, JSON, or a header without a required column.
    """
    first, lines = open_csv(stream, max_bytes=max_bytes, what="benchmark scores", columns=REQUIRED)
    delimiter, names = choose_delimiter(first, known=COLUMNS, required="score", filename=filename)
    missing = [column for column in REQUIRED if column not in names]
    if missing:
        raise FileRejected(
            f"missing column(s) {', '.join(missing)} in the header (expected a CSV header with model, "
            f"benchmark, score; the first line reads {excerpt(first)!r})",
            first.number,
        )
    check_repeated_columns(names, first.number)
    unknown = unknown_columns_problem(names, COLUMNS)
    if unknown:
        yield RowError(first.number, unknown, is_row=False)
    index = {name: names.index(name) for name in COLUMNS if name in names}
    seen: dict[tuple[str, str], int] = {}
    direction_of: dict[str, tuple[bool, int]] = {}
    for record in iter_data_records(
        lines, delimiter=delimiter, width=len(names), empty="the file has a header but no scores"
    ):
        if record.problem:
            yield RowError(record.line, record.problem)
            continue
        fields = record.fields

        def value(column: str, fields: list[str] = fields) -> str:
            return fields[index[column]] if column in index else ""

        problems: list[str] = []
        model = _name(value("model"), "model", MODEL_NAME_MAX, problems)
        benchmark = _name(value("benchmark"), "benchmark", BENCHMARK_NAME_MAX, problems)
        if benchmark.casefold() in RESERVED_BENCHMARKS:
            problems.append(f"{benchmark!r} is reserved for the weighted composite; rename the benchmark")
        score = _parsed(parse_score, value("score"), problems)
        direction = _parsed(parse_direction, value("higher_is_better"), problems)
        when = _parsed(parse_date, value("date"), problems)
        source = value("source").strip()
        if len(source) > SOURCE_MAX:
            problems.append(f"source is longer than {SOURCE_MAX} characters")
        if model and benchmark:
            key = (benchmark.casefold(), model.casefold())
            if key in seen:
                problems.append(f"{model!r} already has a score for {benchmark!r} on line {seen[key]}")
            if direction is not None:
                earlier = direction_of.get(benchmark.casefold())
                if earlier is not None and earlier[0] != direction:
                    problems.append(
                        f"higher_is_better for {benchmark!r} contradicts line {earlier[1]} "
                        f"({'true' if earlier[0] else 'false'})"
                    )
        if problems:
            yield RowError(record.line, "; ".join(problems))
            continue
        assert score is not None  # parse_score returns a number or records a problem
        seen[(benchmark.casefold(), model.casefold())] = record.line
        if direction is not None:
            direction_of.setdefault(benchmark.casefold(), (direction, record.line))
        yield ScoreRow(record.line, model, benchmark, score, direction, source, when)
