"""The Confluent Cloud HTTP client: one ``httpx.AsyncClient`` per credential set, retries in one place."""

from __future__ import annotations

import asyncio
import logging
import random
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs, quote, urlsplit

import httpx

from ccloud_operator.confluent.errors import (
    BadRequest,
    Conflict,
    ConfluentError,
    InUse,
    TransportError,
    Unauthorized,
    error_for_response,
    means_gone,
)
from ccloud_operator.confluent.models import (
    ConnectorPlugin,
    ConnectorSnapshot,
    Integration,
    ValidationResult,
)
from ccloud_operator.confluent.ratelimit import AdaptiveLimiter, Priority

logger = logging.getLogger(__name__)

DEFAULT_BASE_URL = "https://api.confluent.cloud"


@dataclass(frozen=True)
class CloudCredentials:
    """A Cloud API key. The secret never appears in repr or logs."""

    api_key: str
    api_secret: str = field(repr=False)


@dataclass(frozen=True)
class RetryPolicy:
    """Capped exponential backoff with full jitter; ``Retry-After`` wins when the server sends it.

    Defaults follow what Confluent's own Terraform provider does: 1 s minimum, 30 s maximum, 4 retries.
    """

    max_retries: int = 4
    initial_delay: float = 1.0
    max_delay: float = 30.0

    def delay(self, attempt: int, retry_after: float | None) -> float:
        if retry_after is not None:
            return min(max(retry_after, 0.0), self.max_delay)
        ceiling = min(self.max_delay, self.initial_delay * (2**attempt))
        return random.uniform(self.initial_delay / 2, ceiling)


#: Called after every HTTP exchange: (service, endpoint template, status or "error").
#: (service, endpoint, status code or "error", seconds the exchange took or None).
CallObserver = Callable[[str, str, str, float | None], None]


def _retry_after(response: httpx.Response) -> float | None:
    value = response.headers.get("Retry-After")
    if value is None:
        return None
    try:
        return float(value)
    except ValueError:
        return None


class ConfluentClient:
    """Typed access to the pim/v1 and connect/v1 APIs for one Cloud API key."""

    def __init__(
        self,
        credentials: CloudCredentials,
        *,
        base_url: str = DEFAULT_BASE_URL,
        retry: RetryPolicy | None = None,
        timeout: float = 30.0,
        observer: CallObserver | None = None,
        transport: httpx.AsyncBaseTransport | None = None,
        refresh: Callable[[], Awaitable[CloudCredentials | None]] | None = None,
        limiter: AdaptiveLimiter | None = None,
    ) -> None:
        """``refresh``, when given, is asked for the current key after a 401: a rotated key is picked up
        and the refused call sent once more."""
        self._retry = retry or RetryPolicy()
        #: One per key: Confluent limits per key and per organisation.
        self.limiter = limiter or AdaptiveLimiter()
        self._observer = observer
        self._credentials = credentials
        self._refresh = refresh
        self._http = httpx.AsyncClient(
            base_url=base_url.rstrip("/"),
            auth=httpx.BasicAuth(credentials.api_key, credentials.api_secret),
            timeout=timeout,
            headers={"Accept": "application/json", "User-Agent": "ccloud-operator"},
            transport=transport,
        )

    async def aclose(self) -> None:
        await self._http.aclose()

    def use(self, credentials: CloudCredentials) -> None:
        """Send every later request with this key (a rotation)."""
        self._credentials = credentials
        self._http.auth = httpx.BasicAuth(credentials.api_key, credentials.api_secret)

    # -- transport -----------------------------------------------------------------------------

    async def _request(
        self,
        method: str,
        path: str,
        *,
        endpoint: str,
        params: dict[str, str] | None = None,
        json_body: Any = None,
        idempotent: bool = True,
    ) -> httpx.Response:
        """Send one request, retrying what is safe to retry; raise a ConfluentError on failure.

        A non-idempotent request (a create) is retried only when the server refused it before doing
        anything (429) or it never left this process (connect error); after a 5xx or a timeout the
        caller must observe the world again before trying, or it could create a duplicate.
        """
        service = endpoint.split("/", 2)[1] if endpoint.startswith("/") else endpoint
        attempt = 0
        refreshed = False
        # Reads finish work already started: a connector's create is done when the shared list shows it
        # RUNNING, so under a rate limit that list must not queue behind the next hundred creates.
        priority = Priority.READ if method == "GET" else Priority.WRITE
        while True:
            sent_with = self._credentials
            await self.limiter.acquire(priority)
            started = time.monotonic()
            try:
                response = await self._http.request(method, path, params=params, json=json_body)
            except httpx.TransportError as exc:
                self._observe(service, endpoint, "error", time.monotonic() - started)
                error: ConfluentError = TransportError(f"{method} {endpoint}: {type(exc).__name__}: {exc}".rstrip(": "))
                sent = not isinstance(exc, httpx.ConnectError)
                if attempt < self._retry.max_retries and (idempotent or not sent):
                    await self._sleep(attempt, None, error)
                    attempt += 1
                    continue
                raise error from exc
            self._observe(service, endpoint, str(response.status_code), time.monotonic() - started)
            if response.status_code == 429:
                self.limiter.throttled_by_server(_retry_after(response))
            else:
                self.limiter.succeeded()
            if response.status_code < 400:
                return response
            error = error_for_response(
                response.status_code,
                response.text,
                request_id=response.headers.get("X-Request-Id"),
                retry_after=_retry_after(response),
                location=response.headers.get("Location"),
            )
            if isinstance(error, Unauthorized) and self._refresh is not None and not refreshed:
                # The key was refused before anything happened: a rotated one may be in its Secret (or
                # a concurrent call has already found it there).
                refreshed = True
                current = self._credentials if self._credentials != sent_with else await self._refresh()
                if current is not None and current != sent_with:
                    self.use(current)
                    continue
            can_retry = error.retryable and (idempotent or response.status_code == 429)
            if can_retry and attempt < self._retry.max_retries:
                await self._sleep(attempt, error.retry_after, error)
                attempt += 1
                continue
            raise error

    async def _sleep(self, attempt: int, retry_after: float | None, error: ConfluentError) -> None:
        delay = self._retry.delay(attempt, retry_after)
        logger.info("Confluent call failed (%s); retry %d in %.1fs", error, attempt + 1, delay)
        self._observe("retry", type(error).__name__, str(error.status or "error"))
        await asyncio.sleep(delay)

    def _observe(self, service: str, endpoint: str, status: str, seconds: float | None = None) -> None:
        if self._observer is not None:
            self._observer(service, endpoint, status, seconds)

    # -- provider integrations (pim/v1) ----------------------------------------------------------

    async def list_integrations(self, environment: str) -> AsyncIterator[Integration]:
        """Every AWS integration in an environment, following ``metadata.next`` page by page.

        The list's ``provider`` filter is an exact match [pim1], and Terraform and the CLI register
        integrations as "aws" while the spec's examples say "AWS": the filter would hide some, so the
        provider is compared here, ignoring case.
        """
        params: dict[str, str] = {"environment": environment, "page_size": "100"}
        while True:
            response = await self._request(
                "GET", "/pim/v1/integrations", endpoint="/pim/v1/integrations", params=params
            )
            body = response.json()
            for item in body.get("data") or []:
                integration = Integration.from_api(item)
                if integration.provider.lower() == "aws":
                    yield integration
            next_url = (body.get("metadata") or {}).get("next")
            if not next_url:
                return
            # metadata.next is a full URL; only its page_token matters, and page_size only counts on
            # the first request [CONTRACT §1 Pagination].
            tokens = parse_qs(urlsplit(next_url).query).get("page_token")
            if not tokens:
                return
            params = {"environment": environment, "page_token": tokens[0]}

    async def find_integration_by_role(self, environment: str, customer_role_arn: str) -> Integration | None:
        """The integration registered for a customer role; the role ARN is unique per environment."""
        async for integration in self.list_integrations(environment):
            if integration.customer_role_arn == customer_role_arn:
                return integration
        return None

    async def get_integration(self, environment: str, integration_id: str) -> Integration | None:
        """One integration, or None when Confluent does not show it (404, or 403 in place of 404)."""
        try:
            response = await self._request(
                "GET",
                f"/pim/v1/integrations/{quote(integration_id)}",
                endpoint="/pim/v1/integrations/{id}",
                params={"environment": environment},
            )
        except ConfluentError as error:
            if means_gone(error):
                return None
            raise
        return Integration.from_api(response.json())

    async def create_integration(self, environment: str, display_name: str, customer_role_arn: str) -> Integration:
        """Register a customer role. Not idempotent: look for an existing one first."""
        response = await self._request(
            "POST",
            "/pim/v1/integrations",
            endpoint="/pim/v1/integrations",
            json_body={
                "display_name": display_name,
                "provider": "AWS",
                "config": {"kind": "AwsIntegrationConfig", "customer_iam_role_arn": customer_role_arn},
                "environment": {"id": environment},
            },
            idempotent=False,
        )
        return Integration.from_api(response.json())

    async def delete_integration(self, environment: str, integration_id: str) -> None:
        """Delete an integration; a missing one counts as deleted. Raises InUse while something uses it."""
        try:
            await self._request(
                "DELETE",
                f"/pim/v1/integrations/{quote(integration_id)}",
                endpoint="/pim/v1/integrations/{id}",
                params={"environment": environment},
            )
        except BadRequest as error:
            # The refusal of an integration in use is undocumented; 400 is what the DELETE documents.
            raise InUse(error.message, status=error.status, code=error.code, request_id=error.request_id) from error
        except ConfluentError as error:
            if not means_gone(error):
                raise

    # -- connectors (connect/v1) -------------------------------------------------------------------

    @staticmethod
    def _connect_base(environment: str, cluster: str) -> str:
        return f"/connect/v1/environments/{quote(environment)}/clusters/{quote(cluster)}"

    async def list_connectors_expanded(self, environment: str, cluster: str) -> dict[str, ConnectorSnapshot]:
        """Every connector in a cluster with id, config and status, in one request."""
        response = await self._request(
            "GET",
            f"{self._connect_base(environment, cluster)}/connectors",
            endpoint="/connect/v1/connectors?expand",
            params={"expand": "id,info,status"},
        )
        body = response.json() or {}
        return {name: ConnectorSnapshot.from_expanded(name, item) for name, item in body.items()}

    async def create_connector(self, environment: str, cluster: str, name: str, config: dict[str, str]) -> None:
        """Create a connector; it starts PROVISIONING. Raises Conflict when the name is taken."""
        try:
            await self._request(
                "POST",
                f"{self._connect_base(environment, cluster)}/connectors",
                endpoint="/connect/v1/connectors",
                json_body={"name": name, "config": config},
                idempotent=False,
            )
        except BadRequest as error:
            # A taken name is 400 or 409 (undocumented [CONTRACT 4, 9]); no code tells a 400 for a
            # taken name from a 400 for a bad config, only Connect's wording does.
            if "already exists" in error.message.lower():
                raise Conflict(error.message, status=400, code=error.code, request_id=error.request_id) from error
            raise

    async def put_connector_config(self, environment: str, cluster: str, name: str, config: dict[str, str]) -> None:
        """Replace a connector's whole configuration (PUT is a full replacement)."""
        await self._request(
            "PUT",
            f"{self._connect_base(environment, cluster)}/connectors/{quote(name, safe='')}/config",
            endpoint="/connect/v1/connectors/{name}/config",
            json_body=config,
        )

    async def _connector_action(self, method: str, environment: str, cluster: str, name: str, action: str) -> None:
        await self._request(
            method,
            f"{self._connect_base(environment, cluster)}/connectors/{quote(name, safe='')}/{action}",
            endpoint=f"/connect/v1/connectors/{{name}}/{action}",
        )

    async def pause_connector(self, environment: str, cluster: str, name: str) -> None:
        await self._connector_action("PUT", environment, cluster, name, "pause")

    async def resume_connector(self, environment: str, cluster: str, name: str) -> None:
        await self._connector_action("PUT", environment, cluster, name, "resume")

    async def restart_connector(self, environment: str, cluster: str, name: str) -> None:
        await self._connector_action("POST", environment, cluster, name, "restart")

    async def delete_connector(self, environment: str, cluster: str, name: str) -> None:
        """Delete a connector; a missing one (404, or 403 in place of 404) counts as deleted."""
        try:
            await self._request(
                "DELETE",
                f"{self._connect_base(environment, cluster)}/connectors/{quote(name, safe='')}",
                endpoint="/connect/v1/connectors/{name}",
            )
        except ConfluentError as error:
            if not means_gone(error):
                raise

    async def list_plugins(self, environment: str, cluster: str) -> list[ConnectorPlugin]:
        response = await self._request(
            "GET",
            f"{self._connect_base(environment, cluster)}/connector-plugins",
            endpoint="/connect/v1/connector-plugins",
        )
        return [ConnectorPlugin.from_api(item) for item in response.json() or []]

    async def validate_config(
        self, environment: str, cluster: str, plugin: str, config: dict[str, str]
    ) -> ValidationResult:
        """Validate a config; HTTP 200 even when invalid, so read ``error_count``."""
        response = await self._request(
            "PUT",
            f"{self._connect_base(environment, cluster)}/connector-plugins/{quote(plugin, safe='')}/config/validate",
            endpoint="/connect/v1/connector-plugins/{plugin}/config/validate",
            json_body=config,
        )
        return ValidationResult.from_api(response.json())


__all__ = ["CloudCredentials", "Conflict", "ConfluentClient", "RetryPolicy"]
