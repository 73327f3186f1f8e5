"""One expanded connector list per (credentials, environment, cluster) per interval, shared by all.

An idle operator with N connectors in a cluster costs one ``GET .../connectors?expand=id,info,status``
per resync interval instead of N (or 2N) per-connector reads. Concurrent callers for the same
cluster wait on one request, and a read forced fresh starts no sooner than ``spacing`` seconds after
the one before: under a bulk apply every create is followed by a fresh read, and without the spacing
those reads took about a third of the rate limit (625 lists for 500 creates in benchmarks/bulk.py).
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass

from ccloud_operator.confluent.client import ConfluentClient
from ccloud_operator.confluent.models import ConnectorSnapshot


@dataclass
class _Entry:
    fetched_at: float
    connectors: dict[str, ConnectorSnapshot]


class ConnectorListCache:
    """Caches expanded connector lists with a maximum age chosen by each caller."""

    def __init__(self, *, spacing: float = 1.0) -> None:
        self._spacing = spacing
        self._entries: dict[tuple[int, str, str], _Entry] = {}
        self._locks: dict[tuple[int, str, str], asyncio.Lock] = {}
        #: When each cluster's last read started; kept when an entry is forgotten, for the spacing.
        self._started: dict[tuple[int, str, str], float] = {}

    async def connectors(
        self, client: ConfluentClient, environment: str, cluster: str, *, max_age: float
    ) -> dict[str, ConnectorSnapshot]:
        """The cluster's connectors as read at most ``max_age`` seconds ago (0 forces a read)."""
        key = (id(client), environment, cluster)
        lock = self._locks.setdefault(key, asyncio.Lock())
        requested_at = time.monotonic()
        async with lock:
            entry = self._entries.get(key)
            # A read that started after this call was made is fresh enough for it, whatever max_age.
            if entry is not None and (
                entry.fetched_at >= requested_at or time.monotonic() - entry.fetched_at <= max_age
            ):
                return entry.connectors
            # Holding the lock: every caller that arrives meanwhile is served by the read that follows.
            wait = self._started.get(key, float("-inf")) + self._spacing - time.monotonic()
            if wait > 0:
                await asyncio.sleep(wait)
            started = self._started[key] = time.monotonic()
            connectors = await client.list_connectors_expanded(environment, cluster)
            if entry is not None:
                connectors = _keep_unchanged(entry.connectors, connectors)
            self._entries[key] = _Entry(started, connectors)
            return connectors

    def forget(self, client: ConfluentClient, environment: str, cluster: str) -> None:
        """Mark a cluster's entry stale after a write, so the next read sees the write."""
        key = (id(client), environment, cluster)
        entry = self._entries.get(key)
        if entry is not None:
            # Kept for its snapshots (``_keep_unchanged``), never served again.
            self._entries[key] = _Entry(float("-inf"), entry.connectors)


def _keep_unchanged(
    previous: dict[str, ConnectorSnapshot], fresh: dict[str, ConnectorSnapshot]
) -> dict[str, ConnectorSnapshot]:
    """The fresh list, with the previous list's snapshot wherever a connector did not change.

    A list is parsed into a few thousand small objects that die with it; whatever of it is kept is
    scattered over the heap that parse filled, and holds those pages. Keeping the old snapshot of an
    unchanged connector lets the new one die with the parse (most of a list, between two reads a second
    apart), which at 10,000 connectors is the difference between pages given back and pages held.
    """
    return {name: old if (old := previous.get(name)) == snapshot else snapshot for name, snapshot in fresh.items()}
