"""The Secret watch: a changed Secret wakes the objects that read it, and a rotated operator-wide key
is picked up."""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

import kopf
import pydantic

from ccloud_operator import logs, runtime
from ccloud_operator.constants import (
    GROUP,
    MANAGED_CONNECTORS,
    PROVIDER_INTEGRATIONS,
    VERSION,
)
from ccloud_operator.handlers import resync
from ccloud_operator.models.managed_connector import ManagedConnectorSpec
from ccloud_operator.models.provider_integration import ProviderIntegrationSpec
from ccloud_operator.sharding import Shard

#: (namespace, Secret name) -> (name, uid) of the objects of one kind that read that Secret.
SecretIndex = kopf.Index[tuple[str, str], tuple[str, str]]


def _indexer(model: type[ManagedConnectorSpec] | type[ProviderIntegrationSpec]) -> Callable[..., Any]:
    def index(
        spec: kopf.Spec, name: str, namespace: str | None, uid: str | None, **_: Any
    ) -> dict[tuple[str, str], tuple[str, str]]:
        """(namespace, Secret name) -> the objects of this kind that read that Secret."""
        try:
            parsed = model.model_validate(dict(spec))
        except pydantic.ValidationError:
            return {}
        return {(namespace or "", secret): (name, uid or "") for secret in parsed.referenced_secrets()}

    return index


@logs.about_object
async def secret_changed(
    body: kopf.Body,
    name: str,
    namespace: str | None,
    connector_secrets: SecretIndex,
    integration_secrets: SecretIndex,
    loop: resync.ResyncLoop,
    **_: Any,
) -> None:
    """A Secret changed: wake what reads it, so a rotated value is applied within seconds."""
    namespace = namespace or ""
    rt = runtime.current()
    if rt.clients.is_default_secret(namespace, name):
        await rt.clients.reload_default(rt.kube)
    revision = f"secrets/{name}/{body.metadata.get('resourceVersion')}"
    for plural, index in ((MANAGED_CONNECTORS, connector_secrets), (PROVIDER_INTEGRATIONS, integration_secrets)):
        for reader, uid in list(index.get((namespace, name), [])):
            await resync.wake(loop, rt.kube, plural, namespace, reader, uid, revision)


def register(registry: kopf.OperatorRegistry, loop: resync.ResyncLoop, shard: Shard | None = None) -> None:
    """Attach the indexes and the Secret watch to a kopf registry, kept to this shard's namespaces
    (the operator-wide key's Secret excepted: every shard uses that key)."""
    shard = shard or Shard()
    when = shard.when()
    kopf.index(GROUP, VERSION, MANAGED_CONNECTORS, registry=registry, id="connector_secrets", when=when)(
        _indexer(ManagedConnectorSpec)
    )
    kopf.index(GROUP, VERSION, PROVIDER_INTEGRATIONS, registry=registry, id="integration_secrets", when=when)(
        _indexer(ProviderIntegrationSpec)
    )

    def relevant(name: str, namespace: str | None, **_: Any) -> bool:
        return shard.owns(namespace) or runtime.current().clients.is_default_secret(namespace or "", name)

    kopf.on.event("", "v1", "secrets", registry=registry, id="secret-changed", when=relevant)(
        functools.partial(secret_changed, loop=loop)
    )
