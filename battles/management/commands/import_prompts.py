"""python manage.py import_prompts POOL FILE [--valid-only] [--category-default X]"""

from django.core.management.base import BaseCommand

from arena.files import cli
from battles.catalog.imports.services import import_prompts


class Command(BaseCommand):
    help = (
        "Import prompts from a CSV or JSON Lines file into a pool (created if missing). Fields: text "
        "(required), category, tags (JSON list or 'a, b; c'), id or external_id. Every row is checked; "
        "bad rows are listed as 'line N: reason' and, unless --valid-only, nothing is imported. "
        "Prompts already in the pool (same normalised text) are reported and not stored twice. "
        "Exit status 1 when nothing was imported because of errors."
    )

    def add_arguments(self, parser):
        parser.add_argument("pool", help="name of the prompt pool; created if it does not exist")
        parser.add_argument("file", help="a .csv or .jsonl file (UTF-8, with or without BOM)")
        cli.add_common_arguments(parser, valid_only_help="import the valid rows even when other rows are bad")
        parser.add_argument(
            "--category-default", default="", metavar="CATEGORY", help="category for rows that have none"
        )

    def handle(self, *args, pool, file, valid_only, dry_run, max_bytes, category_default, **options):
        path = cli.check_readable(file)
        with path.open("rb") as stream:
            report = import_prompts(
                pool_name=pool,
                source=stream,
                filename=path.name,
                valid_only=valid_only,
                category_default=category_default,
                dry_run=dry_run,
                max_bytes=max_bytes,
            )
        cli.finish(self, report, path=file, valid_only=valid_only)
