"""Argo CD resource actions (argocd/action-*.lua, argocd/actions-*-discovery.lua) run in a real Lua interpreter.

Argo CD reads them from the argocd-cm keys resource.customizations.actions.<group>_<kind>, hands each
script the live object as the global `obj`, shows the actions discovery.lua returns (greyed out when
disabled), and applies the object an action returns. The scripts here are taken from the generated
argocd-cm.yaml, so what is tested is what users install.
"""

from __future__ import annotations

import re
from typing import Any

import pytest
import yaml
from lupa import LuaRuntime

from chart_support import REPO

PAUSED = "ccloud.operator.dev/paused"
RESTART = "ccloud.operator.dev/restart"
ACTIONS_KEY = "resource.customizations.actions.ccloud.operator.dev_{kind}"


def actions_of(kind: str) -> dict[str, Any]:
    data = yaml.safe_load((REPO / "argocd" / "argocd-cm.yaml").read_text())["data"]
    parsed: dict[str, Any] = yaml.safe_load(data[ACTIONS_KEY.format(kind=kind)])
    return parsed


def _python(value: Any) -> Any:
    """A Lua table back as Python: a dict, or a list when its keys are 1..n."""
    if hasattr(value, "items"):
        items = {key: _python(item) for key, item in value.items()}
        if items and list(items) == list(range(1, len(items) + 1)):
            return list(items.values())
        return items
    return value


def run(script: str, obj: dict[str, Any]) -> Any:
    lua = LuaRuntime(unpack_returned_tuples=True)
    lua.globals().obj = lua.table_from(obj, recursive=True)
    return _python(lua.execute(script))


def discover(kind: str, obj: dict[str, Any]) -> dict[str, bool]:
    """Action name -> whether Argo CD offers it enabled."""
    found = run(actions_of(kind)["discovery.lua"], obj)
    return {name: not spec.get("disabled", False) for name, spec in found.items()}


def act(kind: str, action: str, obj: dict[str, Any]) -> dict[str, Any]:
    (definition,) = [d for d in actions_of(kind)["definitions"] if d["name"] == action]
    result: dict[str, Any] = run(definition["action.lua"], obj)
    return result


def connector(annotations: dict[str, str] | None = None, *, created: bool = True) -> dict[str, Any]:
    metadata: dict[str, Any] = {"name": "orders-to-s3", "namespace": "data", "generation": 3}
    if annotations is not None:
        metadata["annotations"] = annotations
    status = {"connectorName": "orders-to-s3", "state": "FAILED"} if created else {}
    return {
        "apiVersion": "ccloud.operator.dev/v1alpha1",
        "kind": "ManagedConnector",
        "metadata": metadata,
        "spec": {"connectorClass": "S3_SINK"},
        "status": status,
    }


def test_a_running_connector_offers_restart_and_pause_but_not_resume() -> None:
    assert discover("ManagedConnector", connector()) == {
        "restart": True,
        "pause-reconciliation": True,
        "resume-reconciliation": False,
    }


def test_a_paused_connector_offers_only_resume() -> None:
    assert discover("ManagedConnector", connector({PAUSED: "true"})) == {
        "restart": False,
        "pause-reconciliation": False,
        "resume-reconciliation": True,
    }


def test_restart_needs_a_connector_and_an_object_that_is_not_being_deleted() -> None:
    assert discover("ManagedConnector", connector(created=False))["restart"] is False
    deleting = connector()
    deleting["metadata"]["deletionTimestamp"] = "2026-01-01T00:00:00Z"
    assert discover("ManagedConnector", deleting)["restart"] is False


def test_restart_writes_a_new_restart_annotation_and_keeps_the_others() -> None:
    before = connector({"team": "data", RESTART: "2020-01-01T00:00:00Z"})
    after = act("ManagedConnector", "restart", before)
    stamp = after["metadata"]["annotations"][RESTART]
    # The operator restarts on a value it has not honoured yet: a fresh UTC time.
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", stamp) and stamp != "2020-01-01T00:00:00Z"
    assert after["metadata"]["annotations"]["team"] == "data"
    assert after["spec"] == before["spec"] and after["metadata"]["name"] == "orders-to-s3"


def test_restart_works_on_an_object_without_annotations() -> None:
    after = act("ManagedConnector", "restart", connector())
    assert set(after["metadata"]["annotations"]) == {RESTART}


@pytest.mark.parametrize("kind", ["ManagedConnector", "ProviderIntegration"])
def test_pause_then_resume_round_trips_through_the_paused_annotation(kind: str) -> None:
    obj = connector({"team": "data"})
    obj["kind"] = kind
    paused = act(kind, "pause-reconciliation", obj)
    assert paused["metadata"]["annotations"] == {"team": "data", PAUSED: "true"}
    assert discover(kind, paused)["resume-reconciliation"] is True
    resumed = act(kind, "resume-reconciliation", paused)
    # The operator pauses only on "true" (handlers/gates.py): anything else resumes.
    assert resumed["metadata"]["annotations"] == {"team": "data", PAUSED: "false"}
    assert discover(kind, resumed)["pause-reconciliation"] is True
    assert discover(kind, resumed)["resume-reconciliation"] is False


def test_an_integration_offers_no_restart() -> None:
    integration = connector()
    integration["kind"] = "ProviderIntegration"
    assert set(discover("ProviderIntegration", integration)) == {"pause-reconciliation", "resume-reconciliation"}
