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
    """Snapshots per key, each visible from its own time on: the moment of the change plus the lag in
    force then (`lag()` is read at each change, so a changed lag applies to later changes only)."""

    def __init__(self, lag: Callable[[], float], clock: Callable[[], float] = time.monotonic) -> None:
        self._lag = lag
        self._clock = clock
        # Insertion order is creation order, which lists keep.
        self._history: dict[str, list[tuple[float, V | None]]] = {}

    def record(self, key: str, value: V | None, *, age: float = 0.0) -> None:
        """The object `key` is `value` (None: gone) since `age` seconds ago (a change noticed late)."""
        now = self._clock()
        history = self._history.setdefault(key, [])
        history.append((now - max(age, 0.0) + self._lag(), value))
        self._prune(key, now)

    def seed(self, key: str, value: V) -> None:
        """An object that existed before this process started: visible at once."""
        self._history[key] = [(_FOREVER, value)]

    def view(self, key: str) -> V | None:
        """`key` as reads see it now: its latest change already visible, or None (gone, or not yet seen)."""
        now = self._clock()
        seen: V | None = None
        for visible_at, value in self._history.get(key, ()):
            if visible_at <= now:
                seen = value
        return seen

    def visible(self) -> Iterator[tuple[str, V]]:
        """Every visible object, in creation order."""
        for key in list(self._history):
            value = self.view(key)
            if value is not None:
                yield key, value

    def _prune(self, key: str, now: float) -> None:
        # Everything before the latest change already visible is history no read can see again.
        history = self._history[key]
        visible = [index for index, (visible_at, _) in enumerate(history) if visible_at <= now]
        if visible and visible[-1] > 0:
            del history[: visible[-1]]
        if len(history) == 1 and history[0][1] is None and history[0][0] <= now:
            del self._history[key]
