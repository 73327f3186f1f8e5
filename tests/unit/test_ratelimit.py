"""The adaptive limiter's rules: priority order, cutting and pausing on 429, growth while calls succeed.

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


def test_a_429_cuts_the_rate_once_and_pauses_every_caller_for_retry_after() -> None:
    async def run() -> tuple[float, float, float, float]:
        limiter = AdaptiveLimiter(rate=10, burst=10)
        limiter.throttled_by_server(0.3)
        limiter.throttled_by_server(0.3)  # in flight at the same time: not a second cut
        rate = limiter.rate
        started = time.monotonic()
        await limiter.acquire()
        waited = time.monotonic() - started
        # The pause accrued tokens at the cut rate (0.3 s x 7/s = 2.1): one more goes at once...
        started = time.monotonic()
        await limiter.acquire()
        second = time.monotonic() - started
        # ... and the next waits for its token.
        started = time.monotonic()
        await limiter.acquire()
        return rate, waited, second, time.monotonic() - started

    rate, waited, second, third = asyncio.run(run())
    assert rate == 7.0
    assert waited >= 0.29
    assert second < 0.05
    assert third >= 0.1


def test_the_rate_grows_while_calls_succeed_up_to_its_ceiling() -> None:
    now = [0.0]
    limiter = AdaptiveLimiter(rate=4, max_rate=10, increase_per_second=2, decrease_factor=0.5, clock=lambda: now[0])
    now[0] = 1.0
    limiter.succeeded()
    assert limiter.rate == 6
    now[0] = 10.0
    limiter.succeeded()
    assert limiter.rate == 10
    limiter.throttled_by_server(None)
    assert limiter.rate == 5 and limiter.throttled == 1 and limiter.ceiling == 10


def test_after_a_429_the_rate_climbs_fast_to_under_the_refused_rate_then_probes_slowly() -> None:
    now = [0.0]
    limiter = AdaptiveLimiter(
        rate=20, increase_per_second=2, probe_per_second=0.2, decrease_factor=0.5, clock=lambda: now[0]
    )
    limiter.throttled_by_server(None)
    assert limiter.rate == 10
    # 10 -> 18 (nine tenths of 20) takes 4 s at 2/s; the 5th second adds 0.2.
    now[0] = 5.0
    limiter.succeeded()
    assert abs(limiter.rate - 18.2) < 1e-9
    now[0] = 15.0
    limiter.succeeded()
    assert abs(limiter.rate - 20.2) < 1e-9


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
