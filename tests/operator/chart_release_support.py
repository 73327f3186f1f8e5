"""Helpers for the tests that run the operator as the chart's ServiceAccount (out of cluster as a process, or
as a container); the `chart_release` fixture that installs the chart is in conftest.py.
"""

from __future__ import annotations

import base64
import subprocess
from collections.abc import Callable
from pathlib import Path
from typing import Any

import yaml
from kubernetes import client
from kubernetes.client.exceptions import ApiException

from ccloud_operator.constants import MANAGED_CONNECTORS, PROVIDER_INTEGRATIONS
from ccloud_sandbox.controlplane.build import toolchain
from ccloud_sandbox.controlplane.cli import repo_root

from operator_world import World, s3_sink_spec

CHART = repo_root() / "helm" / "ccloud-operator"
RBAC_USER_PREFIX = "system:serviceaccount:"


def helm(*args: str) -> None:
    proc = subprocess.run(
        [str(toolchain().binary("helm")), *args], capture_output=True, text=True, check=False, timeout=120
    )
    assert proc.returncode == 0, f"helm {' '.join(args)}:\n{proc.stderr}"


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
    world.create(MANAGED_CONNECTORS, "orders-sink", s3_sink_spec(world, "s3", bucket))
