"""kopf handlers for ManagedConnector, and the Secret watch that wakes connectors on rotation."""

from __future__ import annotations

from typing import Any

import kopf
import pydantic

from ccloud_operator import runtime
from ccloud_operator.constants import (
    DEPENDENCY_REVISION_ANNOTATION,
    GROUP,
    MANAGED_CONNECTOR_KIND,
    MANAGED_CONNECTORS,
    VERSION,
)
from ccloud_operator.handlers.common import parse_spec, run_pass
from ccloud_operator.models.managed_connector import ManagedConnectorSpec
from ccloud_operator.reconcilers.managed_connector import ConnectorRef, Trigger


def _ref(body: kopf.Body) -> ConnectorRef:
    return ConnectorRef(
        namespace=body.metadata.namespace or "",
        name=body.metadata.name or "",
        uid=body.metadata.uid or "",
        generation=body.metadata.get("generation"),
        status=dict(body.get("status") or {}),
        annotations=dict(body.metadata.annotations),
    )


async def _run(body: kopf.Body, patch: kopf.Patch, *, trigger: Trigger) -> None:
    spec = parse_spec(ManagedConnectorSpec, body, patch)
    reconciler = runtime.current().managed_connectors
    await run_pass(MANAGED_CONNECTOR_KIND, body, patch, lambda: reconciler.reconcile(_ref(body), spec, trigger=trigger))


async def reconcile(body: kopf.Body, patch: kopf.Patch, retry: int, **_: Any) -> None:
    """A change to the spec, an annotation or a dependency reads the connector fresh; polls that
    follow (kopf retries while Confluent works) share the cluster's list."""
    await _run(body, patch, trigger="change" if retry == 0 else "poll")


async def resync(body: kopf.Body, patch: kopf.Patch, **_: Any) -> None:
    """The periodic resync: served from the one shared list per cluster."""
    await _run(body, patch, trigger="resync")


async def finalize(body: kopf.Body, patch: kopf.Patch, **_: Any) -> None:
    """Deletion: the connector goes first, and the finalizer only once Confluent no longer lists it."""
    spec = parse_spec(ManagedConnectorSpec, body, patch)
    reconciler = runtime.current().managed_connectors
    await run_pass(MANAGED_CONNECTOR_KIND, body, patch, lambda: reconciler.finalize(_ref(body), spec), deleting=True)
    reconciler.forget(body.metadata.uid or "")


def connector_secrets(spec: kopf.Spec, name: str, namespace: str | None, **_: Any) -> dict[tuple[str, str], str]:
    """Index: (namespace, Secret name) -> the connectors whose config reads that Secret."""
    try:
        model = ManagedConnectorSpec.model_validate(dict(spec))
    except pydantic.ValidationError:
        return {}
    return {(namespace or "", secret): name for secret in model.referenced_secrets()}


async def secret_changed(
    body: kopf.Body, name: str, namespace: str | None, connector_secrets: kopf.Index[tuple[str, str], str], **_: Any
) -> None:
    """A referenced Secret changed: wake its connectors so the new value is applied within seconds."""
    namespace = namespace or ""
    connectors: list[str] = list(connector_secrets.get((namespace, name), []))
    if not connectors:
        return
    revision = f"secrets/{name}/{body.metadata.get('resourceVersion')}"
    rt = runtime.current()
    for connector in connectors:
        await rt.kube.annotate(MANAGED_CONNECTORS, namespace, connector, {DEPENDENCY_REVISION_ANNOTATION: revision})


def register(registry: kopf.OperatorRegistry, resync_interval: float) -> None:
    """Attach the handlers to a kopf registry."""
    resource = (GROUP, VERSION, MANAGED_CONNECTORS)
    for decorator in (kopf.on.create, kopf.on.update, kopf.on.resume):
        decorator(*resource, registry=registry, id=f"reconcile-{decorator.__name__}")(reconcile)
    kopf.timer(*resource, registry=registry, id="resync", interval=resync_interval, initial_delay=resync_interval)(
        resync
    )
    kopf.on.delete(*resource, registry=registry, id="finalize")(finalize)
    kopf.index(*resource, registry=registry, id="connector_secrets")(connector_secrets)
    kopf.on.event("", "v1", "secrets", registry=registry, id="secret-changed")(secret_changed)  # type: ignore[arg-type]
