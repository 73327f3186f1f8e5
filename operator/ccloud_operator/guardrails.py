"""Rules a platform owner sets for every tenant of one operator, checked before any external call.

The operator acts with its own AWS identity and, by default, its own Confluent Cloud key. Whoever may
create a ProviderIntegration could otherwise mint an IAM role with any permissions, and any namespace
could spend the operator's key in any environment. These settings (`CCLOUD_OPERATOR_*`, chart values
under `guardrails`) bound that; docs/security.md is the threat model. A violation is reported on the
object (Ready=False, reason PolicyViolation, an Event naming the rule) and nothing is written anywhere.
"""

from __future__ import annotations

import fnmatch
from dataclasses import dataclass, field

from ccloud_operator.models.managed_connector import ManagedConnectorSpec
from ccloud_operator.models.provider_integration import ProviderIntegrationSpec


@dataclass(frozen=True)
class Guardrails:
    """What tenants may do. The defaults allow everything, as before these rules existed."""

    #: Every role the operator creates carries this permissions boundary (a spec may name it, or omit it).
    role_permissions_boundary: str | None = None
    #: Every role the operator creates has a name starting with this.
    role_name_prefix: str = ""
    #: Every role the operator creates has this IAM path.
    role_path: str | None = None
    #: Whether `aws.permissions.policyDocument` (any IAM statement at all) may be used.
    allow_policy_document: bool = True
    #: Namespaces (glob patterns) whose objects may use the operator's own Confluent Cloud key; the
    #: others must name their own Secret. None: every namespace.
    default_cloud_credentials_namespaces: tuple[str, ...] | None = None
    #: Namespaces (glob patterns) whose ProviderIntegrations may use the operator's own AWS identity;
    #: the others must name their own AWS keys. None: every namespace.
    default_aws_identity_namespaces: tuple[str, ...] | None = None
    #: Namespace pattern -> Confluent environments it may use. A namespace may use those of every pattern
    #: that matches it, and none when no pattern does. Empty: every namespace may use every environment.
    environments: dict[str, tuple[str, ...]] = field(default_factory=dict)

    def check_integration(self, namespace: str, spec: ProviderIntegrationSpec) -> Violation | None:
        """The first rule a ProviderIntegration breaks, or None."""
        create = spec.aws.create_role
        if create is not None:
            if self.role_permissions_boundary and create.permissions_boundary not in (
                None,
                self.role_permissions_boundary,
            ):
                return Violation(
                    "role-permissions-boundary",
                    f"roles created by the operator carry the permissions boundary {self.role_permissions_boundary}; "
                    f"aws.createRole.permissionsBoundary names {create.permissions_boundary}",
                )
            if not create.role_name.startswith(self.role_name_prefix):
                return Violation(
                    "role-name-prefix",
                    f"roles created by the operator have names starting with {self.role_name_prefix!r}; "
                    f"aws.createRole.roleName is {create.role_name!r}",
                )
            if self.role_path is not None and create.path != self.role_path:
                return Violation(
                    "role-path",
                    f"roles created by the operator have the IAM path {self.role_path}; "
                    f"aws.createRole.path is {create.path}",
                )
        if spec.aws.permissions.policy_document is not None and not self.allow_policy_document:
            return Violation(
                "policy-document",
                "aws.permissions.policyDocument is not allowed here: use the s3Buckets and dynamodbTables presets",
            )
        if spec.aws.credentials_secret_ref is None and not _allowed(namespace, self.default_aws_identity_namespaces):
            return Violation(
                "default-aws-identity",
                f"namespace {namespace} may not use the operator's own AWS identity: set aws.credentialsSecretRef",
            )
        return self._common(namespace, spec.environment, spec.cloud_credentials_secret_ref is None)

    def check_connector(self, namespace: str, spec: ManagedConnectorSpec) -> Violation | None:
        """The first rule a ManagedConnector breaks, or None."""
        return self._common(namespace, spec.environment, spec.cloud_credentials_secret_ref is None)

    def with_defaults(self, spec: ProviderIntegrationSpec) -> ProviderIntegrationSpec:
        """The spec with what the rules fill in: the permissions boundary of a role to create."""
        create = spec.aws.create_role
        if create is None or create.permissions_boundary or not self.role_permissions_boundary:
            return spec
        bounded = create.model_copy(update={"permissions_boundary": self.role_permissions_boundary})
        return spec.model_copy(update={"aws": spec.aws.model_copy(update={"create_role": bounded})})

    def _common(self, namespace: str, environment: str, default_key: bool) -> Violation | None:
        if default_key and not _allowed(namespace, self.default_cloud_credentials_namespaces):
            return Violation(
                "default-cloud-credentials",
                f"namespace {namespace} may not use the operator's own Confluent Cloud key: set "
                "cloudCredentialsSecretRef",
            )
        if self.environments:
            allowed = sorted(
                {
                    env
                    for pattern, envs in self.environments.items()
                    if fnmatch.fnmatchcase(namespace, pattern)
                    for env in envs
                }
            )
            if environment not in allowed:
                return Violation(
                    "environments",
                    f"namespace {namespace} may use the Confluent environments {', '.join(allowed) or '(none)'}, "
                    f"not {environment}",
                )
        return None


@dataclass(frozen=True)
class Violation:
    """A broken rule: its name (as in the settings and docs/security.md) and what was wrong."""

    rule: str
    message: str


def _allowed(namespace: str, patterns: tuple[str, ...] | None) -> bool:
    return patterns is None or any(fnmatch.fnmatchcase(namespace, pattern) for pattern in patterns)
