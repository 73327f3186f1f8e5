"""Operator-wide settings: environment variables (CCLOUD_OPERATOR_*) overridden by CLI flags, validated once."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from ccloud_operator.guardrails import Guardrails
from ccloud_operator.sharding import Shard


class OperatorSettings(BaseSettings):
    """Everything the operator needs to know at start, checked before it touches any API."""

    model_config = SettingsConfigDict(env_prefix="CCLOUD_OPERATOR_", frozen=True, extra="ignore")

    confluent_url: str = Field(
        "https://api.confluent.cloud",
        description="Base URL of the Confluent Cloud API (or the local emulator).",
    )
    cloud_api_key: str | None = Field(None, description="Default Cloud API key for resources without a Secret.")
    cloud_api_secret: SecretStr | None = Field(None, description="Secret of the default Cloud API key.")
    cloud_credentials_secret: str | None = Field(
        None,
        description="Default Cloud API key as a Secret, 'namespace/name' with keys api-key and api-secret.",
    )
    aws_endpoint_url: str | None = Field(None, description="Custom AWS endpoint (tests and the sandbox use moto).")
    namespaces: Annotated[list[str], NoDecode] = Field(
        default_factory=list, description="Namespaces to watch; empty means all."
    )
    resync_interval: float = Field(60.0, gt=0, description="Seconds between connector status resyncs.")
    validation_interval: float = Field(300.0, gt=0, description="Seconds between ProviderIntegration validations.")
    confluent_timeout: float = Field(30.0, gt=0, description="Timeout of one Confluent API request, seconds.")
    create_pending_grace: float = Field(
        30.0,
        ge=0,
        description="Seconds a create whose answer was lost gets to appear in Confluent's list before a new create.",
    )
    confluent_max_retries: int = Field(4, ge=0, le=20, description="Client-side retries of a failed Confluent call.")
    log_format: Literal["text", "json"] = Field("text", description="Log line format.")
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = Field("INFO", description="Log level.")
    metrics_port: int = Field(8080, ge=0, le=65535, description="Port of /metrics; 0 turns metrics off.")
    health_port: int = Field(
        8081, ge=0, le=65535, description="Port of the liveness endpoint /healthz; 0 turns it off."
    )
    bind_address: str = Field("0.0.0.0", description="Address the metrics and health endpoints listen on.")

    # Memory (docs/performance.md#memory).
    max_concurrent_reconciles: int = Field(
        64,
        ge=1,
        description="Reconcile passes running at the same time; others wait their turn. Bounds the memory peak of "
        "a bulk apply; Confluent's rate limit bounds its throughput long before this does.",
    )
    max_concurrent_objects: int = Field(
        0,
        ge=0,
        description="Objects whose watch events kopf processes at the same time; the others' events, whole bodies, "
        "queue until a place is free. 0: no limit, which holds the fewest bodies (each event is handed to the "
        "resync loop at once).",
    )
    malloc_arena_max: int = Field(
        2, ge=0, le=64, description="glibc malloc arenas; fewer keep freed memory reusable. 0: glibc's default."
    )
    malloc_mmap_threshold: int = Field(
        131072,
        ge=0,
        description="Bytes from which glibc gives an allocation its own mapping, handed back when freed (large "
        "API responses); 0: glibc's default, which rises after each such block is freed.",
    )
    memory_trim_interval: float = Field(
        30.0, ge=0, description="Seconds between returns of free heap to the kernel (malloc_trim); 0 turns it off."
    )

    # More than one process (docs/operations.md#replicas-and-shards).
    leader_election: bool = Field(
        False, description="Reconcile only while holding a coordination.k8s.io Lease (for more than one replica)."
    )
    leader_election_namespace: str | None = Field(
        None, description="Namespace of the Lease; unset: the pod's own namespace (or 'default' outside a pod)."
    )
    leader_election_lease: str = Field(
        "ccloud-operator", description="Name of the Lease; a shard appends -shard-<index>."
    )
    lease_duration: float = Field(15.0, gt=0, description="Seconds a Lease stays good without renewal.")
    lease_renew_interval: float = Field(5.0, gt=0, description="Seconds between renewals of a held Lease.")
    shard_index: int = Field(0, ge=0, description="This process's shard, 0 .. shard_count-1.")
    shard_count: int = Field(1, ge=1, le=1024, description="How many shards split the namespaces (hash of the name).")

    # Guardrails a platform owner sets for every tenant (docs/security.md).
    role_permissions_boundary: str | None = Field(
        None, description="Permissions boundary every role the operator creates carries (ARN)."
    )
    role_name_prefix: str = Field("", description="Prefix every role the operator creates has in its name.")
    role_path: str | None = Field(None, description="IAM path every role the operator creates has, e.g. /confluent/.")
    allow_policy_document: bool = Field(True, description="Whether aws.permissions.policyDocument may be used.")
    default_cloud_credentials_namespaces: Annotated[list[str] | None, NoDecode] = Field(
        None,
        description="Namespaces (glob patterns, comma-separated) that may use the operator's own Confluent key; "
        "unset: all.",
    )
    default_aws_identity_namespaces: Annotated[list[str] | None, NoDecode] = Field(
        None,
        description="Namespaces (glob patterns, comma-separated) that may use the operator's own AWS identity; "
        "unset: all.",
    )
    environments: dict[str, list[str]] = Field(
        default_factory=dict,
        description='Namespace pattern -> allowed Confluent environments, as JSON: {"team-a-*": ["env-abc12"]}; '
        "a namespace no pattern matches may use none.",
    )

    @field_validator("namespaces", mode="before")
    @classmethod
    def _split_namespaces(cls, value: object) -> object:
        # Environment variables carry lists as "a,b"; flags as lists.
        if isinstance(value, str):
            return [item.strip() for item in value.split(",") if item.strip()]
        return value

    @field_validator("default_cloud_credentials_namespaces", "default_aws_identity_namespaces", mode="before")
    @classmethod
    def _split_patterns(cls, value: object) -> object:
        if isinstance(value, str):
            return [item.strip() for item in value.split(",") if item.strip()]
        return value

    @field_validator("role_path")
    @classmethod
    def _iam_path(cls, value: str | None) -> str | None:
        if value is not None and not (value.startswith("/") and value.endswith("/")):
            raise ValueError("role_path must start and end with '/', e.g. /confluent/")
        return value

    @field_validator("cloud_credentials_secret")
    @classmethod
    def _namespaced(cls, value: str | None) -> str | None:
        if value is not None and value.count("/") != 1:
            raise ValueError("cloud_credentials_secret must be 'namespace/name'")
        return value

    @model_validator(mode="after")
    def _key_pairs(self) -> OperatorSettings:
        if (self.cloud_api_key is None) != (self.cloud_api_secret is None):
            raise ValueError("set both cloud_api_key and cloud_api_secret, or neither")
        return self

    @model_validator(mode="after")
    def _shard_and_lease(self) -> OperatorSettings:
        if self.shard_index >= self.shard_count:
            raise ValueError(f"shard_index {self.shard_index} must be below shard_count {self.shard_count}")
        if self.lease_renew_interval >= self.lease_duration:
            raise ValueError("lease_renew_interval must be shorter than lease_duration")
        return self

    def shard(self) -> Shard:
        return Shard(self.shard_index, self.shard_count)

    def lease_name(self) -> str:
        """One Lease per shard: the replicas of a shard compete for it, shards do not."""
        if self.shard_count == 1:
            return self.leader_election_lease
        return f"{self.leader_election_lease}-shard-{self.shard_index}"

    def guardrails(self) -> Guardrails:
        """The tenant rules these settings describe."""
        return Guardrails(
            role_permissions_boundary=self.role_permissions_boundary,
            role_name_prefix=self.role_name_prefix,
            role_path=self.role_path,
            allow_policy_document=self.allow_policy_document,
            default_cloud_credentials_namespaces=_patterns(self.default_cloud_credentials_namespaces),
            default_aws_identity_namespaces=_patterns(self.default_aws_identity_namespaces),
            environments={pattern: tuple(envs) for pattern, envs in self.environments.items()},
        )


def _patterns(value: list[str] | None) -> tuple[str, ...] | None:
    return None if value is None else tuple(value)
