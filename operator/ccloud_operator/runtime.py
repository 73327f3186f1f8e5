"""The objects one operator process shares between handlers: clients, caches, reconcilers, locks."""

from __future__ import annotations

import asyncio
from collections import defaultdict
from dataclasses import dataclass, field

from ccloud_operator import metrics
from ccloud_operator.clients import ClientPool, CredentialsNotFound, SecretName, read_cloud_credentials
from ccloud_operator.confluent.client import CloudCredentials, RetryPolicy
from ccloud_operator.guardrails import Guardrails
from ccloud_operator.kube import KubeGateway, KubernetesGateway
from ccloud_operator.reconcilers.connector_cache import ConnectorListCache
from ccloud_operator.reconcilers.connector_claims import ConnectorClaims
from ccloud_operator.reconcilers.integration_directory import IntegrationDirectory
from ccloud_operator.reconcilers.managed_connector import ManagedConnectorReconciler
from ccloud_operator.reconcilers.provider_integration import ProviderIntegrationReconciler
from ccloud_operator.settings import OperatorSettings


@dataclass
class Runtime:
    """Built once at operator start-up; handlers reach it through ``current()``."""

    settings: OperatorSettings
    guardrails: Guardrails
    kube: KubeGateway
    clients: ClientPool
    provider_integrations: ProviderIntegrationReconciler
    integrations: IntegrationDirectory
    managed_connectors: ManagedConnectorReconciler
    connector_claims: ConnectorClaims
    #: Bounds the passes running at once (not those waiting for a retry: kopf sleeps those outside).
    active: asyncio.Semaphore = field(default_factory=lambda: asyncio.Semaphore(64))
    _locks: dict[str, asyncio.Lock] = field(default_factory=lambda: defaultdict(asyncio.Lock))
    _ready: dict[str, dict[str, bool]] = field(default_factory=lambda: defaultdict(dict))

    def lock(self, uid: str) -> asyncio.Lock:
        """Serialises the passes of one object (a change, a resync, a deletion)."""
        return self._locks[uid]

    def forget(self, kind: str, uid: str) -> None:
        self._locks.pop(uid, None)
        self._ready[kind].pop(uid, None)
        self._publish(kind)

    def record_ready(self, kind: str, uid: str, ready: bool) -> None:
        self._ready[kind][uid] = ready
        self._publish(kind)

    def _publish(self, kind: str) -> None:
        values = self._ready[kind].values()
        metrics.RESOURCES_READY.labels(kind=kind, ready="true").set(sum(1 for v in values if v))
        metrics.RESOURCES_READY.labels(kind=kind, ready="false").set(sum(1 for v in values if not v))


_current: Runtime | None = None


class StartupError(Exception):
    """The operator cannot start with these settings; the message says why."""


async def start(settings: OperatorSettings, kube: KubeGateway | None = None) -> Runtime:
    """Build the runtime from settings; reads the default credentials Secret if one is named."""
    global _current
    kube = kube or KubernetesGateway()
    default_credentials = None
    default_secret = None
    if settings.cloud_api_key and settings.cloud_api_secret:
        default_credentials = CloudCredentials(settings.cloud_api_key, settings.cloud_api_secret.get_secret_value())
    elif settings.cloud_credentials_secret:
        default_secret = SecretName(*settings.cloud_credentials_secret.split("/"))
        try:
            default_credentials = await read_cloud_credentials(kube, default_secret)
        except CredentialsNotFound as missing:
            # A setting that names a Secret that is not there is an invalid setting: stop, saying so.
            raise StartupError(f"CCLOUD_OPERATOR_CLOUD_CREDENTIALS_SECRET: {missing}") from missing
    integrations = IntegrationDirectory()
    claims = ConnectorClaims()
    clients = ClientPool(
        confluent_url=settings.confluent_url,
        default_cloud_credentials=default_credentials,
        aws_endpoint_url=settings.aws_endpoint_url,
        retry=RetryPolicy(max_retries=settings.confluent_max_retries),
        confluent_timeout=settings.confluent_timeout,
        default_credentials_secret=default_secret,
    )
    _current = Runtime(
        settings=settings,
        guardrails=settings.guardrails(),
        kube=kube,
        clients=clients,
        provider_integrations=ProviderIntegrationReconciler(
            clients, kube, create_pending_grace=settings.create_pending_grace
        ),
        integrations=integrations,
        managed_connectors=ManagedConnectorReconciler(
            clients,
            kube,
            ConnectorListCache(),
            settings.resync_interval,
            integrations,
            create_pending_grace=settings.create_pending_grace,
            claims=claims,
        ),
        connector_claims=claims,
        active=asyncio.Semaphore(settings.max_concurrent_reconciles),
    )
    return _current


def current() -> Runtime:
    if _current is None:
        raise RuntimeError("the operator runtime is not started")
    return _current


async def stop() -> None:
    global _current
    if _current is not None:
        await _current.clients.aclose()
        if isinstance(_current.kube, KubernetesGateway):
            await _current.kube.aclose()
        _current = None
