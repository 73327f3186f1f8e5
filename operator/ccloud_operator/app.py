"""Operator assembly: kopf settings, handler registration, start-up and clean-up."""

from __future__ import annotations

import logging
from typing import Any

import kopf

from ccloud_operator import events, runtime
from ccloud_operator.constants import FINALIZER, KOPF_PREFIX
from ccloud_operator.handlers import managed_connector, provider_integration, secrets
from ccloud_operator.settings import OperatorSettings

logger = logging.getLogger(__name__)


def build_registry(config: OperatorSettings, startup_errors: list[str]) -> kopf.OperatorRegistry:
    """A kopf registry holding every handler, configured from the settings; a start-up that finds the
    settings unusable appends why to `startup_errors` before kopf stops."""
    registry = kopf.OperatorRegistry()

    @kopf.on.startup(registry=registry)
    async def configure(settings: kopf.OperatorSettings, **_: Any) -> None:
        # The project's own names instead of kopf.zalando.org/... on every object it touches.
        settings.persistence.finalizer = FINALIZER
        settings.persistence.progress_storage = kopf.AnnotationsProgressStorage(prefix=KOPF_PREFIX)
        settings.persistence.diffbase_storage = kopf.AnnotationsDiffBaseStorage(
            prefix=KOPF_PREFIX, key="last-handled-configuration"
        )
        events.configure_posting(settings)
        settings.networking.request_timeout = 60
        settings.watching.server_timeout = 300
        settings.batching.error_delays = [1, 2, 5, 10, 30, 60]
        try:
            await runtime.start(config)
        except runtime.StartupError as error:
            startup_errors.append(str(error))
            raise kopf.PermanentError(str(error)) from error
        logger.info("Operator started; Confluent API at %s", config.confluent_url)

    @kopf.on.login(registry=registry)
    def login(**kwargs: Any) -> kopf.ConnectionInfo | None:
        # In a pod: the ServiceAccount token; elsewhere: KUBECONFIG. kopf's own client-library
        # login is not used, so the two credential sources are explicit.
        return kopf.login_with_service_account(**kwargs) or kopf.login_with_kubeconfig(**kwargs)

    @kopf.on.cleanup(registry=registry)
    async def shutdown(**_: Any) -> None:
        await runtime.stop()
        logger.info("Operator stopped")

    provider_integration.register(registry, config.validation_interval)
    managed_connector.register(registry, config.resync_interval)
    secrets.register(registry)
    return registry


async def run_operator(settings: OperatorSettings) -> int:
    """Run until SIGINT or SIGTERM (kopf handles both and lets running handlers finish)."""
    if settings.metrics_port:
        from prometheus_client import start_http_server

        start_http_server(settings.metrics_port, addr=settings.bind_address)
    liveness = f"http://{settings.bind_address}:{settings.health_port}/healthz" if settings.health_port else None
    startup_errors: list[str] = []
    try:
        await kopf.operator(
            registry=build_registry(settings, startup_errors),
            clusterwide=not settings.namespaces,
            namespaces=settings.namespaces,
            standalone=True,
            liveness_endpoint=liveness,
        )
    except Exception:
        if not startup_errors:
            raise
        # An invalid setting found only at start (a Secret that is not there): say why, in one line,
        # and exit like the settings check does.
        logger.error("The operator cannot start: %s", "; ".join(startup_errors))
        return 2
    return 0
