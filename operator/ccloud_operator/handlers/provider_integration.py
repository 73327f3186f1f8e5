"""kopf handlers for ProviderIntegration."""

from __future__ import annotations

from typing import Any

import kopf

from ccloud_operator import runtime
from ccloud_operator.constants import (
    DEPENDENCY_REVISION_ANNOTATION,
    GROUP,
    MANAGED_CONNECTORS,
    PROVIDER_INTEGRATION_KIND,
    PROVIDER_INTEGRATIONS,
    VERSION,
)
from ccloud_operator.handlers.common import parse_spec, ready_of, run_pass
from ccloud_operator.models.provider_integration import ProviderIntegrationSpec
from ccloud_operator.reconcilers.provider_integration import ResourceRef


def _ref(body: kopf.Body) -> ResourceRef:
    return ResourceRef(
        namespace=body.metadata.namespace or "",
        name=body.metadata.name or "",
        generation=body.metadata.get("generation"),
        status=dict(body.get("status") or {}),
        annotations=dict(body.metadata.annotations),
    )


async def reconcile(body: kopf.Body, patch: kopf.Patch, **_: Any) -> None:
    """Create, update, resume and periodic validation all run this one idempotent pass."""
    spec = parse_spec(ProviderIntegrationSpec, body, patch)
    reconciler = runtime.current().provider_integrations
    try:
        await run_pass(PROVIDER_INTEGRATION_KIND, body, patch, lambda: reconciler.reconcile(_ref(body), spec))
    finally:
        await _wake_connectors(body, patch)


async def finalize(body: kopf.Body, patch: kopf.Patch, **_: Any) -> None:
    """Deletion: blocks (retrying) while something uses the integration."""
    spec = parse_spec(ProviderIntegrationSpec, body, patch)
    reconciler = runtime.current().provider_integrations
    await run_pass(PROVIDER_INTEGRATION_KIND, body, patch, lambda: reconciler.finalize(_ref(body), spec), deleting=True)


async def _wake_connectors(body: kopf.Body, patch: kopf.Patch) -> None:
    """Tell ManagedConnectors using this integration that its id or readiness changed.

    Connectors then react at once instead of at their next poll, so applying both kinds together
    (kubectl apply -f dir/, Argo CD) converges quickly.
    """
    status = body.get("status") or {}
    integration_id = patch.status.get("integrationId", status.get("integrationId"))
    revision = f"{PROVIDER_INTEGRATIONS}/{body.metadata.name}/{integration_id}/{ready_of(body, patch)}"
    was = f"{PROVIDER_INTEGRATIONS}/{body.metadata.name}/{status.get('integrationId')}/{ready_of(body, kopf.Patch())}"
    if revision == was:
        return
    rt = runtime.current()
    namespace = body.metadata.namespace or ""
    for item in await rt.kube.list_managed_connectors(namespace):
        if (item.get("spec", {}).get("providerIntegrationRef") or {}).get("name") == body.metadata.name:
            await rt.kube.annotate(
                MANAGED_CONNECTORS,
                namespace,
                item["metadata"]["name"],
                {DEPENDENCY_REVISION_ANNOTATION: revision},
            )


def register(registry: kopf.OperatorRegistry, validation_interval: float) -> None:
    """Attach the handlers to a kopf registry."""
    resource = (GROUP, VERSION, PROVIDER_INTEGRATIONS)
    for decorator in (kopf.on.create, kopf.on.update, kopf.on.resume):
        decorator(*resource, registry=registry, id=f"reconcile-{decorator.__name__}")(reconcile)
    kopf.timer(
        *resource,
        registry=registry,
        id="validate",
        interval=validation_interval,
        initial_delay=validation_interval,
    )(reconcile)
    kopf.on.delete(*resource, registry=registry, id="finalize")(finalize)
