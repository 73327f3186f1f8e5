"""Prometheus metrics: reconciles, durations, external calls, retries, resources by readiness."""

from __future__ import annotations

import importlib.metadata
import platform
import time
from collections.abc import Mapping
from typing import Any

from prometheus_client import Counter, Gauge, Histogram

from ccloud_operator import __version__

RECONCILES = Counter("ccloud_operator_reconciles_total", "Reconciles by kind and result.", ["kind", "result"])
RECONCILE_DURATION = Histogram(
    "ccloud_operator_reconcile_duration_seconds",
    "Time spent in one reconcile.",
    ["kind"],
    buckets=(0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60),
)
EXTERNAL_CALLS = Counter(
    "ccloud_operator_external_calls_total",
    "Calls to Confluent Cloud and AWS by service, endpoint and status code.",
    ["service", "endpoint", "code"],
)
VALIDATIONS = Counter(
    "ccloud_operator_validations_total",
    "ProviderIntegration checks run, by check (trustPolicy, permissions, integration) and result.",
    ["check", "result"],
)
RESYNCS = Counter(
    "ccloud_operator_resyncs_total",
    "Periodic passes (connector resyncs, integration validations) by kind and result.",
    ["kind", "result"],
)
RETRIES = Counter("ccloud_operator_retries_total", "Client-side retries by error class.", ["error"])
LEADER = Gauge("ccloud_operator_leader", "1 while this process holds its Lease and reconciles; 0 on standby.")
RESOURCES_READY = Gauge("ccloud_operator_resources", "Resources by kind and Ready condition status.", ["kind", "ready"])


def observe_external_call(service: str, endpoint: str, status: str, seconds: float | None = None) -> None:
    """Count one external call, and its latency when the client measured it (clients call this after each
    exchange)."""
    if service == "retry":
        RETRIES.labels(error=endpoint).inc()
        return
    EXTERNAL_CALLS.labels(service=service, endpoint=endpoint, code=status).inc()
    if seconds is not None:
        EXTERNAL_CALL_DURATION.labels(service=service, endpoint=endpoint, code=status).observe(seconds)


# -- per object ------------------------------------------------------------------------------------
# One series per object (and per check of an integration), never per external call: the label values
# are the object's kind, namespace and name and a value from a small fixed set (a condition reason, a
# connector state, a check result), so the series count grows with the objects the operator manages
# and nothing else. A label that changes (a new reason) replaces the object's previous series.

RESOURCE_READY = Gauge(
    "ccloud_operator_resource_ready",
    "1 when the object's Ready condition is True, else 0; `reason` is the condition's reason.",
    ["kind", "namespace", "name", "reason"],
)
CONNECTOR_STATE = Gauge(
    "ccloud_operator_connector_state",
    "1 for the state Confluent last reported for a ManagedConnector's connector; `desired` is spec.state.",
    ["namespace", "name", "state", "desired"],
)
INTEGRATION_CHECK = Gauge(
    "ccloud_operator_integration_check",
    "1 for the last result (Passed, Failed, Unknown) of each ProviderIntegration check.",
    ["namespace", "name", "check", "result"],
)
LAST_RECONCILE = Gauge(
    "ccloud_operator_last_reconcile_timestamp_seconds",
    "Unix time of the object's last pass that ended Synced (every pass counts, even one that wrote nothing).",
    ["kind", "namespace", "name"],
)
EXTERNAL_CALL_DURATION = Histogram(
    "ccloud_operator_external_call_duration_seconds",
    "Latency of calls to Confluent Cloud and AWS by service, endpoint (a path template or an operation) and "
    "status code.",
    ["service", "endpoint", "code"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30),
)
BUILD_INFO = Gauge(
    "ccloud_operator_build_info",
    "Always 1; the labels say which operator, kopf and Python run.",
    ["version", "kopf_version", "python_version"],
)
BUILD_INFO.labels(
    version=__version__, kopf_version=importlib.metadata.version("kopf"), python_version=platform.python_version()
).set(1)

#: The labels each object's series were last published with, to remove them when they change.
_published: dict[tuple[str, str, str], set[tuple[Gauge, tuple[str, ...]]]] = {}


def publish_object(
    kind: str, namespace: str, name: str, status: Mapping[str, Any], *, desired_state: str | None = None
) -> None:
    """Set the object's series from its status as just written; drop those whose labels changed."""
    key = (kind, namespace, name)
    conditions = {c.get("type"): c for c in status.get("conditions") or [] if isinstance(c, Mapping)}
    ready = conditions.get("Ready") or {}
    series: dict[tuple[Gauge, tuple[str, ...]], float] = {
        (RESOURCE_READY, (*key, str(ready.get("reason") or ""))): 1.0 if ready.get("status") == "True" else 0.0
    }
    if (conditions.get("Synced") or {}).get("status") == "True":
        series[(LAST_RECONCILE, key)] = time.time()
    if kind == "ManagedConnector" and status.get("state"):
        series[(CONNECTOR_STATE, (namespace, name, str(status["state"]), desired_state or ""))] = 1.0
    if kind == "ProviderIntegration":
        for check, result in sorted((status.get("validation") or {}).items()):
            if isinstance(result, Mapping) and result.get("result"):
                series[(INTEGRATION_CHECK, (namespace, name, str(check), str(result["result"])))] = 1.0
    previous = _published.get(key, set())
    # A failing pass keeps the last success's time: its age is what an alert measures.
    kept = {(LAST_RECONCILE, key)} & previous
    for gauge, labels in previous - series.keys() - kept:
        gauge.remove(*labels)
    for (gauge, labels), value in series.items():
        gauge.labels(*labels).set(value)
    _published[key] = set(series) | kept


def forget_object(kind: str, namespace: str, name: str) -> None:
    """Remove every series of a deleted object."""
    for gauge, labels in _published.pop((kind, namespace, name), set()):
        gauge.remove(*labels)
