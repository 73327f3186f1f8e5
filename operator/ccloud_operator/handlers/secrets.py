"""The Secret watch: a changed Secret wakes the objects that read it, and a rotated operator-wide key
is picked up."""

from __future__ import annotations

import functools
from typing import Any

import kopf

from ccloud_operator import logs, runtime
from ccloud_operator.handlers import resync
from ccloud_operator.handlers.references import Directory
from ccloud_operator.sharding import Shard


@logs.about_object
async def secret_changed(
    body: kopf.Body,
    name: str,
    namespace: str | None,
    directory: Directory,
    loop: resync.ResyncLoop,
    **_: Any,
) -> None:
    """A Secret changed: wake what reads it, so a rotated value is applied within seconds."""
    namespace = namespace or ""
    rt = runtime.current()
    if rt.clients.is_default_secret(namespace, name):
        await rt.clients.reload_default(rt.kube)
    # In this process, with no write: an object the loop has not seen yet gets its first pass anyway.
    for references in (directory.connector_secrets, directory.integration_secrets):
        for _reader, uid in references.of(namespace, name):
            loop.changed(uid)


def register(
    registry: kopf.OperatorRegistry, loop: resync.ResyncLoop, directory: Directory, shard: Shard | None = None
) -> None:
    """Attach the Secret watch to a kopf registry, kept to this shard's namespaces (the operator-wide
    key's Secret excepted: every shard uses that key). Who reads which Secret is kept in ``directory``
    by the watch-event handlers of the two kinds."""
    shard = shard or Shard()

    def relevant(name: str, namespace: str | None, **_: Any) -> bool:
        return shard.owns(namespace) or runtime.current().clients.is_default_secret(namespace or "", name)

    kopf.on.event("", "v1", "secrets", registry=registry, id="secret-changed", when=relevant)(
        functools.partial(secret_changed, loop=loop, directory=directory)
    )
