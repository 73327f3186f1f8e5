"""ProviderIntegration paths each tested once: the created role's settings and their repair, the errors a
person must fix, the create paths (5xx, grace, a taken role), and deletion by role lookup."""

from __future__ import annotations

import json
from typing import Any

import httpx

from ccloud_operator.constants import CREATE_PENDING_ANNOTATION, OWNER_TAG, PERMISSION_POLICY_NAME, TRUST_STATEMENT_SID
from ccloud_operator.constants import PROVIDER_INTEGRATIONS as PI

from harness_support import wait_until
from operator_world import TIME_SCALE, World, condition, marker_cleared, trust_policy

ACCOUNT = "123456789012"  # moto's account
EC2_TRUST = {
    "Version": "2012-10-17",
    "Statement": [{"Effect": "Allow", "Principal": {"Service": "ec2.amazonaws.com"}, "Action": "sts:AssumeRole"}],
}


def posts(world: World) -> list[dict[str, Any]]:
    return [r for r in world.admin.requests() if r["method"] == "POST" and r["path"] == "/pim/v1/integrations"]


def test_a_created_role_gets_its_path_boundary_duration_tags_and_policies_and_keeps_them(world: World) -> None:
    iam = world.moto.client("iam")
    boundary = iam.create_policy(
        PolicyName="confluent-boundary",
        PolicyDocument=json.dumps(
            {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "s3:*", "Resource": "*"}]}
        ),
    )["Policy"]["Arn"]
    extra = {
        "Version": "2012-10-17",
        "Statement": [{"Sid": "Extra", "Effect": "Allow", "Action": "sqs:ListQueues", "Resource": "*"}],
    }
    world.start_operator()
    world.create(
        PI,
        "detailed",
        {
            "environment": world.info.environment_id,
            "aws": {
                "createRole": {
                    "roleName": "detailed-role",
                    "path": "/confluent/",
                    "permissionsBoundary": boundary,
                    "maxSessionDurationSeconds": 7200,
                    "tags": {"team": "data-platform"},
                },
                "permissions": {"s3Buckets": ["detailed"], "policyDocument": json.dumps(extra)},
            },
        },
    )
    status = world.wait_condition(PI, "detailed", "Ready", "True")["status"]
    assert status["roleArn"] == f"arn:aws:iam::{ACCOUNT}:role/confluent/detailed-role"
    role = iam.get_role(RoleName="detailed-role")["Role"]
    tags = {t["Key"]: t["Value"] for t in role["Tags"]}
    assert role["Path"] == "/confluent/" and role["MaxSessionDuration"] == 7200
    assert role["PermissionsBoundary"]["PermissionsBoundaryArn"] == boundary
    assert tags["team"] == "data-platform" and tags[OWNER_TAG] == f"{world.namespace}/detailed"
    inline = iam.get_role_policy(RoleName="detailed-role", PolicyName=PERMISSION_POLICY_NAME)["PolicyDocument"]
    assert {"Sid": "Extra", "Effect": "Allow", "Action": "sqs:ListQueues", "Resource": "*"} in inline["Statement"]

    # Someone changes all four in the console: the next validation puts them back.
    iam.update_role(RoleName="detailed-role", MaxSessionDuration=3600)
    iam.delete_role_permissions_boundary(RoleName="detailed-role")
    iam.untag_role(RoleName="detailed-role", TagKeys=["team"])
    iam.delete_role_policy(RoleName="detailed-role", PolicyName=PERMISSION_POLICY_NAME)

    def repaired() -> bool:
        role = iam.get_role(RoleName="detailed-role")["Role"]
        names = iam.list_role_policies(RoleName="detailed-role")["PolicyNames"]
        return (
            role["MaxSessionDuration"] == 7200
            and role.get("PermissionsBoundary", {}).get("PermissionsBoundaryArn") == boundary
            and {"Key": "team", "Value": "data-platform"} in role.get("Tags", [])
            and PERMISSION_POLICY_NAME in names
        )

    wait_until(repaired, "the role's settings put back", timeout=30)

    # Without permissions, the policy that granted the old ones goes.
    world.patch(PI, "detailed", {"spec": {"aws": {"permissions": None}}})
    wait_until(
        lambda: PERMISSION_POLICY_NAME not in iam.list_role_policies(RoleName="detailed-role")["PolicyNames"],
        "the permission policy removed",
        timeout=30,
    )
    world.wait_event("detailed", "PermissionsRemoved")


def test_what_only_a_person_can_fix_is_named_and_nothing_is_taken_over(world: World) -> None:
    iam = world.moto.client("iam")
    # A role of the wanted name that the operator did not create.
    iam.create_role(RoleName="taken-role", AssumeRolePolicyDocument=json.dumps(EC2_TRUST))
    # An existing role whose trust policy denies every AssumeRole.
    deny_all = {"Sid": "NoOne", "Effect": "Deny", "Principal": {"AWS": "*"}, "Action": "sts:AssumeRole"}
    denying = iam.create_role(
        RoleName="denying",
        AssumeRolePolicyDocument=json.dumps(
            {"Version": "2012-10-17", "Statement": [EC2_TRUST["Statement"][0], deny_all]}
        ),
    )["Role"]["Arn"]
    # An existing role without the permissions its preset needs.
    bare = iam.create_role(RoleName="bare", AssumeRolePolicyDocument=json.dumps(EC2_TRUST))["Role"]["Arn"]
    world.start_operator()
    env = world.info.environment_id
    world.create(PI, "conflict", {"environment": env, "aws": {"createRole": {"roleName": "taken-role"}}})
    world.create(PI, "missing", {"environment": env, "aws": {"roleArn": f"arn:aws:iam::{ACCOUNT}:role/absent"}})
    world.create(PI, "denied", {"environment": env, "aws": {"roleArn": denying}})
    world.create(
        PI,
        "unpermitted",
        {"environment": env, "aws": {"roleArn": bare, "permissions": {"s3Buckets": ["unpermitted-bucket"]}}},
    )

    conflict = condition(world.wait_condition(PI, "conflict", "Ready", "False", reason="RoleConflict"), "Ready")
    assert "taken-role" in conflict["message"] and "not owned" in conflict["message"]
    missing = condition(world.wait_condition(PI, "missing", "Ready", "False", reason="RoleNotFound"), "Ready")
    assert "absent" in missing["message"]
    denied = condition(world.wait_condition(PI, "denied", "Ready", "False", reason="TrustPolicyInvalid"), "Ready")
    assert "NoOne" in denied["message"]
    unpermitted = world.wait_condition(PI, "unpermitted", "Ready", "False", reason="PermissionsMissing")
    assert "s3:ListBucket on arn:aws:s3:::unpermitted-bucket" in condition(unpermitted, "Ready")["message"]
    assert unpermitted["status"]["validation"]["permissions"]["result"] == "Failed"
    # The role the operator does not own was not touched, and stays when its object goes.
    assert iam.get_role(RoleName="taken-role")["Role"]["AssumeRolePolicyDocument"] == EC2_TRUST
    assert iam.list_role_policies(RoleName="taken-role")["PolicyNames"] == []
    world.delete(PI, "conflict")
    world.wait_gone(PI, "conflict")
    assert iam.get_role(RoleName="taken-role")["Role"]["RoleName"] == "taken-role"
    # Deleting the existing role's object takes out only its own statement.
    world.delete(PI, "denied")
    world.wait_gone(PI, "denied")
    assert [s.get("Sid") for s in trust_policy(world.moto, "denying")["Statement"]] == [None, "NoOne"]


def test_a_create_that_met_a_5xx_keeps_its_marker_for_the_grace_then_creates_once_more(world: World) -> None:
    # The 500 comes before Confluent did anything; the operator cannot know that, so it keeps its marker
    # and waits at least the grace (5 s here) in case the integration shows up, then creates again.
    world.admin.inject(500, path="/pim/v1/integrations", methods=["POST"])
    world.start_operator()
    world.create(
        PI, "retried", {"environment": world.info.environment_id, "aws": {"createRole": {"roleName": "retried-role"}}}
    )
    waiting = world.wait_condition(PI, "retried", "Ready", "False", reason="ConfluentUnavailable", timeout=30)
    assert CREATE_PENDING_ANNOTATION in waiting["metadata"]["annotations"]
    world.wait_condition(PI, "retried", "Ready", "True", timeout=60)
    assert [r["status"] for r in posts(world)] == [500, 201]
    first, second = posts(world)
    assert second["arrived"] >= first["time"]
    world.wait_for(PI, "retried", marker_cleared, "the marker cleared", timeout=20)
    assert len(world.admin.state()["integrations"]) == 1


def test_a_role_registered_meanwhile_meets_a_409_and_is_reported_not_adopted(world: World) -> None:
    # Confluent's list trails its writes by 3 s: a role registered by someone else a moment before is
    # not listed yet, so the operator's create meets the 409 of the taken role.
    world.admin.set_realism(read_lag_seconds=3 / TIME_SCALE)
    world.start_operator()
    arn = f"arn:aws:iam::{ACCOUNT}:role/contested"
    iam = world.moto.client("iam")
    iam.create_role(RoleName="contested", AssumeRolePolicyDocument=json.dumps(EC2_TRUST))
    body = {
        "display_name": "terraform",
        "provider": "aws",
        "config": {"kind": "AwsIntegrationConfig", "customer_iam_role_arn": arn},
        "environment": {"id": world.info.environment_id},
    }
    made = httpx.post(f"{world.info.url}/pim/v1/integrations", json=body, auth=world.info.basic_auth).json()
    world.create(PI, "contested", {"environment": world.info.environment_id, "aws": {"roleArn": arn}})
    obj = world.wait_condition(PI, "contested", "Ready", "False", reason="AlreadyExists", timeout=30)
    assert made["id"] in condition(obj, "Ready")["message"]
    operator_posts = [r for r in posts(world) if r["status"] != 201]
    assert [r["status"] for r in operator_posts] == [409]
    assert "integrationId" not in obj["status"]
    assert [s.get("Sid") for s in trust_policy(world.moto, "contested")["Statement"]] == [None]  # untouched
    assert not [s for s in trust_policy(world.moto, "contested")["Statement"] if s.get("Sid") == TRUST_STATEMENT_SID]


def test_deleting_before_the_id_was_recorded_finds_the_integration_by_its_role(world: World) -> None:
    # The create's answer is lost (the operator is killed while Confluent holds it), and the object is
    # deleted before any operator recorded the id: the finalizer finds the integration by its role.
    world.admin.set_faults(rules=[{"path": "/pim/v1/integrations", "methods": ["POST"], "response_delay_ms": 8000}])
    operator = world.start_operator()
    world.create(
        PI,
        "unrecorded",
        {"environment": world.info.environment_id, "aws": {"createRole": {"roleName": "unrecorded-role"}}},
    )
    wait_until(lambda: world.admin.state()["integrations"], "Confluent to store the integration", timeout=30)
    operator.kill()
    world.admin.clear_faults()
    assert "integrationId" not in (world.get(PI, "unrecorded") or {}).get("status", {})
    world.delete(PI, "unrecorded")
    world.start_operator()
    world.wait_gone(PI, "unrecorded", timeout=60)
    assert world.admin.state()["integrations"] == {}
    deletes = [r for r in world.admin.requests() if r["method"] == "DELETE" and "/pim/v1/integrations/" in r["path"]]
    assert [r["status"] for r in deletes] == [204]


def test_a_recorded_integration_that_names_another_role_is_never_used(world: World) -> None:
    world.start_operator()
    world.create(
        PI, "mine", {"environment": world.info.environment_id, "aws": {"createRole": {"roleName": "mine-role"}}}
    )
    first = world.wait_condition(PI, "mine", "Ready", "True")["status"]["integrationId"]
    # A restore from backup puts another object's integration id into the status, and this object's own
    # integration is gone meanwhile.
    other = world.admin.register_integration(f"arn:aws:iam::{ACCOUNT}:role/someone-elses")
    world.admin.delete_integration(first)
    world.custom.patch_namespaced_custom_object_status(
        "ccloud.operator.dev", "v1alpha1", world.namespace, PI, "mine", {"status": {"integrationId": other["id"]}}
    )
    event = world.wait_event("mine", "IntegrationMismatch")
    assert other["id"] in event.message and "someone-elses" in event.message
    renewed = world.wait_for(
        PI, "mine", lambda o: o["status"].get("integrationId") not in (first, other["id"]), "its own integration again"
    )
    world.wait_condition(PI, "mine", "Ready", "True")
    registered = world.admin.state()["integrations"]
    assert registered[renewed["status"]["integrationId"]]["customer_iam_role_arn"].endswith(":role/mine-role")
    assert other["id"] in registered  # the other one untouched
