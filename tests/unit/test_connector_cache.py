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


def test_a_connector_unchanged_between_two_lists_keeps_its_snapshot_and_a_changed_one_is_new() -> None:
    from ccloud_operator.confluent.models import ConnectorSnapshot

    def listed(state: str) -> dict[str, Any]:
        item = {
            "id": {"id": "lcc-1"},
            "info": {"config": {"topics": "orders"}},
            "status": {"connector": {"state": state}},
        }
        return {
            "a": ConnectorSnapshot.from_expanded("a", item),
            "b": ConnectorSnapshot.from_expanded("b", {**item, "status": {"connector": {"state": "RUNNING"}}}),
        }

    class _Listing:
        def __init__(self) -> None:
            self.states = ["PROVISIONING", "RUNNING"]

        async def list_connectors_expanded(self, environment: str, cluster: str) -> dict[str, Any]:
            return listed(self.states.pop(0))

    async def run() -> tuple[dict[str, Any], dict[str, Any]]:
        client = cast(ConfluentClient, _Listing())
        cache = ConnectorListCache(spacing=0.0)
        first = dict(await cache.connectors(client, "env", "lkc", max_age=0))
        cache.forget(client, "env", "lkc")  # a write: stale, but its snapshots are still there to keep
        second = await cache.connectors(client, "env", "lkc", max_age=60)
        return first, second

    first, second = asyncio.run(run())
    assert second["b"] is first["b"]  # unchanged: the old object, the new one died with its parse
    assert second["a"] is not first["a"] and second["a"].state == "RUNNING"
