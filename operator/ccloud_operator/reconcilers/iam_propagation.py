"""What the connectors of one provider integration learn about IAM propagation from each other.

Right after an integration's trust policy is written, Confluent's AssumeRole of the customer's role
fails until the change has reached every AWS endpoint (seconds to minutes [CONTRACT 2]), and every
connector started meanwhile fails. Each failed connector is restarted on its own backoff, so after AWS
caught up most of them would still sleep out a backoff of tens of seconds. But they all assume the same
role: the first one that starts fine shows that the others will too. This board carries that news: a
connector that started after a sibling's last failed try is restarted at once, and siblings waiting out
a backoff are woken for it.

Only starts this process caused count (its create, config write or restart, then RUNNING): a connector
seen RUNNING since before proves nothing about the trust as it is now.
"""

from __future__ import annotations

from collections.abc import Callable


class PropagationBoard:
    """Per integration id: when a connector last started fine, and which connectors wait to retry."""

    def __init__(self, wake: Callable[[str], object] | None = None) -> None:
        self._wake = wake or (lambda _uid: None)
        #: Integration id -> the latest start attempt (monotonic) that ended RUNNING.
        self._started: dict[str, float] = {}
        #: Integration id -> uids of connectors that failed on an AWS access error and wait to retry,
        #: and each such uid's integration id.
        self._waiting: dict[str, set[str]] = {}
        self._waits_on: dict[str, str] = {}

    def wake_with(self, wake: Callable[[str], object]) -> None:
        """How to give a connector a pass now (the resync loop's change pass, in the operator)."""
        self._wake = wake

    def started(self, integration_id: str, attempted_at: float) -> None:
        """A connector using the integration, started by this process at ``attempted_at``, is RUNNING:
        the role was assumable then. The connectors waiting on the integration are woken."""
        if attempted_at <= self._started.get(integration_id, float("-inf")):
            return
        self._started[integration_id] = attempted_at
        for uid in self._waiting.pop(integration_id, set()):
            del self._waits_on[uid]
            self._wake(uid)

    def started_since(self, integration_id: str, since: float) -> bool:
        """Whether a connector using the integration was started after ``since`` and runs."""
        return self._started.get(integration_id, float("-inf")) > since

    def wait(self, integration_id: str, uid: str) -> None:
        """The connector failed on an AWS access error and waits out a backoff: wake it when a sibling
        starts fine."""
        self.done(uid)
        self._waiting.setdefault(integration_id, set()).add(uid)
        self._waits_on[uid] = integration_id

    def done(self, uid: str) -> None:
        """The connector no longer waits (it runs, gave up, or is gone)."""
        integration_id = self._waits_on.pop(uid, None)
        if integration_id is None:
            return
        uids = self._waiting[integration_id]
        uids.discard(uid)
        if not uids:
            del self._waiting[integration_id]
