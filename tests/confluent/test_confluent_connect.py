"""Connect v1 as CONTRACT.md sections 4 and 5 describe it, over HTTP."""

from __future__ import annotations

import httpx

from ccloud_sandbox.confluent.admin import SandboxAdmin
from ccloud_sandbox.confluent.launcher import EmulatorInfo

from emulator_support import (
    connectors_path,
    create_connector,
    create_integration,
    datagen_config,
    plugins_path,
    role_arn,
    s3_sink_config,
    status_of,
    unique,
    wait_for,
    wait_for_state,
)

MASK = "****************"


def test_create_returns_201_while_still_provisioning(api: httpx.Client, info: EmulatorInfo) -> None:
    name = unique("prov")
    body = create_connector(api, info, datagen_config(name))
    assert body["name"] == name
    assert body["type"] == "source"
    assert body["offsets"] == []
    assert status_of(api, info, name)["connector"]["state"] == "PROVISIONING"
    running = wait_for_state(api, info, name, {"RUNNING"})
    assert running["tasks"] == [{"id": 0, "state": "RUNNING", "worker_id": running["connector"]["worker_id"]}]


def test_config_is_masked_and_carries_server_added_keys(api: httpx.Client, info: EmulatorInfo) -> None:
    name = unique("masked")
    create_connector(
        api, info, datagen_config(name, **{"database.password": "hunter2", "aws.secret.access.key": "AKIA-secret"})
    )
    config = api.get(f"{connectors_path(info)}/{name}/config").json()
    for sensitive in ("kafka.api.key", "kafka.api.secret", "database.password", "aws.secret.access.key"):
        assert config[sensitive] == MASK, sensitive
    assert config["kafka.topic"] == "orders"
    assert config["cloud.environment"] and config["cloud.provider"] == "aws"
    assert config["kafka.region"] and config["kafka.endpoint"].startswith("SASL_SSL://")
    assert config["connector.crn"].endswith(
        f"environment={info.environment_id}/cloud-cluster={info.kafka_cluster_id}/connector={name}"
    )
    assert "hunter2" not in api.get(f"{connectors_path(info)}/{name}").text


def test_put_config_replaces_the_whole_config(api: httpx.Client, info: EmulatorInfo) -> None:
    name = unique("replace")
    create_connector(api, info, datagen_config(name, **{"quickstart": "ORDERS"}))
    wait_for_state(api, info, name, {"RUNNING"})
    replacement = datagen_config(name, **{"max.interval": "500"})
    response = api.put(f"{connectors_path(info)}/{name}/config", json=replacement)
    assert response.status_code == 200
    assert response.json()["name"] == name
    config = api.get(f"{connectors_path(info)}/{name}/config").json()
    assert "quickstart" not in config, "PUT config is a full replacement"
    assert config["max.interval"] == "500"
    wait_for_state(api, info, name, {"RUNNING"})


def test_put_config_creates_a_missing_connector(api: httpx.Client, info: EmulatorInfo) -> None:
    name = unique("put-create")
    response = api.put(f"{connectors_path(info)}/{name}/config", json=datagen_config(name))
    assert response.status_code == 200
    assert name in api.get(connectors_path(info)).json()


def test_config_name_must_match_the_connector_name(api: httpx.Client, info: EmulatorInfo) -> None:
    name = unique("mismatch")
    response = api.post(connectors_path(info), json={"name": name, "config": datagen_config("another-name")})
    assert response.status_code == 400
    assert "doesn't match" in response.json()["error"]["message"]


def test_duplicate_name_is_409(api: httpx.Client, info: EmulatorInfo) -> None:
    name = unique("dup")
    create_connector(api, info, datagen_config(name))
    response = api.post(connectors_path(info), json={"name": name, "config": datagen_config(name)})
    assert response.status_code == 409
    assert response.json() == {"error": {"code": 409, "message": f"Connector {name} already exists"}}


def test_unknown_connector_class_is_400_in_connect_error_shape(api: httpx.Client, info: EmulatorInfo) -> None:
    name = unique("unknown-class")
    config = {**datagen_config(name), "connector.class": "NoSuchConnector"}
    response = api.post(connectors_path(info), json={"name": name, "config": config})
    assert response.status_code == 400
    assert response.json()["error"]["code"] == 400


def test_create_with_invalid_config_is_400_listing_errors(api: httpx.Client, info: EmulatorInfo) -> None:
    name = unique("invalid")
    config = s3_sink_config(name, "bucket", "cspi-absent")
    del config["s3.bucket.name"]
    response = api.post(connectors_path(info), json={"name": name, "config": config})
    assert response.status_code == 400
    message = response.json()["error"]["message"]
    assert "s3.bucket.name" in message and "cspi-absent" in message


def test_unknown_connector_is_404(api: httpx.Client, info: EmulatorInfo) -> None:
    response = api.get(f"{connectors_path(info)}/does-not-exist/status")
    assert response.status_code == 404
    assert response.json()["error"]["code"] == 404


def test_validate_answers_200_with_error_count_when_invalid(api: httpx.Client, info: EmulatorInfo) -> None:
    config = s3_sink_config("v", "my-bucket", "cspi-missing")
    config["time.interval"] = "WEEKLY"
    config["kafka.auth.mode"] = "SERVICE_ACCOUNT"
    response = api.put(f"{plugins_path(info)}/S3_SINK/config/validate", json=config)
    assert response.status_code == 200
    body = response.json()
    assert body["name"] == "S3_SINK"
    errors = {c["value"]["name"]: c["value"]["errors"] for c in body["configs"]}
    assert errors["time.interval"], "WEEKLY is not HOURLY or DAILY"
    assert errors["provider.integration.id"], "the integration does not exist"
    assert errors["kafka.service.account.id"], "SERVICE_ACCOUNT needs kafka.service.account.id"
    assert body["error_count"] == sum(len(e) for e in errors.values()) >= 3
    recommended = {c["value"]["name"]: c["value"]["recommended_values"] for c in body["configs"]}
    assert recommended["authentication.method"] == ["Access Keys", "IAM Roles"]


def test_validate_accepts_a_valid_iam_role_config(api: httpx.Client, info: EmulatorInfo) -> None:
    integration = create_integration(api, info, role_arn(unique("valid")))
    config = s3_sink_config("v", "my-bucket", integration["id"])
    body = api.put(f"{plugins_path(info)}/S3_SINK/config/validate", json=config).json()
    assert body["error_count"] == 0, body
    shown = {c["value"]["name"]: c["value"]["value"] for c in body["configs"]}
    assert shown["kafka.api.secret"] == MASK


def test_validate_dynamodb_cdc_requires_endpoint(api: httpx.Client, info: EmulatorInfo) -> None:
    config = {"connector.class": "DynamoDbCdcSource", "name": "d", "kafka.api.key": "k", "kafka.api.secret": "s"}
    body = api.put(f"{plugins_path(info)}/DynamoDbCdcSource/config/validate", json=config).json()
    errors = {c["value"]["name"]: c["value"]["errors"] for c in body["configs"]}
    assert errors["dynamodb.service.endpoint"]
    assert body["error_count"] > 0


def test_validate_unknown_plugin_is_404(api: httpx.Client, info: EmulatorInfo) -> None:
    response = api.put(f"{plugins_path(info)}/NoSuchPlugin/config/validate", json={"name": "x"})
    assert response.status_code == 404
    assert response.json()["error"]["code"] == 404


def test_plugins_list_classes_and_types(api: httpx.Client, info: EmulatorInfo) -> None:
    plugins = {p["class"]: p for p in api.get(plugins_path(info)).json()}
    assert plugins["S3_SINK"]["type"] == "sink"
    assert plugins["DynamoDbCdcSource"]["type"] == "source"
    assert all(p["version"] for p in plugins.values())


def test_list_names_and_expanded_map(api: httpx.Client, info: EmulatorInfo) -> None:
    name = unique("expand")
    create_connector(api, info, datagen_config(name))
    assert name in api.get(connectors_path(info)).json()
    expanded = api.get(connectors_path(info), params={"expand": "id,info,status"}).json()
    entry = expanded[name]
    assert entry["id"]["id"].startswith("lcc-") and entry["id"]["id_type"] == "ID"
    assert entry["info"]["config"]["kafka.api.secret"] == MASK
    assert entry["status"]["connector"]["state"] in ("PROVISIONING", "RUNNING")
    only_status = api.get(connectors_path(info), params={"expand": "status"}).json()[name]
    assert set(only_status) == {"status"}


def test_tasks_endpoint_lists_task_ids_and_masked_config(api: httpx.Client, info: EmulatorInfo) -> None:
    name = unique("tasks")
    create_connector(api, info, datagen_config(name, **{"tasks.max": "2"}))
    wait_for_state(api, info, name, {"RUNNING"})
    tasks = api.get(f"{connectors_path(info)}/{name}/tasks").json()
    assert [t["id"] for t in tasks] == [{"connector": name, "task": 0}, {"connector": name, "task": 1}]
    assert tasks[0]["config"]["kafka.api.secret"] == MASK


def test_pause_and_resume_are_asynchronous(api: httpx.Client, info: EmulatorInfo) -> None:
    name = unique("pause")
    create_connector(api, info, datagen_config(name))
    wait_for_state(api, info, name, {"RUNNING"})
    response = api.put(f"{connectors_path(info)}/{name}/pause")
    assert response.status_code == 202
    assert status_of(api, info, name)["connector"]["state"] == "RUNNING", "the state changes after the 202"
    paused = wait_for_state(api, info, name, {"PAUSED"})
    assert {t["state"] for t in paused["tasks"]} == {"PAUSED"}
    assert api.put(f"{connectors_path(info)}/{name}/resume").status_code == 202
    assert status_of(api, info, name)["connector"]["state"] == "PAUSED"
    wait_for_state(api, info, name, {"RUNNING"})


def test_delete_returns_error_null_and_the_connector_is_gone(api: httpx.Client, info: EmulatorInfo) -> None:
    name = unique("delete")
    create_connector(api, info, datagen_config(name))
    response = api.delete(f"{connectors_path(info)}/{name}")
    assert response.status_code == 200
    assert response.json() == {"error": None}
    assert name not in api.get(connectors_path(info)).json()
    assert api.get(f"{connectors_path(info)}/{name}").status_code == 404


def test_restart_retries_a_failed_connector(api: httpx.Client, info: EmulatorInfo, admin: SandboxAdmin) -> None:
    name = unique("restart")
    create_connector(api, info, datagen_config(name))
    wait_for_state(api, info, name, {"RUNNING"})
    admin.fail_connector(name, "java.lang.RuntimeException: injected failure")
    failed = status_of(api, info, name)
    assert failed["connector"]["state"] == "FAILED"
    assert failed["connector"]["trace"] == "java.lang.RuntimeException: injected failure"
    assert api.post(f"{connectors_path(info)}/{name}/restart").status_code == 202
    wait_for_state(api, info, name, {"RUNNING"})


def test_a_failed_task_degrades_the_connector(api: httpx.Client, info: EmulatorInfo, admin: SandboxAdmin) -> None:
    name = unique("degraded")
    create_connector(api, info, datagen_config(name, **{"tasks.max": "2"}))
    wait_for_state(api, info, name, {"RUNNING"})
    admin.fail_connector(name, "task blew up", task=1)
    status = status_of(api, info, name)
    assert status["connector"]["state"] == "DEGRADED"
    assert [t["state"] for t in status["tasks"]] == ["RUNNING", "FAILED"]
    assert status["tasks"][1]["msg"] == "task blew up"


def test_masked_secret_written_back_fails_the_connector(api: httpx.Client, info: EmulatorInfo) -> None:
    name = unique("mask-back")
    create_connector(api, info, datagen_config(name))
    wait_for_state(api, info, name, {"RUNNING"})
    read_back = {k: v for k, v in datagen_config(name).items()}
    read_back["kafka.api.secret"] = MASK
    assert api.put(f"{connectors_path(info)}/{name}/config", json=read_back).status_code == 200
    failed = wait_for_state(api, info, name, {"FAILED"})
    assert "Authentication failed" in failed["connector"]["trace"]


def test_out_of_band_config_patch_reprovisions(api: httpx.Client, info: EmulatorInfo, admin: SandboxAdmin) -> None:
    name = unique("oob")
    create_connector(api, info, datagen_config(name, **{"quickstart": "ORDERS"}))
    wait_for_state(api, info, name, {"RUNNING"})
    admin.patch_connector_config(name, {"quickstart": None, "max.interval": "10"})
    config = api.get(f"{connectors_path(info)}/{name}/config").json()
    assert "quickstart" not in config and config["max.interval"] == "10"
    wait_for_state(api, info, name, {"RUNNING"})
    admin.delete_connector(name)
    wait_for(lambda: name not in api.get(connectors_path(info)).json(), f"{name} to disappear")


def test_error_code_shape_can_be_switched_on(api: httpx.Client, info: EmulatorInfo, admin: SandboxAdmin) -> None:
    admin.set_faults(connect_error_shape="error_code")
    try:
        response = api.get(f"{connectors_path(info)}/does-not-exist")
        assert response.status_code == 404
        assert response.json() == {"error_code": 404, "message": "Connector does-not-exist not found"}
    finally:
        admin.clear_faults()


def test_unknown_cluster_is_404(api: httpx.Client, info: EmulatorInfo) -> None:
    response = api.get(f"/connect/v1/environments/{info.environment_id}/clusters/lkc-nope0/connectors")
    assert response.status_code == 404


def test_a_cluster_made_in_the_console_keeps_its_own_connectors(
    api: httpx.Client, info: EmulatorInfo, admin: SandboxAdmin
) -> None:
    cluster = admin.create_cluster("second")
    assert cluster.startswith("lkc-") and cluster != info.kafka_cluster_id
    base = f"/connect/v1/environments/{info.environment_id}/clusters/{cluster}/connectors"
    assert api.get(base).json() == []
    name = unique("other-cluster")
    response = api.post(base, json={"name": name, "config": datagen_config(name)})
    assert response.status_code == 201, response.text
    assert api.get(base).json() == [name]
    assert name not in api.get(connectors_path(info)).json()
    admin.delete_cluster(cluster)
    assert api.get(base).status_code == 404
