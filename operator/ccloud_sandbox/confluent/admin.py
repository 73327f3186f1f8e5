"""A small typed client for the emulator's `/_sandbox/` admin API (documented in `admin_api`)."""

from __future__ import annotations

from dataclasses import dataclass
from types import TracebackType
from typing import Any

import httpx


@dataclass(frozen=True)
class ApiKeyGrant:
    """A Cloud API key made through the admin API, for a new service account."""

    api_key: str
    api_secret: str
    service_account_id: str
    principal: str
    role_binding_ids: tuple[str, ...]

    @property
    def basic_auth(self) -> tuple[str, str]:
        """`(api_key, api_secret)` for `auth=`."""
        return (self.api_key, self.api_secret)


class SandboxAdmin:
    """Client for `/_sandbox/`; connector helpers default to the seeded environment and cluster."""

    def __init__(self, base_url: str, environment_id: str, kafka_cluster_id: str, *, timeout: float = 10.0) -> None:
        self.environment_id = environment_id
        self.kafka_cluster_id = kafka_cluster_id
        self._http = httpx.Client(base_url=f"{base_url}/_sandbox", timeout=timeout)

    def close(self) -> None:
        """Close the HTTP client."""
        self._http.close()

    def __enter__(self) -> SandboxAdmin:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, traceback: TracebackType | None
    ) -> None:
        self.close()

    def _call(self, method: str, path: str, body: Any = None, params: dict[str, str] | None = None) -> Any:
        response = self._http.request(method, path, json=body, params=params)
        response.raise_for_status()
        return response.json() if response.content else None

    # -- observation ---------------------------------------------------------------------------------

    def state(self) -> dict[str, Any]:
        """The whole emulator state, secrets masked."""
        result: dict[str, Any] = self._call("GET", "/state")
        return result

    def requests(self, path_prefix: str = "") -> list[dict[str, Any]]:
        """Recorded emulated-API requests, oldest first, optionally only paths starting with `path_prefix`."""
        result: list[dict[str, Any]] = self._call("GET", "/requests", params={"path_prefix": path_prefix})["requests"]
        return result

    def clear_requests(self) -> None:
        """Empty the request log."""
        self._call("DELETE", "/requests")

    # -- faults --------------------------------------------------------------------------------------

    def faults(self) -> dict[str, Any]:
        """Current fault settings."""
        result: dict[str, Any] = self._call("GET", "/faults")
        return result

    def set_faults(self, **settings: Any) -> dict[str, Any]:
        """Replace the fault settings (keys of `faults.FaultSettings`, e.g. `error_rate_429=0.5, seed=1`)."""
        result: dict[str, Any] = self._call("PUT", "/faults", settings)
        return result

    def clear_faults(self) -> None:
        """No faults any more."""
        self._call("DELETE", "/faults")

    def inject(self, status: int, *, count: int = 1, path: str = "*", methods: list[str] | None = None) -> None:
        """Fail the next `count` requests matching `path` (glob) with `status`; 0 holds them as timeouts."""
        self._call("POST", "/faults/inject", {"status": status, "count": count, "path": path, "methods": methods or []})

    def update_settings(
        self, *, integration_quota: int | None = None, provisioning_seconds: float | None = None
    ) -> dict[str, Any]:
        """Change the integration quota and/or the provisioning time at run time."""
        body: dict[str, Any] = {}
        if integration_quota is not None:
            body["integration_quota"] = integration_quota
        if provisioning_seconds is not None:
            body["provisioning_seconds"] = provisioning_seconds
        result: dict[str, Any] = self._call("PATCH", "/settings", body)
        return result

    def realism(self) -> dict[str, Any]:
        """The realism knobs in force."""
        result: dict[str, Any] = self._call("GET", "/realism")
        return result

    def set_realism(self, **knobs: Any) -> dict[str, Any]:
        """Change realism knobs at run time (names of `realism.Realism`, e.g. `read_lag_seconds=10`)."""
        result: dict[str, Any] = self._call("PATCH", "/realism", knobs)
        return result

    # -- identity ------------------------------------------------------------------------------------

    def create_api_key(
        self, display_name: str = "restricted", role_bindings: list[tuple[str, str]] | None = None
    ) -> ApiKeyGrant:
        """A new service account with a Cloud API key and `(role_name, crn_pattern)` bindings."""
        body = {
            "display_name": display_name,
            "role_bindings": [{"role_name": role, "crn_pattern": crn} for role, crn in role_bindings or []],
        }
        result = self._call("POST", "/api-keys", body)
        return ApiKeyGrant(
            api_key=result["api_key"],
            api_secret=result["api_secret"],
            service_account_id=result["service_account_id"],
            principal=result["principal"],
            role_binding_ids=tuple(result["role_binding_ids"]),
        )

    def revoke_api_key(self, api_key: str) -> None:
        """Delete a Cloud API key "in the console": requests with it get 401 from now on."""
        self._call("DELETE", f"/api-keys/{api_key}")

    def create_role_binding(self, principal: str, role_name: str, crn_pattern: str) -> dict[str, Any]:
        """A role binding made without authorization checks."""
        result: dict[str, Any] = self._call(
            "POST", "/role-bindings", {"principal": principal, "role_name": role_name, "crn_pattern": crn_pattern}
        )
        return result

    # -- out-of-band edits ---------------------------------------------------------------------------

    def register_integration(
        self, customer_role_arn: str, *, provider: str = "aws", display_name: str = "registered-elsewhere"
    ) -> dict[str, Any]:
        """An integration registered outside the operator (Terraform, the CLI, the console)."""
        result: dict[str, Any] = self._call(
            "POST",
            "/integrations",
            {"customer_iam_role_arn": customer_role_arn, "provider": provider, "display_name": display_name},
        )
        return result

    def delete_integration(self, integration_id: str) -> None:
        """Delete an integration "in the console", even while connectors use it."""
        self._call("DELETE", f"/integrations/{integration_id}")

    def create_cluster(self, display_name: str | None = None) -> str:
        """Make another Kafka cluster "in the console", in the seed environment; its id."""
        body = {"display_name": display_name} if display_name else {}
        return str(self._call("POST", "/clusters", body)["id"])

    def delete_cluster(self, kafka_cluster_id: str | None = None) -> None:
        """Delete a Kafka cluster "in the console" (the seeded one by default), with its connectors."""
        self._call("DELETE", f"/clusters/{kafka_cluster_id or self.kafka_cluster_id}")

    def _connector_path(self, name: str, environment_id: str | None, kafka_cluster_id: str | None) -> str:
        return f"/connectors/{environment_id or self.environment_id}/{kafka_cluster_id or self.kafka_cluster_id}/{name}"

    def replace_connector_config(
        self,
        name: str,
        config: dict[str, str],
        *,
        environment_id: str | None = None,
        kafka_cluster_id: str | None = None,
    ) -> dict[str, str]:
        """Replace a connector's config without validation; it provisions again."""
        result: dict[str, str] = self._call(
            "PUT", self._connector_path(name, environment_id, kafka_cluster_id) + "/config", config
        )
        return result

    def patch_connector_config(
        self,
        name: str,
        changes: dict[str, str | None],
        *,
        environment_id: str | None = None,
        kafka_cluster_id: str | None = None,
    ) -> dict[str, str]:
        """Merge `changes` into a connector's config (None deletes a key); it provisions again."""
        result: dict[str, str] = self._call(
            "PATCH", self._connector_path(name, environment_id, kafka_cluster_id) + "/config", changes
        )
        return result

    def fail_connector(
        self,
        name: str,
        trace: str,
        *,
        task: int | None = None,
        environment_id: str | None = None,
        kafka_cluster_id: str | None = None,
    ) -> dict[str, Any]:
        """Mark the connector (or one task) FAILED with `trace`."""
        result: dict[str, Any] = self._call(
            "POST",
            self._connector_path(name, environment_id, kafka_cluster_id) + "/fail",
            {"trace": trace, "task": task},
        )
        return result

    def delete_connector(
        self, name: str, *, environment_id: str | None = None, kafka_cluster_id: str | None = None
    ) -> None:
        """Delete a connector out of band."""
        self._call("DELETE", self._connector_path(name, environment_id, kafka_cluster_id))
