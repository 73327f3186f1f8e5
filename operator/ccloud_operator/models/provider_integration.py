"""The ProviderIntegration spec."""

from __future__ import annotations

import json
from enum import StrEnum

from pydantic import Field, field_validator, model_validator

from ccloud_operator.models.common import CloudCredentialsRef, DeletionPolicy, SpecModel


class TrustPolicyMode(StrEnum):
    MANAGE = "Manage"
    REPORT = "Report"


class CreateRole(SpecModel):
    """A role the operator creates and owns."""

    role_name: str
    path: str = "/"
    permissions_boundary: str | None = None
    max_session_duration_seconds: int = 3600
    tags: dict[str, str] = Field(default_factory=dict)


class Permissions(SpecModel):
    """What connectors using the integration need in AWS."""

    s3_buckets: tuple[str, ...] = ()
    dynamodb_tables: tuple[str, ...] = Field(default=(), alias="dynamodbTables")
    policy_document: str | None = None

    @field_validator("policy_document")
    @classmethod
    def _a_policy(cls, value: str | None) -> str | None:
        # The CRD can only say "a string"; what AWS would refuse is refused here, before any write.
        if value is None:
            return value
        try:
            document = json.loads(value)
        except ValueError as error:
            raise ValueError(f"not JSON: {error}") from error
        statements = document.get("Statement") if isinstance(document, dict) else None
        if not isinstance(statements, list | dict) or not statements:
            raise ValueError("an IAM policy document needs a non-empty Statement")
        return value

    @property
    def empty(self) -> bool:
        return not (self.s3_buckets or self.dynamodb_tables or self.policy_document)


class AwsCredentialsRef(SpecModel):
    """A Secret with static AWS keys, for development."""

    name: str
    access_key_id_key: str = "aws_access_key_id"
    secret_access_key_key: str = "aws_secret_access_key"


class AwsSpec(SpecModel):
    """The AWS side: which role, what it may do, and who writes its trust policy."""

    role_arn: str | None = None
    create_role: CreateRole | None = None
    permissions: Permissions = Field(default_factory=Permissions)
    trust_policy: TrustPolicyMode = TrustPolicyMode.MANAGE
    region: str = "us-east-1"
    credentials_secret_ref: AwsCredentialsRef | None = None

    @model_validator(mode="after")
    def _one_role_mode(self) -> AwsSpec:
        # The CRD's CEL rule says the same; this guards objects stored before the rule existed.
        if (self.role_arn is None) == (self.create_role is None):
            raise ValueError("exactly one of aws.roleArn and aws.createRole must be set")
        return self


class ProviderIntegrationSpec(SpecModel):
    """Desired state of a ProviderIntegration."""

    environment: str
    aws: AwsSpec
    display_name: str | None = None
    cloud_credentials_secret_ref: CloudCredentialsRef | None = None
    deletion_policy: DeletionPolicy = DeletionPolicy.DELETE
    adopt_existing: bool = False

    def referenced_secrets(self) -> set[str]:
        """Names of every Secret whose keys the integration's Confluent or AWS calls use."""
        names = {self.cloud_credentials_secret_ref.name} if self.cloud_credentials_secret_ref else set()
        if self.aws.credentials_secret_ref:
            names.add(self.aws.credentials_secret_ref.name)
        return names

    def effective_display_name(self, namespace: str, name: str) -> str:
        """The Confluent display name: the spec's, or "<namespace>-<name>" cut to the API's 60 characters."""
        return self.display_name or f"{namespace}-{name}"[:60]
