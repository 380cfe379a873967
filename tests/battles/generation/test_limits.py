"""The provider limits: one contract, run against the Redis limiter (a Redis of the tests' own)
and the process-local one. Two limiter instances stand for two worker processes."""

import asyncio
import time
import uuid

import pytest

from battles.generation.limits import (
    LimiterUnavailable,
    Limits,
    LocalLimiter,
    RedisLimiter,
    WaitExpired,
    WindowThrottle,
    _LocalState,
    estimate_tokens,
)

LEASE = 30.0


@pytest.fixture(params=["redis", "local"])
def limiters(request):
    """A factory of limiters sharing one store, as the worker processes of one deployment do."""
    if request.param == "redis":
        url = request.getfixturevalue("private_redis").url(0)
        return lambda: RedisLimiter(url)
    state = _LocalState()
    return lambda: LocalLimiter(state)


def key():
    return uuid.uuid4().hex


def run(coroutine):
    return asyncio.run(coroutine)


def test_a_concurrency_limit_is_shared_by_every_limiter_on_the_store(limiters):
    async def scenario():
        first, second = limiters(), limiters()
        k, limits = key(), Limits(max_concurrency=2)
        held = [
            await first.acquire(k, limits, tokens=1, lease_seconds=LEASE),
            await second.acquire(k, limits, tokens=1, lease_seconds=LEASE),
        ]
        with pytest.raises(WaitExpired):
            await first.acquire(k, limits, tokens=1, lease_seconds=LEASE, until=time.monotonic() + 0.2)
        await second.release(held[1])
        third = await first.acquire(k, limits, tokens=1, lease_seconds=LEASE, until=time.monotonic() + 2)
        assert third.lease_id not in {lease.lease_id for lease in held}
        await first.close()
        await second.close()

    run(scenario())


def test_a_waiting_caller_gets_the_slot_as_soon_as_it_is_released(limiters):
    async def scenario():
        limiter = limiters()
        k, limits = key(), Limits(max_concurrency=1)
        lease = await limiter.acquire(k, limits, tokens=1, lease_seconds=LEASE)
        waiter = asyncio.ensure_future(
            limiter.acquire(k, limits, tokens=1, lease_seconds=LEASE, until=time.monotonic() + 60)
        )
        granted, _ = await limiter.try_acquire_many([_lease(k, limits)], LEASE)
        assert granted == 0 and not waiter.done()  # the only slot is taken: the waiter waits
        await limiter.release(lease)
        # Released: the waiter gets the slot now, not at its deadline a minute away.
        second = await asyncio.wait_for(waiter, timeout=10)
        assert second.key == k
        await limiter.close()

    run(scenario())


def test_a_lease_that_is_never_released_expires_so_a_killed_worker_cannot_keep_its_slot(limiters):
    async def scenario():
        k, limits = key(), Limits(max_concurrency=1)
        dead = limiters()
        await dead.acquire(k, limits, tokens=1, lease_seconds=0.3)  # its worker is killed: never released
        survivor = limiters()
        with pytest.raises(WaitExpired):
            await survivor.acquire(k, limits, tokens=1, lease_seconds=LEASE, until=time.monotonic() + 0.1)
        await survivor.acquire(k, limits, tokens=1, lease_seconds=LEASE, until=time.monotonic() + 3)
        await dead.close()
        await survivor.close()

    run(scenario())


def test_requests_per_minute_allow_a_minute_s_worth_then_ask_to_wait_for_the_refill(limiters):
    async def scenario():
        limiter = limiters()
        k, limits = key(), Limits(requests_per_minute=2)
        for _ in range(2):
            await limiter.acquire(k, limits, tokens=1, lease_seconds=LEASE, until=time.monotonic() + 1)
        granted, wait = await limiter.try_acquire_many([_lease(k, limits)], LEASE)
        assert granted == 0
        assert 25 <= wait <= 31  # one request comes back every 30 s
        await limiter.close()

    run(scenario())


def test_tokens_per_minute_count_the_estimate_and_refund_what_the_call_did_not_use(limiters):
    async def scenario():
        limiter = limiters()
        k, limits = key(), Limits(tokens_per_minute=100)
        first = await limiter.acquire(k, limits, tokens=60, lease_seconds=LEASE)
        granted, wait = await limiter.try_acquire_many([_lease(k, limits, tokens=60)], LEASE)
        assert granted == 0 and wait > 10
        await limiter.release(first, tokens_used=10)  # 50 tokens come back
        granted, _ = await limiter.try_acquire_many([_lease(k, limits, tokens=60)], LEASE)
        assert granted == 1
        await limiter.close()

    run(scenario())


def test_one_request_grants_leases_to_many_waiting_callers_in_order(limiters):
    async def scenario():
        limiter = limiters()
        k, limits = key(), Limits(max_concurrency=3)
        leases = [_lease(k, limits) for _ in range(5)]
        granted, wait = await limiter.try_acquire_many(leases, LEASE)
        assert granted == 3 and wait > 0
        await limiter.close()

    run(scenario())


def test_an_unlimited_llm_never_touches_the_store():
    async def scenario():
        limiter = RedisLimiter("redis://127.0.0.1:1/0")  # nothing listens there
        lease = await limiter.acquire(key(), Limits(), tokens=1, lease_seconds=LEASE)
        await limiter.release(lease)
        await limiter.close()

    run(scenario())


def test_an_unreachable_store_makes_the_caller_wait_then_give_up_with_a_clear_error():
    async def scenario():
        limiter = RedisLimiter("redis://127.0.0.1:1/0")
        with pytest.raises(LimiterUnavailable):
            await limiter.acquire(
                key(), Limits(max_concurrency=1), tokens=1, lease_seconds=LEASE, until=time.monotonic() + 0.3
            )
        await limiter.close()

    run(scenario())


def test_a_throttle_window_admits_one_caller_per_window(limiters):
    async def scenario():
        first, second = limiters(), limiters()
        k = key()
        assert await first.take_window(k, 0.3)
        assert not await second.take_window(k, 0.3)
        # The window reopens on its own; a refused call does not extend it.
        deadline = time.monotonic() + 5
        while not await second.take_window(k, 0.3):
            assert time.monotonic() < deadline, "the window never reopened"
            await asyncio.sleep(0.05)
        await first.close()
        await second.close()

    run(scenario())


def test_the_synchronous_throttle_shares_windows_with_the_async_limiter(private_redis):
    k = key()
    assert WindowThrottle(private_redis.url(0)).take(k, 5)

    async def async_side():
        limiter = RedisLimiter(private_redis.url(0))
        taken = await limiter.take_window(k, 5)
        await limiter.close()
        return taken

    assert not run(async_side())


def test_a_token_estimate_counts_the_prompt_and_every_output_token_allowed():
    assert estimate_tokens("x" * 400, "y" * 40, max_tokens=1000) == 110 + 1 + 1000


def _lease(k, limits, tokens=1):
    from battles.generation.limits import Lease

    return Lease(key=k, limits=limits, tokens=tokens)
