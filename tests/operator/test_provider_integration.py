"""ProviderIntegration against the real API server, the Confluent emulator and moto."""

from __future__ import annotations

import json
import time
from typing import Any

from ccloud_operator.constants import (
    CREATE_PENDING_ANNOTATION,
    MANAGED_CONNECTORS,
    PERMISSION_POLICY_NAME,
    TRUST_STATEMENT_SID,
)
from ccloud_operator.constants import (
    PROVIDER_INTEGRATIONS as PI,
)

from operator_world import VALIDATION_SECONDS, World, condition, marker_cleared, trust_policy

ACCOUNT = "123456789012"  # moto's account


def create_role_spec(world: World, role_name: str, **aws: Any) -> dict[str, Any]:
    return {
        "environment": world.info.environment_id,
        "aws": {"createRole": {"roleName": role_name}, "permissions": {"s3Buckets": ["orders-archive"]}, **aws},
    }


def our_statement(document: dict[str, Any]) -> dict[str, Any]:
    found = [s for s in document["Statement"] if s.get("Sid") == TRUST_STATEMENT_SID]
    assert len(found) == 1, document
    return found[0]


def integrations(world: World) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = list(world.admin.state()["integrations"].values())
    return found


def test_create_role_mode_registers_the_role_and_trusts_confluent(world: World) -> None:
    world.start_operator()
    world.create(PI, "s3-writer", create_role_spec(world, "confluent-s3-writer"))

    obj = world.wait_condition(PI, "s3-writer", "Ready", "True")
    status = obj["status"]
    assert status["roleArn"] == f"arn:aws:iam::{ACCOUNT}:role/confluent-s3-writer"
    assert status["integrationId"]
    assert condition(obj, "Synced")["status"] == "True"
    assert status["validation"]["trustPolicy"]["result"] == "Passed"
    assert status["validation"]["permissions"]["result"] == "Passed"
    assert status["observedGeneration"] == obj["metadata"]["generation"]
    assert status["displayName"] == f"{world.namespace}-s3-writer"[:60]

    # The emulator holds exactly one integration, for this role, with the ids the status shows.
    registered = integrations(world)
    assert [i["customer_iam_role_arn"] for i in registered] == [status["roleArn"]]
    assert registered[0]["id"] == status["integrationId"]
    assert registered[0]["external_id"] == status["externalId"]

    # The role in moto trusts Confluent's role with the exact external ID, and carries the permissions.
    statement = our_statement(trust_policy(world.moto, "confluent-s3-writer"))
    assert statement["Principal"]["AWS"] == status["confluentRoleArn"]
    assert statement["Condition"]["StringEquals"]["sts:ExternalId"] == status["externalId"]
    assert json.loads(status["requiredTrustPolicy"]) == statement
    inline = world.moto.client("iam").get_role_policy(RoleName="confluent-s3-writer", PolicyName=PERMISSION_POLICY_NAME)
    resources = json.dumps(inline["PolicyDocument"])
    assert "arn:aws:s3:::orders-archive/*" in resources
    world.wait_event("s3-writer", "IntegrationCreated")
    # The marker goes once a pass has seen the recorded integration listed.
    world.wait_for(PI, "s3-writer", marker_cleared, "the create-pending marker cleared", timeout=20)


def test_an_idle_integration_is_validated_without_writing_anything(world: World) -> None:
    world.start_operator()
    world.create(PI, "idle", create_role_spec(world, "idle-role"))
    world.wait_condition(PI, "idle", "Ready", "True")
    passed = {"name": "ccloud_operator_validations_total", "check": "trustPolicy", "result": "Passed"}
    world.wait_metric_increase(**passed, by=1)  # the first validation after the create settled
    version = world.get(PI, "idle")["metadata"]["resourceVersion"]
    world.admin.clear_requests()
    # Three validations more, counted by the operator's own metric, yet nothing written anywhere.
    world.wait_metric_increase(**passed, by=3, timeout=6 * VALIDATION_SECONDS)
    assert world.get(PI, "idle")["metadata"]["resourceVersion"] == version
    reads = world.admin.requests()
    assert len(reads) >= 3 and all(r["method"] == "GET" for r in reads), reads


def test_existing_role_in_manage_mode_keeps_other_trust_statements(world: World) -> None:
    ec2 = {"Sid": "Ec2", "Effect": "Allow", "Principal": {"Service": "ec2.amazonaws.com"}, "Action": "sts:AssumeRole"}
    iam = world.moto.client("iam")
    role_arn = iam.create_role(
        RoleName="shared-role", AssumeRolePolicyDocument=json.dumps({"Version": "2012-10-17", "Statement": [ec2]})
    )["Role"]["Arn"]
    world.start_operator()
    world.create(PI, "shared", {"environment": world.info.environment_id, "aws": {"roleArn": role_arn}})

    obj = world.wait_condition(PI, "shared", "Ready", "True")
    document = trust_policy(world.moto, "shared-role")
    assert ec2 in document["Statement"]
    assert our_statement(document)["Condition"]["StringEquals"]["sts:ExternalId"] == obj["status"]["externalId"]
    assert obj["status"]["roleManaged"] is False


def test_report_mode_writes_nothing_and_publishes_the_statement(world: World) -> None:
    original = {
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Principal": {"Service": "ec2.amazonaws.com"}, "Action": "sts:AssumeRole"}],
    }
    iam = world.moto.client("iam")
    role_arn = iam.create_role(RoleName="reported", AssumeRolePolicyDocument=json.dumps(original))["Role"]["Arn"]
    world.start_operator()
    spec = {"environment": world.info.environment_id, "aws": {"roleArn": role_arn, "trustPolicy": "Report"}}
    world.create(PI, "reported", spec)

    obj = world.wait_condition(PI, "reported", "Ready", "False", reason="TrustPolicyPending")
    assert trust_policy(world.moto, "reported") == original  # nothing written to AWS
    required = json.loads(obj["status"]["requiredTrustPolicy"])
    assert required["Principal"]["AWS"] == obj["status"]["confluentRoleArn"]

    # The user adds the published statement; the next validation sees it.
    iam.update_assume_role_policy(
        RoleName="reported",
        PolicyDocument=json.dumps({"Version": "2012-10-17", "Statement": [*original["Statement"], required]}),
    )
    world.wait_condition(PI, "reported", "Ready", "True", timeout=30)


def test_a_trust_policy_broken_in_aws_is_detected_and_repaired(world: World) -> None:
    world.start_operator()
    world.create(PI, "guarded", create_role_spec(world, "guarded-role"))
    obj = world.wait_condition(PI, "guarded", "Ready", "True")
    external_id = obj["status"]["externalId"]

    # Someone replaces the external ID in the console.
    broken = trust_policy(world.moto, "guarded-role")
    our_statement(broken)["Condition"]["StringEquals"]["sts:ExternalId"] = "someone-elses-id"
    world.moto.client("iam").update_assume_role_policy(RoleName="guarded-role", PolicyDocument=json.dumps(broken))

    event = world.wait_event("guarded", "TrustPolicyRepaired", timeout=30)
    assert "another external ID" in event.message
    repaired = our_statement(trust_policy(world.moto, "guarded-role"))
    assert repaired["Condition"]["StringEquals"]["sts:ExternalId"] == external_id
    world.wait_condition(PI, "guarded", "Ready", "True", timeout=30)


def test_an_integration_deleted_outside_is_registered_again(world: World) -> None:
    world.start_operator()
    world.create(PI, "recreated", create_role_spec(world, "recreated-role"))
    first = world.wait_condition(PI, "recreated", "Ready", "True")["status"]
    world.admin.delete_integration(first["integrationId"])

    obj = world.wait_for(
        PI,
        "recreated",
        lambda o: o["status"].get("integrationId") not in (None, first["integrationId"]),
        "a new integration id",
        timeout=30,
    )
    world.wait_event("recreated", "IntegrationMissing")
    second = world.wait_condition(PI, "recreated", "Ready", "True")["status"]
    assert second["integrationId"] == obj["status"]["integrationId"]
    # The trust policy follows the new external ID.
    statement = our_statement(trust_policy(world.moto, "recreated-role"))
    assert statement["Condition"]["StringEquals"]["sts:ExternalId"] == second["externalId"]
    assert len(integrations(world)) == 1


def test_delete_waits_for_connectors_then_removes_integration_before_role(world: World) -> None:
    world.start_operator()
    world.create(PI, "in-use", create_role_spec(world, "in-use-role"))
    status = world.wait_condition(PI, "in-use", "Ready", "True")["status"]
    # A connector object that references it (Orphan, so its own deletion touches nothing).
    world.create(
        MANAGED_CONNECTORS,
        "sink",
        {
            "environment": world.info.environment_id,
            "kafkaCluster": world.info.kafka_cluster_id,
            "connectorClass": "S3_SINK",
            "providerIntegrationRef": {"name": "in-use"},
            "deletionPolicy": "Orphan",
            "state": "Paused",
        },
    )
    world.admin.clear_requests()
    world.delete(PI, "in-use")
    event = world.wait_event("in-use", "DeletionBlocked", timeout=30)
    assert "sink" in event.message
    # Another finalizer pass (each blocked one counts as a retry), and still nothing deleted.
    world.wait_metric_increase("ccloud_operator_reconciles_total", by=1, kind="ProviderIntegration", result="retry")
    assert world.get(PI, "in-use") is not None
    assert [i["id"] for i in integrations(world)] == [status["integrationId"]]

    world.delete(MANAGED_CONNECTORS, "sink")
    world.wait_gone(PI, "in-use")
    assert integrations(world) == []
    roles = [r["RoleName"] for r in world.moto.client("iam").list_roles()["Roles"]]
    assert "in-use-role" not in roles
    deletes = [r for r in world.admin.requests() if r["method"] == "DELETE" and "/pim/v1/integrations/" in r["path"]]
    assert len(deletes) == 1 and deletes[0]["status"] == 204


def test_orphan_leaves_the_integration_and_the_role(world: World) -> None:
    world.start_operator()
    world.create(PI, "kept", {**create_role_spec(world, "kept-role"), "deletionPolicy": "Orphan"})
    status = world.wait_condition(PI, "kept", "Ready", "True")["status"]
    world.delete(PI, "kept")
    world.wait_gone(PI, "kept")
    assert [i["id"] for i in integrations(world)] == [status["integrationId"]]
    assert world.moto.client("iam").get_role(RoleName="kept-role")["Role"]["Arn"] == status["roleArn"]


def test_a_crash_between_create_and_status_write_makes_no_duplicate(world: World) -> None:
    # Confluent makes the integration at once but answers 5 s later; the operator dies meanwhile,
    # so the response is lost: the one case where a create-then-record operator duplicates.
    world.admin.set_faults(rules=[{"path": "/pim/v1/integrations", "methods": ["POST"], "response_delay_ms": 5000}])
    operator = world.start_operator()
    world.create(PI, "crashy", create_role_spec(world, "crashy-role"))
    world.wait_for(
        PI,
        "crashy",
        lambda o: CREATE_PENDING_ANNOTATION in o["metadata"].get("annotations", {}),
        "the create-pending marker",
        timeout=30,
    )
    deadline = time.monotonic() + 10
    while not integrations(world) and time.monotonic() < deadline:
        time.sleep(0.1)
    operator.kill()
    world.admin.clear_faults()
    assert len(integrations(world)) == 1  # Confluent has it; the operator never heard back
    assert (world.get(PI, "crashy") or {}).get("status", {}).get("integrationId") is None  # never recorded

    world.start_operator()
    obj = world.wait_condition(PI, "crashy", "Ready", "True")
    # Adopted from the list: no create after the restart. (The lost one, held 5 s, may or may not be
    # logged, depending on whether the emulator finished it after its client died; faults are off
    # now, so any later create would be quick.)
    creates = [r for r in world.admin.requests() if r["method"] == "POST" and r["path"] == "/pim/v1/integrations"]
    assert [r for r in creates if r["duration_ms"] is not None and r["duration_ms"] < 5000] == []
    assert [i["id"] for i in integrations(world)] == [obj["status"]["integrationId"]]
    world.wait_for(PI, "crashy", marker_cleared, "the create-pending marker cleared", timeout=20)
    registered = integrations(world)
    assert len(registered) == 1
    assert registered[0]["id"] == obj["status"]["integrationId"]


def test_quota_exceeded_is_reported_with_how_to_raise_it(world: World) -> None:
    # The organization's quota (100 by default) is lowered to two, so the third integration is over it.
    world.admin.update_settings(integration_quota=2)
    world.start_operator()
    for name in ("first", "second"):
        world.create(PI, name, create_role_spec(world, f"{name}-role"))
        world.wait_condition(PI, name, "Ready", "True")
    world.create(PI, "over-quota", create_role_spec(world, "over-quota-role"))
    obj = world.wait_condition(PI, "over-quota", "Ready", "False", reason="QuotaExceeded")
    message = condition(obj, "Ready")["message"]
    assert "100 per organization" in message and "Confluent Support" in message
    assert "provider_integrations_per_org" in message  # Confluent's own words, from its 402
    creates = [r for r in world.admin.requests() if r["method"] == "POST" and r["path"] == "/pim/v1/integrations"]
    assert [r["status"] for r in creates] == [201, 201, 402]
    assert len(integrations(world)) == 2
    # Support raised the quota: the next retry (or any change to the object, as here) registers it.
    world.admin.update_settings(integration_quota=100)
    world.patch(PI, "over-quota", {"metadata": {"annotations": {"example.com/nudge": "quota-raised"}}})
    world.wait_condition(PI, "over-quota", "Ready", "True")
    assert len(integrations(world)) == 3


def test_bad_or_missing_credentials_are_reported(world: World) -> None:
    world.start_operator()
    spec = create_role_spec(world, "unused-role")
    world.create(PI, "no-secret", {**spec, "cloudCredentialsSecretRef": {"name": "absent"}})
    obj = world.wait_condition(PI, "no-secret", "Ready", "False", reason="CredentialsNotFound")
    assert "absent" in condition(obj, "Ready")["message"]

    world.secret("wrong-key", {"api-key": world.info.api_key, "api-secret": "definitely-not-the-secret"})
    world.create(PI, "wrong-key", {**spec, "cloudCredentialsSecretRef": {"name": "wrong-key"}})
    world.wait_condition(PI, "wrong-key", "Ready", "False", reason="Unauthorized")
    assert integrations(world) == []
