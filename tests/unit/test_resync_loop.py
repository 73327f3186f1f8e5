"""The resync loop that replaced one kopf timer per object: when passes run, what they write, and when
they stop. Pure logic with a recording gateway; the suites under tests/operator run it against the
real API server."""

from __future__ import annotations

import asyncio
import itertools
import time
from collections.abc import Awaitable, Callable
from typing import Any

import kopf
from prometheus_client import REGISTRY

from ccloud_operator.constants import FINALIZER
from ccloud_operator.handlers import resync
from ccloud_operator.handlers.resync import ResyncLoop, feeding, slim, spread
from ccloud_operator.kube import KubeApiError

KIND = "ManagedConnector"
PLURAL = "managedconnectors"


class RecordingGateway:
    def __init__(self) -> None:
        self.writes: list[tuple[str, str, str, str, dict[str, Any]]] = []
        #: Errors the next finalizer writes meet, one each.
        self.refusals: list[KubeApiError] = []

    async def add_finalizer(
        self, plural: str, namespace: str, name: str, finalizer: str, *, finalizers: list[str]
    ) -> None:
        if self.refusals:
            raise self.refusals.pop(0)
        self.writes.append(("add-finalizer", plural, namespace, name, {"to": [*finalizers, finalizer]}))

    async def remove_finalizer(self, plural: str, namespace: str, name: str, finalizer: str, *, index: int) -> None:
        if self.refusals:
            raise self.refusals.pop(0)
        self.writes.append(("remove-finalizer", plural, namespace, name, {"index": index, "value": finalizer}))

    async def patch_status(self, plural: str, namespace: str, name: str, status: dict[str, Any]) -> None:
        self.writes.append(("status", plural, namespace, name, status))

    async def annotate(self, plural: str, namespace: str, name: str, annotations: dict[str, Any]) -> None:
        self.writes.append(("annotations", plural, namespace, name, annotations))


def body(
    uid: str, *, spec: dict[str, Any] | None = None, status: dict[str, Any] | None = None, **metadata: Any
) -> dict[str, Any]:
    return {
        "apiVersion": "ccloud.operator.dev/v1alpha1",
        "kind": KIND,
        "metadata": {"uid": uid, "name": f"c-{uid}", "namespace": "team", **metadata},
        "spec": spec if spec is not None else {"state": "RUNNING"},
        "status": status if status is not None else {"connectorName": f"c-{uid}"},
    }


def deletions_only(loop: ResyncLoop, finalize: Callable[..., Awaitable[None]]) -> None:
    """The kind with this deletion pass, and a normal pass that must never run."""

    async def run(**_: Any) -> None:
        raise AssertionError("being deleted")

    loop.add_kind(KIND, PLURAL, 3600.0, run, finalize)


async def wait_for(predicate: Callable[[], bool], within: float = 5.0) -> None:
    deadline = time.monotonic() + within
    while not predicate():
        assert time.monotonic() < deadline, "timed out"
        await asyncio.sleep(0.01)


async def running(loop: ResyncLoop, gateway: RecordingGateway, check: Callable[[], Awaitable[None]]) -> None:
    task = asyncio.create_task(loop.run(gateway))  # type: ignore[arg-type]
    try:
        await check()
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)


async def test_a_new_object_gets_a_change_pass_then_resyncs_after_its_spread_and_its_patch_is_written() -> None:
    loop = ResyncLoop()
    gateway = RecordingGateway()
    passes: dict[str, list[float]] = {"a": [], "b": []}
    changes: dict[str, list[bool]] = {"a": [], "b": []}

    async def run(body: kopf.Body, patch: kopf.Patch, change: bool, **_: Any) -> None:
        passes[body.metadata.uid or ""].append(time.monotonic())
        changes[body.metadata.uid or ""].append(change)
        patch.status["observed"] = len(passes[body.metadata.uid or ""])
        patch.metadata.annotations["ccloud.operator.dev/create-pending"] = None

    interval = 0.2
    loop.add_kind(KIND, PLURAL, interval, run)
    tracked_at = time.monotonic()
    loop.track(body("a"))
    loop.track(body("b"))

    async def check() -> None:
        await wait_for(lambda: all(len(times) >= 3 for times in passes.values()))

    await running(loop, gateway, check)
    for uid, times in passes.items():
        assert changes[uid][:3] == [True, False, False], "the first pass is the change pass, then resyncs"
        assert times[0] - tracked_at < interval * 0.5, "a new object's change pass does not wait for a resync"
        assert times[1] - times[0] >= interval * spread(uid)
        assert all(later - earlier >= interval for earlier, later in itertools.pairwise(times[1:]))
    assert ("status", PLURAL, "team", "c-a", {"observed": 1}) in gateway.writes
    assert ("annotations", PLURAL, "team", "c-b", {"ccloud.operator.dev/create-pending": None}) in gateway.writes


async def test_a_pass_that_asks_to_come_back_runs_again_after_its_delay_not_an_interval() -> None:
    loop = ResyncLoop()
    passes: list[float] = []

    async def run(**_: Any) -> None:
        passes.append(time.monotonic())
        if len(passes) == 1:
            raise kopf.TemporaryError("still provisioning", delay=0.05)

    loop.add_kind(KIND, PLURAL, 3600.0, run)
    loop.track(body("a"))
    loop._schedule("a", loop._tracked["a"], 0.0)  # its first resync now rather than in half an hour
    # A second pass within the wait can only come from the retry's delay, the interval being an hour.
    await running(loop, RecordingGateway(), lambda: wait_for(lambda: len(passes) >= 2))
    assert passes[1] - passes[0] >= 0.05
    assert len(passes) == 2


async def test_errors_do_not_stop_an_objects_resyncs() -> None:
    loop = ResyncLoop()
    gateway = RecordingGateway()
    calls: list[str] = []

    async def run(**_: Any) -> None:
        calls.append("pass")
        if len(calls) == 1:
            raise kopf.PermanentError("the spec is invalid")
        if len(calls) == 2:
            raise RuntimeError("a bug")

    def counted(result: str) -> float:
        return REGISTRY.get_sample_value("ccloud_operator_resyncs_total", {"kind": KIND, "result": result}) or 0.0

    before = {result: counted(result) for result in ("invalid", "error")}
    loop.add_kind(KIND, PLURAL, 0.05, run)
    loop.track(body("a"))
    await running(loop, gateway, lambda: wait_for(lambda: len(calls) >= 3))
    assert {result: counted(result) - before[result] for result in before} == {"invalid": 1.0, "error": 1.0}


async def test_a_deletion_reaches_the_pass_in_flight_and_ends_the_resyncs() -> None:
    loop = ResyncLoop()
    gateway = RecordingGateway()
    started = asyncio.Event()
    proceed = asyncio.Event()
    seen: list[Any] = []

    async def run(body: kopf.Body, **_: Any) -> None:
        started.set()
        await proceed.wait()  # as a pass waits for the object's lock behind the finalizer
        seen.append(body.metadata.deletion_timestamp)

    loop.add_kind(KIND, PLURAL, 0.05, run)
    loop.track(body("a"))

    async def check() -> None:
        await asyncio.wait_for(started.wait(), 5)
        loop.track(body("a", deletionTimestamp="2026-12-03T12:00:00Z"))
        proceed.set()
        await wait_for(lambda: len(seen) == 1)
        assert len(loop) == 0
        await asyncio.sleep(0.3)  # six intervals: a resync still scheduled would have run by now

    await running(loop, gateway, check)
    assert seen == ["2026-12-03T12:00:00Z"]


async def test_an_object_deleted_from_the_cluster_is_forgotten() -> None:
    loop = ResyncLoop()
    passes: list[str] = []

    async def run(**_: Any) -> None:
        passes.append("pass")

    loop.add_kind(KIND, PLURAL, 0.05, run)
    loop.track(body("a"))
    loop.track(body("a"), deleted=True)
    loop.track({**body("b"), "kind": "Secret"})  # not a kind the loop resyncs
    assert len(loop) == 0
    await running(loop, RecordingGateway(), lambda: asyncio.sleep(0.2))
    assert passes == []


async def test_no_more_passes_at_once_than_the_limit() -> None:
    loop = ResyncLoop(max_in_flight=2)
    gateway = RecordingGateway()
    active = 0
    most = 0
    done = 0

    async def run(**_: Any) -> None:
        nonlocal active, most, done
        active += 1
        most = max(most, active)
        await asyncio.sleep(0.05)
        active -= 1
        done += 1

    loop.add_kind(KIND, PLURAL, 0.01, run)
    for uid in "abcde":
        loop.track(body(uid))
    await running(loop, gateway, lambda: wait_for(lambda: done >= 10))
    assert most == 2


def test_the_slim_copy_keeps_what_passes_read_and_drops_the_bulk() -> None:
    raw = body("a", generation=3)
    raw["metadata"]["managedFields"] = [{"manager": "kubectl"}]
    raw["metadata"]["annotations"] = {
        "kopf.ccloud.operator.dev/last-handled-configuration": "{...}",
        "kubectl.kubernetes.io/last-applied-configuration": "{...}",
        "ccloud.operator.dev/restart": "1",
    }
    kept = slim(raw)
    assert kept["metadata"] == {
        "uid": "a",
        "name": "c-a",
        "namespace": "team",
        "generation": 3,
        "annotations": {"ccloud.operator.dev/restart": "1"},
    }
    assert kept["spec"] == raw["spec"] and kept["status"] == raw["status"]
    assert (kept["apiVersion"], kept["kind"]) == (raw["apiVersion"], raw["kind"])


async def test_the_kinds_watch_event_handler_feeds_the_loop_and_still_runs() -> None:
    loop = ResyncLoop()
    loop.add_kind(KIND, PLURAL, 60.0, lambda **_: asyncio.sleep(0))
    handled: list[str | None] = []

    async def record_claim(body: kopf.Body, type: str | None, **_: Any) -> None:
        handled.append(type)

    fed = feeding(loop, record_claim)
    await fed(body=kopf.Body(body("a")), type=None, logger=None)
    assert (handled, len(loop)) == ([None], 1)
    await fed(body=kopf.Body(body("a")), type="DELETED", logger=None)
    assert (handled, len(loop)) == ([None, "DELETED"], 0)


async def test_a_new_object_is_passed_by_the_loop_at_once_as_a_change_then_polled() -> None:
    loop = ResyncLoop()
    gateway = RecordingGateway()
    seen: list[tuple[int, bool]] = []

    async def run(body: kopf.Body, patch: kopf.Patch, retry: int, change: bool = False, **_: Any) -> None:
        seen.append((retry, change))
        patch.status["passes"] = len(seen)
        if len(seen) < 3:
            raise kopf.TemporaryError("not done yet (Creating)", delay=0.05)

    loop.add_kind(KIND, PLURAL, 3600.0, run)
    loop.track(body("a"))
    assert seen == []  # the watch event only schedules; the loop runs the pass

    async def check() -> None:
        await wait_for(lambda: len(seen) >= 3)
        await asyncio.sleep(0.2)

    await running(loop, gateway, check)
    # The change pass, then two polls (retry 1, then 2), then nothing: the next pass is an hour away.
    assert seen == [(0, True), (1, False), (2, False)]
    assert [w[4] for w in gateway.writes if w[0] == "status"] == [{"passes": 1}, {"passes": 2}, {"passes": 3}]


async def test_a_new_spec_or_annotation_is_a_change_and_a_new_status_or_the_create_marker_is_not() -> None:
    loop = ResyncLoop()
    seen: list[tuple[str, bool]] = []

    async def run(body: kopf.Body, change: bool = False, **_: Any) -> None:
        seen.append((str(body.spec.get("topic")), change))

    loop.add_kind(KIND, PLURAL, 3600.0, run)

    async def check() -> None:
        loop.track(body("a", spec={"topic": "t1"}))
        await wait_for(lambda: len(seen) == 1)
        # Written by the operator itself: a status, the crash marker around a create, kopf's and
        # kubectl's copies of the object. None of them is a change.
        loop.track(body("a", spec={"topic": "t1"}, status={"phase": "Running"}))
        loop.track(
            body(
                "a",
                spec={"topic": "t1"},
                annotations={
                    "ccloud.operator.dev/create-pending": "2026-12-04T05:00:00Z",
                    "kopf.ccloud.operator.dev/last-handled-configuration": "{}",
                    "kubectl.kubernetes.io/last-applied-configuration": "{}",
                },
            )
        )
        await asyncio.sleep(0.2)
        assert seen == [("t1", True)]
        loop.track(body("a", spec={"topic": "t2"}))
        await wait_for(lambda: len(seen) == 2)
        loop.track(body("a", spec={"topic": "t2"}, annotations={"ccloud.operator.dev/restart": "1"}))
        await wait_for(lambda: len(seen) == 3)
        await asyncio.sleep(0.2)

    await running(loop, RecordingGateway(), check)
    assert seen == [("t1", True), ("t2", True), ("t2", True)]


async def test_a_change_during_a_pass_gets_its_own_change_pass_after_it() -> None:
    loop = ResyncLoop()
    seen: list[tuple[int, bool]] = []
    release = asyncio.Event()

    async def run(retry: int, change: bool = False, **_: Any) -> None:
        seen.append((retry, change))
        if len(seen) == 1:
            await release.wait()
            raise kopf.TemporaryError("not done yet (Creating)", delay=3600)

    loop.add_kind(KIND, PLURAL, 3600.0, run)
    loop.track(body("a"))
    loop.changed("a")

    async def check() -> None:
        await wait_for(lambda: len(seen) == 1)
        loop.changed("a")  # a spec change while the first pass is in flight
        release.set()
        await wait_for(lambda: len(seen) == 2)

    await running(loop, RecordingGateway(), check)
    # The second change was not pushed back an hour by the end of the first pass, nor turned into a poll.
    assert seen == [(0, True), (0, True)]


async def test_between_passes_the_copy_is_packed_and_the_next_pass_reads_the_latest_event() -> None:
    loop = ResyncLoop()
    seen: list[tuple[Any, Any]] = []

    async def run(body: kopf.Body, **_: Any) -> None:
        seen.append((body.spec["state"], body.meta.get("generation")))

    loop.add_kind(KIND, PLURAL, 3600.0, run)
    loop.track(body("a", generation=1))
    loop.changed("a")

    async def check() -> None:
        await wait_for(lambda: len(seen) == 1)
        paused = body("a", generation=2)
        paused["spec"] = {"state": "PAUSED"}
        loop.track(paused)  # seen while no pass runs
        tracked = loop._tracked["a"]
        assert tracked.live is None and tracked.readers == 0
        assert resync.unpack(tracked.packed) == slim(paused)
        loop.changed("a")
        await wait_for(lambda: len(seen) == 2)

    await running(loop, RecordingGateway(), check)
    assert seen == [("RUNNING", 1), ("PAUSED", 2)]


async def test_passes_at_once_share_one_live_copy_packed_again_by_the_last() -> None:
    loop = ResyncLoop()
    release = asyncio.Event()
    bodies: list[kopf.Body] = []

    async def run(body: kopf.Body, **_: Any) -> None:
        bodies.append(body)
        await release.wait()

    loop.add_kind(KIND, PLURAL, 3600.0, run)
    loop.track(body("a"))
    loop.changed("a")

    async def check() -> None:
        await wait_for(lambda: len(bodies) == 1)
        loop.changed("a")  # a second pass starts while the first waits (the object's lock, in the operator)
        await wait_for(lambda: len(bodies) == 2)
        tracked = loop._tracked["a"]
        assert tracked.readers == 2
        loop.track(body("a", deletionTimestamp="2026-12-03T12:00:00Z"))
        # Both passes see the deletion: they read the same copy, updated in place.
        assert [b.metadata.deletion_timestamp for b in bodies] == ["2026-12-03T12:00:00Z"] * 2
        release.set()
        await wait_for(lambda: tracked.readers == 0)
        assert tracked.live is None

    await running(loop, RecordingGateway(), check)


async def test_a_wake_is_a_change_pass_in_this_process_and_an_untracked_object_gets_one_on_first_sight() -> None:
    loop = ResyncLoop()
    gateway = RecordingGateway()
    changes: list[tuple[str, bool]] = []

    async def run(body: kopf.Body, change: bool = False, **_: Any) -> None:
        changes.append((body.metadata.uid or "", change))

    loop.add_kind(KIND, PLURAL, 600.0, run)
    loop.track(body("a"))

    async def check() -> None:
        await wait_for(lambda: ("a", True) in changes)
        assert loop.changed("a")  # its integration became Ready, say
        await wait_for(lambda: changes.count(("a", True)) == 2)
        # Not yet seen by the loop: nothing to do now, and its first watch event brings one change pass.
        assert not loop.changed("b")
        loop.track(body("b"))
        await wait_for(lambda: ("b", True) in changes)
        await asyncio.sleep(0.2)

    await running(loop, gateway, check)
    assert changes == [("a", True), ("a", True), ("b", True)]
    assert gateway.writes == []  # the passes here write nothing, and neither did the wakes


async def test_the_finalizer_goes_on_before_the_first_pass_and_only_once() -> None:
    loop = ResyncLoop()
    gateway = RecordingGateway()
    order: list[str] = []

    async def run(**_: Any) -> None:
        order.append(f"pass after {len(gateway.writes)} writes")
        raise kopf.TemporaryError("Creating", delay=0.01)

    async def finalize(**_: Any) -> None:
        raise AssertionError("not being deleted")

    loop.add_kind(KIND, PLURAL, 3600.0, run, finalize)
    loop.track(body("a", finalizers=["other.example/keep"]))
    loop.changed("a")
    await running(loop, gateway, lambda: wait_for(lambda: len(order) >= 3))
    # Added once, before anything ran, after the finalizer another controller put there.
    assert gateway.writes[0] == ("add-finalizer", PLURAL, "team", "c-a", {"to": ["other.example/keep", FINALIZER]})
    assert order[:3] == ["pass after 1 writes"] * 3


async def test_no_pass_runs_while_the_finalizer_cannot_be_added(monkeypatch: Any) -> None:
    monkeypatch.setattr(resync, "HOLD_RETRY_SECONDS", 0.01)
    loop = ResyncLoop()
    gateway = RecordingGateway()
    gateway.refusals = [KubeApiError(409, "the object has been modified"), KubeApiError(422, "test failed")]
    seen: list[tuple[int, bool]] = []

    async def run(retry: int, change: bool = False, **_: Any) -> None:
        seen.append((retry, change))

    async def finalize(**_: Any) -> None:
        raise AssertionError("not being deleted")

    loop.add_kind(KIND, PLURAL, 3600.0, run, finalize)
    loop.track(body("a"))
    loop.changed("a")
    await running(loop, gateway, lambda: wait_for(lambda: len(seen) == 1))
    # Two refusals, no pass; the third try held it, and the pass ran still as the change it was.
    assert seen == [(0, True)]
    assert [w[0] for w in gateway.writes] == ["add-finalizer"]


async def test_a_deletion_runs_the_deletion_passes_until_done_then_lets_go_of_the_object() -> None:
    loop = ResyncLoop()
    gateway = RecordingGateway()
    passes: list[str] = []
    deletions: list[int] = []

    async def run(**_: Any) -> None:
        passes.append("pass")

    async def finalize(body: kopf.Body, patch: kopf.Patch, retry: int, **_: Any) -> None:
        deletions.append(retry)
        patch.status["deleting"] = retry
        if retry < 2:
            raise kopf.TemporaryError("the connector is still listed", delay=0.01)

    loop.add_kind(KIND, PLURAL, 3600.0, run, finalize)
    finalizers = ["other.example/keep", FINALIZER]
    loop.track(body("a", finalizers=finalizers))

    async def check() -> None:
        loop.track(body("a", finalizers=finalizers, deletionTimestamp="2026-12-03T12:00:00Z"))
        loop.changed("a")  # an update kopf reports meanwhile does not turn it back into a normal pass
        await wait_for(lambda: len(loop) == 0)
        await asyncio.sleep(0.05)

    await running(loop, gateway, check)
    assert passes == []
    assert deletions == [0, 1, 2]
    assert gateway.writes[-1] == ("remove-finalizer", PLURAL, "team", "c-a", {"index": 1, "value": FINALIZER})
    assert [w[4] for w in gateway.writes if w[0] == "status"] == [{"deleting": 0}, {"deleting": 1}, {"deleting": 2}]


async def test_a_refused_finalizer_removal_is_tried_again_without_the_cleanup(monkeypatch: Any) -> None:
    monkeypatch.setattr(resync, "HOLD_RETRY_SECONDS", 0.01)
    loop = ResyncLoop()
    gateway = RecordingGateway()
    gateway.refusals = [KubeApiError(422, "test failed")]
    deletions: list[int] = []

    async def finalize(retry: int, **_: Any) -> None:
        deletions.append(retry)

    deletions_only(loop, finalize)
    loop.track(body("a", finalizers=[FINALIZER], deletionTimestamp="2026-12-03T12:00:00Z"))
    await running(loop, gateway, lambda: wait_for(lambda: len(loop) == 0))
    # The cleanup ran once; only the removal was tried again.
    assert deletions == [0]
    assert gateway.writes == [("remove-finalizer", PLURAL, "team", "c-a", {"index": 0, "value": FINALIZER})]


async def test_a_deletion_that_fails_for_good_lets_go_and_one_without_the_finalizer_runs_nothing() -> None:
    loop = ResyncLoop()
    gateway = RecordingGateway()
    deletions: list[str] = []

    async def finalize(body: kopf.Body, **_: Any) -> None:
        deletions.append(body.metadata.uid or "")
        raise kopf.PermanentError("spec.aws: field required")

    deletions_only(loop, finalize)
    loop.track(body("a", finalizers=[FINALIZER], deletionTimestamp="2026-12-03T12:00:00Z"))
    # Never held by this operator (deleted before its first pass): nothing of ours to clean up.
    loop.track(body("b", deletionTimestamp="2026-12-03T12:00:00Z"))
    assert len(loop) == 1
    await running(loop, gateway, lambda: wait_for(lambda: len(loop) == 0))
    assert deletions == ["a"]
    assert gateway.writes == [("remove-finalizer", PLURAL, "team", "c-a", {"index": 0, "value": FINALIZER})]


async def test_a_watch_event_older_than_the_release_does_not_start_the_deletion_again() -> None:
    loop = ResyncLoop()
    gateway = RecordingGateway()
    deletions: list[int] = []

    async def finalize(retry: int, **_: Any) -> None:
        deletions.append(retry)

    deletions_only(loop, finalize)
    deleting = body("a", finalizers=[FINALIZER], deletionTimestamp="2026-12-03T12:00:00Z")
    loop.track(deleting)

    async def check() -> None:
        await wait_for(lambda: len(loop) == 0)
        # The status write of the deletion pass, delivered after the finalizer was taken off.
        loop.track(deleting)
        await asyncio.sleep(0.1)
        assert len(loop) == 0
        loop.track(deleting, deleted=True)  # gone: a later object with the same name is a new uid anyway

    await running(loop, gateway, check)
    assert deletions == [0]
    assert [w[0] for w in gateway.writes] == ["remove-finalizer"]


async def test_an_object_gone_before_its_finalizer_went_on_is_forgotten() -> None:
    loop = ResyncLoop()
    gateway = RecordingGateway()
    gateway.refusals = [KubeApiError(404, "not found")]
    passes: list[str] = []

    async def run(**_: Any) -> None:
        passes.append("pass")

    async def finalize(**_: Any) -> None:
        raise AssertionError("never held")

    loop.add_kind(KIND, PLURAL, 3600.0, run, finalize)
    loop.track(body("a"))
    loop.changed("a")
    await running(loop, gateway, lambda: wait_for(lambda: len(loop) == 0))
    assert passes == [] and gateway.writes == []
