"""ManagedConnector against the real API server, the Confluent emulator (which evaluates IAM like AWS) and moto."""

from __future__ import annotations

import json
import time
from datetime import datetime
from typing import Any

import httpx

from ccloud_operator.constants import (
    FINALIZER,
    GROUP,
    RESTART_ANNOTATION,
    TRUST_STATEMENT_SID,
)
from ccloud_operator.constants import (
    MANAGED_CONNECTORS as MC,
)
from ccloud_operator.constants import (
    PROVIDER_INTEGRATIONS as PI,
)

from harness_support import wait_until
from operator_world import World, condition, s3_role_integration, s3_sink_spec, trust_policy


def connector_api(world: World, path: str = "") -> str:
    base = (
        f"{world.info.url}/connect/v1/environments/{world.info.environment_id}/clusters/{world.info.kafka_cluster_id}"
    )
    return f"{base}/connectors{path}"


def writes(world: World) -> list[dict[str, Any]]:
    return [r for r in world.admin.requests() if r["method"] in ("POST", "PUT", "PATCH", "DELETE")]


def test_s3_sink_runs_after_confluent_assumed_the_role_and_writes_to_the_bucket(world: World) -> None:
    world.moto.client("s3").create_bucket(Bucket="orders-archive")
    world.start_operator()
    s3_role_integration(world, "s3", "orders-archive")
    world.create(MC, "orders-sink", s3_sink_spec(world, "s3", "orders-archive"))

    obj = world.wait_condition(MC, "orders-sink", "Ready", "True", timeout=90)
    status = obj["status"]
    assert status["state"] == "RUNNING"
    assert status["connectorId"].startswith("lcc-")
    assert status["tasksReady"] == "1/1"
    integration_id = world.get(PI, "s3")["status"]["integrationId"]
    assert status["providerIntegrationId"] == integration_id
    # The emulator only writes when its IAM evaluation of the moto role allowed it.
    listed = world.moto.client("s3").list_objects_v2(Bucket="orders-archive")
    assert listed.get("KeyCount", 0) > 0
    assert all(item["Key"].startswith("topics/orders/") for item in listed["Contents"])
    # Confluent records the connector as a user of the integration.
    usages = world.admin.state()["integrations"][integration_id]["usages"]
    assert any(u.endswith("/connector=orders-sink") for u in usages)
    config = httpx.get(connector_api(world, "/orders-sink/config"), auth=world.info.basic_auth).json()
    assert config["authentication.method"] == "IAM Roles"
    assert config["provider.integration.id"] == integration_id


def rfc3339(text: str) -> float:
    return datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp()


def operator_annotations(obj: dict[str, Any]) -> list[str]:
    return [key for key in obj["metadata"].get("annotations") or {} if key.startswith(GROUP)]


def test_a_connector_failed_on_broken_trust_runs_again_once_the_trust_is_repaired(world: World) -> None:
    world.moto.client("s3").create_bucket(Bucket="trusting")
    world.start_operator()
    s3_role_integration(world, "trusting", "trusting")
    world.create(MC, "sink", s3_sink_spec(world, "trusting", "trusting"))
    world.wait_condition(MC, "sink", "Ready", "True", timeout=90)

    # With the operator down, someone breaks the trust policy and the connector restarts in Confluent.
    # (Propagation off for this step only, so the broken trust takes effect at once.)
    assert world.operator is not None
    world.operator.stop()
    propagation = world.admin.realism()["iam_propagation_seconds"]
    world.admin.set_realism(iam_propagation_seconds=0)
    document = trust_policy(world.moto, "trusting-role")
    for statement in document["Statement"]:
        if statement.get("Sid") == TRUST_STATEMENT_SID:
            statement["Condition"]["StringEquals"]["sts:ExternalId"] = "not-the-integrations-id"
    world.moto.client("iam").update_assume_role_policy(RoleName="trusting-role", PolicyDocument=json.dumps(document))
    httpx.post(connector_api(world, "/sink/restart"), auth=world.info.basic_auth).raise_for_status()

    def failed_trace() -> str | None:
        state = httpx.get(connector_api(world, "/sink/status"), auth=world.info.basic_auth).json()
        return state["connector"].get("trace") if state["connector"]["state"] == "FAILED" else None

    trace = wait_until(failed_trace, "the connector FAILED in Confluent", timeout=30)
    assert "AssumeRole" in trace
    world.admin.set_realism(iam_propagation_seconds=propagation)

    # The integration puts the statement back; the connector, which failed on an AWS access error while
    # its integration checks out again, is restarted without anyone asking (restartPolicy is Never).
    world.start_operator()
    world.wait_event("trusting", "TrustPolicyRepaired", timeout=30)
    restarted = world.wait_event("sink", "ConnectorRestarted", timeout=60)
    assert "AWS access error" in restarted.message
    obj = world.wait_condition(MC, "sink", "Ready", "True", timeout=60)
    assert obj["status"]["state"] == "RUNNING"
    assert RESTART_ANNOTATION not in (obj["metadata"].get("annotations") or {})

    # A restart asked for by annotation still happens, once.
    world.patch(MC, "sink", {"metadata": {"annotations": {RESTART_ANNOTATION: "by-hand"}}})
    obj = world.wait_for(
        MC, "sink", lambda o: o["status"].get("lastRestartRequest") == "by-hand", "the requested restart"
    )
    world.wait_condition(MC, "sink", "Ready", "True", timeout=60)


def test_a_connector_deep_in_its_backoff_restarts_as_soon_as_a_sibling_on_the_same_role_runs(world: World) -> None:
    world.moto.client("s3").create_bucket(Bucket="siblings")
    propagation = world.admin.realism()["iam_propagation_seconds"]
    # AWS does not apply the new trust policy until the test says so (ten hours, scaled: over ten minutes).
    world.admin.set_realism(iam_propagation_seconds=36000)
    try:
        world.start_operator()
        s3_role_integration(world, "siblings", "siblings")
        world.create(MC, "first", s3_sink_spec(world, "siblings", "siblings"))
        # Failed on AssumeRole, restarted at once, after 10 s and after 20 s: its next wait is 40 s.
        obj = world.wait_for(
            MC, "first", lambda o: (o.get("status") or {}).get("restartCount", 0) >= 3, "three restarts", timeout=120
        )
        assert "AWS access error" in world.wait_event("first", "ConnectorRestarted").message
        third = rfc3339(obj["status"]["lastRestartTime"])

        def in_confluent() -> str:
            return next(c["state"] for c in world.admin.state()["connectors"].values() if c["name"] == "first")

        # The third restart has failed too (in Confluent; the operator's reads trail) before AWS catches up.
        wait_until(lambda: in_confluent() == "FAILED", "the third restart to fail", timeout=30)

        world.admin.set_realism(iam_propagation_seconds=0)
        world.create(MC, "second", s3_sink_spec(world, "siblings", "siblings"))
        world.wait_condition(MC, "second", "Ready", "True", timeout=60)
        obj = world.wait_condition(MC, "first", "Ready", "True", timeout=60)
    finally:
        world.admin.set_realism(iam_propagation_seconds=propagation)
    # Restarted because its sibling started fine, not at the end of its own 40 s wait.
    fourth = rfc3339(obj["status"]["lastRestartTime"])
    assert fourth - third < 32, f"restarted {fourth - third:.0f}s after the third restart"
    # Once each: a wake-up for the sibling's start that came while a restart was in flight sent no other.
    wait_until(
        lambda: len([e for e in world.events("first") if e.reason == "ConnectorRestarted"]) >= 4,
        "the fourth restart's Event",
        timeout=10,
    )
    messages = sorted(str(e.message) for e in world.events("first") if e.reason == "ConnectorRestarted")
    assert [m.split("(restart ")[-1] for m in messages] == [f"{n} of at most 8)" for n in range(1, 5)], messages


def test_applied_together_and_deleted_together(world: World) -> None:
    world.moto.client("s3").create_bucket(Bucket="together")
    # Timers far away: the connector must react to its integration becoming Ready, not poll for it.
    world.start_operator(CCLOUD_OPERATOR_RESYNC_INTERVAL="600", CCLOUD_OPERATOR_VALIDATION_INTERVAL="600")
    # The connector first, as `kubectl apply -f dir/` may order them.
    world.create(MC, "sink", s3_sink_spec(world, "together", "together"))
    world.wait_condition(MC, "sink", "Ready", "False", reason="WaitingForProviderIntegration", timeout=30)
    s3_role_integration(world, "together", "together")
    obj = world.wait_condition(MC, "sink", "Ready", "True", timeout=30)
    # Woken inside the operator: no annotation of the operator's on the connector carried the wake-up.
    assert operator_annotations(obj) == []

    world.delete(PI, "together")
    world.delete(MC, "sink")
    world.wait_gone(MC, "sink")
    world.wait_gone(PI, "together")
    state = world.admin.state()
    assert state["connectors"] == {} and state["integrations"] == {}
    roles = [r["RoleName"] for r in world.moto.client("iam").list_roles()["Roles"]]
    assert "together-role" not in roles


def test_another_controllers_finalizer_is_kept_and_ours_goes_only_after_the_cleanup(world: World) -> None:
    world.moto.client("s3").create_bucket(Bucket="shared")
    world.start_operator()
    s3_role_integration(world, "shared", "shared")
    world.create(MC, "sink", s3_sink_spec(world, "shared", "shared"), finalizers=["backup.example.com/keep"])
    obj = world.wait_condition(MC, "sink", "Ready", "True", timeout=90)
    assert obj["metadata"]["finalizers"] == ["backup.example.com/keep", FINALIZER]

    world.delete(MC, "sink")
    obj = world.wait_for(
        MC, "sink", lambda o: FINALIZER not in o["metadata"].get("finalizers", []), "the operator's finalizer to go"
    )
    # The connector went first; the other controller's finalizer is still there, and so is the object.
    assert world.admin.state()["connectors"] == {}
    assert obj["metadata"]["finalizers"] == ["backup.example.com/keep"]
    world.patch(MC, "sink", {"metadata": {"finalizers": None}})
    world.wait_gone(MC, "sink")


def test_a_connector_created_paused_stays_paused_until_asked_to_run(world: World) -> None:
    world.moto.client("s3").create_bucket(Bucket="paused")
    world.start_operator()
    s3_role_integration(world, "paused", "paused")
    world.create(MC, "sink", s3_sink_spec(world, "paused", "paused", state="Paused"))
    obj = world.wait_condition(MC, "sink", "Ready", "True", reason="Paused", timeout=90)
    assert obj["status"]["state"] == "PAUSED"

    world.patch(MC, "sink", {"spec": {"state": "Running"}})
    obj = world.wait_for(MC, "sink", lambda o: (o.get("status") or {}).get("state") == "RUNNING", "RUNNING")
    world.wait_condition(MC, "sink", "Ready", "True", reason="Available")


def test_config_changed_in_confluent_is_put_back(world: World) -> None:
    world.moto.client("s3").create_bucket(Bucket="drift")
    world.start_operator()
    s3_role_integration(world, "drift", "drift")
    world.create(MC, "sink", s3_sink_spec(world, "drift", "drift"))
    world.wait_condition(MC, "sink", "Ready", "True", timeout=90)

    world.admin.patch_connector_config("sink", {"flush.size": "5"})
    event = world.wait_event("sink", "ConfigUpdated", timeout=30)
    assert "flush.size" in event.message
    # Confluent's reads trail its writes (the emulator's read lag): the PUT shows within moments.
    wait_until(
        lambda: (
            httpx.get(connector_api(world, "/sink/config"), auth=world.info.basic_auth).json()["flush.size"] == "1000"
        ),
        "Confluent to show flush.size 1000 again",
        timeout=10,
    )


def test_a_rotated_secret_reaches_the_connector_within_seconds(world: World) -> None:
    world.moto.client("s3").create_bucket(Bucket="rotating")
    world.secret("kafka-key", {"api-key": "KAFKAKEY00000001", "api-secret": "kafka-secret-first-value"})
    # No resync within the test: the Secret's change itself must wake the connector.
    world.start_operator(CCLOUD_OPERATOR_RESYNC_INTERVAL="600")
    s3_role_integration(world, "rotating", "rotating")
    spec = s3_sink_spec(world, "rotating", "rotating", kafkaAuth={"apiKeySecretRef": {"name": "kafka-key"}})
    world.create(MC, "sink", spec)
    first = world.wait_condition(MC, "sink", "Ready", "True", timeout=90)["status"]["appliedConfigHash"]

    world.admin.clear_requests()
    rotated_at = time.monotonic()
    world.secret("kafka-key", {"api-key": "KAFKAKEY00000001", "api-secret": "kafka-secret-second-value"})
    world.wait_for(MC, "sink", lambda o: o["status"].get("appliedConfigHash") != first, "a new config hash", timeout=20)
    took = time.monotonic() - rotated_at
    puts = [r for r in world.admin.requests() if r["method"] == "PUT" and r["path"].endswith("/sink/config")]
    assert len(puts) == 1 and puts[0]["status"] == 200
    assert took < 15, f"rotation took {took:.1f}s"
    obj = world.get(MC, "sink")
    assert obj is not None
    # Woken inside the operator, not through a write to the connector.
    assert operator_annotations(obj) == []


def test_invalid_config_is_reported_per_key_and_nothing_is_created(world: World) -> None:
    world.moto.client("s3").create_bucket(Bucket="invalid")
    world.start_operator()
    s3_role_integration(world, "invalid", "invalid")
    spec = s3_sink_spec(world, "invalid", "invalid")
    spec["config"]["time.interval"] = "EVERY_FULL_MOON"
    del spec["config"]["s3.bucket.name"]
    world.create(MC, "sink", spec)

    obj = world.wait_condition(MC, "sink", "Ready", "False", reason="ConfigInvalid", timeout=90)
    keys = {error["key"] for error in obj["status"]["validation"]["errors"]}
    assert {"time.interval", "s3.bucket.name"} <= keys
    assert obj["status"]["validation"]["errorCount"] >= 2
    assert "time.interval" in condition(obj, "Ready")["message"]
    assert not [r for r in world.admin.requests() if r["method"] == "POST" and r["path"].endswith("/connectors")]
    assert world.admin.state()["connectors"] == {}


def test_dynamodb_cdc_source_on_an_existing_role(world: World) -> None:
    dynamodb = world.moto.client("dynamodb")
    table_arn = dynamodb.create_table(
        TableName="customers",
        KeySchema=[{"AttributeName": "id", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "id", "AttributeType": "S"}],
        BillingMode="PAY_PER_REQUEST",
        StreamSpecification={"StreamEnabled": True, "StreamViewType": "NEW_AND_OLD_IMAGES"},
    )["TableDescription"]["TableArn"]
    dynamodb.put_item(TableName="customers", Item={"id": {"S": "c-1"}})
    iam = world.moto.client("iam")
    # An existing role, already trusted by something else (IAM refuses a trust policy without statements).
    ec2 = {"Effect": "Allow", "Principal": {"Service": "ec2.amazonaws.com"}, "Action": "sts:AssumeRole"}
    role_arn = iam.create_role(
        RoleName="cdc-reader", AssumeRolePolicyDocument=json.dumps({"Version": "2012-10-17", "Statement": [ec2]})
    )["Role"]["Arn"]
    checkpoints = table_arn.replace("table/customers", "table/connect-KCL-*")
    iam.put_role_policy(
        RoleName="cdc-reader",
        PolicyName="read-customers",
        PolicyDocument=json.dumps(
            {
                "Version": "2012-10-17",
                "Statement": [
                    {
                        "Effect": "Allow",
                        "Action": "dynamodb:*",
                        "Resource": [table_arn, f"{table_arn}/stream/*", checkpoints],
                    },
                    {"Effect": "Allow", "Action": "dynamodb:ListStreams", "Resource": "*"},
                ],
            }
        ),
    )
    world.start_operator()
    world.create(
        PI,
        "cdc",
        {
            "environment": world.info.environment_id,
            "aws": {"roleArn": role_arn, "permissions": {"dynamodbTables": ["customers"]}},
        },
    )
    pi = world.wait_condition(PI, "cdc", "Ready", "True")
    assert pi["status"]["validation"]["permissions"]["result"] == "Passed"
    world.create(
        MC,
        "customers-cdc",
        {
            "environment": world.info.environment_id,
            "kafkaCluster": world.info.kafka_cluster_id,
            "connectorClass": "DynamoDbCdcSource",
            "providerIntegrationRef": {"name": "cdc"},
            "kafkaAuth": {"serviceAccountId": world.info.service_account_id},
            "config": {
                "dynamodb.service.endpoint": "dynamodb.us-east-1.amazonaws.com",
                "dynamodb.table.discovery.mode": "INCLUDELIST",
                "dynamodb.table.includelist": "customers",
                "dynamodb.table.sync.mode": "SNAPSHOT_CDC",
                "output.data.format": "AVRO",
                "tasks.max": "1",
            },
        },
    )
    obj = world.wait_condition(MC, "customers-cdc", "Ready", "True", timeout=90)
    assert obj["status"]["state"] == "RUNNING"


def test_an_idle_connector_costs_one_list_per_cluster_and_no_writes(world: World) -> None:
    world.moto.client("s3").create_bucket(Bucket="idle")
    world.start_operator()
    s3_role_integration(world, "idle", "idle")
    names = ["idle-a", "idle-b", "idle-c"]
    for name in names:
        world.create(MC, name, s3_sink_spec(world, "idle", "idle"))
    for name in names:
        world.wait_condition(MC, name, "Ready", "True", timeout=90)
    time.sleep(1)
    versions = {name: world.get(MC, name)["metadata"]["resourceVersion"] for name in names}
    world.admin.clear_requests()
    window = 5 * 2.0  # five resync intervals
    time.sleep(window)
    seen = world.admin.requests()
    assert writes(world) == []
    # Nor does it write to Kubernetes: an unchanged status is not patched.
    assert {name: world.get(MC, name)["metadata"]["resourceVersion"] for name in names} == versions
    connect_reads = [r for r in seen if r["path"].startswith("/connect/")]
    per_connector = [r for r in connect_reads if "/connectors/" in r["path"]]
    assert per_connector == [], per_connector
    # One expanded list per interval serves all three (a little slack for timer phase).
    assert 3 <= len(connect_reads) <= 7, [r["path"] for r in connect_reads]
