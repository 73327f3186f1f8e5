"""A client-side rate limiter that learns Confluent Cloud's limit for one API key.

Confluent limits requests per organisation and per key and publishes no numbers, so the rate is
learned: additive increase while calls succeed, multiplicative decrease on a 429 (AIMD), and a
pause of every caller until ``Retry-After`` has passed. Like CUBIC, it remembers the rate it was
refused at: it climbs back quickly to just under that ceiling and probes past it slowly, so a steady
limit costs one 429 every quarter of a minute or so rather than one every few seconds (in
benchmarks/bulk.py the fast probe kept the accepted rate at 14.4/s of 20). Requests wait in priority order, so under a
limit the reads that finish work already started (a connector's status after its create) go before
new writes: objects reach Ready instead of all being half done.

AWS needs nothing of this here: botocore's ``retries={"mode": "adaptive"}`` (aws/iam.py) is the
same idea, a token bucket per client that shrinks on throttling errors, and the operator keeps one
IAM client per credential set.
"""

from __future__ import annotations

import asyncio
import heapq
import itertools
import time
from collections.abc import Callable
from enum import IntEnum

#: The fraction of the last refused rate up to which the rate climbs back quickly.
CEILING_KNEE = 0.9


class Priority(IntEnum):
    """Lower goes first."""

    #: A read: finishes a create or an update already made (the status that makes an object Ready).
    READ = 0
    #: A write: starts work.
    WRITE = 1


class AdaptiveLimiter:
    """A token bucket whose rate follows the server's answers (one per Cloud API key)."""

    def __init__(
        self,
        *,
        rate: float = 10.0,
        min_rate: float = 0.5,
        max_rate: float = 200.0,
        burst: float = 10.0,
        increase_per_second: float = 2.0,
        probe_per_second: float = 0.2,
        decrease_factor: float = 0.7,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.rate = rate
        self.min_rate = min_rate
        self.max_rate = max_rate
        self.burst = burst
        self.increase_per_second = increase_per_second
        self.probe_per_second = probe_per_second
        #: The rate of the last cut: the server refused it.
        self.ceiling: float | None = None
        self.decrease_factor = decrease_factor
        self._clock = clock
        self._tokens = burst
        self._refilled_at = clock()
        self._grown_at = clock()
        self._decreased_at = float("-inf")
        self._paused_until = float("-inf")
        self._waiters: list[tuple[int, int, asyncio.Future[None]]] = []
        self._order = itertools.count()
        self._timer: asyncio.TimerHandle | None = None
        self.throttled = 0

    @property
    def waiting(self) -> int:
        return sum(1 for *_, future in self._waiters if not future.done())

    async def acquire(self, priority: Priority = Priority.WRITE) -> None:
        """Wait for a token; callers of lower priority value go first."""
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        heapq.heappush(self._waiters, (int(priority), next(self._order), future))
        self._dispatch()
        await future

    def succeeded(self) -> None:
        """An answer that was not a 429: the rate grows with the time spent without throttling, quickly
        up to nine tenths of the last rate refused, slowly from there."""
        now = self._clock()
        elapsed = now - self._grown_at
        self._grown_at = now
        if self.ceiling is not None:
            knee = CEILING_KNEE * self.ceiling
            if self.rate < knee:
                fast = min(elapsed, (knee - self.rate) / self.increase_per_second)
                self.rate += fast * self.increase_per_second
                elapsed -= fast
            self.rate = min(self.max_rate, self.rate + elapsed * self.probe_per_second)
            return
        self.rate = min(self.max_rate, self.rate + self.increase_per_second * elapsed)

    def throttled_by_server(self, retry_after: float | None) -> None:
        """A 429: cut the rate (once per round of requests sent at the old rate) and pause everyone
        until Retry-After has passed. The pause already stops the burst, so the cut is gentler than
        TCP's halving: 0.7, the multiplicative decrease of the CUBIC rate in botocore's adaptive retries."""
        now = self._clock()
        self.throttled += 1
        # Requests already in flight when the first 429 came back answer 429 too; they say nothing new.
        if now - self._decreased_at >= 1.0 / self.rate:
            self.ceiling = self.rate
            self.rate = max(self.min_rate, self.rate * self.decrease_factor)
            self._decreased_at = now
        self._grown_at = now
        self._tokens = 0.0
        if retry_after:
            self._paused_until = max(self._paused_until, now + retry_after)
        self._dispatch()

    def _refill(self, now: float) -> None:
        # Tokens accrue during a pause at the cut rate: the server's own bucket refills at its (higher)
        # rate meanwhile, so what is released when the pause ends fits. Holding them back cost a whole
        # Retry-After (at least a second) of calls per 429.
        self._tokens = min(self.burst, self._tokens + (now - self._refilled_at) * self.rate)
        self._refilled_at = now

    def _dispatch(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        now = self._clock()
        self._refill(now)
        while self._waiters and self._waiters[0][2].done():
            heapq.heappop(self._waiters)  # a caller that was cancelled while waiting
        while self._waiters and now >= self._paused_until and self._tokens >= 1.0:
            _, _, future = heapq.heappop(self._waiters)
            if future.done():
                continue
            self._tokens -= 1.0
            future.set_result(None)
        if not self._waiters:
            return
        wait = max(self._paused_until - now, (1.0 - self._tokens) / self.rate, 0.001)
        self._timer = asyncio.get_running_loop().call_later(wait, self._dispatch)
