"""What this process created, by object uid, beside what the object's body says.

kopf hands each pass the object as it was when its event arrived. Passes of one object run one after
another, so a pass queued behind the one that created something (a resync's, say) holds a body from
before the create-pending marker and the recorded id were written, and would create again. This
memory closes that window; the annotation and the status stay the record that survives a restart.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

from ccloud_operator.conditions import seconds_since

#: How long a create Confluent confirmed (201, or the 409 of a name this object's earlier create took)
#: is waited for to show up in its reads before it counts as deleted outside and is made again.
CONFIRMED_PATIENCE_SECONDS = 300.0


@dataclass
class _Create:
    external_name: str
    sent_at: float
    confirmed_at: float | None = None


class Creates:
    """Creates sent by this process, per object uid, until a pass sees them recorded and listed."""

    def __init__(self) -> None:
        self._sent: dict[str, _Create] = {}

    def sent(self, uid: str, external_name: str) -> None:
        """A create of `external_name` (a connector name, an integration's role) was just sent."""
        self._sent[uid] = _Create(external_name, time.monotonic())

    def confirm(self, uid: str) -> None:
        """Confluent answered that the create made the resource: it exists, whatever reads show."""
        if uid in self._sent:
            self._sent[uid].confirmed_at = time.monotonic()

    def confirmed(self, uid: str) -> bool:
        """Whether a create is known to have happened (recently enough to be waited for)."""
        create = self._sent.get(uid)
        if create is None or create.confirmed_at is None:
            return False
        return time.monotonic() - create.confirmed_at < CONFIRMED_PATIENCE_SECONDS

    def pending_age(self, uid: str, marker: str | None) -> float | None:
        """Seconds since the latest create that may be in flight (marker or memory), None when there is none."""
        ages = [seconds_since(marker)] if marker else []
        if uid in self._sent:
            ages.append(time.monotonic() - self._sent[uid].sent_at)
        return min(ages) if ages else None

    def created(self, uid: str) -> str | None:
        """The external name this process created for the object, if it remembers one."""
        create = self._sent.get(uid)
        return create.external_name if create else None

    def settled(self, uid: str) -> None:
        """The create is recorded in the object and seen in Confluent: nothing is pending any more."""
        self._sent.pop(uid, None)
