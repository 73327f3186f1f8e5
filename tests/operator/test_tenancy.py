"""Shared clusters: ownership across namespaces, adoption on request, pausing, the platform owner's
guardrails, and what tenants get through Kubernetes' built-in roles (docs/security.md)."""

from __future__ import annotations

import json
import subprocess
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
import yaml
from kubernetes import client
from kubernetes.client.exceptions import ApiException

from ccloud_operator.constants import GROUP, PAUSED_ANNOTATION, TRUST_STATEMENT_SID, VERSION
from ccloud_operator.constants import MANAGED_CONNECTORS as MC
from ccloud_operator.constants import PROVIDER_INTEGRATIONS as PI
from ccloud_sandbox.controlplane.build import KUBERNETES_VERSION, toolchain
from ccloud_sandbox.controlplane.cli import repo_root
from ccloud_sandbox.controlplane.cluster import ControlPlane

from harness_support import api_client, namespace_name, wait_until
from operator_world import World, condition, s3_role_integration, s3_sink_spec, trust_policy

ACCOUNT = "123456789012"  # moto's account
CHART = repo_root() / "helm" / "ccloud-operator"


def render_tenant_roles() -> list[dict[str, Any]]:
    """The chart's tenant ClusterRoles, as `helm template` renders them with default values."""
    done = subprocess.run(
        [
            str(toolchain().binary("helm")),
            "template",
            "tenants",
            str(CHART),
            "--kube-version",
            KUBERNETES_VERSION.removeprefix("v"),
            "--show-only",
            "templates/tenant-rbac.yaml",
        ],
        capture_output=True,
        text=True,
        check=True,
        timeout=120,
    )
    return [document for document in yaml.safe_load_all(done.stdout) if document]


@pytest.fixture
def second_namespace(k8s_api: client.ApiClient) -> Iterator[str]:
    core = client.CoreV1Api(k8s_api)
    name = namespace_name("tenant-b")
    core.create_namespace(client.V1Namespace(metadata=client.V1ObjectMeta(name=name)))
    try:
        yield name
    finally:
        core.delete_namespace(name)


def emulator_connector_config(world: World, name: str) -> dict[str, str]:
    response = httpx.get(
        f"{world.info.url}/connect/v1/environments/{world.info.environment_id}/clusters/"
        f"{world.info.kafka_cluster_id}/connectors/{name}/config",
        auth=world.info.basic_auth,
    )
    response.raise_for_status()
    config: dict[str, str] = response.json()
    return config


def test_two_namespaces_racing_for_one_connector_name_leave_the_loser_out(world: World, second_namespace: str) -> None:
    world.moto.client("s3").create_bucket(Bucket="contested")
    world.start_operator(args=["--namespace", world.namespace, "--namespace", second_namespace])
    s3_role_integration(world, "contested", "contested")
    world.wait_condition(PI, "contested", "Ready", "True")
    # The other tenant's integration, in its own namespace (a ManagedConnector names one beside it).
    other = client.CustomObjectsApi(world.api)
    pi = {
        "apiVersion": f"{GROUP}/{VERSION}",
        "kind": "ProviderIntegration",
        "metadata": {"name": "theirs"},
        "spec": {
            "environment": world.info.environment_id,
            # The same bucket, so whichever connector wins can run (the emulator fails one whose role may not write).
            "aws": {"createRole": {"roleName": "theirs-role"}, "permissions": {"s3Buckets": ["contested"]}},
        },
    }
    other.create_namespaced_custom_object(GROUP, VERSION, second_namespace, PI, pi)
    wait_until(
        lambda: condition(other.get_namespaced_custom_object(GROUP, VERSION, second_namespace, PI, "theirs"), "Ready"),
        "theirs",
    )

    # Both apply a connector named "shared", one right after the other.
    world.create(MC, "first", s3_sink_spec(world, "contested", "contested", connectorName="shared"))
    late = s3_sink_spec(world, "theirs", "contested", connectorName="shared")
    late["config"]["flush.size"] = "2222"
    body = {
        "apiVersion": f"{GROUP}/{VERSION}",
        "kind": "ManagedConnector",
        "metadata": {"name": "second"},
        "spec": late,
    }
    other.create_namespaced_custom_object(GROUP, VERSION, second_namespace, MC, body)

    # Either may win (the one that claimed it first, or got it first); the other names the winner.
    def settled() -> tuple[str, str] | None:
        first = condition(world.get(MC, "first") or {}, "Ready") or {}
        second = (
            condition(other.get_namespaced_custom_object(GROUP, VERSION, second_namespace, MC, "second"), "Ready") or {}
        )
        if first.get("status") == "True" and second.get("reason") == "NameConflict":
            return "first", str(second["message"])
        if second.get("status") == "True" and first.get("reason") == "NameConflict":
            return "second", str(first["message"])
        return None

    winner, conflict = wait_until(settled, "one connector Ready and the other in NameConflict", timeout=90)
    winner_ns, loser_ns, loser = (
        (world.namespace, second_namespace, "second")
        if winner == "first"
        else (second_namespace, world.namespace, "first")
    )
    assert f"{winner_ns}/{winner}" in conflict
    creates = [r for r in world.admin.requests() if r["method"] == "POST" and r["path"].endswith("/connectors")]
    assert [r["status"] for r in creates if r["status"] == 201] == [201]
    winners_flush_size = "1000" if winner == "first" else "2222"
    assert emulator_connector_config(world, "shared")["flush.size"] == winners_flush_size  # never the loser's

    other_api = client.CustomObjectsApi(world.api)
    other_api.delete_namespaced_custom_object(GROUP, VERSION, loser_ns, MC, loser)
    wait_until(
        lambda: not [i for i in other_api.list_namespaced_custom_object(GROUP, VERSION, loser_ns, MC)["items"]],
        "the loser gone",
    )
    assert [c["name"] for c in world.admin.state()["connectors"].values()] == ["shared"]
    assert not [r for r in world.admin.requests() if r["method"] == "DELETE" and r["path"].endswith("/shared")]
    assert emulator_connector_config(world, "shared")["flush.size"] == winners_flush_size
    for namespace, name in ((world.namespace, "first"), (second_namespace, "second")):
        if name != loser:
            other_api.delete_namespaced_custom_object(GROUP, VERSION, namespace, MC, name)
    other.delete_namespaced_custom_object(GROUP, VERSION, second_namespace, PI, "theirs")
    wait_until(
        lambda: not other.list_namespaced_custom_object(GROUP, VERSION, second_namespace, PI)["items"], "theirs gone"
    )


def test_a_console_made_connector_is_left_alone_until_the_object_opts_in_to_adopt_it(world: World) -> None:
    world.moto.client("s3").create_bucket(Bucket="console")
    world.start_operator()
    s3_role_integration(world, "console", "console")
    integration_id = world.wait_condition(PI, "console", "Ready", "True")["status"]["integrationId"]
    config = {
        **s3_sink_spec(world, "console", "console")["config"],
        "flush.size": "7",
        "name": "console-sink",
        "connector.class": "S3_SINK",
        "kafka.auth.mode": "SERVICE_ACCOUNT",
        "kafka.service.account.id": world.info.service_account_id,
        "authentication.method": "IAM Roles",
        "provider.integration.id": integration_id,
    }
    base = (
        f"{world.info.url}/connect/v1/environments/{world.info.environment_id}/clusters/{world.info.kafka_cluster_id}"
    )
    httpx.post(
        f"{base}/connectors", json={"name": "console-sink", "config": config}, auth=world.info.basic_auth
    ).raise_for_status()
    wait_until(lambda: httpx.get(f"{base}/connectors/console-sink", auth=world.info.basic_auth).is_success, "it listed")

    world.create(MC, "console-sink", s3_sink_spec(world, "console", "console"))
    obj = world.wait_condition(MC, "console-sink", "Ready", "False", reason="AlreadyExists", timeout=60)
    assert "adoptExisting" in condition(obj, "Ready")["message"]
    assert emulator_connector_config(world, "console-sink")["flush.size"] == "7"
    assert not [r for r in world.admin.requests() if r["method"] == "PUT" and "/console-sink/" in r["path"]]

    world.patch(MC, "console-sink", {"spec": {"adoptExisting": True}})
    adopted = world.wait_condition(MC, "console-sink", "Ready", "True", timeout=90)
    assert adopted["status"]["connectorName"] == "console-sink"
    world.wait_for(
        MC,
        "console-sink",
        lambda o: emulator_connector_config(world, "console-sink")["flush.size"] == "1000",
        "the spec's config",
    )
    world.wait_event("console-sink", "ConnectorAdopted")
    world.delete(MC, "console-sink")  # it is this object's now: deleted with it
    world.wait_gone(MC, "console-sink", timeout=60)
    wait_until(lambda: world.admin.state()["connectors"] == {}, "the adopted connector deleted", timeout=30)


def test_a_paused_object_makes_no_external_call_and_converges_once_unpaused(world: World) -> None:
    world.moto.client("s3").create_bucket(Bucket="frozen")
    world.start_operator()
    s3_role_integration(world, "frozen", "frozen")
    world.secret("frozen-kafka", {"api-key": "KAFKAKEY00000007", "api-secret": "frozen-kafka-secret-first"})
    spec = s3_sink_spec(world, "frozen", "frozen", kafkaAuth={"apiKeySecretRef": {"name": "frozen-kafka"}})
    world.create(MC, "frozen-sink", spec)
    world.wait_condition(MC, "frozen-sink", "Ready", "True", timeout=90)
    for plural, name in ((PI, "frozen"), (MC, "frozen-sink")):
        world.patch(plural, name, {"metadata": {"annotations": {PAUSED_ANNOTATION: "true"}}})
        world.wait_condition(plural, name, "Synced", "False", reason="ReconcilePaused", timeout=30)
    world.admin.clear_requests()
    calls = world.metric("ccloud_operator_external_calls_total")

    # Meanwhile: the spec changes, its Secret rotates, Confluent changes (a console hotfix), and the trust
    # policy breaks.
    world.patch(MC, "frozen-sink", {"spec": {"config": {"flush.size": "4321"}}})
    world.secret("frozen-kafka", {"api-key": "KAFKAKEY00000007", "api-secret": "frozen-kafka-secret-second"})
    world.admin.patch_connector_config("frozen-sink", {"time.interval": "DAILY"})
    broken = trust_policy(world.moto, "frozen-role")
    for statement in broken["Statement"]:
        if statement.get("Sid") == TRUST_STATEMENT_SID:
            statement["Condition"]["StringEquals"]["sts:ExternalId"] = "somebody-elses"
    world.moto.client("iam").update_assume_role_policy(RoleName="frozen-role", PolicyDocument=json.dumps(broken))
    # Three resyncs and three validations later (the resync loop keeps running, and finds the objects paused):
    world.wait_metric_increase("ccloud_operator_resyncs_total", 3, timeout=30, kind="ProviderIntegration")
    world.wait_metric_increase("ccloud_operator_resyncs_total", 3, timeout=30, kind="ManagedConnector")
    assert world.metric("ccloud_operator_external_calls_total") == calls
    assert [r for r in world.admin.requests()] == []
    assert emulator_connector_config(world, "frozen-sink")["time.interval"] == "DAILY"  # the hotfix stays

    for plural, name in ((PI, "frozen"), (MC, "frozen-sink")):
        world.patch(plural, name, {"metadata": {"annotations": {PAUSED_ANNOTATION: None}}})
    world.wait_event("frozen", "TrustPolicyRepaired", timeout=30)
    world.wait_for(
        MC,
        "frozen-sink",
        lambda o: emulator_connector_config(world, "frozen-sink").get("flush.size") == "4321",
        "converged",
    )
    assert emulator_connector_config(world, "frozen-sink")["time.interval"] == "HOURLY"
    world.wait_condition(MC, "frozen-sink", "Synced", "True", timeout=30)


def test_a_paused_object_keeps_its_finalizer_until_it_is_unpaused(world: World) -> None:
    world.moto.client("s3").create_bucket(Bucket="held")
    world.start_operator()
    s3_role_integration(world, "held", "held")
    world.create(MC, "held-sink", s3_sink_spec(world, "held", "held"))
    world.wait_condition(MC, "held-sink", "Ready", "True", timeout=90)
    world.patch(MC, "held-sink", {"metadata": {"annotations": {PAUSED_ANNOTATION: "true"}}})
    world.wait_condition(MC, "held-sink", "Synced", "False", reason="ReconcilePaused", timeout=30)
    world.admin.clear_requests()
    world.delete(MC, "held-sink")
    world.wait_for(MC, "held-sink", lambda o: "deletionTimestamp" in o["metadata"], "marked for deletion")
    wait_until(lambda: world.operator is not None and "deletion waits" in world.operator.log(), "a deletion pass")
    assert world.get(MC, "held-sink") is not None
    # Its integration is not paused: its validation goes on reading /pim/v1. Nothing else may be called.
    calls = [r for r in world.admin.requests() if not r["path"].startswith("/pim/")]
    assert calls == [] and [c["name"] for c in world.admin.state()["connectors"].values()] == ["held-sink"]
    world.patch(MC, "held-sink", {"metadata": {"annotations": {PAUSED_ANNOTATION: None}}})
    world.wait_gone(MC, "held-sink", timeout=60)
    wait_until(lambda: world.admin.state()["connectors"] == {}, "the connector deleted", timeout=30)


def test_each_guardrail_refuses_its_violation_with_no_write_anywhere(world: World) -> None:
    iam = world.moto.client("iam")
    boundary = iam.create_policy(
        PolicyName="tenant-boundary",
        PolicyDocument=json.dumps(
            {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "s3:*", "Resource": "*"}]}
        ),
    )["Policy"]["Arn"]
    tenant_key = world.admin.create_api_key(
        "tenant",
        role_bindings=[
            ("OrganizationAdmin", f"crn://confluent.cloud/organization={world.admin.state()['organization_id']}")
        ],
    )
    world.secret("tenant-key", {"api-key": tenant_key.api_key, "api-secret": tenant_key.api_secret})
    world.secret("tenant-aws", {"aws_access_key_id": "tenant-access-key", "aws_secret_access_key": "tenant-secret-key"})
    env = world.info.environment_id
    world.start_operator(
        CCLOUD_OPERATOR_ROLE_PERMISSIONS_BOUNDARY=boundary,
        CCLOUD_OPERATOR_ROLE_NAME_PREFIX="tenant-",
        CCLOUD_OPERATOR_ROLE_PATH="/tenants/",
        CCLOUD_OPERATOR_ALLOW_POLICY_DOCUMENT="false",
        CCLOUD_OPERATOR_DEFAULT_CLOUD_CREDENTIALS_NAMESPACES="platform-*",
        CCLOUD_OPERATOR_DEFAULT_AWS_IDENTITY_NAMESPACES="platform-*",
        CCLOUD_OPERATOR_ENVIRONMENTS=json.dumps({world.namespace[:6] + "*": [env]}),
    )

    def pi(**changes: Any) -> dict[str, Any]:
        spec: dict[str, Any] = {
            "environment": env,
            "cloudCredentialsSecretRef": {"name": "tenant-key"},
            "aws": {
                "createRole": {"roleName": "tenant-good", "path": "/tenants/"},
                "credentialsSecretRef": {"name": "tenant-aws"},
            },
        }
        for path, value in changes.items():
            node = spec
            keys = path.split(".")
            for key in keys[:-1]:
                node = node[key]
            if value is None:
                del node[keys[-1]]
            else:
                node[keys[-1]] = value
        return spec

    violations = {
        "prefix": (pi(**{"aws.createRole.roleName": "other-role"}), "role-name-prefix"),
        "boundary": (
            pi(**{"aws.createRole.permissionsBoundary": f"arn:aws:iam::{ACCOUNT}:policy/looser"}),
            "role-permissions-boundary",
        ),
        "path": (pi(**{"aws.createRole.path": "/elsewhere/"}), "role-path"),
        "document": (
            pi(
                **{
                    "aws.permissions": {
                        "policyDocument": json.dumps(
                            {"Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}]}
                        )
                    }
                }
            ),
            "policy-document",
        ),
        "their-key": (pi(cloudCredentialsSecretRef=None), "default-cloud-credentials"),
        "their-aws": (pi(**{"aws.credentialsSecretRef": None}), "default-aws-identity"),
        "elsewhere": (pi(environment="env-forbidden1"), "environments"),
    }
    for name, (spec, _) in violations.items():
        world.create(PI, name, spec)
    world.create(
        MC,
        "keyless",
        {"environment": env, "kafkaCluster": world.info.kafka_cluster_id, "connectorClass": "S3_SINK", "config": {}},
    )
    world.create(PI, "good", pi())
    for name, (_, rule) in [*violations.items(), ("keyless", ({}, "default-cloud-credentials"))]:
        plural = MC if name == "keyless" else PI
        obj = world.wait_condition(plural, name, "Ready", "False", reason="PolicyViolation", timeout=30)
        assert f"guardrail {rule}:" in condition(obj, "Ready")["message"], (name, condition(obj, "Ready"))
        event = world.wait_event(name, "PolicyViolation")
        assert event.type == "Warning" and rule in event.message

    good = world.wait_condition(PI, "good", "Ready", "True")
    role = iam.get_role(RoleName="tenant-good")["Role"]
    assert role["Path"] == "/tenants/" and role["PermissionsBoundary"]["PermissionsBoundaryArn"] == boundary
    # Nothing was written for any violation: one role, one integration, both the good one's.
    assert [r["RoleName"] for r in iam.list_roles()["Roles"]] == ["tenant-good"]
    assert [i["id"] for i in world.admin.state()["integrations"].values()] == [good["status"]["integrationId"]]
    assert world.admin.state()["connectors"] == {}


def test_tenants_get_the_kinds_through_the_built_in_roles_editors_without_integrations(
    world: World, control_plane: ControlPlane | None
) -> None:
    if control_plane is None:
        pytest.skip("minting a tenant identity needs the local control plane")
    suffix = world.namespace[-6:]
    rbac = client.RbacAuthorizationV1Api(world.api)
    created: list[str] = []

    def tenant_bound_to(role: str) -> client.CustomObjectsApi:
        user = f"{role}-{suffix}"
        rbac.create_namespaced_role_binding(
            world.namespace,
            client.V1RoleBinding(
                metadata=client.V1ObjectMeta(name=f"tenant-{role}"),
                role_ref=client.V1RoleRef(api_group="rbac.authorization.k8s.io", kind="ClusterRole", name=role),
                subjects=[client.RbacV1Subject(kind="User", name=user, api_group="rbac.authorization.k8s.io")],
            ),
        )
        return client.CustomObjectsApi(api_client(control_plane.mint_kubeconfig(user)))

    def body(kind: str, name: str, spec: dict[str, Any]) -> dict[str, Any]:
        return {"apiVersion": f"{GROUP}/{VERSION}", "kind": kind, "metadata": {"name": name}, "spec": spec}

    def connector(name: str) -> dict[str, Any]:
        spec = {"environment": "env-abc12", "kafkaCluster": "lkc-xyz89", "connectorClass": "S3_SINK"}
        return body("ManagedConnector", name, {**spec, "deletionPolicy": "Orphan"})

    def integration(name: str) -> dict[str, Any]:
        spec = {"environment": "env-abc12", "aws": {"createRole": {"roleName": name}}, "deletionPolicy": "Orphan"}
        return body("ProviderIntegration", name, spec)

    def allowed_once_aggregated(create: Any) -> bool:
        try:
            create()
        except ApiException as error:
            if error.status == 403:  # the aggregation controller has not folded the role in yet
                return False
            raise
        return True

    try:
        for role in render_tenant_roles():
            role["metadata"]["name"] += f"-{suffix}"  # cluster-scoped: a name of this test's own
            rbac.create_cluster_role(role)
            created.append(role["metadata"]["name"])
        editor, admin, viewer = (tenant_bound_to(role) for role in ("edit", "admin", "view"))
        ns = world.namespace

        # `edit`: ManagedConnectors in full, ProviderIntegrations not at all (they mint IAM roles).
        wait_until(
            lambda: allowed_once_aggregated(
                lambda: editor.create_namespaced_custom_object(GROUP, VERSION, ns, MC, connector("mine"))
            ),
            "the editor allowed to create a ManagedConnector",
            timeout=60,
        )
        editor.patch_namespaced_custom_object(GROUP, VERSION, ns, MC, "mine", {"spec": {"state": "Paused"}})
        editor.delete_namespaced_custom_object(GROUP, VERSION, ns, MC, "mine")
        with pytest.raises(ApiException) as refused:
            editor.create_namespaced_custom_object(GROUP, VERSION, ns, PI, integration("nope"))
        assert refused.value.status == 403
        # ... but may read them (`view` aggregates into `edit`): a connector names one.
        assert editor.list_namespaced_custom_object(GROUP, VERSION, ns, PI)["items"] == []

        # `admin`: both kinds (the connectors through `edit`, which aggregates into `admin`).
        wait_until(
            lambda: allowed_once_aggregated(
                lambda: admin.create_namespaced_custom_object(GROUP, VERSION, ns, PI, integration("theirs"))
            ),
            "the namespace admin allowed to create a ProviderIntegration",
            timeout=60,
        )
        wait_until(
            lambda: allowed_once_aggregated(
                lambda: admin.create_namespaced_custom_object(GROUP, VERSION, ns, MC, connector("admins"))
            ),
            "the namespace admin allowed to create a ManagedConnector",
            timeout=60,
        )

        # `view`: reads both, writes neither.
        names = wait_until(
            lambda: (
                allowed_once_aggregated(lambda: viewer.list_namespaced_custom_object(GROUP, VERSION, ns, PI))
                and [
                    o["metadata"]["name"] for o in viewer.list_namespaced_custom_object(GROUP, VERSION, ns, PI)["items"]
                ]
            ),
            "the viewer allowed to list ProviderIntegrations",
            timeout=60,
        )
        assert names == ["theirs"]
        assert viewer.get_namespaced_custom_object(GROUP, VERSION, ns, MC, "admins")["metadata"]["name"] == "admins"
        for plural, obj in ((MC, connector("viewers")), (PI, integration("viewers"))):
            with pytest.raises(ApiException) as refused:
                viewer.create_namespaced_custom_object(GROUP, VERSION, ns, plural, obj)
            assert refused.value.status == 403
    finally:
        for name in created:
            rbac.delete_cluster_role(name)
