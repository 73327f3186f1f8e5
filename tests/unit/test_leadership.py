"""The Lease protocol's decisions, against an in-memory Lease with a controllable clock.

That two real processes hand over a real Lease is proven in tests/operator/test_replicas_and_shards.py;
these pin the rules: who may take a Lease, when it counts as expired, and what a stale write does.
"""

from __future__ import annotations

import asyncio
from dataclasses import replace

import pytest

from ccloud_operator.kube import KubeApiError
from ccloud_operator.leadership import LeaderElector, LeadershipLost, LeaseConflict, LeaseRecord
from ccloud_operator.sharding import Shard, shard_of


class MemoryLease:
    """One Lease with optimistic concurrency, as the API server keeps it."""

    def __init__(self) -> None:
        self.record: LeaseRecord | None = None
        self.version = 0
        self.writes = 0
        self.fail_reads = False
        #: Writes by someone else (a label, an annotation) to make between the next reads and updates.
        self.foreign_writes = 0

    def _next(self, holder: str | None, duration: int, transitions: int) -> LeaseRecord:
        self.version += 1
        self.writes += 1
        self.record = LeaseRecord(holder, duration, transitions, str(self.version), None)
        return self.record

    async def read(self) -> LeaseRecord | None:
        if self.fail_reads:
            raise KubeApiError(503, "Service Unavailable")
        record = self.record
        await asyncio.sleep(0)  # a round trip: another candidate may read or write meanwhile
        return record

    async def create(self, holder: str, duration_seconds: int) -> LeaseRecord:
        if self.record is not None:
            raise LeaseConflict("exists")
        return self._next(holder, duration_seconds, 0)

    async def update(self, record: LeaseRecord, holder: str | None, *, acquired: bool) -> LeaseRecord:
        if self.foreign_writes and self.record is not None:
            self.foreign_writes -= 1
            self._next(self.record.holder, self.record.duration_seconds, self.record.transitions)
        if self.record is None or record.resource_version != self.record.resource_version:
            raise LeaseConflict("stale resourceVersion")
        return self._next(holder, record.duration_seconds, record.transitions + (1 if acquired else 0))


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def elector(lease: MemoryLease, clock: Clock, identity: str) -> LeaderElector:
    return LeaderElector(lease, identity, lease_seconds=15, renew_seconds=5, retry_seconds=0.01, clock=clock)


def test_a_free_lease_goes_to_the_first_candidate_and_not_to_the_second() -> None:
    lease, clock = MemoryLease(), Clock()
    a, b = elector(lease, clock, "a"), elector(lease, clock, "b")
    assert asyncio.run(a.try_acquire()) is True
    assert asyncio.run(b.try_acquire()) is False
    assert lease.record is not None and lease.record.holder == "a"


def test_a_held_lease_is_taken_only_after_the_candidate_saw_it_unchanged_for_its_duration() -> None:
    lease, clock = MemoryLease(), Clock()
    a, b = elector(lease, clock, "a"), elector(lease, clock, "b")
    asyncio.run(a.try_acquire())
    assert asyncio.run(b.try_acquire()) is False  # b starts its own count now
    clock.now += 14.9
    assert asyncio.run(b.try_acquire()) is False
    clock.now += 0.2
    assert asyncio.run(b.try_acquire()) is True
    assert lease.record is not None and lease.record.holder == "b" and lease.record.transitions == 1


def test_a_renewal_restarts_the_standbys_count() -> None:
    lease, clock = MemoryLease(), Clock()
    a, b = elector(lease, clock, "a"), elector(lease, clock, "b")
    asyncio.run(a.try_acquire())
    asyncio.run(b.try_acquire())
    clock.now += 10
    assert asyncio.run(a.try_acquire()) is True  # the renewal
    clock.now += 10  # 20 s since b first looked, 10 s since the renewal it has not seen yet
    assert asyncio.run(b.try_acquire()) is False
    clock.now += 14.9
    assert asyncio.run(b.try_acquire()) is False
    clock.now += 0.2
    assert asyncio.run(b.try_acquire()) is True


def test_a_released_lease_is_taken_at_once() -> None:
    lease, clock = MemoryLease(), Clock()
    a, b = elector(lease, clock, "a"), elector(lease, clock, "b")
    asyncio.run(a.try_acquire())
    asyncio.run(b.try_acquire())
    asyncio.run(a.release())
    assert lease.record is not None and lease.record.holder is None
    assert asyncio.run(b.try_acquire()) is True


def test_of_two_candidates_that_both_saw_a_free_lease_only_one_holds_it() -> None:
    lease, clock = MemoryLease(), Clock()
    a, b = elector(lease, clock, "a"), elector(lease, clock, "b")
    asyncio.run(a.try_acquire())
    asyncio.run(a.release())
    writes = lease.writes

    async def race() -> list[bool]:
        # Each read yields, so both candidates read the released Lease before either writes: the
        # second write carries a stale resourceVersion and must lose.
        return list(await asyncio.gather(a.try_acquire(), b.try_acquire()))

    won = asyncio.run(race())
    assert won.count(True) == 1, won
    assert lease.writes == writes + 1, "the loser's write was refused"
    assert lease.record is not None and lease.record.holder in ("a", "b")


def test_the_leader_gives_up_when_someone_else_holds_the_lease() -> None:
    lease, clock = MemoryLease(), Clock()
    a = LeaderElector(lease, "a", lease_seconds=2, renew_seconds=0.01, retry_seconds=0.01, clock=clock)
    asyncio.run(a.try_acquire())
    assert lease.record is not None
    lease.record = replace(lease.record, holder="b")

    with pytest.raises(LeadershipLost, match="held by b"):
        asyncio.run(asyncio.wait_for(a.hold(), 5))


def test_a_renewal_refused_because_someone_else_edited_the_lease_is_tried_again() -> None:
    lease = MemoryLease()
    a = LeaderElector(lease, "a", lease_seconds=2, renew_seconds=0.01, retry_seconds=0.01)
    asyncio.run(a.try_acquire())
    lease.foreign_writes = 2

    async def hold_a_while() -> None:
        with pytest.raises(TimeoutError):
            await asyncio.wait_for(a.hold(), 0.5)

    asyncio.run(hold_a_while())
    assert lease.foreign_writes == 0, "both foreign writes came between a read and a renewal"
    assert lease.record is not None and lease.record.holder == "a"
    assert a.is_leader
    assert lease.writes > 4, "the leader went on renewing after the refused renewals"


def test_the_leader_gives_up_before_its_lease_expires_when_it_cannot_renew() -> None:
    lease = MemoryLease()
    a = LeaderElector(lease, "a", lease_seconds=1, renew_seconds=0.05, retry_seconds=0.05)
    asyncio.run(a.try_acquire())
    lease.fail_reads = True
    started = asyncio.run(_timed_hold(a))
    assert started < 1.0, "a leader that cannot renew must stop before its Lease can pass to a standby"


async def _timed_hold(a: LeaderElector) -> float:
    loop = asyncio.get_running_loop()
    began = loop.time()
    with pytest.raises(LeadershipLost, match="could not be renewed"):
        await asyncio.wait_for(a.hold(), 5)
    return loop.time() - began


def test_shards_split_namespaces_stably_and_completely() -> None:
    namespaces = [f"team-{i}" for i in range(300)]
    owners = {ns: [i for i in range(3) if Shard(i, 3).owns(ns)] for ns in namespaces}
    assert all(len(found) == 1 for found in owners.values()), "every namespace has exactly one shard"
    counts = [sum(1 for found in owners.values() if found == [i]) for i in range(3)]
    assert min(counts) > 60, counts  # the hash spreads them
    assert shard_of("team-7", 3) == shard_of("team-7", 3)
    assert all(Shard(0, 1).owns(ns) for ns in namespaces)
    with pytest.raises(ValueError):
        Shard(3, 3)
