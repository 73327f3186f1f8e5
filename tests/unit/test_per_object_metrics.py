"""The per-object series, made at scrape time from one record per object."""

from __future__ import annotations

import threading
from typing import Any

from prometheus_client import REGISTRY

from ccloud_operator import metrics


def ready(status: str, reason: str, synced: str = "True") -> dict[str, Any]:
    return {
        "conditions": [
            {"type": "Ready", "status": status, "reason": reason},
            {"type": "Synced", "status": synced, "reason": "x"},
        ]
    }


def value(family: str, /, **labels: str) -> float | None:
    return REGISTRY.get_sample_value(family, labels)


def test_a_changed_reason_replaces_the_series_and_a_failing_pass_keeps_the_last_success_time() -> None:
    key = {"kind": "ManagedConnector", "namespace": "team", "name": "sink"}
    metrics.publish_object(
        *key.values(), {**ready("False", "Creating"), "state": "PROVISIONING"}, desired_state="RUNNING"
    )
    assert value("ccloud_operator_resource_ready", **key, reason="Creating") == 0.0
    first = value("ccloud_operator_last_reconcile_timestamp_seconds", **key)
    assert first is not None
    state = {"namespace": "team", "name": "sink", "desired": "RUNNING"}
    assert value("ccloud_operator_connector_state", **state, state="PROVISIONING") == 1.0

    metrics.publish_object(*key.values(), {**ready("True", "Running"), "state": "RUNNING"}, desired_state="RUNNING")
    assert value("ccloud_operator_resource_ready", **key, reason="Creating") is None
    assert value("ccloud_operator_resource_ready", **key, reason="Running") == 1.0
    assert value("ccloud_operator_connector_state", **state, state="PROVISIONING") is None
    assert value("ccloud_operator_connector_state", **state, state="RUNNING") == 1.0
    synced = value("ccloud_operator_last_reconcile_timestamp_seconds", **key)
    assert synced is not None and synced >= first

    metrics.publish_object(*key.values(), ready("False", "ConfluentUnavailable", synced="False"))
    assert value("ccloud_operator_last_reconcile_timestamp_seconds", **key) == synced
    assert value("ccloud_operator_connector_state", **state, state="RUNNING") is None  # no state in that status

    metrics.forget_object(*key.values())
    assert value("ccloud_operator_resource_ready", **key, reason="ConfluentUnavailable") is None
    assert value("ccloud_operator_last_reconcile_timestamp_seconds", **key) is None


def test_an_integrations_checks_are_one_series_each() -> None:
    status = {
        **ready("False", "ValidationFailed"),
        "validation": {
            "trustPolicy": {"result": "Failed", "message": "m"},
            "permissions": {"result": "Passed"},
            "integration": {"message": "not checked yet"},
        },
    }
    metrics.publish_object("ProviderIntegration", "team", "pi", status)
    checks = {
        sample.labels["check"]: sample.labels["result"]
        for family in REGISTRY.collect()
        if family.name == "ccloud_operator_integration_check"
        for sample in family.samples
        if sample.labels["name"] == "pi"
    }
    assert checks == {"trustPolicy": "Failed", "permissions": "Passed"}
    metrics.forget_object("ProviderIntegration", "team", "pi")


def test_a_scrape_while_objects_come_and_go_does_not_fail() -> None:
    stop = threading.Event()
    errors: list[BaseException] = []

    def scrape() -> None:
        try:
            while not stop.is_set():
                list(metrics.PER_OBJECT.collect())
        except BaseException as error:  # the thread reports whatever broke it
            errors.append(error)

    thread = threading.Thread(target=scrape)
    thread.start()
    try:
        for i in range(20_000):
            metrics.publish_object("ManagedConnector", "churn", f"c{i % 500}", ready("True", "Running"))
            if i % 3 == 0:
                metrics.forget_object("ManagedConnector", "churn", f"c{(i * 7) % 500}")
    finally:
        stop.set()
        thread.join()
    for i in range(500):
        metrics.forget_object("ManagedConnector", "churn", f"c{i}")
    assert errors == []
