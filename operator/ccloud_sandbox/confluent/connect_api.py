"""Connect API v1 under `/connect/v1/environments/{environment_id}/clusters/{kafka_cluster_id}`.

Connectors are keyed by name. Writes change the true state; reads (list, read, config, status, tasks)
see it through the read replica, which trails by the realism's read lag. A deleted connector lingers in
state DELETED (listed, counted in its integration's usages, its name still taken) for the realism's
`delete_linger_seconds`. Choices where the real service is undocumented (see the package docstring and
`realism`): a duplicate create answers 400 or 409 (a seeded draw); a missing connector or cluster
answers the realism's `missing_resource_status` (403 in the realistic profile); PUT config on a missing
connector creates it (200, the spec lists no 201).
"""

from __future__ import annotations

import time
from typing import Any

from aiohttp import web

from ccloud_sandbox.confluent.context import (
    OPERATION_OVERRIDE,
    Sandbox,
    caller,
    json_body,
    json_response,
    operation,
    sandbox_of,
)
from ccloud_sandbox.confluent.errors import ApiError
from ccloud_sandbox.confluent.plugins import (
    PLUGINS,
    Plugin,
    PluginContext,
    ValidationResult,
    mask_config,
    validate,
)
from ccloud_sandbox.confluent.state import Connector, SandboxState, new_resource_id

BASE = "/connect/v1/environments/{environment_id}/clusters/{kafka_cluster_id}"
SCHEMA_REGISTRY_FORMATS = ("AVRO", "JSON_SR", "PROTOBUF")


def _missing(request: web.Request, detail: str) -> ApiError:
    """The error for something that does not exist: 404, or 403 where the API answers that instead."""
    status = sandbox_of(request).realism.missing_resource_status
    return ApiError(status, detail if status == 404 else "Forbidden Access")


def _scope(request: web.Request) -> tuple[str, str]:
    state = sandbox_of(request).state
    environment_id = request.match_info["environment_id"]
    cluster_id = request.match_info["kafka_cluster_id"]
    cluster = state.clusters.get(cluster_id)
    if environment_id not in state.environments or cluster is None or cluster.environment_id != environment_id:
        raise _missing(request, "account not found")
    return environment_id, cluster_id


def _require(request: web.Request, allowed: bool) -> None:
    if not allowed:
        raise ApiError(403, f"Forbidden Access: '{caller(request)}' lacks a role allowing this connector operation")


def _operable_scope(request: web.Request) -> tuple[str, str]:
    environment_id, cluster_id = _scope(request)
    authorizer = sandbox_of(request).authorizer
    _require(request, authorizer.can_operate_connectors(caller(request), environment_id, cluster_id))
    return environment_id, cluster_id


def _managed_scope(request: web.Request) -> tuple[str, str]:
    environment_id, cluster_id = _scope(request)
    authorizer = sandbox_of(request).authorizer
    _require(request, authorizer.can_manage_connectors(caller(request), environment_id, cluster_id))
    return environment_id, cluster_id


def _find(request: web.Request) -> Connector:
    """The connector a write names, from the true state (a deleted one is not found)."""
    name = request.match_info["connector_name"]
    connector = sandbox_of(request).state.live_connector(*_scope(request), name)
    if connector is None:
        raise _missing(request, f"Connector {name} not found")
    return connector


def _seen(request: web.Request) -> dict[str, Any]:
    """The connector a read names, as the read replica shows it (an expanded-list entry)."""
    name = request.match_info["connector_name"]
    sandbox = sandbox_of(request)
    entry = sandbox.connector_reads.view(SandboxState.connector_slot(*_scope(request), name))
    if entry is None:
        raise _missing(request, f"Connector {name} not found")
    return entry


def _type_of(connector: Connector) -> str:
    plugin = PLUGINS.get(connector.config.get("connector.class", ""))
    return plugin.type if plugin is not None else "source"


def shown_config(state: SandboxState, connector: Connector) -> dict[str, str]:
    """The config as the API returns it: masked, with the keys the service adds (CONTRACT.md section 5)."""
    cluster = state.clusters[connector.cluster_id]
    shown = mask_config(connector.config)
    shown.update(
        {
            "cloud.environment": "prod",
            "cloud.provider": "aws",
            "connector.crn": state.connector_crn(connector),
            "kafka.endpoint": cluster.bootstrap_endpoint,
            "kafka.region": cluster.region,
            "kafka.dedicated": "false",
            "kafka.max.partition.validation.disable": "false",
            "valid.kafka.api.key": "true",
        }
    )
    formats = (connector.config.get("input.data.format"), connector.config.get("output.data.format"))
    if any(f in SCHEMA_REGISTRY_FORMATS for f in formats):
        shown["schema.registry.url"] = f"https://psrc-{cluster.id[4:]}.{cluster.region}.aws.confluent.cloud"
    return shown


def _task_refs(connector: Connector) -> list[dict[str, Any]]:
    return [{"connector": connector.name, "task": t.id} for t in connector.tasks]


def connector_json(state: SandboxState, connector: Connector) -> dict[str, Any]:
    """The `connect.v1.Connector` representation."""
    return {
        "name": connector.name,
        "config": shown_config(state, connector),
        "tasks": _task_refs(connector),
        "type": _type_of(connector),
    }


def expanded_entry(state: SandboxState, connector: Connector) -> dict[str, Any]:
    """Everything reads show of a connector: one entry of `?expand=id,info,status`."""
    return {
        "id": {"id": connector.id, "id_type": "ID"},
        "info": connector_json(state, connector),
        "status": status_json(connector),
    }


def status_json(connector: Connector) -> dict[str, Any]:
    """The body of the status endpoint."""
    status: dict[str, Any] = {"state": connector.state, "worker_id": connector.id}
    if connector.trace:
        status["trace"] = connector.trace
    tasks = []
    for task in connector.tasks:
        entry: dict[str, Any] = {"id": task.id, "state": task.state, "worker_id": connector.id}
        if task.msg:
            entry["msg"] = task.msg
        tasks.append(entry)
    return {"name": connector.name, "type": _type_of(connector), "connector": status, "tasks": tasks}


def _plugin_context(request: web.Request, environment_id: str) -> PluginContext:
    state = sandbox_of(request).state

    def integration_exists(integration_id: str) -> bool:
        integration = state.integrations.get(integration_id)
        return integration is not None and integration.environment_id == environment_id

    return PluginContext(
        environment_id=environment_id,
        integration_exists=integration_exists,
        service_account_exists=lambda account_id: account_id in state.service_accounts,
    )


def _invalid_config(plugin_class: str, result: ValidationResult) -> ApiError:
    lines = "\n".join(result.messages())
    # Kafka Connect's wording for a create/update that fails validation.
    return ApiError(
        400,
        f"Connector configuration is invalid and contains the following {result.error_count} error(s):\n{lines}\n"
        f"You can also find the above list of errors at the endpoint "
        f"`/connector-plugins/{plugin_class}/config/validate`",
    )


def _checked_config(request: web.Request, name: str, config: Any, environment_id: str) -> dict[str, str]:
    """Validate a config for create/update; returns it with `name` filled in."""
    if not isinstance(config, dict):
        raise ApiError(400, "config must be a JSON object of string values")
    if not all(isinstance(v, str) for v in config.values()):
        raise ApiError(400, "All connector config values must be strings")
    if "name" in config and config["name"] != name:
        raise ApiError(
            400, f"Connector name configuration ({config['name']}) doesn't match connector name in the URL ({name})"
        )
    checked: dict[str, str] = {**config, "name": name}
    plugin_class = checked.get("connector.class", "")
    plugin = PLUGINS.get(plugin_class)
    if plugin is None:
        raise ApiError(400, f"Failed to find any class that implements Connector and which name matches {plugin_class}")
    result = validate(plugin, checked, _plugin_context(request, environment_id))
    if result.error_count:
        raise _invalid_config(plugin_class, result)
    integration_id = checked.get("provider.integration.id")
    if integration_id:
        sandbox = sandbox_of(request)
        if not sandbox.authorizer.can_use_integration(caller(request), environment_id, integration_id):
            raise ApiError(
                403,
                f"Forbidden Access: '{caller(request)}' needs the ResourceOwner or Assigner role on provider "
                f"integration '{integration_id}' to use it in a connector",
            )
    return checked


@operation("listConnectv1Connectors")
async def list_connectors(request: web.Request) -> web.StreamResponse:
    """GET .../connectors, and with `?expand=id,info,status` the expanded map."""
    expand = {part.strip() for part in request.query.get("expand", "").split(",") if part.strip()}
    expand &= {"id", "info", "status"}
    if expand:
        # Before the scope check: a refused list with `expand` is still the operation that declares it.
        request[OPERATION_OVERRIDE] = "listConnectv1ConnectorsWithExpansions"
    environment_id, cluster_id = _operable_scope(request)
    prefix = SandboxState.connector_slot(environment_id, cluster_id, "")
    seen = [entry for slot, entry in sandbox_of(request).connector_reads.visible() if slot.startswith(prefix)]
    if not expand:
        return json_response([entry["info"]["name"] for entry in seen])
    expanded = {entry["info"]["name"]: {part: entry[part] for part in sorted(expand)} for entry in seen}
    return json_response(expanded)


@operation("createConnectv1Connector")
async def create_connector(request: web.Request) -> web.StreamResponse:
    """POST .../connectors: 201 at once, the connector then provisions in the background."""
    environment_id, cluster_id = _managed_scope(request)
    sandbox = sandbox_of(request)
    body = await json_body(request)
    if not isinstance(body, dict):
        raise ApiError(400, "The request body must be a JSON object with name and config")
    name = body.get("name")
    if not isinstance(name, str) or not name:
        raise ApiError(400, "Connector name is required")
    if sandbox.state.find_connector(environment_id, cluster_id, name) is not None:
        # A name is taken until a deleted connector of that name has stopped lingering.
        raise ApiError(sandbox.draws.duplicate_connector_status(sandbox.realism), f"Connector {name} already exists")
    config = _checked_config(request, name, body.get("config"), environment_id)
    connector = Connector(
        name=name,
        id=new_resource_id("lcc"),
        environment_id=environment_id,
        cluster_id=cluster_id,
        config=config,
    )
    sandbox.state.connectors[SandboxState.connector_slot(environment_id, cluster_id, name)] = connector
    sandbox.runtime.provision(connector)
    sandbox.changed(connector)
    body_out = connector_json(sandbox.state, connector)
    offsets = body.get("offsets")
    body_out["offsets"] = offsets if isinstance(offsets, list) else []
    return json_response(body_out, 201)


@operation("readConnectv1Connector")
async def read_connector(request: web.Request) -> web.StreamResponse:
    """GET .../connectors/{connector_name}"""
    _operable_scope(request)
    return json_response(_seen(request)["info"])


def delete(sandbox: Sandbox, connector: Connector) -> None:
    """Delete a connector: it stops, then lingers in state DELETED for the realism's linger time."""
    sandbox.runtime.forget(connector)
    connector.state = "DELETED"
    connector.trace = ""
    connector.tasks = []
    connector.deleted_at = time.time()
    sandbox.changed(connector)
    sandbox.sweep()


@operation("deleteConnectv1Connector")
async def delete_connector(request: web.Request) -> web.StreamResponse:
    """DELETE .../connectors/{connector_name}: 200 `{"error": null}`; then it lingers as DELETED."""
    _managed_scope(request)
    delete(sandbox_of(request), _find(request))
    return json_response({"error": None})


@operation("getConnectv1ConnectorConfig")
async def get_config(request: web.Request) -> web.StreamResponse:
    """GET .../connectors/{connector_name}/config: masked, with server-added keys."""
    _operable_scope(request)
    return json_response(_seen(request)["info"]["config"])


@operation("createOrUpdateConnectv1ConnectorConfig")
async def put_config(request: web.Request) -> web.StreamResponse:
    """PUT .../connectors/{connector_name}/config: full replacement (creates when missing); re-provisions."""
    environment_id, cluster_id = _managed_scope(request)
    sandbox = sandbox_of(request)
    name = request.match_info["connector_name"]
    config = _checked_config(request, name, await json_body(request), environment_id)
    connector = sandbox.state.find_connector(environment_id, cluster_id, name)
    if connector is not None and connector.deleting:
        raise _missing(request, f"Connector {name} not found")
    if connector is None:
        connector = Connector(
            name=name, id=new_resource_id("lcc"), environment_id=environment_id, cluster_id=cluster_id, config=config
        )
        sandbox.state.connectors[SandboxState.connector_slot(environment_id, cluster_id, name)] = connector
    else:
        connector.config = config
    sandbox.runtime.provision(connector)
    sandbox.changed(connector)
    return json_response(connector_json(sandbox.state, connector))


@operation("readConnectv1ConnectorStatus")
async def read_status(request: web.Request) -> web.StreamResponse:
    """GET .../connectors/{connector_name}/status"""
    _operable_scope(request)
    return json_response(_seen(request)["status"])


@operation("listConnectv1ConnectorTasks")
async def list_tasks(request: web.Request) -> web.StreamResponse:
    """GET .../connectors/{connector_name}/tasks"""
    _operable_scope(request)
    info = _seen(request)["info"]
    tasks = [ref["task"] for ref in info["tasks"]]
    return json_response(
        [{"id": {"connector": info["name"], "task": t}, "config": {**info["config"], "task.id": str(t)}} for t in tasks]
    )


def _lifecycle(request: web.Request, action: str) -> web.StreamResponse:
    """Hand the connector to the runtime's `action` (pause, resume, restart): 202, asynchronous."""
    _operable_scope(request)
    sandbox = sandbox_of(request)
    connector = _find(request)
    getattr(sandbox.runtime, action)(connector)
    sandbox.changed(connector)
    return web.Response(status=202)


@operation("pauseConnectv1Connector")
async def pause_connector(request: web.Request) -> web.StreamResponse:
    """PUT .../pause: 202; the state turns PAUSED shortly after."""
    return _lifecycle(request, "pause")


@operation("resumeConnectv1Connector")
async def resume_connector(request: web.Request) -> web.StreamResponse:
    """PUT .../resume: 202; the state turns RUNNING shortly after (a FAILED connector is retried)."""
    return _lifecycle(request, "resume")


@operation("restartConnectv1Connector")
async def restart_connector(request: web.Request) -> web.StreamResponse:
    """POST .../restart (live API, Preview; absent from the SDK spec): 202, re-provisions."""
    return _lifecycle(request, "restart")


@operation("listConnectv1ConnectorPlugins")
async def list_plugins(request: web.Request) -> web.StreamResponse:
    """GET .../connector-plugins"""
    _operable_scope(request)
    return json_response([{"class": p.connector_class, "type": p.type, "version": p.version} for p in PLUGINS.values()])


def _plugin(request: web.Request) -> Plugin:
    plugin_class = request.match_info["plugin_name"]
    plugin = PLUGINS.get(plugin_class)
    if plugin is None:
        raise ApiError(404, f"Plugin {plugin_class} not found")
    return plugin


@operation("validateConnectv1ConnectorPlugin")
async def validate_plugin(request: web.Request) -> web.StreamResponse:
    """PUT .../connector-plugins/{plugin_name}/config/validate: 200 even when the config is invalid."""
    environment_id, _ = _operable_scope(request)
    plugin = _plugin(request)
    config = await json_body(request)
    if not isinstance(config, dict):
        raise ApiError(400, "The request body must be a flat JSON object of config values")
    result = validate(plugin, config, _plugin_context(request, environment_id))
    return json_response(result.to_response())


def routes() -> list[web.RouteDef]:
    """The Connect v1 routes."""
    connectors = f"{BASE}/connectors"
    one = f"{connectors}/{{connector_name}}"
    return [
        web.get(connectors, list_connectors, allow_head=False),
        web.post(connectors, create_connector),
        web.get(one, read_connector, allow_head=False),
        web.delete(one, delete_connector),
        web.get(f"{one}/config", get_config, allow_head=False),
        web.put(f"{one}/config", put_config),
        web.get(f"{one}/status", read_status, allow_head=False),
        web.get(f"{one}/tasks", list_tasks, allow_head=False),
        web.put(f"{one}/pause", pause_connector),
        web.put(f"{one}/resume", resume_connector),
        web.post(f"{one}/restart", restart_connector),
        web.get(f"{BASE}/connector-plugins", list_plugins, allow_head=False),
        web.put(f"{BASE}/connector-plugins/{{plugin_name}}/config/validate", validate_plugin),
    ]
