"""The shared connector list: fresh reads forced by many callers at once start at most once per spacing."""

from __future__ import annotations

import asyncio
import time
from typing import Any, cast

from ccloud_operator.confluent.client import ConfluentClient
from ccloud_operator.reconcilers.connector_cache import ConnectorListCache


class _CountingClient:
    def __init__(self) -> None:
        self.started: list[float] = []

    async def list_connectors_expanded(self, environment: str, cluster: str) -> dict[str, Any]:
        self.started.append(time.monotonic())
        await asyncio.sleep(0.01)
        return {}


def test_fresh_reads_asked_together_share_one_list_started_a_spacing_after_the_last() -> None:
    async def run() -> list[float]:
        fake = _CountingClient()
        client = cast(ConfluentClient, fake)
        cache = ConnectorListCache(spacing=0.3)
        await cache.connectors(client, "env", "lkc", max_age=0)
        cache.forget(client, "env", "lkc")  # a write: the next read must be fresh, and is still spaced
        await asyncio.gather(*(cache.connectors(client, "env", "lkc", max_age=0) for _ in range(5)))
        # A caller content with a list up to a minute old is served from the cache.
        await cache.connectors(client, "env", "lkc", max_age=60)
        return fake.started

    started = asyncio.run(run())
    assert len(started) == 2
    assert started[1] - started[0] >= 0.29


def test_another_cluster_is_not_held_by_the_spacing() -> None:
    async def run() -> list[float]:
        fake = _CountingClient()
        client = cast(ConfluentClient, fake)
        cache = ConnectorListCache(spacing=5.0)
        await cache.connectors(client, "env", "lkc-a", max_age=0)
        await asyncio.wait_for(cache.connectors(client, "env", "lkc-b", max_age=0), 1.0)
        return fake.started

    assert len(asyncio.run(run())) == 2
