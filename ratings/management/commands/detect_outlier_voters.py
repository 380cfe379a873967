from django.core.management.base import BaseCommand

from ratings import quality


class Command(BaseCommand):
    help = "Run the sequential outlier test over every voter; flag (keep, exclude) implausible voters' votes."

    def add_arguments(self, parser):
        parser.add_argument("--alpha", type=float, default=None, help="Significance level (default: OUTLIER_ALPHA)")

    def handle(self, *args, **options):
        flagged = quality.detect_outlier_voters(alpha=options["alpha"])
        self.stdout.write(f"{len(flagged)} voter(s) flagged as outliers.")
        for check in flagged:
            self.stdout.write(f"  {check.voter}: {check.votes} votes, adjusted p = {check.p_value:.2g}")
