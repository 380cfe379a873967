"""``python -m ratings``: the rating engine on its own, no database.

    python -m ratings leaderboard VOTES.csv [--ci sandwich|bootstrap] [--bootstrap N] [--seed S]
                                            [--anchor MODEL=RATING] [--prior POINTS] [--format csv|json]
    python -m ratings simulate --policy active|uniform|oracle --models N --seed S --format json
                               [--target-halfwidth 25] [--spread 100] [--strengths RATINGS.csv]

Errors in the input are reported on stderr with the line number, exit status 2.
"""

from __future__ import annotations

import argparse
import csv
import json
import math
import sys

from ratings.engine import fit_bradley_terry, read_votes_csv, with_robustness
from ratings.engine.csvio import VotesFileError
from ratings.engine.simulate import POLICIES as ENGINE_POLICIES
from ratings.engine.simulate import oracle_policy, random_strengths, run_policy_simulation
from ratings.policies import POLICIES

EXIT_USAGE = 2


class _Parser(argparse.ArgumentParser):
    def error(self, message):  # argparse exits 2 too; keep its message short and clear
        self.print_usage(sys.stderr)
        self.exit(EXIT_USAGE, f"{self.prog}: error: {message}\n")


def _anchor(text: str) -> tuple[str, float]:
    name, sep, value = text.rpartition("=")
    if not sep or not name:
        raise argparse.ArgumentTypeError(f"expected MODEL=RATING, got {text!r}")
    try:
        return name, float(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"the rating in {text!r} is not a number") from None


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected at least 1, got {value}")
    return value


def _prior_points(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number of rating points, got {text!r}") from None
    if not (math.isfinite(value) and value > 0):
        raise argparse.ArgumentTypeError(f"expected a positive number of rating points, got {text!r}")
    return value


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="python -m ratings", description="Arena rating engine")
    sub = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)

    board = sub.add_parser("leaderboard", help="Bradley–Terry leaderboard from a votes CSV")
    board.add_argument(
        "votes",
        metavar="VOTES.csv",
        help="CSV with columns model_a, model_b, winner (model_a, model_b, tie, "
        "'tie (bothbad)' or both_bad); other columns are ignored",
    )
    board.add_argument(
        "--ci",
        choices=("sandwich", "bootstrap"),
        default=None,
        help="interval method (default: sandwich, or bootstrap when --bootstrap is given)",
    )
    board.add_argument(
        "--bootstrap", type=_positive_int, default=None, metavar="N", help="bootstrap rounds (default 100)"
    )
    board.add_argument("--seed", type=int, default=0, help="bootstrap seed (default 0)")
    board.add_argument(
        "--anchor",
        type=_anchor,
        default=None,
        metavar="MODEL=RATING",
        help="shift the scale so that MODEL has this rating",
    )
    board.add_argument(
        "--prior",
        type=_prior_points,
        default=None,
        metavar="POINTS",
        help="fit with a Normal prior of this standard deviation (rating points) on each rating around the "
        "mean, as the app's boards do (default: none, LMArena's plain maximum likelihood)",
    )
    board.add_argument("--format", choices=("csv", "json"), default="csv")

    simulate = sub.add_parser("simulate", help="simulated voters: votes needed to reach a target interval width")
    simulate.add_argument(
        "--policy",
        choices=sorted({*POLICIES, "oracle"}),
        default="uniform",
        help="oracle: the best fixed design for the true strengths, the ceiling for any policy",
    )
    simulate.add_argument("--models", type=_positive_int, default=None, help="number of models (default 20)")
    simulate.add_argument("--seed", type=int, default=0)
    simulate.add_argument("--format", choices=("json",), default="json")
    simulate.add_argument(
        "--target-halfwidth",
        type=float,
        default=25.0,
        help="stop when every model's 95%% interval half-width is below this (rating points)",
    )
    simulate.add_argument(
        "--objective",
        choices=("interval", "top1"),
        default="interval",
        help="interval: stop when every interval is narrow enough (--target-halfwidth); top1: stop when the "
        "best model is known within --epsilon points with 95%% confidence",
    )
    simulate.add_argument(
        "--epsilon", type=float, default=25.0, help="top1: the best model within this many points (default 25)"
    )
    simulate.add_argument("--tie-rate", type=float, default=0.3)
    simulate.add_argument(
        "--spread",
        type=float,
        default=None,
        help="standard deviation of the random true ratings (rating points, default 100)",
    )
    simulate.add_argument(
        "--strengths",
        metavar="RATINGS.csv",
        default=None,
        help="true ratings from a CSV with columns model and rating (for example the output "
        "of the leaderboard command) instead of random ones",
    )
    return parser


def read_strengths_csv(path: str) -> dict[str, float]:
    """``{model: rating}`` from a CSV with ``model`` and ``rating`` columns; VotesFileError says where it is wrong."""
    with open(path, newline="", encoding="utf-8-sig") as handle:
        reader = csv.reader(handle)
        header = next(reader, None)
        if header is None:
            raise VotesFileError("the file is empty")
        columns = [name.strip().lower() for name in header]
        missing = [name for name in ("model", "rating") if name not in columns]
        if missing:
            raise VotesFileError(f"line 1: missing column(s) {', '.join(missing)}")
        model_at, rating_at = columns.index("model"), columns.index("rating")
        strengths: dict[str, float] = {}
        for line, row in enumerate(reader, start=2):
            if not any(cell.strip() for cell in row):
                continue
            if len(row) <= max(model_at, rating_at):
                raise VotesFileError(f"line {line}: expected {len(header)} columns, got {len(row)}")
            model, text = row[model_at].strip(), row[rating_at].strip()
            if not model:
                raise VotesFileError(f"line {line}: empty model name")
            if model in strengths:
                raise VotesFileError(f"line {line}: model {model!r} appears twice")
            try:
                rating = float(text)
            except ValueError:
                raise VotesFileError(f"line {line}: rating {text!r} is not a number") from None
            if not math.isfinite(rating):
                raise VotesFileError(f"line {line}: rating {text!r} is not a finite number")
            strengths[model] = rating
    if len(strengths) < 2:
        raise VotesFileError("need at least two models")
    return strengths


def _read_input(path: str, reader):
    """``reader(path)``, or None after saying on stderr why the file cannot be used."""
    try:
        return reader(path)
    except FileNotFoundError:
        print(f"error: {path}: no such file", file=sys.stderr)
    except (IsADirectoryError, PermissionError) as exc:
        print(f"error: {path}: {exc.strerror}", file=sys.stderr)
    except (VotesFileError, UnicodeDecodeError, csv.Error) as exc:
        print(f"error: {path}: {exc}", file=sys.stderr)
    return None


def _leaderboard(args) -> int:
    ci = args.ci or ("bootstrap" if args.bootstrap else "sandwich")
    table = _read_input(args.votes, read_votes_csv)
    if table is None:
        return EXIT_USAGE
    if args.anchor is not None and args.anchor[0] not in table.models:
        print(f"error: anchor model {args.anchor[0]!r} has no votes in {args.votes}", file=sys.stderr)
        return EXIT_USAGE
    board = fit_bradley_terry(
        table,
        ci=ci,
        bootstrap_rounds=args.bootstrap or 100,
        seed=args.seed,
        anchor=args.anchor,
        prior_points=args.prior,
    )
    out = sys.stdout
    if args.format == "json":
        json.dump(with_robustness(board), out, indent=2)
        out.write("\n")
    else:
        writer = csv.writer(out, lineterminator="\n")
        writer.writerow(["model", "rating", "lower", "upper", "rank", "votes"])
        for row in board.rows:
            writer.writerow(
                [row.model, f"{row.rating:.2f}", f"{row.lower:.2f}", f"{row.upper:.2f}", row.rank, row.votes]
            )
    for warning in board.warnings:
        print(f"warning: {warning}", file=sys.stderr)
    return 0


def _simulate(args) -> int:
    if args.strengths is not None:
        if args.models is not None or args.spread is not None:
            print(
                "error: --strengths names the models and their ratings: leave out --models and --spread",
                file=sys.stderr,
            )
            return EXIT_USAGE
        strengths = _read_input(args.strengths, read_strengths_csv)
        if strengths is None:
            return EXIT_USAGE
    else:
        models: int = 20 if args.models is None else args.models
        spread: float = 100.0 if args.spread is None else args.spread
        if not (math.isfinite(spread) and spread >= 0):
            print("error: --spread must be a finite number ≥ 0", file=sys.stderr)
            return EXIT_USAGE
        if models < 2:
            print("error: --models must be at least 2", file=sys.stderr)
            return EXIT_USAGE
        strengths = None
    if not args.target_halfwidth > 0:
        print("error: --target-halfwidth must be positive", file=sys.stderr)
        return EXIT_USAGE
    if not (math.isfinite(args.epsilon) and args.epsilon > 0):
        print("error: --epsilon must be a positive number", file=sys.stderr)
        return EXIT_USAGE
    if not 0 <= args.tie_rate < 1:
        print("error: --tie-rate must be in [0, 1)", file=sys.stderr)
        return EXIT_USAGE
    if strengths is None:
        # Only the branch without --strengths leaves them to draw, and it set models and spread.
        strengths = random_strengths(models, args.seed, spread=spread)
    if args.policy == "oracle":
        policy = oracle_policy(strengths, args.tie_rate)
    else:
        policy = args.policy if args.policy in ENGINE_POLICIES else POLICIES[args.policy]
    result = run_policy_simulation(
        strengths,
        policy,
        target_halfwidth=args.target_halfwidth,
        tie_rate=args.tie_rate,
        seed=args.seed,
        objective=args.objective,
        epsilon=args.epsilon,
    )
    json.dump(result.to_dict(), sys.stdout, indent=2)
    sys.stdout.write("\n")
    return 0


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        if args.command == "leaderboard":
            return _leaderboard(args)
        return _simulate(args)
    except BrokenPipeError:  # e.g. piped into head
        return 0
