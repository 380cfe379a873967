"""CSV that is safe to open in a spreadsheet.

A cell whose text begins with = + - @, a tab or a carriage return can be run as a formula
by Excel, LibreOffice or Google Sheets (CSV injection), so such text is prefixed with a
single quote. This applies to every text cell (names, comments, prompts, answers, dates
are never affected). Numbers the app computes (int, float) are written as numbers: a
negative gap stays -3, not '-3, so a spreadsheet still reads it as a number; they cannot
carry a formula.
"""

from __future__ import annotations

import csv
from collections.abc import Iterable, Iterator

DANGEROUS_STARTS = ("=", "+", "-", "@", "\t", "\r")


def safe_cell(value) -> str | int | float:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return value
    text = str(value)
    if text.startswith(DANGEROUS_STARTS):
        return "'" + text
    return text


class _Line:
    """A file-like object whose write() returns what it was given, for csv.writer."""

    def write(self, value: str) -> str:
        return value


def csv_line(cells: Iterable) -> str:
    """One CSV record (with its line ending) of neutralised cells."""
    return csv.writer(_Line(), lineterminator="\r\n").writerow([safe_cell(c) for c in cells])


def csv_lines(header: Iterable[str], rows: Iterable[Iterable]) -> Iterator[str]:
    yield csv_line(header)
    for row in rows:
        yield csv_line(row)
