"""Load for ``bench_web.py``: voters who vote and open the next battle, admins who open cold boards, plain GETs.

Voters behave like the page's JavaScript: the vote is a fragment POST (``X-Arena-Fragment: 1``) with the
session's CSRF token, then ``/``, which shows the next battle (its own address is put in the address bar by
the page's script, with no request). Each voter has its own
session (made in the bench process) and its own connection (``bench.lean_http``: little CPU per request).
"""

from __future__ import annotations

import asyncio
import datetime
import random
import re
import shutil
import statistics
import subprocess
import time
from dataclasses import dataclass, field

import httpx

from bench.lean_http import LeanClient

VOTE_ACTION = re.compile(r'action="(/battle/[0-9a-f-]+/vote/[^"]*)"')
CSRF_INPUT = re.compile(r'name="csrfmiddlewaretoken" value="([^"]+)"')
CHOICE = re.compile(r'<button type="submit" name="outcome" value="([a-z_]+)"')


@dataclass
class Figures:
    """What one phase measured; ``acknowledged`` counts vote POSTs answered 200 (the voter saw it counted)."""

    seconds: float = 0.0
    cycles: int = 0
    acknowledged: int = 0
    post_ms: list[float] = field(default_factory=list)
    get_ms: list[float] = field(default_factory=list)
    failures: dict[str, int] = field(default_factory=dict)
    board_ms: list[float] = field(default_factory=list)
    boards_opened: list[tuple[str, float]] = field(default_factory=list)  # (address, time.time()) of each board
    cpu_seconds: dict[str, float] = field(default_factory=dict)  # by program, during the phase
    parts: list[Figures] = field(default_factory=list)  # the blocks ``merged`` made these figures of

    @classmethod
    def merged(cls, parts: list[Figures]) -> Figures:
        """One phase measured in several blocks, as the sum of its blocks (which it keeps in ``parts``)."""
        total = cls(parts=list(parts))
        for part in parts:
            total.seconds += part.seconds
            total.cycles += part.cycles
            total.acknowledged += part.acknowledged
            total.post_ms += part.post_ms
            total.get_ms += part.get_ms
            total.board_ms += part.board_ms
            total.boards_opened += part.boards_opened
            for what, n in part.failures.items():
                total.failures[what] = total.failures.get(what, 0) + n
            for program, spent in part.cpu_seconds.items():
                total.cpu_seconds[program] = total.cpu_seconds.get(program, 0.0) + spent
        return total

    def fail(self, what: str) -> None:
        self.failures[what] = self.failures.get(what, 0) + 1

    @property
    def cycles_per_second(self) -> float:
        return self.cycles / self.seconds if self.seconds else 0.0


def percentile(values: list[float], share: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(share * len(ordered)))]


def median(values: list[float]) -> float:
    return statistics.median(values) if values else float("nan")


class Voter:
    """One voter's browser: its own session and connection (``LeanClient``: little CPU per request)."""

    def __init__(self, base_url: str, session_cookie: str) -> None:
        self.client = LeanClient(base_url, {"sessionid": session_cookie})
        self.page = ""

    async def open_next(self, figures: Figures | None) -> bool:
        started = time.perf_counter()
        try:
            response = await self.client.get("/")
        except (TimeoutError, OSError) as error:
            if figures is not None:
                figures.fail(f"next battle: {type(error).__name__}")
            return False
        if figures is not None:
            figures.get_ms.append((time.perf_counter() - started) * 1000)
        if response.status_code != 200 or not VOTE_ACTION.search(response.text):
            if figures is not None:
                figures.fail(f"next battle: HTTP {response.status_code}")
            return False
        self.page = response.text
        return True

    async def vote(self, figures: Figures) -> bool:
        action, token = VOTE_ACTION.search(self.page), CSRF_INPUT.search(self.page)
        if action is None or token is None:
            figures.fail("battle page without a vote form")
            return False
        started = time.perf_counter()
        form = {"outcome": random.choice(CHOICE.findall(self.page) or ["a"]), "csrfmiddlewaretoken": token.group(1)}
        try:
            response = await self.client.post(action.group(1), data=form, headers={"X-Arena-Fragment": "1"})
        except (TimeoutError, OSError) as error:
            # Not acknowledged: whether it was stored is what the count of rows afterwards shows.
            figures.fail(f"vote: {type(error).__name__}")
            return False
        figures.post_ms.append((time.perf_counter() - started) * 1000)
        if response.status_code == 200:
            figures.acknowledged += 1
            return True
        figures.fail(f"vote: HTTP {response.status_code}")
        return False

    async def close(self) -> None:
        await self.client.aclose()


async def _voter_loop(voter: Voter, figures: Figures, stop_at: float) -> None:
    while time.monotonic() < stop_at:
        if not voter.page and not await voter.open_next(figures):
            await asyncio.sleep(0.5)
            continue
        await voter.vote(figures)
        voter.page = ""
        if await voter.open_next(figures):
            figures.cycles += 1


async def _admin_loop(client: httpx.AsyncClient, pages: list[str], figures: Figures, stop_at: float) -> None:
    """An eval lead opening boards nobody has opened yet (a new date range each time), reading each for 2 s."""
    while time.monotonic() < stop_at:
        started = time.perf_counter()
        try:
            since = datetime.date.today() - datetime.timedelta(days=random.randint(2, 170))
            address = random.choice(pages).format(since=since.isoformat())
            opened_at = time.time()
            response = await client.get(address)
            if response.status_code != 200:
                figures.fail(f"board: HTTP {response.status_code}")
            else:
                figures.boards_opened.append((address, opened_at))
        except httpx.HTTPError as error:
            figures.fail(f"board: {type(error).__name__}")
        figures.board_ms.append((time.perf_counter() - started) * 1000)
        await asyncio.sleep(2.0)


async def run_voters(
    voters: list[Voter],
    seconds: float,
    *,
    admins: list[httpx.AsyncClient] = (),  # type: ignore[assignment]
    board_pages: list[str] = (),  # type: ignore[assignment]
    during=None,
) -> Figures:
    """Every voter votes and opens the next battle for ``seconds``; ``during`` (a coroutine) runs alongside."""
    figures = Figures()
    started = time.monotonic()
    stop_at = started + seconds
    tasks = [asyncio.create_task(_voter_loop(voter, figures, stop_at)) for voter in voters]
    tasks += [asyncio.create_task(_admin_loop(admin, list(board_pages), figures, stop_at)) for admin in admins]
    if during is not None:
        tasks.append(asyncio.create_task(during))
    await asyncio.gather(*tasks)
    figures.seconds = time.monotonic() - started
    return figures


@dataclass
class GetFigures:
    requests_per_second: float
    p99_ms: float
    errors: int


def get_load(url: str, *, connections: int, seconds: int, cookie: str | None = None) -> GetFigures:
    """Many connections GET one URL: wrk when installed (its client costs little CPU), else Python."""
    if shutil.which("wrk"):
        return _wrk(url, connections=connections, seconds=seconds, cookie=cookie)
    return asyncio.run(_python_get_load(url, connections=connections, seconds=seconds, cookie=cookie))


def _wrk(url: str, *, connections: int, seconds: int, cookie: str | None) -> GetFigures:
    command = ["wrk", "-t2", f"-c{connections}", f"-d{seconds}s", "--latency", "--timeout", "10s"]
    if cookie:
        command += ["-H", f"Cookie: sessionid={cookie}"]
    output = subprocess.run([*command, url], capture_output=True, text=True, check=True).stdout
    rate = float(re.search(r"Requests/sec:\s+([\d.]+)", output).group(1))  # type: ignore[union-attr]
    p99 = re.search(r"99%\s+([\d.]+)(us|ms|s)\b", output)
    unit = {"us": 0.001, "ms": 1.0, "s": 1000.0}[p99.group(2)]  # type: ignore[union-attr]
    non_2xx = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", output)
    socket_errors = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", output)
    errors = int(non_2xx.group(1)) if non_2xx else 0
    if socket_errors:
        errors += sum(int(n) for n in socket_errors.groups())
    return GetFigures(rate, float(p99.group(1)) * unit, errors)  # type: ignore[union-attr]


async def _python_get_load(url: str, *, connections: int, seconds: int, cookie: str | None) -> GetFigures:
    latencies: list[float] = []
    errors = 0
    stop_at = time.monotonic() + seconds

    async def loop() -> None:
        nonlocal errors
        async with httpx.AsyncClient(cookies={"sessionid": cookie} if cookie else None, timeout=10.0) as client:
            while time.monotonic() < stop_at:
                started = time.perf_counter()
                response = await client.get(url)
                latencies.append((time.perf_counter() - started) * 1000)
                errors += response.status_code != 200

    started = time.monotonic()
    await asyncio.gather(*(loop() for _ in range(connections)))
    return GetFigures(len(latencies) / (time.monotonic() - started), percentile(latencies, 0.99), errors)
