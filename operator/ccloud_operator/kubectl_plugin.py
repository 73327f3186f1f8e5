"""`kubectl ccloud`: the operator's objects as an on-call engineer wants to see them.

Installed with the package as the `kubectl-ccloud` console script; kubectl runs any `kubectl-*`
executable on PATH as a plugin, so `kubectl ccloud status` works once the package is installed.

    kubectl ccloud status [-n NS | -A]          each ProviderIntegration with its connectors, states, reasons
    kubectl ccloud trust-policy NAME [-n NS]    the trust-policy statement to add to the role (Report mode)
    kubectl ccloud restart CONNECTOR [-n NS]    ask the operator to restart a connector once

It reads and writes through the Kubernetes API only, with the operator's own client (the kubeconfig's
current context), so it needs what `kubectl get` and `kubectl annotate` would: no Confluent or AWS
credentials.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime
import json
import os
import sys
from collections.abc import Sequence
from typing import Any
from urllib.parse import quote

import kopf

from ccloud_operator.constants import (
    GROUP,
    MANAGED_CONNECTORS,
    PAUSED_ANNOTATION,
    PROVIDER_INTEGRATIONS,
    RESTART_ANNOTATION,
    VERSION,
)
from ccloud_operator.kube import KubeApi, KubeApiError


def _build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="kubectl ccloud", description=__doc__.splitlines()[0])
    parser.add_argument("--kubeconfig", help="path of the kubeconfig (default: $KUBECONFIG or ~/.kube/config)")
    parser.add_argument("-n", "--namespace", help="namespace (default: the context's, else default)")
    commands = parser.add_subparsers(dest="command", required=True)
    status = commands.add_parser("status", help="each ProviderIntegration with its ManagedConnectors")
    status.add_argument("-A", "--all-namespaces", action="store_true", help="every namespace")
    trust = commands.add_parser("trust-policy", help="print the statement to add to the role's trust policy")
    trust.add_argument("name", help="the ProviderIntegration")
    trust.add_argument(
        "--document", action="store_true", help="print a whole trust policy document holding only the statement"
    )
    restart = commands.add_parser("restart", help="restart a ManagedConnector's connector once")
    restart.add_argument("name", help="the ManagedConnector")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the `kubectl-ccloud` console script."""
    args = _build_parser().parse_args(argv)
    if args.kubeconfig:
        os.environ["KUBECONFIG"] = args.kubeconfig
    try:
        print(asyncio.run(_run(args)), end="")
    except LookupError as error:
        print(f"kubectl ccloud: {error}", file=sys.stderr)
        return 1
    except kopf.LoginError as error:
        print(f"kubectl ccloud: cannot reach the Kubernetes API: {error}", file=sys.stderr)
        return 1
    except KubeApiError as error:
        print(f"kubectl ccloud: the API server answered {error.status}: {error.reason}", file=sys.stderr)
        return 1
    return 0


async def _run(args: argparse.Namespace) -> str:
    info = kopf.login_with_kubeconfig(settings=kopf.OperatorSettings())
    if info is None:
        raise kopf.LoginError("no kubeconfig found ($KUBECONFIG, ~/.kube/config, or --kubeconfig)")
    namespace = args.namespace or info.default_namespace or "default"
    api = KubeApi()
    try:
        if args.command == "status":
            return await status_text(api, None if args.all_namespaces else namespace)
        if args.command == "trust-policy":
            return await trust_policy_text(api, namespace, args.name, document=args.document) + "\n"
        return await restart(api, namespace, args.name) + "\n"
    finally:
        await api.aclose()


def _path(plural: str, namespace: str | None, name: str | None = None) -> str:
    path = f"/apis/{GROUP}/{VERSION}" + (f"/namespaces/{quote(namespace)}" if namespace is not None else "")
    return f"{path}/{plural}" + (f"/{quote(name)}" if name is not None else "")


async def _list(api: KubeApi, plural: str, namespace: str | None) -> list[dict[str, Any]]:
    found = await api.request("GET", _path(plural, namespace))
    items: list[dict[str, Any]] = found.get("items") or []
    return sorted(items, key=lambda item: (item["metadata"]["namespace"], item["metadata"]["name"]))


def _condition(obj: dict[str, Any], type_: str) -> dict[str, Any]:
    conditions = (obj.get("status") or {}).get("conditions") or []
    return next((c for c in conditions if c.get("type") == type_), {})


def _readiness(obj: dict[str, Any]) -> str:
    """`Ready`, or `NotReady <Reason>: message`, with the pause annotation and deletion said first."""
    words = []
    if obj["metadata"].get("deletionTimestamp"):
        words.append("(deleting)")
    if str((obj["metadata"].get("annotations") or {}).get(PAUSED_ANNOTATION, "")).lower() == "true":
        words.append("(reconciliation paused)")
    ready = _condition(obj, "Ready")
    if not ready:
        words.append("no status yet")
    elif ready.get("status") == "True":
        words.append(f"Ready ({ready.get('reason', '')})")
    else:
        message = " ".join(str(ready.get("message", "")).split())
        if len(message) > 160:
            message = message[:157] + "..."
        words.append(f"NotReady {ready.get('reason', '')}: {message}".rstrip(": "))
    return " ".join(words)


async def status_text(api: KubeApi, namespace: str | None) -> str:
    """Each ProviderIntegration, its connectors beneath it, then the connectors that use none."""
    integrations = await _list(api, PROVIDER_INTEGRATIONS, namespace)
    connectors = await _list(api, MANAGED_CONNECTORS, namespace)
    users: dict[tuple[str, str], list[dict[str, Any]]] = {}
    for connector in connectors:
        ref = ((connector.get("spec") or {}).get("providerIntegrationRef") or {}).get("name")
        users.setdefault((connector["metadata"]["namespace"], ref or ""), []).append(connector)
    lines: list[str] = []
    for integration in integrations:
        meta, status = integration["metadata"], integration.get("status") or {}
        lines.append(
            f"ProviderIntegration {meta['namespace']}/{meta['name']}  {status.get('integrationId') or '-'}  "
            f"{_readiness(integration)}"
        )
        if status.get("roleArn"):
            lines.append(f"  role {status['roleArn']}")
        for name, check in sorted((status.get("validation") or {}).items()):
            if isinstance(check, dict) and check.get("result") != "Passed":
                lines.append(f"  check {name}: {check.get('result')}: {check.get('message', '')}")
        lines += [_connector_line(c) for c in users.pop((meta["namespace"], meta["name"]), [])]
        if lines[-1].startswith("ProviderIntegration") or lines[-1].startswith("  role"):
            lines.append("  (no ManagedConnector uses it)")
    for (ns, ref), rest in sorted(users.items()):
        lines.append(
            f"ManagedConnectors in {ns} without a ProviderIntegration"
            if not ref
            else f"ManagedConnectors in {ns} naming the missing ProviderIntegration {ref}"
        )
        lines += [_connector_line(c) for c in rest]
    if not lines:
        where = "any namespace" if namespace is None else f"namespace {namespace}"
        lines.append(f"No ProviderIntegration or ManagedConnector in {where}.")
    return "\n".join(lines) + "\n"


def _connector_line(connector: dict[str, Any]) -> str:
    meta, status = connector["metadata"], connector.get("status") or {}
    state = status.get("state") or "-"
    tasks = f" tasks {status['tasksReady']}" if status.get("tasksReady") else ""
    connector_id = status.get("connectorId") or "-"
    return f"  └─ ManagedConnector {meta['name']}  {connector_id}  {state}{tasks}  {_readiness(connector)}"


async def trust_policy_text(api: KubeApi, namespace: str, name: str, *, document: bool = False) -> str:
    """The statement the role's trust policy needs, as the operator published it."""
    integration = await _get(api, PROVIDER_INTEGRATIONS, namespace, name)
    published = (integration.get("status") or {}).get("requiredTrustPolicy")
    if not published:
        raise LookupError(
            f"ProviderIntegration {namespace}/{name} has no status.requiredTrustPolicy yet: the operator publishes it "
            "once the integration exists in Confluent Cloud (kubectl ccloud status shows why it does not)"
        )
    statement = json.loads(published)
    if document:
        return json.dumps({"Version": "2012-10-17", "Statement": [statement]}, indent=2)
    return json.dumps(statement, indent=2)


async def restart(api: KubeApi, namespace: str, name: str) -> str:
    """Ask the operator to restart the connector once: a new value of the restart annotation."""
    connector = await _get(api, MANAGED_CONNECTORS, namespace, name)
    if str((connector["metadata"].get("annotations") or {}).get(PAUSED_ANNOTATION, "")).lower() == "true":
        raise LookupError(
            f"ManagedConnector {namespace}/{name} is paused ({PAUSED_ANNOTATION}): the operator would not see the "
            "request until the annotation goes"
        )
    # Microseconds: two restarts asked within one second are two requests.
    requested = datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    patch = {"metadata": {"annotations": {RESTART_ANNOTATION: requested}}}
    await api.request(
        "PATCH", _path(MANAGED_CONNECTORS, namespace, name), body=patch, content_type="application/merge-patch+json"
    )
    return (
        f"managedconnector.{GROUP}/{name} restart requested ({RESTART_ANNOTATION}={requested}); "
        f"kubectl get events -n {namespace} --field-selector involvedObject.name={name} shows ConnectorRestarted"
    )


async def _get(api: KubeApi, plural: str, namespace: str, name: str) -> dict[str, Any]:
    try:
        found: dict[str, Any] = await api.request("GET", _path(plural, namespace, name))
    except KubeApiError as error:
        if error.status == 404:
            kind = "ProviderIntegration" if plural == PROVIDER_INTEGRATIONS else "ManagedConnector"
            raise LookupError(f"{kind} {namespace}/{name} not found") from error
        raise
    return found
