"""Plumbing of the runner: the database thread, call coalescing, and small HTTP client pools."""

from __future__ import annotations

import asyncio
import contextlib

import httpx
from asgiref.sync import sync_to_async

from battles.egress import endpoints


class Database:
    """Runs ORM calls on the thread that called ``run_batch``, many per thread hop.

    Every hop between the event loop and that thread costs a GIL handoff; with
    dozens of generations finishing at once, one hop per call would queue them
    up behind each other. Calls made while a hop is under way go together in
    the next one, each with its own result or exception, in order.
    """

    def __init__(self) -> None:
        self._queue: list[tuple] = []
        self._flushing = False

    async def __call__(self, function, *args, **kwargs):
        future = asyncio.get_running_loop().create_future()
        self._queue.append((function, args, kwargs, future))
        if not self._flushing:
            self._flushing = True
            asyncio.ensure_future(self._flush())
        return await future

    async def _flush(self) -> None:
        try:
            while self._queue:
                calls, self._queue = self._queue, []
                try:
                    results = await sync_to_async(run_calls)(calls)
                except BaseException as exc:  # noqa: BLE001  (the hop itself failed: fail every call)
                    results = [(False, exc)] * len(calls)
                for (_, _, _, future), (ok, value) in zip(calls, results):
                    if future.done():
                        continue
                    if ok:
                        future.set_result(value)
                    else:
                        future.set_exception(value)
        finally:
            self._flushing = False


def run_calls(calls: list[tuple]) -> list[tuple[bool, object]]:
    results = []
    for function, args, kwargs, _ in calls:
        try:
            results.append((True, function(*args, **kwargs)))
        except Exception as exc:  # noqa: BLE001  (handed to the caller's await)
            results.append((False, exc))
    return results


class Coalescer:
    """Merges calls made while an earlier one is in flight into one call of ``many``.

    ``many`` takes a list of items and returns a list of results in the same
    order; it runs on the database thread. Claiming or storing fifty
    generations then costs two queries instead of a hundred.
    """

    def __init__(self, db: Database, many) -> None:
        self.db = db
        self.many = many
        self._pending: list[tuple[object, asyncio.Future]] = []
        self._flushing = False

    async def __call__(self, item):
        future = asyncio.get_running_loop().create_future()
        self._pending.append((item, future))
        if not self._flushing:
            self._flushing = True
            asyncio.ensure_future(self._flush())
        return await future

    async def _flush(self) -> None:
        try:
            while self._pending:
                batch, self._pending = self._pending, []
                try:
                    results = await self.db(self.many, [item for item, _ in batch])
                except Exception as exc:  # noqa: BLE001  (each caller sees the failure)
                    results = None
                    for _, future in batch:
                        if not future.done():
                            future.set_exception(exc)
                if results is not None:
                    for (_, future), result in zip(batch, results):
                        if not future.done():
                            future.set_result(result)
        finally:
            self._flushing = False


class Clients:
    """HTTP clients for the calls of one batch: a few small pools instead of one big one.

    httpcore scans every connection of a pool each time a request starts or
    ends, so one pool with dozens of connections costs more CPU than the calls
    themselves; pools of a few connections keep reuse and drop that cost. All
    clients share one TLS context (building one is the expensive part).
    """

    PER_CLIENT = 8

    def __init__(self) -> None:
        self._ssl = httpx.create_ssl_context()
        self._clients: list[list] = []  # [client, calls in progress]

    @contextlib.asynccontextmanager
    async def client(self):
        entry = min((e for e in self._clients if e[1] < self.PER_CLIENT), key=lambda e: e[1], default=None)
        if entry is None:
            limits = httpx.Limits(max_connections=self.PER_CLIENT, max_keepalive_connections=self.PER_CLIENT)
            entry = [endpoints.async_http_client(verify=self._ssl, limits=limits), 0]
            self._clients.append(entry)
        entry[1] += 1
        try:
            yield entry[0]
        finally:
            entry[1] -= 1

    async def aclose(self) -> None:
        for client, _ in self._clients:
            await client.aclose()
