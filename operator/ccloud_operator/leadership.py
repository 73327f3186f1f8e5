"""Leader election on a coordination.k8s.io Lease, so two replicas never reconcile the same objects.

The protocol is the one Kubernetes' own controllers use: a Lease names its holder and how long a
renewal stays good; a candidate takes the Lease when it is free, when it already holds it, or when
the holder has not renewed it for longer than that duration. Expiry is judged by the candidate's
own clock from the moment *it* last saw the Lease change (not from the timestamps written in it),
so clocks that disagree between nodes cannot make two holders. Writes use the Lease's
resourceVersion, so of two candidates racing for a free Lease exactly one wins.

A holder that cannot renew before its Lease would expire stops reconciling at once: by then a
standby may already hold the Lease.
"""

from __future__ import annotations

import asyncio
import logging
import os
import socket
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Protocol, TypeVar
from urllib.parse import quote

from ccloud_operator import metrics
from ccloud_operator.kube import KubeApi, KubeApiError

logger = logging.getLogger(__name__)

T = TypeVar("T")


class LeadershipLost(Exception):
    """The Lease could not be renewed in time, or another candidate holds it now."""


@dataclass(frozen=True)
class LeaseRecord:
    """What a Lease says, and the resourceVersion that a write must match."""

    holder: str | None
    duration_seconds: int
    transitions: int
    resource_version: str | None
    acquire_time: str | None


class LeaseStore(Protocol):
    """Reads and writes of one Lease; a write whose resourceVersion is stale raises LeaseConflict."""

    async def read(self) -> LeaseRecord | None: ...

    async def create(self, holder: str, duration_seconds: int) -> LeaseRecord: ...

    async def update(self, record: LeaseRecord, holder: str | None, *, acquired: bool) -> LeaseRecord: ...


class LeaseConflict(Exception):
    """Someone else wrote the Lease first (409 on create or on a stale resourceVersion)."""


def _micro_time(moment: datetime | None = None) -> str:
    # MicroTime, as the Lease API stores renewTime and acquireTime.
    return (moment or datetime.now(UTC)).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


class KubernetesLeaseStore:
    """A Lease through the operator's own Kubernetes client (kube.KubeApi)."""

    def __init__(self, api: KubeApi, namespace: str, name: str) -> None:
        self._api = api
        self.namespace = namespace
        self.name = name
        self._collection = f"/apis/coordination.k8s.io/v1/namespaces/{quote(namespace)}/leases"

    @staticmethod
    def _record(lease: dict[str, Any]) -> LeaseRecord:
        spec = lease.get("spec") or {}
        return LeaseRecord(
            holder=spec.get("holderIdentity") or None,
            duration_seconds=int(spec.get("leaseDurationSeconds") or 0),
            transitions=int(spec.get("leaseTransitions") or 0),
            resource_version=(lease.get("metadata") or {}).get("resourceVersion"),
            acquire_time=spec.get("acquireTime"),
        )

    async def read(self) -> LeaseRecord | None:
        try:
            lease = await self._api.request("GET", f"{self._collection}/{quote(self.name)}")
        except KubeApiError as exc:
            if exc.status == 404:
                return None
            raise
        return self._record(lease)

    async def create(self, holder: str, duration_seconds: int) -> LeaseRecord:
        now = _micro_time()
        body = {
            "apiVersion": "coordination.k8s.io/v1",
            "kind": "Lease",
            "metadata": {"name": self.name, "namespace": self.namespace},
            "spec": {
                "holderIdentity": holder,
                "leaseDurationSeconds": duration_seconds,
                "acquireTime": now,
                "renewTime": now,
                "leaseTransitions": 0,
            },
        }
        try:
            lease = await self._api.request("POST", self._collection, body=body)
        except KubeApiError as exc:
            if exc.status == 409:
                raise LeaseConflict(exc.reason) from exc
            raise
        return self._record(lease)

    async def update(self, record: LeaseRecord, holder: str | None, *, acquired: bool) -> LeaseRecord:
        now = _micro_time()
        body = {
            "apiVersion": "coordination.k8s.io/v1",
            "kind": "Lease",
            "metadata": {"name": self.name, "namespace": self.namespace, "resourceVersion": record.resource_version},
            "spec": {
                "holderIdentity": holder,
                "leaseDurationSeconds": record.duration_seconds,
                "renewTime": now if holder else None,
                "acquireTime": now if acquired else record.acquire_time,
                "leaseTransitions": record.transitions + (1 if acquired else 0),
            },
        }
        try:
            lease = await self._api.request("PUT", f"{self._collection}/{quote(self.name)}", body=body)
        except KubeApiError as exc:
            if exc.status == 409:
                raise LeaseConflict(exc.reason) from exc
            raise
        return self._record(lease)


def default_identity() -> str:
    """The pod's name (HOSTNAME in a pod) and a random suffix: a restarted process is a new candidate,
    so it never mistakes its predecessor's Lease for its own."""
    return f"{os.environ.get('HOSTNAME') or socket.gethostname()}_{uuid.uuid4().hex[:8]}"


class LeaderElector:
    """Acquires, renews and releases one Lease for one candidate."""

    def __init__(
        self,
        store: LeaseStore,
        identity: str,
        *,
        lease_seconds: float = 15.0,
        renew_seconds: float = 5.0,
        retry_seconds: float = 2.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if not 0 < renew_seconds < lease_seconds:
            raise ValueError("renew_seconds must be positive and shorter than lease_seconds")
        self.store = store
        self.identity = identity
        self.lease_seconds = lease_seconds
        self.renew_seconds = renew_seconds
        self.retry_seconds = retry_seconds
        self._clock = clock
        self._record: LeaseRecord | None = None
        #: When this candidate last saw the Lease change hands or be renewed (its own clock).
        self._observed_at = 0.0
        self._renewed_at = 0.0

    @property
    def is_leader(self) -> bool:
        return self._record is not None and self._record.holder == self.identity

    def _observe(self, record: LeaseRecord | None) -> None:
        previous = self._record
        if record is None or previous is None or record.resource_version != previous.resource_version:
            self._observed_at = self._clock()
        self._record = record

    async def try_acquire(self) -> bool:
        """One attempt: True when this candidate holds the Lease afterwards."""
        try:
            current = await self.store.read()
            self._observe(current)
            if current is None:
                record = await self.store.create(self.identity, max(1, round(self.lease_seconds)))
            elif current.holder == self.identity:
                record = await self.store.update(current, self.identity, acquired=False)
            elif current.holder and self._clock() - self._observed_at < current.duration_seconds:
                return False
            else:
                record = await self.store.update(current, self.identity, acquired=True)
        except LeaseConflict:
            return False
        self._observe(record)
        self._renewed_at = self._clock()
        return True

    async def acquire(self) -> None:
        """Wait until this candidate holds the Lease."""
        announced = False
        while True:
            try:
                if await self.try_acquire():
                    metrics.LEADER.set(1)
                    logger.info("Became the leader (Lease holder %s)", self.identity)
                    return
            except KubeApiError as exc:
                logger.warning("Could not read or write the Lease: %s %s", exc.status, exc.reason)
            if not announced:
                holder = self._record.holder if self._record else None
                logger.info("Standing by: the Lease is held by %s", holder)
                announced = True
            await asyncio.sleep(self.retry_seconds)

    async def hold(self) -> None:
        """Renew until the Lease is lost; then raise LeadershipLost. Runs for as long as the leader leads."""
        while True:
            await asyncio.sleep(self.renew_seconds)
            deadline = self._renewed_at + self.lease_seconds
            while True:
                try:
                    if await self.try_acquire() and self.is_leader:
                        break
                    if not self.is_leader:
                        metrics.LEADER.set(0)
                        raise LeadershipLost(
                            f"the Lease is held by {self._record.holder if self._record else None}; "
                            f"last renewed {self._clock() - self._renewed_at:.1f} s ago"
                        )
                    # Refused although the Lease still named this candidate: someone else's write (a
                    # label, an annotation) changed its resourceVersion between the read and the renewal.
                    # Reading it again and renewing is safe; giving up would hand over for nothing.
                    logger.info("The Lease changed while it was being renewed; renewing again")
                except KubeApiError as exc:
                    logger.warning("Could not renew the Lease: %s %s", exc.status, exc.reason)
                # A renewal that cannot land before the Lease expires would let two leaders overlap.
                if self._clock() + self.retry_seconds >= deadline:
                    metrics.LEADER.set(0)
                    raise LeadershipLost(
                        "the Lease could not be renewed before it expired "
                        f"(last renewed {self._clock() - self._renewed_at:.1f} s ago)"
                    )
                await asyncio.sleep(self.retry_seconds)

    async def release(self) -> None:
        """Hand the Lease back at a clean stop, so a standby takes over now rather than after expiry."""
        metrics.LEADER.set(0)
        try:
            current = await self.store.read()
            if current is not None and current.holder == self.identity:
                await self.store.update(current, None, acquired=False)
                logger.info("Released the Lease")
        except (KubeApiError, LeaseConflict) as exc:
            logger.warning("Could not release the Lease (a standby takes over when it expires): %s", exc)
