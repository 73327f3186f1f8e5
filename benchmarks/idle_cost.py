"""Idle cost: what the operator spends per resync interval once everything is Ready.

For each size C (connectors, all in one Kafka cluster) the benchmark applies C S3-sink
ManagedConnectors on max(1, C / 10) createRole ProviderIntegrations, waits until all are Ready,
lets one full interval pass (so every object's periodic pass is in its steady rhythm), then counts over
``--intervals`` intervals: Confluent calls, AWS calls, Kubernetes requests, the writes the watch
saw to the objects (and which fields they changed), reconciles and operator CPU time. The resync
and validation intervals are set equal, so "one interval" holds one connector resync and one
integration validation of every object.

Writes while idle should be zero: nothing changed, so nothing should be written anywhere.

    python -m benchmarks.idle_cost [--sizes 1 100 500] [--interval 15] [--intervals 4]
                                   [--json .state/benchmarks/results/idle_cost.json]
"""

from __future__ import annotations

import argparse
import time
from collections import Counter
from pathlib import Path
from typing import Any

from benchmarks.common import (
    Bench,
    StackSettings,
    counter_table,
    say,
    table,
    write_json,
)
from ccloud_operator.constants import MANAGED_CONNECTORS, PROVIDER_INTEGRATIONS


def integrations_for(connectors: int) -> int:
    """One integration per ten connectors, at least one."""
    return max(1, connectors // 10)


def measure(bench: Bench, connectors: int, settings: StackSettings, intervals: int, timeout: float) -> dict[str, Any]:
    """Apply, wait for Ready, settle one interval, then count ``intervals`` intervals."""
    integrations = integrations_for(connectors)
    interval = settings.resync_interval
    with bench.run(f"bench-idle-{connectors}", settings) as run:
        run.create_buckets(integrations)
        run.apply(range(integrations), [(i, i % integrations) for i in range(connectors)])
        ready = run.watch.wait_ready({PROVIDER_INTEGRATIONS: integrations, MANAGED_CONNECTORS: connectors}, timeout)
        say(f"{connectors} connectors / {integrations} integrations Ready after {ready:.1f}s; settling {interval:g}s")
        time.sleep(interval + 2.0)
        before = run.counts()
        say(f"measuring {intervals} x {interval:g}s")
        time.sleep(intervals * interval)
        after = run.counts()
        window = run.window(before, after)
        still_ready = run.watch.ready_counts()
    per_interval = window.seconds / interval

    def each(value: float) -> float:
        return value / per_interval

    return {
        "connectors": connectors,
        "integrations": integrations,
        "interval_seconds": interval,
        "intervals_measured": per_interval,
        "ready_after_apply_seconds": ready,
        "still_ready_at_end": still_ready,
        "per_interval": {
            "confluent_calls": each(window.confluent_total),
            "confluent_writes": each(window.confluent_writes),
            "aws_calls": each(window.aws_total),
            "aws_writes": each(window.aws_writes),
            "kube_requests": each(window.kube_total),
            "kube_writes": each(window.kube_writes),
            "object_writes": each(sum(window.watch_writes.values())),
            "reconciles": each(sum(window.reconciles.values())),
            "operator_cpu_seconds": each(window.cpu_seconds),
        },
        "window": window.to_json(),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[1, 100, 500], help="connectors (default 1 100 500)")
    parser.add_argument("--interval", type=float, default=15.0, help="resync = validation interval, s (default 15)")
    parser.add_argument("--intervals", type=int, default=4, help="intervals to count over (default 4)")
    parser.add_argument("--timeout", type=float, default=900.0, help="seconds to wait for Ready per size")
    parser.add_argument("--json", type=Path, default=Path(".state/benchmarks/results/idle_cost.json"))
    args = parser.parse_args()
    settings = StackSettings(
        resync_interval=args.interval,
        validation_interval=args.interval,
        provisioning_seconds=1.0,
        integration_quota=max(100, integrations_for(max(args.sizes)) + 10),
    )
    results = []
    with Bench("idle") as bench:
        for connectors in args.sizes:
            results.append(measure(bench, connectors, settings, args.intervals, args.timeout))
    print(
        f"Idle cost per interval (resync = validation = {args.interval:g}s), counted over {args.intervals} "
        "intervals after all Ready + one interval"
    )
    rows = []
    for r in results:
        each = r["per_interval"]
        rows.append(
            [
                r["connectors"],
                r["integrations"],
                each["confluent_calls"],
                each["confluent_writes"],
                each["aws_calls"],
                each["aws_writes"],
                each["kube_requests"],
                each["kube_writes"],
                each["object_writes"],
                each["reconciles"],
                each["operator_cpu_seconds"],
            ]
        )
    print(
        table(
            [
                "C",
                "P",
                "confluent",
                "cf writes",
                "aws",
                "aws writes",
                "kube",
                "kube writes",
                "obj writes",
                "reconciles",
                "cpu s",
            ],
            rows,
        )
    )
    print()
    growth = []
    for r in results:
        each, objects = r["per_interval"], r["connectors"] + r["integrations"]
        growth.append(
            [
                r["connectors"],
                each["confluent_calls"] / r["connectors"],
                each["aws_calls"] / r["integrations"],
                each["kube_requests"] / objects,
                each["object_writes"] / objects,
                1000 * each["operator_cpu_seconds"] / objects,
            ]
        )
    print(
        table(
            ["C", "confluent/connector", "aws/integration", "kube/object", "writes/object", "cpu ms/object"],
            growth,
            "Per object per interval (growth)",
        )
    )
    for r in results:
        window, label = r["window"], f"C={r['connectors']}, whole window of {r['intervals_measured']:.1f} intervals"
        print()
        print(counter_table(f"Confluent calls, {label}", Counter(window["emulator_requests"])))
        print()
        print(counter_table(f"AWS calls, {label}", Counter(window["aws_calls"])))
        print()
        print(counter_table(f"Kubernetes requests, {label}", Counter(window["kube_requests"])))
        if window["fields_changed_by_those_writes"]:
            print()
            print(
                counter_table(
                    f"Fields the idle writes changed, {label}", Counter(window["fields_changed_by_those_writes"])
                )
            )
    write_json(
        args.json,
        "idle_cost",
        {"settings": settings, "intervals": args.intervals, "results": results},
    )


if __name__ == "__main__":
    main()
