"""Arena at scale on a real database: the voter's hot path, then the boards over a million votes.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/postgres \\
    .venv/bin/python bench/bench_scale.py [--llms 30] [--prompts 5000] [--votes 1000000] [--rounds 40]

Creates a scratch database ``arena_bench_scale`` next to the one DATABASE_URL names (dropped and
made again each run), migrates it, loads ``--llms`` LLMs with answers to ``--prompts`` pool prompts
(bulk insert, then ANALYZE as autovacuum would), and times, for one voter:

* ``serve_battle`` — pairing policy, candidate versions, a prompt the voter has not seen;
* ``record_vote`` — the vote with its integrity checks (the recomputation it queues for a worker
  is not run: without a broker Celery would run it inside the request);
* baseline: ``current_battle`` — the reload of an open battle, one indexed query.

Then it adds ``--votes`` voted battles (SQL, 200 voters, outcomes following planted strengths, over
180 days), and requests every board page as an admin twice: cold (no snapshot, empty cache: the
refit a first visitor after new votes pays) and warm; baseline ``/healthz`` (one query).

Printed: p50 and p95 in milliseconds, the queries per call, each path's p50 as a ratio to its
baseline measured in the same run, and the board pages' cold and warm seconds.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from bench.arena_loading import load_arena, load_votes  # noqa: E402

SCRATCH = "arena_bench_scale"


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
    parser.add_argument("--votes", type=int, default=1_000_000)
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
    import logging

    for noisy in ("celery", "kombu", "django.request"):
        logging.getLogger(noisy).setLevel(logging.ERROR)
    from django.contrib.auth.models import Group, User
    from django.core.management import call_command
    from django.db import connection

    from battles.models import Battle
    from battles.voting import serving, votes

    call_command("migrate", verbosity=0)
    load_arena(args.llms, args.prompts, base_url="http://127.0.0.1:9/v1")

    # In production a vote queues the (debounced) recomputation for a worker; without a broker
    # Celery would run it inside the request here. Queue it nowhere: the bench times the request.
    from ratings import tasks

    tasks.recompute_leaderboard.apply_async = lambda *args, **kwargs: None

    voter = User.objects.create_user("bench-voter", password="unused")
    voter.groups.add(Group.objects.get_or_create(name="voter")[0])
    serving.serve_battle(voter=voter)  # warm-up: first queries, imports, caches

    def reload_open_battle():
        assert serving.current_battle(voter=voter) is not None

    def new_battle():
        serving.skip_battle(battle_code=serving.current_battle(voter=voter).code, voter=voter)
        serving.serve_battle(voter=voter)

    def vote():
        battle = serving.current_battle(voter=voter) or serving.serve_battle(voter=voter).battle
        Battle.objects.filter(pk=battle.pk).update(created_at=battle.created_at - time_offset)
        votes.record_vote(battle_code=battle.code, voter=voter, outcome="a")
        serving.serve_battle(voter=voter)

    import datetime

    time_offset = datetime.timedelta(minutes=5)  # not a too-fast vote
    baseline = _timed(reload_open_battle, args.rounds)
    serve = _timed(new_battle, args.rounds)
    store = _timed(vote, args.rounds)
    print(f"{'path':40} {'p50 ms':>8} {'p95 ms':>8} {'queries':>8} {'ratio to baseline':>18}")
    for name, (p50, p95, queries) in (
        ("current_battle (baseline: reload)", baseline),
        ("skip + serve_battle (new battle)", serve),
        ("record_vote + serve_battle", store),
    ):
        print(f"{name:40} {p50:>8.1f} {p95:>8.1f} {queries:>8.0f} {p50 / baseline[0]:>18.1f}")
    if args.votes:
        load_votes(args.llms, args.prompts, args.votes)
        baseline = _timed(reload_open_battle, args.rounds)
        serve = _timed(new_battle, args.rounds)
        print(f"\nafter {args.votes:,} more votes:")
        for name, (p50, p95, queries) in (
            ("current_battle (baseline: reload)", baseline),
            ("skip + serve_battle (new battle)", serve),
        ):
            print(f"{name:40} {p50:>8.1f} {p95:>8.1f} {queries:>8.0f} {p50 / baseline[0]:>18.1f}")
        _time_boards()
    connection.close()
    return 0


BOARD_PAGES = (
    "/leaderboard/",
    "/leaderboard/?from={since}",
    "/leaderboard/?style=1",
    "/leaderboard/pairs/",
    "/leaderboard/history/",
    "/leaderboard/cost/",
    "/leaderboard/decision/",
    "/leaderboard/quality/",
    "/leaderboard/integrity/",
    "/leaderboard/?category=writing&group=voter",
)


def _time_boards() -> None:
    import datetime

    from django.contrib.auth.models import Group, User
    from django.core.cache import cache
    from django.test import Client

    from ratings.models import RatingSnapshot

    admin = User.objects.create_user("bench-admin", password="unused", is_staff=True, is_superuser=True)
    admin.groups.add(Group.objects.get_or_create(name="admin")[0])
    client = Client()
    client.force_login(admin)
    since = (datetime.date.today() - datetime.timedelta(days=60)).isoformat()

    def get(url):
        started = time.perf_counter()
        response = client.get(url)
        if response.streaming:
            for _ in response.streaming_content:
                pass
        assert response.status_code == 200, (url, response.status_code)
        return time.perf_counter() - started

    RatingSnapshot.objects.all().delete()
    cache.clear()
    health = min(get("/healthz") for _ in range(20))
    print(f"\n{'page (admin)':48} {'cold s':>8} {'warm s':>8} {'cold / healthz':>15}")
    print(f"{'/healthz (baseline)':48} {health:>8.4f} {health:>8.4f} {1.0:>15.1f}")
    for page in BOARD_PAGES:
        url = page.format(since=since)
        cold, warm = get(url), get(url)
        print(f"{url:48} {cold:>8.2f} {warm:>8.2f} {cold / health:>15.0f}")
    export = get("/exports/votes.csv")
    print(f"{'/exports/votes.csv (every vote, streamed)':48} {export:>8.2f}")


if __name__ == "__main__":
    sys.exit(main())
