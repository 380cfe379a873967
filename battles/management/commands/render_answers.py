from django.core.management.base import BaseCommand

from battles.catalog.answer_html import render_answers


class Command(BaseCommand):
    help = (
        "Render and store the HTML of finished answers that have none; with --stale, also of those rendered "
        "by another version of the renderer (run after an upgrade that changes it)."
    )

    def add_arguments(self, parser):
        parser.add_argument("--stale", action="store_true", help="also answers whose stored HTML is out of date")

    def handle(self, *args, stale: bool = False, **options):
        count = render_answers(stale=stale)
        self.stdout.write(f"rendered the HTML of {count} answers")
