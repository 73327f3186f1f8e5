"""What running the operator looks like: metrics, settings errors, restarts on failure, RBAC refusals."""

from __future__ import annotations

import itertools
import os
import subprocess
import sys
import time
from datetime import datetime

import yaml
from prometheus_client.parser import text_string_to_metric_families

from ccloud_operator import __version__
from ccloud_operator.constants import FINALIZER
from ccloud_operator.constants import MANAGED_CONNECTORS as MC
from ccloud_operator.constants import PROVIDER_INTEGRATIONS as PI
from ccloud_operator.events import EVENT_POSTERS
from ccloud_sandbox.controlplane.cli import repo_root
from promql_support import Scrape, firing, parse_duration, rules_of

from harness_support import wait_until
from operator_world import TIME_SCALE, World, condition, s3_role_integration, s3_sink_spec


def _samples(text: str) -> dict[str, list[tuple[dict[str, str], float]]]:
    found: dict[str, list[tuple[dict[str, str], float]]] = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            found.setdefault(sample.name, []).append((sample.labels, sample.value))
    return found


def test_metrics_count_reconciles_external_calls_and_ready_resources(world: World) -> None:
    world.moto.client("s3").create_bucket(Bucket="metered")
    operator = world.start_operator()
    # prometheus_client prints HELP and TYPE for a family with no samples: only samples count, and
    # only a change between two scrapes shows the operator counted something.
    before = _samples(operator.metrics())
    assert not [v for _, v in before.get("ccloud_operator_reconciles_total", []) if v > 0]
    assert not [v for _, v in before.get("ccloud_operator_external_calls_total", []) if v > 0]
    s3_role_integration(world, "metered", "metered")
    world.create(MC, "sink", s3_sink_spec(world, "metered", "metered"))
    world.wait_condition(MC, "sink", "Ready", "True", timeout=90)

    samples = _samples(operator.metrics())
    reconciles = {labels["kind"] for labels, value in samples["ccloud_operator_reconciles_total"] if value > 0}
    assert reconciles == {"ProviderIntegration", "ManagedConnector"}
    calls = samples["ccloud_operator_external_calls_total"]
    creates = [v for labels, v in calls if labels["endpoint"] == "/pim/v1/integrations" and labels["code"] == "201"]
    assert creates == [1.0]
    assert any(labels["service"] == "iam" and labels["endpoint"] == "create_role" for labels, _ in calls)
    ready = {(labels["kind"], labels["ready"]): v for labels, v in samples["ccloud_operator_resources"]}
    assert ready[("ProviderIntegration", "true")] == 1 and ready[("ManagedConnector", "true")] == 1
    assert sum(v for _, v in samples["ccloud_operator_reconcile_duration_seconds_count"]) >= 2


def _run_with(**env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "ccloud_operator", "run"],
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_invalid_settings_stop_the_operator_with_a_clear_message() -> None:
    negative = _run_with(CCLOUD_OPERATOR_RESYNC_INTERVAL="-5")
    assert negative.returncode == 2
    assert "resync_interval" in negative.stderr and "greater than 0" in negative.stderr
    half_a_key = _run_with(CCLOUD_OPERATOR_CLOUD_API_KEY="only-a-key")
    assert half_a_key.returncode == 2
    assert "set both cloud_api_key and cloud_api_secret" in half_a_key.stderr


def test_on_failure_restarts_a_failed_connector_with_backoff_doubling_up_to_the_cap(world: World) -> None:
    world.moto.client("s3").create_bucket(Bucket="flaky")
    world.start_operator()
    s3_role_integration(world, "flaky", "flaky")
    spec = s3_sink_spec(world, "flaky", "flaky", restartPolicy={"type": "OnFailure", "maxBackoffSeconds": 20})
    world.create(MC, "sink", spec)
    world.wait_condition(MC, "sink", "Ready", "True", timeout=90)

    # The bucket goes: every start of the connector now fails, so the restarts keep coming.
    s3 = world.moto.client("s3")
    for item in s3.list_objects_v2(Bucket="flaky").get("Contents", []):
        s3.delete_object(Bucket="flaky", Key=item["Key"])
    s3.delete_bucket(Bucket="flaky")
    world.admin.clear_requests()
    world.admin.fail_connector("sink", "org.apache.kafka.connect.errors.ConnectException: broker went away")

    def restarts() -> list[float]:
        stamps = [
            r["arrived"] for r in world.admin.requests() if r["method"] == "POST" and r["path"].endswith("/restart")
        ]
        return [datetime.fromisoformat(t.replace("Z", "+00:00")).timestamp() for t in stamps]

    times = wait_until(lambda: found if len(found := restarts()) >= 4 else None, "four restarts", timeout=120)
    gaps = [round(later - earlier, 1) for earlier, later in itertools.pairwise(times[:4])]
    # At once, then 10 s, 20 s, and 20 s again: doubled, then held at maxBackoffSeconds.
    assert 9 <= gaps[0] <= 14 and 19 <= gaps[1] <= 24 and 19 <= gaps[2] <= 24, gaps
    # The Event is posted after the pass that sent the restart, so it may trail the request a little.
    wait_until(
        lambda: any("restart 4" in e.message for e in world.events("sink") if e.reason == "ConnectorRestarted"),
        "the Event of the fourth restart",
        timeout=15,
    )
    # Between restarts the connector is briefly back in provisioning (the operator polls it then); it fails
    # again each time and the condition says so.
    world.wait_condition(MC, "sink", "Ready", "False", reason="Failed", timeout=30)


def test_a_key_without_the_role_to_use_the_integration_is_reported_as_unauthorized(world: World) -> None:
    world.moto.client("s3").create_bucket(Bucket="guarded")
    world.start_operator()
    s3_role_integration(world, "guarded", "guarded")
    world.wait_condition(PI, "guarded", "Ready", "True")
    org = world.info.organization_id
    cluster_crn = (
        f"crn://confluent.cloud/organization={org}/environment={world.info.environment_id}"
        f"/cloud-cluster={world.info.kafka_cluster_id}"
    )
    # Cluster admin, but no ResourceOwner or Assigner on the integration.
    grant = world.admin.create_api_key("connector-manager", [("CloudClusterAdmin", cluster_crn)])
    world.secret("restricted", {"api-key": grant.api_key, "api-secret": grant.api_secret})
    world.create(
        MC, "sink", s3_sink_spec(world, "guarded", "guarded", cloudCredentialsSecretRef={"name": "restricted"})
    )
    obj = world.wait_condition(MC, "sink", "Ready", "False", reason="Unauthorized", timeout=60)
    assert "ResourceOwner or Assigner" in condition(obj, "Ready")["message"]
    assert world.admin.state()["connectors"] == {}


def _series(text: str, metric: str, /, **labels: str) -> dict[tuple[tuple[str, str], ...], float]:
    """The samples of `metric` whose labels include `labels`, keyed by their full label set."""
    return {
        tuple(sorted(sample.labels.items())): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
        if sample.name == metric and all(sample.labels.get(k) == v for k, v in labels.items())
    }


def test_per_object_metrics_follow_each_object_through_its_states_and_go_with_it(world: World) -> None:
    world.moto.client("s3").create_bucket(Bucket="observed")
    operator = world.start_operator()
    started = time.time()
    s3_role_integration(world, "observed", "observed")
    world.create(MC, "sink", s3_sink_spec(world, "observed", "observed"))
    world.wait_condition(MC, "sink", "Ready", "True", timeout=90)
    ns = world.namespace
    sink = {"namespace": ns, "name": "sink"}

    text = operator.metrics()
    assert _series(text, "ccloud_operator_resource_ready", kind="ManagedConnector", **sink) == {
        (("kind", "ManagedConnector"), ("name", "sink"), ("namespace", ns), ("reason", "Available")): 1.0
    }
    assert list(_series(text, "ccloud_operator_connector_state", **sink).items()) == [
        ((("desired", "RUNNING"), ("name", "sink"), ("namespace", ns), ("state", "RUNNING")), 1.0)
    ]
    checks = _series(text, "ccloud_operator_integration_check", namespace=ns, name="observed")
    assert {dict(labels)["check"]: dict(labels)["result"] for labels in checks} == {
        "trustPolicy": "Passed",
        "permissions": "Passed",
        "integration": "Passed",
    }, checks
    last = _series(text, "ccloud_operator_last_reconcile_timestamp_seconds", kind="ManagedConnector", **sink)
    assert len(last) == 1 and started <= next(iter(last.values())) <= time.time()
    # Latency by endpoint template and status code; no connector name or id in any label.
    latencies = _series(text, "ccloud_operator_external_call_duration_seconds_count", service="connect")
    endpoints = {dict(labels)["endpoint"] for labels, count in latencies.items() if count > 0}
    assert "/connect/v1/connectors/{name}/config" in endpoints or "/connect/v1/connectors" in endpoints, endpoints
    assert not [e for e in endpoints if "sink" in e], endpoints
    build = _series(text, "ccloud_operator_build_info")
    assert [dict(labels)["version"] for labels in build] == [__version__]

    # The connector fails: the state, the readiness and its reason follow; the RUNNING series goes.
    world.admin.fail_connector("sink", "org.apache.kafka.connect.errors.ConnectException: broker went away")
    world.wait_condition(MC, "sink", "Ready", "False", reason="Failed", timeout=30)
    text = operator.metrics()
    states = _series(text, "ccloud_operator_connector_state", **sink)
    assert [dict(labels)["state"] for labels, value in states.items() if value == 1] == ["FAILED"], states
    assert list(_series(text, "ccloud_operator_resource_ready", **sink).items()) == [
        ((("kind", "ManagedConnector"), ("name", "sink"), ("namespace", ns), ("reason", "Failed")), 0.0)
    ]

    # Deleted: every series of the object goes, the integration's stay.
    world.delete(MC, "sink")
    world.wait_gone(MC, "sink")
    text = operator.metrics()
    for name in ("ccloud_operator_resource_ready", "ccloud_operator_connector_state"):
        assert _series(text, name, **sink) == {}, name
    assert _series(text, "ccloud_operator_last_reconcile_timestamp_seconds", **sink) == {}
    assert _series(text, "ccloud_operator_resource_ready", name="observed")


RULES = yaml.safe_load((repo_root() / "helm" / "ccloud-operator" / "files" / "prometheus-rules.yaml").read_text())


def _scrape_for(world: World, seconds: float, history: list[Scrape]) -> None:
    """Scrape the operator every half second for `seconds`, as Prometheus would (at a faster pace)."""
    assert world.operator is not None
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        history.append(Scrape.parse(time.time(), world.operator.metrics()))
        time.sleep(0.5)


def _alerts(history: list[Scrape]) -> dict[str, set[tuple[tuple[str, str], ...]]]:
    # The world runs at TIME_SCALE of real time (provisioning 120 s -> 2.4 s): the rules' durations too.
    found = {rule["alert"]: firing(rule, history, time_scale=TIME_SCALE) for rule in rules_of(RULES["groups"])}
    return {alert: labels for alert, labels in found.items() if labels}


def test_alert_rules_fire_on_a_failing_connector_and_stay_quiet_on_a_healthy_one(world: World) -> None:
    world.moto.client("s3").create_bucket(Bucket="alerting")
    world.start_operator()
    s3_role_integration(world, "alerting", "alerting")
    world.create(MC, "sink", s3_sink_spec(world, "alerting", "alerting"))
    world.wait_condition(MC, "sink", "Ready", "True", timeout=90)
    longest = max(parse_duration(rule["for"]) for rule in rules_of(RULES["groups"])) * TIME_SCALE

    healthy: list[Scrape] = []
    _scrape_for(world, longest + 5, healthy)
    assert _alerts(healthy) == {}

    # The connector fails, and Confluent's Connect API answers 429 to every read from then on: the
    # connector is not RUNNING, not Ready, not reconciled, and the operator is rate limited.
    world.admin.fail_connector("sink", "org.apache.kafka.connect.errors.ConnectException: broker went away")
    world.wait_condition(MC, "sink", "Ready", "False", reason="Failed", timeout=30)
    world.admin.inject(429, count=100_000, path="/connect/*", methods=["GET"])
    try:
        failing = list(healthy)
        # The longest wait: 900 s without a successful pass, then `for: 5m`.
        _scrape_for(world, (900 + 300) * TIME_SCALE + 5, failing)
    finally:
        world.admin.clear_faults()
    ns = world.namespace
    sink = (("name", "sink"), ("namespace", ns))
    assert _alerts(failing) == {
        "CCloudConnectorNotRunning": {sink},
        "CCloudResourceNotReady": {(("kind", "ManagedConnector"), *sink)},
        "CCloudReconcileFailing": {(("kind", "ManagedConnector"), *sink)},
        "CCloudConfluentRateLimited": {()},
    }


def test_a_start_with_more_objects_than_kopf_workers_reaches_every_object(world: World) -> None:
    """kopf's indexes hold every object's handlers until all of the first listing are indexed, waiting
    inside kopf's workers: with fewer workers than objects that wait never ended. Now nothing waits."""
    world.moto.client("s3").create_bucket(Bucket="early")
    # More than kopf's workers here (2), and than the operator's Event posters.
    names = [f"early-{i}" for i in range(EVENT_POSTERS + 2)]
    # Created before the operator runs, so they all come in kopf's first listing.
    for name in names:
        world.create(MC, name, s3_sink_spec(world, "early", "early"))
    world.start_operator(CCLOUD_OPERATOR_MAX_CONCURRENT_OBJECTS="2", CCLOUD_OPERATOR_RESYNC_INTERVAL="600")
    for name in names:
        obj = world.wait_condition(MC, name, "Ready", "False", reason="WaitingForProviderIntegration", timeout=60)
        assert FINALIZER in obj["metadata"]["finalizers"]
    # The integration's readiness wakes them all (no resync within the test).
    s3_role_integration(world, "early", "early")
    for name in names:
        world.wait_condition(MC, name, "Ready", "True", timeout=90)
    # More connectors' Events at once than posters: they wait their turn, and each connector gets its own.
    for name in names:
        world.wait_event(name, "ConnectorCreated", timeout=30)
