"""One audit entry per stored import (the counts and the file's name, never its rows)."""

from __future__ import annotations

import os

from arena.audit.recording import Action, record
from arena.files.report import ImportReport


def record_import(action: str, report: ImportReport, object_type: str, object_id="", object_repr="", **detail) -> None:
    """Call inside the import's transaction, with ``imported=`` the rows it stores."""
    if isinstance(detail.get("file"), os.PathLike):
        detail["file"] = os.fspath(detail["file"])
    record(
        action,
        object_type=object_type,
        object_id=object_id,
        object_repr=object_repr,
        after={"duplicates": report.duplicate_count, "bad_rows_skipped": report.error_count, **detail},
        note="; ".join(report.notes),
    )


__all__ = ["Action", "record_import"]
