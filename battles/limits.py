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


class Limiter:
    """Base class. ``try_acquire`` never waits; ``acquire`` waits for a slot."""

    def __init__(self) -> None:
        self._gates: dict[str, asyncio.Lock] = defaultdict(asyncio.Lock)
        self._wake: dict[str, asyncio.Event] = defaultdict(asyncio.Event)

    async def try_acquire(self, lease: Lease, lease_seconds: float) -> float:
        """Take the lease if every limit allows; else return how long to wait (seconds, > 0)."""
        raise NotImplementedError

    async def _release(self, lease: Lease, refund: int) -> None:
        raise NotImplementedError

    async def take_window(self, key: str, seconds: float) -> bool:
        """True for the first caller per ``key`` in each window of ``seconds``."""
        raise NotImplementedError

    async def close(self) -> None:
        pass

    async def acquire(self, key: str, limits: Limits, *, tokens: int, lease_seconds: float,
                      until: float | None = None) -> Lease:
        """Wait for a lease on ``key``.

        Raises WaitExpired when ``until`` (a ``time.monotonic()`` value) passes
        first, and LimiterUnavailable when the store is down at that moment.
        Within one process a single caller per key asks the store at a time,
        and a release in this process wakes it at once.
        """
        lease = Lease(key=key, limits=limits, tokens=tokens)
        if limits.unlimited:
            return lease
        async with self._gates[key]:
            while True:
                try:
                    wait = await self.try_acquire(lease, lease_seconds)
                    unavailable = None
                except LimiterUnavailable as exc:
                    wait, unavailable = UNAVAILABLE_RETRY, exc
                if wait <= 0:
                    return lease
                if until is not None:
                    left = until - time.monotonic()
                    if left <= 0:
                        if unavailable is not None:
                            raise unavailable
                        raise WaitExpired(key)
                    wait = min(wait, left)
                event = self._wake[key]
                event.clear()
                try:
                    await asyncio.wait_for(event.wait(), timeout=wait * random.uniform(1.0, 1.25))
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
local lease_ms = tonumber(ARGV[2])
local max_conc = tonumber(ARGV[3])
local rpm = tonumber(ARGV[4])
local tpm = tonumber(ARGV[5])
local need = tonumber(ARGV[6])
local wait = 0
if max_conc > 0 then
  redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now)
  if redis.call('ZCARD', KEYS[1]) >= max_conc then
    wait = -1
  end
end
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
local rl = 0
local tl = 0
if rpm > 0 then
  rl = level(KEYS[2], rpm)
  if rl < 1 then
    wait = math.max(wait, math.ceil((1 - rl) * 60000 / rpm))
  end
end
if tpm > 0 then
  if need > tpm then
    need = tpm
  end
  tl = level(KEYS[3], tpm)
  if tl < need then
    wait = math.max(wait, math.ceil((need - tl) * 60000 / tpm))
  end
end
if wait ~= 0 then
  return wait
end
if max_conc > 0 then
  redis.call('ZADD', KEYS[1], now + lease_ms, ARGV[1])
  redis.call('PEXPIRE', KEYS[1], lease_ms + 1000)
end
if rpm > 0 then
  redis.call('HSET', KEYS[2], 'level', tostring(rl - 1), 'ts', now)
  redis.call('PEXPIRE', KEYS[2], ARGV[7])
end
if tpm > 0 then
  redis.call('HSET', KEYS[3], 'level', tostring(tl - need), 'ts', now)
  redis.call('PEXPIRE', KEYS[3], ARGV[7])
end
return 0
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
        import redis.asyncio

        self._redis = redis.asyncio.Redis.from_url(url, socket_timeout=5, socket_connect_timeout=2)
        self._acquire = self._redis.register_script(_ACQUIRE)
        self._release_script = self._redis.register_script(_RELEASE)

    def _keys(self, key: str) -> list[str]:
        base = self.prefix + key
        return [base + ":slots", base + ":rpm", base + ":tpm"]

    async def _call(self, coroutine):
        import redis.exceptions

        try:
            return await coroutine
        except (redis.exceptions.RedisError, OSError) as exc:
            raise LimiterUnavailable(str(exc)) from None

    async def try_acquire(self, lease: Lease, lease_seconds: float) -> float:
        limits = lease.limits
        wait_ms = await self._call(self._acquire(
            keys=self._keys(lease.key),
            args=[lease.lease_id, int(lease_seconds * 1000), limits.max_concurrency,
                  limits.requests_per_minute, limits.tokens_per_minute, lease.tokens, IDLE_EXPIRY_MS],
        ))
        wait_ms = int(wait_ms)
        if wait_ms == 0:
            return 0.0
        return POLL_INTERVAL if wait_ms < 0 else max(wait_ms / 1000, POLL_INTERVAL)

    async def _release(self, lease: Lease, refund: int) -> None:
        slots, _, tpm = self._keys(lease.key)
        await self._call(self._release_script(
            keys=[slots, tpm],
            args=[lease.lease_id, lease.limits.tokens_per_minute, refund, IDLE_EXPIRY_MS],
        ))

    async def take_window(self, key: str, seconds: float) -> bool:
        taken = await self._call(
            self._redis.set("arena:window:" + key, "1", nx=True, px=max(1, int(seconds * 1000)))
        )
        return bool(taken)

    async def in_flight(self, key: str) -> int:
        """Leases currently held on ``key`` (for admin pages and tests)."""
        slots = self._keys(key)[0]
        now_ms = int(time.time() * 1000)
        return int(await self._call(self._redis.zcount(slots, now_ms, "+inf")))

    async def close(self) -> None:
        try:
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

    async def try_acquire(self, lease: Lease, lease_seconds: float) -> float:
        limits, key, now = lease.limits, lease.key, time.monotonic()
        state = self.state
        with state.lock:
            wait = 0.0
            slots = state.slots[key]
            for lease_id, expires in list(slots.items()):
                if expires <= now:
                    del slots[lease_id]
            if limits.max_concurrency and len(slots) >= limits.max_concurrency:
                wait = POLL_INTERVAL
            rpm_level = tpm_level = 0.0
            need = min(lease.tokens, limits.tokens_per_minute) if limits.tokens_per_minute else 0
            if limits.requests_per_minute:
                rpm_level = state.level(key + ":rpm", limits.requests_per_minute, now)
                if rpm_level < 1:
                    wait = max(wait, (1 - rpm_level) * 60.0 / limits.requests_per_minute)
            if limits.tokens_per_minute:
                tpm_level = state.level(key + ":tpm", limits.tokens_per_minute, now)
                if tpm_level < need:
                    wait = max(wait, (need - tpm_level) * 60.0 / limits.tokens_per_minute)
            if wait > 0:
                return wait
            if limits.max_concurrency:
                slots[lease.lease_id] = now + lease_seconds
            if limits.requests_per_minute:
                state.buckets[key + ":rpm"] = (rpm_level - 1, now)
            if limits.tokens_per_minute:
                state.buckets[key + ":tpm"] = (tpm_level - need, now)
            return 0.0

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
