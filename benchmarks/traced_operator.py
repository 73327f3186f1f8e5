"""The operator with tracemalloc on: `python -m benchmarks.traced_operator run ...`.

SIGUSR2 writes a snapshot of every live Python allocation to $CCLOUD_BENCH_SNAPSHOT (replaced
atomically, so a reader never sees half a file). Only benchmarks.memory_profile runs this.
"""

from __future__ import annotations

import gc
import json
import os
import signal
import sys
import threading
import time
import tracemalloc
from types import FrameType

from benchmarks.common import process_memory_kib


def describe(holder: object) -> str:
    """A holder's type; for a coroutine, which function and where it waits."""
    frame = getattr(holder, "cr_frame", None)
    if frame is not None:
        chain = []
        awaited: object = holder
        while awaited is not None and len(chain) < 6:
            code = getattr(awaited, "cr_code", None)
            where = getattr(awaited, "cr_frame", None)
            if code is None or where is None:
                break
            chain.append(f"{code.co_qualname}:{where.f_lineno}")
            awaited = getattr(awaited, "cr_await", None)
        return "coroutine " + " > ".join(chain)
    return type(holder).__qualname__


def whole_bodies(samples: int = 3) -> dict[str, object]:
    """How many objects' whole bodies (with managedFields) are alive, and what holds a few of them:
    tracemalloc says where memory was allocated, not what keeps it."""
    bodies = [
        o
        for o in gc.get_objects()
        if isinstance(o, dict) and isinstance(o.get("metadata"), dict) and "managedFields" in o["metadata"]
    ]
    holders: list[list[str]] = []
    for body in bodies[:samples]:
        chain = []
        for referrer in gc.get_referrers(body):
            if referrer is bodies:
                continue
            description = type(referrer).__qualname__
            if isinstance(referrer, dict):
                owners = [describe(r) for r in gc.get_referrers(referrer) if r is not bodies][:4]
                description += f" held by {owners}"
            chain.append(description)
        holders.append(chain[:8])
    return {"whole_bodies": len(bodies), "holders": holders, "deep_kib": holder_sizes()}


def deep_size(root: object, descend: tuple[str, ...] = ("ccloud_operator",)) -> int:
    """Bytes of an object and everything it reaches through containers (each object counted once)."""
    seen: set[int] = set()
    stack, total = [root], 0
    while stack:
        item = stack.pop()
        if id(item) in seen:
            continue
        seen.add(id(item))
        total += sys.getsizeof(item)
        if isinstance(item, dict):
            stack.extend(item.keys())
            stack.extend(item.values())
        elif isinstance(item, list | tuple | set | frozenset):
            stack.extend(item)
        elif type(item).__module__.startswith(descend):
            # The operator's own records, not clients or modules; slotted ones have no __dict__.
            if hasattr(item, "__dict__"):
                stack.append(vars(item))
            for cls in type(item).__mro__:
                stack.extend(getattr(item, slot) for slot in getattr(cls, "__slots__", ()) if hasattr(item, slot))
    return total


def holder_sizes() -> dict[str, float]:
    """Deep sizes, in KiB, of the operator's own per-object stores."""
    from ccloud_operator import metrics, runtime
    from ccloud_operator.handlers import common, resync

    found: dict[str, float] = {}
    loops = [o for o in gc.get_objects() if isinstance(o, resync.ResyncLoop)]
    if loops:
        found["resync loop: slim copies (packed)"] = deep_size(loops[0]._tracked) / 1024
    found["episodes"] = deep_size(common._episodes) / 1024
    found["per-object metric records"] = deep_size(metrics._objects) / 1024
    current = runtime._current
    if current is not None:
        found["connector list cache"] = deep_size(current.managed_connectors._cache._entries) / 1024
        found["connector reconciler memory"] = deep_size(current.managed_connectors._memory) / 1024
        found["claims"] = deep_size(current.connector_claims) / 1024
        found["integration directory"] = deep_size(current.integrations) / 1024
    from kopf._core.reactor.inventory import ResourceMemories  # private: what kopf keeps per object

    memories = [o for o in gc.get_objects() if isinstance(o, ResourceMemories)]
    found["kopf per-object memories"] = sum(deep_size(m, ("ccloud_operator", "kopf")) for m in memories) / 1024
    return found


def keep_largest(path: str, every: float, margin: int = 2 * 2**20) -> None:
    """Every ``every`` s: when the traced total is ``margin`` bytes over the largest seen, snapshot it to
    ``path`` (with the RSS then in ``path``.json): the live allocations at the peak."""
    largest = 0
    while True:
        time.sleep(every)
        current, _ = tracemalloc.get_traced_memory()
        if current < largest + margin:
            continue
        largest = current
        rss_kib = process_memory_kib(os.getpid())["VmRSS"]
        tracemalloc.take_snapshot().dump(path + ".part")
        os.replace(path + ".part", path)
        with open(path + ".json", "w") as out:
            json.dump({"rss_kib": rss_kib}, out)


def main() -> int:
    # Import the heavy modules before tracing: the Kubernetes client's API classes take minutes to import
    # under tracemalloc, and what the profile is after is what each resource adds, not import cost.
    import kubernetes.client

    import ccloud_operator.app  # noqa: F401

    for api in ("CoreV1Api", "CustomObjectsApi", "CoordinationV1Api"):
        getattr(kubernetes.client, api)
    tracemalloc.start(int(os.environ.get("CCLOUD_BENCH_TRACE_FRAMES", "12")))
    target = os.environ["CCLOUD_BENCH_SNAPSHOT"]

    def dump(signum: int, frame: FrameType | None) -> None:
        # The holders first: the reader takes the snapshot's arrival as the sign that both are written.
        with open(target + ".bodies.part", "w") as out:
            json.dump(whole_bodies(), out)
        os.replace(target + ".bodies.part", target + ".bodies")
        tracemalloc.take_snapshot().dump(target + ".part")
        os.replace(target + ".part", target)

    signal.signal(signal.SIGUSR2, dump)
    every = float(os.environ.get("CCLOUD_BENCH_PEAK_EVERY", "0"))
    if every > 0:
        threading.Thread(
            target=keep_largest, args=(target + ".peak", every), name="peak-snapshots", daemon=True
        ).start()
    from ccloud_operator.cli import main as operator_main

    return operator_main()


if __name__ == "__main__":
    sys.exit(main())
