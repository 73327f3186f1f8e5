"""Argo CD health checks (argocd/*.lua), run in a real Lua interpreter against sample objects.

Argo CD hands the script the live object as the global `obj` and shows the returned
{status, message}. The samples below are shaped like what the operator writes.
"""

from __future__ import annotations

import subprocess
import sys
from typing import Any

import pytest
import yaml
from lupa import LuaRuntime

from chart_support import REPO

ARGOCD = REPO / "argocd"
PROVIDER_INTEGRATION = ARGOCD / "health-providerintegration.lua"
MANAGED_CONNECTOR = ARGOCD / "health-managedconnector.lua"
BOTH = pytest.mark.parametrize("script", [PROVIDER_INTEGRATION, MANAGED_CONNECTOR], ids=lambda path: path.stem)


def health(script: Any, obj: dict[str, Any]) -> dict[str, str]:
    """Run a health check the way Argo CD does: `obj` as a Lua table, the returned table as the result."""
    lua = LuaRuntime(unpack_returned_tuples=True)
    lua.globals().obj = lua.table_from(obj, recursive=True)
    result = lua.execute(script.read_text())
    return {"status": result["status"], "message": result["message"]}


def resource(
    ready: tuple[str, str, str] | None = None,
    *,
    generation: int = 2,
    observed: int = 2,
    spec: dict[str, Any] | None = None,
    status: dict[str, Any] | None = None,
    deleting: bool = False,
) -> dict[str, Any]:
    metadata: dict[str, Any] = {"name": "sample", "namespace": "team-a", "generation": generation}
    if deleting:
        metadata["deletionTimestamp"] = "2026-01-01T00:00:00Z"
    obj: dict[str, Any] = {"apiVersion": "ccloud.operator.dev/v1alpha1", "metadata": metadata, "spec": spec or {}}
    if ready is not None:
        condition_status, reason, message = ready
        obj["status"] = {
            "observedGeneration": observed,
            "conditions": [
                {"type": "Synced", "status": "True", "reason": "ReconcileSuccess", "message": "in sync"},
                {"type": "Ready", "status": condition_status, "reason": reason, "message": message},
            ],
            **(status or {}),
        }
    return obj


@BOTH
def test_ready_true_is_healthy_and_says_why(script: Any) -> None:
    assert health(script, resource(("True", "Available", "ready for connectors"))) == {
        "status": "Healthy",
        "message": "Available: ready for connectors",
    }


@BOTH
def test_no_status_yet_is_progressing(script: Any) -> None:
    assert health(script, resource())["status"] == "Progressing"
    assert health(script, {**resource(), "status": {"observedGeneration": 1}})["status"] == "Progressing"


@BOTH
def test_status_of_an_older_generation_is_progressing_even_if_it_was_ready(script: Any) -> None:
    result = health(script, resource(("True", "Available", "ok"), generation=3, observed=2))
    assert result == {"status": "Progressing", "message": "Waiting for the operator to observe generation 3"}


@BOTH
def test_ready_unknown_is_progressing(script: Any) -> None:
    assert health(script, resource(("Unknown", "Reconciling", "")))["status"] == "Progressing"


@BOTH
def test_an_object_being_deleted_is_progressing(script: Any) -> None:
    assert health(script, resource(("False", "DeletionBlocked", "in use"), deleting=True))["status"] == "Progressing"


@BOTH
@pytest.mark.parametrize("reason", ["Creating", "TrustPolicyPending", "Deleting", "ConfluentUnavailable"])
def test_waiting_reasons_are_progressing(script: Any, reason: str) -> None:
    assert health(script, resource(("False", reason, "in a moment")))["status"] == "Progressing"


@pytest.mark.parametrize("reason", ["WaitingForProviderIntegration", "Pausing", "Resuming"])
def test_connector_waiting_reasons_are_progressing(reason: str) -> None:
    assert health(MANAGED_CONNECTOR, resource(("False", reason, "in a moment")))["status"] == "Progressing"


@BOTH
@pytest.mark.parametrize(
    "reason",
    [
        "Failed",
        "ConfigInvalid",
        "Degraded",
        "InvalidSpec",
        "Unauthorized",
        "QuotaExceeded",
        "CredentialsNotFound",
        "TrustPolicyInvalid",
        "PermissionsMissing",
        "RoleNotFound",
        "RoleConflict",
        "DeletionBlocked",
        "AwsAccessDenied",
        "SomeReasonAddedLater",
    ],
)
def test_failures_and_invalid_config_are_degraded_with_the_operators_message(script: Any, reason: str) -> None:
    assert health(script, resource(("False", reason, "what went wrong"))) == {
        "status": "Degraded",
        "message": f"{reason}: what went wrong",
    }


def test_a_connector_paused_on_purpose_is_suspended() -> None:
    paused = resource(
        ("True", "Paused", "the connector is paused as spec.state asks"),
        spec={"state": "Paused"},
        status={"state": "PAUSED"},
    )
    assert health(MANAGED_CONNECTOR, paused)["status"] == "Suspended"
    # Even when the Ready reason is not (yet) Paused, Confluent's PAUSED plus the spec's wish is a pause.
    observed_pause = resource(("False", "Creating", "x"), spec={"state": "Paused"}, status={"state": "PAUSED"})
    assert health(MANAGED_CONNECTOR, observed_pause)["status"] == "Suspended"


def test_a_connector_paused_in_confluent_but_wanted_running_is_progressing() -> None:
    resuming = resource(
        ("False", "Resuming", "the connector is paused; resuming it"),
        spec={"state": "Running"},
        status={"state": "PAUSED"},
    )
    assert health(MANAGED_CONNECTOR, resuming)["status"] == "Progressing"


def test_argocd_cm_snippet_and_docs_carry_the_lua_files_verbatim() -> None:
    proc = subprocess.run(
        [sys.executable, str(REPO / "hack" / "sync-argocd.py"), "--check"], capture_output=True, text=True, check=False
    )
    assert proc.returncode == 0, proc.stderr
    data = yaml.safe_load((ARGOCD / "argocd-cm.yaml").read_text())["data"]
    health_keys = {key: value for key, value in data.items() if ".health." in key}
    assert health_keys == {
        "resource.customizations.health.ccloud.operator.dev_ProviderIntegration": PROVIDER_INTEGRATION.read_text(),
        "resource.customizations.health.ccloud.operator.dev_ManagedConnector": MANAGED_CONNECTOR.read_text(),
    }
    for kind, actions in (
        ("ProviderIntegration", ["pause-reconciliation", "resume-reconciliation"]),
        ("ManagedConnector", ["restart", "pause-reconciliation", "resume-reconciliation"]),
    ):
        parsed = yaml.safe_load(data[f"resource.customizations.actions.ccloud.operator.dev_{kind}"])
        discovery = ARGOCD / f"actions-{kind.lower()}-discovery.lua"
        assert parsed["discovery.lua"] == discovery.read_text()
        assert parsed["definitions"] == [
            {"name": action, "action.lua": (ARGOCD / f"action-{action}.lua").read_text()} for action in actions
        ]
    assert len(data) == 4


def test_example_applications_put_the_operator_in_an_earlier_sync_wave_than_the_resources() -> None:
    applications = [doc for doc in yaml.safe_load_all((ARGOCD / "applications.yaml").read_text()) if doc]
    waves = {
        app["metadata"]["name"]: int(app["metadata"]["annotations"]["argocd.argoproj.io/sync-wave"])
        for app in applications
    }
    assert waves["ccloud-operator"] < waves["kafka-connectors"]
    operator = next(app for app in applications if app["metadata"]["name"] == "ccloud-operator")
    assert operator["spec"]["source"]["path"] == "helm/ccloud-operator"
