"""python manage.py rebuild_vote_counts [--check]: the aggregated vote counts, recounted from the votes."""

from django.core.management.base import BaseCommand

from ratings import counts, tasks


class Command(BaseCommand):
    help = (
        "Recount the aggregated vote counts the boards are fitted from, and refit the default board. "
        "With --check only repair them if they differ from the votes (the periodic check), and say by how much."
    )

    def add_arguments(self, parser):
        parser.add_argument("--check", action="store_true", help="compare and repair only if they differ")

    def handle(self, *args, **options):
        check = options["check"]
        drift = counts.reconcile(reason="check" if check else "rebuild", force=not check)
        tasks.recompute_now()
        if drift:
            self.stdout.write(
                f"The counts differed from the votes in {drift.cells} cells ({drift.votes} votes); repaired."
            )
        else:
            self.stdout.write("The counts matched the votes." if check else "The counts were rebuilt.")
