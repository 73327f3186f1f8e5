"""A client-side rate limiter that learns Confluent Cloud's limit for one API key.

Confluent limits requests per organisation and per key and publishes no numbers, so the rate is
learned: additive increase while calls succeed, multiplicative decrease on a 429 (AIMD), and a
pause of every caller until ``Retry-After`` has passed. Requests wait in priority order, so under a
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
        decrease_factor: float = 0.7,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.rate = rate
        self.min_rate = min_rate
        self.max_rate = max_rate
        self.burst = burst
        self.increase_per_second = increase_per_second
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
        """An answer that was not a 429: the rate grows with the time spent without throttling."""
        now = self._clock()
        self.rate = min(self.max_rate, self.rate + self.increase_per_second * (now - self._grown_at))
        self._grown_at = now

    def throttled_by_server(self, retry_after: float | None) -> None:
        """A 429: cut the rate (once per round of requests sent at the old rate) and pause everyone
        until Retry-After has passed. The pause already stops the burst, so the cut is gentler than
        TCP's halving: 0.7, the multiplicative decrease of the CUBIC rate in botocore's adaptive retries."""
        now = self._clock()
        self.throttled += 1
        # Requests already in flight when the first 429 came back answer 429 too; they say nothing new.
        if now - self._decreased_at >= 1.0 / self.rate:
            self.rate = max(self.min_rate, self.rate * self.decrease_factor)
            self._decreased_at = now
        self._grown_at = now
        self._tokens = 0.0
        if retry_after:
            self._paused_until = max(self._paused_until, now + retry_after)
        self._dispatch()

    def _refill(self, now: float) -> None:
        # Nothing accrues during a pause: its end would otherwise release a burst into the same limit.
        since = max(self._refilled_at, min(now, self._paused_until))
        self._tokens = min(self.burst, self._tokens + (now - since) * self.rate)
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
