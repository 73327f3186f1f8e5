"""The connector runtime: PROVISIONING -> RUNNING or FAILED, pause/resume/restart, all asynchronous.

Each connector has at most one background asyncio task (a provisioning run or a pause/resume transition).
Scheduling a new one cancels the old, and a `generation` counter on the connector makes sure a stale run
that was already in a worker thread never overwrites newer state. AWS work runs in `asyncio.to_thread`.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable, Coroutine
from typing import Any

from ccloud_sandbox.confluent.aws_access import (
    AwsSettings,
    IamPropagation,
    IntegrationGrant,
    RunOutcome,
    decide_and_run,
)
from ccloud_sandbox.confluent.plugins import IAM_ROLES, KAFKA_API_KEY
from ccloud_sandbox.confluent.realism import Realism
from ccloud_sandbox.confluent.state import MASK, Connector, SandboxState, TaskStatus

log = logging.getLogger(__name__)

RUNNING_STATES = ("RUNNING", "DEGRADED")


def task_count(config: dict[str, str]) -> int:
    """Number of tasks a connector runs: `tasks.max`, between 1 and 10."""
    raw = config.get("tasks.max", "1")
    return max(1, min(10, int(raw))) if raw.isdigit() else 1


class ConnectorRuntime:
    """Moves connectors through their lifecycle in the background."""

    def __init__(
        self,
        state: SandboxState,
        changed: Callable[[Connector], None],
        aws: AwsSettings | None,
        realism: Callable[[], Realism],
    ) -> None:
        self._state = state
        self._changed = changed
        self.aws = aws
        self._realism = realism
        self.iam_propagation = IamPropagation()
        self._tasks: dict[str, asyncio.Task[None]] = {}

    @property
    def provisioning_seconds(self) -> float:
        """How long PROVISIONING lasts, in this emulator's time."""
        return self._realism().provisioning

    @property
    def transition_seconds(self) -> float:
        """How long pause and resume take to show (they are asynchronous)."""
        return self._realism().pause_resume

    # -- scheduling ----------------------------------------------------------------------------------

    def _slot(self, connector: Connector) -> str:
        return SandboxState.connector_slot(*connector.key)

    def _schedule(self, connector: Connector, work: Coroutine[Any, Any, None]) -> None:
        self._cancel(connector)
        slot = self._slot(connector)
        task = asyncio.get_running_loop().create_task(work, name=f"connector:{slot}")
        self._tasks[slot] = task
        task.add_done_callback(lambda done: self._finished(slot, done))

    def _finished(self, slot: str, task: asyncio.Task[None]) -> None:
        if self._tasks.get(slot) is task:
            del self._tasks[slot]
        if not task.cancelled() and task.exception() is not None:
            log.error("Connector task %s crashed", slot, exc_info=task.exception())

    def _cancel(self, connector: Connector) -> None:
        task = self._tasks.pop(self._slot(connector), None)
        if task is not None:
            task.cancel()

    async def close(self) -> None:
        """Cancel every background task (on shutdown)."""
        tasks = list(self._tasks.values())
        self._tasks.clear()
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task

    # -- lifecycle operations ------------------------------------------------------------------------

    def provision(self, connector: Connector) -> None:
        """(Re)start a connector from PROVISIONING; used for create, config update, restart and retries."""
        connector.generation += 1
        connector.state = "PROVISIONING"
        connector.trace = ""
        connector.tasks = []
        self._schedule(connector, self._start(connector, connector.generation, self.provisioning_seconds))

    def pause(self, connector: Connector) -> None:
        """Ask for PAUSED; the observed state follows after `transition_seconds`.

        Realistic: only a RUNNING (or DEGRADED) connector pauses; otherwise the call does nothing.
        """
        if self._realism().pause_only_when_running and connector.state not in (*RUNNING_STATES, "PAUSED"):
            return
        connector.paused = True
        if connector.state in RUNNING_STATES:
            self._schedule(connector, self._apply_pause(connector))
        elif connector.state == "PAUSED":
            # A resume may be in flight: cancel it so the connector stays paused.
            connector.generation += 1
            self._cancel(connector)

    def resume(self, connector: Connector) -> None:
        """Ask for RUNNING. Realistic: only a PAUSED connector resumes ("or do nothing if the connector
        is not paused"); kind: a FAILED connector is retried from PROVISIONING."""
        if self._realism().pause_only_when_running and connector.state != "PAUSED" and not connector.paused:
            return
        connector.paused = False
        if connector.state == "FAILED":
            if not self._realism().pause_only_when_running:
                self.provision(connector)
        elif connector.state == "PAUSED":
            connector.generation += 1
            self._schedule(connector, self._start(connector, connector.generation, self.transition_seconds))
        elif connector.state in RUNNING_STATES:
            self._cancel(connector)  # a pause that has not shown yet is withdrawn

    def restart(self, connector: Connector) -> None:
        """Restart: a running or failed connector is provisioned again; a paused one stays paused."""
        if connector.state != "PAUSED":
            self.provision(connector)

    def forget(self, connector: Connector) -> None:
        """Stop tracking a deleted connector."""
        connector.generation += 1
        self._cancel(connector)

    def fail(self, connector: Connector, trace: str, task_id: int | None) -> None:
        """Out-of-band failure of the connector (task_id None) or of one task."""
        self.forget(connector)
        if task_id is None:
            connector.state = "FAILED"
            connector.trace = trace
            connector.tasks = [TaskStatus(t.id, "FAILED", trace) for t in connector.tasks] or [
                TaskStatus(0, "FAILED", trace)
            ]
            return
        tasks = {t.id: t for t in connector.tasks}
        tasks[task_id] = TaskStatus(task_id, "FAILED", trace)
        connector.tasks = [tasks[i] for i in sorted(tasks)]
        healthy = [t for t in connector.tasks if t.state != "FAILED"]
        # Confluent Cloud reports DEGRADED while some tasks still run and FAILED once none does.
        connector.state = "DEGRADED" if healthy else "FAILED"
        connector.trace = trace

    def resume_after_load(self) -> None:
        """Pick up transitions that were in flight when a previous emulator process stopped."""
        for connector in list(self._state.connectors.values()):
            if connector.state == "PROVISIONING":
                self.provision(connector)
            elif connector.paused and connector.state in RUNNING_STATES:
                self.pause(connector)
            elif not connector.paused and connector.state == "PAUSED":
                self.resume(connector)

    # -- background work -----------------------------------------------------------------------------

    def _alive(self, connector: Connector, generation: int) -> bool:
        current = self._state.find_connector(*connector.key)
        return current is connector and connector.generation == generation

    async def _apply_pause(self, connector: Connector) -> None:
        await asyncio.sleep(self.transition_seconds)
        if self._state.find_connector(*connector.key) is not connector:
            return
        if connector.paused and connector.state in RUNNING_STATES:
            connector.state = "PAUSED"
            connector.tasks = [TaskStatus(t.id, "PAUSED", t.msg) for t in connector.tasks]
            log.info("Connector %s paused", connector.name)
            self._changed(connector)

    async def _start(self, connector: Connector, generation: int, delay: float) -> None:
        await asyncio.sleep(delay)
        if not self._alive(connector, generation):
            return
        outcome = await self._decide(connector)
        if not self._alive(connector, generation):
            return
        count = task_count(connector.config)
        connector.next_offsets.update(outcome.next_offsets)
        if outcome.activity:
            connector.activity = outcome.activity
        if outcome.running:
            state = "PAUSED" if connector.paused else "RUNNING"
            connector.state = state
            connector.trace = ""
            connector.tasks = [TaskStatus(i, state, outcome.task_message) for i in range(count)]
            log.info("Connector %s is %s", connector.name, state)
        else:
            connector.state = "FAILED"
            connector.trace = outcome.trace
            connector.tasks = [TaskStatus(i, "FAILED", outcome.trace) for i in range(count)]
            log.info("Connector %s failed: %s", connector.name, outcome.trace)
        self._changed(connector)

    async def _decide(self, connector: Connector) -> RunOutcome:
        config = dict(connector.config)
        if config.get("kafka.auth.mode", KAFKA_API_KEY) == KAFKA_API_KEY and MASK in (
            config.get("kafka.api.key"),
            config.get("kafka.api.secret"),
        ):
            # The masked value was written back as if it were the secret.
            return RunOutcome(
                False,
                "org.apache.kafka.common.errors.SaslAuthenticationException: Authentication failed: "
                "Invalid username or password (kafka.api.key/kafka.api.secret)",
            )
        if config.get("authentication.method") != IAM_ROLES:
            return RunOutcome(True)
        integration_id = config.get("provider.integration.id", "")
        integration = self._state.integrations.get(integration_id)
        if integration is None or integration.environment_id != connector.environment_id:
            return RunOutcome(
                False,
                f"Provider integration {integration_id} not found in environment {connector.environment_id}",
            )
        if self.aws is None:
            return RunOutcome(True, task_message="AWS checks skipped: the emulator has no AWS endpoint")
        grant = IntegrationGrant(
            customer_role_arn=integration.customer_iam_role_arn,
            confluent_role_arn=integration.iam_role_arn,
            external_id=integration.external_id,
            created_at=integration.created_at,
        )
        try:
            return await asyncio.to_thread(
                decide_and_run,
                self.aws,
                grant,
                config.get("connector.class", ""),
                connector.name,
                config,
                dict(connector.next_offsets),
                self.iam_propagation,
                self._realism().iam_propagation,
            )
        except Exception as error:  # an emulator bug or an unreachable AWS must not leave it PROVISIONING
            log.exception("Starting connector %s raised", connector.name)
            return RunOutcome(False, f"{type(error).__name__}: {error}")
