"""The few Kubernetes reads and writes reconcilers make outside kopf's own patching.

Calls go through the synchronous kubernetes client in worker threads, so the event loop never
blocks. Reconcilers depend on the small ``KubeGateway`` protocol, not on this module's client.
"""

from __future__ import annotations

import asyncio
import base64
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from functools import partial
from pathlib import Path
from typing import Any, Protocol, TypeVar

from kubernetes import client as k8s
from kubernetes import config as k8s_config
from kubernetes.client.exceptions import ApiException

from ccloud_operator.constants import GROUP, MANAGED_CONNECTORS, PROVIDER_INTEGRATIONS, VERSION

T = TypeVar("T")

SERVICE_ACCOUNT_NAMESPACE = Path("/var/run/secrets/kubernetes.io/serviceaccount/namespace")


class KubeGateway(Protocol):
    """What reconcilers need from the Kubernetes API."""

    async def read_secret(self, namespace: str, name: str) -> dict[str, str] | None: ...

    async def get_provider_integration(self, namespace: str, name: str) -> dict[str, Any] | None: ...

    async def list_managed_connectors(self, namespace: str) -> list[dict[str, Any]]: ...

    async def annotate(self, plural: str, namespace: str, name: str, annotations: dict[str, str | None]) -> None: ...


_config_lock = threading.Lock()


def new_api_client() -> k8s.ApiClient:
    """An API client from the in-cluster config (in a pod) or KUBECONFIG."""
    with _config_lock:
        try:
            k8s_config.load_incluster_config()  # type: ignore[no-untyped-call]
        except k8s_config.ConfigException:
            k8s_config.load_kube_config()  # type: ignore[no-untyped-call]
    return k8s.ApiClient()


def own_namespace(default: str = "default") -> str:
    """The namespace of this pod's ServiceAccount, or ``default`` outside a pod."""
    try:
        return SERVICE_ACCOUNT_NAMESPACE.read_text().strip() or default
    except OSError:
        return default


class KubernetesGateway:
    """``KubeGateway`` over the official client, configured from in-cluster config or KUBECONFIG."""

    def __init__(self, api_client: k8s.ApiClient | None = None) -> None:
        api_client = api_client or new_api_client()
        # The synchronous client's calls get threads of their own, apart from boto3's and the Lease's.
        self._executor = ThreadPoolExecutor(max_workers=4, thread_name_prefix="kube")
        self._core = k8s.CoreV1Api(api_client)
        self._custom = k8s.CustomObjectsApi(api_client)

    async def _run(self, call: Callable[..., T], *args: Any) -> T:
        return await asyncio.get_running_loop().run_in_executor(self._executor, partial(call, *args))

    async def read_secret(self, namespace: str, name: str) -> dict[str, str] | None:
        try:
            secret = await self._run(self._core.read_namespaced_secret, name, namespace)
        except ApiException as exc:
            if exc.status == 404:
                return None
            raise
        return {key: base64.b64decode(value).decode() for key, value in (secret.data or {}).items()}

    async def get_provider_integration(self, namespace: str, name: str) -> dict[str, Any] | None:
        try:
            body: Any = await self._run(
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
        body: Any = await self._run(
            self._custom.list_namespaced_custom_object, GROUP, VERSION, namespace, MANAGED_CONNECTORS
        )
        items: list[dict[str, Any]] = body.get("items", [])
        return items

    async def annotate(self, plural: str, namespace: str, name: str, annotations: dict[str, str | None]) -> None:
        try:
            await self._run(
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
