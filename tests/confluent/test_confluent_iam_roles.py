"""Connectors with `authentication.method: IAM Roles`: decided like AWS would, data really moved in moto."""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest
from botocore.exceptions import ClientError

from ccloud_sandbox.aws import MotoServer
from ccloud_sandbox.confluent.launcher import EmulatorInfo, EmulatorProcess
from ccloud_sandbox.confluent.state import CONFLUENT_AWS_ACCOUNT_ID

from emulator_support import (
    connectors_path,
    create_connector,
    create_integration,
    dynamodb_cdc_config,
    dynamodb_cdc_permissions,
    role_arn,
    s3_sink_config,
    s3_sink_permissions,
    trust_policy,
    unique,
    wait_for_state,
)

TERMINAL = {"RUNNING", "FAILED"}


class RoleScenario:
    """An integration, the customer role it names (created in moto) and a bucket."""

    def __init__(self, api: httpx.Client, info: EmulatorInfo, moto: MotoServer) -> None:
        self.api = api
        self.info = info
        self.iam = moto.client("iam")
        self.s3 = moto.client("s3")
        self.role_name = unique("customer-role")
        self.bucket = unique("sink-bucket")
        self.integration = create_integration(api, info, role_arn(self.role_name))
        self.confluent_role = self.integration["config"]["iam_role_arn"]
        self.external_id = self.integration["config"]["external_id"]
        self.s3.create_bucket(Bucket=self.bucket)

    def create_role(self, trust: dict[str, Any], permissions: dict[str, Any] | None) -> None:
        self.iam.create_role(RoleName=self.role_name, AssumeRolePolicyDocument=json.dumps(trust))
        if permissions is not None:
            self.iam.put_role_policy(
                RoleName=self.role_name, PolicyName="connector-access", PolicyDocument=json.dumps(permissions)
            )

    def good_trust(self) -> dict[str, Any]:
        return trust_policy(self.confluent_role, self.external_id)

    def start_s3_sink(self) -> tuple[str, dict[str, Any]]:
        name = unique("s3-sink")
        create_connector(self.api, self.info, s3_sink_config(name, self.bucket, self.integration["id"]))
        return name, wait_for_state(self.api, self.info, name, TERMINAL)

    def object_keys(self) -> list[str]:
        listed = self.s3.list_objects_v2(Bucket=self.bucket)
        return [o["Key"] for o in listed.get("Contents", [])]


@pytest.fixture
def scenario(api: httpx.Client, info: EmulatorInfo, moto: MotoServer) -> RoleScenario:
    return RoleScenario(api, info, moto)


def test_correct_trust_and_permissions_run_and_write_objects(scenario: RoleScenario) -> None:
    scenario.create_role(scenario.good_trust(), s3_sink_permissions(scenario.bucket))
    name, status = scenario.start_s3_sink()
    assert status["connector"]["state"] == "RUNNING", status
    keys = scenario.object_keys()
    assert keys and all(k.startswith("topics/orders/partition=0/orders+0+") and k.endswith(".json") for k in keys)
    first = scenario.s3.get_object(Bucket=scenario.bucket, Key=sorted(keys)[0])["Body"].read().decode()
    records = [json.loads(line) for line in first.splitlines()]
    assert records[0]["topic"] == "orders" and records[0]["connector"] == name


def test_wrong_trust_principal_fails_then_runs_after_fix_and_restart(scenario: RoleScenario) -> None:
    wrong = trust_policy("arn:aws:iam::111122223333:role/someone-else", scenario.external_id)
    scenario.create_role(wrong, s3_sink_permissions(scenario.bucket))
    name, status = scenario.start_s3_sink()
    assert status["connector"]["state"] == "FAILED"
    trace = status["connector"]["trace"]
    assert trace.startswith(f"Unable to assume role {role_arn(scenario.role_name)}")
    assert "Error Code: AccessDenied" in trace and "AWSSecurityTokenService" in trace
    assert [t["state"] for t in status["tasks"]] == ["FAILED"]
    assert scenario.object_keys() == []

    scenario.iam.update_assume_role_policy(
        RoleName=scenario.role_name, PolicyDocument=json.dumps(scenario.good_trust())
    )
    assert scenario.api.post(f"{connectors_path(scenario.info)}/{name}/restart").status_code == 202
    status = wait_for_state(scenario.api, scenario.info, name, TERMINAL)
    assert status["connector"]["state"] == "RUNNING", status
    assert scenario.object_keys()


def test_confluent_account_root_as_principal_is_accepted(scenario: RoleScenario) -> None:
    root = f"arn:aws:iam::{CONFLUENT_AWS_ACCOUNT_ID}:root"
    scenario.create_role(trust_policy([root], scenario.external_id), s3_sink_permissions(scenario.bucket))
    _, status = scenario.start_s3_sink()
    assert status["connector"]["state"] == "RUNNING", status


def test_wrong_external_id_fails(scenario: RoleScenario) -> None:
    wrong = trust_policy(scenario.confluent_role, "00000000-0000-4000-8000-000000000000")
    scenario.create_role(wrong, s3_sink_permissions(scenario.bucket))
    _, status = scenario.start_s3_sink()
    assert status["connector"]["state"] == "FAILED"
    assert "Unable to assume role" in status["connector"]["trace"]


def test_trust_without_external_id_condition_fails(scenario: RoleScenario) -> None:
    scenario.create_role(trust_policy(scenario.confluent_role, None), s3_sink_permissions(scenario.bucket))
    _, status = scenario.start_s3_sink()
    assert status["connector"]["state"] == "FAILED"
    assert "sts:ExternalId" in status["connector"]["trace"]


def test_missing_role_fails_like_access_denied(scenario: RoleScenario) -> None:
    _, status = scenario.start_s3_sink()
    assert status["connector"]["state"] == "FAILED"
    assert "Unable to assume role" in status["connector"]["trace"]


def test_missing_put_object_permission_fails_naming_action_and_resource(scenario: RoleScenario) -> None:
    permissions = s3_sink_permissions(scenario.bucket, object_actions=["s3:GetObject"])
    scenario.create_role(scenario.good_trust(), permissions)
    _, status = scenario.start_s3_sink()
    assert status["connector"]["state"] == "FAILED"
    trace = status["connector"]["trace"]
    assert "s3:PutObject" in trace and f"arn:aws:s3:::{scenario.bucket}/topics/orders/partition=0/" in trace
    assert "Error Code: AccessDenied" in trace
    assert scenario.object_keys() == []


def test_grant_scoped_to_the_topics_prefix_is_enough(scenario: RoleScenario) -> None:
    permissions = s3_sink_permissions(scenario.bucket)
    permissions["Statement"][2]["Resource"] = f"arn:aws:s3:::{scenario.bucket}/topics/*"
    scenario.create_role(scenario.good_trust(), permissions)
    _, status = scenario.start_s3_sink()
    assert status["connector"]["state"] == "RUNNING", status


def test_grant_on_another_prefix_is_not(scenario: RoleScenario) -> None:
    permissions = s3_sink_permissions(scenario.bucket)
    permissions["Statement"][2]["Resource"] = f"arn:aws:s3:::{scenario.bucket}/exports/*"
    scenario.create_role(scenario.good_trust(), permissions)
    _, status = scenario.start_s3_sink()
    assert status["connector"]["state"] == "FAILED"
    assert "because no identity-based policy allows the s3:PutObject action" in status["connector"]["trace"]


def test_explicit_deny_wins_over_allow(scenario: RoleScenario) -> None:
    permissions = s3_sink_permissions(scenario.bucket)
    permissions["Statement"].append(
        {"Effect": "Deny", "Action": "s3:Put*", "Resource": f"arn:aws:s3:::{scenario.bucket}/*"}
    )
    scenario.create_role(scenario.good_trust(), permissions)
    _, status = scenario.start_s3_sink()
    assert status["connector"]["state"] == "FAILED"
    assert "explicit deny" in status["connector"]["trace"]


def test_attached_managed_policy_grants_access(scenario: RoleScenario) -> None:
    scenario.create_role(scenario.good_trust(), None)
    policy = scenario.iam.create_policy(
        PolicyName=unique("managed"), PolicyDocument=json.dumps(s3_sink_permissions(scenario.bucket))
    )
    scenario.iam.attach_role_policy(RoleName=scenario.role_name, PolicyArn=policy["Policy"]["Arn"])
    _, status = scenario.start_s3_sink()
    assert status["connector"]["state"] == "RUNNING", status


def test_config_update_retries_a_failed_connector(scenario: RoleScenario) -> None:
    scenario.create_role(scenario.good_trust(), s3_sink_permissions(scenario.bucket))
    name = unique("retry-by-update")
    wrong_bucket = s3_sink_config(name, "bucket-not-granted", scenario.integration["id"])
    create_connector(scenario.api, scenario.info, wrong_bucket)
    failed = wait_for_state(scenario.api, scenario.info, name, TERMINAL)
    assert failed["connector"]["state"] == "FAILED"
    assert "arn:aws:s3:::bucket-not-granted" in failed["connector"]["trace"]
    fixed = s3_sink_config(name, scenario.bucket, scenario.integration["id"])
    assert scenario.api.put(f"{connectors_path(scenario.info)}/{name}/config", json=fixed).status_code == 200
    status = wait_for_state(scenario.api, scenario.info, name, TERMINAL)
    assert status["connector"]["state"] == "RUNNING", status


def test_dynamodb_cdc_source_reads_the_table(scenario: RoleScenario, moto: MotoServer) -> None:
    table = unique("orders")
    dynamodb = moto.client("dynamodb")
    dynamodb.create_table(
        TableName=table,
        KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
        BillingMode="PAY_PER_REQUEST",
        StreamSpecification={"StreamEnabled": True, "StreamViewType": "NEW_AND_OLD_IMAGES"},
    )
    for i in range(4):
        dynamodb.put_item(TableName=table, Item={"pk": {"S": f"order-{i}"}})
    scenario.create_role(scenario.good_trust(), dynamodb_cdc_permissions(table))
    name = unique("ddb-cdc")
    create_connector(scenario.api, scenario.info, dynamodb_cdc_config(name, table, scenario.integration["id"]))
    status = wait_for_state(scenario.api, scenario.info, name, TERMINAL)
    assert status["connector"]["state"] == "RUNNING", status
    assert status["tasks"][0]["msg"] == f"Snapshot read 4 items from {table}"


def test_dynamodb_without_stream_permissions_fails(scenario: RoleScenario, moto: MotoServer) -> None:
    table = unique("nostream")
    permissions = dynamodb_cdc_permissions(table)
    del permissions["Statement"][1]  # the stream actions
    scenario.create_role(scenario.good_trust(), permissions)
    name = unique("ddb-denied")
    create_connector(scenario.api, scenario.info, dynamodb_cdc_config(name, table, scenario.integration["id"]))
    status = wait_for_state(scenario.api, scenario.info, name, TERMINAL)
    assert status["connector"]["state"] == "FAILED"
    trace = status["connector"]["trace"]
    assert "dynamodb:DescribeStream" in trace and f"table/{table}/stream/" in trace
    assert "AccessDeniedException" in trace


def test_emulator_works_against_moto_enforcing_policies(moto: MotoServer) -> None:
    """With moto's own enforcement on, the emulator's reads and writes go through an admin user's keys."""
    iam = moto.client("iam")
    iam.create_user(UserName="ccloud-emulator")
    admin_policy = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}]}
    iam.put_user_policy(UserName="ccloud-emulator", PolicyName="admin", PolicyDocument=json.dumps(admin_policy))
    keys = iam.create_access_key(UserName="ccloud-emulator")["AccessKey"]
    access_key, secret_key = keys["AccessKeyId"], keys["SecretAccessKey"]
    bucket = unique("enforced-bucket")
    moto.client("s3").create_bucket(Bucket=bucket)

    with EmulatorProcess(
        profile="kind",
        aws_endpoint=moto.endpoint,
        aws_access_key_id=access_key,
        aws_secret_access_key=secret_key,
        provisioning_seconds=0.2,
    ) as emulator:
        info = emulator.info
        with httpx.Client(base_url=info.url, auth=info.basic_auth, timeout=10) as api:
            role_name = unique("enforced-role")
            integration = create_integration(api, info, role_arn(role_name))
            iam.create_role(
                RoleName=role_name,
                AssumeRolePolicyDocument=json.dumps(
                    trust_policy(integration["config"]["iam_role_arn"], integration["config"]["external_id"])
                ),
            )
            iam.put_role_policy(
                RoleName=role_name, PolicyName="s3", PolicyDocument=json.dumps(s3_sink_permissions(bucket))
            )
            moto.enforce_policies()
            with pytest.raises(ClientError):
                moto.client("s3").list_objects_v2(Bucket=bucket)  # moto's default keys are refused now

            name = unique("enforced")
            create_connector(api, info, s3_sink_config(name, bucket, integration["id"]))
            status = wait_for_state(api, info, name, TERMINAL)
            assert status["connector"]["state"] == "RUNNING", status
            listed = moto.client("s3", access_key, secret_key).list_objects_v2(Bucket=bucket)
            assert listed.get("KeyCount", 0) > 0
