"""Prometheus metrics: reconciles, durations, external calls, retries, resources by readiness."""

from __future__ import annotations

import importlib.metadata
import platform
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from prometheus_client import REGISTRY, Counter, Gauge, Histogram
from prometheus_client.metrics_core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

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
#
# They are made when Prometheus scrapes, from one small record per object, instead of one
# prometheus_client child per series: a child carries its own lock and value object, about 2.8 KiB per
# object for the three or five series it has (benchmarks/memory_profile.py at 1000 resources), 28 MiB
# at 10,000 connectors.

#: (name, help, label names) of each per-object family.
_RESOURCE_READY = (
    "ccloud_operator_resource_ready",
    "1 when the object's Ready condition is True, else 0; `reason` is the condition's reason.",
    ("kind", "namespace", "name", "reason"),
)
_CONNECTOR_STATE = (
    "ccloud_operator_connector_state",
    "1 for the state Confluent last reported for a ManagedConnector's connector; `desired` is spec.state.",
    ("namespace", "name", "state", "desired"),
)
_INTEGRATION_CHECK = (
    "ccloud_operator_integration_check",
    "1 for the last result (Passed, Failed, Unknown) of each ProviderIntegration check.",
    ("namespace", "name", "check", "result"),
)
_LAST_RECONCILE = (
    "ccloud_operator_last_reconcile_timestamp_seconds",
    "Unix time of the object's last pass that ended Synced (every pass counts, even one that wrote nothing).",
    ("kind", "namespace", "name"),
)


@dataclass(frozen=True, slots=True)
class _ObjectSeries:
    """What one object's series show; replaced whole, so a scrape in another thread reads one pass's."""

    ready: float
    reason: str
    #: None until a pass ends Synced; a failing pass keeps the last success's time (its age is what an
    #: alert measures).
    last_reconcile: float | None
    #: (state, desired) of a ManagedConnector's connector.
    connector_state: tuple[str, str] | None
    #: (check, result) of a ProviderIntegration's checks.
    checks: tuple[tuple[str, str], ...]


#: Each object's series by (kind, namespace, name).
_objects: dict[tuple[str, str, str], _ObjectSeries] = {}


class _PerObjectCollector(Collector):
    def describe(self) -> list[Metric]:
        return list(self._families())

    @staticmethod
    def _families() -> list[GaugeMetricFamily]:
        return [GaugeMetricFamily(name, documentation, labels=labels) for name, documentation, labels in _FAMILIES]

    def collect(self) -> list[Metric]:
        ready, state, check, last = self._families()
        # One copy taken at once (the event loop's thread changes the dict while Prometheus scrapes).
        for (kind, namespace, name), series in list(_objects.items()):
            ready.add_metric([kind, namespace, name, series.reason], series.ready)
            if series.last_reconcile is not None:
                last.add_metric([kind, namespace, name], series.last_reconcile)
            if series.connector_state is not None:
                state.add_metric([namespace, name, *series.connector_state], 1.0)
            for check_name, result in series.checks:
                check.add_metric([namespace, name, check_name, result], 1.0)
        return [ready, state, check, last]


_FAMILIES = (_RESOURCE_READY, _CONNECTOR_STATE, _INTEGRATION_CHECK, _LAST_RECONCILE)
PER_OBJECT = _PerObjectCollector()
REGISTRY.register(PER_OBJECT)

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


def publish_object(
    kind: str, namespace: str, name: str, status: Mapping[str, Any], *, desired_state: str | None = None
) -> None:
    """Set the object's series from its status as just written."""
    key = (kind, namespace, name)
    conditions = {c.get("type"): c for c in status.get("conditions") or [] if isinstance(c, Mapping)}
    ready = conditions.get("Ready") or {}
    previous = _objects.get(key)
    last_reconcile = previous.last_reconcile if previous is not None else None
    if (conditions.get("Synced") or {}).get("status") == "True":
        last_reconcile = time.time()
    connector_state = None
    if kind == "ManagedConnector" and status.get("state"):
        connector_state = (str(status["state"]), desired_state or "")
    checks: tuple[tuple[str, str], ...] = ()
    if kind == "ProviderIntegration":
        checks = tuple(
            (str(check), str(result["result"]))
            for check, result in sorted((status.get("validation") or {}).items())
            if isinstance(result, Mapping) and result.get("result")
        )
    _objects[key] = _ObjectSeries(
        ready=1.0 if ready.get("status") == "True" else 0.0,
        reason=str(ready.get("reason") or ""),
        last_reconcile=last_reconcile,
        connector_state=connector_state,
        checks=checks,
    )


def forget_object(kind: str, namespace: str, name: str) -> None:
    """Remove every series of a deleted object."""
    _objects.pop((kind, namespace, name), None)
