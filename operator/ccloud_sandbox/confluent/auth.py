"""Authentication with Cloud API keys (HTTP Basic) and authorization from the role-binding store.

Rules (CONTRACT.md section 6):
- OrganizationAdmin on the organization CRN allows everything;
- EnvironmentAdmin on an environment CRN allows integrations and connectors in that environment;
- CloudClusterAdmin on a cluster CRN allows connectors in that cluster (ConnectManager: read, pause, resume);
- creating/deleting integrations needs OrganizationAdmin or EnvironmentAdmin; reading them needs any
  role binding inside the environment;
- a connector config with `provider.integration.id` needs, unless the caller is an organization or
  environment admin, ResourceOwner or Assigner (or the older ProviderIntegrationResourceOwner /
  ProviderIntegrationAssigner) on the integration's CRN.

A binding's `crn_pattern` covers a CRN when it is equal to it, an ancestor of it (a prefix ending at a
`/` segment boundary), or a pattern with `*` that matches it.
"""

from __future__ import annotations

import base64
import binascii
import hmac
from collections.abc import Iterable

from ccloud_sandbox.confluent.errors import ApiError
from ccloud_sandbox.confluent.iam_policy import wildcard_match
from ccloud_sandbox.confluent.state import ApiKey, SandboxState, organization_crn

ORGANIZATION_ADMIN = "OrganizationAdmin"
ENVIRONMENT_ADMIN = "EnvironmentAdmin"
CLOUD_CLUSTER_ADMIN = "CloudClusterAdmin"
CONNECT_MANAGER = "ConnectManager"
INTEGRATION_USER_ROLES = (
    "ResourceOwner",
    "Assigner",
    "ProviderIntegrationResourceOwner",
    "ProviderIntegrationAssigner",
)

KNOWN_ROLES = frozenset(
    {
        ORGANIZATION_ADMIN,
        ENVIRONMENT_ADMIN,
        CLOUD_CLUSTER_ADMIN,
        CONNECT_MANAGER,
        *INTEGRATION_USER_ROLES,
        "AccountAdmin",
        "BillingAdmin",
        "MetricsViewer",
        "Operator",
        "DeveloperRead",
        "DeveloperWrite",
        "DeveloperManage",
        "DataDiscovery",
        "DataSteward",
    }
)


def unauthenticated(detail: str) -> ApiError:
    """401 with the WWW-Authenticate header Confluent sends."""
    return ApiError(
        401,
        "Valid authentication credentials must be provided",
        headers={"WWW-Authenticate": f'Basic error="invalid_key", error_description="{detail}"'},
    )


def authenticate(state: SandboxState, authorization: str | None) -> ApiKey:
    """The API key of a request's `Authorization: Basic ...` header, or a 401 error."""
    if not authorization or not authorization.lower().startswith("basic "):
        raise unauthenticated("Missing Cloud API key and secret")
    try:
        decoded = base64.b64decode(authorization[6:].strip(), validate=True).decode("utf-8")
    except (binascii.Error, UnicodeDecodeError) as error:
        raise unauthenticated("Malformed Basic credentials") from error
    key_id, _, secret = decoded.partition(":")
    api_key = state.api_keys.get(key_id)
    if api_key is None or not hmac.compare_digest(api_key.secret.encode(), secret.encode()):
        raise unauthenticated("The API key or secret is invalid")
    return api_key


def crn_covers(pattern: str, crn: str) -> bool:
    """Whether a binding on `pattern` grants its role on `crn`."""
    if pattern == crn or crn.startswith(pattern.rstrip("/") + "/"):
        return True
    return "*" in pattern and (wildcard_match(pattern, crn) or wildcard_match(pattern + "/*", crn))


class Authorizer:
    """Answers "may this principal do that" from the role bindings in the state."""

    def __init__(self, state: SandboxState) -> None:
        self._state = state

    def has_role(self, principal: str, roles: Iterable[str], crn: str) -> bool:
        """Whether `principal` holds one of `roles` on a pattern covering `crn`."""
        wanted = set(roles)
        return any(
            b.principal == principal and b.role_name in wanted and crn_covers(b.crn_pattern, crn)
            for b in self._state.role_bindings.values()
        )

    def is_org_admin(self, principal: str) -> bool:
        """OrganizationAdmin on the organization."""
        return self.has_role(principal, [ORGANIZATION_ADMIN], organization_crn(self._state.organization_id))

    def is_env_admin(self, principal: str, environment_id: str) -> bool:
        """OrganizationAdmin, or EnvironmentAdmin on this environment."""
        return self.is_org_admin(principal) or self.has_role(
            principal, [ENVIRONMENT_ADMIN], self._state.environment_crn(environment_id)
        )

    def has_any_binding_in(self, principal: str, environment_id: str) -> bool:
        """Whether the principal holds any role on the environment or something inside it."""
        env_crn = self._state.environment_crn(environment_id)
        return self.is_env_admin(principal, environment_id) or any(
            b.principal == principal and (crn_covers(b.crn_pattern, env_crn) or b.crn_pattern.startswith(env_crn + "/"))
            for b in self._state.role_bindings.values()
        )

    def can_manage_connectors(self, principal: str, environment_id: str, cluster_id: str) -> bool:
        """Create, update, delete connectors in this cluster."""
        return self.is_env_admin(principal, environment_id) or self.has_role(
            principal, [CLOUD_CLUSTER_ADMIN], self._state.cluster_crn(environment_id, cluster_id)
        )

    def can_operate_connectors(self, principal: str, environment_id: str, cluster_id: str) -> bool:
        """Read, pause and resume connectors in this cluster."""
        return self.can_manage_connectors(principal, environment_id, cluster_id) or self.has_role(
            principal, [CONNECT_MANAGER], self._state.cluster_crn(environment_id, cluster_id)
        )

    def can_use_integration(self, principal: str, environment_id: str, integration_id: str) -> bool:
        """Reference a provider integration from a connector config."""
        if self.is_env_admin(principal, environment_id):
            return True
        integration = self._state.integrations.get(integration_id)
        crn = (
            self._state.integration_crn(integration)
            if integration is not None
            else f"{self._state.environment_crn(environment_id)}/provider-integration={integration_id}"
        )
        return self.has_role(principal, INTEGRATION_USER_ROLES, crn)
