"""Cost growth: how the figures of the other benchmarks grow with the number of resources.

Reads the JSON the other benchmarks wrote (it starts nothing) and prints, per measured size, each
total and its per-resource share, plus the growth exponent k between the smallest and the largest
size: total ~ N^k, so k = 0 is constant, k = 1 linear, k = 2 quadratic.

    python -m benchmarks.growth [--results .state/benchmarks/results] [--json .state/benchmarks/results/growth.json]
"""

from __future__ import annotations

import argparse
import json
import math
from pathlib import Path
from typing import Any

from benchmarks.common import say, table, write_json


def exponent(points: list[tuple[float, float]]) -> float | None:
    """k in y ~ x^k between the first and the last point (None when it is undefined)."""
    (x1, y1), (x2, y2) = points[0], points[-1]
    if len(points) < 2 or x1 <= 0 or x2 <= x1 or y1 <= 0 or y2 <= 0:
        return None
    return math.log(y2 / y1) / math.log(x2 / x1)


def _load(directory: Path, name: str) -> dict[str, Any] | None:
    path = directory / f"{name}.json"
    if not path.exists():
        say(f"no {path}; run python -m benchmarks.{name} first")
        return None
    document: dict[str, Any] = json.loads(path.read_text())
    return document


def _series(rows: list[dict[str, Any]], size_key: str, metrics: dict[str, str]) -> list[dict[str, Any]]:
    """One growth line per metric: the values by size, per resource, and the exponent."""
    lines = []
    for label, path in metrics.items():
        points = []
        for row in rows:
            value: Any = row
            for part in path.split("."):
                value = value[part]
            points.append((float(row[size_key]), float(value)))
        lines.append({"metric": label, "points": points, "k": exponent(points)})
    return lines


def _print(title: str, size_label: str, lines: list[dict[str, Any]]) -> None:
    if not lines:
        return
    sizes = [int(x) for x, _ in lines[0]["points"]]
    headers = ["metric", *(f"{size_label}={s}" for s in sizes), *(f"per res. {s}" for s in sizes), "k"]
    rows = []
    for line in lines:
        values = [y for _, y in line["points"]]
        per = [y / x for x, y in line["points"]]
        rows.append([line["metric"], *values, *per, "n/a" if line["k"] is None else round(line["k"], 2)])
    print(table(headers, rows, title))
    print()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--results", type=Path, default=Path(".state/benchmarks/results"))
    parser.add_argument("--json", type=Path, default=Path(".state/benchmarks/results/growth.json"))
    args = parser.parse_args()
    growth: dict[str, Any] = {}

    bulk = _load(args.results, "bulk")
    if bulk:
        rows = [{**r, "objects": r["integrations"] + r["connectors"]} for r in bulk["results"]]
        growth["bulk"] = _series(
            rows,
            "objects",
            {
                "seconds to all Ready": "ready_seconds",
                "floor seconds": "floor_seconds",
                "Confluent calls": "confluent_calls",
                "429s": "rejected_429_operator",
                "AWS calls": "window.aws_total",
                "Kubernetes requests": "window.kube_total",
                "operator CPU s": "window.operator_cpu_seconds",
            },
        )
        _print("Bulk apply (size = integrations + connectors)", "N", growth["bulk"])

    idle = _load(args.results, "idle_cost")
    if idle:
        rows = [{**r, "objects": r["integrations"] + r["connectors"]} for r in idle["results"]]
        growth["idle"] = _series(
            rows,
            "objects",
            {
                "Confluent calls / interval": "per_interval.confluent_calls",
                "AWS calls / interval": "per_interval.aws_calls",
                "Kubernetes requests / interval": "per_interval.kube_requests",
                "object writes / interval": "per_interval.object_writes",
                "operator CPU s / interval": "per_interval.operator_cpu_seconds",
            },
        )
        _print("Idle, per interval (size = integrations + connectors)", "N", growth["idle"])

    memory = _load(args.results, "memory")
    if memory:
        growth["memory"] = _series(
            memory["results"],
            "resources",
            {
                "RSS KiB": "rss_kib",
                "RSS above idle KiB": "rss_above_idle_kib",
                "peak RSS KiB": "peak_rss_kib",
                "seconds to all Ready": "ready_seconds",
            },
        )
        _print("Memory (size = resources)", "N", growth["memory"])

    latency = _load(args.results, "latency")
    if latency:
        cases = [[case, s["min"], s["median"], s["max"]] for case, s in latency["summary"].items()]
        print(table(["case", "min s", "median s", "max s"], cases, "Latency of one object (no size to grow with)"))
        growth["latency"] = latency["summary"]
    write_json(args.json, "growth", {"growth": growth})


if __name__ == "__main__":
    main()
