"""Fitting boards from the aggregated counts against fitting them from the raw votes.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/postgres \\
    .venv/bin/python bench/bench_boards.py [--votes 500000] [--llms 6] [--prompts 2000] [--rounds 5]

Creates a scratch database ``arena_bench_boards`` next to the one DATABASE_URL names (dropped and
made again each run), loads ``--llms`` LLMs answering ``--prompts`` prompts in 8 categories and
``--votes`` voted battles over 180 days (SQL), then times, median of ``--rounds``:

* baseline: the default board fitted from the raw votes (one GROUP BY over every vote, as before),
  and that read alone;
* the default board fitted from the counts (fold, one small GROUP BY, the fit), and that read alone;
* the refit after a burst of 100 new votes (``recompute_now``: fold them, read the counts, fit);
* the same two for a board filtered by category;
* a board page's read of a board behind the votes (``boards.serve``: no fit);
* a full recount of the counts (``counts.reconcile``: after imports and exclusions, and the hourly check).

Prints milliseconds and each figure's ratio to the raw-vote baseline measured in the same run.
"""

from __future__ import annotations

import argparse
import hashlib
import os
import statistics
import sys
import time
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from bench.arena_loading import load_votes  # noqa: E402

SCRATCH = "arena_bench_boards"
CATEGORIES = ("writing", "code", "math", "reasoning", "extraction", "roleplay", "stem", "humanities")


def scratch_database(url: str) -> str:
    import psycopg

    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(f"DROP DATABASE IF EXISTS {SCRATCH}")
        conn.execute(f"CREATE DATABASE {SCRATCH}")
    return urlunsplit(urlsplit(url)._replace(path=f"/{SCRATCH}"))


def median_ms(fn, rounds: int) -> float:
    times = []
    for _ in range(rounds):
        started = time.perf_counter()
        fn()
        times.append((time.perf_counter() - started) * 1000)
    return statistics.median(times)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--votes", type=int, default=500_000)
    parser.add_argument("--llms", type=int, default=6)
    parser.add_argument("--prompts", type=int, default=2000)
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args(argv)
    url = os.environ.get("DATABASE_URL", "")
    if not url.startswith("postgres"):
        print("bench_boards needs DATABASE_URL pointing at a Postgres server", file=sys.stderr)
        return 2
    os.environ["DATABASE_URL"] = scratch_database(url)
    os.environ.setdefault("SECRET_KEY", "bench-only-secret-key")
    os.environ["ARENA_ALLOW_PRIVATE_ENDPOINTS"] = "1"
    os.environ.pop("REDIS_URL", None)
    os.environ.pop("CELERY_BROKER_URL", None)
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "arena.settings")
    import django

    django.setup()
    from django.core.management import call_command
    from django.db import connection

    from battles.catalog import llms
    from battles.models import Generation, Prompt, PromptPool, Vote
    from ratings import boards, counts, services, tasks
    from ratings.filters import BoardFilter

    call_command("migrate", verbosity=0)
    pool = PromptPool.objects.create(name="bench")
    versions = [
        llms.create_llm(
            name=f"model-{k}", provider="openai", base_url="http://127.0.0.1:9/v1", model_id=f"model-{k}"
        ).current_version()
        for k in range(args.llms)
    ]
    prompts = Prompt.objects.bulk_create(
        [
            Prompt(
                pool=pool,
                text=f"Prompt {i}",
                category=CATEGORIES[i % len(CATEGORIES)],
                text_hash=hashlib.sha256(f"prompt {i}".encode()).hexdigest(),
            )
            for i in range(args.prompts)
        ],
        batch_size=2000,
    )
    Generation.objects.bulk_create(
        (Generation(prompt=p, llm_version=v, status="done", text="An answer.") for p in prompts for v in versions),
        batch_size=5000,
    )
    started = time.perf_counter()
    load_votes(args.llms, args.prompts, args.votes, mixed=True)
    print(
        f"loaded {args.llms} LLMs, {args.prompts:,} prompts, {args.votes:,} votes "
        f"in {time.perf_counter() - started:.0f} s"
    )

    started = time.perf_counter()
    counts.fold()  # the first fold counts every vote there is
    print(f"first count of every vote: {time.perf_counter() - started:.1f} s\n")
    default, by_category = BoardFilter(), BoardFilter(category="code")

    def from_votes(flt):
        return lambda: services.compute_snapshot(scope="bench-raw", votes=flt.votes())

    def from_counts(flt):
        def fit():
            mark, board_counts = counts.folded(lambda: counts.filter_counts(flt))
            services.compute_snapshot(scope="bench-counts", votes=mark.seen(flt.votes()), counts=board_counts)

        return fit

    voter_battles = list(Vote.objects.order_by("-pk").values_list("version_a_id", "version_b_id")[:100])

    def burst_then_refit():
        Vote.objects.bulk_create(
            [Vote(outcome="a", version_a_id=a, version_b_id=b, imported=True) for a, b in voter_battles]
        )
        tasks.recompute_now()

    tasks.recompute_now()
    baseline = median_ms(from_votes(default), args.rounds)
    rows = [
        ("default board from the raw votes (baseline)", baseline),
        (
            "  its counts read from the raw votes",
            median_ms(lambda: services.aggregated_counts(default.votes()), args.rounds),
        ),
        ("  its counts read from the count tables", median_ms(lambda: counts.filter_counts(default), args.rounds)),
        ("default board from the counts", median_ms(from_counts(default), args.rounds)),
        ("refit after 100 new votes (fold + fit)", median_ms(burst_then_refit, args.rounds)),
        ("category board from the raw votes", median_ms(from_votes(by_category), args.rounds)),
        ("category board from the counts", median_ms(from_counts(by_category), args.rounds)),
    ]
    burst_then_refit()
    Vote.objects.bulk_create([Vote(outcome="b", version_a_id=a, version_b_id=b) for a, b in voter_battles[:10]])
    from arena.celery import app

    app.conf.task_always_eager = False  # a page only queues (no broker here: nothing is queued)
    rows.append(("board page read, 10 votes behind (no fit)", median_ms(lambda: boards.serve(default), args.rounds)))
    app.conf.task_always_eager = True
    rows.append(("full recount of the counts (check/rebuild)", median_ms(lambda: counts.reconcile(reason="check"), 1)))
    print(f"{'at ' + format(Vote.objects.count(), ',') + ' votes':46} {'ms':>9} {'ratio to baseline':>18}")
    for name, ms in rows:
        print(f"{name:46} {ms:>9.1f} {ms / baseline:>18.3f}")
    connection.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
