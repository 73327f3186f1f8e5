"""kopf handlers for ProviderIntegration."""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

import kopf

from ccloud_operator import logs, runtime
from ccloud_operator.conditions import is_ready
from ccloud_operator.constants import (
    GROUP,
    PROVIDER_INTEGRATION_KIND,
    PROVIDER_INTEGRATIONS,
    VERSION,
)
from ccloud_operator.handlers import resync
from ccloud_operator.handlers.common import parse_spec, run_pass
from ccloud_operator.handlers.gates import is_paused, report_paused, report_violation, wait_while_paused
from ccloud_operator.handlers.references import Directory, References
from ccloud_operator.models.common import DeletionPolicy
from ccloud_operator.models.provider_integration import ProviderIntegrationSpec
from ccloud_operator.reconcilers.provider_integration import ResourceRef


def _ref(body: kopf.Body) -> ResourceRef:
    return ResourceRef(
        namespace=body.metadata.namespace or "",
        name=body.metadata.name or "",
        uid=body.metadata.uid or "",
        generation=body.metadata.get("generation"),
        status=dict(body.get("status") or {}),
        annotations=dict(body.metadata.annotations),
    )


@logs.about_object
async def reconcile(body: kopf.Body, patch: kopf.Patch, **_: Any) -> None:
    """Create, update, resume and periodic validation all run this one idempotent pass."""
    if is_paused(body):
        report_paused(body, patch)
        return
    rt = runtime.current()
    spec = parse_spec(ProviderIntegrationSpec, body, patch)
    violation = rt.guardrails.check_integration(body.metadata.namespace or "", spec)
    if violation is not None:
        report_violation(body, patch, violation)
        return
    spec = rt.guardrails.with_defaults(spec)
    reconciler = rt.provider_integrations
    await run_pass(PROVIDER_INTEGRATION_KIND, body, patch, lambda: reconciler.reconcile(_ref(body), spec))


@logs.about_object
async def finalize(body: kopf.Body, patch: kopf.Patch, **_: Any) -> None:
    """Deletion: blocks (retrying) while something uses the integration."""
    spec = parse_spec(ProviderIntegrationSpec, body, patch)
    if is_paused(body) and spec.deletion_policy is not DeletionPolicy.ORPHAN:
        wait_while_paused(body, patch)
    reconciler = runtime.current().provider_integrations
    await run_pass(PROVIDER_INTEGRATION_KIND, body, patch, lambda: reconciler.finalize(_ref(body), spec), deleting=True)
    reconciler.forget(body.metadata.uid or "")


#: The (integration id, readiness) each ProviderIntegration last announced to its connectors.
_announced: dict[str, str] = {}


@logs.about_object
async def wake_connectors(
    body: kopf.Body, type: str | None, users: References, loop: resync.ResyncLoop, **_: Any
) -> None:
    """Keep the integration directory current, and wake the connectors when the id or readiness changed.

    A watch-event handler, so it sees the status after kopf wrote it (a change handler would wake
    the connectors before the status they read is there). Connectors then react at once instead of
    at their next resync, so applying both kinds together (kubectl apply -f dir/, Argo CD) converges
    quickly.
    """
    uid = body.metadata.uid or ""
    rt = runtime.current()
    namespace = body.metadata.namespace or ""
    name = body.metadata.name or ""
    if type == "DELETED":
        _announced.pop(uid, None)
        rt.integrations.forget(namespace, name)
        return
    status = body.get("status") or {}
    rt.integrations.record(namespace, name, status)
    revision = f"{status.get('integrationId')}/{is_ready(status)}"
    previous, _announced[uid] = _announced.get(uid), revision
    # The first sight (a new integration, or every integration when the operator starts) wakes no one:
    # its connectors' own first passes, still to come, read the integration as it is.
    if previous is None or previous == revision:
        return
    # In this process, with no write: a connector the loop has not seen yet gets its first pass anyway.
    for _connector, connector_uid in users.of(namespace, name):
        loop.changed(connector_uid)


def register(
    registry: kopf.OperatorRegistry,
    loop: resync.ResyncLoop,
    directory: Directory,
    validation_interval: float,
    when: Callable[..., bool] | None = None,
) -> None:
    """Attach the handlers to a kopf registry and the periodic validation to the loop; ``when`` keeps
    them to this shard's objects."""
    resource = (GROUP, VERSION, PROVIDER_INTEGRATIONS)
    loop.add_kind(PROVIDER_INTEGRATION_KIND, PROVIDER_INTEGRATIONS, validation_interval, reconcile, finalize)
    kopf.on.event(*resource, registry=registry, id="wake-connectors", when=when)(
        resync.feeding(
            loop,
            functools.partial(wake_connectors, loop=loop, users=directory.integration_users),
            directory.integration_secrets,
        )
    )
