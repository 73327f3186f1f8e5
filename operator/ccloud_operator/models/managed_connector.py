"""The ManagedConnector spec."""

from __future__ import annotations

from enum import StrEnum

from pydantic import Field, model_validator

from ccloud_operator.models.common import CloudCredentialsRef, DeletionPolicy, SpecModel


class DesiredState(StrEnum):
    RUNNING = "Running"
    PAUSED = "Paused"


class RestartPolicyType(StrEnum):
    NEVER = "Never"
    ON_FAILURE = "OnFailure"


class SecretKeyRef(SpecModel):
    name: str
    key: str


class SensitiveConfigEntry(SpecModel):
    """One config key whose value comes from a Secret."""

    key: str
    secret_key_ref: SecretKeyRef


class ProviderIntegrationRef(SpecModel):
    name: str


class KafkaApiKeyRef(SpecModel):
    name: str
    api_key_key: str = "api-key"
    api_secret_key: str = "api-secret"


class KafkaAuth(SpecModel):
    service_account_id: str | None = None
    api_key_secret_ref: KafkaApiKeyRef | None = None

    @model_validator(mode="after")
    def _one_mode(self) -> KafkaAuth:
        if (self.service_account_id is None) == (self.api_key_secret_ref is None):
            raise ValueError("exactly one of kafkaAuth.serviceAccountId and kafkaAuth.apiKeySecretRef must be set")
        return self


class RestartPolicy(SpecModel):
    type: RestartPolicyType = RestartPolicyType.NEVER
    max_backoff_seconds: int = 600


class ManagedConnectorSpec(SpecModel):
    """Desired state of a ManagedConnector."""

    environment: str
    kafka_cluster: str
    connector_class: str
    connector_name: str | None = None
    config: dict[str, str] = Field(default_factory=dict)
    sensitive_config: tuple[SensitiveConfigEntry, ...] = ()
    provider_integration_ref: ProviderIntegrationRef | None = None
    kafka_auth: KafkaAuth | None = None
    state: DesiredState = DesiredState.RUNNING
    restart_policy: RestartPolicy = Field(default_factory=RestartPolicy)
    cloud_credentials_secret_ref: CloudCredentialsRef | None = None
    deletion_policy: DeletionPolicy = DeletionPolicy.DELETE
    adopt_existing: bool = False

    def effective_connector_name(self, name: str) -> str:
        return self.connector_name or name

    def referenced_secrets(self) -> set[str]:
        """Names of every Secret the connector's config or its Confluent calls read."""
        names = {entry.secret_key_ref.name for entry in self.sensitive_config}
        if self.kafka_auth and self.kafka_auth.api_key_secret_ref:
            names.add(self.kafka_auth.api_key_secret_ref.name)
        if self.cloud_credentials_secret_ref:
            names.add(self.cloud_credentials_secret_ref.name)
        return names
