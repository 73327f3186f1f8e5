"""Bulk apply: P ProviderIntegrations and C ManagedConnectors created at once, against a rate limit.

The emulator adds a latency to every request and admits requests through a token bucket of R
requests per second (burst B); what it refuses gets a 429 with Retry-After. Each integration is a
createRole integration with an ``s3Buckets`` preset on its own bucket (created in moto first);
connector i is an S3 sink on integration ``i mod P``. Measured: the time until every object is
Ready, every Confluent call by endpoint, the 429s, and the ratio to a floor:

* needed calls = per integration 2 (list to look for it, create) + per connector 3 (validate,
  create, one status read);
* floor time = (needed calls - B) / R: the bucket's burst is free, every other call waits for a token.

With IAM propagation on (the emulator's realistic default), a second floor applies. No connector can
run before its integration's trust statement is in force, P seconds after it was made, and it cannot
be made before Confluent created the integration (the statement names the external ID Confluent
assigns then). Every connector so needs at least one call (its create or a restart) at or after
T + P, with T the earliest integration's creation, then its provisioning, and the operator sees it
RUNNING only once Confluent's reads show it (the read lag):

* IAM floor = T + P + (C - B) / R + provisioning + read lag, for C connectors.

The ratio the run is judged by is to the larger of the two floors.

    python -m benchmarks.bulk [--sizes 10:100 50:500] [--rate-limit 20] [--json .state/benchmarks/results/bulk.json]
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
    process_memory_kib,
    say,
    table,
    write_json,
)
from ccloud_operator.constants import MANAGED_CONNECTORS, PROVIDER_INTEGRATIONS

#: Calls one object needs at the least (see the module docstring).
NEEDED_PER_INTEGRATION = 2
NEEDED_PER_CONNECTOR = 3


def _size(text: str) -> tuple[int, int]:
    integrations, _, connectors = text.partition(":")
    return int(integrations), int(connectors)


def _percentile_seconds(ready_at: list[float], started: float, fraction: float) -> float | None:
    if not ready_at:
        return None
    ordered = sorted(ready_at)
    index = max(0, min(len(ordered) - 1, round(fraction * len(ordered)) - 1))
    return ordered[index] - started


def measure(
    bench: Bench, integrations: int, connectors: int, settings: StackSettings, timeout: float
) -> dict[str, Any]:
    """One bulk apply in a fresh namespace; the figures as a JSON-ready dict."""
    namespace = f"bench-bulk-{integrations}-{connectors}"
    with bench.run(namespace, settings) as run:
        run.create_buckets(integrations)
        run.apply_faults()
        before = run.counts()
        started = before.at
        apply_seconds = run.apply(range(integrations), [(i, i % integrations) for i in range(connectors)])
        say(f"{namespace}: applied {integrations} + {connectors} objects in {apply_seconds:.1f}s; waiting for Ready")
        with run.draining():
            run.watch.wait_ready({PROVIDER_INTEGRATIONS: integrations, MANAGED_CONNECTORS: connectors}, timeout)
        ready_seconds = max(run.watch.first_ready.values()) - started
        after = run.counts()
        memory = process_memory_kib(run.pid)
        window = run.window(before, after)
        integration_ready = [t for (p, _), t in run.watch.first_ready.items() if p == PROVIDER_INTEGRATIONS]
        connector_ready = [t for (p, _), t in run.watch.first_ready.items() if p == MANAGED_CONNECTORS]
        creates_at = list(run.tally.creates_at)
        emulator = run.admin.state()
    to_monotonic = time.monotonic() - time.time()
    realism = emulator["realism"]
    scale = float(realism.get("time_scale", 1.0))
    propagation = float(realism["iam_propagation_seconds"]) * scale
    created = [float(i["created_at"]) + to_monotonic - started for i in emulator["integrations"].values()]
    rate = settings.rate_limit_rps or 0.0
    burst = settings.rate_limit_burst or int(rate)
    needed = NEEDED_PER_INTEGRATION * integrations + NEEDED_PER_CONNECTOR * connectors
    floor_seconds = max(0.0, needed - burst) / rate if rate else 0.0
    iam_floor_seconds = (
        min(created)
        + propagation
        + (max(0.0, connectors - burst) / rate if rate else 0.0)
        + float(emulator["provisioning_seconds"])
        + float(realism["read_lag_seconds"]) * scale
        if propagation > 0 and created
        else 0.0
    )
    judged_floor = max(floor_seconds, iam_floor_seconds)
    ok_calls = sum(n for key, n in window.confluent.items() if not key.endswith(" 429"))
    return {
        "integrations": integrations,
        "connectors": connectors,
        "apply_seconds": apply_seconds,
        "ready_seconds": ready_seconds,
        "integrations_ready_seconds": {
            "p50": _percentile_seconds(integration_ready, started, 0.5),
            "p100": _percentile_seconds(integration_ready, started, 1.0),
        },
        "connectors_ready_seconds": {
            "p50": _percentile_seconds(connector_ready, started, 0.5),
            "p90": _percentile_seconds(connector_ready, started, 0.9),
            "p100": _percentile_seconds(connector_ready, started, 1.0),
        },
        # When Confluent answered the connector creates 201: the time between the last create and the
        # last Ready is the operator's (and the emulator's read lag and provisioning).
        "connector_creates_seconds": {
            "p50": _percentile_seconds(creates_at, started, 0.5),
            "p100": _percentile_seconds(creates_at, started, 1.0),
        },
        "needed_calls": needed,
        "floor_seconds": floor_seconds,
        "confluent_calls": window.confluent_total,
        "confluent_calls_not_429": ok_calls,
        "rejected_429_operator": sum(n for key, n in window.confluent.items() if key.endswith(" 429")),
        "time_over_floor": ready_seconds / floor_seconds if floor_seconds else None,
        "iam_propagation_seconds": propagation,
        "first_integration_created_seconds": min(created) if created else None,
        "iam_floor_seconds": iam_floor_seconds,
        "time_over_iam_floor": ready_seconds / iam_floor_seconds if iam_floor_seconds else None,
        "time_over_larger_floor": ready_seconds / judged_floor if judged_floor else None,
        "calls_over_needed": window.confluent_total / needed,
        "accepted_calls_over_needed": ok_calls / needed,
        "operator_rss_kib_after": memory.get("VmRSS"),
        "operator_peak_rss_kib": memory.get("VmHWM"),
        "window": window.to_json(),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--sizes", nargs="+", default=["10:100", "50:500"], help="INTEGRATIONS:CONNECTORS pairs (default 10:100 50:500)"
    )
    parser.add_argument("--rate-limit", type=float, default=20.0, help="emulator token bucket, requests/s (default 20)")
    parser.add_argument("--burst", type=int, default=20, help="token bucket size (default 20)")
    parser.add_argument("--latency-ms", type=float, default=50.0, help="emulator latency per request (default 50)")
    parser.add_argument(
        "--resync-interval", type=float, default=60.0, help="operator resync interval, s (default 60, as in production)"
    )
    parser.add_argument(
        "--iam-propagation",
        type=float,
        default=None,
        help="seconds the emulator takes to see a trust policy change (default: its realistic 60 s); "
        "0 measures the rate limit alone, which is what the floor counts",
    )
    parser.add_argument("--timeout", type=float, default=1800.0, help="seconds to wait for Ready per size")
    parser.add_argument("--json", type=Path, default=Path(".state/benchmarks/results/bulk.json"))
    args = parser.parse_args()
    sizes = [_size(text) for text in args.sizes]
    settings = StackSettings(
        resync_interval=args.resync_interval,
        latency_ms=args.latency_ms,
        rate_limit_rps=args.rate_limit,
        rate_limit_burst=args.burst,
        provisioning_seconds=1.0,
        integration_quota=max(100, max(p for p, _ in sizes) + 10),
        iam_propagation_seconds=args.iam_propagation,
    )
    say(
        f"rate limit R = {args.rate_limit:g} requests/s, burst B = {args.burst}, latency {args.latency_ms:g} ms, "
        f"resync interval {args.resync_interval:g} s"
    )
    results = []
    with Bench("bulk") as bench:
        for integrations, connectors in sizes:
            results.append(measure(bench, integrations, connectors, settings, args.timeout))
            say(f"{integrations}:{connectors} Ready after {results[-1]['ready_seconds']:.1f}s")
    print(
        f"Bulk apply against the emulator: latency {args.latency_ms:g} ms, token bucket R = {args.rate_limit:g} "
        f"requests/s, burst B = {args.burst}; operator resync interval {args.resync_interval:g} s"
    )
    print(
        f"Floor: needed calls = {NEEDED_PER_INTEGRATION} per integration (list, create) + {NEEDED_PER_CONNECTOR} per "
        "connector (validate, create, one status read); floor time = (needed - B) / R"
    )
    print(
        "IAM floor (with propagation P): first integration created at T, then T + P + (C - B) / R + provisioning "
        "+ read lag"
    )
    print()
    rows = [
        [
            f"{r['integrations']}:{r['connectors']}",
            r["ready_seconds"],
            r["floor_seconds"],
            r["time_over_floor"],
            r["iam_propagation_seconds"],
            r["iam_floor_seconds"],
            r["time_over_larger_floor"],
            r["needed_calls"],
            r["confluent_calls"],
            r["confluent_calls_not_429"],
            r["rejected_429_operator"],
            r["calls_over_needed"],
            r["accepted_calls_over_needed"],
        ]
        for r in results
    ]
    print(
        table(
            [
                "P:C",
                "ready s",
                "floor s",
                "time/floor",
                "P s",
                "IAM floor s",
                "time/larger",
                "needed",
                "calls",
                "not 429",
                "429s",
                "calls/needed",
                "accepted/needed",
            ],
            rows,
        )
    )
    print()
    per_resource = [
        [
            f"{r['integrations']}:{r['connectors']}",
            r["ready_seconds"] / (r["integrations"] + r["connectors"]),
            r["confluent_calls"] / (r["integrations"] + r["connectors"]),
            r["window"]["aws_total"] / r["integrations"],
            r["window"]["kube_total"] / (r["integrations"] + r["connectors"]),
            r["window"]["operator_cpu_seconds"] / (r["integrations"] + r["connectors"]),
            r["integrations_ready_seconds"]["p100"],
            r["connectors_ready_seconds"]["p50"],
            r["connectors_ready_seconds"]["p90"],
            r["connector_creates_seconds"]["p50"],
            r["connector_creates_seconds"]["p100"],
            r["operator_peak_rss_kib"] // 1024,
        ]
        for r in results
    ]
    print(
        table(
            [
                "P:C",
                "s/object",
                "confluent/object",
                "aws/integration",
                "kube/object",
                "cpu s/object",
                "all PI ready s",
                "MC p50 s",
                "MC p90 s",
                "MC created p50 s",
                "MC created p100 s",
                "peak RSS MiB",
            ],
            per_resource,
            "Per object (growth)",
        )
    )
    for r in results:
        print()
        window = r["window"]
        print(
            counter_table(
                f"Confluent calls, {r['integrations']}:{r['connectors']} (operator's count)",
                Counter(window["confluent_calls"]),
            )
        )
        print()
        print(
            counter_table(
                f"Emulator's request log, {r['integrations']}:{r['connectors']}", Counter(window["emulator_requests"])
            )
        )
        print()
        print(counter_table(f"AWS calls, {r['integrations']}:{r['connectors']}", Counter(window["aws_calls"])))
    write_json(
        args.json,
        "bulk",
        {
            "settings": settings,
            "needed_per_integration": NEEDED_PER_INTEGRATION,
            "needed_per_connector": NEEDED_PER_CONNECTOR,
            "results": results,
        },
    )


if __name__ == "__main__":
    main()
