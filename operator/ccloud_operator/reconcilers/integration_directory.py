"""The status of each ProviderIntegration as the operator's watch last showed it.

Connectors read their integration's id and readiness on every pass; asking the API server each
time cost one GET per connector per pass (and, at a thousand connectors, filled the thread pool the
AWS calls need). The watch already delivers every change, so its last word is kept here, the way an
informer cache would.
"""

from __future__ import annotations

from typing import Any


class IntegrationDirectory:
    """ProviderIntegration statuses by (namespace, name), fed by the watch."""

    def __init__(self) -> None:
        self._statuses: dict[tuple[str, str], dict[str, Any]] = {}

    def record(self, namespace: str, name: str, status: dict[str, Any]) -> None:
        self._statuses[(namespace, name)] = dict(status)

    def forget(self, namespace: str, name: str) -> None:
        self._statuses.pop((namespace, name), None)

    def status(self, namespace: str, name: str) -> dict[str, Any] | None:
        """The last status seen, or None when the watch has not shown this integration (yet)."""
        return self._statuses.get((namespace, name))
