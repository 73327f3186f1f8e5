"""The few Kubernetes reads and writes the operator makes outside kopf's own patching.

An async client on aiohttp (which kopf already runs on), authenticated the way kopf is: the pod's
ServiceAccount, else KUBECONFIG. The official synchronous client was used here before; its API
classes cost about 20 MiB of RSS on import (CoreV1Api alone) and a worker thread per call in flight,
for four kinds of request. Reconcilers depend on the small ``KubeGateway`` protocol, not on this
module's client.
"""

from __future__ import annotations

import asyncio
import base64
import dataclasses
import json
import logging
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Protocol
from urllib.parse import quote

import aiohttp
import kopf

from ccloud_operator.constants import GROUP, MANAGED_CONNECTORS, PROVIDER_INTEGRATIONS, VERSION

logger = logging.getLogger(__name__)

SERVICE_ACCOUNT_NAMESPACE = Path("/var/run/secrets/kubernetes.io/serviceaccount/namespace")


class KubeGateway(Protocol):
    """What reconcilers need from the Kubernetes API."""

    async def read_secret(self, namespace: str, name: str) -> dict[str, str] | None: ...

    async def get_provider_integration(self, namespace: str, name: str) -> dict[str, Any] | None: ...

    async def list_managed_connectors(self, namespace: str) -> list[dict[str, Any]]: ...

    async def annotate(self, plural: str, namespace: str, name: str, annotations: dict[str, str | None]) -> None: ...

    async def patch_status(self, plural: str, namespace: str, name: str, status: dict[str, Any]) -> None: ...

    async def add_finalizer(
        self, plural: str, namespace: str, name: str, finalizer: str, *, finalizers: list[str]
    ) -> None: ...

    async def remove_finalizer(self, plural: str, namespace: str, name: str, finalizer: str, *, index: int) -> None: ...


class KubeApiError(Exception):
    """The API server answered an error status."""

    def __init__(self, status: int, reason: str) -> None:
        super().__init__(f"{status} {reason}")
        self.status = status
        self.reason = reason


def own_namespace(default: str = "default") -> str:
    """The namespace of this pod's ServiceAccount, or ``default`` outside a pod."""
    try:
        return SERVICE_ACCOUNT_NAMESPACE.read_text().strip() or default
    except OSError:
        return default


def service_address(connection: kopf.ConnectionInfo, environ: Mapping[str, str]) -> kopf.ConnectionInfo:
    """The in-cluster connection pointed at the address the kubelet gives every pod.

    kopf's service-account login names the API server `https://kubernetes.default.svc`, which only resolves
    where cluster DNS runs (and not from a pod on the host network with the default DNS policy). The kubelet
    sets KUBERNETES_SERVICE_HOST and KUBERNETES_SERVICE_PORT in every container, which is what client-go's
    in-cluster configuration uses; the serving certificate names the Service's ClusterIP too.
    """
    host, port = environ.get("KUBERNETES_SERVICE_HOST"), environ.get("KUBERNETES_SERVICE_PORT")
    if not host or not port:
        return connection
    authority = f"[{host}]:{port}" if ":" in host else f"{host}:{port}"
    return dataclasses.replace(connection, server=f"https://{authority}")


def _login() -> kopf.ConnectionInfo:
    settings = kopf.OperatorSettings()
    in_cluster = kopf.login_with_service_account(settings=settings)
    info = service_address(in_cluster, os.environ) if in_cluster else kopf.login_with_kubeconfig(settings=settings)
    if info is None:
        raise kopf.LoginError("no ServiceAccount and no kubeconfig to reach the Kubernetes API with")
    return info


class KubeApi:
    """JSON requests to the API server with one pooled session; a refused token is read again once
    (a projected ServiceAccount token rotates hourly)."""

    def __init__(self) -> None:
        self._session: aiohttp.ClientSession | None = None
        self._server = ""
        self._lock = asyncio.Lock()

    async def _connect(self) -> aiohttp.ClientSession:
        async with self._lock:
            if self._session is None:
                # Reading the token and building the SSL context touch files: off the event loop.
                info = await asyncio.to_thread(_login)
                self._server = info.server.rstrip("/")
                connector = aiohttp.TCPConnector(ssl=info.as_ssl_context(), limit=16)
                self._session = aiohttp.ClientSession(
                    connector=connector,
                    headers={**info.as_http_headers(), "Accept": "application/json", "User-Agent": "ccloud-operator"},
                    # No total: under a bulk apply a request may wait its turn for a pooled connection
                    # longer than any sane I/O timeout; only a stalled connection fails.
                    timeout=aiohttp.ClientTimeout(total=None, sock_connect=10, sock_read=60),
                )
            return self._session

    async def request(self, method: str, path: str, *, body: Any = None, content_type: str = "application/json") -> Any:
        """The decoded JSON answer; KubeApiError for an error status."""
        for attempt in (1, 2):
            session = await self._connect()
            headers = {"Content-Type": content_type} if body is not None else {}
            try:
                async with session.request(method, self._server + path, json=body, headers=headers) as response:
                    if response.status == 401 and attempt == 1:
                        await self._reset()
                        continue
                    if response.status >= 400:
                        text = await response.text()
                        raise KubeApiError(response.status, _reason(text) or response.reason or "")
                    return await response.json(content_type=None)
            except (TimeoutError, aiohttp.ClientError) as exc:
                # No answer: status 0, so callers handle "unreachable" with the errors they already handle.
                raise KubeApiError(0, f"{method} {path}: {type(exc).__name__}: {exc}") from exc
        raise AssertionError("unreachable")

    async def _reset(self) -> None:
        async with self._lock:
            if self._session is not None:
                await self._session.close()
                self._session = None

    async def aclose(self) -> None:
        await self._reset()


def _reason(text: str) -> str:
    try:
        status = json.loads(text)
        return str(status.get("message") or status.get("reason") or "")
    except ValueError:
        return text[:200]


def _custom_path(namespace: str, plural: str, name: str | None = None) -> str:
    path = f"/apis/{GROUP}/{VERSION}/namespaces/{quote(namespace)}/{plural}"
    return f"{path}/{quote(name)}" if name is not None else path


class KubernetesGateway:
    """``KubeGateway`` over ``KubeApi``."""

    def __init__(self, api: KubeApi | None = None) -> None:
        self.api = api or KubeApi()

    async def read_secret(self, namespace: str, name: str) -> dict[str, str] | None:
        try:
            secret = await self.api.request("GET", f"/api/v1/namespaces/{quote(namespace)}/secrets/{quote(name)}")
        except KubeApiError as exc:
            if exc.status == 404:
                return None
            raise
        return {key: base64.b64decode(value).decode() for key, value in (secret.get("data") or {}).items()}

    async def get_provider_integration(self, namespace: str, name: str) -> dict[str, Any] | None:
        try:
            body: dict[str, Any] = await self.api.request("GET", _custom_path(namespace, PROVIDER_INTEGRATIONS, name))
        except KubeApiError as exc:
            if exc.status == 404:
                return None
            raise
        return body

    async def list_managed_connectors(self, namespace: str) -> list[dict[str, Any]]:
        body = await self.api.request("GET", _custom_path(namespace, MANAGED_CONNECTORS))
        items: list[dict[str, Any]] = body.get("items") or []
        return items

    async def annotate(self, plural: str, namespace: str, name: str, annotations: dict[str, str | None]) -> None:
        await self._merge_patch(_custom_path(namespace, plural, name), {"metadata": {"annotations": annotations}})

    async def patch_status(self, plural: str, namespace: str, name: str, status: dict[str, Any]) -> None:
        await self._merge_patch(f"{_custom_path(namespace, plural, name)}/status", {"status": status})

    async def add_finalizer(
        self, plural: str, namespace: str, name: str, finalizer: str, *, finalizers: list[str]
    ) -> None:
        """Add ``finalizer`` to the object whose finalizers were last read as ``finalizers``: a JSON patch
        that the API server refuses (422) if they changed since, so another controller's finalizer added
        meanwhile is never overwritten. Only the finalizers are compared: kopf's own write of the object
        right after a create does not get in the way. (The API server's ``test`` of null passes on a
        missing field.)"""
        if finalizers:
            patch = [
                {"op": "test", "path": "/metadata/finalizers", "value": finalizers},
                {"op": "add", "path": "/metadata/finalizers/-", "value": finalizer},
            ]
        else:
            patch = [
                {"op": "test", "path": "/metadata/finalizers", "value": None},
                {"op": "add", "path": "/metadata/finalizers", "value": [finalizer]},
            ]
        await self.api.request(
            "PATCH", _custom_path(namespace, plural, name), body=patch, content_type="application/json-patch+json"
        )

    async def remove_finalizer(self, plural: str, namespace: str, name: str, finalizer: str, *, index: int) -> None:
        """Remove ``finalizer`` where it was last read (``index``), only if it is still there: other
        controllers' finalizers are left as they are. An object already gone is no error."""
        try:
            await self.api.request(
                "PATCH",
                _custom_path(namespace, plural, name),
                body=[
                    {"op": "test", "path": f"/metadata/finalizers/{index}", "value": finalizer},
                    {"op": "remove", "path": f"/metadata/finalizers/{index}"},
                ],
                content_type="application/json-patch+json",
            )
        except KubeApiError as exc:
            if exc.status != 404:
                raise

    async def _merge_patch(self, path: str, body: dict[str, Any]) -> None:
        """A JSON merge patch (a null removes a field); an object already gone is no error."""
        try:
            await self.api.request("PATCH", path, body=body, content_type="application/merge-patch+json")
        except KubeApiError as exc:
            if exc.status != 404:
                raise

    async def aclose(self) -> None:
        await self.api.aclose()
