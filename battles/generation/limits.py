"""Per-LLM limits shared by every worker: concurrency, requests and tokens per minute.

A call first takes a *lease*: a slot in the LLM's concurrency set that expires
on its own after ``lease_seconds``, so a worker killed mid-call cannot keep its
slot for longer than that. The same atomic step takes one request from the
requests-per-minute bucket and the estimated tokens from the tokens-per-minute
bucket (token buckets refilled continuously, capacity one minute's worth); the
estimate is corrected when the lease is released with the real token count.

Two backends with one interface: ``RedisLimiter`` (one Lua script per step,
Redis's clock, shared by all processes) and ``LocalLimiter`` (process-local,
for embedded mode where every task runs in the web process). Both are async;
one instance belongs to one event loop.

``take_window`` is a small throttle built on the same store (at most one
caller per key per window), used for live progress updates.

No Django import here: the caller passes the Redis URL.
"""

from __future__ import annotations

import asyncio
import logging
import random
import threading
import time
import uuid
from collections import defaultdict
from dataclasses import dataclass, field

import redis
import redis.asyncio
import redis.exceptions

logger = logging.getLogger(__name__)

# How often a caller waiting for a free slot asks again, when no release
# in its own process woke it up first (seconds).
POLL_INTERVAL = 0.02
# How long to wait before asking an unreachable store again.
UNAVAILABLE_RETRY = 0.5
# Buckets and slot sets vanish after this long unused (a full bucket needs no state).
IDLE_EXPIRY_MS = 300_000


@dataclass(frozen=True)
class Limits:
    """An LLM's limits; 0 means unlimited."""

    max_concurrency: int = 0
    requests_per_minute: int = 0
    tokens_per_minute: int = 0

    @property
    def unlimited(self) -> bool:
        return not (self.max_concurrency or self.requests_per_minute or self.tokens_per_minute)


@dataclass
class Lease:
    key: str
    limits: Limits
    tokens: int
    lease_id: str = field(default_factory=lambda: uuid.uuid4().hex)
    released: bool = False


class LimiterUnavailable(Exception):
    """The shared store could not be reached."""


class WaitExpired(Exception):
    """No slot became free before the caller's time was up."""


def estimate_tokens(*texts: str, max_tokens: int) -> int:
    """Tokens a call may use: about four characters per input token, plus every output token allowed."""
    return sum(len(t) for t in texts) // 4 + 1 + max_tokens


class _Waiter:
    __slots__ = ("lease", "future")

    def __init__(self, lease: Lease, future: asyncio.Future):
        self.lease = lease
        self.future = future


class Limiter:
    """Base class. ``try_acquire_many`` never waits; ``acquire`` waits for a lease.

    Within one process, one dispatcher per key asks the store for leases on
    behalf of every waiting caller in a single step, first come first served,
    and a release in this process wakes it at once; a release elsewhere is
    noticed at the next poll (``POLL_INTERVAL``).
    """

    def __init__(self) -> None:
        self._waiting: dict[str, list[_Waiter]] = defaultdict(list)
        self._dispatchers: dict[str, asyncio.Task] = {}
        self._wake: dict[str, asyncio.Event] = defaultdict(asyncio.Event)
        self._errors: dict[str, LimiterUnavailable] = {}
        self._lease_seconds: dict[str, float] = {}

    async def try_acquire_many(self, leases: list[Lease], lease_seconds: float) -> tuple[int, float]:
        """Take the first leases that every limit allows, in order.

        Returns (how many were taken, how long to wait before asking for the
        rest in seconds; 0 when all were taken).
        """
        raise NotImplementedError

    async def _release(self, lease: Lease, refund: int) -> None:
        raise NotImplementedError

    async def take_window(self, key: str, seconds: float) -> bool:
        """True for the first caller per ``key`` in each window of ``seconds``."""
        raise NotImplementedError

    async def close(self) -> None:
        for task in self._dispatchers.values():
            task.cancel()

    async def acquire(
        self, key: str, limits: Limits, *, tokens: int, lease_seconds: float, until: float | None = None
    ) -> Lease:
        """Wait for a lease on ``key``.

        Raises WaitExpired when ``until`` (a ``time.monotonic()`` value) passes
        first, or LimiterUnavailable when the store was down at that moment.
        """
        lease = Lease(key=key, limits=limits, tokens=tokens)
        if limits.unlimited:
            return lease
        waiter = _Waiter(lease, asyncio.get_running_loop().create_future())
        self._waiting[key].append(waiter)
        self._lease_seconds[key] = max(self._lease_seconds.get(key, 0.0), lease_seconds)
        dispatcher = self._dispatchers.get(key)
        if dispatcher is None or dispatcher.done():
            self._dispatchers[key] = asyncio.ensure_future(self._dispatch(key))
        else:
            self._wake[key].set()
        timeout = None if until is None else max(until - time.monotonic(), 0.0)
        await asyncio.wait([waiter.future], timeout=timeout)
        if waiter.future.done():
            return waiter.future.result()
        waiter.future.cancel()  # the dispatcher skips it, and gives back a lease granted meanwhile
        if key in self._errors:
            raise self._errors[key]
        raise WaitExpired(key)

    async def _dispatch(self, key: str) -> None:
        queue = self._waiting[key]
        wake = self._wake[key]
        while True:
            queue[:] = [w for w in queue if not w.future.done()]
            if not queue:
                self._dispatchers.pop(key, None)
                return
            batch = list(queue)
            wake.clear()
            try:
                granted, wait = await self.try_acquire_many([w.lease for w in batch], self._lease_seconds[key])
                self._errors.pop(key, None)
            except LimiterUnavailable as exc:
                granted, wait = 0, UNAVAILABLE_RETRY
                self._errors[key] = exc
            for waiter in batch[:granted]:
                queue.remove(waiter)
                if waiter.future.done():
                    asyncio.ensure_future(self.release(waiter.lease))  # its caller gave up meanwhile
                else:
                    waiter.future.set_result(waiter.lease)
            if granted == len(batch):
                continue
            try:
                await asyncio.wait_for(wake.wait(), timeout=wait * random.uniform(1.0, 1.25))
            except TimeoutError:
                pass

    async def release(self, lease: Lease, *, tokens_used: int | None = None) -> None:
        """Give the slot back and correct the token estimate; safe to call twice, never raises."""
        if lease.released:
            return
        lease.released = True
        if lease.limits.unlimited:
            return
        refund = lease.tokens - tokens_used if tokens_used is not None else 0
        try:
            await self._release(lease, refund)
        except LimiterUnavailable:
            logger.warning("could not release a provider slot of %s (it expires on its own)", lease.key)
        self._wake[lease.key].set()


# --- Redis -----------------------------------------------------------------------------------

_ACQUIRE = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local lease_ms = tonumber(ARGV[1])
local max_conc = tonumber(ARGV[2])
local rpm = tonumber(ARGV[3])
local tpm = tonumber(ARGV[4])
local n = (#ARGV - 5) / 2
local function level(key, capacity)
  local v = redis.call('HMGET', key, 'level', 'ts')
  local lvl = tonumber(v[1])
  if lvl == nil then
    return capacity
  end
  lvl = lvl + (now - tonumber(v[2])) * capacity / 60000
  if lvl > capacity then
    lvl = capacity
  end
  return lvl
end
local used = 0
if max_conc > 0 then
  redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now)
  used = redis.call('ZCARD', KEYS[1])
end
local rl = 0
local tl = 0
if rpm > 0 then
  rl = level(KEYS[2], rpm)
end
if tpm > 0 then
  tl = level(KEYS[3], tpm)
end
local granted = 0
local wait = 0
for i = 1, n do
  local id = ARGV[4 + 2 * i]
  local need = tonumber(ARGV[5 + 2 * i])
  if tpm > 0 and need > tpm then
    need = tpm
  end
  if max_conc > 0 and used >= max_conc then
    wait = -1
  end
  if rpm > 0 and rl < 1 then
    wait = math.max(wait, math.ceil((1 - rl) * 60000 / rpm))
  end
  if tpm > 0 and tl < need then
    wait = math.max(wait, math.ceil((need - tl) * 60000 / tpm))
  end
  if wait ~= 0 then
    break
  end
  if max_conc > 0 then
    redis.call('ZADD', KEYS[1], now + lease_ms, id)
    used = used + 1
  end
  rl = rl - 1
  tl = tl - need
  granted = granted + 1
end
if granted > 0 then
  if max_conc > 0 then
    redis.call('PEXPIRE', KEYS[1], lease_ms + 1000)
  end
  if rpm > 0 then
    redis.call('HSET', KEYS[2], 'level', tostring(rl), 'ts', now)
    redis.call('PEXPIRE', KEYS[2], ARGV[5])
  end
  if tpm > 0 then
    redis.call('HSET', KEYS[3], 'level', tostring(tl), 'ts', now)
    redis.call('PEXPIRE', KEYS[3], ARGV[5])
  end
end
return {granted, wait}
"""

_RELEASE = """
redis.call('ZREM', KEYS[1], ARGV[1])
local tpm = tonumber(ARGV[2])
local refund = tonumber(ARGV[3])
if tpm > 0 and refund ~= 0 then
  local v = redis.call('HMGET', KEYS[2], 'level', 'ts')
  local lvl = tonumber(v[1])
  if lvl ~= nil then
    local t = redis.call('TIME')
    local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
    lvl = lvl + (now - tonumber(v[2])) * tpm / 60000 + refund
    if lvl > tpm then
      lvl = tpm
    end
    redis.call('HSET', KEYS[2], 'level', tostring(lvl), 'ts', now)
    redis.call('PEXPIRE', KEYS[2], ARGV[4])
  end
end
return 0
"""


class RedisLimiter(Limiter):
    prefix = "arena:limits:"

    def __init__(self, url: str) -> None:
        super().__init__()
        self._redis = redis.asyncio.Redis.from_url(url, socket_timeout=5, socket_connect_timeout=2)
        self._acquire = self._redis.register_script(_ACQUIRE)
        self._release_script = self._redis.register_script(_RELEASE)

    def _keys(self, key: str) -> list[str]:
        base = self.prefix + key
        return [base + ":slots", base + ":rpm", base + ":tpm"]

    async def _call(self, coroutine):
        try:
            return await coroutine
        except (redis.exceptions.RedisError, OSError) as exc:
            raise LimiterUnavailable(str(exc)) from None

    async def try_acquire_many(self, leases: list[Lease], lease_seconds: float) -> tuple[int, float]:
        limits = leases[0].limits
        args: list[int | str] = [
            int(lease_seconds * 1000),
            limits.max_concurrency,
            limits.requests_per_minute,
            limits.tokens_per_minute,
            IDLE_EXPIRY_MS,
        ]
        for lease in leases:
            args += [lease.lease_id, lease.tokens]
        granted, wait_ms = await self._call(self._acquire(keys=self._keys(leases[0].key), args=args))
        granted, wait_ms = int(granted), int(wait_ms)
        if granted == len(leases):
            return granted, 0.0
        return granted, POLL_INTERVAL if wait_ms < 0 else max(wait_ms / 1000, POLL_INTERVAL)

    async def _release(self, lease: Lease, refund: int) -> None:
        slots, _, tpm = self._keys(lease.key)
        await self._call(
            self._release_script(
                keys=[slots, tpm],
                args=[lease.lease_id, lease.limits.tokens_per_minute, refund, IDLE_EXPIRY_MS],
            )
        )

    async def take_window(self, key: str, seconds: float) -> bool:
        taken = await self._call(self._redis.set("arena:window:" + key, "1", nx=True, px=max(1, int(seconds * 1000))))
        return bool(taken)

    async def in_flight(self, key: str) -> int:
        """Leases currently held on ``key`` (for admin pages and tests)."""
        slots = self._keys(key)[0]
        now_ms = int(time.time() * 1000)
        return int(await self._call(self._redis.zcount(slots, now_ms, "+inf")))

    async def close(self) -> None:
        try:
            await super().close()
            await self._redis.aclose()
        except Exception:  # noqa: BLE001  (closing a dead connection)
            pass


# --- process-local ---------------------------------------------------------------------------


class _LocalState:
    """Shared by every LocalLimiter in the process (each event loop has its own limiter)."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.slots: dict[str, dict[str, float]] = defaultdict(dict)
        self.buckets: dict[str, tuple[float, float]] = {}
        self.windows: dict[str, float] = {}

    def level(self, key: str, capacity: int, now: float) -> float:
        level, at = self.buckets.get(key, (float(capacity), now))
        return min(float(capacity), level + (now - at) * capacity / 60.0)


_local = _LocalState()


class LocalLimiter(Limiter):
    def __init__(self, state: _LocalState | None = None) -> None:
        super().__init__()
        self.state = state or _local

    async def try_acquire_many(self, leases: list[Lease], lease_seconds: float) -> tuple[int, float]:
        limits, key, now = leases[0].limits, leases[0].key, time.monotonic()
        state = self.state
        with state.lock:
            slots = state.slots[key]
            for lease_id, expires in list(slots.items()):
                if expires <= now:
                    del slots[lease_id]
            rpm_level = state.level(key + ":rpm", limits.requests_per_minute, now)
            tpm_level = state.level(key + ":tpm", limits.tokens_per_minute, now)
            granted, wait = 0, 0.0
            for lease in leases:
                need = min(lease.tokens, limits.tokens_per_minute)
                if limits.max_concurrency and len(slots) >= limits.max_concurrency:
                    wait = POLL_INTERVAL
                if limits.requests_per_minute and rpm_level < 1:
                    wait = max(wait, (1 - rpm_level) * 60.0 / limits.requests_per_minute)
                if limits.tokens_per_minute and tpm_level < need:
                    wait = max(wait, (need - tpm_level) * 60.0 / limits.tokens_per_minute)
                if wait:
                    break
                if limits.max_concurrency:
                    slots[lease.lease_id] = now + lease_seconds
                rpm_level -= 1
                tpm_level -= need
                granted += 1
            if granted:
                if limits.requests_per_minute:
                    state.buckets[key + ":rpm"] = (rpm_level, now)
                if limits.tokens_per_minute:
                    state.buckets[key + ":tpm"] = (tpm_level, now)
            return granted, max(wait, POLL_INTERVAL) if granted < len(leases) else 0.0

    async def _release(self, lease: Lease, refund: int) -> None:
        state, now = self.state, time.monotonic()
        with state.lock:
            state.slots[lease.key].pop(lease.lease_id, None)
            tpm = lease.limits.tokens_per_minute
            if tpm and refund:
                level = state.level(lease.key + ":tpm", tpm, now)
                state.buckets[lease.key + ":tpm"] = (min(float(tpm), level + refund), now)

    async def take_window(self, key: str, seconds: float) -> bool:
        now = time.monotonic()
        with self.state.lock:
            if self.state.windows.get(key, 0.0) > now:
                return False
            self.state.windows[key] = now + seconds
            return True

    async def in_flight(self, key: str) -> int:
        now = time.monotonic()
        with self.state.lock:
            return sum(1 for expires in self.state.slots[key].values() if expires > now)


def limiter_for(redis_url: str) -> Limiter:
    """The shared Redis limiter when Redis is configured, else the process-local one."""
    return RedisLimiter(redis_url) if redis_url else LocalLimiter()


class WindowThrottle:
    """The synchronous twin of ``take_window``, for code that is not on an event loop.

    Shares its windows with the async limiters (same keys, same store).
    """

    def __init__(self, redis_url: str) -> None:
        self._redis = None
        if redis_url:
            self._redis = redis.Redis.from_url(redis_url, socket_timeout=5, socket_connect_timeout=2)

    def take(self, key: str, seconds: float) -> bool:
        """True for the first caller per ``key`` in each window; raises LimiterUnavailable."""
        if self._redis is None:
            now = time.monotonic()
            with _local.lock:
                if _local.windows.get(key, 0.0) > now:
                    return False
                _local.windows[key] = now + seconds
                return True
        try:
            return bool(self._redis.set("arena:window:" + key, "1", nx=True, px=max(1, int(seconds * 1000))))
        except (redis.exceptions.RedisError, OSError) as exc:
            raise LimiterUnavailable(str(exc)) from None
