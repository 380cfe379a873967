"""Parsing prompt files (CSV or JSON Lines) into validated rows.

Accepted fields, in either format: ``text`` (required), ``category``,
``tags`` and ``id`` or ``external_id`` (the same thing: the prompt's id in
the source). Column and key names are matched case-insensitively. ``tags``
is a JSON list of strings or a string separated by commas or semicolons.

CSV needs a header row; the delimiter may be a comma, a semicolon or a tab
(whichever makes the header name ``text``). An unknown column is an error on
line 1: its values would be lost, so the file is not imported as it is; when
the valid rows are imported anyway the column is ignored. In JSON Lines an
unknown key makes that row bad.

The format is detected from the content (a line starting with ``{`` is JSON
Lines), then from the extension (.jsonl, .ndjson, .json).
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import BinaryIO

from arena.files.reading import (
    FileRejected,
    Line,
    check_repeated_columns,
    choose_delimiter,
    describe_json_type,
    excerpt,
    iter_data_records,
    iter_json_objects,
    looks_like_jsonl,
    open_text,
    quoted,
    split_keys,
    unknown_columns_problem,
)
from arena.files.report import RowError

COLUMNS = ("text", "category", "tags", "id", "external_id")
# Mirror the model's field lengths (a test keeps them in step).
CATEGORY_MAX = 50
EXTERNAL_ID_MAX = 200
TAG_MAX = 100

_TAG_SEPARATORS = re.compile(r"[,;]")


@dataclass(frozen=True, slots=True)
class PromptRow:
    line: int
    text: str
    category: str = ""
    tags: tuple[str, ...] = ()
    external_id: str = ""


def clean_text(value, *, max_chars: int, what: str = "text") -> tuple[str | None, str | None]:
    if value is None:
        return None, f"empty {what}"
    if not isinstance(value, str):
        return None, f"{what} must be a string, found {describe_json_type(value)}"
    text = value.replace("\r\n", "\n").replace("\r", "\n").strip()
    if not text:
        return None, f"empty {what}"
    if len(text) > max_chars:
        return None, f"{what} too long ({len(text):,} characters; the limit is {max_chars:,})"
    return text, None


def _tags(value) -> tuple[tuple[str, ...], str | None]:
    if value is None:
        return (), None
    if isinstance(value, str):
        raw = value.strip()
        if not raw:
            return (), None
        if raw.startswith("["):
            try:
                value = json.loads(raw)
            except (json.JSONDecodeError, RecursionError):
                return (), 'tags: invalid JSON list (use ["a", "b"] or a, b)'
        else:
            value = _TAG_SEPARATORS.split(raw)
    if not isinstance(value, list):
        return (), f"tags must be a list of strings, found {describe_json_type(value)}"
    tags: list[str] = []
    for tag in value:
        if not isinstance(tag, str):
            return (), f"tags must be strings, found {describe_json_type(tag)}"
        tag = tag.strip()
        if len(tag) > TAG_MAX:
            return (), f"a tag is longer than {TAG_MAX} characters"
        if tag and tag not in tags:
            tags.append(tag)
    return tuple(tags), None


def _external_id(values: dict) -> tuple[str, str | None]:
    found = []
    for key in ("id", "external_id"):
        value = values.get(key)
        if value is None or value == "":
            continue
        if isinstance(value, bool) or not isinstance(value, (str, int)):
            return "", f"{key} must be a string or an integer, found {describe_json_type(value)}"
        found.append(str(value).strip())
    found = [value for value in found if value]
    if len(set(found)) > 1:
        return "", "id and external_id differ; give one of them"
    external_id = found[0] if found else ""
    if len(external_id) > EXTERNAL_ID_MAX:
        return "", f"id longer than {EXTERNAL_ID_MAX} characters"
    return external_id, None


def clean_prompt(line: int, values: dict, *, max_chars: int, category_default: str = "") -> PromptRow | RowError:
    """Validate one row's values (strings from CSV, any JSON value from JSON Lines)."""
    problems = []
    text, problem = clean_text(values.get("text"), max_chars=max_chars)
    if problem:
        problems.append(problem)
    category = values.get("category")
    if category is None or category == "":
        category = category_default
    if not isinstance(category, str):
        problems.append(f"category must be a string, found {describe_json_type(category)}")
        category = ""
    category = category.strip()
    if len(category) > CATEGORY_MAX:
        problems.append(f"category longer than {CATEGORY_MAX} characters")
    tags, problem = _tags(values.get("tags"))
    if problem:
        problems.append(problem)
    external_id, problem = _external_id(values)
    if problem:
        problems.append(problem)
    if problems:
        return RowError(line, "; ".join(problems))
    assert text is not None  # clean_text gave a problem otherwise
    return PromptRow(line=line, text=text, category=category, tags=tags, external_id=external_id)


def _csv_rows(first: Line, lines, *, filename: str, max_chars: int, category_default: str):
    delimiter, names = choose_delimiter(first, known=COLUMNS, required="text", filename=filename)
    known = [name for name in names if name in COLUMNS]
    if not known:
        raise FileRejected(
            "the file is neither CSV with a header row (text, category, tags, id) nor JSON Lines "
            f"(one JSON object per line); the first line reads {excerpt(first)!r}",
            first.number,
        )
    if first.problem:
        raise FileRejected(f"the header is {first.problem}", first.number)
    if "text" not in names:
        raise FileRejected(f"missing column 'text' in the header (found: {quoted(names)})", first.number)
    check_repeated_columns(names, first.number)
    unknown = unknown_columns_problem(names, COLUMNS)
    if unknown:
        yield RowError(first.number, unknown, is_row=False)
    for record in iter_data_records(lines, delimiter=delimiter, width=len(names)):
        if record.problem:
            yield RowError(record.line, record.problem)
            continue
        values = {name: value for name, value in zip(names, record.fields) if name in COLUMNS}
        yield clean_prompt(record.line, values, max_chars=max_chars, category_default=category_default)


def _jsonl_rows(lines, *, max_chars: int, category_default: str):
    for line, obj, problem in iter_json_objects(lines):
        if problem:
            yield RowError(line, problem)
            continue
        assert obj is not None  # iter_json_objects gives an object whenever it gives no problem
        values, unknown = split_keys(obj, COLUMNS)
        if "text" not in values:
            yield RowError(line, "missing key 'text'" + (f" (found: {quoted(obj)})" if obj else ""))
            continue
        if unknown:
            yield RowError(line, unknown)
            continue
        yield clean_prompt(line, values, max_chars=max_chars, category_default=category_default)


def parse_prompts(
    stream: BinaryIO, *, max_bytes: int, max_chars: int, filename: str = "", category_default: str = ""
) -> Iterator[PromptRow | RowError]:
    """Yield one ``PromptRow`` or ``RowError`` per row of a prompts file, in file order.

    Raises ``FileRejected`` for a problem with the whole file: too large,
    binary, empty, neither CSV nor JSON Lines, a CSV header without ``text``.
    """
    first, lines = open_text(stream, max_bytes=max_bytes)
    if looks_like_jsonl(first, filename):
        rows = _jsonl_rows(lines, max_chars=max_chars, category_default=category_default)
    else:
        rows = _csv_rows(first, lines, filename=filename, max_chars=max_chars, category_default=category_default)
    any_row = False
    for row in rows:
        any_row = any_row or getattr(row, "is_row", True)
        yield row
    if not any_row:
        raise FileRejected("the file has a header but no prompts", None)
