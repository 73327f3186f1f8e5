"""One expanded connector list per (credentials, environment, cluster) per interval, shared by all.

An idle operator with N connectors in a cluster costs one ``GET .../connectors?expand=id,info,status``
per resync interval instead of N (or 2N) per-connector reads. Concurrent callers for the same
cluster wait on one request.
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

    def __init__(self) -> None:
        self._entries: dict[tuple[int, str, str], _Entry] = {}
        self._locks: dict[tuple[int, str, str], asyncio.Lock] = {}

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
            started = time.monotonic()
            connectors = await client.list_connectors_expanded(environment, cluster)
            self._entries[key] = _Entry(started, connectors)
            return connectors

    def forget(self, client: ConfluentClient, environment: str, cluster: str) -> None:
        """Drop a cluster's entry after a write, so the next read sees the write."""
        self._entries.pop((id(client), environment, cluster), None)
