"""Credentials and errors across both kinds: the operator-wide key from a Secret (missing, rotated), a
resource's own key rotated, AWS refusals, a Confluent error no retry fixes, Events said once, a spec
only the operator can reject, the integration list's later pages, and the JSON log."""

from __future__ import annotations

import json
import os
import re
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from kubernetes import client

from ccloud_operator.constants import MANAGED_CONNECTORS as MC
from ccloud_operator.constants import PROVIDER_INTEGRATIONS as PI

from harness_support import namespace_name, wait_until
from operator_world import World, condition, s3_role_integration, s3_sink_spec

ACCOUNT = "123456789012"  # moto's account
RFC3339_UTC = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z")


def role_spec(world: World, role: str, **create_role: object) -> dict[str, object]:
    return {"environment": world.info.environment_id, "aws": {"createRole": {"roleName": role, **create_role}}}


def org_admin(world: World) -> tuple[str, str]:
    return ("OrganizationAdmin", f"crn://confluent.cloud/organization={world.admin.state()['organization_id']}")


@pytest.fixture
def other_namespace(k8s_api: client.ApiClient) -> Iterator[str]:
    """A namespace the operator under test does not watch."""
    core = client.CoreV1Api(k8s_api)
    name = namespace_name("operator-keys")
    core.create_namespace(client.V1Namespace(metadata=client.V1ObjectMeta(name=name)))
    try:
        yield name
    finally:
        core.delete_namespace(name)


def test_the_operator_wide_key_from_a_secret_is_used_and_a_rotated_one_taken_without_a_restart(
    world: World, other_namespace: str
) -> None:
    # The Secret is where the operator does not watch (a namespaced operator's own namespace, say): the
    # rotation reaches it through the 401 of the revoked key, which makes it read the Secret again.
    secret = client.V1Secret(
        metadata=client.V1ObjectMeta(name="operator-key"),
        string_data={"api-key": world.info.api_key, "api-secret": world.info.api_secret},
    )
    world.core.create_namespaced_secret(other_namespace, secret)
    world.start_operator(
        CCLOUD_OPERATOR_CLOUD_API_KEY="",
        CCLOUD_OPERATOR_CLOUD_API_SECRET="",
        CCLOUD_OPERATOR_CLOUD_CREDENTIALS_SECRET=f"{other_namespace}/operator-key",
    )
    world.create(PI, "before", role_spec(world, "before-role"))
    world.wait_condition(PI, "before", "Ready", "True")

    rotated = world.admin.create_api_key("rotated", role_bindings=[org_admin(world)])
    world.secrets.add(rotated.api_secret)
    secret.string_data = {"api-key": rotated.api_key, "api-secret": rotated.api_secret}
    world.core.replace_namespaced_secret("operator-key", other_namespace, secret)
    world.admin.revoke_api_key(world.info.api_key)

    world.create(PI, "after", role_spec(world, "after-role"))
    world.wait_condition(PI, "after", "Ready", "True", timeout=60)
    world.wait_metric_increase("ccloud_operator_validations_total", by=2, check="integration", result="Passed")
    assert condition(world.get(PI, "before"), "Ready")["status"] == "True"
    assert world.operator is not None
    log = world.operator.log()
    assert "Using the Confluent Cloud API key in Secret" in log
    assert "(Unauthorized)" not in log, "a call refused for the revoked key was not sent again with the new one"
    assert rotated.api_key not in log  # the key id is not logged either


def test_a_missing_operator_wide_key_secret_stops_the_operator_at_start(kubeconfig: Path, namespace: str) -> None:
    env = {
        **os.environ,
        "KUBECONFIG": str(kubeconfig),
        "CCLOUD_OPERATOR_CLOUD_CREDENTIALS_SECRET": f"{namespace}/absent",
        "CCLOUD_OPERATOR_METRICS_PORT": "0",
        "CCLOUD_OPERATOR_HEALTH_PORT": "0",
    }
    for key in ("CCLOUD_OPERATOR_CLOUD_API_KEY", "CCLOUD_OPERATOR_CLOUD_API_SECRET"):
        env.pop(key, None)
    done = subprocess.run(
        [sys.executable, "-m", "ccloud_operator", "run", "--namespace", namespace],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 2, done.stderr[-2000:]
    assert f"Secret {namespace}/absent with the operator's Confluent Cloud API key was not found" in done.stderr


def test_a_rotated_key_of_an_integration_is_used_at_once(world: World) -> None:
    first = world.admin.create_api_key("first", role_bindings=[org_admin(world)])
    world.secret("integration-key", {"api-key": first.api_key, "api-secret": first.api_secret})
    world.start_operator(CCLOUD_OPERATOR_VALIDATION_INTERVAL="600")  # only the Secret's change can wake it
    spec = {**role_spec(world, "keyed-role"), "cloudCredentialsSecretRef": {"name": "integration-key"}}
    world.create(PI, "keyed", spec)
    integration_id = world.wait_condition(PI, "keyed", "Ready", "True")["status"]["integrationId"]

    second = world.admin.create_api_key("second", role_bindings=[org_admin(world)])
    world.admin.revoke_api_key(first.api_key)
    world.admin.clear_requests()
    world.secret("integration-key", {"api-key": second.api_key, "api-secret": second.api_secret})
    # Woken by the Secret's change, it reads its integration with the new key (the old one is gone).
    read = f"/pim/v1/integrations/{integration_id}"
    wait_until(
        lambda: [r for r in world.admin.requests() if r["path"] == read and r["status"] == 200],
        "a read of the integration with the rotated key",
        timeout=30,
    )
    assert condition(world.get(PI, "keyed"), "Ready")["status"] == "True"


def test_errors_no_retry_fixes_are_named_once_and_aws_refusals_name_the_call(world: World) -> None:
    world.start_operator()
    # Confluent refuses a create with a 400 that no retry will fix: a Warning, with Confluent's words.
    world.admin.inject(400, path="/pim/v1/integrations", methods=["POST"])
    world.create(PI, "rejected", role_spec(world, "rejected-role"))
    rejected = world.wait_condition(PI, "rejected", "Ready", "False", reason="ConfluentError", timeout=60)
    assert "HTTP 400" in condition(rejected, "Ready")["message"]
    world.wait_event("rejected", "ConfluentError")
    # IAM refuses a tag key longer than 128 characters (the CRD cannot say so): a Warning naming it.
    world.create(PI, "mistagged", role_spec(world, "mistagged-role", tags={"k" * 129: "v"}))
    mistagged = world.wait_condition(PI, "mistagged", "Ready", "False", reason="AwsError", timeout=60)
    assert "create_role" in condition(mistagged, "Ready")["message"]
    assert world.wait_event("mistagged", "AwsError").type == "Warning"

    # The operator's own AWS identity may only read IAM: creating the role is refused, and said so.
    iam = world.moto.client("iam")
    iam.create_user(UserName="reader")
    read_only = {
        "Version": "2012-10-17",
        "Statement": [
            {"Effect": "Allow", "Action": ["iam:Get*", "iam:List*", "sts:GetCallerIdentity"], "Resource": "*"}
        ],
    }
    iam.put_user_policy(UserName="reader", PolicyName="read-only", PolicyDocument=json.dumps(read_only))
    keys = iam.create_access_key(UserName="reader")["AccessKey"]
    world.secret(
        "reader-keys", {"aws_access_key_id": keys["AccessKeyId"], "aws_secret_access_key": keys["SecretAccessKey"]}
    )
    world.moto.enforce_policies()
    refused = role_spec(world, "refused-role")
    refused["aws"]["credentialsSecretRef"] = {"name": "reader-keys"}  # type: ignore[index]
    world.create(PI, "refused", refused)
    obj = world.wait_condition(PI, "refused", "Ready", "False", reason="AwsAccessDenied", timeout=60)
    assert "create_role" in condition(obj, "Ready")["message"]
    world.wait_event("refused", "AwsAccessDenied")


def test_a_failure_that_lasts_is_announced_by_one_event(world: World) -> None:
    world.moto.client("s3").create_bucket(Bucket="noisy")
    world.start_operator()
    s3_role_integration(world, "noisy", "noisy")
    spec = s3_sink_spec(world, "noisy", "noisy")
    spec["config"]["time.interval"] = "FORTNIGHTLY"
    world.create(MC, "noisy-sink", spec)
    world.wait_condition(MC, "noisy-sink", "Ready", "False", reason="ConfigInvalid", timeout=60)

    # Each resync (2 s) validates again and fails the same way: three more times, still one Event.
    def validations() -> int:
        return len([r for r in world.admin.requests() if r["path"].endswith("/config/validate")])

    wait_until(lambda: validations() >= 4, "three resyncs", timeout=30)
    every = world.events("noisy-sink")
    events = [e for e in every if e.reason == "ConfigInvalid"]
    assert len(events) == 1 and (events[0].count or 1) == 1, [(e.reason, e.message, e.count) for e in every]


def test_a_spec_the_schema_admits_but_aws_would_refuse_is_an_invalid_spec(world: World) -> None:
    operator = world.start_operator()
    spec = role_spec(world, "wrong-doc-role")
    spec["aws"]["permissions"] = {"policyDocument": "{not json"}  # type: ignore[index]
    world.create(PI, "wrong-doc", spec)
    obj = world.wait_condition(PI, "wrong-doc", "Ready", "False", reason="InvalidSpec", timeout=30)
    assert "policyDocument" in condition(obj, "Ready")["message"]
    event = world.wait_event("wrong-doc", "InvalidSpec")
    assert world.moto.client("iam").list_roles()["Roles"] == []  # nothing written anywhere
    assert world.admin.state()["integrations"] == {}

    # What `kubectl get events` shows: a Warning from the operator's own component and this process's
    # host (a pod's name in a cluster), not "kopf".
    assert event.type == "Warning"
    assert (event.reporting_component, event.source.component) == ("ccloud-operator", "ccloud-operator")
    assert event.reporting_instance == socket.gethostname()
    # The periodic validation meets the invalid spec every 3 s (this operator has no other integration).
    wait_until(
        lambda: world.metric("ccloud_operator_resyncs_total", kind="ProviderIntegration", result="invalid") >= 2,
        "two periodic passes over the invalid spec",
        timeout=30,
    )
    # The same situation met again is not announced again.
    assert [e.reason for e in world.events("wrong-doc")] == ["InvalidSpec"]
    # Timestamps are RFC 3339 in UTC.
    assert all(RFC3339_UTC.match(line) for line in operator.log().splitlines() if line[:1].isdigit())


def test_an_integration_on_a_later_page_of_the_list_is_found(world: World) -> None:
    for index in range(100):
        world.admin.register_integration(f"arn:aws:iam::{ACCOUNT}:role/filler-{index:03}")
    taken = world.admin.register_integration(f"arn:aws:iam::{ACCOUNT}:role/late")
    ec2 = {"Effect": "Allow", "Principal": {"Service": "ec2.amazonaws.com"}, "Action": "sts:AssumeRole"}
    world.moto.client("iam").create_role(
        RoleName="late", AssumeRolePolicyDocument=json.dumps({"Version": "2012-10-17", "Statement": [ec2]})
    )
    world.start_operator()
    world.create(
        PI, "late", {"environment": world.info.environment_id, "aws": {"roleArn": f"arn:aws:iam::{ACCOUNT}:role/late"}}
    )
    obj = world.wait_condition(PI, "late", "Ready", "False", reason="AlreadyExists", timeout=30)
    assert taken["id"] in condition(obj, "Ready")["message"]
    pages = [r for r in world.admin.requests() if r["path"] == "/pim/v1/integrations" and "page_token" in r["query"]]
    assert pages, "the second page was never asked for"


def test_the_json_log_has_one_object_per_line(world: World) -> None:
    world.start_operator(CCLOUD_OPERATOR_LOG_FORMAT="json")
    world.create(PI, "logged", role_spec(world, "logged-role"))
    world.wait_condition(PI, "logged", "Ready", "True")
    assert world.operator is not None
    lines = [line for line in world.operator.log().splitlines() if line.strip()]
    records = [json.loads(line) for line in lines]  # every line is one JSON object
    assert all({"time", "level", "logger", "message"} <= record.keys() for record in records)
    assert all(RFC3339_UTC.fullmatch(record["time"]) for record in records)
    about_it = {"kind": "ProviderIntegration", "namespace": world.namespace, "name": "logged"}
    # kopf's handler machinery: its own per-object lines carry the object's kind, namespace and name.
    kopf_lines = [r for r in records if r["logger"] == "kopf.objects" and "wake-connectors" in r["message"]]
    assert kopf_lines and all(about_it.items() <= r.items() for r in kopf_lines), kopf_lines
    # The reconciler's own lines (kopf-free code) carry them too.
    created = [r for r in records if "Created provider integration" in r["message"]]
    assert created and all(about_it.items() <= r.items() for r in created), created
    # A line about no object names none.
    started = [r for r in records if r["message"].startswith("Operator started")]
    assert started and "name" not in started[0]
