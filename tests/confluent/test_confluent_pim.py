"""Provider Integration v1 as CONTRACT.md sections 1, 2 and 7 describe it, over HTTP."""

from __future__ import annotations

import base64
import urllib.parse
import uuid

import httpx

from ccloud_sandbox.confluent.admin import SandboxAdmin
from ccloud_sandbox.confluent.launcher import EmulatorInfo

from emulator_support import (
    connectors_path,
    create_connector,
    create_integration,
    datagen_config,
    integration_request,
    role_arn,
    unique,
)


def test_every_response_carries_a_request_id(api: httpx.Client, info: EmulatorInfo) -> None:
    ok = api.get("/pim/v1/integrations", params={"environment": info.environment_id})
    failed = api.get("/pim/v1/integrations")
    assert ok.headers["X-Request-Id"] != failed.headers["X-Request-Id"]
    assert uuid.UUID(ok.headers["X-Request-Id"])


def test_bad_key_is_401_with_www_authenticate_and_standard_error(info: EmulatorInfo) -> None:
    response = httpx.get(
        f"{info.url}/pim/v1/integrations",
        params={"environment": info.environment_id},
        auth=(info.api_key, "not-the-secret"),
    )
    assert response.status_code == 401
    assert response.headers["WWW-Authenticate"].startswith('Basic error="invalid_key"')
    [error] = response.json()["errors"]
    assert error["status"] == "401"
    assert error["code"] == "user_unauthenticated"
    assert error["id"] and error["title"] and error["detail"]


def test_missing_credentials_are_401(info: EmulatorInfo) -> None:
    response = httpx.get(f"{info.url}/pim/v1/integrations", params={"environment": info.environment_id})
    assert response.status_code == 401
    assert "WWW-Authenticate" in response.headers


def test_list_without_environment_is_400_naming_the_parameter(api: httpx.Client) -> None:
    response = api.get("/pim/v1/integrations")
    assert response.status_code == 400
    [error] = response.json()["errors"]
    assert error["source"] == {"parameter": "environment"}
    assert error["status"] == "400"


def test_read_without_environment_is_400(api: httpx.Client, info: EmulatorInfo) -> None:
    integration = create_integration(api, info, role_arn(unique("read-no-env")))
    response = api.get(f"/pim/v1/integrations/{integration['id']}")
    assert response.status_code == 400


def test_create_returns_201_location_confluent_role_and_external_id(api: httpx.Client, info: EmulatorInfo) -> None:
    customer_role = role_arn(unique("create"))
    response = api.post("/pim/v1/integrations", json=integration_request(info.environment_id, customer_role))
    assert response.status_code == 201
    body = response.json()
    assert body["api_version"] == "pim/v1" and body["kind"] == "Integration"
    assert body["id"].startswith("cspi-")
    config = body["config"]
    assert config["customer_iam_role_arn"] == customer_role
    assert config["iam_role_arn"].startswith("arn:aws:iam::")
    assert ":123456789012:" not in config["iam_role_arn"], "Confluent's role must live in another account"
    assert uuid.UUID(config["external_id"])
    assert body["usages"] == []
    assert body["environment"]["id"] == info.environment_id
    assert response.headers["Location"].endswith(f"/pim/v1/integrations/{body['id']}?environment={info.environment_id}")
    read = api.get(f"/pim/v1/integrations/{body['id']}", params={"environment": info.environment_id})
    assert read.status_code == 200
    assert read.json() == body


def test_each_integration_gets_its_own_confluent_role_and_external_id(api: httpx.Client, info: EmulatorInfo) -> None:
    first = create_integration(api, info, role_arn(unique("own-a")))
    second = create_integration(api, info, role_arn(unique("own-b")))
    assert first["config"]["iam_role_arn"] != second["config"]["iam_role_arn"]
    assert first["config"]["external_id"] != second["config"]["external_id"]


def test_duplicate_customer_role_in_environment_is_409_with_location(api: httpx.Client, info: EmulatorInfo) -> None:
    customer_role = role_arn(unique("dup"))
    first = create_integration(api, info, customer_role)
    response = api.post("/pim/v1/integrations", json=integration_request(info.environment_id, customer_role))
    assert response.status_code == 409
    assert response.json()["errors"][0]["code"] == "resource_already_exists"
    assert first["id"] in response.headers["Location"]


def test_invalid_role_arn_is_422_with_pointer(api: httpx.Client, info: EmulatorInfo) -> None:
    body = integration_request(info.environment_id, "arn:aws:s3:::not-a-role-at-all")
    response = api.post("/pim/v1/integrations", json=body)
    assert response.status_code == 422
    [error] = response.json()["errors"]
    assert error["code"] == "invalid_configuration"
    assert error["source"] == {"pointer": "/config/customer_iam_role_arn"}


def test_malformed_json_is_400(api: httpx.Client) -> None:
    response = api.post("/pim/v1/integrations", content=b"{not json", headers={"Content-Type": "application/json"})
    assert response.status_code == 400
    assert response.json()["errors"][0]["status"] == "400"


def test_provider_filter_is_case_insensitive(api: httpx.Client, info: EmulatorInfo) -> None:
    lower = api.post(
        "/pim/v1/integrations", json=integration_request(info.environment_id, role_arn(unique("case")), "aws")
    )
    assert lower.status_code == 201
    created_id = lower.json()["id"]
    for provider in ("AWS", "aws", "Aws"):
        response = api.get(
            "/pim/v1/integrations", params={"environment": info.environment_id, "provider": provider, "page_size": 100}
        )
        assert created_id in [i["id"] for i in response.json()["data"]], provider
    other = api.get("/pim/v1/integrations", params={"environment": info.environment_id, "provider": "GCP"})
    assert other.json()["data"] == []


def test_pagination_follows_full_url_next_until_absent(api: httpx.Client, info: EmulatorInfo) -> None:
    created = {create_integration(api, info, role_arn(unique("page")))["id"] for _ in range(7)}
    seen: list[str] = []
    response = api.get("/pim/v1/integrations", params={"environment": info.environment_id, "page_size": 3})
    pages = 0
    while True:
        assert response.status_code == 200
        body = response.json()
        assert body["kind"] == "IntegrationList"
        assert len(body["data"]) <= 3
        seen += [i["id"] for i in body["data"]]
        pages += 1
        next_url = body["metadata"].get("next")
        if not next_url:
            break
        assert next_url.startswith(info.url + "/pim/v1/integrations?"), "next must be a full URL"
        token = urllib.parse.parse_qs(urllib.parse.urlsplit(next_url).query)["page_token"][0]
        # page_size counts only on the first request: the token carries it.
        response = api.get("/pim/v1/integrations", params={"environment": info.environment_id, "page_token": token})
    assert created <= set(seen)
    assert len(seen) == len(set(seen)), "no integration may appear on two pages"
    assert pages == -(-len(seen) // 3)


def test_page_size_above_100_is_rejected(api: httpx.Client, info: EmulatorInfo) -> None:
    response = api.get("/pim/v1/integrations", params={"environment": info.environment_id, "page_size": 101})
    assert response.status_code == 400
    assert response.json()["errors"][0]["source"] == {"parameter": "page_size"}


def test_garbage_page_token_is_400(api: httpx.Client, info: EmulatorInfo) -> None:
    token = base64.urlsafe_b64encode(b"nonsense").decode()
    response = api.get("/pim/v1/integrations", params={"environment": info.environment_id, "page_token": token})
    assert response.status_code == 400


def test_read_of_unknown_integration_is_404(api: httpx.Client, info: EmulatorInfo) -> None:
    response = api.get("/pim/v1/integrations/cspi-nope0", params={"environment": info.environment_id})
    assert response.status_code == 404
    assert response.json()["errors"][0]["status"] == "404"


def test_there_is_no_update_endpoint(api: httpx.Client, info: EmulatorInfo) -> None:
    integration = create_integration(api, info, role_arn(unique("no-update")))
    for method in ("PATCH", "PUT"):
        response = api.request(
            method,
            f"/pim/v1/integrations/{integration['id']}",
            params={"environment": info.environment_id},
            json={"display_name": "renamed"},
        )
        assert response.status_code == 405, method
        assert response.json()["errors"][0]["status"] == "405"


def test_over_quota_is_402_quota_exceeded(api: httpx.Client, info: EmulatorInfo, admin: SandboxAdmin) -> None:
    existing = len(admin.state()["integrations"])
    admin.update_settings(integration_quota=existing + 1)
    try:
        create_integration(api, info, role_arn(unique("last-in-quota")))
        response = api.post(
            "/pim/v1/integrations", json=integration_request(info.environment_id, role_arn(unique("over")))
        )
        assert response.status_code == 402
        assert response.json()["errors"][0]["code"] == "quota_exceeded"
    finally:
        admin.update_settings(integration_quota=100_000)


def test_delete_is_refused_while_a_connector_uses_it(api: httpx.Client, info: EmulatorInfo) -> None:
    integration = create_integration(api, info, role_arn(unique("in-use")))
    name = unique("uses-pi")
    create_connector(api, info, datagen_config(name, **{"provider.integration.id": integration["id"]}))
    path = f"/pim/v1/integrations/{integration['id']}"
    read = api.get(path, params={"environment": info.environment_id}).json()
    expected_crn = (
        f"crn://confluent.cloud/organization={info.organization_id}/environment={info.environment_id}"
        f"/cloud-cluster={info.kafka_cluster_id}/connector={name}"
    )
    assert read["usages"] == [expected_crn]

    refused = api.delete(path, params={"environment": info.environment_id})
    assert refused.status_code == 400  # the refusal the DELETE documents
    assert expected_crn in refused.json()["errors"][0]["detail"]

    assert api.delete(f"{connectors_path(info)}/{name}").status_code == 200
    deleted = api.delete(path, params={"environment": info.environment_id})
    assert deleted.status_code == 204
    assert api.get(path, params={"environment": info.environment_id}).status_code == 404


def test_console_delete_removes_an_integration_even_in_use(
    api: httpx.Client, info: EmulatorInfo, admin: SandboxAdmin
) -> None:
    integration = create_integration(api, info, role_arn(unique("console")))
    create_connector(
        api, info, datagen_config(unique("console-user"), **{"provider.integration.id": integration["id"]})
    )
    admin.delete_integration(integration["id"])
    response = api.get(f"/pim/v1/integrations/{integration['id']}", params={"environment": info.environment_id})
    assert response.status_code == 404
