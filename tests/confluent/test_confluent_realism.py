"""The realistic profile, knob by knob: each harsh behaviour of the real service, and its knob's effect.

One realistic emulator for the module at a fiftieth of real time (provisioning 120 s -> 2.4 s, read lag
5 s -> 0.1 s, delete linger 30 s -> 0.6 s, IAM propagation 60 s -> 1.2 s); tests change single knobs
through `/_sandbox/realism` and put them back. The sources behind each knob are in
`ccloud_sandbox/confluent/realism.py`.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from ccloud_sandbox.aws import MotoServer
from ccloud_sandbox.confluent.admin import SandboxAdmin
from ccloud_sandbox.confluent.launcher import EmulatorInfo, EmulatorProcess

from emulator_support import (
    connectors_path,
    create_connector,
    create_integration,
    datagen_config,
    dynamodb_cdc_config,
    dynamodb_cdc_permissions,
    role_arn,
    s3_sink_config,
    s3_sink_permissions,
    status_of,
    trust_policy,
    unique,
    wait_for,
)

TIME_SCALE = 0.02
TERMINAL = {"RUNNING", "FAILED"}


@pytest.fixture(scope="module")
def realistic(moto_server: MotoServer) -> Iterator[EmulatorProcess]:
    with EmulatorProcess(aws_endpoint=moto_server.endpoint, time_scale=TIME_SCALE, realism={"seed": 7}) as process:
        yield process


@pytest.fixture
def info(realistic: EmulatorProcess) -> EmulatorInfo:
    return realistic.info


@pytest.fixture
def api(info: EmulatorInfo) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=info.url, auth=info.basic_auth, timeout=10.0) as client:
        yield client


@pytest.fixture
def admin(realistic: EmulatorProcess) -> Iterator[SandboxAdmin]:
    with realistic.admin() as client:
        defaults = client.realism()
        yield client
        client.set_realism(**{k: v for k, v in defaults.items() if k != "profile"})


def listed(api: httpx.Client, info: EmulatorInfo) -> dict[str, Any]:
    response = api.get(connectors_path(info), params={"expand": "id,info,status"})
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def visible(api: httpx.Client, info: EmulatorInfo, name: str) -> dict[str, Any] | None:
    entry: dict[str, Any] | None = listed(api, info).get(name)
    return entry


def test_the_realistic_profile_is_the_default_and_scaled(admin: SandboxAdmin) -> None:
    knobs = admin.realism()
    assert knobs["profile"] == "realistic"
    assert knobs["missing_resource_status"] == 403
    assert knobs["provisioning_seconds"] == 120.0 and knobs["time_scale"] == TIME_SCALE
    assert admin.state()["provisioning_seconds"] == pytest.approx(120.0 * TIME_SCALE)


def test_missing_resources_answer_403_and_a_bad_key_still_401(
    api: httpx.Client, info: EmulatorInfo, admin: SandboxAdmin
) -> None:
    env = {"environment": info.environment_id}
    assert api.get("/pim/v1/integrations/cspi-gone0", params=env).status_code == 403
    assert api.delete("/pim/v1/integrations/cspi-gone0", params=env).status_code == 403
    assert api.get(f"{connectors_path(info)}/no-such-connector/status").status_code == 403
    no_cluster = connectors_path(info).replace(info.kafka_cluster_id, "lkc-gone00")
    refused = api.get(no_cluster)
    assert refused.status_code == 403 and refused.json()["error"]["code"] == 403
    # Only the credentials themselves give 401.
    assert httpx.get(f"{info.url}/pim/v1/integrations", params=env, auth=(info.api_key, "wrong")).status_code == 401
    admin.set_realism(missing_resource_status=404)
    assert api.get("/pim/v1/integrations/cspi-gone0", params=env).status_code == 404


def test_reads_trail_writes_by_the_read_lag(api: httpx.Client, info: EmulatorInfo, admin: SandboxAdmin) -> None:
    admin.set_realism(read_lag_seconds=50)  # 1 s at this time scale
    name = unique("lagging")
    created_at = time.monotonic()
    create_connector(api, info, datagen_config(name))
    assert visible(api, info, name) is None, "a new connector is not listed at once"
    assert api.get(f"{connectors_path(info)}/{name}").status_code == 403
    wait_for(lambda: visible(api, info, name), f"{name} listed", timeout=10)
    assert time.monotonic() - created_at >= 0.9
    integration = create_integration(api, info, role_arn(unique("lagging")))
    env = {"environment": info.environment_id}
    assert api.get(f"/pim/v1/integrations/{integration['id']}", params=env).status_code == 403
    ids = [i["id"] for i in api.get("/pim/v1/integrations", params={**env, "page_size": 100}).json()["data"]]
    assert integration["id"] not in ids
    wait_for(
        lambda: api.get(f"/pim/v1/integrations/{integration['id']}", params=env).status_code == 200,
        "the integration readable",
        timeout=10,
    )
    # An update shows late too: the list keeps the old config for the lag.
    config = {**datagen_config(name), "tasks.max": "3"}
    assert api.put(f"{connectors_path(info)}/{name}/config", json=config).status_code == 200
    assert visible(api, info, name)["info"]["config"].get("tasks.max") != "3"  # type: ignore[index]
    wait_for(
        lambda: (visible(api, info, name) or {}).get("info", {}).get("config", {}).get("tasks.max") == "3",
        "the new config listed",
        timeout=10,
    )


def test_a_deleted_connector_lingers_as_deleted_keeps_its_name_and_its_usage(
    api: httpx.Client, info: EmulatorInfo, admin: SandboxAdmin
) -> None:
    admin.set_realism(read_lag_seconds=0, delete_linger_seconds=60)  # 1.2 s at this time scale
    integration = create_integration(api, info, role_arn(unique("linger")))
    name = unique("linger")
    config = {**datagen_config(name), "provider.integration.id": integration["id"]}
    create_connector(api, info, config)
    assert api.delete(f"{connectors_path(info)}/{name}").json() == {"error": None}
    entry = visible(api, info, name)
    assert entry is not None and entry["status"]["connector"]["state"] == "DELETED"
    env = {"environment": info.environment_id}
    read = api.get(f"/pim/v1/integrations/{integration['id']}", params=env).json()
    assert any(usage.endswith(f"/connector={name}") for usage in read["usages"])
    refused = api.delete(f"/pim/v1/integrations/{integration['id']}", params=env)
    assert refused.status_code == 400, refused.text
    duplicate = api.post(connectors_path(info), json={"name": name, "config": config})
    assert duplicate.status_code in (400, 409) and "already exists" in duplicate.text
    assert api.delete(f"{connectors_path(info)}/{name}").status_code == 403  # already being deleted
    wait_for(lambda: visible(api, info, name) is None, f"{name} gone", timeout=10)
    assert api.delete(f"/pim/v1/integrations/{integration['id']}", params=env).status_code == 204


def test_only_running_connectors_pause_and_only_paused_ones_resume(
    api: httpx.Client, info: EmulatorInfo, admin: SandboxAdmin
) -> None:
    admin.set_realism(read_lag_seconds=0)
    name = unique("pausing")
    create_connector(api, info, datagen_config(name))
    assert status_of(api, info, name)["connector"]["state"] == "PROVISIONING"
    assert api.put(f"{connectors_path(info)}/{name}/pause").status_code == 202  # accepted, does nothing
    status = _decided(api, info, name)
    assert status["connector"]["state"] == "RUNNING", "a pause sent while provisioning was not remembered"
    assert api.put(f"{connectors_path(info)}/{name}/pause").status_code == 202
    assert status_of(api, info, name)["connector"]["state"] == "RUNNING", "pausing takes time"
    wait_for(lambda: status_of(api, info, name)["connector"]["state"] == "PAUSED", "PAUSED", timeout=10)
    admin.fail_connector(name, "java.lang.RuntimeException: boom")
    assert api.put(f"{connectors_path(info)}/{name}/resume").status_code == 202
    time.sleep(1.0)  # longer than pause/resume take at this time scale: the resume must have done nothing
    assert status_of(api, info, name)["connector"]["state"] == "FAILED"


def test_duplicate_connector_names_get_400_or_409_by_the_seed(api: httpx.Client, info: EmulatorInfo) -> None:
    name = unique("duplicate")
    create_connector(api, info, datagen_config(name))
    statuses = [
        api.post(connectors_path(info), json={"name": name, "config": datagen_config(name)}).status_code
        for _ in range(12)
    ]
    assert set(statuses) == {400, 409}, statuses


def test_the_provider_filter_is_an_exact_match(api: httpx.Client, info: EmulatorInfo, admin: SandboxAdmin) -> None:
    arn = role_arn(unique("terraform"))
    registered = admin.register_integration(arn)  # as Terraform and the CLI do: provider "aws"
    assert registered["provider"] == "aws"
    env = {"environment": info.environment_id, "page_size": 100}
    upper = [i["id"] for i in api.get("/pim/v1/integrations", params={**env, "provider": "AWS"}).json()["data"]]
    lower = [i["id"] for i in api.get("/pim/v1/integrations", params={**env, "provider": "aws"}).json()["data"]]
    unfiltered = [i["id"] for i in api.get("/pim/v1/integrations", params=env).json()["data"]]
    assert registered["id"] not in upper
    assert registered["id"] in lower and registered["id"] in unfiltered


def _integration_with_role(
    api: httpx.Client, info: EmulatorInfo, moto: MotoServer, permissions: dict[str, Any]
) -> dict[str, Any]:
    """An integration and its customer role, trusting it, with `permissions` (the Terraform order)."""
    name = unique("role")
    integration = create_integration(api, info, role_arn(name))
    iam = moto.client("iam")
    trust = trust_policy(integration["config"]["iam_role_arn"], integration["config"]["external_id"])
    iam.create_role(RoleName=name, AssumeRolePolicyDocument=json.dumps(trust))
    iam.put_role_policy(RoleName=name, PolicyName="connector", PolicyDocument=json.dumps(permissions))
    return integration


def _decided(api: httpx.Client, info: EmulatorInfo, name: str) -> dict[str, Any]:
    def observe() -> dict[str, Any] | None:
        status = status_of(api, info, name)
        return status if status["connector"]["state"] in TERMINAL else None

    return wait_for(observe, f"{name} RUNNING or FAILED", timeout=20)


def test_a_new_role_is_not_assumable_until_iam_has_propagated(
    api: httpx.Client, info: EmulatorInfo, admin: SandboxAdmin, moto: MotoServer
) -> None:
    admin.set_realism(read_lag_seconds=0, iam_propagation_seconds=300, provisioning_seconds=10)  # 6 s, 0.2 s
    bucket = unique("propagating")
    moto.client("s3").create_bucket(Bucket=bucket)
    name = unique("propagating")
    integration = create_integration(api, info, role_arn(name))
    made = time.monotonic()
    moto.client("iam").create_role(
        RoleName=name,
        AssumeRolePolicyDocument=json.dumps(
            trust_policy(integration["config"]["iam_role_arn"], integration["config"]["external_id"])
        ),
    )
    moto.client("iam").put_role_policy(
        RoleName=name, PolicyName="s3", PolicyDocument=json.dumps(s3_sink_permissions(bucket))
    )
    create_connector(api, info, s3_sink_config(name, bucket, integration["id"]))
    early = _decided(api, info, name)
    assert early["connector"]["state"] == "FAILED", "the role was used before IAM had propagated it"
    assert "sts:AssumeRole" in early["connector"]["trace"]
    assert time.monotonic() - made < 6
    wait_for(lambda: time.monotonic() - made > 6.5, "propagation", timeout=10)
    assert api.post(f"{connectors_path(info)}/{name}/restart").status_code == 202
    late = _decided(api, info, name)
    assert late["connector"]["state"] == "RUNNING", late


def test_dynamodb_cdc_needs_the_checkpoint_table_and_list_streams(
    api: httpx.Client, info: EmulatorInfo, admin: SandboxAdmin, moto: MotoServer
) -> None:
    admin.set_realism(read_lag_seconds=0, iam_propagation_seconds=0, provisioning_seconds=10)
    table = unique("cdc")
    moto.client("dynamodb").create_table(
        TableName=table,
        KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
        BillingMode="PAY_PER_REQUEST",
        StreamSpecification={"StreamEnabled": True, "StreamViewType": "NEW_AND_OLD_IMAGES"},
    )
    for dropped, action in ((2, "dynamodb:ListStreams"), (3, "dynamodb:CreateTable")):
        permissions = dynamodb_cdc_permissions(table)
        del permissions["Statement"][dropped]
        integration = _integration_with_role(api, info, moto, permissions)
        name = unique("cdc-denied")
        create_connector(api, info, dynamodb_cdc_config(name, table, integration["id"]))
        status = _decided(api, info, name)
        assert status["connector"]["state"] == "FAILED" and action in status["connector"]["trace"], status
    snapshot_only = dynamodb_cdc_permissions(table)
    del snapshot_only["Statement"][1:]
    integration = _integration_with_role(api, info, moto, snapshot_only)
    name = unique("cdc-snapshot")
    create_connector(api, info, dynamodb_cdc_config(name, table, integration["id"], sync_mode="SNAPSHOT"))
    status = _decided(api, info, name)
    assert status["connector"]["state"] == "RUNNING", "a snapshot alone needs no stream or checkpoint table"
    everything = _integration_with_role(api, info, moto, dynamodb_cdc_permissions(table))
    name = unique("cdc")
    create_connector(api, info, dynamodb_cdc_config(name, table, everything["id"]))
    assert _decided(api, info, name)["connector"]["state"] == "RUNNING"


def test_dynamodb_cdc_offers_only_schema_registry_formats(api: httpx.Client, info: EmulatorInfo) -> None:
    config = dynamodb_cdc_config(unique("cdc-json"), "t", "cspi-none0")
    config["output.data.format"] = "JSON"
    result = api.put(
        f"{connectors_path(info).rsplit('/', 1)[0]}/connector-plugins/DynamoDbCdcSource/config/validate", json=config
    )
    errors = {c["value"]["name"]: c["value"]["errors"] for c in result.json()["configs"] if c["value"]["errors"]}
    assert "output.data.format" in errors, errors
    formats = next(
        c["value"]["recommended_values"] for c in result.json()["configs"] if c["value"]["name"] == "output.data.format"
    )
    assert formats == ["AVRO", "JSON_SR", "PROTOBUF"]


def test_moto_answers_iam_lists_a_page_at_a_time_and_refuses_empty_trust(moto: MotoServer) -> None:
    iam = moto.client("iam")
    name = unique("paged")
    ec2 = {"Effect": "Allow", "Principal": {"Service": "ec2.amazonaws.com"}, "Action": "sts:AssumeRole"}
    iam.create_role(RoleName=name, AssumeRolePolicyDocument=json.dumps({"Version": "2012-10-17", "Statement": [ec2]}))
    document = json.dumps(
        {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "s3:*", "Resource": "*"}]}
    )
    for index in range(3):
        iam.put_role_policy(RoleName=name, PolicyName=f"p{index}", PolicyDocument=document)
    first = iam.list_role_policies(RoleName=name)
    assert first["IsTruncated"] and len(first["PolicyNames"]) == 1
    every = [n for page in iam.get_paginator("list_role_policies").paginate(RoleName=name) for n in page["PolicyNames"]]
    assert every == ["p0", "p1", "p2"]
    with pytest.raises(iam.exceptions.MalformedPolicyDocumentException):
        iam.create_role(
            RoleName=unique("empty"), AssumeRolePolicyDocument=json.dumps({"Version": "2012-10-17", "Statement": []})
        )
