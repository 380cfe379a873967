"""The voter's hot path at scale: serving a new battle and storing a vote, on a real database.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/postgres \\
    .venv/bin/python bench/bench_battle.py [--llms 30] [--prompts 5000] [--rounds 40]

Creates a scratch database ``arena_bench_battle`` next to the one DATABASE_URL names (dropped and
made again each run), migrates it, loads ``--llms`` LLMs with answers to ``--prompts`` pool prompts
(bulk insert, then ANALYZE as autovacuum would), and times, for one voter:

* ``start_battle`` — pairing policy, candidate versions, a prompt the voter has not seen;
* ``record_vote`` — the vote with its integrity checks;
* baseline: ``current_battle`` — the reload of an open battle, one indexed query.

Printed: p50 and p95 in milliseconds, the queries per call, and each path's p50 as a ratio to the
baseline's p50 measured in the same run.
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

SCRATCH = "arena_bench_battle"


def _scratch_database(url: str) -> str:
    import psycopg

    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(f"DROP DATABASE IF EXISTS {SCRATCH}")
        conn.execute(f"CREATE DATABASE {SCRATCH}")
    return urlunsplit(urlsplit(url)._replace(path=f"/{SCRATCH}"))


def _timed(fn, rounds):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    times, queries = [], []
    for _ in range(rounds):
        with CaptureQueriesContext(connection) as ctx:
            started = time.perf_counter()
            fn()
            times.append((time.perf_counter() - started) * 1000)
        queries.append(len(ctx.captured_queries))
    times.sort()
    return statistics.median(times), times[int(0.95 * (len(times) - 1))], statistics.median(queries)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--llms", type=int, default=30)
    parser.add_argument("--prompts", type=int, default=5000)
    parser.add_argument("--rounds", type=int, default=40)
    args = parser.parse_args(argv)
    url = os.environ.get("DATABASE_URL", "")
    if not url.startswith("postgres"):
        print("bench_battle needs DATABASE_URL pointing at a Postgres server", file=sys.stderr)
        return 2
    os.environ["DATABASE_URL"] = _scratch_database(url)
    os.environ.setdefault("SECRET_KEY", "bench-only-secret-key")
    os.environ["ARENA_ALLOW_PRIVATE_ENDPOINTS"] = "1"
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "arena.settings")
    import django

    django.setup()
    from django.contrib.auth.models import Group, User
    from django.core.management import call_command
    from django.db import connection

    from battles import services
    from battles.models import Battle, Generation, Prompt, PromptPool

    call_command("migrate", verbosity=0)
    started = time.perf_counter()
    pool = PromptPool.objects.create(name="bench")
    versions = [
        services.create_llm(name=f"model-{k}", provider="openai", base_url="http://127.0.0.1:9/v1",
                            model_id=f"model-{k}").current_version()
        for k in range(args.llms)
    ]
    prompts = Prompt.objects.bulk_create(
        [Prompt(pool=pool, text=f"Prompt {i}: explain topic {i} briefly.", category="writing",
                text_hash=hashlib.sha256(f"prompt {i}".encode()).hexdigest()) for i in range(args.prompts)],
        batch_size=2000,
    )
    answer = "A reasonably long answer that explains the topic in a few sentences. " * 8
    Generation.objects.bulk_create(
        (Generation(prompt=p, llm_version=v, status="done", text=answer, latency_ms=900, tokens_out=120)
         for p in prompts for v in versions),
        batch_size=5000,
    )
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE")
    print(f"loaded {args.llms} LLMs × {args.prompts} prompts = {args.llms * args.prompts:,} answers "
          f"in {time.perf_counter() - started:.0f} s")

    voter = User.objects.create_user("bench-voter", password="unused")
    voter.groups.add(Group.objects.get_or_create(name="voter")[0])
    services.start_battle(voter=voter)  # warm-up: first queries, imports, caches

    def reload_open_battle():
        assert services.current_battle(voter=voter) is not None

    def new_battle():
        services.skip_battle(battle_code=services.current_battle(voter=voter).code, voter=voter)
        services.start_battle(voter=voter)

    def vote():
        battle = services.current_battle(voter=voter) or services.start_battle(voter=voter)
        Battle.objects.filter(pk=battle.pk).update(created_at=battle.created_at - time_offset)
        services.record_vote(battle_code=battle.code, voter=voter, outcome="a")
        services.start_battle(voter=voter)

    import datetime

    time_offset = datetime.timedelta(minutes=5)  # not a too-fast vote
    baseline = _timed(reload_open_battle, args.rounds)
    serve = _timed(new_battle, args.rounds)
    store = _timed(vote, args.rounds)
    print(f"{'path':40} {'p50 ms':>8} {'p95 ms':>8} {'queries':>8} {'ratio to baseline':>18}")
    for name, (p50, p95, queries) in (("current_battle (baseline: reload)", baseline),
                                      ("skip + start_battle (new battle)", serve),
                                      ("record_vote + start_battle", store)):
        print(f"{name:40} {p50:>8.1f} {p95:>8.1f} {queries:>8.0f} {p50 / baseline[0]:>18.1f}")
    connection.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
