"""IAM v2 role bindings, the org/cmk reads, and authorization from role bindings (CONTRACT.md section 6)."""

from __future__ import annotations

import httpx

from ccloud_sandbox.confluent.admin import SandboxAdmin
from ccloud_sandbox.confluent.launcher import EmulatorInfo

from emulator_support import (
    connectors_path,
    create_integration,
    datagen_config,
    role_arn,
    unique,
    wait_for_state,
)


def _org_crn(info: EmulatorInfo) -> str:
    return f"crn://confluent.cloud/organization={info.organization_id}"


def _env_crn(info: EmulatorInfo) -> str:
    return f"{_org_crn(info)}/environment={info.environment_id}"


def _cluster_crn(info: EmulatorInfo) -> str:
    return f"{_env_crn(info)}/cloud-cluster={info.kafka_cluster_id}"


def test_seeded_key_is_organization_admin(api: httpx.Client, info: EmulatorInfo) -> None:
    response = api.get(
        "/iam/v2/role-bindings",
        params={"crn_pattern": _org_crn(info), "principal": f"User:{info.service_account_id}"},
    )
    assert response.status_code == 200
    body = response.json()
    assert body["kind"] == "RoleBindingList"
    assert [(b["role_name"], b["crn_pattern"]) for b in body["data"]] == [("OrganizationAdmin", _org_crn(info))]


def test_list_requires_crn_pattern(api: httpx.Client) -> None:
    response = api.get("/iam/v2/role-bindings")
    assert response.status_code == 400
    assert response.json()["errors"][0]["source"] == {"parameter": "crn_pattern"}


def test_role_binding_create_read_conflict_delete(api: httpx.Client, info: EmulatorInfo) -> None:
    request = {"principal": "User:sa-rbtest", "role_name": "CloudClusterAdmin", "crn_pattern": _cluster_crn(info)}
    created = api.post("/iam/v2/role-bindings", json=request)
    assert created.status_code == 201
    binding = created.json()
    assert binding["id"].startswith("rb-") and binding["api_version"] == "iam/v2"
    assert api.get(f"/iam/v2/role-bindings/{binding['id']}").json() == binding
    conflict = api.post("/iam/v2/role-bindings", json=request)
    assert conflict.status_code == 409
    assert binding["id"] in conflict.headers["Location"]
    listed = api.get(
        "/iam/v2/role-bindings", params={"crn_pattern": _env_crn(info), "role_name": "CloudClusterAdmin"}
    ).json()
    assert binding["id"] in [b["id"] for b in listed["data"]]
    deleted = api.delete(f"/iam/v2/role-bindings/{binding['id']}")
    assert deleted.status_code == 200
    assert deleted.json()["id"] == binding["id"]
    assert api.get(f"/iam/v2/role-bindings/{binding['id']}").status_code == 404


def test_invalid_principal_is_rejected(api: httpx.Client, info: EmulatorInfo) -> None:
    response = api.post(
        "/iam/v2/role-bindings",
        json={"principal": "sa-no-prefix", "role_name": "ResourceOwner", "crn_pattern": _env_crn(info)},
    )
    assert response.status_code == 400, "the role-binding spec lists 400, not 422"
    assert response.json()["errors"][0]["source"] == {"pointer": "/principal"}


def test_environment_and_cluster_reads(api: httpx.Client, info: EmulatorInfo) -> None:
    environment = api.get(f"/org/v2/environments/{info.environment_id}").json()
    assert (environment["api_version"], environment["kind"], environment["id"]) == (
        "org/v2",
        "Environment",
        info.environment_id,
    )
    cluster = api.get(f"/cmk/v2/clusters/{info.kafka_cluster_id}", params={"environment": info.environment_id})
    assert cluster.status_code == 200
    body = cluster.json()
    assert body["spec"]["environment"]["id"] == info.environment_id
    assert body["status"]["phase"] == "PROVISIONED"
    assert api.get(f"/cmk/v2/clusters/{info.kafka_cluster_id}").status_code == 400
    assert api.get("/org/v2/environments/env-nope0").status_code == 404


def test_key_without_bindings_is_403_everywhere(info: EmulatorInfo, admin: SandboxAdmin) -> None:
    grant = admin.create_api_key("nobody")
    with httpx.Client(base_url=info.url, auth=grant.basic_auth) as client:
        integrations = client.get("/pim/v1/integrations", params={"environment": info.environment_id})
        assert integrations.status_code == 403
        assert integrations.json()["errors"][0]["code"] == "user_unauthorized"
        connectors = client.get(connectors_path(info))
        assert connectors.status_code == 403
        assert connectors.json()["error"]["code"] == 403


def test_cluster_admin_needs_resource_owner_to_use_an_integration(
    api: httpx.Client, info: EmulatorInfo, admin: SandboxAdmin
) -> None:
    integration = create_integration(api, info, role_arn(unique("rbac")))
    grant = admin.create_api_key("cluster-admin", [("CloudClusterAdmin", _cluster_crn(info))])
    name = unique("rbac-conn")
    config = datagen_config(name, **{"provider.integration.id": integration["id"]})
    with httpx.Client(base_url=info.url, auth=grant.basic_auth) as client:
        plain = unique("rbac-plain")
        assert (
            client.post(connectors_path(info), json={"name": plain, "config": datagen_config(plain)}).status_code == 201
        )

        refused = client.post(connectors_path(info), json={"name": name, "config": config})
        assert refused.status_code == 403
        assert integration["id"] in refused.json()["error"]["message"]
        # Creating integrations needs OrganizationAdmin or EnvironmentAdmin.
        create_pi = client.post(
            "/pim/v1/integrations",
            json={
                "display_name": "x",
                "provider": "AWS",
                "config": {"kind": "AwsIntegrationConfig", "customer_iam_role_arn": role_arn(unique("nope"))},
                "environment": {"id": info.environment_id},
            },
        )
        assert create_pi.status_code == 403

        integration_crn = f"{_env_crn(info)}/provider-integration={integration['id']}"
        bound = api.post(
            "/iam/v2/role-bindings",
            json={"principal": grant.principal, "role_name": "ResourceOwner", "crn_pattern": integration_crn},
        )
        assert bound.status_code == 201
        allowed = client.post(connectors_path(info), json={"name": name, "config": config})
        assert allowed.status_code == 201
        wait_for_state(client, info, name, {"RUNNING"})


def test_older_assigner_role_name_is_accepted(api: httpx.Client, info: EmulatorInfo, admin: SandboxAdmin) -> None:
    integration = create_integration(api, info, role_arn(unique("assigner")))
    integration_crn = f"{_env_crn(info)}/provider-integration={integration['id']}"
    grant = admin.create_api_key(
        "assigner",
        [("CloudClusterAdmin", _cluster_crn(info)), ("ProviderIntegrationAssigner", integration_crn)],
    )
    name = unique("assigner-conn")
    with httpx.Client(base_url=info.url, auth=grant.basic_auth) as client:
        response = client.post(
            connectors_path(info),
            json={"name": name, "config": datagen_config(name, **{"provider.integration.id": integration["id"]})},
        )
        assert response.status_code == 201


def test_environment_admin_manages_integrations(info: EmulatorInfo, admin: SandboxAdmin) -> None:
    grant = admin.create_api_key("env-admin", [("EnvironmentAdmin", _env_crn(info))])
    with httpx.Client(base_url=info.url, auth=grant.basic_auth) as client:
        integration = create_integration(client, info, role_arn(unique("env-admin")))
        deleted = client.delete(
            f"/pim/v1/integrations/{integration['id']}", params={"environment": info.environment_id}
        )
        assert deleted.status_code == 204
