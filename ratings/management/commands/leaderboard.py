"""python manage.py leaderboard [--category C] [--pool P] [--from D] [--to D] [--group G] [--insider]
[--flagged] [--nolive] [--style] --format csv|json"""

import json

from django.core.management.base import BaseCommand, CommandError
from pydantic import ValidationError

from arena.csvsafe import csv_line
from ratings.exports import records
from ratings.filter_params import FilterParams, within_calendar
from ratings.filters import BoardFilter

COLUMNS = ("model", "rating", "lower", "upper", "rank", "votes", "provisional")
STYLE_COLUMNS = ("style_rating", "style_lower", "style_upper", "style_rank", "style_provisional")


def parse_filter(options: dict) -> BoardFilter:
    """The board filter of the command's options, through the one parser of board filters
    (``FilterParams``, as the API reads a query); a bad value is a CommandError naming its option."""
    values = {
        name: options[name]
        for name in ("category", "pool", "from", "to", "group")
        if options.get(name) is not None and options[name] != ""
    }
    values.update({name: "true" if options.get(name) else "false" for name in ("insider", "flagged", "nolive")})
    try:
        parsed = FilterParams.model_validate(values)
    except ValidationError as exc:
        problems = []
        for error in exc.errors():
            name = str(error["loc"][0])
            problems.append(f"--{name} {error['msg']} (got {values[name]!r})")
        raise CommandError("; ".join(problems)) from None
    flt = parsed.board_filter()
    if flt.date_from and flt.date_to and flt.date_from > flt.date_to:
        raise CommandError(f"--from ({flt.date_from}) is after --to ({flt.date_to})")
    return within_calendar(flt)


class Command(BaseCommand):
    help = (
        "Print the board eval leads see on /leaderboard/ for the same filter: per model the Bradley–Terry "
        "rating with its 95% interval, the interval rank (1 + the number of models whose interval lies "
        "entirely above), votes and whether it is provisional; with --style the style-controlled rating, "
        "interval and rank beside them (style_provisional: the style-controlled fit has fewer votes than "
        "STYLE_MIN_VOTES). Best first."
    )

    def add_arguments(self, parser):
        parser.add_argument("--category", help="only votes on prompts of this category")
        parser.add_argument("--pool", help="only votes on prompts of this pool (its code, a UUID)")
        parser.add_argument("--from", dest="from", metavar="YYYY-MM-DD", help="first day (inclusive)")
        parser.add_argument("--to", dest="to", metavar="YYYY-MM-DD", help="last day (inclusive)")
        parser.add_argument("--group", help="only votes by this voter group (voter, eval_lead, admin)")
        parser.add_argument("--insider", action="store_true", help="include insider votes")
        parser.add_argument("--flagged", action="store_true", help="include flagged votes")
        parser.add_argument("--nolive", action="store_true", help="leave out votes on live battles")
        parser.add_argument("--style", action="store_true", help="add the style-controlled columns")
        parser.add_argument("--format", choices=("csv", "json"), default="csv")

    def handle(self, *args, **options):
        flt = parse_filter(options)
        style = options["style"]
        meta, rows = records.leaderboard(flt, style_control=style, fit=True)
        columns = COLUMNS + (STYLE_COLUMNS if style else ())
        table = [{name: row[name] for name in columns} for row in rows]
        if options["format"] == "json":
            document = {**meta, "rows": table}
            self.stdout.write(json.dumps(document, indent=2, ensure_ascii=False, allow_nan=False))
            return
        self.stdout.write(csv_line(columns), ending="")
        for row in table:
            self.stdout.write(csv_line(row[name] for name in columns), ending="")
