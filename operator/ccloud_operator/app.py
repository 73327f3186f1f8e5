"""Operator assembly: kopf settings, handler registration, start-up and clean-up."""

from __future__ import annotations

import asyncio
import logging
import os
import signal
from typing import Any

import kopf
from aiohttp import web

from ccloud_operator import events, memory, runtime
from ccloud_operator.constants import KOPF_PREFIX
from ccloud_operator.handlers import managed_connector, provider_integration, resync, secrets
from ccloud_operator.handlers.references import Directory
from ccloud_operator.kube import KubeApi, own_namespace, service_address
from ccloud_operator.leadership import KubernetesLeaseStore, LeaderElector, default_identity
from ccloud_operator.settings import OperatorSettings

logger = logging.getLogger(__name__)


def build_registry(config: OperatorSettings, startup_errors: list[str]) -> kopf.OperatorRegistry:
    """A kopf registry holding every handler, configured from the settings; a start-up that finds the
    settings unusable appends why to `startup_errors` before kopf stops."""
    registry = kopf.OperatorRegistry()
    loop = resync.ResyncLoop(max_in_flight=config.max_concurrent_reconciles)
    resyncing: list[asyncio.Task[None]] = []

    @kopf.on.startup(registry=registry)
    async def configure(settings: kopf.OperatorSettings, **_: Any) -> None:
        # The project's own names instead of kopf.zalando.org/... on every object it touches.
        # kopf runs no deletion handler: the resync loop holds the operator's finalizer (FINALIZER) and
        # runs the deletion passes, because kopf sleeps a retrying deletion handler inside the object's
        # worker, and an integration waiting there for its connectors would keep that worker from other
        # objects. kopf's own finalizer name is one no object carries, so kopf never adds or removes one.
        settings.persistence.finalizer = f"{KOPF_PREFIX}/no-finalizer"
        # kopf runs watch-event handlers only (the resync loop finds changes itself), so it writes neither
        # progress nor a diff-base; these keep its names the project's should it ever write one.
        settings.persistence.progress_storage = kopf.AnnotationsProgressStorage(prefix=KOPF_PREFIX)
        settings.persistence.diffbase_storage = kopf.AnnotationsDiffBaseStorage(
            prefix=KOPF_PREFIX, key="last-handled-configuration"
        )
        events.configure_posting(settings)
        settings.networking.request_timeout = 60
        settings.watching.server_timeout = 300
        settings.batching.error_delays = [1, 2, 5, 10, 30, 60]
        # Every event's body stays alive while it waits for a kopf worker and while the worker idles
        # after it. With a limit on workers a bulk apply of 10,000 objects queued thousands of bodies for
        # minutes (docs/performance.md, section 7); without one each event is handed to the resync loop at
        # once and its worker leaves a tenth of a second later (kopf's default keeps it for 5 s).
        settings.queueing.worker_limit = config.max_concurrent_objects or None
        settings.queueing.idle_timeout = 0.1
        try:
            await runtime.start(config)
        except runtime.StartupError as error:
            startup_errors.append(str(error))
            raise kopf.PermanentError(str(error)) from error
        # A connector that starts fine wakes its siblings still failing on the same role (IAM propagation).
        runtime.current().managed_connectors.propagation.wake_with(loop.changed)
        # Started here, inside kopf's context, so the passes it runs can post Events as handlers do.
        resyncing.append(asyncio.create_task(loop.run(runtime.current().kube), name="resync loop"))
        logger.info("Operator started; Confluent API at %s", config.confluent_url)

    @kopf.on.login(registry=registry)
    def login(**kwargs: Any) -> kopf.ConnectionInfo | None:
        # In a pod: the ServiceAccount token; elsewhere: KUBECONFIG. kopf's own client-library
        # login is not used, so the two credential sources are explicit.
        in_cluster = kopf.login_with_service_account(**kwargs)
        if in_cluster is not None:
            return service_address(in_cluster, os.environ)
        return kopf.login_with_kubeconfig(**kwargs)

    @kopf.on.cleanup(registry=registry)
    async def shutdown(**_: Any) -> None:
        for task in resyncing:
            task.cancel()
        await asyncio.gather(*resyncing, return_exceptions=True)
        await runtime.stop()
        logger.info("Operator stopped")

    shard = config.shard()
    directory = Directory()
    provider_integration.register(registry, loop, directory, config.validation_interval, shard.when())
    managed_connector.register(registry, loop, directory, config.resync_interval, shard.when())
    secrets.register(registry, loop, directory, shard)
    return registry


async def run_operator(settings: OperatorSettings) -> int:
    """Run until SIGINT or SIGTERM (kopf handles both and lets running handlers finish); with leader
    election, stand by until this process holds the Lease."""
    if settings.metrics_port:
        from prometheus_client import start_http_server

        start_http_server(settings.metrics_port, addr=settings.bind_address)
    if not settings.leader_election:
        return await _run_kopf(settings)
    return await _run_as_leader(settings)


async def _run_kopf(settings: OperatorSettings) -> int:
    liveness = f"http://{settings.bind_address}:{settings.health_port}/healthz" if settings.health_port else None
    startup_errors: list[str] = []
    trimming = asyncio.create_task(memory.trim_periodically(settings.memory_trim_interval))
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
    finally:
        trimming.cancel()
    return 0


async def _run_as_leader(settings: OperatorSettings) -> int:
    namespace = settings.leader_election_namespace or own_namespace()
    api = KubeApi()
    store = KubernetesLeaseStore(api, namespace, settings.lease_name())
    elector = LeaderElector(
        store,
        default_identity(),
        lease_seconds=settings.lease_duration,
        renew_seconds=settings.lease_renew_interval,
    )
    logger.info(
        "Leader election on Lease %s/%s as %s (shard %s)", namespace, store.name, elector.identity, settings.shard()
    )
    stopping = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stopping.set)
    standby = await _standby_health(settings)
    try:
        acquiring = asyncio.create_task(elector.acquire())
        stop_waiter = asyncio.create_task(stopping.wait())
        await asyncio.wait({acquiring, stop_waiter}, return_when=asyncio.FIRST_COMPLETED)
        stop_waiter.cancel()
        if not acquiring.done():
            acquiring.cancel()
            logger.info("Stopped while standing by")
            return 0
        acquiring.result()
    finally:
        if standby is not None:
            await standby.cleanup()
    # kopf installs its own SIGINT/SIGTERM handlers from here on and stops gracefully on them.
    holding = asyncio.create_task(elector.hold())
    operating = asyncio.create_task(_run_kopf(settings))
    await asyncio.wait({holding, operating}, return_when=asyncio.FIRST_COMPLETED)
    if holding.done():
        # Another replica may be reconciling already: stop at once, in the middle of whatever runs,
        # rather than let two processes write to the same objects. Every pass is safe to cut short
        # (the operator is built to survive SIGKILL at any line); the pod restarts as a standby.
        error = holding.exception()
        logger.error("Lost the Lease, stopping at once: %s", error)
        logging.shutdown()
        os._exit(1)
    holding.cancel()
    code = operating.result()
    await elector.release()
    await api.aclose()
    return code


async def _standby_health(settings: OperatorSettings) -> web.AppRunner | None:
    """A standby is alive and must not be restarted by its liveness probe: answer /healthz until kopf
    serves it (on the same port) after the Lease is won."""
    if not settings.health_port:
        return None

    async def healthz(_: web.Request) -> web.Response:
        return web.json_response({"standby": True})

    app = web.Application()
    app.router.add_get("/healthz", healthz)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    await web.TCPSite(runner, settings.bind_address, settings.health_port, reuse_address=True).start()
    return runner
