"""python manage.py import_generations FILE.jsonl [--pool NAME] [--valid-only]"""

from django.core.management.base import BaseCommand

from arena.files import cli
from battles.catalog.imports.services import import_generations


class Command(BaseCommand):
    help = (
        "Import existing answers from JSON Lines, one object per line: the prompt as prompt_id or "
        "external_id (its external id) and/or prompt (its text); model (the LLM's name); the answer as "
        "answer or response; optional sample, latency_ms, ttft_ms, tokens_in, tokens_out, cost. 'text' "
        "is the answer when the row names its prompt and has no answer/response, and the prompt text "
        "when it has answer/response but no prompt. Unknown model names become retired imported LLMs. "
        "A prompt found in no pool is added to --pool (the row is bad without --pool). Answers already "
        "stored for (prompt, model version, sample) are duplicates, so a second import of the same file "
        "stores nothing. Exit status 1 when nothing was imported because of errors."
    )

    def add_arguments(self, parser):
        parser.add_argument("file", help="a .jsonl file (UTF-8)")
        parser.add_argument(
            "--pool", metavar="NAME", help="look prompts up in this pool only, and add the ones not found to it"
        )
        cli.add_common_arguments(parser, valid_only_help="import the valid rows even when other rows are bad")

    def handle(self, *args, file, pool, valid_only, dry_run, max_bytes, **options):
        path = cli.check_readable(file)
        with path.open("rb") as stream:
            report = import_generations(
                source=stream, pool_name=pool, valid_only=valid_only, dry_run=dry_run, max_bytes=max_bytes
            )
        cli.finish(self, report, path=file, valid_only=valid_only)
