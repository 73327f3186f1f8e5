"""Apply-to-Ready latency of one object: the operator's own overhead.

The emulator answers at once (no latency, no rate limit) and provisions connectors in zero
seconds, so what remains is the operator: kopf's reaction to the watch event, its API calls and
the status writes. Three cases, each repeated ``--runs`` times in one namespace:

* ``ProviderIntegration``: one createRole integration applied alone, until Ready;
* ``ManagedConnector``: one S3 sink applied when its integration is already Ready, until Ready;
* ``both together``: an integration and its connector applied in one go (``kubectl apply -f dir/``),
  until both are Ready.

Also prints the calls one object costs (Confluent, AWS, Kubernetes) in its first minute.

    python -m benchmarks.latency [--runs 7] [--json .state/benchmarks/results/latency.json]
"""

from __future__ import annotations

import argparse
import statistics
import time
from pathlib import Path
from typing import Any

from benchmarks.common import (
    Bench,
    Run,
    StackSettings,
    Window,
    connector_name,
    integration_name,
    say,
    table,
    write_json,
)
from ccloud_operator.constants import MANAGED_CONNECTORS, PROVIDER_INTEGRATIONS

READY_TIMEOUT = 120.0


def _measure_integration(run: Run, index: int) -> float:
    started = time.monotonic()
    run.apply([index], [])
    return run.watch.wait_object_ready(PROVIDER_INTEGRATIONS, integration_name(index), READY_TIMEOUT) - started


def _measure_connector(run: Run, index: int, integration: int) -> float:
    started = time.monotonic()
    run.apply([], [(index, integration)])
    return run.watch.wait_object_ready(MANAGED_CONNECTORS, connector_name(index), READY_TIMEOUT) - started


def _measure_both(run: Run, index: int) -> float:
    started = time.monotonic()
    run.apply([index], [(index, index)])
    integration = run.watch.wait_object_ready(PROVIDER_INTEGRATIONS, integration_name(index), READY_TIMEOUT)
    connector = run.watch.wait_object_ready(MANAGED_CONNECTORS, connector_name(index), READY_TIMEOUT)
    return max(integration, connector) - started


def _summary(samples: list[float]) -> dict[str, float]:
    return {
        "min": min(samples),
        "median": statistics.median(samples),
        "max": max(samples),
        "first_run": samples[0],
    }


def _cost_row(case: str, window: Window) -> list[Any]:
    return [
        case,
        window.confluent_total,
        window.confluent_writes,
        window.aws_total,
        window.aws_writes,
        window.kube_total,
        window.kube_writes,
        sum(window.watch_writes.values()),
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=7, help="repetitions of each case (default 7)")
    parser.add_argument("--json", type=Path, default=Path(".state/benchmarks/results/latency.json"))
    args = parser.parse_args()
    settings = StackSettings(provisioning_seconds=0.0, latency_ms=0.0)
    samples: dict[str, list[float]] = {"ProviderIntegration": [], "ManagedConnector": [], "both together": []}
    costs: dict[str, dict[str, Any]] = {}
    with Bench("latency") as bench, bench.run("bench-latency", settings) as run:
        runs = args.runs
        run.create_buckets(3 * runs)
        run.apply_faults()
        for attempt in range(runs):
            pi, both = attempt, 2 * runs + attempt
            before = run.counts()
            samples["ProviderIntegration"].append(_measure_integration(run, pi))
            # The cost of one integration: everything up to Ready and the passes that follow it.
            time.sleep(2.0)
            after_pi = run.counts()
            samples["ManagedConnector"].append(_measure_connector(run, runs + attempt, pi))
            time.sleep(2.0)
            after_mc = run.counts()
            samples["both together"].append(_measure_both(run, both))
            time.sleep(2.0)
            after_both = run.counts()
            if attempt == runs - 1:
                costs["ProviderIntegration"] = run.window(before, after_pi).to_json()
                costs["ManagedConnector"] = run.window(after_pi, after_mc).to_json()
                costs["both together"] = run.window(after_mc, after_both).to_json()
                cost_rows = [
                    _cost_row("ProviderIntegration", run.window(before, after_pi)),
                    _cost_row("ManagedConnector", run.window(after_pi, after_mc)),
                    _cost_row("both together", run.window(after_mc, after_both)),
                ]
            say(
                f"run {attempt + 1}/{runs}: "
                + ", ".join(f"{case} {values[-1]:.2f}s" for case, values in samples.items())
            )
    rows = []
    for case, values in samples.items():
        summary = _summary(values)
        rows.append([case, len(values), summary["min"], summary["median"], summary["max"], summary["first_run"]])
    print(
        table(
            ["case", "runs", "min s", "median s", "max s", "run 1 s"],
            rows,
            "Apply-to-Ready, emulator latency 0 ms, provisioning 0 s (the operator's own overhead)",
        )
    )
    print()
    print(
        table(
            ["case (last run)", "confluent", "cf writes", "aws", "aws writes", "kube", "kube writes", "obj writes"],
            cost_rows,
            "Calls for one object, from apply to 2 s after Ready",
        )
    )
    write_json(
        args.json,
        "latency",
        {
            "settings": settings,
            "runs": args.runs,
            "seconds": {case: values for case, values in samples.items()},
            "summary": {case: _summary(values) for case, values in samples.items()},
            "calls_last_run": costs,
        },
    )


if __name__ == "__main__":
    main()
