"""The operator with tracemalloc on: `python -m benchmarks.traced_operator run ...`.

SIGUSR2 writes a snapshot of every live Python allocation to $CCLOUD_BENCH_SNAPSHOT (replaced
atomically, so a reader never sees half a file). Only benchmarks.memory_profile runs this.
"""

from __future__ import annotations

import os
import signal
import sys
import tracemalloc
from types import FrameType


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
        tracemalloc.take_snapshot().dump(target + ".part")
        os.replace(target + ".part", target)

    signal.signal(signal.SIGUSR2, dump)
    from ccloud_operator.cli import main as operator_main

    return operator_main()


if __name__ == "__main__":
    sys.exit(main())
