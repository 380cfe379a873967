"""python manage.py import_benchmarks FILE.csv [--valid-only]"""

from django.core.management.base import BaseCommand

from arena.files import cli
from ratings.benchmarks.services import import_benchmarks


class Command(BaseCommand):
    help = (
        "Import benchmark scores from CSV (UTF-8) with the columns model, benchmark, score and optionally "
        "higher_is_better, source, date (YYYY-MM-DD). A benchmark x model already stored has its score "
        "replaced. Model names resolve to LLMs by alias (admin: Model aliases), exact name or name ignoring "
        "case; unresolved names are kept and listed. Nothing is imported when any row is bad, unless "
        "--valid-only. Exit status 1 when nothing was imported because of errors."
    )

    def add_arguments(self, parser):
        parser.add_argument("file", help="a .csv file (UTF-8)")
        cli.add_common_arguments(parser, valid_only_help="import the valid rows even when other rows are bad")

    def handle(self, *args, file, valid_only, dry_run, max_bytes, **options):
        path = cli.check_readable(file)
        with path.open("rb") as stream:
            report = import_benchmarks(
                source=stream, filename=path.name, valid_only=valid_only, dry_run=dry_run, max_bytes=max_bytes
            )
        cli.finish(
            self,
            report,
            path=file,
            valid_only=valid_only,
            hint="hint: see the comparison with `python manage.py benchmark_report --format csv`.",
        )
