"""What the import commands share: opening the file, printing the report, the exit status."""

from __future__ import annotations

from pathlib import Path

from django.core.management.base import CommandError

from arena.files.report import ImportReport


def check_readable(path: str) -> Path:
    """The path, if it names a readable regular file; else a CommandError naming the problem."""
    file = Path(path)
    if not file.exists():
        raise CommandError(f"{path}: no such file")
    if not file.is_file():
        raise CommandError(f"{path}: not a regular file")
    try:
        with file.open("rb"):
            pass
    except OSError as exc:
        raise CommandError(f"{path}: cannot be read ({exc.strerror})") from None
    return file


def add_common_arguments(parser, *, valid_only_help: str) -> None:
    parser.add_argument("--valid-only", action="store_true", help=valid_only_help)
    parser.add_argument(
        "--dry-run", action="store_true", help="check every row (the database included) and store nothing"
    )
    parser.add_argument(
        "--max-bytes", type=int, metavar="N", help="refuse a file larger than N bytes (default: the setting)"
    )


def finish(command, report: ImportReport, *, path: str, valid_only: bool, hint: str = "") -> None:
    """Print the report; raise CommandError (exit status 1) when nothing was imported because of errors."""
    lines = report.lines()
    command.stdout.write(f"{path}: {lines[0]}")
    for line in lines[1:]:
        command.stdout.write(line)
    if report.dry_run:
        command.stdout.write("dry run: nothing was stored")
        if not report.ok:
            raise CommandError(f"{report.error_count} error(s) in {path}")
        return
    if report.rejected:
        raise CommandError(f"{path} was refused; nothing was imported")
    if report.failed:
        if valid_only:
            raise CommandError(
                f"nothing imported: {path} has no valid new rows "
                f"({report.error_count} error(s), {report.duplicate_count} duplicate(s))"
            )
        raise CommandError(
            f"nothing imported: {report.error_count} error(s) in {path}; fix them, "
            "or pass --valid-only to import the valid rows"
        )
    if report.imported and hint:
        command.stdout.write(hint)
