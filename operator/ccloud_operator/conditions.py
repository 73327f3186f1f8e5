"""Kubernetes-style conditions: Ready and Synced, with transitions kept honest."""

from __future__ import annotations

import datetime
from dataclasses import dataclass
from typing import Any

READY = "Ready"
#: Longest condition message kept; Confluent traces can be long.
MAX_MESSAGE_LENGTH = 2048
SYNCED = "Synced"


def now_rfc3339() -> str:
    return datetime.datetime.now(datetime.UTC).replace(microsecond=0).isoformat().replace("+00:00", "Z")


def seconds_since(timestamp: object) -> float:
    """Age of an RFC 3339 timestamp this operator wrote; infinite when absent or unreadable."""
    if not isinstance(timestamp, str):
        return float("inf")
    try:
        then = datetime.datetime.fromisoformat(timestamp.replace("Z", "+00:00"))
    except ValueError:
        return float("inf")
    return (datetime.datetime.now(datetime.UTC) - then).total_seconds()


@dataclass(frozen=True)
class Condition:
    type: str
    status: bool | None
    reason: str
    message: str

    @property
    def status_text(self) -> str:
        return {True: "True", False: "False", None: "Unknown"}[self.status]


def merge_conditions(
    existing: list[dict[str, Any]] | None, updates: list[Condition], generation: int | None
) -> list[dict[str, Any]]:
    """New conditions list; ``lastTransitionTime`` moves only when a condition's status changes."""
    by_type = {c.get("type"): dict(c) for c in existing or []}
    for update in updates:
        previous = by_type.get(update.type)
        transition = (
            previous.get("lastTransitionTime")
            if previous and previous.get("status") == update.status_text and previous.get("lastTransitionTime")
            else now_rfc3339()
        )
        entry: dict[str, Any] = {
            "type": update.type,
            "status": update.status_text,
            "reason": update.reason,
            "message": update.message[:MAX_MESSAGE_LENGTH],
            "lastTransitionTime": transition,
        }
        if generation is not None:
            entry["observedGeneration"] = generation
        by_type[update.type] = entry
    return [by_type[key] for key in sorted(by_type, key=str)]


def condition_of(conditions: list[dict[str, Any]] | None, type_: str) -> dict[str, Any] | None:
    return next((c for c in conditions or [] if c.get("type") == type_), None)


def is_ready(status: dict[str, Any] | None) -> bool:
    condition = condition_of((status or {}).get("conditions"), READY)
    return bool(condition and condition.get("status") == "True")
