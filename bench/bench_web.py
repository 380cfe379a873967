"""The voter's web path in the production shape, with eval leads browsing and Redis hung.

    make bench-web            # or: .venv/bin/python bench/bench_web.py [--votes 500000] [--seconds 20]

Starts everything itself, as docker-compose runs it: its own redis-server, gunicorn with 3 sync workers,
the Celery worker (concurrency 4, nice 10), the boards worker (concurrency 2, idle CPU class), beat and
the fake provider; a scratch Postgres database
``arena_bench_web`` (``--database``) next to the one DATABASE_URL names (default: the local server), dropped and made
again each run. Loads ``--prompts`` pool prompts × ``--llms`` LLMs (answers stored: distinct Markdown,
~1.2 kB each, with their HTML as the worker renders it), 200 voters with their own sessions, and a
``--votes`` history, fits the boards, then measures, each for ``--seconds``:

* ``/healthz`` at 100 connections: the noise floor of this machine in this run (the named baseline);
* voter cycles (vote POST + next battle) at 10 and 100 concurrent voters, POST p50/p99;
* a battle page (reload of an open battle) at 100 connections, beside /healthz and again after the voter
  phases: req/s, p99 and who held the CPU;
* 100 voters again while three admins open cold filtered boards (a new date range every 2 s), in blocks
  alternating with blocks of 100 voters alone, so the machine's drift falls on both;
* 10 voters while Redis is hung by SIGSTOP for 20 s;
* the default board's recompute time (in this process, and each run of the worker's task);
* queries per request (vote POST, new battle, reload), counted in this process;
* acknowledged votes (POSTs answered 200) against the rows stored, and duplicates.
"""

from __future__ import annotations

import argparse
import asyncio
import html
import json
import os
import re
import sys
import time
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from bench.arena_loading import VOTERS, load_arena, load_votes  # noqa: E402
from bench.web_load import Figures, GetFigures, Voter, get_load, median, percentile, run_voters  # noqa: E402
from bench.web_stack import Stack, cpu_seconds_between, cpu_seconds_by_process  # noqa: E402

SCRATCH = "arena_bench_web"
CATEGORIES = ("writing", "coding", "reasoning", "math")
COLD_BOARDS = [
    "/leaderboard/?from={since}",
    "/leaderboard/?category=coding&from={since}",
    "/leaderboard/?style=1&from={since}",
    "/leaderboard/decision/?from={since}",
]
HUNG_SECONDS = 20
BROWSING_ROUNDS = 3  # 100 voters alone, then with the admins: three times, alternating
# Issue 11 set its goals where /healthz served 2,400–3,500 req/s; this machine's /healthz varies from run to
# run (1,200–2,000 req/s seen), so each goal is also shown as the share of /healthz it was then: cycles/s
# against requests/s (150 / 3,500 to 150 / 2,400), whatever the number of requests a cycle makes.
GOAL_SHARES = {"cycles": "4.3–6.3%", "battle page": "11–17%"}


def _scratch_database(url: str, name: str, *, reuse: bool) -> tuple[str, bool]:
    """The scratch database's URL, and whether it was kept as an earlier run left it (``reuse``)."""
    import psycopg

    if not re.fullmatch(r"[a-z_][a-z0-9_]*", name):
        raise SystemExit(f"--database {name!r}: lower-case letters, digits and _ only")
    with psycopg.connect(url, autocommit=True) as conn:
        kept = reuse and conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name]).fetchone() is not None
        if not kept:
            conn.execute(f"DROP DATABASE IF EXISTS {name}")
            conn.execute(f"CREATE DATABASE {name}")
    return urlunsplit(urlsplit(url)._replace(path=f"/{name}")), kept


def _sessions(usernames: list[str]) -> list[str]:
    from django.contrib.auth.models import User
    from django.test import Client

    cookies = []
    for user in User.objects.filter(username__in=usernames).order_by("id"):
        client = Client()
        client.force_login(user)
        cookies.append(client.cookies["sessionid"].value)
    return cookies


def _admins() -> list[str]:
    from django.contrib.auth.models import Group, User

    group = Group.objects.get_or_create(name="admin")[0]
    names = [f"bench-admin-{k}" for k in range(3)]
    for name in names:
        admin = User.objects.filter(username=name).first() or User.objects.create_user(name, is_staff=True)
        group.user_set.add(admin)
    return names


def _queries_per_request() -> dict[str, int]:
    """Queries of the full request (session, user, work), for a voter who has voted before."""
    from django.contrib.auth.models import User
    from django.db import connection
    from django.test import Client
    from django.test.utils import CaptureQueriesContext

    client = Client(HTTP_HOST="127.0.0.1")
    client.force_login(User.objects.get(username=f"bench-{VOTERS - 1}"))
    counts = {}
    for _ in range(2):  # the second round is the steady state (process caches warm)
        with CaptureQueriesContext(connection) as new_battle:
            response = client.get("/")
        page = response.content.decode()
        own_url = html.unescape(re.search(r'data-battle-url="([^"]+)"', page).group(1))  # type: ignore[union-attr]
        with CaptureQueriesContext(connection) as reload:
            client.get(own_url)
        action = re.search(r'action="(/battle/[0-9a-f-]+/vote/[^"]*)"', page).group(1)  # type: ignore[union-attr]
        with CaptureQueriesContext(connection) as vote:
            client.post(action, {"outcome": "a"}, headers={"X-Arena-Fragment": "1"})
        counts = {"vote POST": len(vote), "new battle (GET /, its page)": len(new_battle), "reload": len(reload)}
    return counts


def _recompute_seconds(rounds: int = 3) -> list[float]:
    from ratings import tasks

    times = []
    for _ in range(rounds):
        started = time.perf_counter()
        tasks.recompute_now()
        times.append(time.perf_counter() - started)
    return times


def _worker_recompute_histogram() -> dict[str, dict[str, float]]:
    """The workers' default-board recomputes so far, wall and CPU time: count, sum and cumulative buckets
    (arena.metrics, in Redis)."""
    from arena import metrics

    return {
        clock: {json.loads(field)[-1]: value for field, value in metrics.store().read(instrument.name).items()}
        for clock, instrument in (("wall", metrics.RECOMPUTE_SECONDS), ("cpu", metrics.RECOMPUTE_CPU_SECONDS))
    }


def _worker_recompute_line(before: dict[str, dict[str, float]], after: dict[str, dict[str, float]]) -> str | None:
    wall_before, wall_after = before["wall"], after["wall"]
    runs = wall_after.get("count", 0.0) - wall_before.get("count", 0.0)
    if runs <= 0:
        return None
    mean = (wall_after.get("sum", 0.0) - wall_before.get("sum", 0.0)) / runs
    within = wall_after.get("0.5", 0.0) - wall_before.get("0.5", 0.0)
    cpu_runs = after["cpu"].get("count", 0.0) - before["cpu"].get("count", 0.0)
    cpu = (after["cpu"].get("sum", 0.0) - before["cpu"].get("sum", 0.0)) / max(cpu_runs, 1)
    return (
        f"worker's default-board recomputes during the bench: {runs:.0f}, mean {mean:.2f} s,"
        f" {within / runs:.0%} within 0.5 s   (goal <= 0.5 s); the worker's CPU per recompute: mean {cpu:.3f} s"
        " (it runs at nice 10: the rest of the wall time is waiting for a core the voters' requests hold)"
    )


def _stored_votes_since(moment) -> tuple[int, int]:
    from django.db.models import Count

    from battles.models import Vote

    recent = Vote.objects.filter(created_at__gte=moment)
    duplicates = recent.values("battle_id").annotate(n=Count("id")).filter(n__gt=1).count()
    return recent.count(), duplicates


async def _voter_phases(base: str, voter_cookies: list[str], admin_cookies: list[str], stack: Stack, seconds: int):
    import httpx

    voters = [Voter(base, cookie) for cookie in voter_cookies]
    admins = [
        httpx.AsyncClient(base_url=base, cookies={"sessionid": c}, follow_redirects=True, timeout=60.0)
        for c in admin_cookies
    ]
    await asyncio.gather(*(voter.open_next(None) for voter in voters))
    results = {
        "10 voters": await _with_cpu(run_voters(voters[:10], seconds)),
        **await _alone_and_browsed(voters[:100], admins, seconds),
        "10 voters, Redis healthy": await run_voters(voters[100:110], seconds / 2),
    }
    stack.pause_redis()
    try:
        results[f"10 voters, Redis hung (SIGSTOP {HUNG_SECONDS} s)"] = await run_voters(voters[100:110], HUNG_SECONDS)
    finally:
        stack.resume_redis()
    for client in [voter.client for voter in voters] + admins:
        await client.aclose()
    return results


async def _alone_and_browsed(voters: list[Voter], admins: list, seconds: int) -> dict[str, Figures]:
    """100 voters alone, and with three admins opening cold boards, in alternating blocks of ``seconds`` / 2.

    This machine's speed drifts by ±20% from one 20-second stretch to the next with nothing changed; measured
    one after the other, the two phases differed by more than the admins' cost. Alternating spreads the drift
    over both. Each block of voters alone starts once the boards worker has finished what the admins left it,
    so it measures the voters without them.
    """
    block = max(seconds / 2, 5.0)
    alone: list[Figures] = []
    browsed: list[Figures] = []
    for _ in range(BROWSING_ROUNDS):
        await _boards_fitted([board for figures in browsed for board in figures.boards_opened])
        alone.append(await _with_cpu(run_voters(voters, block)))
        browsed.append(await _with_cpu(run_voters(voters, block, admins=admins, board_pages=COLD_BOARDS)))
    await _boards_fitted([board for figures in browsed for board in figures.boards_opened])
    return {"100 voters": Figures.merged(alone), "100 voters + 3 admins on cold boards": Figures.merged(browsed)}


async def _boards_fitted(opened: list[tuple[str, float]], timeout: float = 180.0) -> None:
    """Until every board in ``opened`` is fitted and the boards worker is idle (under 3% of a core over a
    second), or ``timeout``: what the admins left the worker is not measured as the voters' own."""
    give_up = time.monotonic() + timeout
    while time.monotonic() < give_up:
        unfitted = await asyncio.to_thread(lambda: sum(_fitted_after(*board) is None for board in opened))
        before = cpu_seconds_by_process()
        await asyncio.sleep(1.0)
        if not unfitted and cpu_seconds_between(before, cpu_seconds_by_process()).get("boards worker", 0.0) < 0.03:
            return
    print(f"the boards worker had not fitted every board after {timeout:.0f} s; measuring anyway", flush=True)


async def _with_cpu(phase) -> Figures:
    before, waited_before = cpu_seconds_by_process(), _cpu_waited_microseconds()
    figures = await phase
    figures.cpu_seconds = cpu_seconds_between(before, cpu_seconds_by_process())
    waited_after = _cpu_waited_microseconds()
    if waited_before is not None and waited_after is not None:
        # As cpu_seconds: summed over a merged phase's blocks, shown per second of the phase.
        figures.cpu_seconds[CPU_PRESSURE] = (waited_after - waited_before) / 1e6
    return figures


CPU_PRESSURE = "CPU pressure"  # seconds in which some runnable task waited for a CPU (Linux PSI)


def _cpu_waited_microseconds() -> int | None:
    """Linux's total of microseconds in which some runnable task waited for a CPU, where the kernel keeps it."""
    try:
        some = Path("/proc/pressure/cpu").read_text().splitlines()[0]
    except (OSError, IndexError):
        return None
    found = re.search(r"total=(\d+)", some)
    return int(found.group(1)) if found else None


def _print_cpu(results: dict[str, Figures]) -> None:
    """Where the machine's cores went in each measured phase (every process, by program)."""
    cores = os.cpu_count() or 1
    for name, f in results.items():
        if not f.cpu_seconds:
            continue
        used = {p: s for p, s in f.cpu_seconds.items() if p != CPU_PRESSURE}
        busy = sorted(((s, p) for p, s in used.items() if s / f.seconds >= 0.01), reverse=True)
        shares = ", ".join(f"{program} {seconds / f.seconds:.2f}" for seconds, program in busy)
        pressure = f.cpu_seconds.get(CPU_PRESSURE)
        waited = f"; some task waited for a CPU {pressure / f.seconds:.0%} of the time" if pressure is not None else ""
        print(f"CPU during {name} (cores of {cores}): {shares}{waited}")


def _print_voter_table(results: dict[str, Figures], health_rate: float) -> None:
    header = f"{'cycles/s':>9} {'votes/s':>8} {'POST p50':>9} {'POST p99':>9} {'POST max':>9} {'GET p99':>8}"
    print(f"\n{'voters':44} {header}")
    for name, f in results.items():
        print(
            f"{name:44} {f.cycles_per_second:>9.1f} {f.acknowledged / f.seconds:>8.1f} {median(f.post_ms):>7.0f}ms"
            f" {percentile(f.post_ms, 0.99):>7.0f}ms {max(f.post_ms, default=0):>7.0f}ms"
            f" {percentile(f.get_ms, 0.99):>6.0f}ms"
        )
        if f.board_ms:
            print(f"{'':44} admins opened {len(f.board_ms)} boards, p50 {median(f.board_ms):.0f} ms")
        if f.failures:
            print(f"{'':44} failures: {f.failures}")
    alone, browsed = results["100 voters"], results["100 voters + 3 admins on cold boards"]
    healthy = results["10 voters, Redis healthy"]
    hung = next(f for name, f in results.items() if "hung" in name)
    if not (alone.cycles and healthy.acknowledged):
        print("\nno voter completed a cycle: see the failures above and the logs in", Stack.__name__)
        return
    pairs = zip(alone.parts, browsed.parts)
    rounds = ", ".join(f"{1 - b.cycles_per_second / a.cycles_per_second:.1%}" for a, b in pairs if a.cycles)
    print(
        f"\nvoter cycles/s at 100 voters as a share of /healthz req/s: {alone.cycles_per_second / health_rate:.1%}"
        f" (the goal of 150 cycles/s was {GOAL_SHARES['cycles']} of /healthz on the machine it was set on)\n"
        f"voter throughput lost to 3 admins on cold boards: "
        f"{1 - browsed.cycles_per_second / alone.cycles_per_second:.1%}   (goal <= 10%; alternating blocks of"
        f" {alone.parts[0].seconds if alone.parts else 0:.0f} s, each pair: {rounds or '-'})\n"
        f"votes stored while Redis hung, share of the healthy rate: "
        f"{(hung.acknowledged / hung.seconds) / (healthy.acknowledged / healthy.seconds):.0%}   (goal >= 50%);"
        f" slowest POST {max(hung.post_ms, default=0) / 1000:.2f} s   (goal <= 2 s)"
    )


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--prompts", type=int, default=2000)
    parser.add_argument("--llms", type=int, default=6)
    parser.add_argument("--votes", type=int, default=500_000)
    parser.add_argument("--seconds", type=int, default=20, help="length of each measured phase (default 20)")
    parser.add_argument("--database", default=SCRATCH, help=f"scratch database, made afresh (default {SCRATCH})")
    parser.add_argument(
        "--reuse",
        action="store_true",
        help="keep the scratch database an earlier run loaded (it holds that run's votes too): for quick"
        " comparisons while working, not for the figures README reports",
    )
    parser.add_argument("--web-workers", type=int, default=3, help="gunicorn sync workers (docker-compose: 3)")
    args = parser.parse_args(argv)
    base_url = os.environ.get("DATABASE_URL") or "postgres://postgres@127.0.0.1:5432/postgres"
    if not base_url.startswith("postgres"):
        print("bench_web needs Postgres: set DATABASE_URL or run one on 127.0.0.1:5432", file=sys.stderr)
        return 2
    stack = Stack(web_workers=args.web_workers)
    try:
        database_url, kept = _scratch_database(base_url, args.database, reuse=args.reuse)
        return _run(args, stack, database_url, loaded=kept)
    finally:
        stack.stop()


def _run(args, stack: Stack, database_url: str, *, loaded: bool) -> int:
    stack.start_redis()
    env = stack.environment(database_url)
    os.environ.update(env)
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "arena.settings")
    import django

    django.setup()
    import logging

    for noisy in ("celery", "kombu", "django.request", "arena.publishing", "axes"):
        logging.getLogger(noisy).setLevel(logging.ERROR)
    from django.core.management import call_command
    from django.utils import timezone

    from ratings.online import rebuild_online_ratings

    call_command("migrate", verbosity=0)
    call_command("collectstatic", "--noinput", verbosity=0)  # as the image does: pages name hashed files
    if loaded:
        print(f"--reuse: the arena and votes {args.database} holds from an earlier run (not loaded again)")
    else:
        provider = f"http://127.0.0.1:{stack.provider_port}/v1"
        load_arena(args.llms, args.prompts, base_url=provider, categories=CATEGORIES)
        # What the generation worker does as it stores each answer, and the task after an import.
        from battles.catalog.answer_html import render_answers

        render_started = time.perf_counter()
        rendered = render_answers()
        print(f"rendered the HTML of {rendered:,} answers in {time.perf_counter() - render_started:.0f} s")
        load_votes(args.llms, args.prompts, args.votes)
        # As autovacuum does some time after a bulk insert: the visibility map lets the refits' reads be
        # index-only scans (an arena's old votes are long vacuumed; a fresh bulk load's are not).
        from django.db import connection

        with connection.cursor() as cursor:
            for table in ("battles_vote", "battles_battle"):
                cursor.execute(f"VACUUM (ANALYZE) {table}")
        # As after an import: the history's Elo and TrueSkill replayed once, so the worker starts at the newest vote.
        replay_started = time.perf_counter()
        rebuild_online_ratings()
        print(f"online ratings replayed over {args.votes:,} votes in {time.perf_counter() - replay_started:.1f} s")
    fits = _recompute_seconds()
    print(f"default board recompute at {args.votes:,} votes, in this process: {', '.join(f'{s:.2f}' for s in fits)} s")
    voter_cookies = _sessions([f"bench-{k}" for k in range(VOTERS)])
    admin_cookies = _sessions(_admins())
    stack.start_services(env)
    print(f"boards worker at its start: {stack.archive_read()}", flush=True)
    base = f"http://127.0.0.1:{stack.web_port}"
    run_started = timezone.now()
    recomputes_before = _worker_recompute_histogram()

    health = get_load(f"{base}/healthz", connections=100, seconds=args.seconds)
    print(f"\n/healthz, 100 connections (baseline): {health.requests_per_second:.0f} req/s, p99 {health.p99_ms:.0f} ms")
    reader = Voter(base, voter_cookies[150])
    battle_path = asyncio.run(_open_battle_path(reader))
    # Measured twice: beside /healthz (the same quiet machine as its baseline), and after the voter phases,
    # while the workers catch up on what the voters and admins left them.
    _battle_page_line("beside /healthz", base + battle_path, voter_cookies[150], health, args.seconds)
    results = asyncio.run(_voter_phases(base, voter_cookies[:110], admin_cookies, stack, args.seconds))
    _battle_page_line("after the voter phases", base + battle_path, voter_cookies[150], health, args.seconds)
    _print_voter_table(results, health.requests_per_second)
    _print_cpu(results)

    time.sleep(2)  # let the last fragment POSTs' rows be visible to this connection
    acknowledged = sum(f.acknowledged for f in results.values())
    stored, duplicates = _stored_votes_since(run_started)
    print(f"\nacknowledged votes {acknowledged}, stored {stored}, duplicates {duplicates}   (must be equal, 0)")
    admins = results["100 voters + 3 admins on cold boards"]
    print(_cold_board_waits(admins.boards_opened))
    worker_line = _worker_recompute_line(recomputes_before, _worker_recompute_histogram())
    if worker_line:
        print(worker_line)
    print("queries per request:", ", ".join(f"{k} {v}" for k, v in _queries_per_request().items()))
    return 0 if acknowledged == stored and duplicates == 0 else 1


def _cold_board_waits(opened: list[tuple[str, float]]) -> str:
    """How long after an admin opened a cold board its first snapshot was stored (refits run at the idle
    CPU class and wait after each while the CPU is contended: ``ratings.refit_pacing``)."""
    waits, never = [], 0
    for address, opened_at in opened:
        fitted = _fitted_after(address, opened_at)
        if fitted is None:
            never += 1
        elif fitted >= 0:
            waits.append(fitted)
    return (
        f"cold boards the admins opened: {len(waits) + never}; fitted by the end of the bench {len(waits)}"
        f" (after a median {median(waits):.1f} s, at most {max(waits, default=0):.1f} s), not yet {never}"
    )


def _fitted_after(address: str, opened_at: float) -> float | None:
    """Seconds from opening the board at ``address`` to its first snapshot; None: not fitted yet; -1: it had
    a snapshot before (opened before in this run, not cold any more)."""
    import datetime as dt
    from urllib.parse import parse_qsl

    from ratings import fits
    from ratings.models import RatingSnapshot
    from ratings.scopes import BOARD, DECISION, STYLE
    from ratings.tasks import filter_of

    path, _, query = address.partition("?")
    params = dict(parse_qsl(query))
    kind = DECISION if "decision" in path else STYLE if params.pop("style", "") else BOARD
    scope = fits.scope_of(filter_of(params), kind)
    since = dt.datetime.fromtimestamp(opened_at, tz=dt.UTC)
    if RatingSnapshot.objects.filter(scope=scope, computed_at__lt=since).exists():
        return -1.0
    first = (
        RatingSnapshot.objects.filter(scope=scope, computed_at__gte=since)
        .order_by("computed_at")
        .values_list("computed_at", flat=True)
        .first()
    )
    return None if first is None else (first - since).total_seconds()


def _battle_page_line(when: str, url: str, cookie: str, health: GetFigures, seconds: int) -> None:
    before = cpu_seconds_by_process()
    started = time.perf_counter()
    battle = get_load(url, connections=100, seconds=seconds, cookie=cookie)
    cpu = cpu_seconds_between(before, cpu_seconds_by_process())
    elapsed = time.perf_counter() - started
    busy = ", ".join(
        f"{name} {s / elapsed:.2f}" for s, name in sorted(((s, n) for n, s in cpu.items()), reverse=True)[:5]
    )
    print(
        f"battle page (reload of an open battle) {when}, 100 connections: {battle.requests_per_second:.0f} req/s"
        f" ({battle.requests_per_second / health.requests_per_second:.0%} of /healthz), p99 {battle.p99_ms:.0f} ms,"
        f" errors {battle.errors}   (goal >= 400 req/s, p99 <= 400 ms;"
        f" 400 req/s was {GOAL_SHARES['battle page']} of /healthz on the machine it was set on)\n"
        f"{'':4}CPU (cores of 2): {busy}"
    )


async def _open_battle_path(voter: Voter) -> str:
    """The own address of the voter's open battle, as the page at ``/`` names it (``data-battle-url``)."""
    response = await voter.client.get("/")
    await voter.close()
    found = re.search(r'data-battle-url="([^"]+)"', response.text)
    if found is None:
        raise SystemExit(f"GET / showed no battle (HTTP {response.status_code})")
    return html.unescape(found.group(1))


if __name__ == "__main__":
    sys.exit(main())
