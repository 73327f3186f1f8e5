"""The adaptive limiter's rules: priority order, halving and pausing on 429, growth while calls succeed.

How it behaves against a rate-limited emulator under a bulk apply is measured by benchmarks/bulk.py.
"""

from __future__ import annotations

import asyncio
import time

from ccloud_operator.confluent.ratelimit import AdaptiveLimiter, Priority


def test_reads_that_finish_work_go_before_writes_that_start_it() -> None:
    async def run() -> list[str]:
        limiter = AdaptiveLimiter(rate=20, burst=1)
        await limiter.acquire()  # the one token of the burst
        served: list[str] = []

        async def call(name: str, priority: Priority) -> None:
            await limiter.acquire(priority)
            served.append(name)

        writes = [asyncio.create_task(call(f"write-{i}", Priority.WRITE)) for i in range(3)]
        await asyncio.sleep(0)
        reads = [asyncio.create_task(call(f"read-{i}", Priority.READ)) for i in range(2)]
        await asyncio.gather(*writes, *reads)
        return served

    assert asyncio.run(run()) == ["read-0", "read-1", "write-0", "write-1", "write-2"]


def test_a_429_halves_the_rate_once_and_pauses_every_caller_for_retry_after() -> None:
    async def run() -> tuple[float, float, float]:
        limiter = AdaptiveLimiter(rate=10, burst=10)
        limiter.throttled_by_server(0.3)
        limiter.throttled_by_server(0.3)  # in flight at the same time: not a second halving
        rate = limiter.rate
        started = time.monotonic()
        await limiter.acquire()
        waited = time.monotonic() - started
        # After the pause no burst was saved up: the next token takes 1 / rate.
        started = time.monotonic()
        await limiter.acquire()
        return rate, waited, time.monotonic() - started

    rate, waited, next_wait = asyncio.run(run())
    assert rate == 5.0
    assert waited >= 0.29
    assert next_wait >= 0.15


def test_the_rate_grows_while_calls_succeed_up_to_its_ceiling() -> None:
    now = [0.0]
    limiter = AdaptiveLimiter(rate=4, max_rate=10, increase_per_second=2, clock=lambda: now[0])
    now[0] = 1.0
    limiter.succeeded()
    assert limiter.rate == 6
    now[0] = 10.0
    limiter.succeeded()
    assert limiter.rate == 10
    limiter.throttled_by_server(None)
    assert limiter.rate == 5 and limiter.throttled == 1


def test_a_cancelled_caller_does_not_take_a_token() -> None:
    async def run() -> int:
        limiter = AdaptiveLimiter(rate=50, burst=1)
        await limiter.acquire()
        gone = asyncio.create_task(limiter.acquire())
        await asyncio.sleep(0)
        gone.cancel()
        await asyncio.sleep(0.05)
        await asyncio.wait_for(limiter.acquire(), 1)
        return limiter.waiting

    assert asyncio.run(run()) == 0
