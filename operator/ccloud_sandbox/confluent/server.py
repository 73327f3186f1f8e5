"""The emulator's aiohttp application and its serve loop.

Request pipeline for the emulated APIs (everything outside `/_sandbox/`):
X-Request-Id -> faults (rate limit, latency, injected errors, held timeouts) -> authentication ->
handler (authorization inside) -> request log and response log. Admin requests skip faults and auth.
"""

from __future__ import annotations

import asyncio
import json
import logging
import signal
import socket
import sys
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from aiohttp import web

from ccloud_sandbox.confluent import admin_api, connect_api, iam_api, pim_api
from ccloud_sandbox.confluent.auth import Authorizer, authenticate
from ccloud_sandbox.confluent.aws_access import AwsSettings
from ccloud_sandbox.confluent.context import (
    API_KEY,
    OPERATION_IDS,
    OPERATION_OVERRIDE,
    SANDBOX,
    Handler,
    Sandbox,
    now_iso,
)
from ccloud_sandbox.confluent.errors import ApiError, family_of, render
from ccloud_sandbox.confluent.faults import FaultInjector, FaultSettings
from ccloud_sandbox.confluent.observe import RequestLog, ResponseLog
from ccloud_sandbox.confluent.plugins import is_sensitive
from ccloud_sandbox.confluent.realism import REALISTIC, Draws, Realism
from ccloud_sandbox.confluent.runtime import ConnectorRuntime
from ccloud_sandbox.confluent.state import MASK, ApiKey, SandboxState, StateFile, seed_state

log = logging.getLogger(__name__)

ADMIN_PREFIX = "/_sandbox/"


@dataclass
class ServeOptions:
    """Everything `ccloud-sandbox confluent serve` can be told."""

    host: str = "127.0.0.1"
    port: int = 0
    #: A listening socket inherited from the parent (`EmulatorProcess` keeps one across restarts, so the
    #: port stays the emulator's while it is down); host and port are then ignored.
    listen_fd: int | None = None
    aws: AwsSettings | None = None
    region: str = "us-east-1"
    api_key: str | None = None
    api_secret: str | None = None
    integration_quota: int = 100
    state_file: Path | None = None
    realism: Realism = REALISTIC
    response_log: Path | None = None
    faults: FaultSettings = field(default_factory=FaultSettings)


def load_or_seed_state(options: ServeOptions) -> tuple[SandboxState, StateFile | None]:
    """The saved state when there is a state file with content, else a freshly seeded world."""
    state_file = StateFile(options.state_file) if options.state_file is not None else None
    state = state_file.load() if state_file is not None else None
    if state is None:
        state = seed_state(
            region=options.region,
            api_key=options.api_key,
            api_secret=options.api_secret,
            integration_quota=options.integration_quota,
            created_at=now_iso(),
        )
    elif options.api_key and options.api_secret and options.api_key not in state.api_keys:
        # A key given on the command line always works, as the seed service account's.
        seed_account = state.service_accounts[state.seed_service_account_id]
        state.api_keys[options.api_key] = ApiKey(options.api_key, options.api_secret, seed_account.principal)
    if state_file is not None:
        state_file.save(state)
    return state, state_file


def _route_template(request: web.Request) -> str | None:
    resource = request.match_info.route.resource
    return resource.canonical if resource is not None else None


def _operation_id(request: web.Request) -> str | None:
    if OPERATION_OVERRIDE in request:
        return request[OPERATION_OVERRIDE]
    handler: Handler = request.match_info.handler
    operation_id: str | None = OPERATION_IDS.get(handler)
    return operation_id


def _has_body(response: web.StreamResponse) -> bool:
    return isinstance(response, web.Response) and bool(response.body)


def _parsed_body(response: web.StreamResponse) -> Any:
    if not isinstance(response, web.Response) or response.body is None:
        return None
    if response.content_type != "application/json" or response.text is None:
        return None
    try:
        return json.loads(response.text)
    except json.JSONDecodeError:
        return None


def _masked(value: Any) -> Any:
    """A request body with every sensitive config value replaced by the mask (the log is a file)."""
    if isinstance(value, dict):
        return {k: (MASK if isinstance(v, str) and is_sensitive(k) else _masked(v)) for k, v in value.items()}
    if isinstance(value, list):
        return [_masked(item) for item in value]
    return value


async def _request_body(request: web.Request) -> Any:
    """The parsed JSON request body, masked; None when there is none; the raw text when it is not JSON."""
    if not request.can_read_body:
        return None
    try:
        raw = await request.read()
    except Exception:  # the client went away meanwhile: the entry goes without a body
        return None
    if not raw:
        return None
    try:
        return _masked(json.loads(raw))
    except (json.JSONDecodeError, UnicodeDecodeError):
        return {"unparsed": raw[:200].decode(errors="replace")}


def _http_error(error: web.HTTPException) -> ApiError:
    if error.status == 405:
        return ApiError(405, f"Method not allowed; allowed: {', '.join(sorted(getattr(error, 'allowed_methods', [])))}")
    if error.status == 404:
        return ApiError(404, "The requested resource was not found")
    return ApiError(error.status, error.reason)


@web.middleware
async def sandbox_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Request id, admin bypass, faults, authentication, error rendering and logging."""
    sandbox = request.app[SANDBOX]
    request_id = str(uuid.uuid4())
    if request.path.startswith(ADMIN_PREFIX):
        try:
            response = await handler(request)
        except ApiError as error:
            response = render(error, "standard", "error")
        except web.HTTPException as error:
            response = render(_http_error(error), "standard", "error")
        response.headers["X-Request-Id"] = request_id
        return response

    started = time.monotonic()
    sandbox.sweep()
    family = family_of(request.path)
    verdict = sandbox.faults.decide(request.method, request.path)
    # Logged on arrival and completed on the way out: a request whose client went away meanwhile (the
    # handler is cancelled) stays in the log with no status, which is how a lost answer shows.
    record: dict[str, Any] = {
        "arrived": now_iso(),
        "time": None,
        "method": request.method,
        "path": request.path,
        "query": dict(request.query),
        "status": None,
        "duration_ms": None,
        "request_id": request_id,
        "operation_id": None,
        "fault": verdict.reason or None,
    }
    sandbox.requests.add(record)
    try:
        if verdict.latency_seconds:
            await asyncio.sleep(verdict.latency_seconds)
        if verdict.hold_seconds:
            await asyncio.sleep(verdict.hold_seconds)
        if verdict.status:
            raise ApiError(verdict.status, _fault_detail(verdict.status), headers=dict(verdict.rate_limit_headers))
        request[API_KEY] = authenticate(sandbox.state, request.headers.get("Authorization"))
        response = await handler(request)
        if verdict.response_delay_seconds:
            await asyncio.sleep(verdict.response_delay_seconds)
    except ApiError as error:
        response = render(error, family, sandbox.faults.settings.connect_error_shape)
    except web.HTTPException as error:
        response = render(_http_error(error), family, sandbox.faults.settings.connect_error_shape)
    response.headers["X-Request-Id"] = request_id
    if not verdict.status:
        for name, value in verdict.rate_limit_headers.items():
            response.headers.setdefault(name, value)

    duration_ms = round((time.monotonic() - started) * 1000, 1)
    operation_id = _operation_id(request)
    record.update(time=now_iso(), status=response.status, duration_ms=duration_ms, operation_id=operation_id)
    log.debug("%s %s -> %s (%.1f ms)", request.method, request.path, response.status, duration_ms)
    if sandbox.responses is not None:
        sandbox.responses.write(
            {
                "time": now_iso(),
                "client": request.headers.get("User-Agent", ""),
                "request_body": await _request_body(request),
                "method": request.method,
                "path": request.path,
                "query": dict(request.query),
                "path_template": _route_template(request),
                "operation_id": operation_id,
                "status": response.status,
                "content_type": response.content_type if _has_body(response) else None,
                "body": _parsed_body(response),
                "fault": verdict.reason or None,
            }
        )
    return response


def _fault_detail(status: int) -> str:
    return {
        429: "Too many requests; retry after the time given in Retry-After",
        500: "Internal server error (injected by the emulator)",
        503: "Service unavailable (injected by the emulator)",
        504: "Gateway timeout (the emulator held this request)",
    }.get(status, f"Injected error {status}")


def build_app(options: ServeOptions) -> web.Application:
    """The application with state loaded (or seeded); start it with `serve` or an AppRunner."""
    state, state_file = load_or_seed_state(options)

    holder: list[Sandbox] = []
    runtime = ConnectorRuntime(
        state, lambda connector: holder[0].changed(connector), options.aws, lambda: holder[0].realism
    )
    sandbox = Sandbox(
        state=state,
        state_file=state_file,
        runtime=runtime,
        authorizer=Authorizer(state),
        faults=FaultInjector(options.faults),
        requests=RequestLog(),
        responses=ResponseLog(options.response_log) if options.response_log is not None else None,
        realism=options.realism,
        draws=Draws(options.realism.seed),
        render_connector=connect_api.expanded_entry,
    )
    holder.append(sandbox)
    app = web.Application(middlewares=[sandbox_middleware])
    app[SANDBOX] = sandbox
    app.add_routes(pim_api.routes() + connect_api.routes() + iam_api.routes() + admin_api.routes())

    async def on_startup(_: web.Application) -> None:
        runtime.resume_after_load()

    async def on_cleanup(_: web.Application) -> None:
        await runtime.close()
        sandbox.persist()
        if sandbox.responses is not None:
            sandbox.responses.close()

    app.on_startup.append(on_startup)
    app.on_cleanup.append(on_cleanup)
    return app


async def serve(options: ServeOptions) -> int:
    """Run until SIGTERM/SIGINT; print one JSON line with the connection details once listening."""
    app = build_app(options)
    sandbox = app[SANDBOX]
    runner = web.AppRunner(app, access_log=None, shutdown_timeout=1.0, handle_signals=False)
    await runner.setup()
    site: web.BaseSite
    if options.listen_fd is not None:
        site = web.SockSite(runner, socket.socket(fileno=options.listen_fd))
    else:
        site = web.TCPSite(runner, options.host, options.port)
    await site.start()
    host, port = _bound_address(runner, options.host, options.port)
    state = sandbox.state
    api_key = options.api_key if options.api_key and options.api_key in state.api_keys else state.seed_api_key
    ready = {
        "url": f"http://{host}:{port}",
        "organization_id": state.organization_id,
        "environment_id": state.seed_environment_id,
        "kafka_cluster_id": state.seed_cluster_id,
        "service_account_id": state.seed_service_account_id,
        "api_key": api_key,
        "api_secret": state.api_keys[api_key].secret,
    }
    sys.stdout.write(json.dumps(ready) + "\n")
    sys.stdout.flush()
    log.info(
        "Confluent Cloud emulator listening on %s (%s profile, time scale %s; environment %s, cluster %s, AWS %s)",
        ready["url"],
        sandbox.realism.profile,
        sandbox.realism.time_scale,
        state.seed_environment_id,
        state.seed_cluster_id,
        options.aws.endpoint if options.aws else "not configured",
    )

    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stop.set)
    await stop.wait()
    log.info("Stopping the Confluent Cloud emulator")
    await runner.cleanup()
    return 0


def _bound_address(runner: web.AppRunner, host: str, port: int) -> tuple[str, int]:
    for address in runner.addresses:
        if isinstance(address, tuple) and len(address) >= 2:
            return str(address[0]), int(address[1])
    return host, port
