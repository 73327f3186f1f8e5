"""Long-lived API clients, one per credential set, and the credential lookups that pick them."""

from __future__ import annotations

import asyncio
import hashlib
import logging
from collections.abc import Awaitable, Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

from ccloud_operator import metrics
from ccloud_operator.aws.iam import AwsCredentials, IamClient
from ccloud_operator.confluent.client import CloudCredentials, ConfluentClient, RetryPolicy
from ccloud_operator.kube import KubeGateway
from ccloud_operator.models.common import CloudCredentialsRef
from ccloud_operator.models.provider_integration import AwsCredentialsRef

logger = logging.getLogger(__name__)


class CredentialsNotFound(Exception):
    """A referenced Secret, or a key in it, does not exist; or no default credentials are configured."""


@dataclass(frozen=True)
class SecretName:
    """Where the operator-wide Cloud API key lives, with the keys `api-key` and `api-secret`."""

    namespace: str
    name: str

    def __str__(self) -> str:
        return f"{self.namespace}/{self.name}"


async def read_cloud_credentials(kube: KubeGateway, secret: SecretName) -> CloudCredentials:
    """The operator-wide key from its Secret; CredentialsNotFound names what is missing."""
    data = await kube.read_secret(secret.namespace, secret.name)
    if data is None:
        raise CredentialsNotFound(f"Secret {secret} with the operator's Confluent Cloud API key was not found")
    missing = [key for key in ("api-key", "api-secret") if not data.get(key)]
    if missing:
        raise CredentialsNotFound(f"Secret {secret} has no key(s) {', '.join(missing)}")
    return CloudCredentials(data["api-key"], data["api-secret"])


def _fingerprint(*parts: str) -> str:
    # Clients are keyed by a hash so no secret is kept as a dict key in plain text.
    return hashlib.sha256("\0".join(parts).encode()).hexdigest()


class ClientPool:
    """Hands out one client per (endpoint, credentials) and closes them all at shutdown."""

    def __init__(
        self,
        *,
        confluent_url: str,
        default_cloud_credentials: CloudCredentials | None,
        aws_endpoint_url: str | None,
        retry: RetryPolicy | None = None,
        confluent_timeout: float = 30.0,
        default_credentials_secret: SecretName | None = None,
    ) -> None:
        """``default_credentials_secret``: where the operator-wide key came from, if from a Secret; it is
        read again when Confluent refuses the key (401) or the Secret changes, so a rotated key is used
        without a restart."""
        self.confluent_url = confluent_url
        self.default_cloud_credentials = default_cloud_credentials
        self.aws_endpoint_url = aws_endpoint_url
        self._retry = retry
        self._timeout = confluent_timeout
        self._default_secret = default_credentials_secret
        self._default: ConfluentClient | None = None
        self._confluent: dict[str, ConfluentClient] = {}
        self._iam: dict[str, IamClient] = {}
        #: boto3 is synchronous; its calls get threads of their own (a few: IAM answers in tens of ms).
        self._aws_executor = ThreadPoolExecutor(max_workers=4, thread_name_prefix="aws")
        self._lock = asyncio.Lock()

    async def confluent(self, kube: KubeGateway, namespace: str, ref: CloudCredentialsRef | None) -> ConfluentClient:
        """The Confluent client for a resource's credentials (its Secret, or the operator's)."""
        if ref is None and self.default_cloud_credentials is not None:
            async with self._lock:
                if self._default is None:
                    secret = self._default_secret
                    self._default = self._new_confluent(
                        self.default_cloud_credentials,
                        refresh=(lambda: self.reload_default(kube)) if secret is not None else None,
                    )
                return self._default
        credentials = await self._cloud_credentials(kube, namespace, ref)
        key = _fingerprint(self.confluent_url, credentials.api_key, credentials.api_secret)
        async with self._lock:
            client = self._confluent.get(key)
            if client is None:
                client = self._confluent[key] = self._new_confluent(credentials)
        return client

    def _new_confluent(
        self, credentials: CloudCredentials, refresh: Callable[[], Awaitable[CloudCredentials | None]] | None = None
    ) -> ConfluentClient:
        return ConfluentClient(
            credentials,
            base_url=self.confluent_url,
            retry=self._retry,
            timeout=self._timeout,
            observer=metrics.observe_external_call,
            refresh=refresh,
        )

    def is_default_secret(self, namespace: str, name: str) -> bool:
        """Whether this Secret holds the operator-wide key."""
        return self._default_secret == SecretName(namespace, name)

    async def reload_default(self, kube: KubeGateway) -> CloudCredentials | None:
        """Read the operator-wide key's Secret again; the default client uses what it holds from now on.

        Returns the key read, or None when the Secret cannot be read (the old key stays in use).
        """
        if self._default_secret is None:
            return None
        try:
            credentials = await read_cloud_credentials(kube, self._default_secret)
        except CredentialsNotFound as missing:
            logger.warning("Could not reload the operator's Confluent Cloud API key: %s", missing)
            return None
        if credentials != self.default_cloud_credentials:
            logger.info("Using the Confluent Cloud API key in Secret %s (it changed)", self._default_secret)
            self.default_cloud_credentials = credentials
            if self._default is not None:
                self._default.use(credentials)
        return credentials

    async def _cloud_credentials(
        self, kube: KubeGateway, namespace: str, ref: CloudCredentialsRef | None
    ) -> CloudCredentials:
        if ref is None:
            if self.default_cloud_credentials is None:
                raise CredentialsNotFound(
                    "no cloudCredentialsSecretRef is set and the operator has no default Confluent Cloud credentials"
                )
            return self.default_cloud_credentials
        data = await kube.read_secret(namespace, ref.name)
        if data is None:
            raise CredentialsNotFound(f"Secret {namespace}/{ref.name} with the Confluent Cloud API key was not found")
        missing = [key for key in (ref.api_key_key, ref.api_secret_key) if not data.get(key)]
        if missing:
            raise CredentialsNotFound(f"Secret {namespace}/{ref.name} has no key(s) {', '.join(missing)}")
        return CloudCredentials(data[ref.api_key_key], data[ref.api_secret_key])

    async def iam(self, kube: KubeGateway, namespace: str, ref: AwsCredentialsRef | None, region: str) -> IamClient:
        """The IAM client for a resource: keys from its Secret, or the default AWS credential chain."""
        credentials: AwsCredentials | None = None
        if ref is not None:
            data = await kube.read_secret(namespace, ref.name)
            if data is None:
                raise CredentialsNotFound(f"Secret {namespace}/{ref.name} with AWS keys was not found")
            missing = [key for key in (ref.access_key_id_key, ref.secret_access_key_key) if not data.get(key)]
            if missing:
                raise CredentialsNotFound(f"Secret {namespace}/{ref.name} has no key(s) {', '.join(missing)}")
            credentials = AwsCredentials(data[ref.access_key_id_key], data[ref.secret_access_key_key])
        key = _fingerprint(
            self.aws_endpoint_url or "",
            region,
            credentials.access_key_id if credentials else "",
            credentials.secret_access_key if credentials else "",
        )
        async with self._lock:
            client = self._iam.get(key)
            if client is None:
                # boto3 builds clients with blocking file reads; do it off the event loop.
                client = await asyncio.to_thread(
                    IamClient,
                    credentials,
                    region=region,
                    endpoint_url=self.aws_endpoint_url,
                    observer=metrics.observe_external_call,
                    executor=self._aws_executor,
                )
                self._iam[key] = client
        return client

    async def aclose(self) -> None:
        for client in [*self._confluent.values(), *([self._default] if self._default else [])]:
            await client.aclose()
        self._confluent.clear()
        self._default = None
        self._iam.clear()
        self._aws_executor.shutdown(wait=False, cancel_futures=True)
