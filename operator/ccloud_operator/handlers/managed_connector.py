"""kopf handlers for ManagedConnector."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import kopf
import pydantic

from ccloud_operator import logs, runtime
from ccloud_operator.constants import (
    GROUP,
    MANAGED_CONNECTOR_KIND,
    MANAGED_CONNECTORS,
    VERSION,
)
from ccloud_operator.handlers import resync as resync_loop
from ccloud_operator.handlers.common import parse_spec, run_pass
from ccloud_operator.handlers.gates import is_paused, report_paused, report_violation, wait_while_paused
from ccloud_operator.handlers.references import Directory
from ccloud_operator.models.common import DeletionPolicy
from ccloud_operator.models.managed_connector import ManagedConnectorSpec
from ccloud_operator.reconcilers.connector_claims import Claim
from ccloud_operator.reconcilers.managed_connector import ConnectorRef, Trigger


def _ref(body: kopf.Body) -> ConnectorRef:
    return ConnectorRef(
        namespace=body.metadata.namespace or "",
        name=body.metadata.name or "",
        uid=body.metadata.uid or "",
        generation=body.metadata.get("generation"),
        status=dict(body.get("status") or {}),
        annotations=dict(body.metadata.annotations),
        created=str(body.metadata.get("creationTimestamp") or ""),
    )


async def _run(body: kopf.Body, patch: kopf.Patch, *, trigger: Trigger) -> None:
    if is_paused(body):
        report_paused(body, patch)
        return
    spec = parse_spec(ManagedConnectorSpec, body, patch)
    rt = runtime.current()
    violation = rt.guardrails.check_connector(body.metadata.namespace or "", spec)
    if violation is not None:
        report_violation(body, patch, violation)
        return
    reconciler = rt.managed_connectors
    await run_pass(MANAGED_CONNECTOR_KIND, body, patch, lambda: reconciler.reconcile(_ref(body), spec, trigger=trigger))


@logs.about_object
async def resync(body: kopf.Body, patch: kopf.Patch, retry: int, change: bool = False, **_: Any) -> None:
    """A pass of the resync loop: a change's (a fresh read), a poll while the last pass asked to come
    back, or the periodic resync; polls and resyncs are served from the one shared list per cluster."""
    await _run(body, patch, trigger="change" if change else "poll" if retry else "resync")


@logs.about_object
async def finalize(body: kopf.Body, patch: kopf.Patch, **_: Any) -> None:
    """Deletion: the connector goes first, and the finalizer only once Confluent no longer lists it."""
    spec = parse_spec(ManagedConnectorSpec, body, patch)
    if is_paused(body) and spec.deletion_policy is not DeletionPolicy.ORPHAN:
        wait_while_paused(body, patch)
    reconciler = runtime.current().managed_connectors
    await run_pass(MANAGED_CONNECTOR_KIND, body, patch, lambda: reconciler.finalize(_ref(body), spec), deleting=True)
    reconciler.forget(body.metadata.uid or "")


@logs.about_object
async def record_claim(body: kopf.Body, type: str | None, **_: Any) -> None:
    """Keep the claims current: which object names which connector, and whether its status records it."""
    claims = runtime.current().connector_claims
    uid = body.metadata.uid or ""
    if type == "DELETED":
        claims.forget(uid)
        return
    try:
        spec = ManagedConnectorSpec.model_validate(dict(body.spec))
    except pydantic.ValidationError:
        claims.forget(uid)
        return
    name = spec.effective_connector_name(body.metadata.name or "")
    claims.record(
        (spec.environment, spec.kafka_cluster, name),
        Claim(
            uid=uid,
            owner=f"{body.metadata.namespace}/{body.metadata.name}",
            created=str(body.metadata.get("creationTimestamp") or ""),
            recorded=(body.get("status") or {}).get("connectorName") == name,
        ),
    )


def register(
    registry: kopf.OperatorRegistry,
    loop: resync_loop.ResyncLoop,
    directory: Directory,
    resync_interval: float,
    when: Callable[..., bool] | None = None,
) -> None:
    """Attach the handlers to a kopf registry and the periodic resync to the loop; ``when`` keeps them
    to this shard's objects."""
    resource = (GROUP, VERSION, MANAGED_CONNECTORS)
    loop.add_kind(MANAGED_CONNECTOR_KIND, MANAGED_CONNECTORS, resync_interval, resync, finalize)
    kopf.on.event(*resource, registry=registry, id="record-claim", when=when)(
        resync_loop.feeding(loop, record_claim, directory.integration_users, directory.connector_secrets)
    )
