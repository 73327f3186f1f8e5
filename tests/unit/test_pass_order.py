"""One object's passes: a resync's pass that waited behind the finalizer does not bring back what it deleted.

A periodic pass (once kopf's timers, which kopf stops alongside the delete handler, not before it; now the
resync loop, which cannot stop a pass already waiting for the lock) reads the live body. Without the
check, a validation pass that waited for the object's lock while the finalizer deleted the IAM role
would find the role missing and create it again.
"""

from __future__ import annotations

import asyncio
from typing import Any, cast

import kopf
import pytest

from ccloud_operator import runtime
from ccloud_operator.constants import PROVIDER_INTEGRATION_KIND
from ccloud_operator.handlers.common import run_pass
from ccloud_operator.reconcilers.outcome import Outcome


@pytest.fixture
def current() -> Any:
    unused = cast(Any, None)  # run_pass reaches only the locks, the slots and the readiness records
    rt = runtime.Runtime(
        settings=unused,
        guardrails=unused,
        kube=unused,
        clients=unused,
        provider_integrations=unused,
        integrations=unused,
        managed_connectors=unused,
        connector_claims=unused,
    )
    previous, runtime._current = runtime._current, rt
    yield rt
    runtime._current = previous


def _raw(uid: str) -> dict[str, Any]:
    return {"kind": "ProviderIntegration", "metadata": {"uid": uid, "name": "s3", "namespace": "team"}}


async def test_a_pass_queued_behind_the_finalizer_does_nothing_once_the_live_body_shows_the_deletion(
    current: runtime.Runtime,
) -> None:
    raw = _raw("u1")
    live = kopf.Body(raw)  # kopf's live body: a view that later events update in place
    passes: list[str] = []

    async def work(name: str) -> Outcome:
        passes.append(name)
        return Outcome()

    lock = current.lock("u1")
    await lock.acquire()  # the finalizer's pass holds the object
    queued = asyncio.create_task(run_pass(PROVIDER_INTEGRATION_KIND, live, kopf.Patch(), lambda: work("validate")))
    await asyncio.sleep(0.01)
    raw["metadata"]["deletionTimestamp"] = "2026-12-03T11:00:00Z"  # the deletion event reached the live body
    lock.release()
    await queued
    assert passes == []

    # The finalizer's own pass runs on the same body, and an ordinary pass on a body not being deleted runs.
    await run_pass(PROVIDER_INTEGRATION_KIND, live, kopf.Patch(), lambda: work("finalize"), deleting=True)
    await run_pass(PROVIDER_INTEGRATION_KIND, kopf.Body(_raw("u2")), kopf.Patch(), lambda: work("reconcile"))
    assert passes == ["finalize", "reconcile"]
