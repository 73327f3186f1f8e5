"""What the Confluent APIs return, reduced to what the operator reads."""

from __future__ import annotations

import sys
from dataclasses import dataclass, field
from typing import Any


def _shared(value: Any) -> str:
    """One string object for every equal config key and value: a list of 10,000 connectors repeats the
    same few (classes, formats, auth methods) in each entry, and the shared cache keeps a list per
    cluster between reads."""
    return sys.intern(str(value))


@dataclass(frozen=True)
class Integration:
    """A pim/v1 provider integration (AWS)."""

    id: str
    display_name: str
    provider: str
    environment: str
    customer_role_arn: str
    confluent_role_arn: str
    external_id: str
    usages: tuple[str, ...]

    @classmethod
    def from_api(cls, body: dict[str, Any]) -> Integration:
        config = body.get("config") or {}
        return cls(
            id=str(body.get("id", "")),
            display_name=str(body.get("display_name", "")),
            provider=str(body.get("provider", "")),
            environment=str((body.get("environment") or {}).get("id", "")),
            customer_role_arn=str(config.get("customer_iam_role_arn", "")),
            confluent_role_arn=str(config.get("iam_role_arn", "")),
            external_id=str(config.get("external_id", "")),
            usages=tuple(str(u) for u in body.get("usages") or ()),
        )


@dataclass(frozen=True, slots=True)
class TaskStatus:
    id: int
    state: str
    message: str


@dataclass(frozen=True, slots=True)
class ConnectorSnapshot:
    """A connector as one read (or one entry of the expanded list) shows it."""

    name: str
    connector_id: str | None
    config: dict[str, str]
    type: str | None
    state: str
    trace: str
    tasks: tuple[TaskStatus, ...] = field(default=())

    @classmethod
    def from_expanded(cls, name: str, item: dict[str, Any]) -> ConnectorSnapshot:
        info = item.get("info") or {}
        status = item.get("status") or {}
        connector_status = status.get("connector") or {}
        tasks = tuple(
            TaskStatus(
                id=int(task.get("id", index)),
                state=_shared(task.get("state", "")),
                message=str(task.get("msg") or task.get("trace") or ""),
            )
            for index, task in enumerate(status.get("tasks") or [])
        )
        identity = item.get("id") or {}
        return cls(
            name=name,
            connector_id=identity.get("id") if isinstance(identity, dict) else None,
            config={_shared(k): _shared(v) for k, v in (info.get("config") or {}).items()},
            type=info.get("type") or status.get("type"),
            state=_shared(connector_status.get("state") or "NONE"),
            trace=str(connector_status.get("trace") or ""),
            tasks=tasks,
        )

    @property
    def tasks_ready(self) -> str:
        running = sum(1 for task in self.tasks if task.state == "RUNNING")
        return f"{running}/{len(self.tasks)}"


@dataclass(frozen=True)
class ConnectorPlugin:
    connector_class: str
    type: str

    @classmethod
    def from_api(cls, body: dict[str, Any]) -> ConnectorPlugin:
        return cls(connector_class=str(body.get("class", "")), type=str(body.get("type", "")))


@dataclass(frozen=True)
class ValidationResult:
    """The plugin validate answer: how many errors, and which key has which."""

    error_count: int
    errors: dict[str, tuple[str, ...]]

    @classmethod
    def from_api(cls, body: dict[str, Any]) -> ValidationResult:
        errors: dict[str, tuple[str, ...]] = {}
        for entry in body.get("configs") or []:
            value = entry.get("value") or {}
            messages = tuple(str(m) for m in value.get("errors") or ())
            if messages:
                errors[str(value.get("name", ""))] = messages
        return cls(error_count=int(body.get("error_count", len(errors))), errors=errors)
