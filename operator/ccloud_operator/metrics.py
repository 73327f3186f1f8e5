"""Prometheus metrics: reconciles, durations, external calls, retries, resources by readiness."""

from __future__ import annotations

from prometheus_client import Counter, Gauge, Histogram

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
RETRIES = Counter("ccloud_operator_retries_total", "Client-side retries by error class.", ["error"])
LEADER = Gauge("ccloud_operator_leader", "1 while this process holds its Lease and reconciles; 0 on standby.")
RESOURCES_READY = Gauge("ccloud_operator_resources", "Resources by kind and Ready condition status.", ["kind", "ready"])


def observe_external_call(service: str, endpoint: str, status: str) -> None:
    """Count one external call (clients call this after each exchange)."""
    if service == "retry":
        RETRIES.labels(error=endpoint).inc()
        return
    EXTERNAL_CALLS.labels(service=service, endpoint=endpoint, code=status).inc()
