"""One resync loop for every object of this process, instead of one kopf timer per object.

A kopf timer holds, for each object, the latest body the watch delivered (managedFields, kopf's
last-handled-configuration and kubectl's last-applied-configuration included: about 22 KiB) and a
task with its own state (about 30 KiB more), for an object that is idle between two resyncs. Here an
object costs a slim copy of the fields a pass reads (packed between passes) and one entry in a heap;
and the passes are spread over the interval instead of all firing together one interval after the
operator started.

The loop runs the same handler passes the timers ran, through ``run_pass`` (the object's lock, the
semaphore of passes at once, the Outcome written back), and applies the patch kopf would have applied:
the status through the status subresource, annotations through the object. A pass that asks to come
back (kopf's TemporaryError) is run again after its delay, as kopf ran a timer's retry.

It also finds the changes itself. Every watch event reaches it (kopf's watch-event handler,
``feeding``); an object new to the process, or one whose spec or annotations differ from its last
event's (``essence``), gets a change pass now. These were kopf's create, update and resume handlers,
which asked the loop for the pass; but after each kopf wrote its diff-base annotation (a write and
another full body through the watch per object) and then kept the object's worker, one of
``max_concurrent_objects``, until that write came back through the watch, up to 5 s. A bulk apply of
10,000 objects queued behind those workers: 12,000 whole bodies waited in kopf's queues for minutes,
and the heap they took stayed fragmented after (docs/performance.md, section 7).

Deletion is the loop's too. The loop puts the operator's finalizer on an object before its first pass
(so nothing outside the cluster exists without it), runs the kind's deletion pass once the object is
being deleted, with its retries, and takes the finalizer off when that pass succeeds. kopf runs no
handler that waits, so the number of objects kopf works on at once can be bounded
(``max_concurrent_objects``) without one object's wait holding up another's: an integration waiting for
its connectors to go used to sleep inside its kopf worker.
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import functools
import hashlib
import heapq
import json
import logging
import sys
import time
import zlib
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Any, cast

import kopf

from ccloud_operator import metrics
from ccloud_operator.constants import (
    CREATE_PENDING_ANNOTATION,
    FINALIZER,
    KOPF_PREFIX,
)
from ccloud_operator.handlers.references import References
from ccloud_operator.kube import KubeApiError, KubeGateway

logger = logging.getLogger(__name__)

#: A handler pass as kopf calls it: ``body`` and ``patch`` keywords.
Pass = Callable[..., Awaitable[None]]

#: What an unexpected error waits before the object's next pass, at most (kopf's own default for a
#: handler error is 60 s).
ERROR_DELAY_SECONDS = 60.0

#: Annotations no pass reads, each a full copy of the object: left out of the slim copy.
_BULKY_ANNOTATIONS = ("kubectl.kubernetes.io/last-applied-configuration",)
_METADATA_KEPT = (
    "name",
    "namespace",
    "uid",
    "generation",
    "creationTimestamp",
    "deletionTimestamp",
    "finalizers",
)

#: How soon a pass is tried again when the finalizer could not be added or removed (the object changed
#: since it was read): by then the watch has delivered it as it is.
HOLD_RETRY_SECONDS = 1.0


#: How long a released object's later watch events are ignored (see ``ResyncLoop._released``).
RELEASED_MEMORY_SECONDS = 600.0


class _NotHeld(Exception):
    """The operator's finalizer could not be put on the object; its pass must not run."""


class _Gone(Exception):
    """The object is no longer in the cluster."""


def slim(body: Mapping[str, Any]) -> dict[str, Any]:
    """The fields a pass reads (identity, annotations, spec, status): not managedFields, not kopf's own
    annotations, not kubectl's copy of the object."""
    metadata = body.get("metadata") or {}
    annotations = {
        key: value
        for key, value in (metadata.get("annotations") or {}).items()
        if not key.startswith(f"{KOPF_PREFIX}/") and key not in _BULKY_ANNOTATIONS
    }
    kept = {key: metadata[key] for key in _METADATA_KEPT if key in metadata}
    return {
        "apiVersion": body.get("apiVersion"),
        "kind": body.get("kind"),
        "metadata": {**kept, "annotations": annotations},
        "spec": body.get("spec") or {},
        "status": body.get("status") or {},
    }


def essence(fields: Mapping[str, Any]) -> bytes:
    """A digest of what a change is (a slim copy's spec and annotations), as kopf's diff-base was: a
    watch event whose essence differs from the last one's gets a change pass. The operator's own crash
    marker around a create is not a change: counted as one, each create would be followed by two passes
    (marker added, marker removed), each a fresh list."""
    annotations = dict((fields.get("metadata") or {}).get("annotations") or {})
    annotations.pop(CREATE_PENDING_ANNOTATION, None)
    text = json.dumps([fields.get("spec") or {}, annotations], sort_keys=True, separators=(",", ":"))
    return hashlib.blake2b(text.encode(), digest_size=16).digest()


def pack(fields: Mapping[str, Any]) -> bytes:
    """A slim copy as the loop keeps it between passes: compressed JSON. As a dict tree a connector's
    slim copy takes about 8.5 KiB (a dict, a key and a value object per field); packed, about 0.8 KiB.
    At 10,000 objects that is the difference between 83 and 8 MiB."""
    return zlib.compress(json.dumps(fields, separators=(",", ":")).encode(), 1)


def unpack(packed: bytes) -> dict[str, Any]:
    fields = cast(dict[str, Any], json.loads(zlib.decompress(packed)))
    # Each pass unpacks new strings, and what outlives the pass (locks, claims, metric records, the
    # connectors' memory) keys on the object's identity: one shared string each, not one per pass.
    metadata = fields.get("metadata") or {}
    for key in ("uid", "name", "namespace"):
        if isinstance(metadata.get(key), str):
            metadata[key] = sys.intern(metadata[key])
    return fields


def spread(uid: str) -> float:
    """A fraction in [0.5, 1) fixed per object: the resync after a change pass comes after this much of
    an interval, so objects changed together (seen at start-up, a bulk apply) do not all resync together."""
    return 0.5 + int.from_bytes(hashlib.sha256(uid.encode()).digest()[:4], "big") / 2**33


@dataclass
class _Kind:
    plural: str
    interval: float
    run: Pass
    #: The deletion pass: the loop holds the object's finalizer while it runs, and lets go when it succeeds.
    finalize: Pass | None = None


@dataclass(slots=True)
class _Tracked:
    kind: str
    #: The slim copy between passes (``pack``).
    packed: bytes
    #: The essence of the last watch event seen (``essence``): a different one is a change.
    essence: bytes = b""
    #: The slim copy unpacked while passes read it, updated in place by every watch event, so a pass
    #: that waited for the object's lock reads the latest (a deletion that began meanwhile, above all).
    live: dict[str, Any] | None = None
    #: Passes reading ``live``: it is packed again when the last one ends.
    readers: int = 0
    due: float = 0.0
    #: Passes in a row that asked to come back: the next pass is a poll (``retry`` > 0), not a resync.
    polls: int = 0
    #: A change (new to the process, a new spec or annotation, a wake) is waiting for its pass: the next
    #: pass reads afresh.
    changed: bool = False
    #: Being deleted with the operator's finalizer on it: the passes are the kind's deletion passes.
    deleting: bool = False
    #: The deletion pass is done (or can never be): what is left is taking the finalizer off.
    cleaned: bool = False

    def open(self) -> dict[str, Any]:
        """The live copy for one more pass."""
        if self.live is None:
            self.live = unpack(self.packed)
        self.readers += 1
        return self.live

    def close(self) -> None:
        """One pass less; the last one packs the copy again, with what was written into it meanwhile
        (watch events, the finalizer just added)."""
        self.readers -= 1
        if self.readers == 0 and self.live is not None:
            self.packed, self.live = pack(self.live), None

    def refresh(self, fields: dict[str, Any]) -> None:
        """A watch event's fields, in place for the passes reading them."""
        if self.live is not None:
            self.live.clear()
            self.live.update(fields)
        else:
            self.packed = pack(fields)


class ResyncLoop:
    """Runs each tracked object's periodic pass, one interval after its last one."""

    def __init__(self, max_in_flight: int = 64, clock: Callable[[], float] = time.monotonic) -> None:
        self._kinds: dict[str, _Kind] = {}
        self._tracked: dict[str, _Tracked] = {}
        #: Objects whose finalizer this loop took off, by uid, with when. A watch event written before
        #: the release can arrive after it, still showing the finalizer: without this it would start
        #: the deletion pass again, once more against Confluent and AWS.
        self._released: dict[str, float] = {}
        self._heap: list[tuple[float, str]] = []
        self._wakeup = asyncio.Event()
        self._slots = asyncio.Semaphore(max_in_flight)
        self._passes: set[asyncio.Task[None]] = set()
        self._clock = clock
        self._kube: KubeGateway | None = None
        self._context: contextvars.Context | None = None

    def add_kind(self, kind: str, plural: str, interval: float, run: Pass, finalize: Pass | None = None) -> None:
        self._kinds[kind] = _Kind(plural, interval, run, finalize)

    def __len__(self) -> int:
        return len(self._tracked)

    def track(self, body: Mapping[str, Any], deleted: bool = False) -> None:
        """A watch event: remember the object's latest fields; schedule its first pass when new; once it
        is being deleted, run the deletion passes instead while the operator's finalizer is on it, and
        forget it when it is gone."""
        if self._context is None:
            # kopf lets a handler post Events through context variables it sets in each object's task,
            # not in the operator's: the passes run in copies of the context of the first event seen.
            self._context = contextvars.copy_context()
        metadata = body.get("metadata") or {}
        uid = str(metadata.get("uid") or "")
        kind = str(body.get("kind") or "")
        if not uid or kind not in self._kinds:
            return
        if uid in self._released:
            if deleted:
                del self._released[uid]
            return
        fields = slim(body)
        tracked = self._tracked.get(uid)
        if tracked is not None:
            tracked.refresh(fields)
        if metadata.get("deletionTimestamp") and not deleted:
            if FINALIZER not in (metadata.get("finalizers") or []) or self._kinds[kind].finalize is None:
                # Nothing of the operator's to clean up: its first pass adds the finalizer before any
                # external object exists.
                self._tracked.pop(uid, None)
                return
            if tracked is None:
                tracked = self._tracked[uid] = _Tracked(kind, pack(fields))
            if not tracked.deleting:
                tracked.deleting, tracked.polls, tracked.changed = True, 0, False
                self._schedule(uid, tracked, 0.0)
            return
        if deleted:
            self._tracked.pop(uid, None)
            return
        digest = essence(fields)
        if tracked is None:
            # New to this process (created, or there when it started): a change pass now, as kopf's
            # create and resume handlers asked for; its first resync after ``spread`` of an interval.
            tracked = self._tracked[uid] = _Tracked(kind, pack(fields), digest)
            self.changed(uid)
        elif digest != tracked.essence:
            tracked.essence = digest
            self.changed(uid)

    def changed(self, uid: str) -> bool:
        """Run the object's pass now as a change pass; False when the loop does not track it."""
        tracked = self._tracked.get(uid)
        if tracked is None:
            return False
        if tracked.deleting:
            return True  # its deletion passes run anyway; a change to an object going away is moot
        tracked.changed = True
        tracked.polls = 0
        self._schedule(uid, tracked, 0.0)
        return True

    def _schedule(self, uid: str, tracked: _Tracked, delay: float) -> None:
        tracked.due = self._clock() + delay
        heapq.heappush(self._heap, (tracked.due, uid))
        if self._heap[0][1] == uid:
            self._wakeup.set()

    async def run(self, kube: KubeGateway) -> None:
        """Forever: start the passes that are due, at most ``max_in_flight`` at once."""
        self._kube = kube
        try:
            while True:
                self._wakeup.clear()
                now = self._clock()
                while self._heap and self._heap[0][0] <= now:
                    due, uid = heapq.heappop(self._heap)
                    tracked = self._tracked.get(uid)
                    if tracked is None or tracked.due != due:
                        continue  # forgotten, or rescheduled since: a stale heap entry
                    await self._slots.acquire()
                    context = self._context.copy() if self._context is not None else None
                    task = asyncio.create_task(self._pass(uid, tracked, due), name=f"resync {uid}", context=context)
                    self._passes.add(task)
                    task.add_done_callback(self._finished)
                timeout = self._heap[0][0] - self._clock() if self._heap else None
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._wakeup.wait(), timeout)
        finally:
            for task in self._passes:
                task.cancel()

    def _finished(self, task: asyncio.Task[None]) -> None:
        self._passes.discard(task)
        self._slots.release()

    async def _pass(self, uid: str, tracked: _Tracked, due: float) -> None:
        if tracked.due != due:
            return  # rescheduled (a change, a deletion) after this task was made: that pass runs instead
        raw = tracked.open()
        try:
            await self._run_pass(uid, tracked, due, raw)
        finally:
            tracked.close()

    async def _run_pass(self, uid: str, tracked: _Tracked, due: float, raw: dict[str, Any]) -> None:
        kind = self._kinds[tracked.kind]
        body = kopf.Body(cast(kopf.RawBody, raw))
        patch = kopf.Patch()
        delay, result = kind.interval, "success"
        # What this pass was started for; a change that arrives meanwhile schedules its own pass, which
        # the end of this one must not push back.
        polls, next_polls = tracked.polls, 0
        change, tracked.changed = tracked.changed, False
        deleting = tracked.deleting
        released = False
        try:
            if deleting:
                assert kind.finalize is not None
                if not tracked.cleaned:
                    # A finalizer removal the API server refused comes back here: only it is tried again.
                    await kind.finalize(body=body, patch=patch, retry=polls)
                    tracked.cleaned = True
                released = True
            else:
                if kind.finalize is not None:
                    await self._hold(kind, tracked)
                await kind.run(body=body, patch=patch, retry=polls, change=change)
        except kopf.TemporaryError as error:
            delay, result = (error.delay if error.delay is not None else kind.interval), "retry"
            next_polls = polls + 1
            namespace, name = body.metadata.namespace, body.metadata.name
            logger.info("%s %s/%s: %s; next pass in %ss", tracked.kind, namespace, name, error, delay)
        except _Gone:
            self._tracked.pop(uid, None)
            return
        except _NotHeld as error:
            # No pass without the finalizer on: retried once the watch shows the object as it is now.
            delay, result, next_polls, tracked.changed = HOLD_RETRY_SECONDS, "retry", polls, change
            logger.info("%s %s/%s: %s", tracked.kind, body.metadata.namespace, body.metadata.name, error)
        except kopf.PermanentError:
            # Reported on the object. For a deletion: nothing a retry could change, so the object is let
            # go (kopf's rule for a deletion handler that fails for good).
            result, released = "invalid", deleting
            tracked.cleaned = tracked.cleaned or deleting
        except Exception:
            logger.exception("Pass of %s %s/%s failed", tracked.kind, body.metadata.namespace, body.metadata.name)
            delay, result = min(kind.interval, ERROR_DELAY_SECONDS), "error"
        metrics.RESYNCS.labels(kind=tracked.kind, result=result).inc()
        if change and result == "success":
            delay = kind.interval * spread(uid)
        try:
            await self._apply(kind.plural, body, patch)
            if released:
                if await self._release(kind, tracked):
                    self._forget_released(uid)
                    return
                delay = HOLD_RETRY_SECONDS
        except Exception:
            # Not an API server's refusal (those are handled where they happen): the pass runs again.
            logger.exception(
                "Writing the pass of %s %s/%s failed", tracked.kind, body.metadata.namespace, body.metadata.name
            )
            delay = min(kind.interval, ERROR_DELAY_SECONDS)
        # A change that came meanwhile already reset the polls and scheduled its own pass.
        if self._tracked.get(uid) is tracked and tracked.due == due:
            tracked.polls = next_polls
            self._schedule(uid, tracked, delay)

    def _forget_released(self, uid: str) -> None:
        self._tracked.pop(uid, None)
        now = self._clock()
        # Objects another controller's finalizer keeps may never show a DELETED event here.
        for old in [u for u, at in self._released.items() if now - at > RELEASED_MEMORY_SECONDS]:
            del self._released[old]
        self._released[uid] = now

    async def _hold(self, kind: _Kind, tracked: _Tracked) -> None:
        """Put the operator's finalizer on the object before its first pass can create anything outside
        the cluster, so that a deletion always goes through the kind's deletion pass."""
        assert tracked.live is not None
        metadata = tracked.live["metadata"]
        finalizers = list(metadata.get("finalizers") or [])
        if FINALIZER in finalizers:
            return
        assert self._kube is not None
        try:
            await self._kube.add_finalizer(
                kind.plural,
                metadata.get("namespace") or "",
                metadata.get("name") or "",
                FINALIZER,
                finalizers=finalizers,
            )
        except KubeApiError as error:
            if error.status == 404:
                raise _Gone from error
            # 422: its finalizers changed since they were read (or it is being deleted): the next watch
            # event tells.
            raise _NotHeld(f"could not add the finalizer: {error}") from error
        # Until the watch delivers the object as written, the next pass must not add it again. A watch
        # event may have replaced the copy's fields meanwhile: written into them as they are now.
        current = tracked.live.setdefault("metadata", {})
        if FINALIZER not in (current.get("finalizers") or []):
            current["finalizers"] = [*(current.get("finalizers") or []), FINALIZER]

    async def _release(self, kind: _Kind, tracked: _Tracked) -> bool:
        """Take the operator's finalizer off a deleted object whose deletion pass succeeded; False when
        the API server refused (the object changed since it was read), so the pass runs again."""
        assert tracked.live is not None
        metadata = tracked.live["metadata"]
        finalizers = list(metadata.get("finalizers") or [])
        if FINALIZER not in finalizers:
            return True
        assert self._kube is not None
        try:
            await self._kube.remove_finalizer(
                kind.plural,
                metadata.get("namespace") or "",
                metadata.get("name") or "",
                FINALIZER,
                index=finalizers.index(FINALIZER),
            )
        except KubeApiError as error:
            logger.info(
                "Could not remove the finalizer of %s/%s: %s", metadata.get("namespace"), metadata.get("name"), error
            )
            return False
        return True

    async def _apply(self, plural: str, body: kopf.Body, patch: kopf.Patch) -> None:
        """Write what the pass decided, as kopf writes a handler's patch: an object deleted meanwhile
        is not an error."""
        assert self._kube is not None
        namespace, name = body.metadata.namespace or "", body.metadata.name or ""
        try:
            if patch.get("status"):
                await self._kube.patch_status(plural, namespace, name, dict(patch["status"]))
            annotations = (patch.get("metadata") or {}).get("annotations")
            if annotations:
                await self._kube.annotate(plural, namespace, name, dict(annotations))
        except KubeApiError as error:
            # The next pass decides again from what it reads; nothing here is lost for good.
            logger.warning("Could not write the resync's result to %s/%s: %s", namespace, name, error)


def feeding(loop: ResyncLoop, handler: Pass, *references: References) -> Pass:
    """A kind's watch-event handler that also feeds the loop and the kind's references: one handler per
    event rather than several, because kopf logs a line for every watch-event handler it runs."""

    @functools.wraps(handler)
    async def fed(**kwargs: Any) -> None:
        deleted = kwargs.get("type") == "DELETED"
        for index in references:
            index.see(kwargs["body"], deleted)
        loop.track(kwargs["body"], deleted=deleted)
        await handler(**kwargs)

    return fed
