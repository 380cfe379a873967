"""python manage.py benchmark_report [--benchmark NAME] [--style-control] --format csv|json"""

import json

from django.core.management.base import BaseCommand, CommandError

from arena.csvsafe import csv_line
from ratings.benchmarks import services
from ratings.models import Benchmark

COLUMNS = (
    "model",
    "benchmark",
    "benchmark_rank",
    "arena_rank",
    "arena_rank_best",
    "arena_rank_worst",
    "gap",
    "flagged",
)


def _number(value: float):
    return int(value) if float(value).is_integer() else round(float(value), 2)


def _correlation(label: str, c, *, too_few: bool) -> str:
    if too_few:
        return f"{label} n/a (too few models to correlate)"
    if c.estimate is None:
        return f"{label} n/a"
    if c.lower is None:
        return f"{label} {c.estimate:.3f}"
    return f"{label} {c.estimate:.3f} [{c.lower:.3f}, {c.upper:.3f}]"


class Command(BaseCommand):
    help = (
        "Print, per model and benchmark, the benchmark rank, the arena rank with its interval "
        "(best and worst rank consistent with the 95% intervals), the vibes gap (benchmark rank - arena "
        "rank) and whether the model is flagged for hands-on evaluation (the votes say with 95% confidence that "
        "the benchmark misplaces it). Ranks are mid-ranks (ties share "
        "the average position) among the models that have both a score and an arena rating. The weighted "
        "composite is included as benchmark 'composite' when two or more benchmarks have a weight. A "
        "summary line per benchmark with Spearman and Kendall correlations (95% intervals from posterior draws of the "
        "arena ratings) goes "
        "to standard error."
    )

    def add_arguments(self, parser):
        parser.add_argument("--benchmark", metavar="NAME", help="one benchmark (name, ignoring case) or 'composite'")
        parser.add_argument(
            "--style-control",
            action="store_true",
            help="compare with the style-controlled board instead of the raw one",
        )
        parser.add_argument("--format", choices=("csv", "json"), default="csv")

    def handle(self, *args, benchmark, style_control, format, **options):
        try:
            report = services.compare(benchmark=benchmark, style_control=style_control)
        except Benchmark.DoesNotExist:
            names = ", ".join(Benchmark.objects.values_list("name", flat=True)) or "none imported yet"
            raise CommandError(f"no benchmark named {benchmark!r} (known: {names})") from None
        if not report.board.available:
            kind = "style-controlled board" if style_control else "leaderboard"
            raise CommandError(f"there is no {kind} yet; nothing to compare with")
        if not report.comparisons:
            raise CommandError("no benchmark scores have been imported yet (see import_benchmarks)")
        rows = [
            {
                "model": row.model,
                "benchmark": comparison.benchmark,
                "benchmark_rank": _number(row.benchmark_rank),
                "arena_rank": _number(row.arena_rank),
                "arena_rank_best": row.arena_rank_best,
                "arena_rank_worst": row.arena_rank_worst,
                "gap": _number(row.gap),
                "flagged": row.flagged,
            }
            for comparison in report.comparisons
            for row in comparison.rows
        ]
        if format == "json":
            self.stdout.write(json.dumps(rows, indent=2, ensure_ascii=False))
        else:
            self.stdout.write(csv_line(COLUMNS), ending="")
            for row in rows:
                self.stdout.write(csv_line(row[c] for c in COLUMNS), ending="")
        for comparison in report.comparisons:
            self.stderr.write(
                f"{comparison.benchmark}: {len(comparison.rows)} models, "
                f"{_correlation('Spearman', comparison.spearman, too_few=comparison.too_few_to_correlate)}, "
                f"{_correlation('Kendall', comparison.kendall, too_few=comparison.too_few_to_correlate)}, "
                f"{len(comparison.flagged)} flagged" + (" (style-controlled)" if style_control else "")
            )
        for note in report.notes:
            self.stderr.write(f"note: {note}")
