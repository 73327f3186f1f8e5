"""The chart's RBAC is enough for the operator and no more: run it with only its ServiceAccount's token.

The chart is installed into the session's cluster (its CRDs are already there, so the chart skips them);
the operator runs out of cluster with a kubeconfig holding a TokenRequest token of the chart's
ServiceAccount, reconciles an S3 sink to Ready, and the same token is refused outside the chart's rules.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from kubernetes import client

from ccloud_operator.constants import GROUP, MANAGED_CONNECTORS, PROVIDER_INTEGRATIONS, VERSION

from chart_release_support import RBAC_USER_PREFIX, s3_sink, service_account_kubeconfig, status_of
from harness_support import api_client
from operator_world import World

NAMESPACED, CLUSTER_WIDE = "namespaced", "cluster-wide"


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
