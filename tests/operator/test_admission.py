"""The API server itself rejects bad ProviderIntegrations and ManagedConnectors, with the CRDs' messages."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
from kubernetes import client
from kubernetes.client.exceptions import ApiException

from ccloud_operator.constants import GROUP, MANAGED_CONNECTORS, PROVIDER_INTEGRATIONS, VERSION

ROLE_ARN = "arn:aws:iam::123456789012:role/confluent"


def _create(api: client.ApiClient, namespace: str, plural: str, name: str, spec: dict[str, Any]) -> None:
    kind = "ProviderIntegration" if plural == PROVIDER_INTEGRATIONS else "ManagedConnector"
    body = {"apiVersion": f"{GROUP}/{VERSION}", "kind": kind, "metadata": {"name": name}, "spec": spec}
    client.CustomObjectsApi(api).create_namespaced_custom_object(GROUP, VERSION, namespace, plural, body)


def _rejection(api: client.ApiClient, namespace: str, plural: str, spec: dict[str, Any]) -> str:
    with pytest.raises(ApiException) as caught:
        _create(api, namespace, plural, "rejected", spec)
    assert caught.value.status == 422, caught.value.body
    return str(json.loads(caught.value.body)["message"])


def _patch_rejection(api: client.ApiClient, namespace: str, plural: str, name: str, spec: dict[str, Any]) -> str:
    with pytest.raises(ApiException) as caught:
        client.CustomObjectsApi(api).patch_namespaced_custom_object(
            GROUP, VERSION, namespace, plural, name, {"spec": spec}
        )
    assert caught.value.status == 422, caught.value.body
    return str(json.loads(caught.value.body)["message"])


def pi_spec(**aws: Any) -> dict[str, Any]:
    return {"environment": "env-abc12", "aws": aws or {"roleArn": ROLE_ARN}}


def mc_spec(**extra: Any) -> dict[str, Any]:
    return {"environment": "env-abc12", "kafkaCluster": "lkc-xyz89", "connectorClass": "S3_SINK", **extra}


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ({"environment": "env-abc12"}, "spec.aws: Required value"),
        (pi_spec(roleArn=ROLE_ARN, createRole={"roleName": "r"}), "exactly one of aws.roleArn"),
        (pi_spec(trustPolicy="Manage"), "exactly one of aws.roleArn"),
        (pi_spec(roleArn="arn:aws:iam::12:role/x"), "spec.aws.roleArn"),
        ({**pi_spec(), "environment": "production"}, "spec.environment"),
        ({**pi_spec(), "displayName": "x" * 61}, "spec.displayName"),
        (pi_spec(roleArn=ROLE_ARN, trustPolicy="Sometimes"), 'supported values: "Manage", "Report"'),
        ({**pi_spec(), "deletionPolicy": "Keep"}, 'supported values: "Delete", "Orphan"'),
        (pi_spec(createRole={"roleName": "r"}, trustPolicy="Report"), "trustPolicy Report is for an existing role"),
    ],
)
def test_invalid_provider_integrations_are_rejected(
    k8s_api: client.ApiClient, namespace: str, spec: dict[str, Any], message: str
) -> None:
    assert message in _rejection(k8s_api, namespace, PROVIDER_INTEGRATIONS, spec)


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        (mc_spec(config={"kafka.api.secret": "s"}), "must come from a Secret"),
        (mc_spec(config={"db.password": "s"}), "must come from a Secret"),
        (mc_spec(config={"name": "other"}), "name and connector.class are set from"),
        (mc_spec(config={"flush.size": 1000}), "spec.config.flush.size"),
        (mc_spec(kafkaCluster="cluster-1"), "spec.kafkaCluster"),
        (mc_spec(kafkaAuth={}), "exactly one of kafkaAuth.serviceAccountId"),
        (mc_spec(state="Stopped"), 'supported values: "Running", "Paused"'),
        (mc_spec(sensitiveConfig=[{"key": "k"}]), "secretKeyRef: Required value"),
        (
            mc_spec(
                config={"s3.region": "eu-west-1"},
                sensitiveConfig=[{"key": "s3.region", "secretKeyRef": {"name": "s", "key": "k"}}],
            ),
            "a key is set in both config and sensitiveConfig",
        ),
    ],
)
def test_invalid_managed_connectors_are_rejected(
    k8s_api: client.ApiClient, namespace: str, spec: dict[str, Any], message: str
) -> None:
    assert message in _rejection(k8s_api, namespace, MANAGED_CONNECTORS, spec)


def test_what_the_v1_api_cannot_change_is_immutable(k8s_api: client.ApiClient, namespace: str) -> None:
    _create(k8s_api, namespace, PROVIDER_INTEGRATIONS, "fixed", {**pi_spec(), "displayName": "fixed"})
    assert "environment is immutable" in _patch_rejection(
        k8s_api, namespace, PROVIDER_INTEGRATIONS, "fixed", {"environment": "env-other"}
    )
    assert "displayName is immutable" in _patch_rejection(
        k8s_api, namespace, PROVIDER_INTEGRATIONS, "fixed", {"displayName": "renamed"}
    )
    assert "aws.roleArn is immutable" in _patch_rejection(
        k8s_api, namespace, PROVIDER_INTEGRATIONS, "fixed", {"aws": {"roleArn": ROLE_ARN + "2"}}
    )

    _create(k8s_api, namespace, MANAGED_CONNECTORS, "named", mc_spec(connectorName="orders"))
    assert "connectorName is immutable" in _patch_rejection(
        k8s_api, namespace, MANAGED_CONNECTORS, "named", {"connectorName": "payments"}
    )
    assert "kafkaCluster is immutable" in _patch_rejection(
        k8s_api, namespace, MANAGED_CONNECTORS, "named", {"kafkaCluster": "lkc-other"}
    )


def test_defaults_are_applied_by_the_server(k8s_api: client.ApiClient, namespace: str) -> None:
    _create(k8s_api, namespace, PROVIDER_INTEGRATIONS, "defaults", pi_spec())
    stored = client.CustomObjectsApi(k8s_api).get_namespaced_custom_object(
        GROUP, VERSION, namespace, PROVIDER_INTEGRATIONS, "defaults"
    )
    assert stored["spec"]["deletionPolicy"] == "Delete"
    assert stored["spec"]["aws"]["trustPolicy"] == "Manage"


def _explain(kubeconfig: Path, field: str) -> str:
    """kubectl explain, once the API server publishes the CRD's schema: it does so a moment after the CRD
    is established (its OpenAPI controller runs on its own), and until then explain finds no such type."""
    kubectl = Path(sys.executable).parent / "kubectl"
    deadline = time.monotonic() + 30
    while True:
        done = subprocess.run(
            [str(kubectl), "explain", field],
            env={**os.environ, "KUBECONFIG": str(kubeconfig)},
            capture_output=True,
            text=True,
        )
        if done.returncode == 0:
            return done.stdout
        assert time.monotonic() < deadline, f"kubectl explain {field}: {done.stderr}"
        time.sleep(1)


def test_kubectl_explain_reads_well(kubeconfig: Path) -> None:
    explained = _explain(kubeconfig, "providerintegrations.spec.aws.trustPolicy")
    assert "Manage: the operator writes Confluent's statement" in explained
    columns = _explain(kubeconfig, "managedconnectors.spec.sensitiveConfig")
    assert "Kubernetes Secrets" in columns
