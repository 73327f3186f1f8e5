"""Shards: which namespaces one operator process reconciles when a fleet is split over several.

An object belongs to shard ``hash(namespace) % count``. Hashing the namespace (not the object)
keeps a ProviderIntegration, the ManagedConnectors that use it and the Secrets they read in one
process, which the operator needs: connectors find their integration, and a Secret wakes its
readers, through in-process state. The hash is SHA-256, not Python's ``hash``, which differs from
process to process.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any


def shard_of(namespace: str, count: int) -> int:
    """The shard (0 .. count-1) that owns a namespace."""
    digest = hashlib.sha256(namespace.encode()).digest()
    return int.from_bytes(digest[:8], "big") % count


@dataclass(frozen=True)
class Shard:
    """This process's part of the fleet: shard ``index`` of ``count``."""

    index: int = 0
    count: int = 1

    def __post_init__(self) -> None:
        if self.count < 1 or not 0 <= self.index < self.count:
            raise ValueError(f"shard index {self.index} is not in 0..{self.count - 1}")

    @property
    def whole(self) -> bool:
        return self.count == 1

    def owns(self, namespace: str | None) -> bool:
        return self.whole or shard_of(namespace or "", self.count) == self.index

    def when(self) -> Callable[..., bool] | None:
        """A kopf ``when=`` filter that keeps a handler to this shard's objects (None: no filter)."""
        if self.whole:
            return None

        def owned(namespace: str | None, **_: Any) -> bool:
            return self.owns(namespace)

        return owned

    def __str__(self) -> str:
        return f"{self.index}/{self.count}"
