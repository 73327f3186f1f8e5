"""Which ManagedConnector claims which Confluent connector, fed by the operator's watch.

Connectors are keyed by (environment, cluster, name) in Confluent, and two objects in two namespaces
can name the same one (the name defaults to metadata.name). One of them owns it: the object whose
status records it, or, while neither does, the one created first. The other is told (reason
NameConflict, naming the owner) and never calls Confluent for it, so it can neither change nor delete
the owner's connector.
"""

from __future__ import annotations

from dataclasses import dataclass

ConnectorKey = tuple[str, str, str]


@dataclass(frozen=True)
class Claim:
    """One ManagedConnector's claim on a connector."""

    uid: str
    owner: str  # namespace/name
    created: str  # metadata.creationTimestamp (RFC 3339, so it sorts by time)
    recorded: bool  # its status records the connector as its own


class ConnectorClaims:
    """Claims by connector key, as the watch last showed each object."""

    def __init__(self) -> None:
        self._claims: dict[ConnectorKey, dict[str, Claim]] = {}
        self._keys: dict[str, ConnectorKey] = {}

    def record(self, key: ConnectorKey, claim: Claim) -> None:
        """The object `claim.uid` names the connector `key` now."""
        self.forget(claim.uid)
        self._claims.setdefault(key, {})[claim.uid] = claim
        self._keys[claim.uid] = key

    def forget(self, uid: str) -> None:
        """The object is gone."""
        key = self._keys.pop(uid, None)
        if key is not None:
            claims = self._claims.get(key, {})
            claims.pop(uid, None)
            if not claims:
                self._claims.pop(key, None)

    def rival(self, key: ConnectorKey, uid: str, created: str, owner: str) -> Claim | None:
        """Another object that owns this connector, or claimed it before the object `uid` did."""
        others = [claim for claim in self._claims.get(key, {}).values() if claim.uid != uid]
        recorded = [claim for claim in others if claim.recorded]
        if recorded:
            return recorded[0]
        earlier = [claim for claim in others if (claim.created, claim.owner) < (created, owner)]
        return min(earlier, key=lambda claim: (claim.created, claim.owner), default=None)
