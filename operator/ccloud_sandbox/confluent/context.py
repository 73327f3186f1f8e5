"""The shared objects every request handler reaches through the aiohttp application."""

from __future__ import annotations

import json
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from aiohttp import web

from ccloud_sandbox.confluent.auth import Authorizer
from ccloud_sandbox.confluent.errors import ApiError
from ccloud_sandbox.confluent.faults import FaultInjector
from ccloud_sandbox.confluent.observe import RequestLog, ResponseLog
from ccloud_sandbox.confluent.realism import Draws, Realism
from ccloud_sandbox.confluent.replica import Replica
from ccloud_sandbox.confluent.runtime import ConnectorRuntime
from ccloud_sandbox.confluent.state import ApiKey, Connector, Integration, SandboxState, StateFile

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]

#: Operation ids of the official specs, by handler; the response log and request log carry them.
OPERATION_IDS: dict[Handler, str] = {}


def operation(operation_id: str) -> Callable[[Handler], Handler]:
    """Tag a handler with the spec's operationId."""

    def tag(handler: Handler) -> Handler:
        OPERATION_IDS[handler] = operation_id
        return handler

    return tag


#: Renders a connector as one entry of the expanded list (`{"id", "info", "status"}`).
ConnectorRenderer = Callable[[SandboxState, Connector], dict[str, Any]]


@dataclass
class Sandbox:
    """State, runtime and observation of one emulator process.

    `state` is the truth, which writes change; reads go through `connector_reads` and
    `integration_reads`, which trail it by the realism's read lag. Every change is announced with
    `changed(...)`, which records what reads will see and saves the state file.
    """

    state: SandboxState
    state_file: StateFile | None
    runtime: ConnectorRuntime
    authorizer: Authorizer
    faults: FaultInjector
    requests: RequestLog
    responses: ResponseLog | None
    realism: Realism
    draws: Draws
    render_connector: ConnectorRenderer
    connector_reads: Replica[dict[str, Any]] = field(init=False)
    integration_reads: Replica[Integration] = field(init=False)

    def __post_init__(self) -> None:
        self.connector_reads = Replica(lambda: self.realism.read_lag)
        self.integration_reads = Replica(lambda: self.realism.read_lag)
        for slot, connector in self.state.connectors.items():
            self.connector_reads.seed(slot, self.render_connector(self.state, connector))
        for integration in self.state.integrations.values():
            self.integration_reads.seed(integration.id, Integration(**vars(integration)))

    def persist(self) -> None:
        """Write the state file (if any) after a change."""
        if self.state_file is not None:
            self.state_file.save(self.state)

    def changed(self, *objects: Connector | Integration) -> None:
        """Announce changes: reads will see each object as it is now (or gone), after the lag."""
        for changed in objects:
            if isinstance(changed, Connector):
                slot = SandboxState.connector_slot(*changed.key)
                present = self.state.connectors.get(slot) is changed
                self.connector_reads.record(slot, self.render_connector(self.state, changed) if present else None)
            else:
                present = self.state.integrations.get(changed.id) is changed
                self.integration_reads.record(changed.id, Integration(**vars(changed)) if present else None)
        self.persist()

    def sweep(self, now: float | None = None) -> None:
        """Forget deleted connectors whose linger is over."""
        now = time.time() if now is None else now
        linger = self.realism.delete_linger
        gone = [
            connector
            for connector in self.state.connectors.values()
            if connector.deleted_at is not None and now - connector.deleted_at >= linger
        ]
        for connector in gone:
            slot = SandboxState.connector_slot(*connector.key)
            del self.state.connectors[slot]
            # Gone since its linger ended, not since this sweep noticed.
            self.connector_reads.record(slot, None, age=now - (connector.deleted_at or now) - linger)
        if gone:
            self.persist()


SANDBOX = web.AppKey("sandbox", Sandbox)
API_KEY = web.RequestKey("api_key", ApiKey)
OPERATION_OVERRIDE = web.RequestKey("operation_override", str)


def sandbox_of(request: web.Request) -> Sandbox:
    """The Sandbox behind a request."""
    return request.app[SANDBOX]


def caller(request: web.Request) -> str:
    """The principal (`User:sa-...`) of the authenticated request."""
    return request[API_KEY].principal


def now_iso() -> str:
    """Current UTC time in RFC 3339."""
    return datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def json_response(body: Any, status: int = 200, headers: dict[str, str] | None = None) -> web.Response:
    """A JSON response."""
    return web.Response(status=status, text=json.dumps(body), content_type="application/json", headers=headers)


async def json_body(request: web.Request) -> Any:
    """The parsed JSON request body, or a 400."""
    raw = await request.read()
    if not raw:
        raise ApiError(400, "The request body is empty; a JSON document is required", code="bad_request")
    try:
        return json.loads(raw)
    except (json.JSONDecodeError, UnicodeDecodeError) as error:
        raise ApiError(400, f"The request body is not valid JSON: {error}", code="bad_request") from error


def base_url(request: web.Request) -> str:
    """Scheme, host and port the client used, for full URLs in responses."""
    return str(request.url.origin())
