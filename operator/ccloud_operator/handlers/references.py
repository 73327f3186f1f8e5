"""Who references whom, kept from the watch events this process sees: an integration finds the
connectors that use it, a Secret the objects that read it, so a change wakes exactly those.

These were kopf indexes. kopf holds back every handler of every object until all objects of the first
listing are indexed, and it waits inside each object's worker; with kopf's workers bounded
(``max_concurrent_objects``), a start-up with more objects than workers waited for ever: the objects
holding the workers waited for the ones that could not get a worker to be indexed. Nothing here needs
that barrier: an object not indexed yet has its own start-up pass still to come, which reads the
current state anyway.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

import pydantic

from ccloud_operator.models.managed_connector import ManagedConnectorSpec
from ccloud_operator.models.provider_integration import ProviderIntegrationSpec

#: (namespace, name) of what is referenced.
Key = tuple[str, str]


class References:
    """For one kind: which of its objects reference each (namespace, name), as (name, uid) pairs."""

    def __init__(self, referenced: Callable[[Mapping[str, Any]], Iterable[str]]) -> None:
        #: The names an object's spec references, in the object's own namespace.
        self._referenced = referenced
        self._by_key: dict[Key, dict[str, str]] = {}
        self._keys_of: dict[str, tuple[Key, ...]] = {}

    def see(self, body: Mapping[str, Any], deleted: bool = False) -> None:
        """A watch event of an object of this kind: its references now (none once it is deleted)."""
        metadata = body.get("metadata") or {}
        uid, name = str(metadata.get("uid") or ""), str(metadata.get("name") or "")
        namespace = str(metadata.get("namespace") or "")
        for key in self._keys_of.pop(uid, ()):
            users = self._by_key.get(key)
            if users is not None:
                users.pop(uid, None)
                if not users:
                    del self._by_key[key]
        if deleted or not uid:
            return
        keys = tuple({(namespace, ref) for ref in self._referenced(body.get("spec") or {})})
        if keys:
            self._keys_of[uid] = keys
            for key in keys:
                self._by_key.setdefault(key, {})[uid] = name

    def of(self, namespace: str, name: str) -> list[tuple[str, str]]:
        """The (name, uid) of the objects that reference ``name`` in ``namespace``."""
        return [(user, uid) for uid, user in (self._by_key.get((namespace, name)) or {}).items()]

    def __len__(self) -> int:
        return len(self._keys_of)


def _integration_of(spec: Mapping[str, Any]) -> Iterable[str]:
    ref = (spec.get("providerIntegrationRef") or {}).get("name")
    return [ref] if ref else []


def _secrets_of(model: type[ManagedConnectorSpec] | type[ProviderIntegrationSpec]) -> Callable[..., Iterable[str]]:
    def referenced(spec: Mapping[str, Any]) -> Iterable[str]:
        try:
            return model.model_validate(dict(spec)).referenced_secrets()
        except pydantic.ValidationError:
            return []  # reported by the object's own pass; nothing to wake it for

    return referenced


@dataclass
class Directory:
    """The references of one operator process."""

    integration_users: References = field(default_factory=lambda: References(_integration_of))
    connector_secrets: References = field(default_factory=lambda: References(_secrets_of(ManagedConnectorSpec)))
    integration_secrets: References = field(default_factory=lambda: References(_secrets_of(ProviderIntegrationSpec)))
