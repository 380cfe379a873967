"""Generation throughput: is it bound by the provider, not by Arena?

    .venv/bin/python bench/bench_generation.py [--generations 2000] [--latency 1.0] [--limit 50]
                                               [--workers 1] [--concurrency 4] [--batch-size 50]

The fake provider runs as its own process (``python -m battles.demo.fake_provider
--latency 1 --tokens-per-second 0``: every answer costs exactly the latency);
one LLM points at it with ``max_concurrency = --limit``; real Celery workers
(prefork, the production settings) run a generation job of ``--generations``
answers against a fresh Postgres database (``arena_bench``, created and dropped
here) and Redis (broker, limits, channel layer). The clock runs from starting
the job (``battles.generation.jobs.start_generation_job``) until no generation is pending
or running.

The ideal is generations × latency / limit (40 s by default). The last line is
``generation_time_ratio_to_ideal=<measured / ideal>``; the issue asks for ≤ 1.25.
The fake provider's own count of concurrent requests must stay ≤ the limit.

Services: ``BENCH_DATABASE_URL`` or ``DATABASE_URL`` names the Postgres server
(default ``postgres://postgres@127.0.0.1:5432/postgres``; only its host and
credentials are used), ``REDIS_URL`` the Redis server (default
``redis://127.0.0.1:6379/13``). Both must be reachable; nothing falls back to
SQLite or in-process tasks.
"""

from __future__ import annotations

import argparse
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

BENCH_DB = "arena_bench"
DEFAULT_DATABASE_URL = "postgres://postgres@127.0.0.1:5432/postgres"
DEFAULT_REDIS_URL = "redis://127.0.0.1:6379/13"


class BenchError(Exception):
    pass


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def with_database(url: str, name: str) -> str:
    return urlunsplit(urlsplit(url)._replace(path="/" + name))


def check_services(database_url: str, redis_url: str) -> None:
    import psycopg
    import redis

    try:
        with psycopg.connect(with_database(database_url, "postgres"), connect_timeout=3) as conn:
            conn.execute("select 1")
    except Exception as exc:  # noqa: BLE001
        raise BenchError(f"Postgres is not reachable at {urlsplit(database_url).netloc}: {exc}") from None
    try:
        redis.Redis.from_url(redis_url, socket_connect_timeout=3).ping()
    except Exception as exc:  # noqa: BLE001
        raise BenchError(f"Redis is not reachable at {redis_url}: {exc}") from None


def recreate_database(database_url: str, *, drop_only: bool = False) -> None:
    import psycopg

    with psycopg.connect(with_database(database_url, "postgres"), autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{BENCH_DB}" WITH (FORCE)')
        if not drop_only:
            conn.execute(f'CREATE DATABASE "{BENCH_DB}"')


def start_fake_provider(port: int, latency: float, log) -> subprocess.Popen:
    return subprocess.Popen(
        [
            sys.executable,
            "-m",
            "battles.demo.fake_provider",
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--latency",
            str(latency),
            "--tokens-per-second",
            "0",
        ],
        cwd=ROOT,
        stdout=log,
        stderr=subprocess.STDOUT,
    )


def start_worker(index: int, queue: str, concurrency: int, env: dict, log_path: Path) -> tuple[subprocess.Popen, Path]:
    log = open(log_path, "w")
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "celery",
            "-A",
            "arena",
            "worker",
            "-Q",
            queue,
            "--pool",
            "prefork",
            "--concurrency",
            str(concurrency),
            "--without-gossip",
            "--without-mingle",
            "--without-heartbeat",
            "--loglevel",
            "INFO",
            "--hostname",
            f"bench{index}-{queue}@%h",
        ],
        cwd=ROOT,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    return process, log_path


def wait_ready(process: subprocess.Popen, log_path: Path, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise BenchError(f"a celery worker exited early:\n{log_path.read_text()[-3000:]}")
        if " ready." in log_path.read_text():
            return
        time.sleep(0.2)
    raise BenchError(f"a celery worker did not become ready:\n{log_path.read_text()[-3000:]}")


def stop(process: subprocess.Popen | None) -> None:
    if process is None or process.poll() is not None:
        return
    process.terminate()
    try:
        process.wait(timeout=20)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--generations", type=int, default=2000)
    parser.add_argument("--latency", type=float, default=1.0, help="fake provider latency per answer (s)")
    parser.add_argument("--limit", type=int, default=50, help="the LLM's max_concurrency")
    parser.add_argument("--workers", type=int, default=1, help="celery worker processes")
    parser.add_argument("--concurrency", type=int, default=4, help="prefork children per worker")
    parser.add_argument("--batch-size", type=int, default=50, help="GENERATION_BATCH_SIZE")
    parser.add_argument("--timeout", type=float, default=600)
    options = parser.parse_args(argv)

    database_url = os.environ.get("BENCH_DATABASE_URL") or os.environ.get("DATABASE_URL") or DEFAULT_DATABASE_URL
    redis_url = os.environ.get("BENCH_REDIS_URL") or os.environ.get("REDIS_URL") or DEFAULT_REDIS_URL
    if not database_url.startswith(("postgres://", "postgresql://")):
        print(f"error: the benchmark needs Postgres; DATABASE_URL is {database_url!r}", file=sys.stderr)
        return 2
    try:
        check_services(database_url, redis_url)
    except BenchError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2

    queue = f"arena-bench-{uuid.uuid4().hex[:8]}"
    bench_env = {
        "DATABASE_URL": with_database(database_url, BENCH_DB),
        "REDIS_URL": redis_url,
        "CHANNEL_LAYER_URL": redis_url,
        "CELERY_BROKER_URL": redis_url,
        "CELERY_QUEUE": queue,
        "SECRET_KEY": "bench-only-secret-key",
        "ARENA_ALLOW_PRIVATE_ENDPOINTS": "1",
        "GENERATION_BATCH_SIZE": str(options.batch_size),
        "LOG_LEVEL": "WARNING",
    }
    os.environ.update(bench_env)
    os.environ.pop("TEST_DATABASE_NAME", None)
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "arena.settings")

    tmp = Path(tempfile.mkdtemp(prefix="arena-bench-"))
    provider_log = open(tmp / "fake_provider.log", "w")
    provider = None
    workers: list[subprocess.Popen] = []
    keep_logs = True
    recreate_database(database_url)
    try:
        import django

        django.setup()
        from django.core.management import call_command

        call_command("migrate", verbosity=0)

        from arena.celery import app
        from battles.catalog import llms
        from battles.core.text import prompt_hash
        from battles.demo.fake_provider import FakeProviderControl
        from battles.generation import job_state, jobs
        from battles.models import Generation, Prompt, PromptPool

        port = free_port()
        provider = start_fake_provider(port, options.latency, provider_log)
        control = FakeProviderControl(f"http://127.0.0.1:{port}")
        control.wait_until_ready()

        pool = PromptPool.objects.create(name="bench")
        texts = [
            f"Bench prompt {i}: how would you plan a small {i % 97}-step migration?" for i in range(options.generations)
        ]
        Prompt.objects.bulk_create(
            [Prompt(pool=pool, text=t, category="bench", text_hash=prompt_hash(t)) for t in texts], batch_size=1000
        )
        llm = llms.create_llm(
            name="bench-model", provider="openai", base_url=control.openai_base_url, model_id="bench-model"
        )
        llm.max_concurrency = options.limit
        llm.save(update_fields=["max_concurrency"])

        worker_env = {**os.environ, **bench_env}
        started = [
            start_worker(i, queue, options.concurrency, worker_env, tmp / f"worker{i}.log")
            for i in range(options.workers)
        ]
        workers = [process for process, _ in started]
        for process, log_path in started:
            wait_ready(process, log_path)
        control.reset()

        begin = time.monotonic()
        job = jobs.start_generation_job(pool=pool, versions=[llm.current_version()])
        scope = job_state.scope(job)
        open_statuses = [Generation.Status.PENDING, Generation.Status.RUNNING]
        while scope.filter(status__in=open_statuses).exists():
            if time.monotonic() - begin > options.timeout:
                raise BenchError(f"timed out after {options.timeout:.0f} s; see the logs in {tmp}")
            time.sleep(0.1)
        elapsed = time.monotonic() - begin

        done = scope.filter(status=Generation.Status.DONE).count()
        failed = scope.filter(status=Generation.Status.FAILED).count()
        stats = control.stats()
        max_in_flight = stats["max_in_flight"].get("bench-model", 0)
        requests = stats["requests"].get("bench-model", 0)
        ideal = options.generations * options.latency / options.limit
        ratio = elapsed / ideal
        print(f"generations: {options.generations} (done {done}, failed {failed}); provider requests: {requests}")
        print(f"workers: {options.workers} × prefork {options.concurrency}, batch size {options.batch_size}")
        print(
            f"fake provider: latency {options.latency:g} s, limit {options.limit} concurrent; "
            f"max_in_flight={max_in_flight}{'' if max_in_flight <= options.limit else '  (OVER THE LIMIT)'}"
        )
        print(f"measured: {elapsed:.2f} s")
        print(f"ideal: {ideal:.2f} s")
        print(f"generation_time_ratio_to_ideal={ratio:.3f}")
        ok = done == options.generations and max_in_flight <= options.limit
        with app.connection_for_write() as conn:
            conn.default_channel.queue_delete(queue)
        import redis

        store = redis.Redis.from_url(redis_url)
        for leftover in store.scan_iter(match=f"*{queue}*"):  # kombu's bindings for the queue
            store.delete(leftover)
        if ok:
            keep_logs = False
        else:
            print(f"logs: {tmp}", file=sys.stderr)
        return 0 if ok else 1
    except BenchError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    finally:
        for process in workers:
            stop(process)
        stop(provider)
        provider_log.close()
        try:
            from django.db import connections

            connections.close_all()
        except Exception:  # noqa: BLE001
            pass
        recreate_database(database_url, drop_only=True)
        if not keep_logs:
            shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
