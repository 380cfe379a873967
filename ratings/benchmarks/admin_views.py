"""Admin pages to upload benchmark scores: upload, preview with the full report, confirm.

The same flow and limits as the prompt upload (``battles.admin.prompt_upload.UploadFlow``): the
file waits on disk under a random token between the preview and the confirmation, and the
preview is a dry run of the whole import, so what it shows is exactly what confirming stores.
"""

from __future__ import annotations

from arena.files.flow import UploadFlow
from ratings.benchmarks.services import import_benchmarks


class BenchmarkUpload(UploadFlow):
    url_name = "ratings_benchmark"
    upload_template = "admin/ratings/benchmark/upload.html"
    preview_template = "admin/ratings/benchmark/upload_preview.html"
    upload_title = "Upload benchmark scores"
    preview_title = "Check the benchmark scores"
    noun = "score"
    kind = "benchmark-scores"  # kept in the upload's metadata: a prompt upload's token is not accepted here
    preview_rows = 20
    missing_file = "Choose a CSV file to upload."

    def run(self, stream, meta, *, dry_run, valid_only, preview_rows):
        return import_benchmarks(
            source=stream,
            filename=meta.get("filename", ""),
            valid_only=valid_only,
            dry_run=dry_run,
            preview_rows=preview_rows,
        )

    def stored(self, report, valid_only) -> bool:
        return not report.rejected and bool(report.imported)

    def success_message(self, report, meta) -> str:
        parts = [f"Imported {report.imported} score(s)"]
        if report.error_count:
            parts.append(f"{report.error_count} bad row(s) skipped")
        return "; ".join(parts) + ". " + " ".join(report.notes)


urls = BenchmarkUpload().urls
