"""Streaming records as CSV, a JSON array or JSON Lines, in constant memory.

- ``csv``: a header row, then one row per record; lists are joined with ``;``; every text
  cell is neutralised against formula injection (``arena.csvsafe``). UTF-8 without BOM.
- ``json``: one JSON array; each element on its own line, written as it is read, so the
  response is a valid JSON document and never held whole in memory.
- ``jsonl``: JSON Lines, one object per line (easiest to process record by record).

Output is grouped into pieces of about ``PIECE_CHARS`` characters so that a large export is
not sent as one write per record.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Iterator

from arena.csvsafe import csv_line

FORMATS = {
    "csv": "text/csv; charset=utf-8",
    "json": "application/json",
    "jsonl": "application/x-ndjson",
}
PIECE_CHARS = 64 * 1024


def _cell(value):
    if isinstance(value, list):
        return ";".join(str(item) for item in value)
    return value


def _json(record: dict) -> str:
    return json.dumps(record, ensure_ascii=False, separators=(",", ":"), allow_nan=False)


def _pieces(parts: Iterable[str]) -> Iterator[str]:
    buffer: list[str] = []
    size = 0
    for part in parts:
        buffer.append(part)
        size += len(part)
        if size >= PIECE_CHARS:
            yield "".join(buffer)
            buffer, size = [], 0
    if buffer:
        yield "".join(buffer)


def render(fmt: str, fields: tuple[str, ...], records: Iterable[dict]) -> Iterator[str]:
    """The records in ``fmt`` (csv, json or jsonl), as string pieces."""
    if fmt == "csv":

        def parts():
            yield csv_line(fields)
            for record in records:
                yield csv_line(_cell(record.get(name)) for name in fields)
    elif fmt == "json":

        def parts():
            yield "["
            first = True
            for record in records:
                yield ("\n" if first else ",\n") + _json(record)
                first = False
            yield "\n]\n"
    elif fmt == "jsonl":

        def parts():
            for record in records:
                yield _json(record) + "\n"
    else:
        raise ValueError(f"unknown format {fmt!r}")
    return _pieces(parts())


def mapped(rows: Iterable, to_record: Callable[[object], dict]) -> Iterator[dict]:
    for row in rows:
        yield to_record(row)
