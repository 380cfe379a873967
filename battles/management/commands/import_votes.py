"""python manage.py import_votes FILE.csv [--valid-only]"""

from django.core.management.base import BaseCommand

from arena.files import cli
from battles.catalog.imports.services import import_votes


class Command(BaseCommand):
    help = (
        "Import historical votes from CSV with the columns of 'python -m ratings': model_a, model_b, "
        "winner (model_a, model_b, tie, 'tie (bothbad)' or both_bad); optional timestamp (ISO 8601 or "
        "Unix seconds) becomes the vote's date; other columns are ignored. Unknown model names become "
        "retired imported LLMs. The file is streamed (any length, constant memory) and stored in one "
        "transaction. Exit status 1 when nothing was imported because of errors."
    )

    def add_arguments(self, parser):
        parser.add_argument("file", help="a .csv file (UTF-8)")
        cli.add_common_arguments(parser, valid_only_help="import the valid rows even when other rows are bad")
        parser.add_argument("--batch-size", type=int, default=5000, metavar="N", help="votes per INSERT (default 5000)")

    def handle(self, *args, file, valid_only, dry_run, max_bytes, batch_size, **options):
        path = cli.check_readable(file)
        report = import_votes(
            path=path, valid_only=valid_only, dry_run=dry_run, max_bytes=max_bytes, batch_size=max(1, batch_size)
        )
        cli.finish(
            self,
            report,
            path=file,
            valid_only=valid_only,
            hint="The leaderboard is recomputed in the background; imported votes appear there shortly.",
        )
