"""Provider Integration API v1 (`/pim/v1/integrations`).

Writes change the true state; the list and the read see it through the read replica, which trails by
the realism's read lag. The list's `provider` filter is an exact match in the realistic profile [pim1].
A missing integration answers the realism's `missing_resource_status` (403 in the realistic profile).
Deleting an integration that connectors use is refused with 400, the status the DELETE documents.
"""

from __future__ import annotations

import re
import time
import uuid
from typing import Any

from aiohttp import web

from ccloud_sandbox.confluent.context import (
    base_url,
    caller,
    json_body,
    json_response,
    operation,
    sandbox_of,
)
from ccloud_sandbox.confluent.errors import ApiError
from ccloud_sandbox.confluent.pagination import paginate
from ccloud_sandbox.confluent.state import CONFLUENT_AWS_ACCOUNT_ID, Integration, SandboxState, new_resource_id

_ROLE_ARN = re.compile(r"^arn:aws[a-z-]*:iam::\d{12}:role/[\w+=,.@/-]{1,512}$")


def integration_json(request: web.Request, state: SandboxState, integration: Integration) -> dict[str, Any]:
    """The `pim.v1.Integration` representation (usages from the true state)."""
    env_id = integration.environment_id
    return {
        "api_version": "pim/v1",
        "kind": "Integration",
        "id": integration.id,
        "display_name": integration.display_name,
        "provider": integration.provider,
        "config": {
            "kind": "AwsIntegrationConfig",
            "customer_iam_role_arn": integration.customer_iam_role_arn,
            "iam_role_arn": integration.iam_role_arn,
            "external_id": integration.external_id,
        },
        "usages": state.integration_usages(integration),
        "environment": {
            "id": env_id,
            "related": f"{base_url(request)}/org/v2/environments/{env_id}",
            "resource_name": state.environment_crn(env_id),
        },
    }


def _required_environment(request: web.Request) -> str:
    environment_id = request.query.get("environment", "")
    if not environment_id:
        raise ApiError(
            400,
            "Missing required query parameter 'environment'",
            code="invalid_filter",
            title="Invalid Filter",
            parameter="environment",
        )
    return environment_id


def _readable_environment(request: web.Request, environment_id: str) -> None:
    sandbox = sandbox_of(request)
    if environment_id not in sandbox.state.environments or not sandbox.authorizer.has_any_binding_in(
        caller(request), environment_id
    ):
        # Confluent answers 403 rather than 404 for environments the caller cannot see (CONTRACT.md 1).
        raise ApiError(403, f"The user '{caller(request)}' is not allowed to access environment '{environment_id}'")


def _missing(request: web.Request) -> ApiError:
    if sandbox_of(request).realism.missing_resource_status == 403:
        return ApiError(403, f"The user '{caller(request)}' is not allowed to access '{request.match_info['id']}'")
    return ApiError(404, f"Integration '{request.match_info['id']}' was not found", code="resource_not_found")


def _find(request: web.Request, environment_id: str) -> Integration:
    """The integration a write names, from the true state."""
    integration = sandbox_of(request).state.integrations.get(request.match_info["id"])
    if integration is None or integration.environment_id != environment_id:
        raise _missing(request)
    return integration


def _seen(request: web.Request, environment_id: str) -> Integration:
    """The integration a read names, as the read replica shows it."""
    integration = sandbox_of(request).integration_reads.view(request.match_info["id"])
    if integration is None or integration.environment_id != environment_id:
        raise _missing(request)
    return integration


def new_integration(
    state: SandboxState, *, environment_id: str, display_name: str, provider: str, role_arn: str
) -> Integration:
    """Register a customer role: Confluent's side gets its own role ARN and a fresh external ID."""
    integration = Integration(
        id=new_resource_id("cspi"),
        display_name=display_name,
        provider=provider,
        environment_id=environment_id,
        customer_iam_role_arn=role_arn,
        iam_role_arn=f"arn:aws:iam::{CONFLUENT_AWS_ACCOUNT_ID}:role/cspi-{uuid.uuid4().hex[:16]}-assumer",
        external_id=str(uuid.uuid4()),
        created_at=time.time(),
    )
    state.integrations[integration.id] = integration
    return integration


@operation("listPimV1Integrations")
async def list_integrations(request: web.Request) -> web.StreamResponse:
    """GET /pim/v1/integrations?environment=...&provider=...&page_size=...&page_token=..."""
    sandbox = sandbox_of(request)
    environment_id = _required_environment(request)
    _readable_environment(request, environment_id)
    provider = request.query.get("provider")
    exact = sandbox.realism.provider_filter_exact

    def provider_matches(integration: Integration) -> bool:
        if provider is None:
            return True
        return integration.provider == provider if exact else integration.provider.lower() == provider.lower()

    matching = [
        i for _, i in sandbox.integration_reads.visible() if i.environment_id == environment_id and provider_matches(i)
    ]
    page, metadata = paginate(request, matching)
    return json_response(
        {
            "api_version": "pim/v1",
            "kind": "IntegrationList",
            "metadata": metadata,
            "data": [integration_json(request, sandbox.state, i) for i in page],
        }
    )


def _invalid(detail: str, pointer: str) -> ApiError:
    return ApiError(422, detail, code="invalid_configuration", pointer=pointer)


@operation("createPimV1Integration")
async def create_integration(request: web.Request) -> web.StreamResponse:
    """POST /pim/v1/integrations"""
    sandbox = sandbox_of(request)
    state = sandbox.state
    body = await json_body(request)
    if not isinstance(body, dict):
        raise _invalid("The request body must be a JSON object", "/")
    environment = body.get("environment")
    environment_id = environment.get("id") if isinstance(environment, dict) else None
    if not isinstance(environment_id, str) or not environment_id:
        raise _invalid("environment.id is required", "/environment/id")
    if environment_id not in state.environments:
        raise ApiError(403, f"The user '{caller(request)}' is not allowed to access environment '{environment_id}'")
    if not sandbox.authorizer.is_env_admin(caller(request), environment_id):
        raise ApiError(
            403,
            f"The user '{caller(request)}' is not allowed to create provider integrations in '{environment_id}' "
            "without the 'OrganizationAdmin' or 'EnvironmentAdmin' role.",
        )

    display_name = body.get("display_name")
    if not isinstance(display_name, str) or not display_name:
        raise _invalid("display_name is required", "/display_name")
    if len(display_name) > 60:
        raise _invalid("display_name must be at most 60 characters", "/display_name")
    provider = body.get("provider", "AWS")
    if not isinstance(provider, str) or provider.lower() != "aws":
        raise _invalid(f"Unsupported provider '{provider}'; pim/v1 supports AWS", "/provider")
    config = body.get("config")
    if not isinstance(config, dict):
        raise _invalid("config is required", "/config")
    if config.get("kind") != "AwsIntegrationConfig":
        raise _invalid("config.kind must be 'AwsIntegrationConfig'", "/config/kind")
    role_arn = config.get("customer_iam_role_arn")
    if not isinstance(role_arn, str) or not 20 <= len(role_arn) <= 2048 or not _ROLE_ARN.match(role_arn):
        raise _invalid(
            "config.customer_iam_role_arn must be an IAM role ARN (arn:aws:iam::<account>:role/<name>)",
            "/config/customer_iam_role_arn",
        )

    if len(state.integrations) >= state.integration_quota:
        raise ApiError(
            402,
            "The request would exceed the quota: provider_integrations_per_org",
            code="quota_exceeded",
            title="Provider Integrations Per Org Quota Exceeded",
        )
    for existing in state.integrations.values():
        if existing.environment_id == environment_id and existing.customer_iam_role_arn == role_arn:
            location = f"{base_url(request)}/pim/v1/integrations/{existing.id}?environment={environment_id}"
            raise ApiError(
                409,
                f"A provider integration with customer_iam_role_arn '{role_arn}' already exists in "
                f"environment '{environment_id}'",
                code="resource_already_exists",
                headers={"Location": location},
            )

    integration = new_integration(
        state, environment_id=environment_id, display_name=display_name, provider=provider, role_arn=role_arn
    )
    sandbox.changed(integration)
    location = f"{base_url(request)}/pim/v1/integrations/{integration.id}?environment={environment_id}"
    return json_response(integration_json(request, state, integration), 201, {"Location": location})


@operation("getPimV1Integration")
async def get_integration(request: web.Request) -> web.StreamResponse:
    """GET /pim/v1/integrations/{id}?environment=..."""
    environment_id = _required_environment(request)
    _readable_environment(request, environment_id)
    integration = _seen(request, environment_id)
    return json_response(integration_json(request, sandbox_of(request).state, integration))


@operation("deletePimV1Integration")
async def delete_integration(request: web.Request) -> web.StreamResponse:
    """DELETE /pim/v1/integrations/{id}?environment=...; refused with 400 while connectors use it."""
    sandbox = sandbox_of(request)
    environment_id = _required_environment(request)
    _readable_environment(request, environment_id)
    if not sandbox.authorizer.is_env_admin(caller(request), environment_id):
        raise ApiError(
            403,
            f"The user '{caller(request)}' is not allowed to delete provider integrations in '{environment_id}' "
            "without the 'OrganizationAdmin' or 'EnvironmentAdmin' role.",
        )
    integration = _find(request, environment_id)
    usages = sandbox.state.integration_usages(integration)
    if usages:
        # The real status is undocumented (CONTRACT.md section 9); 400 is the refusal the DELETE documents.
        raise ApiError(
            400,
            f"Provider integration '{integration.id}' is in use by {len(usages)} resource(s): {', '.join(usages)}",
            code="resource_in_use",
            title="Resource In Use",
        )
    del sandbox.state.integrations[integration.id]
    sandbox.changed(integration)
    return web.Response(status=204)


def routes() -> list[web.RouteDef]:
    """The pim/v1 routes."""
    return [
        web.get("/pim/v1/integrations", list_integrations, allow_head=False),
        web.post("/pim/v1/integrations", create_integration),
        web.get("/pim/v1/integrations/{id}", get_integration, allow_head=False),
        web.delete("/pim/v1/integrations/{id}", delete_integration),
    ]
