"""What every request of the fake provider shares: its timing settings, the
queued faults, the counters behind ``/_fake/stats`` and the wait that gives up
when the server stops or the client hangs up. Thread-safe behind one lock."""

from __future__ import annotations

import math
import re
import select
import socket
import threading
import time
from collections import Counter, deque
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, fields, replace
from typing import Any

from battles.demo.fake_provider.answers import AnswerBook

_FAULT = re.compile(
    r"^(?:(?P<status>[3-5]\d\d)|(?P<name>cut|truncate|stream_error|malformed|drip|hang))(?::(?P<arg>\d+(?:\.\d+)?))?$"
)
_ARG_FAULTS = {"429", "drip", "hang"}


@dataclass(frozen=True)
class FakeSettings:
    """The timing of answers and faults, in seconds; ``tokens_per_second`` 0 sends as fast as possible."""

    latency: float = 0.0
    tokens_per_second: float = 0.0
    retry_after: float = 1.0
    drip_interval: float = 2.0
    hang_seconds: float = 120.0

    def __post_init__(self) -> None:
        for item in fields(self):
            value = getattr(self, item.name)
            if not isinstance(value, (int, float)) or isinstance(value, bool) or value < 0 or math.isinf(value):
                raise ValueError(f"{item.name} must be a non-negative number")


@dataclass(frozen=True)
class Fault:
    """One queued fault; the kinds are listed in the ``server`` module docstring."""

    kind: str  # a status code as text, or a fault name
    arg: float | None = None

    @classmethod
    def parse(cls, text: str) -> Fault:
        match = _FAULT.match(str(text).strip())
        if not match:
            raise ValueError(f"unknown fault {text!r}")
        kind = match.group("status") or match.group("name")
        arg = match.group("arg")
        if arg is not None and kind not in _ARG_FAULTS:
            raise ValueError(f"fault {kind!r} takes no argument")
        return cls(kind, float(arg) if arg is not None else None)

    @property
    def status(self) -> int | None:
        return int(self.kind) if self.kind.isdigit() else None

    def __str__(self) -> str:
        return self.kind if self.arg is None else f"{self.kind}:{self.arg:g}"


class ServerStopping(Exception):
    """The server is shutting down: abandon the request."""


class ClientGone(ConnectionError):
    """The client closed its connection while its answer was being prepared."""


class ServerState:
    """Everything the handlers share, behind one lock."""

    def __init__(self, settings: FakeSettings, book: AnswerBook) -> None:
        self.lock = threading.Lock()
        self.initial_settings = settings
        self.settings = settings
        self.book = book
        self.stopping = threading.Event()
        self._reset_locked()

    def _reset_locked(self) -> None:
        # Requests that started before a reset belong to an older epoch: they
        # finish (or are abandoned) without touching the new counters.
        self.epoch = getattr(self, "epoch", 0) + 1
        self.faults: dict[str, deque[Fault]] = {}
        self.requests: Counter[str] = Counter()
        self.completed: Counter[str] = Counter()
        self.in_flight: Counter[str] = Counter()
        self.max_in_flight: Counter[str] = Counter()
        self.max_in_flight_total = 0
        self.last_requests: dict[str, dict] = {}
        self.models_seen: set[str] = set()

    def reset(self) -> None:
        with self.lock:
            self._reset_locked()
            self.settings = self.initial_settings

    def configure(self, **changes: Any) -> FakeSettings:
        with self.lock:
            self.settings = replace(self.settings, **changes)
            return self.settings

    def add_faults(self, model: str, faults: list[Fault]) -> None:
        with self.lock:
            self.faults.setdefault(model, deque()).extend(faults)

    def record(self, model: str, entry: dict) -> int:
        """Count a request; returns the epoch it belongs to."""
        with self.lock:
            self.requests[model] += 1
            self.models_seen.add(model)
            self.last_requests[model] = entry
            return self.epoch

    def take_fault(self, model: str) -> Fault | None:
        with self.lock:
            for key in (model, "*"):
                queue = self.faults.get(key)
                if queue:
                    return queue.popleft()
        return None

    def mark_completed(self, model: str, epoch: int, change: int = 1) -> None:
        with self.lock:
            if epoch != self.epoch:
                return
            self.completed[model] += change
            if self.completed[model] <= 0:
                del self.completed[model]

    @contextmanager
    def running(self, model: str, epoch: int) -> Iterator[None]:
        with self.lock:
            if epoch != self.epoch:
                epoch = -1  # reset in between: this request is not counted at all
            else:
                self.in_flight[model] += 1
            self.max_in_flight[model] = max(self.max_in_flight[model], self.in_flight[model])
            self.max_in_flight_total = max(self.max_in_flight_total, sum(self.in_flight.values()))
        try:
            yield
        finally:
            with self.lock:
                if epoch == self.epoch:
                    self.in_flight[model] -= 1
                    if self.in_flight[model] <= 0:
                        del self.in_flight[model]

    def stats(self) -> dict:
        with self.lock:
            return {
                "requests": dict(self.requests),
                "completed": dict(self.completed),
                "in_flight": {m: n for m, n in self.in_flight.items() if n > 0},
                "max_in_flight": dict(self.max_in_flight),
                "max_in_flight_total": self.max_in_flight_total,
                "faults_pending": {m: [str(f) for f in q] for m, q in self.faults.items() if q},
            }

    def last_request(self, model: str) -> dict | None:
        with self.lock:
            return self.last_requests.get(model)

    def models(self) -> list[str]:
        with self.lock:
            return sorted(set(self.book.models()) | self.models_seen)

    def wait(self, seconds: float, connection: socket.socket | None = None) -> None:
        """Sleep, but give up early when the server stops (ServerStopping) or the
        client hangs up (ClientGone): an abandoned request ends promptly, as it
        would at a real provider, instead of lingering in the counters."""
        until = time.monotonic() + max(seconds, 0.0)
        poller = None
        if connection is not None:
            poller = select.poll()  # not select.select: no limit on descriptor numbers
            poller.register(connection, select.POLLIN | select.POLLHUP | select.POLLERR)
        while True:
            if self.stopping.is_set():
                raise ServerStopping()
            left = until - time.monotonic()
            if left <= 0:
                return
            if poller is None:
                self.stopping.wait(min(left, 0.1))
                continue
            if poller.poll(min(left, 0.1) * 1000):
                assert connection is not None  # the poller watches it
                try:
                    peeked = connection.recv(1, socket.MSG_PEEK | socket.MSG_DONTWAIT)
                except BlockingIOError:
                    continue
                except OSError:
                    raise ClientGone() from None
                if not peeked:
                    raise ClientGone()
                # The client sent more bytes (pipelining): stop watching, just sleep.
                poller = None
