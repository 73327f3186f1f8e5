"""The emulator's world: organization, environment, cluster, keys, integrations, connectors, role bindings.

Everything the emulated APIs return is derived from one `SandboxState`. It is plain data (dataclasses)
so that it can be written to a JSON state file after each change and read back by a restarted emulator
with the same ids, keys, integrations and connectors.
"""

from __future__ import annotations

import json
import os
import secrets
import string
import tempfile
import uuid
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

#: The AWS account that stands for Confluent's own side of the provider integration. It must differ from
#: moto's fixed account (123456789012) so that trust policies really name a foreign principal.
CONFLUENT_AWS_ACCOUNT_ID = "503394815713"

#: What the Connect API shows in place of a sensitive configuration value.
MASK = "****************"

STATE_FILE_VERSION = 1

_ID_ALPHABET = string.ascii_lowercase + string.digits


def new_resource_id(prefix: str, length: int = 5) -> str:
    """An id shaped like Confluent's, e.g. `cspi-4xg0q`, `env-a1b2c`, `lcc-9z8y7`."""
    return prefix + "-" + "".join(secrets.choice(_ID_ALPHABET) for _ in range(length))


def new_cloud_api_key() -> tuple[str, str]:
    """A Cloud API key id (16 upper-case characters) and its 64-character secret."""
    key_alphabet = string.ascii_uppercase + string.digits
    key = "".join(secrets.choice(key_alphabet) for _ in range(16))
    secret_alphabet = string.ascii_letters + string.digits + "+/"
    secret = "".join(secrets.choice(secret_alphabet) for _ in range(64))
    return key, secret


def organization_crn(organization_id: str) -> str:
    """CRN of the organization, the scope of OrganizationAdmin."""
    return f"crn://confluent.cloud/organization={organization_id}"


@dataclass
class Environment:
    """A Confluent Cloud environment (`env-...`)."""

    id: str
    display_name: str


@dataclass
class KafkaCluster:
    """A Kafka cluster (`lkc-...`) in one environment; connectors live in it."""

    id: str
    environment_id: str
    display_name: str
    region: str
    bootstrap_endpoint: str


@dataclass
class ServiceAccount:
    """A service account (`sa-...`); its principal is `User:<id>`."""

    id: str
    display_name: str

    @property
    def principal(self) -> str:
        """The principal role bindings name this account by."""
        return f"User:{self.id}"


@dataclass
class ApiKey:
    """A Cloud API key owned by a principal."""

    key: str
    secret: str
    principal: str


@dataclass
class RoleBinding:
    """An IAM v2 role binding: `principal` holds `role_name` on everything under `crn_pattern`."""

    id: str
    principal: str
    role_name: str
    crn_pattern: str
    created_at: str


@dataclass
class Integration:
    """A pim/v1 AWS provider integration."""

    id: str
    display_name: str
    provider: str
    environment_id: str
    customer_iam_role_arn: str
    iam_role_arn: str
    external_id: str
    #: Wall-clock time of the create: no trust statement naming its external ID can be older.
    created_at: float = 0.0


@dataclass
class TaskStatus:
    """One connector task as the status endpoint reports it."""

    id: int
    state: str
    msg: str = ""


@dataclass
class Connector:
    """A fully-managed connector, keyed by (environment, cluster, name)."""

    name: str
    id: str
    environment_id: str
    cluster_id: str
    config: dict[str, str]
    state: str = "PROVISIONING"
    trace: str = ""
    tasks: list[TaskStatus] = field(default_factory=list)
    #: What the user asked for with pause/resume; the observed `state` follows it asynchronously.
    paused: bool = False
    #: Bumped on every (re)provisioning so a stale background evaluation never overwrites a newer one.
    generation: int = 0
    #: Next Kafka offset the simulated sink writes, per topic, so restarts continue where they stopped.
    next_offsets: dict[str, int] = field(default_factory=dict)
    #: What the simulated data movement did last, for observation by tests.
    activity: dict[str, Any] = field(default_factory=dict)
    #: Wall-clock time of the DELETE; the connector lingers in state DELETED until the realism's
    #: `delete_linger_seconds` have passed.
    deleted_at: float | None = None

    @property
    def deleting(self) -> bool:
        """Deleted, but still listed for a while."""
        return self.deleted_at is not None

    @property
    def key(self) -> tuple[str, str, str]:
        """(environment id, cluster id, name): what identifies a connector."""
        return (self.environment_id, self.cluster_id, self.name)


@dataclass
class SandboxState:
    """All of the emulator's data."""

    organization_id: str
    environments: dict[str, Environment]
    clusters: dict[str, KafkaCluster]
    service_accounts: dict[str, ServiceAccount]
    api_keys: dict[str, ApiKey]
    role_bindings: dict[str, RoleBinding]
    integrations: dict[str, Integration]
    connectors: dict[str, Connector]
    seed_environment_id: str
    seed_cluster_id: str
    seed_service_account_id: str
    seed_api_key: str
    integration_quota: int = 100

    # -- lookups -------------------------------------------------------------------------------------

    @staticmethod
    def connector_slot(environment_id: str, cluster_id: str, name: str) -> str:
        """The dictionary key of a connector: names are unique per cluster only."""
        return f"{environment_id}/{cluster_id}/{name}"

    def find_connector(self, environment_id: str, cluster_id: str, name: str) -> Connector | None:
        """The connector with this name in this cluster, if any (a deleted one that lingers included)."""
        return self.connectors.get(self.connector_slot(environment_id, cluster_id, name))

    def live_connector(self, environment_id: str, cluster_id: str, name: str) -> Connector | None:
        """The connector with this name in this cluster, unless it is being deleted."""
        connector = self.find_connector(environment_id, cluster_id, name)
        return None if connector is None or connector.deleting else connector

    def connectors_in(self, environment_id: str, cluster_id: str) -> list[Connector]:
        """Connectors of one cluster in creation order."""
        return [
            c for c in self.connectors.values() if c.environment_id == environment_id and c.cluster_id == cluster_id
        ]

    def environment_crn(self, environment_id: str) -> str:
        """CRN of an environment, the scope of EnvironmentAdmin."""
        return f"{organization_crn(self.organization_id)}/environment={environment_id}"

    def cluster_crn(self, environment_id: str, cluster_id: str) -> str:
        """CRN of a Kafka cluster, the scope of CloudClusterAdmin."""
        return f"{self.environment_crn(environment_id)}/cloud-cluster={cluster_id}"

    def connector_crn(self, connector: Connector) -> str:
        """CRN of a connector, as listed in an integration's `usages`."""
        return f"{self.cluster_crn(connector.environment_id, connector.cluster_id)}/connector={connector.name}"

    def integration_crn(self, integration: Integration) -> str:
        """CRN of a provider integration, the scope of ResourceOwner/Assigner for using it."""
        return f"{self.environment_crn(integration.environment_id)}/provider-integration={integration.id}"

    def integration_usages(self, integration: Integration) -> list[str]:
        """CRNs of the connectors whose config references this integration."""
        return [
            self.connector_crn(c)
            for c in self.connectors.values()
            if c.environment_id == integration.environment_id
            and c.config.get("provider.integration.id") == integration.id
        ]

    # -- persistence ---------------------------------------------------------------------------------

    def to_json(self) -> dict[str, Any]:
        """The whole state as JSON-ready data, secrets included (this is what the state file holds)."""
        document = asdict(self)
        document["version"] = STATE_FILE_VERSION
        return document

    @classmethod
    def from_json(cls, document: dict[str, Any]) -> SandboxState:
        """Rebuild the state from `to_json` output."""
        if document.get("version") != STATE_FILE_VERSION:
            raise ValueError(f"unsupported state file version {document.get('version')!r}")
        connectors = {}
        for slot, raw in document["connectors"].items():
            tasks = [TaskStatus(**t) for t in raw.pop("tasks")]
            connectors[slot] = Connector(tasks=tasks, **raw)
        return cls(
            organization_id=document["organization_id"],
            environments={k: Environment(**v) for k, v in document["environments"].items()},
            clusters={k: KafkaCluster(**v) for k, v in document["clusters"].items()},
            service_accounts={k: ServiceAccount(**v) for k, v in document["service_accounts"].items()},
            api_keys={k: ApiKey(**v) for k, v in document["api_keys"].items()},
            role_bindings={k: RoleBinding(**v) for k, v in document["role_bindings"].items()},
            integrations={k: Integration(**v) for k, v in document["integrations"].items()},
            connectors=connectors,
            seed_environment_id=document["seed_environment_id"],
            seed_cluster_id=document["seed_cluster_id"],
            seed_service_account_id=document["seed_service_account_id"],
            seed_api_key=document["seed_api_key"],
            integration_quota=document["integration_quota"],
        )


def new_cluster(*, environment_id: str, display_name: str, region: str) -> KafkaCluster:
    """A Kafka cluster with a fresh `lkc-` id and the bootstrap endpoint Confluent gives one."""
    cluster_id = new_resource_id("lkc")
    return KafkaCluster(
        id=cluster_id,
        environment_id=environment_id,
        display_name=display_name,
        region=region,
        bootstrap_endpoint=f"SASL_SSL://pkc-{cluster_id[4:]}.{region}.aws.confluent.cloud:9092",
    )


def seed_state(
    *, region: str, api_key: str | None, api_secret: str | None, integration_quota: int, created_at: str
) -> SandboxState:
    """A fresh world: one organization, environment, cluster and service account with an admin key."""
    organization_id = str(uuid.uuid4())
    environment = Environment(id=new_resource_id("env"), display_name="sandbox")
    cluster = new_cluster(environment_id=environment.id, display_name="sandbox-cluster", region=region)
    account = ServiceAccount(id=new_resource_id("sa", 6), display_name="sandbox-admin")
    if api_key is None or api_secret is None:
        api_key, api_secret = new_cloud_api_key()
    binding = RoleBinding(
        id=new_resource_id("rb"),
        principal=account.principal,
        role_name="OrganizationAdmin",
        crn_pattern=organization_crn(organization_id),
        created_at=created_at,
    )
    return SandboxState(
        organization_id=organization_id,
        environments={environment.id: environment},
        clusters={cluster.id: cluster},
        service_accounts={account.id: account},
        api_keys={api_key: ApiKey(key=api_key, secret=api_secret, principal=account.principal)},
        role_bindings={binding.id: binding},
        integrations={},
        connectors={},
        seed_environment_id=environment.id,
        seed_cluster_id=cluster.id,
        seed_service_account_id=account.id,
        seed_api_key=api_key,
        integration_quota=integration_quota,
    )


class StateFile:
    """Writes the state atomically (temp file + rename) so a crash never leaves half a file."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def load(self) -> SandboxState | None:
        """The saved state, or None when there is no file yet."""
        if not self.path.exists():
            return None
        return SandboxState.from_json(json.loads(self.path.read_text(encoding="utf-8")))

    def save(self, state: SandboxState) -> None:
        """Replace the file with the current state."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        payload = json.dumps(state.to_json(), indent=1, sort_keys=True)
        fd, tmp_name = tempfile.mkstemp(prefix=".state-", suffix=".json", dir=self.path.parent)
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as handle:
                handle.write(payload)
            os.replace(tmp_name, self.path)
        except BaseException:
            Path(tmp_name).unlink(missing_ok=True)
            raise
