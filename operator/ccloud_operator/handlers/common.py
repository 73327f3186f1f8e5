"""Applying a reconciler's Outcome through kopf: status, conditions, annotations, Events, retries."""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable, Mapping
from typing import Any, TypeVar

import kopf
import pydantic

from ccloud_operator import metrics, runtime
from ccloud_operator.conditions import (
    MAX_MESSAGE_LENGTH,
    READY,
    SYNCED,
    Condition,
    condition_of,
    merge_conditions,
    now_rfc3339,
)
from ccloud_operator.constants import MANAGED_CONNECTOR_KIND
from ccloud_operator.reconcilers.outcome import Event, Outcome


def apply_outcome(body: kopf.Body, patch: kopf.Patch, outcome: Outcome) -> None:
    """Write only what changed, publish the object's metrics, post Events, and tell kopf whether to come back."""
    status: Mapping[str, Any] = body.get("status") or {}
    for key, value in outcome.status.items():
        if status.get(key) != value:
            patch.status[key] = value
    if outcome.conditions:
        generation = body.get("metadata", {}).get("generation")
        merged = merge_conditions(status.get("conditions"), outcome.conditions, generation)
        if merged != status.get("conditions"):
            patch.status["conditions"] = merged
    if patch.status:
        # Only with another change: an idle pass writes nothing (the per-object metric counts every pass).
        patch.status["lastUpdateTime"] = now_rfc3339()
    for key, annotation in outcome.annotations.items():
        patch.metadata.annotations[key] = annotation
    metadata = body.get("metadata") or {}
    desired_state = (
        str((body.get("spec") or {}).get("state") or "Running").upper()
        if body.get("kind") == MANAGED_CONNECTOR_KIND
        else None
    )
    metrics.publish_object(
        str(body.get("kind") or ""),
        str(metadata.get("namespace") or ""),
        str(metadata.get("name") or ""),
        {**status, **patch.status},
        desired_state=desired_state,
    )
    # A situation already announced is not announced again while the object stays unready: a failure
    # retried every minute, or a deletion still waiting, gives one Event, not one per retry, even when
    # another failure (a timeout, a throttled call) came in between.
    uid = str(metadata.get("uid") or "")
    seen = _episode(uid, metadata.get("generation"), condition_of(status.get("conditions"), READY))
    for event in outcome.events:
        if (event.reason, event.message[:MAX_MESSAGE_LENGTH]) in seen:
            continue
        kopf.event(body, type=event.type, reason=event.reason, message=event.message)
    written = condition_of(patch.status.get("conditions"), READY)
    if written is not None:
        seen.saw((written.get("reason"), written.get("message")), written.get("status") == "True")


class _Episode:
    """What one object's Ready condition showed since it was last Ready or its spec changed.

    The last (reason, message) always counts as announced (a Ready one too, such as Paused); the
    failures count until the object is Ready again, when one that comes back is news again.
    """

    #: Enough for the failures one episode alternates between; the oldest is forgotten first.
    LIMIT = 16

    def __init__(self, generation: Any) -> None:
        self.generation = generation
        self._last: tuple[Any, Any] | None = None
        self._failures: dict[tuple[Any, Any], None] = {}

    def __contains__(self, pair: object) -> bool:
        return pair == self._last or pair in self._failures

    def saw(self, pair: tuple[Any, Any], ready: bool) -> None:
        self._last = pair
        if ready:
            self._failures.clear()
            return
        self._failures.pop(pair, None)
        self._failures[pair] = None
        while len(self._failures) > self.LIMIT:
            del self._failures[next(iter(self._failures))]


def _episode(uid: str, generation: Any, recorded: Mapping[str, Any] | None) -> _Episode:
    episode = _episodes.get(uid) if uid else None
    if episode is None or episode.generation != generation:
        # First sight in this process (a restart), or a new spec: what the Ready condition shows now was
        # announced already; failures an older spec met before it are news again. Later, the body is not
        # read again: a resync's body may predate what the last pass wrote.
        episode = _Episode(generation)
        if recorded:
            episode.saw((recorded.get("reason"), recorded.get("message")), recorded.get("status") == "True")
        if uid:
            _episodes[uid] = episode
    return episode


#: Per object uid, what this process saw it fail with since it was last Ready; forgotten with the object.
_episodes: dict[str, _Episode] = {}


def raise_for_retry(outcome: Outcome) -> None:
    """Turn "not finished" into kopf's retry, with the reconciler's delay."""
    if not outcome.finished and outcome.retry_after is not None:
        reason = next((c.reason for c in outcome.conditions if c.type == READY), "NotReady")
        raise kopf.TemporaryError(f"not done yet ({reason})", delay=max(outcome.retry_after, 1.0))


def invalid_spec(body: kopf.Body, patch: kopf.Patch, error: pydantic.ValidationError) -> kopf.PermanentError:
    """A spec the models reject (the CRD's schema normally stops it first): say so where users look."""
    problems = "; ".join(
        f"{'.'.join(str(p) for p in item['loc']) or 'spec'}: {item['msg']}" for item in error.errors(include_url=False)
    )
    message = f"the spec is invalid: {problems}"
    # Through the Outcome, so the Warning is posted once: the resyncs meet the same spec again and again.
    outcome = Outcome(
        conditions=[
            Condition(READY, False, "InvalidSpec", message),
            Condition(SYNCED, False, "InvalidSpec", message),
        ],
        events=[Event("Warning", "InvalidSpec", message)],
    )
    apply_outcome(body, patch, outcome)
    return kopf.PermanentError(message)


class Timed:
    """Counts a reconcile and its duration in the metrics, by kind and result."""

    def __init__(self, kind: str) -> None:
        self.kind = kind
        self.started = 0.0

    def __enter__(self) -> Timed:
        self.started = time.monotonic()
        return self

    def __exit__(self, exc_type: type[BaseException] | None, *_: object) -> None:
        metrics.RECONCILE_DURATION.labels(kind=self.kind).observe(time.monotonic() - self.started)
        result = "success" if exc_type is None else "retry" if issubclass(exc_type, kopf.TemporaryError) else "error"
        metrics.RECONCILES.labels(kind=self.kind, result=result).inc()


def ready_of(body: kopf.Body, patch: kopf.Patch) -> bool:
    """Readiness after this patch is applied."""
    conditions = (
        patch.status.get("conditions") if "conditions" in patch.status else body.get("status", {}).get("conditions")
    )
    condition = condition_of(conditions, READY)
    return bool(condition and condition.get("status") == "True")


SpecT = TypeVar("SpecT", bound=pydantic.BaseModel)


def parse_spec(model: type[SpecT], body: kopf.Body, patch: kopf.Patch) -> SpecT:
    """The spec as its frozen model, or a PermanentError reported where users look."""
    try:
        return model.model_validate(dict(body.spec))
    except pydantic.ValidationError as error:
        raise invalid_spec(body, patch, error) from error


async def run_pass(
    kind: str, body: kopf.Body, patch: kopf.Patch, work: Callable[[], Awaitable[Outcome]], *, deleting: bool = False
) -> None:
    """One reconcile or finalize pass of one object: serialised, timed, written back, retried as asked."""
    rt = runtime.current()
    uid = body.metadata.uid or ""
    with Timed(kind):
        # The object's own lock first: a pass queued behind its own object's holds no slot meanwhile.
        async with rt.lock(uid), rt.active:
            if not deleting and body.metadata.deletion_timestamp:
                # A resync's pass that queued behind the finalizer (nothing stops a pass already waiting
                # for the lock): its live body shows the deletion. Reconciling now would create again
                # what the finalizer has just deleted, and nothing would ever delete it.
                return
            outcome = await work()
        apply_outcome(body, patch, outcome)
        if not deleting:
            rt.record_ready(kind, uid, ready_of(body, patch))
        raise_for_retry(outcome)
    if deleting:
        rt.forget(kind, uid)
        metrics.forget_object(kind, body.metadata.namespace or "", body.metadata.name or "")
        _episodes.pop(uid, None)
