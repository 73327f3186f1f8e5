"""The controller manager runs: namespaces are really deleted, dependents are collected."""

from __future__ import annotations

from collections.abc import Callable

from kubernetes import client
from kubernetes.client.exceptions import ApiException

from harness_support import namespace_name, wait_until


def _gone(read: Callable[[], object]) -> bool:
    try:
        read()
    except ApiException as error:
        if error.status == 404:
            return True
        raise
    return False


def test_deleted_namespace_is_removed_with_its_contents(k8s_api: client.ApiClient) -> None:
    core = client.CoreV1Api(k8s_api)
    name = namespace_name("deleted")
    core.create_namespace(client.V1Namespace(metadata=client.V1ObjectMeta(name=name)))
    core.create_namespaced_config_map(name, client.V1ConfigMap(metadata=client.V1ObjectMeta(name="content")))

    core.delete_namespace(name)

    wait_until(lambda: _gone(lambda: core.read_namespace(name)), f"namespace {name} to be deleted", timeout=60)


def test_dependents_are_garbage_collected_with_their_owner(k8s_api: client.ApiClient, namespace: str) -> None:
    core = client.CoreV1Api(k8s_api)
    owner = core.create_namespaced_config_map(namespace, client.V1ConfigMap(metadata=client.V1ObjectMeta(name="owner")))
    assert owner.metadata is not None
    reference = client.V1OwnerReference(api_version="v1", kind="ConfigMap", name="owner", uid=owner.metadata.uid)
    core.create_namespaced_config_map(
        namespace,
        client.V1ConfigMap(metadata=client.V1ObjectMeta(name="dependent", owner_references=[reference])),
    )

    core.delete_namespaced_config_map("owner", namespace)

    wait_until(
        lambda: _gone(lambda: core.read_namespaced_config_map("dependent", namespace)),
        "the dependent ConfigMap to be collected",
        timeout=60,
    )
