"""What reads see: every connector and integration as it was `lag` seconds ago.

The real API answers reads from a store that trails its writes (a new connector is missing from the
list for seconds after its 201; see `realism.Realism.read_lag_seconds`). Writes go to the emulator's
true state; each change also records a rendered snapshot here, and reads pick the newest snapshot at
least `lag` seconds old. A key whose newest visible snapshot is None (deleted) or that has none yet
(just created) is invisible.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from typing import Generic, TypeVar

V = TypeVar("V")

_FOREVER = float("-inf")


class Replica(Generic[V]):
    """Timestamped snapshots per key; `lag()` is read on every call so it can change at run time."""

    def __init__(self, lag: Callable[[], float], clock: Callable[[], float] = time.monotonic) -> None:
        self._lag = lag
        self._clock = clock
        # Insertion order is creation order, which lists keep.
        self._history: dict[str, list[tuple[float, V | None]]] = {}

    def record(self, key: str, value: V | None) -> None:
        """The object `key` is now `value` (None: gone)."""
        now = self._clock()
        history = self._history.setdefault(key, [])
        history.append((now, value))
        self._prune(key, now)

    def seed(self, key: str, value: V) -> None:
        """An object that existed before this process started: visible at once."""
        self._history[key] = [(_FOREVER, value)]

    def view(self, key: str) -> V | None:
        """`key` as reads see it now, or None when it is not (or no longer, or not yet) visible."""
        history = self._history.get(key)
        if not history:
            return None
        horizon = self._clock() - self._lag()
        seen: V | None = None
        for stamp, value in history:
            if stamp > horizon:
                break
            seen = value
        return seen

    def visible(self) -> Iterator[tuple[str, V]]:
        """Every visible object, in creation order."""
        for key in list(self._history):
            value = self.view(key)
            if value is not None:
                yield key, value

    def _prune(self, key: str, now: float) -> None:
        # Keep the newest snapshot older than the lag (what reads see) and everything after it.
        history = self._history[key]
        horizon = now - self._lag()
        keep_from = 0
        for index, (stamp, _) in enumerate(history):
            if stamp <= horizon:
                keep_from = index
        if keep_from:
            del history[:keep_from]
        if len(history) == 1 and history[0][1] is None and history[0][0] <= horizon:
            del self._history[key]
