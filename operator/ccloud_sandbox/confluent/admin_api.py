"""The `/_sandbox/` admin API: observation, faults and out-of-band edits. Not part of Confluent Cloud.

No authentication, never faulted, never rate limited, not in the response log. Bodies are JSON.

Observation
- `GET    /_sandbox/health`                      -> `{"status": "ok"}`
- `GET    /_sandbox/state`                       -> the whole state; secrets masked
- `GET    /_sandbox/requests[?path_prefix=/pim]` -> `{"requests": [{arrived, time, method, path, query, status,
                                                    duration_ms, request_id, operation_id, fault}]}`
                                                 (`arrived`: when the request came; `time`: when it was answered)
- `DELETE /_sandbox/requests`                    -> 204, the request log is emptied

Faults (see `faults.FaultSettings` for the document)
- `GET    /_sandbox/faults`                      -> current settings
- `PUT    /_sandbox/faults`                      -> replace settings (re-seeds the RNG, refills the bucket)
- `DELETE /_sandbox/faults`                      -> back to no faults
- `POST   /_sandbox/faults/inject`  `{"status": 503, "count": 2, "path": "/pim/*", "methods": ["POST"]}`
                                                 -> queue one-shot failures (`status` 0: a held timeout)

Settings
- `PATCH  /_sandbox/settings` `{"integration_quota"?: int, "provisioning_seconds"?: float}` -> new values
          (`provisioning_seconds` is in emulator time, i.e. already scaled)
- `GET    /_sandbox/realism`                     -> the realism knobs (see `realism.Realism`)
- `PATCH  /_sandbox/realism` `{knob: value, ...}` -> change some knobs at run time

Identity ("someone did this in the console")
- `POST   /_sandbox/api-keys` `{"display_name"?: str, "role_bindings"?: [{"role_name", "crn_pattern"}]}`
          -> 201 `{"api_key", "api_secret", "service_account_id", "principal", "role_binding_ids"}`;
          a new service account with a Cloud API key and the given bindings (none: the key can
          authenticate but is authorized for nothing)
- `DELETE /_sandbox/api-keys/{key}`             -> 204, the key is revoked (requests with it get 401)
- `POST   /_sandbox/role-bindings` `{"principal", "role_name", "crn_pattern"}` -> 201 binding

Out-of-band edits
- `POST   /_sandbox/integrations` `{"customer_iam_role_arn", "display_name"?, "provider"?}` -> 201, an
          integration registered by someone else (the console, Terraform: provider "aws" by default),
          visible at once
- `DELETE /_sandbox/integrations/{id}`           -> 204 even while connectors use it
- `POST   /_sandbox/clusters` `{"display_name"?: str}` -> 201 `{"id", "environment_id", ...}`, another Kafka
  cluster in the seed environment, as made in the console
- `DELETE /_sandbox/clusters/{lkc}`              -> 204, the Kafka cluster and its connectors are gone
- `PUT    /_sandbox/connectors/{env}/{lkc}/{name}/config`  flat map -> replace, no validation, re-provisions
- `PATCH  /_sandbox/connectors/{env}/{lkc}/{name}/config`  flat map, null deletes a key -> merge, re-provisions
- `POST   /_sandbox/connectors/{env}/{lkc}/{name}/fail` `{"trace": str, "task": int|null}` -> FAILED
          connector (task null) or one FAILED task (the connector turns DEGRADED or FAILED)
- `DELETE /_sandbox/connectors/{env}/{lkc}/{name}` -> 204, deleted as by the API (it lingers as DELETED)
"""

from __future__ import annotations

from dataclasses import asdict
from typing import Any

from aiohttp import web

from ccloud_sandbox.confluent import connect_api, pim_api
from ccloud_sandbox.confluent.context import json_body, json_response, now_iso, sandbox_of
from ccloud_sandbox.confluent.errors import ApiError
from ccloud_sandbox.confluent.faults import FaultSettings, Injection
from ccloud_sandbox.confluent.iam_api import add_role_binding, find_duplicate, validate_binding_request
from ccloud_sandbox.confluent.plugins import mask_config
from ccloud_sandbox.confluent.state import (
    MASK,
    ApiKey,
    Connector,
    SandboxState,
    ServiceAccount,
    new_cloud_api_key,
    new_cluster,
    new_resource_id,
)


async def health(request: web.Request) -> web.StreamResponse:
    """GET /_sandbox/health"""
    return json_response({"status": "ok"})


async def read_state(request: web.Request) -> web.StreamResponse:
    """GET /_sandbox/state: everything, with API secrets and sensitive connector values masked."""
    sandbox = sandbox_of(request)
    state = sandbox.state
    document = state.to_json()
    document["api_keys"] = {k: {**v, "secret": MASK} for k, v in document["api_keys"].items()}
    for slot, connector in state.connectors.items():
        document["connectors"][slot]["config"] = mask_config(connector.config)
    document["integrations"] = {
        i.id: {**asdict(i), "usages": state.integration_usages(i)} for i in state.integrations.values()
    }
    document["provisioning_seconds"] = sandbox.runtime.provisioning_seconds
    document["realism"] = sandbox.realism.to_json()
    return json_response(document)


async def list_requests(request: web.Request) -> web.StreamResponse:
    """GET /_sandbox/requests"""
    prefix = request.query.get("path_prefix", "")
    records = [r for r in sandbox_of(request).requests.records() if r["path"].startswith(prefix)]
    return json_response({"requests": records})


async def clear_requests(request: web.Request) -> web.StreamResponse:
    """DELETE /_sandbox/requests"""
    sandbox_of(request).requests.clear()
    return web.Response(status=204)


async def read_faults(request: web.Request) -> web.StreamResponse:
    """GET /_sandbox/faults"""
    return json_response(sandbox_of(request).faults.settings.to_json())


async def replace_faults(request: web.Request) -> web.StreamResponse:
    """PUT /_sandbox/faults"""
    body = await json_body(request)
    if not isinstance(body, dict):
        raise ApiError(400, "fault settings must be a JSON object")
    try:
        settings = FaultSettings.from_json(body)
    except (TypeError, ValueError) as error:
        raise ApiError(400, str(error)) from error
    sandbox_of(request).faults.configure(settings)
    return json_response(settings.to_json())


async def clear_faults(request: web.Request) -> web.StreamResponse:
    """DELETE /_sandbox/faults"""
    sandbox_of(request).faults.configure(FaultSettings())
    return web.Response(status=204)


async def inject_faults(request: web.Request) -> web.StreamResponse:
    """POST /_sandbox/faults/inject"""
    body = await json_body(request)
    try:
        injection = Injection(**body)
    except TypeError as error:
        raise ApiError(400, f"invalid injection: {error}") from error
    faults = sandbox_of(request).faults
    faults.settings.inject.append(injection)
    return json_response(faults.settings.to_json(), 201)


async def update_settings(request: web.Request) -> web.StreamResponse:
    """PATCH /_sandbox/settings"""
    sandbox = sandbox_of(request)
    body = await json_body(request)
    if not isinstance(body, dict) or set(body) - {"integration_quota", "provisioning_seconds"}:
        raise ApiError(400, "settings are integration_quota and provisioning_seconds")
    if "integration_quota" in body:
        sandbox.state.integration_quota = int(body["integration_quota"])
    if "provisioning_seconds" in body:
        nominal = float(body["provisioning_seconds"]) / (sandbox.realism.time_scale or 1.0)
        sandbox.realism = sandbox.realism.updated({"provisioning_seconds": nominal})
    sandbox.persist()
    return json_response(
        {
            "integration_quota": sandbox.state.integration_quota,
            "provisioning_seconds": sandbox.runtime.provisioning_seconds,
        }
    )


async def create_api_key(request: web.Request) -> web.StreamResponse:
    """POST /_sandbox/api-keys: a new service account, its Cloud API key and optional role bindings."""
    sandbox = sandbox_of(request)
    state = sandbox.state
    body = await json_body(request)
    if not isinstance(body, dict):
        raise ApiError(400, "body must be a JSON object")
    account = ServiceAccount(id=new_resource_id("sa", 6), display_name=str(body.get("display_name", "restricted")))
    bindings = []
    for raw in body.get("role_bindings", []):
        principal, role_name, crn_pattern = validate_binding_request({**raw, "principal": account.principal})
        bindings.append((principal, role_name, crn_pattern))
    state.service_accounts[account.id] = account
    key, secret = new_cloud_api_key()
    state.api_keys[key] = ApiKey(key=key, secret=secret, principal=account.principal)
    binding_ids = [add_role_binding(state, *b).id for b in bindings]
    sandbox.persist()
    return json_response(
        {
            "api_key": key,
            "api_secret": secret,
            "service_account_id": account.id,
            "principal": account.principal,
            "role_binding_ids": binding_ids,
        },
        201,
    )


async def revoke_api_key(request: web.Request) -> web.StreamResponse:
    """DELETE /_sandbox/api-keys/{key}: the key is deleted in the console."""
    sandbox = sandbox_of(request)
    if sandbox.state.api_keys.pop(request.match_info["key"], None) is None:
        raise ApiError(404, f"no API key {request.match_info['key']}")
    sandbox.persist()
    return web.Response(status=204)


async def create_role_binding(request: web.Request) -> web.StreamResponse:
    """POST /_sandbox/role-bindings: a binding made without any authorization check."""
    sandbox = sandbox_of(request)
    principal, role_name, crn_pattern = validate_binding_request(await json_body(request))
    binding = find_duplicate(sandbox.state, principal, role_name, crn_pattern) or add_role_binding(
        sandbox.state, principal, role_name, crn_pattern
    )
    sandbox.persist()
    return json_response(asdict(binding), 201)


async def read_realism(request: web.Request) -> web.StreamResponse:
    """GET /_sandbox/realism"""
    return json_response(sandbox_of(request).realism.to_json())


async def update_realism(request: web.Request) -> web.StreamResponse:
    """PATCH /_sandbox/realism"""
    sandbox = sandbox_of(request)
    body = await json_body(request)
    if not isinstance(body, dict):
        raise ApiError(400, "realism settings must be a JSON object")
    try:
        sandbox.realism = sandbox.realism.updated(body)
    except ValueError as error:
        raise ApiError(400, str(error)) from error
    return json_response(sandbox.realism.to_json())


async def register_integration(request: web.Request) -> web.StreamResponse:
    """POST /_sandbox/integrations: an integration someone else registered, visible at once."""
    sandbox = sandbox_of(request)
    body = await json_body(request)
    if not isinstance(body, dict) or not isinstance(body.get("customer_iam_role_arn"), str):
        raise ApiError(400, "customer_iam_role_arn is required")
    integration = pim_api.new_integration(
        sandbox.state,
        environment_id=str(body.get("environment_id") or sandbox.state.seed_environment_id),
        display_name=str(body.get("display_name") or "registered-elsewhere"),
        provider=str(body.get("provider") or "aws"),
        role_arn=body["customer_iam_role_arn"],
    )
    sandbox.integration_reads.seed(integration.id, integration)
    sandbox.persist()
    return json_response(pim_api.integration_json(request, sandbox.state, integration), 201)


async def delete_integration(request: web.Request) -> web.StreamResponse:
    """DELETE /_sandbox/integrations/{id}: removed even while in use."""
    sandbox = sandbox_of(request)
    integration = sandbox.state.integrations.pop(request.match_info["id"], None)
    if integration is None:
        raise ApiError(404, f"no integration {request.match_info['id']}")
    sandbox.changed(integration)
    return web.Response(status=204)


async def create_cluster(request: web.Request) -> web.StreamResponse:
    """POST /_sandbox/clusters: another Kafka cluster in the seed environment, in the seed cluster's region."""
    sandbox = sandbox_of(request)
    body = await json_body(request) if request.can_read_body else {}
    if not isinstance(body, dict):
        raise ApiError(400, "a JSON object is required")
    seed = sandbox.state.clusters.get(sandbox.state.seed_cluster_id)
    region = seed.region if seed is not None else "us-east-1"
    cluster = new_cluster(
        environment_id=sandbox.state.seed_environment_id,
        display_name=str(body.get("display_name") or "made-in-the-console"),
        region=region,
    )
    sandbox.state.clusters[cluster.id] = cluster
    sandbox.persist()
    return json_response(
        {
            "id": cluster.id,
            "environment_id": cluster.environment_id,
            "display_name": cluster.display_name,
            "region": cluster.region,
        },
        201,
    )


async def delete_cluster(request: web.Request) -> web.StreamResponse:
    """DELETE /_sandbox/clusters/{lkc}: the cluster is deleted in the console, its connectors with it."""
    sandbox = sandbox_of(request)
    cluster = sandbox.state.clusters.pop(request.match_info["lkc"], None)
    if cluster is None:
        raise ApiError(404, f"no cluster {request.match_info['lkc']}")
    gone = [c for c in sandbox.state.connectors.values() if c.cluster_id == cluster.id]
    for connector in gone:
        sandbox.runtime.forget(connector)
        del sandbox.state.connectors[SandboxState.connector_slot(*connector.key)]
    sandbox.changed(*gone)
    return web.Response(status=204)


def _connector(request: web.Request) -> Connector:
    connector = sandbox_of(request).state.live_connector(
        request.match_info["env"], request.match_info["lkc"], request.match_info["name"]
    )
    if connector is None:
        raise ApiError(404, f"no connector {request.match_info['name']}")
    return connector


async def _flat_map(request: web.Request) -> dict[str, Any]:
    body = await json_body(request)
    if not isinstance(body, dict):
        raise ApiError(400, "body must be a flat JSON object")
    return body


async def replace_connector_config(request: web.Request) -> web.StreamResponse:
    """PUT /_sandbox/connectors/{env}/{lkc}/{name}/config"""
    sandbox = sandbox_of(request)
    connector = _connector(request)
    body = await _flat_map(request)
    connector.config = {str(k): str(v) for k, v in body.items()}
    sandbox.runtime.provision(connector)
    sandbox.changed(connector)
    return json_response(mask_config(connector.config))


async def patch_connector_config(request: web.Request) -> web.StreamResponse:
    """PATCH /_sandbox/connectors/{env}/{lkc}/{name}/config"""
    sandbox = sandbox_of(request)
    connector = _connector(request)
    for key, value in (await _flat_map(request)).items():
        if value is None:
            connector.config.pop(key, None)
        else:
            connector.config[key] = str(value)
    sandbox.runtime.provision(connector)
    sandbox.changed(connector)
    return json_response(mask_config(connector.config))


async def fail_connector(request: web.Request) -> web.StreamResponse:
    """POST /_sandbox/connectors/{env}/{lkc}/{name}/fail"""
    sandbox = sandbox_of(request)
    connector = _connector(request)
    body = await _flat_map(request)
    trace = str(body.get("trace") or f"Failed out of band at {now_iso()}")
    task = body.get("task")
    sandbox.runtime.fail(connector, trace, int(task) if task is not None else None)
    sandbox.changed(connector)
    return json_response({"state": connector.state, "trace": connector.trace})


async def delete_connector(request: web.Request) -> web.StreamResponse:
    """DELETE /_sandbox/connectors/{env}/{lkc}/{name}"""
    connect_api.delete(sandbox_of(request), _connector(request))
    return web.Response(status=204)


def routes() -> list[web.RouteDef]:
    """The admin routes."""
    one = "/_sandbox/connectors/{env}/{lkc}/{name}"
    return [
        web.get("/_sandbox/health", health),
        web.get("/_sandbox/state", read_state),
        web.get("/_sandbox/requests", list_requests),
        web.delete("/_sandbox/requests", clear_requests),
        web.get("/_sandbox/faults", read_faults),
        web.put("/_sandbox/faults", replace_faults),
        web.delete("/_sandbox/faults", clear_faults),
        web.post("/_sandbox/faults/inject", inject_faults),
        web.patch("/_sandbox/settings", update_settings),
        web.get("/_sandbox/realism", read_realism),
        web.patch("/_sandbox/realism", update_realism),
        web.post("/_sandbox/integrations", register_integration),
        web.post("/_sandbox/api-keys", create_api_key),
        web.delete("/_sandbox/api-keys/{key}", revoke_api_key),
        web.post("/_sandbox/role-bindings", create_role_binding),
        web.delete("/_sandbox/integrations/{id}", delete_integration),
        web.post("/_sandbox/clusters", create_cluster),
        web.delete("/_sandbox/clusters/{lkc}", delete_cluster),
        web.put(f"{one}/config", replace_connector_config),
        web.patch(f"{one}/config", patch_connector_config),
        web.post(f"{one}/fail", fail_connector),
        web.delete(one, delete_connector),
    ]
