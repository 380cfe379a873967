"""Reading untrusted text files: size limit, encoding, line numbers, CSV and JSON Lines.

A file arrives as a binary file object. It is read in chunks and refused as
soon as it passes the size limit, so a huge file is never held in memory.
Lines are split on bytes (``\\n``, ``\\r\\n`` or a lone ``\\r``) before they
are decoded, which is safe for UTF-8 and lets a bad byte be named by line and
byte offset. A line that is not valid UTF-8 makes only its row bad; NUL bytes,
UTF-16 and well-known binary formats refuse the whole file.
"""

from __future__ import annotations

import csv
import itertools
import json
import sys
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import BinaryIO

CHUNK_SIZE = 64 * 1024
UTF8_BOM = b"\xef\xbb\xbf"

# Checked before the NUL test so that the message can say what the file is.
_SIGNATURES = (
    (b"\xff\xfe\x00\x00", "UTF-32 text; save it as UTF-8"),
    (b"\x00\x00\xfe\xff", "UTF-32 text; save it as UTF-8"),
    (b"\xff\xfe", "UTF-16 text; save it as UTF-8"),
    (b"\xfe\xff", "UTF-16 text; save it as UTF-8"),
    (b"PK\x03\x04", "a ZIP archive (an Excel .xlsx workbook?); export the sheet as CSV UTF-8"),
    (b"\xd0\xcf\x11\xe0", "an old Office document (.xls?); export the sheet as CSV UTF-8"),
    (b"%PDF", "a PDF document, not CSV or JSON Lines"),
    (b"\x1f\x8b", "a gzip archive; decompress it first"),
    (b"\x89PNG", "a PNG image, not CSV or JSON Lines"),
    (b"\xff\xd8\xff", "a JPEG image, not CSV or JSON Lines"),
)

JSONL_EXTENSIONS = (".jsonl", ".ndjson", ".json")
CSV_DELIMITERS = (",", ";", "\t")


class FileRejected(Exception):
    """The file as a whole cannot be imported; ``line`` is 1-based when known."""

    def __init__(self, reason: str, line: int | None = None):
        super().__init__(f"line {line}: {reason}" if line is not None else reason)
        self.reason = reason
        self.line = line


@dataclass(frozen=True, slots=True)
class Line:
    number: int  # 1-based physical line
    offset: int  # byte offset of the line's first byte in the file
    text: str  # decoded, line ending kept; undecodable bytes replaced by U+FFFD
    problem: str | None = None  # why the bytes are not valid UTF-8


@dataclass(frozen=True, slots=True)
class Record:
    """One CSV record; ``line`` is the physical line it starts on."""

    line: int
    fields: list[str]
    problem: str | None = None  # malformed CSV or bad UTF-8: the record cannot be used


def human_size(n: int) -> str:
    for unit, size in (("GiB", 1 << 30), ("MiB", 1 << 20), ("KiB", 1 << 10)):
        if n >= size:
            value = n / size
            return f"{value:.0f} {unit}" if value == int(value) else f"{value:.1f} {unit}"
    return f"{n} bytes"


def _decode(raw: bytes, number: int, offset: int) -> Line:
    try:
        return Line(number, offset, raw.decode("utf-8"))
    except UnicodeDecodeError as exc:
        byte = raw[exc.start]
        problem = (
            f"not valid UTF-8 (byte 0x{byte:02X} at byte offset {offset + exc.start}; "
            "the file may be Latin-1 or Windows-1252: save it as UTF-8)"
        )
        return Line(number, offset, raw.decode("utf-8", "replace"), problem)


def _check_start(head: bytes) -> None:
    for signature, what in _SIGNATURES:
        if head.startswith(signature):
            raise FileRejected(f"this file is {what}", 1)


def _refuse_nul(data: bytes, first_line: int, data_offset: int) -> None:
    position = data.find(b"\x00")
    if position < 0:
        return
    before = data[:position]
    line = first_line + before.count(b"\n") + before.count(b"\r") - before.count(b"\r\n")
    raise FileRejected(
        f"this is a binary file, not CSV or JSON Lines text (NUL byte at byte offset {data_offset + position})",
        line,
    )


def iter_lines(stream: BinaryIO, *, max_bytes: int, chunk_size: int = CHUNK_SIZE) -> Iterator[Line]:
    """Yield the file's lines, decoded, numbered from 1, with a UTF-8 BOM removed.

    Raises ``FileRejected`` once more than ``max_bytes`` have been read (never
    reading further), and for binary content.
    """
    total = 0
    number = 0
    offset = 0  # file offset of the first pending byte
    pending: list[bytes] = []
    first = True
    while True:
        chunk = stream.read(min(chunk_size, max_bytes + 1 - total)) or b""
        total += len(chunk)
        if total > max_bytes:
            raise FileRejected(
                f"the file is larger than the limit of {human_size(max_bytes)}; it was not read past that point"
            )
        if first:
            first = False
            _check_start(chunk)
            if chunk.startswith(UTF8_BOM):
                chunk = chunk[len(UTF8_BOM) :]
                offset = len(UTF8_BOM)
        at_eof = not chunk
        if b"\x00" in chunk:
            _refuse_nul(b"".join(pending) + chunk, number + 1, offset)
        # A chunk with no line break only extends the current line: keep the
        # pieces and join once, so a huge single line costs linear time.
        if not at_eof and b"\n" not in chunk and b"\r" not in chunk and not (pending and pending[-1].endswith(b"\r")):
            pending.append(chunk)
            continue
        data = b"".join(pending) + chunk
        pending = []
        parts = data.splitlines(keepends=True)
        if not at_eof and parts:
            last = parts[-1]
            # An unterminated last line, or a \r whose \n may be in the next chunk.
            if not last.endswith((b"\n", b"\r")) or last.endswith(b"\r"):
                pending.append(parts.pop())
        for raw in parts:
            number += 1
            yield _decode(raw, number, offset)
            offset += len(raw)
        if at_eof:
            return


def peek_first_content_line(lines: Iterator[Line]) -> tuple[Line | None, Iterator[Line]]:
    """The first line with something on it, and an iterator over all lines again."""
    seen: list[Line] = []
    for line in lines:
        seen.append(line)
        if line.text.strip():
            return line, itertools.chain(seen, lines)
    return None, iter(seen)


def _raise_field_limit() -> None:
    # A prompt or an answer can exceed csv's default 128 KiB field limit; the
    # file size limit bounds them instead.
    limit = sys.maxsize
    while True:
        try:
            csv.field_size_limit(limit)
            return
        except OverflowError:
            limit //= 10


_CSV_MESSAGES = {
    "unexpected end of data": "a quoted field is never closed (unexpected end of file)",
}


def iter_csv_records(lines: Iterable[Line], *, delimiter: str = ",") -> Iterator[Record]:
    """Yield CSV records with the physical line each starts on; blank records are skipped.

    A malformed record is yielded with ``problem`` set and reading goes on with
    the next line.
    """
    _raise_field_limit()
    consumed: list[Line] = []

    def feed():
        for line in lines:
            consumed.append(line)
            yield line.text

    reader = csv.reader(feed(), delimiter=delimiter, strict=True)
    while True:
        try:
            fields = next(reader)
        except StopIteration:
            return
        except csv.Error as exc:
            message = str(exc)
            start = consumed[0].number if consumed else None
            consumed.clear()
            yield Record(start or 0, [], f"malformed CSV: {_CSV_MESSAGES.get(message, message)}")
            continue
        if not consumed:  # cannot happen with csv's line-at-a-time reading; be safe
            continue
        start = consumed[0].number
        bad = next((line for line in consumed if line.problem), None)
        consumed.clear()
        if not fields or not any(field.strip() for field in fields):
            continue
        problem = None
        if bad is not None:
            problem = bad.problem if bad.number == start else f"{bad.problem}, on line {bad.number}"
        yield Record(start, fields, problem)


def normalise_column(name: str) -> str:
    return name.strip().strip("\ufeff").strip().lower()


def parse_csv_header(line: Line, delimiter: str) -> list[str]:
    try:
        fields = next(csv.reader([line.text], delimiter=delimiter, strict=True), [])
    except csv.Error:
        fields = line.text.split(delimiter)
    return [normalise_column(field) for field in fields]


def choose_delimiter(line: Line, *, known: Iterable[str], required: str, filename: str = "") -> tuple[str, list[str]]:
    """The delimiter under which the header names the required column (else the most known ones)."""
    known = set(known)
    candidates = list(CSV_DELIMITERS)
    if filename.lower().endswith(".tsv"):
        candidates.remove("\t")
        candidates.insert(0, "\t")
    best = (0, candidates[0], parse_csv_header(line, candidates[0]))
    for delimiter in candidates:
        names = parse_csv_header(line, delimiter)
        if required in names:
            return delimiter, names
        score = len(known & set(names))
        if score > best[0]:
            best = (score, delimiter, names)
    return best[1], best[2]


def field_count_problem(expected: int, found: int) -> str:
    problem = f"expected {expected} field{'s' if expected != 1 else ''} as in the header, found {found}"
    if found > expected:
        problem += " (quote a field that contains the delimiter)"
    return problem


def quoted(names: Iterable) -> str:
    return ", ".join(repr(name) for name in names)


def excerpt(line: Line, length: int = 80) -> str:
    """The line stripped and cut to ``length`` characters, for a message."""
    shown = line.text.strip()
    return shown[:length] + ("..." if len(shown) > length else "")


def open_text(stream: BinaryIO, *, max_bytes: int) -> tuple[Line, Iterator[Line]]:
    """The first line with something on it, and all the lines; refuses an empty file."""
    first, lines = peek_first_content_line(iter_lines(stream, max_bytes=max_bytes))
    if first is None:
        raise FileRejected("the file is empty")
    return first, lines


def open_csv(stream: BinaryIO, *, max_bytes: int, what: str, columns: Iterable[str]) -> tuple[Line, Iterator[Line]]:
    """Like ``open_text`` for a file that must be CSV: the header line, and all the lines.

    Refuses JSON (saying that ``what`` is read from CSV with ``columns``) and a header that is not UTF-8.
    """
    first, lines = open_text(stream, max_bytes=max_bytes)
    if first.text.lstrip().startswith(("{", "[")):
        raise FileRejected(f"this looks like JSON; {what} are read from CSV with columns {', '.join(columns)}", 1)
    if first.problem:
        raise FileRejected(f"the header is {first.problem}", first.number)
    return first, lines


def check_repeated_columns(names: list[str], line: int) -> None:
    repeated = sorted({name for name in names if name and names.count(name) > 1})
    if repeated:
        raise FileRejected(f"column(s) {quoted(repeated)} appear more than once in the header", line)


def unknown_columns_problem(names: Iterable[str], columns: tuple[str, ...]) -> str | None:
    """The header problem for columns not in ``columns``, whose values would be lost; None when all are known."""
    unknown = [name for name in names if name not in columns]
    if not unknown:
        return None
    label = "unknown column" if len(unknown) == 1 else "unknown columns"
    return f"{label} {quoted(unknown)} (known: {', '.join(columns)}); its values are not imported"


def iter_data_records(
    lines: Iterable[Line], *, delimiter: str, width: int, empty: str | None = None
) -> Iterator[Record]:
    """The CSV records after the header; one whose field count is not ``width`` gets that as its problem.

    With ``empty``, raises ``FileRejected(empty)`` at the end when there was no record.
    """
    records = iter_csv_records(lines, delimiter=delimiter)
    next(records, None)  # the header, already read
    any_record = False
    for record in records:
        any_record = True
        if not record.problem and len(record.fields) != width:
            record = Record(record.line, record.fields, field_count_problem(width, len(record.fields)))
        yield record
    if empty is not None and not any_record:
        raise FileRejected(empty)


def describe_json_type(value) -> str:
    if isinstance(value, list):
        return "a list"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, bool):
        return "true/false"
    if value is None:
        return "null"
    if isinstance(value, (int, float)):
        return "a number"
    return type(value).__name__


def iter_json_objects(lines: Iterable[Line]) -> Iterator[tuple[int, dict | None, str | None]]:
    """Yield (line, object, problem) for each non-blank JSON Lines line."""
    for line in lines:
        text = line.text.strip()
        if not text:
            continue
        if line.problem:
            yield line.number, None, line.problem
            continue
        try:
            value = json.loads(text)
        except json.JSONDecodeError as exc:
            yield line.number, None, f"invalid JSON ({exc.msg} at column {exc.colno})"
            continue
        except RecursionError:
            yield line.number, None, "invalid JSON (nested too deeply)"
            continue
        if not isinstance(value, dict):
            yield line.number, None, f"expected a JSON object, found {describe_json_type(value)}"
            continue
        yield line.number, value, None


def split_keys(obj: dict, known: tuple[str, ...]) -> tuple[dict, str | None]:
    """A JSON object's values under normalised known keys, and the problem its unknown keys make, if any."""
    values = {}
    unknown = []
    for key, value in obj.items():
        name = normalise_column(key)
        if name in known:
            values[name] = value
        else:
            unknown.append(key)
    problem = f"unknown key(s) {quoted(unknown)} (known: {', '.join(known)})" if unknown else None
    return values, problem


def looks_like_jsonl(first: Line, filename: str) -> bool:
    """Content decides; the extension decides only when the content is no help."""
    text = first.text.strip()
    if text.startswith("["):
        raise FileRejected("this is a JSON array, not JSON Lines: write one JSON object per line", first.number)
    if text.startswith("{"):
        return True
    return filename.lower().endswith(JSONL_EXTENSIONS)
