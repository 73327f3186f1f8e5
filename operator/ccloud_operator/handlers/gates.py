"""What stops a pass before any external call: the pause annotation, and the platform owner's rules.

Paused: no call to Confluent or AWS for the object until the annotation is removed. A paused object is
reported (Synced=False, reason ReconcilePaused) and otherwise left as it is: its spec, its Secrets and
Confluent may change meanwhile, and the first pass after the annotation goes converges them. Deleting a
paused object waits (nothing is deleted behind the user's back, nothing is leaked), unless its
deletionPolicy is Orphan, which needs no external call.

A guardrail violation (guardrails.py): Ready=False and Synced=False with reason PolicyViolation, an
Event naming the rule, and nothing written anywhere; a spec change (or new settings) is what fixes it.
"""

from __future__ import annotations

import kopf

from ccloud_operator.conditions import READY, SYNCED, Condition, condition_of
from ccloud_operator.constants import PAUSED_ANNOTATION
from ccloud_operator.guardrails import Violation
from ccloud_operator.handlers.common import apply_outcome
from ccloud_operator.reconcilers.outcome import Event, Outcome

#: How often a deletion that waits for the annotation to go looks again.
PAUSED_DELETION_RETRY_SECONDS = 10.0
PAUSED_MESSAGE = f"reconciliation is paused by the annotation {PAUSED_ANNOTATION}; remove it to resume"


def is_paused(body: kopf.Body) -> bool:
    """Whether the object carries the pause annotation set to "true"."""
    return str(body.metadata.annotations.get(PAUSED_ANNOTATION, "")).lower() == "true"


def report_paused(body: kopf.Body, patch: kopf.Patch) -> None:
    """Say so on the object (an Event the first time) and do nothing else."""
    outcome = Outcome(
        conditions=[Condition(SYNCED, False, "ReconcilePaused", PAUSED_MESSAGE)],
        events=[Event("Normal", "ReconcilePaused", PAUSED_MESSAGE)],
    )
    synced = condition_of((body.get("status") or {}).get("conditions"), SYNCED) or {}
    if synced.get("reason") == "ReconcilePaused":
        outcome.events = []
    apply_outcome(body, patch, outcome)


def wait_while_paused(body: kopf.Body, patch: kopf.Patch) -> None:
    """A paused object being deleted keeps its finalizer until the annotation goes."""
    report_paused(body, patch)
    raise kopf.TemporaryError(
        f"deletion waits: {PAUSED_MESSAGE} (or set deletionPolicy Orphan)", delay=PAUSED_DELETION_RETRY_SECONDS
    )


def report_violation(body: kopf.Body, patch: kopf.Patch, violation: Violation) -> None:
    """Refuse the spec by the platform owner's rule, where the user looks; no retry until it changes."""
    message = f"guardrail {violation.rule}: {violation.message}"
    outcome = Outcome(
        conditions=[
            Condition(READY, False, "PolicyViolation", message),
            Condition(SYNCED, False, "PolicyViolation", message),
        ],
        events=[Event("Warning", "PolicyViolation", message)],
    )
    apply_outcome(body, patch, outcome)
