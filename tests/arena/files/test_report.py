"""The import report: exact counts, capped listings, ok/failed. No database."""

from arena.files.report import ImportReport


def test_counts_stay_exact_when_the_listing_is_capped():
    report = ImportReport(max_listed=3)
    for line in range(2, 12):
        report.error(line, "empty text")
    assert report.error_count == 10 and len(report.errors) == 3
    assert report.lines()[-1] == "... and 7 more errors"


def test_errors_are_listed_by_line_with_file_level_problems_first():
    report = ImportReport()
    report.error(9, "b")
    report.error(2, "a")
    report.reject("the file changed")
    assert report.lines()[1:] == ["file: the file changed", "line 2: a", "line 9: b"]


def test_duplicates_are_not_errors():
    report = ImportReport(rows=2, imported=1)
    report.duplicate(3, "same text as line 2")
    assert report.ok and not report.failed
    assert "line 3: duplicate, not stored (same text as line 2)" in report.lines()


def test_failed_means_errors_and_nothing_imported():
    report = ImportReport(rows=2)
    report.error(2, "empty text")
    assert report.failed
    report.imported = 1
    assert not report.failed and not report.ok
