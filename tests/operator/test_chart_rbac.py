"""The chart's RBAC is enough for the operator and no more: run it with only its ServiceAccount's token.

The chart is installed into the session's cluster (its CRDs are already there, so the chart skips them);
the operator runs out of cluster with a kubeconfig holding a TokenRequest token of the chart's
ServiceAccount, reconciles an S3 sink to Ready, and the same token is refused outside the chart's rules.
"""

from __future__ import annotations

import base64
import secrets
import subprocess
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from kubernetes import client
from kubernetes.client.exceptions import ApiException

from ccloud_operator.constants import GROUP, MANAGED_CONNECTORS, PROVIDER_INTEGRATIONS, VERSION
from ccloud_sandbox.controlplane.build import toolchain
from ccloud_sandbox.controlplane.cli import repo_root

from harness_support import api_client
from operator_world import World

CHART = repo_root() / "helm" / "ccloud-operator"
NAMESPACED, CLUSTER_WIDE = "namespaced", "cluster-wide"
RBAC_USER_PREFIX = "system:serviceaccount:"


def helm(*args: str) -> None:
    proc = subprocess.run(
        [str(toolchain().binary("helm")), *args], capture_output=True, text=True, check=False, timeout=120
    )
    assert proc.returncode == 0, f"helm {' '.join(args)}:\n{proc.stderr}"


@pytest.fixture
def chart_release(world: World, tmp_path: Path) -> Iterator[Callable[[list[str]], str]]:
    """Install the chart into the test's namespace; returns the ServiceAccount name. Uninstalled afterwards."""
    release = f"rbac-{secrets.token_hex(3)}"
    installed: list[str] = []

    def install(watch_namespaces: list[str]) -> str:
        values = tmp_path / "values.yaml"
        values.write_text(
            yaml.safe_dump(
                {
                    # ClusterRoles are cluster-scoped: a name of its own per test.
                    "fullnameOverride": release,
                    # The session applied crds/ already; owning them is test_chart_cluster.py's subject.
                    "crds": {"install": False},
                    "watchNamespaces": watch_namespaces,
                }
            )
        )
        helm("install", release, str(CHART), "--namespace", world.namespace, "--values", str(values))
        installed.append(release)
        return release

    yield install
    if world.operator is not None:
        world.operator.stop()
    for name in installed:
        helm("uninstall", name, "--namespace", world.namespace)


def service_account_kubeconfig(
    api: client.ApiClient, admin_kubeconfig: Path, namespace: str, service_account: str, path: Path
) -> Path:
    """A kubeconfig for the admin kubeconfig's server that authenticates as the ServiceAccount."""
    request = client.AuthenticationV1TokenRequest(spec=client.V1TokenRequestSpec(audiences=[], expiration_seconds=3600))
    issued = client.CoreV1Api(api).create_namespaced_service_account_token(service_account, namespace, request)
    token: str = api.sanitize_for_serialization(issued)["status"]["token"]  # type: ignore[no-untyped-call]
    admin = yaml.safe_load(admin_kubeconfig.read_text())
    cluster = dict(admin["clusters"][0]["cluster"])
    if "certificate-authority" in cluster:
        ca_path = Path(cluster.pop("certificate-authority"))
        if not ca_path.is_absolute():
            ca_path = admin_kubeconfig.parent / ca_path
        cluster["certificate-authority-data"] = base64.b64encode(ca_path.read_bytes()).decode()
    path.write_text(
        yaml.safe_dump(
            {
                "apiVersion": "v1",
                "kind": "Config",
                "clusters": [{"name": "cluster", "cluster": cluster}],
                "users": [{"name": service_account, "user": {"token": token}}],
                "contexts": [{"name": "operator", "context": {"cluster": "cluster", "user": service_account}}],
                "current-context": "operator",
            }
        )
    )
    return path


def status_of(call: Callable[[], Any]) -> int:
    """The HTTP status of an API call: 200 when it succeeds."""
    try:
        call()
    except ApiException as error:
        return int(error.status)
    return 200


def s3_sink(world: World, bucket: str) -> None:
    world.moto.client("s3").create_bucket(Bucket=bucket)
    # The integration's own Cloud API key Secret makes the operator read a Secret through the API.
    world.secret("cloud-api-key", {"api-key": world.info.api_key, "api-secret": world.info.api_secret})
    world.create(
        PROVIDER_INTEGRATIONS,
        "s3",
        {
            "environment": world.info.environment_id,
            "cloudCredentialsSecretRef": {"name": "cloud-api-key"},
            "aws": {"createRole": {"roleName": f"{bucket}-role"}, "permissions": {"s3Buckets": [bucket]}},
        },
    )
    world.create(
        MANAGED_CONNECTORS,
        "orders-sink",
        {
            "environment": world.info.environment_id,
            "kafkaCluster": world.info.kafka_cluster_id,
            "connectorClass": "S3_SINK",
            "providerIntegrationRef": {"name": "s3"},
            "kafkaAuth": {"serviceAccountId": world.info.service_account_id},
            "config": {
                "topics": "orders",
                "input.data.format": "JSON",
                "output.data.format": "JSON",
                "s3.bucket.name": bucket,
                "time.interval": "HOURLY",
                "flush.size": "1000",
                "tasks.max": "1",
            },
        },
    )


@pytest.mark.parametrize("mode", [NAMESPACED, CLUSTER_WIDE])
def test_operator_with_only_the_charts_rbac_reconciles_an_s3_sink_to_ready_and_is_refused_beyond_it(
    mode: str,
    world: World,
    chart_release: Callable[[list[str]], str],
    k8s_api: client.ApiClient,
    kubeconfig: Path,
    tmp_path: Path,
) -> None:
    service_account = chart_release([world.namespace] if mode == NAMESPACED else [])
    token_kubeconfig = service_account_kubeconfig(
        k8s_api, kubeconfig, world.namespace, service_account, tmp_path / "operator.kubeconfig"
    )
    world.start_operator(
        kubeconfig=token_kubeconfig, args=["--namespace", world.namespace] if mode == NAMESPACED else ["-A"]
    )

    s3_sink(world, f"rbac-{mode}")
    world.wait_condition(PROVIDER_INTEGRATIONS, "s3", "Ready", "True", timeout=90)
    connector = world.wait_condition(MANAGED_CONNECTORS, "orders-sink", "Ready", "True", timeout=90)
    assert connector["status"]["state"] == "RUNNING"
    assert world.operator is not None
    # RBAC's refusal wording; a cluster-wide operator may also meet "forbidden" from namespaces that
    # earlier tests left terminating, which is not about its permissions.
    denials = [line for line in world.operator.log().splitlines() if f'forbidden: User "{RBAC_USER_PREFIX}' in line]
    assert not denials, denials[:3]
    world.delete(MANAGED_CONNECTORS, "orders-sink")
    world.wait_gone(MANAGED_CONNECTORS, "orders-sink")

    with api_client(token_kubeconfig) as operator_api:
        core = client.CoreV1Api(operator_api)
        custom = client.CustomObjectsApi(operator_api)
        extensions = client.ApiextensionsV1Api(operator_api)
        refused = {
            "create a Secret": lambda: core.create_namespaced_secret(
                world.namespace, client.V1Secret(metadata=client.V1ObjectMeta(name="planted"))
            ),
            "delete a ProviderIntegration": lambda: custom.delete_namespaced_custom_object(
                GROUP, VERSION, world.namespace, PROVIDER_INTEGRATIONS, "s3"
            ),
            "list ConfigMaps": lambda: core.list_namespaced_config_map(world.namespace),
            "change a CRD": lambda: extensions.patch_custom_resource_definition(
                f"{MANAGED_CONNECTORS}.{GROUP}", {"metadata": {"labels": {"taken": "over"}}}
            ),
        }
        if mode == NAMESPACED:
            refused["read a Secret in another namespace"] = lambda: core.list_namespaced_secret("kube-system")
            refused["list Secrets cluster-wide"] = lambda: core.list_secret_for_all_namespaces()
        else:
            refused["list namespaces"] = lambda: core.list_namespace()
        assert {what: status_of(call) for what, call in refused.items()} == dict.fromkeys(refused, 403)
        assert status_of(lambda: core.list_namespaced_secret(world.namespace)) == 200
