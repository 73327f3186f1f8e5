"""Where the operator's memory goes: live Python allocations by owner, per resource.

Runs the operator under benchmarks.traced_operator (tracemalloc on), applies N resources as the
memory benchmark does (N / 10 integrations, the rest connectors), waits until every object is
Ready, settles, and compares a snapshot of live allocations with one taken before anything was
applied. Each allocation is charged to its owner: the innermost frame of its traceback that is not
the standard library (a third-party package, or a module of ccloud_operator), else the standard
library module that made it. It prints the growth per owner in KiB per resource, the largest
allocation sites, and RSS next to the traced total (RSS also holds what tracemalloc cannot see:
allocator fragmentation, C libraries, the tracing itself).

With ``--peak-every S`` the operator also checks its traced total every S seconds and snapshots it
each time it is 2 MiB over the largest so far; the last such snapshot, the apply's largest, is compared
by site with the settled one: what the apply's transient is made of.

    python -m benchmarks.memory_profile [--resources 1000] [--frames 12] [--top 25] [--peak-every 2]
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import sysconfig
import time
import tracemalloc
from collections import Counter
from pathlib import Path

from benchmarks.common import Bench, StackSettings, process_memory_kib, say, table, write_json
from ccloud_operator.constants import MANAGED_CONNECTORS, PROVIDER_INTEGRATIONS

SETTLE_SECONDS = 10.0
STDLIB = Path(sysconfig.get_paths()["stdlib"]).resolve()


def owner_of(filename: str) -> str:
    """A package name (its top-level module) for third-party and project code, else `stdlib:<module>`."""
    path = Path(filename)
    parts = path.parts
    for marker in ("site-packages", "dist-packages"):
        if marker in parts:
            rest = parts[parts.index(marker) + 1 :]
            return rest[0].removesuffix(".py") if rest else filename
    if "ccloud_operator" in parts:
        rest = parts[parts.index("ccloud_operator") + 1 :]
        module = rest[0].removesuffix(".py") if rest else ""
        return f"ccloud_operator.{module}" if len(rest) > 0 else "ccloud_operator"
    try:
        relative = path.resolve().relative_to(STDLIB)
        return f"stdlib:{relative.parts[0].removesuffix('.py')}"
    except ValueError:
        return filename if filename.startswith("<") else f"other:{path.name}"


def newest_first(trace: tracemalloc.Trace) -> list[tracemalloc.Frame]:
    """A trace's frames, the one that allocated first. A ``Traceback`` iterates oldest first (since
    Python 3.7); read the other way, every allocation was charged to the outermost frame kept."""
    return list(reversed(trace.traceback))


def responsible(trace: tracemalloc.Trace) -> str:
    """The owner of the innermost frame that is not the standard library."""
    frames = newest_first(trace)
    for frame in frames:
        owner = owner_of(frame.filename)
        if not owner.startswith(("stdlib:", "<")):
            return owner
    return owner_of(frames[0].filename) if frames else "?"


def by_owner(snapshot: tracemalloc.Snapshot) -> Counter[str]:
    sizes: Counter[str] = Counter()
    for trace in snapshot.traces:
        sizes[responsible(trace)] += trace.size
    return sizes


def site(trace: tracemalloc.Trace, depth: int) -> str:
    """The innermost `depth` non-stdlib frames of a trace, as file:line, newest first."""
    shown = [
        f"{owner_of(frame.filename)}:{Path(frame.filename).name}:{frame.lineno}"
        for frame in newest_first(trace)
        if not owner_of(frame.filename).startswith("stdlib:")
    ][:depth]
    return " <- ".join(shown) or str(newest_first(trace)[0])


def take(pid: int, target: Path, timeout: float = 300.0) -> tracemalloc.Snapshot:
    """Ask the traced operator for a snapshot and load it."""
    target.unlink(missing_ok=True)
    os.kill(pid, signal.SIGUSR2)
    deadline = time.monotonic() + timeout
    while not target.exists():
        if time.monotonic() > deadline:
            raise TimeoutError(f"no snapshot from pid {pid} within {timeout:.0f}s")
        time.sleep(0.5)
    return tracemalloc.Snapshot.load(str(target))


def growth_by_site(newer: tracemalloc.Snapshot, older: tracemalloc.Snapshot, depth: int) -> Counter[str]:
    """Bytes the newer snapshot holds over the older one, per site of `depth` frames."""
    sites: Counter[str] = Counter()
    for trace in newer.traces:
        sites[site(trace, depth)] += trace.size
    for trace in older.traces:
        sites[site(trace, depth)] -= trace.size
    return sites


def print_peak(peak: tracemalloc.Snapshot, settled: tracemalloc.Snapshot, path: Path, top: int) -> None:
    """What was alive at the largest traced total of the apply and not after it settled, by site."""
    taken = json.loads(Path(f"{path}.json").read_text())
    sites = growth_by_site(peak, settled, 4)
    traced_peak = sum(t.size for t in peak.traces)
    traced_settled = sum(t.size for t in settled.traces)
    print(
        table(
            ["site (innermost non-stdlib frames)", "KiB more at the peak"],
            [[s, size / 1024] for s, size in sites.most_common(top)],
            f"At the apply's largest traced total ({traced_peak / 2**20:.1f} MiB traced, RSS "
            f"{taken['rss_kib'] / 1024:.1f} MiB) against the settled one ({traced_settled / 2**20:.1f} MiB traced)",
        )
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--resources", type=int, default=1000)
    parser.add_argument("--frames", type=int, default=12, help="traceback depth tracemalloc keeps")
    parser.add_argument("--top", type=int, default=25, help="owners and sites to print")
    parser.add_argument("--timeout", type=float, default=1200.0)
    parser.add_argument(
        "--settle", type=float, default=SETTLE_SECONDS, help="seconds after all Ready before the snapshot (default 10)"
    )
    parser.add_argument(
        "--peak-every",
        type=float,
        default=0.0,
        help="seconds between checks of the traced total during the apply; the largest is snapshotted and "
        "compared with the settled one (default 0: not done)",
    )
    parser.add_argument("--json", type=Path, default=Path(".state/benchmarks/results/memory_profile.json"))
    args = parser.parse_args()

    resources = args.resources
    integrations = max(1, resources // 10)
    connectors = resources - integrations
    snapshot_path = Path(".state/benchmarks/memory_profile.snapshot").resolve()
    snapshot_path.parent.mkdir(parents=True, exist_ok=True)
    settings = StackSettings(
        provisioning_seconds=1.0,
        integration_quota=max(100, integrations + 10),
        operator_module="benchmarks.traced_operator",
        operator_start_timeout=300.0,
        operator_env={
            "CCLOUD_BENCH_SNAPSHOT": str(snapshot_path),
            "CCLOUD_BENCH_TRACE_FRAMES": str(args.frames),
            "CCLOUD_BENCH_PEAK_EVERY": str(args.peak_every),
        },
    )
    with Bench("memory-profile") as bench, bench.run(f"bench-memprofile-{resources}", settings) as run:
        time.sleep(3.0)
        before = take(run.pid, snapshot_path)
        rss_before = process_memory_kib(run.pid)
        run.create_buckets(integrations)
        started = time.monotonic()
        run.apply(range(integrations), [(i, i % integrations) for i in range(connectors)])
        run.watch.wait_ready({PROVIDER_INTEGRATIONS: integrations, MANAGED_CONNECTORS: connectors}, args.timeout)
        ready_seconds = max(run.watch.first_ready.values()) - started
        time.sleep(args.settle)
        after = take(run.pid, snapshot_path)
        bodies_path = Path(f"{snapshot_path}.bodies")
        if bodies_path.exists():
            say(f"whole bodies alive: {bodies_path.read_text()}")
        rss_after = process_memory_kib(run.pid)
    say(f"all Ready after {ready_seconds:.1f}s")
    peak_path = Path(f"{snapshot_path}.peak")
    if args.peak_every > 0 and peak_path.exists():
        print_peak(tracemalloc.Snapshot.load(str(peak_path)), after, peak_path, args.top)

    grown = by_owner(after)
    grown.subtract(by_owner(before))
    traced_before = sum(t.size for t in before.traces)
    traced_after = sum(t.size for t in after.traces)
    owners = [(owner, size) for owner, size in grown.most_common() if size > 0][: args.top]
    print(
        table(
            ["owner", "KiB", "KiB / resource", "share of growth"],
            [[o, s / 1024, s / 1024 / resources, f"{s / max(1, traced_after - traced_before):.1%}"] for o, s in owners],
            f"Live Python allocations added by {resources} Ready resources ({integrations} integrations, "
            f"{connectors} connectors), by owner",
        )
    )
    sites = growth_by_site(after, before, 3)
    print(
        table(
            ["site (innermost non-stdlib frames)", "KiB", "KiB / resource"],
            [[s, size / 1024, size / 1024 / resources] for s, size in sites.most_common(args.top)],
            "Largest allocation sites by growth",
        )
    )
    summary = {
        "resources": resources,
        "integrations": integrations,
        "connectors": connectors,
        "ready_seconds": ready_seconds,
        "traced_kib_before": traced_before // 1024,
        "traced_kib_after": traced_after // 1024,
        "traced_kib_per_resource": (traced_after - traced_before) / 1024 / resources,
        "rss_kib_before": rss_before["VmRSS"],
        "rss_kib_after": rss_after["VmRSS"],
        "peak_rss_kib": rss_after["VmHWM"],
        "rss_kib_per_resource": (rss_after["VmRSS"] - rss_before["VmRSS"]) / resources,
        "owners_kib": {owner: size // 1024 for owner, size in owners},
        "sites_kib": {s: size // 1024 for s, size in sites.most_common(args.top)},
    }
    print(
        table(
            ["measure", "before", "after", "per resource KiB"],
            [
                ["traced Python MiB", traced_before / 2**20, traced_after / 2**20, summary["traced_kib_per_resource"]],
                [
                    "RSS MiB (with tracing)",
                    rss_before["VmRSS"] / 1024,
                    rss_after["VmRSS"] / 1024,
                    summary["rss_kib_per_resource"],
                ],
            ],
            "Traced allocations against resident memory",
        )
    )
    write_json(args.json, "memory_profile", {"settings": settings, "results": [summary]})


if __name__ == "__main__":
    main()
