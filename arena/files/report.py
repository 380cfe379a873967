"""What an import did, row by row: the one report shared by commands and the admin."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field

from arena.files.reading import FileRejected

# Counts are always exact; only the listed entries are capped, so that a file
# with a million bad rows cannot exhaust memory or flood a page.
MAX_LISTED = 1000


@dataclass
class ImportReport:
    rows: int = 0  # data rows read (not the header, not blank lines)
    valid: int = 0  # rows that passed validation and are not duplicates
    imported: int = 0  # rows stored
    errors: list[tuple[int | None, str]] = field(default_factory=list)
    duplicates: list[tuple[int, str]] = field(default_factory=list)
    error_count: int = 0
    duplicate_count: int = 0
    notes: list[str] = field(default_factory=list)
    rejected: bool = False  # the file as a whole was refused; no row can be imported
    dry_run: bool = False
    preview: list[dict] = field(default_factory=list)
    max_listed: int = MAX_LISTED

    @property
    def ok(self) -> bool:
        """True when nothing is wrong with the file or any row (duplicates are not errors)."""
        return not self.rejected and self.error_count == 0

    @property
    def failed(self) -> bool:
        """True when nothing was imported because of errors."""
        return not self.ok and self.imported == 0

    def error(self, line: int | None, reason: str) -> None:
        self.error_count += 1
        if len(self.errors) < self.max_listed:
            self.errors.append((line, reason))

    def duplicate(self, line: int, reason: str) -> None:
        self.duplicate_count += 1
        if len(self.duplicates) < self.max_listed:
            self.duplicates.append((line, reason))

    def reject(self, reason: str, line: int | None = None) -> None:
        self.rejected = True
        self.error(line, reason)

    def note(self, message: str) -> None:
        self.notes.append(message)

    def sorted_errors(self) -> list[tuple[int | None, str]]:
        return sorted(self.errors, key=lambda entry: (entry[0] is not None, entry[0] or 0))

    def summary(self) -> str:
        if self.rejected:
            return "file refused: nothing imported"
        parts = [f"{self.rows} row{'s' if self.rows != 1 else ''} read"]
        if self.dry_run:
            parts.append(f"{self.valid} would be imported")
        else:
            parts.append(f"{self.imported} imported")
        parts.append(f"{self.duplicate_count} duplicate{'s' if self.duplicate_count != 1 else ''}")
        parts.append(f"{self.error_count} error{'s' if self.error_count != 1 else ''}")
        return ", ".join(parts)

    def lines(self) -> list[str]:
        """The report as text: the summary, then one line per bad row and per duplicate."""
        out = [self.summary()]
        for line, reason in self.sorted_errors():
            out.append(f"line {line}: {reason}" if line is not None else f"file: {reason}")
        if self.error_count > len(self.errors):
            out.append(f"... and {self.error_count - len(self.errors)} more errors")
        for line, reason in sorted(self.duplicates):
            out.append(f"line {line}: duplicate, not stored ({reason})")
        if self.duplicate_count > len(self.duplicates):
            out.append(f"... and {self.duplicate_count - len(self.duplicates)} more duplicates")
        out.extend(self.notes)
        return out


@dataclass(frozen=True, slots=True)
class RowError:
    line: int | None
    reason: str
    is_row: bool = True  # False for a problem with the header rather than with a row


def iter_good_rows(report: ImportReport, items: Iterable) -> Iterator:
    """The parsed rows that are good; a ``RowError`` is counted and listed in the report instead."""
    for item in items:
        if isinstance(item, RowError):
            report.rows += item.is_row
            report.error(item.line, item.reason)
        else:
            report.rows += 1
            yield item


def read_rows(report: ImportReport, items: Iterable) -> list | None:
    """The good rows as a list, or None when the file is refused whole (the report says why)."""
    try:
        return list(iter_good_rows(report, items))
    except FileRejected as exc:
        report.reject(exc.reason, exc.line)
        return None
