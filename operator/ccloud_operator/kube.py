"""The few Kubernetes reads and writes reconcilers make outside kopf's own patching.

Calls go through the synchronous kubernetes client in worker threads, so the event loop never
blocks. Reconcilers depend on the small ``KubeGateway`` protocol, not on this module's client.
"""

from __future__ import annotations

import asyncio
import base64
import threading
from typing import Any, Protocol

from kubernetes import client as k8s
from kubernetes import config as k8s_config
from kubernetes.client.exceptions import ApiException

from ccloud_operator.constants import GROUP, MANAGED_CONNECTORS, PROVIDER_INTEGRATIONS, VERSION


class KubeGateway(Protocol):
    """What reconcilers need from the Kubernetes API."""

    async def read_secret(self, namespace: str, name: str) -> dict[str, str] | None: ...

    async def get_provider_integration(self, namespace: str, name: str) -> dict[str, Any] | None: ...

    async def list_managed_connectors(self, namespace: str) -> list[dict[str, Any]]: ...

    async def annotate(self, plural: str, namespace: str, name: str, annotations: dict[str, str | None]) -> None: ...


class KubernetesGateway:
    """``KubeGateway`` over the official client, configured from in-cluster config or KUBECONFIG."""

    _lock = threading.Lock()

    def __init__(self, api_client: k8s.ApiClient | None = None) -> None:
        if api_client is None:
            with self._lock:
                try:
                    k8s_config.load_incluster_config()  # type: ignore[no-untyped-call]
                except k8s_config.ConfigException:
                    k8s_config.load_kube_config()  # type: ignore[no-untyped-call]
            api_client = k8s.ApiClient()
        self._core = k8s.CoreV1Api(api_client)
        self._custom = k8s.CustomObjectsApi(api_client)

    async def read_secret(self, namespace: str, name: str) -> dict[str, str] | None:
        try:
            secret = await asyncio.to_thread(self._core.read_namespaced_secret, name, namespace)
        except ApiException as exc:
            if exc.status == 404:
                return None
            raise
        return {key: base64.b64decode(value).decode() for key, value in (secret.data or {}).items()}

    async def get_provider_integration(self, namespace: str, name: str) -> dict[str, Any] | None:
        try:
            body: Any = await asyncio.to_thread(
                self._custom.get_namespaced_custom_object,
                GROUP,
                VERSION,
                namespace,
                PROVIDER_INTEGRATIONS,
                name,
            )
        except ApiException as exc:
            if exc.status == 404:
                return None
            raise
        return dict(body)

    async def list_managed_connectors(self, namespace: str) -> list[dict[str, Any]]:
        body: Any = await asyncio.to_thread(
            self._custom.list_namespaced_custom_object, GROUP, VERSION, namespace, MANAGED_CONNECTORS
        )
        items: list[dict[str, Any]] = body.get("items", [])
        return items

    async def annotate(self, plural: str, namespace: str, name: str, annotations: dict[str, str | None]) -> None:
        try:
            await asyncio.to_thread(
                self._custom.patch_namespaced_custom_object,
                GROUP,
                VERSION,
                namespace,
                plural,
                name,
                {"metadata": {"annotations": annotations}},
            )
        except ApiException as exc:
            if exc.status != 404:
                raise
