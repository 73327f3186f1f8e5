"""Operator memory: resident set size with N resources, each reconciled until Ready.

For each size N a fresh operator watches a fresh namespace; the benchmark reads its VmRSS once it
is healthy with no objects (the baseline), then applies N / 10 createRole ProviderIntegrations
and the rest as S3-sink ManagedConnectors (no emulator latency, no rate limit), waits until every
object is Ready, lets 5 s pass, and reads VmRSS (resident now) and VmHWM (peak resident) from
``/proc/<pid>/status``. The per-resource figure is (RSS - baseline) / N. It reads both again
``--steady`` seconds after all were Ready (by then the heap was trimmed and every object resynced once):
the steady state, and the peak of the whole run. The peak is the larger of VmHWM and VmRSS sampled
every 0.25 s from the apply on: the kernel does not count in VmHWM a peak the heap trim handed back.

    python -m benchmarks.memory [--sizes 100 500 1000] [--steady 75] [--integrations N] [--clusters K]
        [--json .state/benchmarks/results/memory.json]

The fleet of 10,000 connectors: ``--sizes 10100 --integrations 100 --clusters 20``.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import signal
import threading
import time
from pathlib import Path
from typing import Any, cast

from kubernetes import client

from benchmarks.common import (
    Bench,
    StackSettings,
    process_memory_kib,
    say,
    table,
    write_json,
)
from benchmarks.shipped_operator import HEAP_REPORT_ENV
from ccloud_operator.constants import EVENT_COMPONENT, MANAGED_CONNECTORS, PROVIDER_INTEGRATIONS

SETTLE_SECONDS = 5.0
#: How often the resident set is sampled during a run. The kernel's VmHWM misses a peak that the heap
#: trim handed back (madvise does not update it), so the peak reported is the larger of the two.
SAMPLE_SECONDS = 0.25


class RssSampler:
    """The largest VmRSS of a process seen by sampling it in a thread."""

    def __init__(self, pid: int) -> None:
        self.pid = pid
        self.peak_kib = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._sample, name="rss-sampler", daemon=True)

    def _sample(self) -> None:
        while not self._stop.wait(SAMPLE_SECONDS):
            with contextlib.suppress(OSError, KeyError):
                self.peak_kib = max(self.peak_kib, process_memory_kib(self.pid)["VmRSS"])

    def __enter__(self) -> RssSampler:
        self._thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._stop.set()
        self._thread.join()


class CompositionSampler:
    """Every ``every`` s during an apply, what the operator's objects are (SIGUSR1 to
    benchmarks.shipped_operator); keeps the sample taken at the largest RSS."""

    def __init__(self, pid: int, path: Path, every: float) -> None:
        self.pid = pid
        self.path = Path(f"{path}.during")
        self.every = every
        self.largest: dict[str, Any] | None = None
        self.samples = 0
        #: [seconds, RSS KiB, arenas (MiB), KiB in live blocks, collector's objects, whole bodies] each sample.
        self.series: list[list[float]] = []
        self.started = time.monotonic()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._sample, name="composition-sampler", daemon=True)

    def _sample(self) -> None:
        while not self._stop.wait(self.every):
            self.path.unlink(missing_ok=True)
            os.kill(self.pid, signal.SIGUSR1)
            deadline = time.monotonic() + 30
            while time.monotonic() < deadline and not self._stop.is_set():
                if self.path.exists() and self.path.stat().st_size:
                    time.sleep(0.2)
                    sample = cast(dict[str, Any], json.loads(self.path.read_text()))
                    self.samples += 1
                    small = sample.get("pymalloc") or {}
                    self.series.append(
                        [
                            round(time.monotonic() - self.started, 1),
                            sample["rss_kib"],
                            small.get("arenas allocated current", 0),
                            small.get("bytes in allocated blocks", 0) // 1024,
                            sample["gc_tracked_objects"],
                            sample["kubernetes_bodies"],
                        ]
                    )
                    if self.largest is None or sample["rss_kib"] > self.largest["rss_kib"]:
                        self.largest = sample
                    break
                time.sleep(0.2)

    def __enter__(self) -> CompositionSampler:
        if self.every > 0:
            self._thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join()


def measure(
    bench: Bench,
    resources: int,
    settings: StackSettings,
    timeout: float,
    steady: float,
    *,
    integrations: int | None = None,
    clusters: int = 1,
    heap_path: Path | None = None,
    composition_every: float = 0.0,
) -> dict[str, Any]:
    """Baseline, apply, wait for Ready, settle, read memory; read it again ``steady`` s after all Ready.

    ``integrations`` of the resources are ProviderIntegrations (a tenth by default), the rest connectors
    spread over ``clusters`` Kafka clusters."""
    integrations = integrations or max(1, resources // 10)
    connectors = resources - integrations
    with bench.run(f"bench-memory-{resources}", settings) as run:
        run.add_clusters(clusters)
        time.sleep(3.0)
        baseline = process_memory_kib(run.pid)
        idle_heap = heap_report(run.pid, heap_path) if heap_path is not None else None
        run.create_buckets(integrations)
        started = time.monotonic()
        started_wall = time.time()
        composition = CompositionSampler(run.pid, heap_path, composition_every if heap_path else 0.0)
        with RssSampler(run.pid) as sampler, composition:
            run.apply(range(integrations), [(i, i % integrations) for i in range(connectors)])
            expected = {PROVIDER_INTEGRATIONS: integrations, MANAGED_CONNECTORS: connectors}
            try:
                run.watch.wait_ready(expected, timeout)
                ready_seconds: float | None = max(run.watch.first_ready.values()) - started
                time.sleep(SETTLE_SECONDS)
            except TimeoutError as error:
                # Recorded, not raised: how far it got is a result too.
                say(f"{resources} resources: {error}")
                ready_seconds = None
            ready_counts = run.watch.ready_counts()
            waiting = dict(run.watch.reasons())
            loaded = process_memory_kib(run.pid)
            if ready_seconds is not None:
                # The first reading holds what the bulk apply left (heap not yet trimmed, passes
                # settling); this one comes after a heap trim and a resync of every object.
                time.sleep(max(0.0, steady - SETTLE_SECONDS))
            later = process_memory_kib(run.pid)
            heap = heap_report(run.pid, heap_path) if heap_path is not None else None
            events = posted_events(run.api, run.namespace)
    say(f"{resources} resources: RSS {loaded['VmRSS'] // 1024} MiB (baseline {baseline['VmRSS'] // 1024} MiB)")
    return {
        "resources": resources,
        "integrations": integrations,
        "connectors": connectors,
        "kafka_clusters": clusters,
        "ready_seconds": ready_seconds,
        "all_ready": ready_seconds is not None,
        "ready_counts_at_reading": ready_counts,
        "not_ready_reasons_at_reading": waiting,
        "seconds_waited": time.monotonic() - started if ready_seconds is None else ready_seconds,
        "baseline_rss_kib": baseline["VmRSS"],
        "rss_kib": loaded["VmRSS"],
        "peak_rss_kib": loaded["VmHWM"],
        "rss_above_idle_kib": loaded["VmRSS"] - baseline["VmRSS"],
        "kib_per_resource": (loaded["VmRSS"] - baseline["VmRSS"]) / resources,
        "steady_after_seconds": steady,
        "steady_rss_kib": later["VmRSS"],
        "steady_peak_rss_kib": max(loaded["VmHWM"], later["VmHWM"], sampler.peak_kib),
        "kernel_peak_rss_kib": later["VmHWM"],
        "sampled_peak_rss_kib": sampler.peak_kib,
        # Events the operator posted by the steady reading, and how long after all Ready the last was made:
        # Events still queued in the operator then are memory the steady reading holds.
        "events_posted": len(events),
        "last_event_after_ready_seconds": (
            max(events) - started_wall - ready_seconds if events and ready_seconds is not None else None
        ),
        # After the steady reading: the heap's make-up, and what a full collection and a trim gave back.
        "heap_at_steady": heap,
        "heap_idle": idle_heap,
        # During the apply: the composition sampled at the largest RSS (no collection, no trim).
        "heap_during_apply": composition.largest,
        "composition_samples": composition.samples,
        "composition_series": composition.series,
    }


def posted_events(api: client.ApiClient, namespace: str) -> list[float]:
    """When each Event the operator posted in the namespace was created (epoch seconds)."""
    items = client.CoreV1Api(api).list_namespaced_event(namespace).items
    return [
        e.metadata.creation_timestamp.timestamp()
        for e in items
        if e.reporting_component == EVENT_COMPONENT and e.metadata.creation_timestamp is not None
    ]


def heap_report(pid: int, path: Path, timeout: float = 60.0) -> dict[str, Any] | None:
    """Ask the operator (benchmarks.shipped_operator) for its heap report; None when none came."""
    path.unlink(missing_ok=True)
    os.kill(pid, signal.SIGUSR2)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if path.exists() and path.stat().st_size:
            time.sleep(0.2)
            return cast(dict[str, Any], json.loads(path.read_text()))
        time.sleep(0.5)
    return None


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--sizes", type=int, nargs="+", default=[100, 500, 1000], help="resources (default 100 500 1000)"
    )
    parser.add_argument("--timeout", type=float, default=1200.0, help="seconds to wait for Ready per size")
    parser.add_argument(
        "--steady", type=float, default=75.0, help="seconds after all Ready of the second reading (default 75)"
    )
    parser.add_argument(
        "--integrations", type=int, default=None, help="ProviderIntegrations per size (default: a tenth of it)"
    )
    parser.add_argument("--clusters", type=int, default=1, help="Kafka clusters the connectors spread over (default 1)")
    parser.add_argument(
        "--operator-env",
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="an environment variable for the operator, to compare settings (repeatable)",
    )
    parser.add_argument(
        "--composition-every",
        type=float,
        default=0.0,
        help="seconds between samples of what the operator's objects are during the apply (default 0: none)",
    )
    parser.add_argument("--json", type=Path, default=Path(".state/benchmarks/results/memory.json"))
    args = parser.parse_args()
    heap_path = Path(".state/benchmarks/heap_report.json").resolve()
    heap_path.parent.mkdir(parents=True, exist_ok=True)
    settings = StackSettings(
        provisioning_seconds=1.0,
        integration_quota=max(100, max(args.sizes) // 10 + 10),
        operator_env={HEAP_REPORT_ENV: str(heap_path), **dict(item.split("=", 1) for item in args.operator_env)},
    )
    results: list[dict[str, Any]] = []
    with Bench("memory") as bench:
        for resources in args.sizes:
            results.append(
                measure(
                    bench,
                    resources,
                    settings,
                    args.timeout,
                    args.steady,
                    integrations=args.integrations,
                    clusters=args.clusters,
                    heap_path=heap_path,
                    composition_every=args.composition_every,
                )
            )
            # Written after every size, so a run stopped part-way keeps what it measured.
            write_json(args.json, "memory", {"settings": settings, "results": results})
    rows = [
        [
            r["resources"],
            r["integrations"],
            r["connectors"],
            r["baseline_rss_kib"] / 1024,
            r["rss_kib"] / 1024,
            r["steady_rss_kib"] / 1024,
            r["steady_peak_rss_kib"] / 1024,
            r["kib_per_resource"],
            r["ready_seconds"] if r["all_ready"] else f"not all Ready after {r['seconds_waited']:.0f}",
            r["ready_seconds"] / r["resources"] * 1000 if r["all_ready"] else "-",
        ]
        for r in results
    ]
    print(
        table(
            ["N", "P", "C", "idle MiB", "RSS MiB", "steady MiB", "peak MiB", "KiB/resource", "ready s", "ms/resource"],
            rows,
            f"Operator memory after every resource is Ready (RSS: +{SETTLE_SECONDS:g} s; steady and peak: "
            f"+{args.steady:g} s), or at the timeout; KiB/resource from RSS; no latency, no rate limit",
        )
    )
    for r in results:
        if r.get("last_event_after_ready_seconds") is not None:
            lag = r["last_event_after_ready_seconds"]
            print(
                f"N={r['resources']}: {r['events_posted']} Events posted by the steady reading, the last "
                f"{abs(lag):.1f} s {'after' if lag >= 0 else 'before'} all Ready"
            )
        if not r["all_ready"]:
            print(
                f"N={r['resources']}: Ready at the reading {r['ready_counts_at_reading']}; "
                f"not Ready: {r['not_ready_reasons_at_reading']}"
            )
        for when, heap in (
            ("idle", r.get("heap_idle")),
            ("during the apply, at the largest RSS sampled", r.get("heap_during_apply")),
            ("after the steady reading", r.get("heap_at_steady")),
        ):
            if not heap:
                continue
            small = heap.get("pymalloc") or {}
            line = (
                f"N={r['resources']} heap {when}: RSS {heap['rss_kib'] / 1024:.1f} MiB; "
                f"CPython's small-object arenas {small.get('arenas allocated current', 0)} MiB, "
                f"{small.get('bytes in allocated blocks', 0) / 2**20:.1f} MiB in live blocks; "
                f"{heap['gc_tracked_objects']} objects the collector tracks, "
                f"{heap.get('kubernetes_bodies', '?')} of them whole Kubernetes objects"
            )
            if "collected" in heap:
                line += (
                    f"; a full collection freed {heap['collected']} -> RSS "
                    f"{heap['rss_kib_after_collect'] / 1024:.1f} MiB, then a trim -> "
                    f"{heap['rss_kib_after_collect_and_trim'] / 1024:.1f} MiB"
                )
            print(line)
            if heap.get("types"):
                print("    commonest: " + ", ".join(f"{name} {count}" for name, count in heap["types"]))
        if r.get("composition_series"):
            print(
                table(
                    ["s", "RSS MiB", "arenas MiB", "live MiB", "objects", "bodies"],
                    [
                        [t, rss / 1024, arenas, live / 1024, objects, bodies]
                        for t, rss, arenas, live, objects, bodies in r["composition_series"]
                    ],
                    f"N={r['resources']}: during the apply (seconds from the start of the apply)",
                )
            )


if __name__ == "__main__":
    main()
