"""IAM v2 role bindings (`/iam/v2/role-bindings`) and reads of environments and Kafka clusters.

`crn_pattern` on list is a partial match, as the spec says: a binding is listed when its pattern starts
with the query (a trailing `*` in the query is ignored), so listing at the organization CRN shows every
binding and listing at a cluster CRN shows the bindings on the cluster and below it.
"""

from __future__ import annotations

import re
from typing import Any

from aiohttp import web

from ccloud_sandbox.confluent.auth import KNOWN_ROLES
from ccloud_sandbox.confluent.context import (
    base_url,
    caller,
    json_body,
    json_response,
    now_iso,
    operation,
    sandbox_of,
)
from ccloud_sandbox.confluent.errors import ApiError
from ccloud_sandbox.confluent.pagination import paginate
from ccloud_sandbox.confluent.state import RoleBinding, SandboxState, new_resource_id, organization_crn

_PRINCIPAL = re.compile(r"(^User:.+$)|(^Group:.+$)")


def role_binding_json(request: web.Request, state: SandboxState, binding: RoleBinding) -> dict[str, Any]:
    """The `iam.v2.RoleBinding` representation."""
    return {
        "api_version": "iam/v2",
        "kind": "RoleBinding",
        "id": binding.id,
        "metadata": {
            "self": f"{base_url(request)}/iam/v2/role-bindings/{binding.id}",
            "resource_name": f"{organization_crn(state.organization_id)}/role-binding={binding.id}",
            "created_at": binding.created_at,
        },
        "principal": binding.principal,
        "role_name": binding.role_name,
        "crn_pattern": binding.crn_pattern,
    }


def _require_admin_over(request: web.Request, crn: str) -> None:
    sandbox = sandbox_of(request)
    state = sandbox.state
    principal = caller(request)
    if sandbox.authorizer.is_org_admin(principal):
        return
    for environment_id in state.environments:
        env_crn = state.environment_crn(environment_id)
        if (crn == env_crn or crn.startswith(env_crn + "/")) and sandbox.authorizer.is_env_admin(
            principal, environment_id
        ):
            return
    raise ApiError(403, f"The user '{principal}' is not allowed to manage role bindings on '{crn}'")


def validate_binding_request(body: Any) -> tuple[str, str, str]:
    """`(principal, role_name, crn_pattern)` of a create request, or a 400 (the spec lists no 422 here)."""
    if not isinstance(body, dict):
        raise ApiError(400, "The request body must be a JSON object", code="invalid_configuration", pointer="/")
    principal = body.get("principal")
    role_name = body.get("role_name")
    crn_pattern = body.get("crn_pattern")
    if not isinstance(principal, str) or not _PRINCIPAL.match(principal):
        raise ApiError(
            400, "principal must look like User:<id> or Group:<id>", code="invalid_configuration", pointer="/principal"
        )
    if not isinstance(role_name, str) or role_name not in KNOWN_ROLES:
        raise ApiError(400, f"Unknown role_name {role_name!r}", code="invalid_configuration", pointer="/role_name")
    if not isinstance(crn_pattern, str) or not crn_pattern.startswith("crn://"):
        raise ApiError(
            400, "crn_pattern must be a CRN (crn://...)", code="invalid_configuration", pointer="/crn_pattern"
        )
    return principal, role_name, crn_pattern


def add_role_binding(state: SandboxState, principal: str, role_name: str, crn_pattern: str) -> RoleBinding:
    """Store a new binding (callers check for duplicates first)."""
    binding = RoleBinding(
        id=new_resource_id("rb"),
        principal=principal,
        role_name=role_name,
        crn_pattern=crn_pattern,
        created_at=now_iso(),
    )
    state.role_bindings[binding.id] = binding
    return binding


def find_duplicate(state: SandboxState, principal: str, role_name: str, crn_pattern: str) -> RoleBinding | None:
    """An existing binding with the same principal, role and pattern."""
    for binding in state.role_bindings.values():
        if (binding.principal, binding.role_name, binding.crn_pattern) == (principal, role_name, crn_pattern):
            return binding
    return None


@operation("listIamV2RoleBindings")
async def list_role_bindings(request: web.Request) -> web.StreamResponse:
    """GET /iam/v2/role-bindings?crn_pattern=... (required) &principal= &role_name="""
    state = sandbox_of(request).state
    crn_pattern = request.query.get("crn_pattern", "")
    if not crn_pattern:
        raise ApiError(
            400,
            "Missing required query parameter 'crn_pattern'",
            code="invalid_filter",
            title="Invalid Filter",
            parameter="crn_pattern",
        )
    prefix = crn_pattern.rstrip("*")
    principal = request.query.get("principal")
    role_name = request.query.get("role_name")
    matching = [
        b
        for b in state.role_bindings.values()
        if b.crn_pattern.startswith(prefix)
        and (principal is None or b.principal == principal)
        and (role_name is None or b.role_name == role_name)
    ]
    page, metadata = paginate(request, matching)
    return json_response(
        {
            "api_version": "iam/v2",
            "kind": "RoleBindingList",
            "metadata": metadata,
            "data": [role_binding_json(request, state, b) for b in page],
        }
    )


@operation("createIamV2RoleBinding")
async def create_role_binding(request: web.Request) -> web.StreamResponse:
    """POST /iam/v2/role-bindings: 201, or 409 when the same binding exists."""
    sandbox = sandbox_of(request)
    principal, role_name, crn_pattern = validate_binding_request(await json_body(request))
    _require_admin_over(request, crn_pattern)
    existing = find_duplicate(sandbox.state, principal, role_name, crn_pattern)
    if existing is not None:
        raise ApiError(
            409,
            f"The role binding '{existing.id}' already exists.",
            code="resource_already_exists",
            headers={"Location": f"{base_url(request)}/iam/v2/role-bindings/{existing.id}"},
        )
    binding = add_role_binding(sandbox.state, principal, role_name, crn_pattern)
    sandbox.persist()
    return json_response(role_binding_json(request, sandbox.state, binding), 201)


def _find(request: web.Request) -> RoleBinding:
    binding = sandbox_of(request).state.role_bindings.get(request.match_info["id"])
    if binding is None:
        raise ApiError(404, f"Role binding '{request.match_info['id']}' was not found")
    return binding


@operation("getIamV2RoleBinding")
async def get_role_binding(request: web.Request) -> web.StreamResponse:
    """GET /iam/v2/role-bindings/{id}"""
    return json_response(role_binding_json(request, sandbox_of(request).state, _find(request)))


@operation("deleteIamV2RoleBinding")
async def delete_role_binding(request: web.Request) -> web.StreamResponse:
    """DELETE /iam/v2/role-bindings/{id}: 200 with the deleted binding."""
    sandbox = sandbox_of(request)
    binding = _find(request)
    _require_admin_over(request, binding.crn_pattern)
    del sandbox.state.role_bindings[binding.id]
    sandbox.persist()
    return json_response(role_binding_json(request, sandbox.state, binding))


@operation("getOrgV2Environment")
async def get_environment(request: web.Request) -> web.StreamResponse:
    """GET /org/v2/environments/{id}"""
    sandbox = sandbox_of(request)
    environment = sandbox.state.environments.get(request.match_info["id"])
    if environment is None or not sandbox.authorizer.has_any_binding_in(caller(request), environment.id):
        raise ApiError(404, f"Environment '{request.match_info['id']}' was not found")
    return json_response(
        {
            "api_version": "org/v2",
            "kind": "Environment",
            "id": environment.id,
            "display_name": environment.display_name,
            "metadata": {
                "self": f"{base_url(request)}/org/v2/environments/{environment.id}",
                "resource_name": sandbox.state.environment_crn(environment.id),
            },
            "stream_governance_config": {"package": "ESSENTIALS"},
        }
    )


@operation("getCmkV2Cluster")
async def get_cluster(request: web.Request) -> web.StreamResponse:
    """GET /cmk/v2/clusters/{id}?environment=... (environment required)"""
    sandbox = sandbox_of(request)
    environment_id = request.query.get("environment", "")
    if not environment_id:
        raise ApiError(
            400,
            "Missing required query parameter 'environment'",
            code="invalid_filter",
            title="Invalid Filter",
            parameter="environment",
        )
    cluster = sandbox.state.clusters.get(request.match_info["id"])
    if (
        cluster is None
        or cluster.environment_id != environment_id
        or not sandbox.authorizer.has_any_binding_in(caller(request), environment_id)
    ):
        raise ApiError(404, f"Cluster '{request.match_info['id']}' was not found")
    host = cluster.bootstrap_endpoint.removeprefix("SASL_SSL://")
    return json_response(
        {
            "api_version": "cmk/v2",
            "kind": "Cluster",
            "id": cluster.id,
            "metadata": {
                "self": f"{base_url(request)}/cmk/v2/clusters/{cluster.id}",
                "resource_name": sandbox.state.cluster_crn(environment_id, cluster.id).replace(
                    "/cloud-cluster=", "/kafka="
                ),
            },
            "spec": {
                "display_name": cluster.display_name,
                "availability": "SINGLE_ZONE",
                "cloud": "AWS",
                "region": cluster.region,
                "config": {"kind": "Basic"},
                "kafka_bootstrap_endpoint": cluster.bootstrap_endpoint,
                "http_endpoint": f"https://{host.split(':')[0]}:443",
                "api_endpoint": f"https://pkac-{cluster.id[4:]}.{cluster.region}.aws.confluent.cloud",
                "environment": {
                    "id": environment_id,
                    "related": f"{base_url(request)}/org/v2/environments/{environment_id}",
                    "resource_name": sandbox.state.environment_crn(environment_id),
                },
            },
            "status": {"phase": "PROVISIONED"},
        }
    )


def routes() -> list[web.RouteDef]:
    """The iam/v2 role-binding routes and the org/cmk reads."""
    return [
        web.get("/iam/v2/role-bindings", list_role_bindings, allow_head=False),
        web.post("/iam/v2/role-bindings", create_role_binding),
        web.get("/iam/v2/role-bindings/{id}", get_role_binding, allow_head=False),
        web.delete("/iam/v2/role-bindings/{id}", delete_role_binding),
        web.get("/org/v2/environments/{id}", get_environment, allow_head=False),
        web.get("/cmk/v2/clusters/{id}", get_cluster, allow_head=False),
    ]
