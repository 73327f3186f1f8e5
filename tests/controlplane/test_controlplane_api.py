"""The API server is the real one: version, CRDs, OpenAPI schema and CEL validation."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
from kubernetes import client
from kubernetes.client.exceptions import ApiException

from ccloud_sandbox.controlplane.build import KUBERNETES_VERSION
from ccloud_sandbox.controlplane.cluster import ControlPlane

from harness_support import wait_crd_established

GROUP = "harness.ccloud-operator.test"
VERSION = "v1"
PLURAL = "widgets"
CEL_MESSAGE = "replicas must not exceed maxReplicas"

WIDGET_CRD: dict[str, Any] = {
    "apiVersion": "apiextensions.k8s.io/v1",
    "kind": "CustomResourceDefinition",
    "metadata": {"name": f"{PLURAL}.{GROUP}"},
    "spec": {
        "group": GROUP,
        "scope": "Namespaced",
        "names": {"plural": PLURAL, "singular": "widget", "kind": "Widget", "listKind": "WidgetList"},
        "versions": [
            {
                "name": VERSION,
                "served": True,
                "storage": True,
                "schema": {
                    "openAPIV3Schema": {
                        "type": "object",
                        "properties": {
                            "spec": {
                                "type": "object",
                                "required": ["size"],
                                "properties": {
                                    "size": {"type": "integer", "minimum": 1, "maximum": 10},
                                    "replicas": {"type": "integer"},
                                    "maxReplicas": {"type": "integer"},
                                },
                                "x-kubernetes-validations": [
                                    {
                                        "rule": "!has(self.replicas) || !has(self.maxReplicas)"
                                        " || self.replicas <= self.maxReplicas",
                                        "message": CEL_MESSAGE,
                                    }
                                ],
                            }
                        },
                    }
                },
            }
        ],
    },
}


@pytest.fixture(scope="module")
def widget_crd(k8s_api: client.ApiClient) -> Iterator[str]:
    """The Widget CRD, installed for this module and removed after it."""
    extensions = client.ApiextensionsV1Api(k8s_api)
    name = WIDGET_CRD["metadata"]["name"]
    # The client serialises a plain dict as it is; its models are only a convenience.
    extensions.create_custom_resource_definition(WIDGET_CRD)  # type: ignore[arg-type]
    wait_crd_established(k8s_api, name)
    yield name
    extensions.delete_custom_resource_definition(name)


def _widget(name: str, **spec: Any) -> dict[str, Any]:
    return {"apiVersion": f"{GROUP}/{VERSION}", "kind": "Widget", "metadata": {"name": name}, "spec": spec}


def _create_rejected(api: client.ApiClient, namespace: str, body: dict[str, Any]) -> dict[str, Any]:
    with pytest.raises(ApiException) as raised:
        client.CustomObjectsApi(api).create_namespaced_custom_object(GROUP, VERSION, namespace, PLURAL, body)
    assert raised.value.status == 422, raised.value.body
    status: dict[str, Any] = json.loads(raised.value.body or "{}")
    return status


def _read_widget(api: client.ApiClient, namespace: str, name: str) -> dict[str, Any]:
    stored: dict[str, Any] = client.CustomObjectsApi(api).get_namespaced_custom_object(  # type: ignore[assignment]
        GROUP, VERSION, namespace, PLURAL, name
    )
    return stored


def test_api_server_reports_the_built_version(k8s_api: client.ApiClient, control_plane: ControlPlane | None) -> None:
    if control_plane is None:
        pytest.skip("an existing cluster runs whatever version it runs")

    version = client.VersionApi(k8s_api).get_code()

    assert version.git_version == KUBERNETES_VERSION


def test_custom_resource_is_served(k8s_api: client.ApiClient, widget_crd: str, namespace: str) -> None:
    objects = client.CustomObjectsApi(k8s_api)

    objects.create_namespaced_custom_object(
        GROUP, VERSION, namespace, PLURAL, _widget("small", size=3, replicas=1, maxReplicas=2)
    )
    stored = _read_widget(k8s_api, namespace, "small")

    assert stored["spec"] == {"size": 3, "replicas": 1, "maxReplicas": 2}
    assert stored["metadata"]["uid"]


def test_unknown_fields_are_pruned_by_the_server(k8s_api: client.ApiClient, widget_crd: str, namespace: str) -> None:
    objects = client.CustomObjectsApi(k8s_api)

    objects.create_namespaced_custom_object(GROUP, VERSION, namespace, PLURAL, _widget("pruned", size=1, colour="red"))
    stored = _read_widget(k8s_api, namespace, "pruned")

    assert stored["spec"] == {"size": 1}


def test_schema_violation_is_rejected_by_the_server(k8s_api: client.ApiClient, widget_crd: str, namespace: str) -> None:
    status = _create_rejected(k8s_api, namespace, _widget("too-big", size=50))

    assert status["reason"] == "Invalid"
    causes = status["details"]["causes"]
    assert [cause["field"] for cause in causes] == ["spec.size"]
    assert "should be less than or equal to 10" in causes[0]["message"]


def test_missing_required_field_is_rejected_by_the_server(
    k8s_api: client.ApiClient, widget_crd: str, namespace: str
) -> None:
    status = _create_rejected(k8s_api, namespace, _widget("no-size", replicas=1))

    assert any(
        cause["field"] == "spec.size" and "Required" in cause["message"] for cause in status["details"]["causes"]
    )


def test_cel_validation_rule_is_enforced_by_the_server(
    k8s_api: client.ApiClient, widget_crd: str, namespace: str
) -> None:
    status = _create_rejected(k8s_api, namespace, _widget("over", size=2, replicas=5, maxReplicas=3))

    assert CEL_MESSAGE in status["message"]
    assert [cause["field"] for cause in status["details"]["causes"]] == ["spec"]
